/**
 * One mapping from the SQL analysis to the facts rules see (STYLE.md §9): used by the live
 * Postgres session and by `bailiff test`, so a fixture is decided exactly as traffic would be.
 * A query string gives one request per statement, hidden ones included; unparseable text gives
 * one request whose verb/tables/columns/functions are unknown (any rule reading them denies).
 */
import { analyzeSql } from '../../protocols/postgres/sql-facts.js';
import type { SqlStatementFacts } from '../../protocols/postgres/sql-types.js';

export interface StatementRequest {
  facts: { sql: Record<string, unknown> };
  unknown: string[];
  /** Why facts are unknown (operator log / audit only). */
  unknownReason?: string;
  statement?: SqlStatementFacts;
}

export interface SessionFacts {
  database: string;
  user: string;
}

export function statementRequests(text: string, session: SessionFacts): StatementRequest[] {
  const analysis = analyzeSql(text);
  if (!analysis.ok) {
    return [{
      facts: { sql: { verb: '', tables: [], columns: [], functions: [], statement: text, database: session.database, user: session.user } },
      unknown: [...analysis.unknown],
      unknownReason: `${analysis.error.code}: ${analysis.error.message}`,
    }];
  }
  if (analysis.statements.length === 0) {
    // An empty query (only comments or semicolons): nothing runs, but it is still decided.
    return [{ facts: { sql: { verb: '', tables: [], columns: [], functions: [], statement: text, database: session.database, user: session.user } }, unknown: [] }];
  }
  return analysis.statements.map((s) => ({
    facts: {
      sql: {
        verb: s.verb,
        tables: s.tables,
        columns: s.columns,
        functions: s.functions,
        statement: s.statement,
        database: session.database,
        user: session.user,
      },
    },
    unknown: [...(s.unknownFacts ?? [])],
    ...(s.unknownReason ? { unknownReason: s.unknownReason } : {}),
    statement: s,
  }));
}
