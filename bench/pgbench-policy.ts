/**
 * The 20-rule policy of the Postgres benchmarks: nineteen denies that a pgbench `SELECT ... FROM
 * pgbench_accounts` is checked against, then the allow that lets it through. bench/postgres.ts
 * runs it through the appliance; bench/rules.ts times its decisions alone.
 */
export const PGBENCH_DENY_CONDITIONS: readonly string[] = [
  "sql.verb in ['drop', 'truncate', 'alter', 'create']",
  "sets.intersects(sql.columns, ['env_vars.secret', 'env_vars.*'])",
  "sql.verb == 'delete' && !('jobs' in sql.tables)",
  "'pg_shadow' in sql.tables || 'pg_authid' in sql.tables",
  "sql.functions.exists(f, f in ['pg_read_file', 'pg_read_binary_file', 'lo_import', 'lo_export'])",
  "sql.verb in ['grant', 'revoke']",
  "sql.verb == 'copy' && sql.statement.contains('PROGRAM')",
  "sql.verb == 'update' && 'pgbench_branches' in sql.tables",
  "sql.verb == 'insert' && 'audit' in sql.tables",
  "'secrets' in sql.tables",
  "sql.functions.exists(f, f.startsWith('dblink'))",
  "sql.verb in ['vacuum', 'cluster', 'reindex']",
  "sql.verb == 'set' && sql.statement.contains('role')",
  "sql.verb == 'call'",
  "sql.verb == 'do'",
  "'users' in sql.tables && sql.columns.exists(c, c.endsWith('.password'))",
  "sql.verb == 'lock'",
  "sql.verb == 'listen' || sql.verb == 'notify'",
  "sql.verb == 'merge'",
];

export const PGBENCH_ALLOW_CONDITION = "sql.verb in ['select', 'set', 'show', 'begin', 'commit', 'rollback']";
