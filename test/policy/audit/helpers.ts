/** Shared test helpers: temp log directories, sample records, raw file access for tamper tests. */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditRecordInput } from '../../../policy/audit/index.js';
import { ANCHOR_FILE, HEAD_FILE, SEGMENT_SUFFIX } from '../../../policy/audit/store.js';

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

/** Slot-addressed access to the stored lines, keyed by the seq each line had when opened. */
export interface RawRecords {
  get(seq: number): string | undefined;
  putSync(seq: number, text: string): void;
  removeSync(seq: number): void;
}

export interface RawLog {
  records: RawRecords;
  anchor(): unknown;
  setHead(point: { seq: number; hash: string }): void;
  close: () => Promise<void>;
}

/** Opens the log's files directly, as an attacker with file access would, to tamper with them. */
export function openRaw(dir: string): RawLog {
  const segments = readdirSync(dir).filter((n) => n.endsWith(SEGMENT_SUFFIX)).sort();
  const slots = new Map<number, { segment: string; text: string }>();
  for (const segment of segments) {
    // A segment's data ends at its first NUL: the writer keeps zeros ahead of its records.
    for (const text of readFileSync(join(dir, segment), 'utf8').split('\0')[0]!.split('\n')) {
      if (text.length === 0) continue;
      slots.set((JSON.parse(text) as { seq: number }).seq, { segment, text });
    }
  }
  const save = (): void => {
    for (const segment of segments) {
      const lines = [...slots].filter(([, v]) => v.segment === segment).sort((a, b) => a[0] - b[0]).map(([, v]) => `${v.text}\n`);
      writeFileSync(join(dir, segment), lines.join(''));
    }
  };
  return {
    records: {
      get: (seq) => slots.get(seq)?.text,
      putSync: (seq, text) => {
        slots.set(seq, { segment: slots.get(seq)?.segment ?? segments[segments.length - 1]!, text });
        save();
      },
      removeSync: (seq) => {
        slots.delete(seq);
        save();
      },
    },
    anchor: () => JSON.parse(readFileSync(join(dir, ANCHOR_FILE), 'utf8')) as unknown,
    setHead: (point) => writeFileSync(join(dir, HEAD_FILE), JSON.stringify(point)),
    close: async () => undefined,
  };
}

/** Spawns a TypeScript fixture the way the brief says: `node --import tsx <script>`. */
export function fixturePath(name: string): string {
  return new URL(`./fixtures/${name}`, import.meta.url).pathname;
}
