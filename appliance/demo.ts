/**
 * The embedded default: what `bailiff run` uses when no --config is given, so a new user sees a
 * working appliance with one command. It is written out as a real file in ./bailiff-state (the
 * state dir) because peers are recorded by appending to the policy.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ensureStateDir } from './state-dir.js';

export const DEMO_STATE_DIR = 'bailiff-state';
export const DEMO_CONFIG_FILE = 'bailiff.hcl';
export const DEMO_PEER = 'demo-agent';

export const DEMO_CONFIG = `# Bailiff demo policy, written by \`bailiff run\` because no --config was given.
# Edit it freely: the running appliance reloads it on save. Paths are relative to this file.
#
# An agent connected with the demo peer file reaches one database, demo.db (an embedded
# Postgres started by the demo), as user "postgres" with any password:
#   psql "host=demo.db user=postgres dbname=postgres"
gateway {
  state_dir        = "."
  dashboard_listen = "127.0.0.1:8080"
  mode             = "enforce"
  wireguard {
    listen_port = 51820
    subnet_cidr = "100.64.0.0/24"
  }
}

defaults {
  no_match     = "deny"
  unknown_host = "deny"
}

endpoint "postgres" "demo-db" {
  host     = "demo.db:5432"
  upstream = "127.0.0.1:54329"
  sslmode  = "disable"
}

# The appliance logs in upstream itself; the agent never sees a password. (The embedded demo
# database needs none; a real one gets password = env("PG_PASSWORD") here.)
credential "postgres_credential" "demo" {
  endpoint = postgres.demo-db
  user     = "postgres"
}

profile "default" {
  credentials = [postgres_credential.demo]
}

rule "no-ddl" {
  endpoint  = postgres.demo-db
  priority  = 100
  condition = "sql.verb in ['drop', 'truncate', 'alter', 'create', 'grant', 'revoke']"
  verdict   = "deny"
  reason    = "schema changes go through a migration, not an agent"
}

rule "no-secrets" {
  endpoint  = postgres.demo-db
  priority  = 90
  condition = "sets.intersects(sql.columns, ['env_vars.secret', 'env_vars.*'])"
  verdict   = "deny"
  reason    = "secret values stay in the database"
}

rule "deletes-need-a-human" {
  endpoint  = postgres.demo-db
  priority  = 50
  condition = "sql.verb in ['delete', 'update']"
  approve   = [human_approver.ops]   # decide with: bailiff pending / bailiff approve ID
}

rule "reads-and-session" {
  endpoint  = postgres.demo-db
  condition = "sql.verb in ['select', 'show', 'set', 'begin', 'commit', 'rollback', 'explain']"
  verdict   = "allow"
}

approver "human_approver" "ops" {
  timeout = "5m"
}
`;

/** Create ./bailiff-state/bailiff.hcl from the embedded default unless it exists; return its path. */
export function materializeDemoConfig(cwd = process.cwd()): { configPath: string; created: boolean } {
  const dir = resolve(cwd, DEMO_STATE_DIR);
  ensureStateDir(dir);
  const configPath = join(dir, DEMO_CONFIG_FILE);
  if (existsSync(configPath)) return { configPath, created: false };
  writeFileSync(configPath, DEMO_CONFIG, { mode: 0o644 });
  return { configPath, created: true };
}
