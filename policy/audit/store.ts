/**
 * The LMDB environment behind the audit log (DEPENDENCY-NOTES §6), one directory per log:
 *   records: seq (number key, ordered) -> canonical JSON text of the entry (string encoding, so the
 *            stored bytes are the hashed bytes and are greppable in the raw file)
 *   meta:    'format' -> { v }, 'head' -> { seq, hash } of the newest record (written in the same
 *            transaction as the records, so a cut tail is visible), 'anchor' -> { seq, hash, time }
 *            of the last record removed by retention.
 *
 * Every opener, writer or reader, goes through openStore() so all processes use the same
 * environment flags: lmdb refuses or silently changes `overlappingSync` when openers disagree.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { AuditError } from './errors.js';
import { HASH_PATTERN } from './hash-chain.js';
import { AUDIT_FORMAT_VERSION, type AuditEntry } from './record.js';

export const RECORDS_DB = 'records';
export const META_DB = 'meta';
export const META_FORMAT = 'format';
export const META_HEAD = 'head';
export const META_ANCHOR = 'anchor';

/** Where the appliance keeps its audit log inside the state dir. */
export function auditDir(stateDir: string): string {
  return join(stateDir, 'audit');
}

export interface ChainPoint {
  seq: number;
  hash: string;
}

export interface Anchor extends ChainPoint {
  /** Time of the last removed record. */
  time: string;
}

export interface AuditStore {
  readonly env: RootDatabase;
  readonly records: Database<string, number>;
  readonly meta: Database<unknown, string>;
  readonly readOnly: boolean;
}

export function openStore(dir: string, readOnly: boolean): AuditStore {
  if (readOnly) {
    if (!existsSync(join(dir, 'data.mdb'))) throw new AuditError('AUDIT_NOT_FOUND', `no audit log in ${dir}`);
  } else {
    // 0700: the log holds peer names, statements and facts; it is for the operator only.
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }
  // Defaults kept on purpose: sync on, overlappingSync on (Linux). Durability comes from
  // awaiting `env.flushed` after each commit, see group-commit.ts.
  const env = open({ path: dir, maxDbs: 4, readOnly });
  try {
    const records = env.openDB<string, number>({ name: RECORDS_DB, encoding: 'string' });
    const meta = env.openDB<unknown, string>({ name: META_DB, encoding: 'json' });
    const store: AuditStore = { env, records, meta, readOnly };
    const format = meta.get(META_FORMAT) as { v?: unknown } | undefined;
    if (format === undefined) {
      if (!readOnly) meta.putSync(META_FORMAT, { v: AUDIT_FORMAT_VERSION });
    } else if (format.v !== AUDIT_FORMAT_VERSION) {
      throw new AuditError('AUDIT_FORMAT', `log format ${String(format.v)}, this build reads ${AUDIT_FORMAT_VERSION}`);
    }
    return store;
  } catch (error) {
    void env.close();
    if (error instanceof AuditError) throw error;
    throw new AuditError('AUDIT_NOT_FOUND', `cannot open audit log in ${dir}: ${(error as Error).message}`, { cause: error });
  }
}

function asChainPoint(value: unknown): ChainPoint | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { seq, hash } = value as { seq?: unknown; hash?: unknown };
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return undefined;
  if (typeof hash !== 'string' || !HASH_PATTERN.test(hash)) return undefined;
  return { seq, hash };
}

/** The head pointer; `null` when absent, `'bad'` when present but malformed. */
export function readHead(store: AuditStore): ChainPoint | null | 'bad' {
  const raw = store.meta.get(META_HEAD);
  if (raw === undefined) return null;
  return asChainPoint(raw) ?? 'bad';
}

export function readAnchor(store: AuditStore): Anchor | null | 'bad' {
  const raw = store.meta.get(META_ANCHOR);
  if (raw === undefined) return null;
  const point = asChainPoint(raw);
  const time = (raw as { time?: unknown }).time;
  if (!point || typeof time !== 'string') return 'bad';
  return { ...point, time };
}

/** Parses a stored value; returns undefined when it is not an object with the entry's basic shape. */
export function decodeEntry(text: string): AuditEntry | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const entry = value as Partial<AuditEntry>;
  if (typeof entry.seq !== 'number' || typeof entry.time !== 'string' || typeof entry.kind !== 'string') return undefined;
  if (typeof entry.hash !== 'string' || typeof entry.prevHash !== 'string') return undefined;
  return entry as AuditEntry;
}

/**
 * Moves this handle's read snapshot to the newest commit. lmdb-js reuses one read transaction
 * until the event loop turns; a reader that must see what another handle or process committed
 * just now (verify, each follow() poll) asks for a fresh one. Only call with no range iterator open.
 */
export function refreshSnapshot(store: AuditStore): void {
  store.env.resetReadTxn();
}

/** The newest record key, or undefined for an empty log. */
export function lastKey(store: AuditStore): number | undefined {
  for (const key of store.records.getKeys({ reverse: true, limit: 1 })) return key;
  return undefined;
}

export function firstKey(store: AuditStore): number | undefined {
  for (const key of store.records.getKeys({ limit: 1 })) return key;
  return undefined;
}
