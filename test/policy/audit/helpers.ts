/** Shared test helpers: temp log directories, sample records, raw LMDB access for tamper tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import type { AuditRecordInput } from '../../../policy/audit/index.js';
import { META_DB, RECORDS_DB } from '../../../policy/audit/store.js';

export function tempDir(prefix = 'bailiff-audit-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function decision(i: number, extra: Partial<AuditRecordInput> = {}): AuditRecordInput {
  return {
    kind: 'decision',
    connectionId: `c${Math.floor(i / 10)}`,
    peer: i % 2 === 0 ? 'oncall-agent' : 'ci-agent',
    profile: 'platform',
    endpoint: 'postgres.prod-db',
    credential: 'postgres_credential.pg-ro',
    facts: { 'sql.verb': 'select', 'sql.tables': ['users'], 'sql.statement': `select * from users where id = ${i}` },
    rule: i % 3 === 0 ? 'pg-no-ddl' : 'pg-read',
    verdict: i % 3 === 0 ? 'deny' : 'allow',
    reason: i % 3 === 0 ? 'Schema changes go through a migration PR' : 'reads are fine',
    reasonCode: i % 3 === 0 ? 'POL_RULE_DENY' : 'POL_RULE_ALLOW',
    timings: { parseMs: 0.06, evalMs: 0.01 },
    upstream: { outcome: i % 3 === 0 ? 'not_forwarded' : 'forwarded' },
    ...extra,
  };
}

export interface RawLog {
  env: RootDatabase;
  records: Database<string, number>;
  meta: Database<unknown, string>;
  close: () => Promise<void>;
}

/** Opens the log's LMDB directly, as an attacker with file access would, to tamper with it. */
export function openRaw(dir: string): RawLog {
  const env = open({ path: dir, maxDbs: 4 });
  const records = env.openDB<string, number>({ name: RECORDS_DB, encoding: 'string' });
  const meta = env.openDB<unknown, string>({ name: META_DB, encoding: 'json' });
  return { env, records, meta, close: () => env.close() };
}

/** Spawns a TypeScript fixture the way the brief says: `node --import tsx <script>`. */
export function fixturePath(name: string): string {
  return new URL(`./fixtures/${name}`, import.meta.url).pathname;
}
