/**
 * Retention by age: removes the oldest records, and only ever a prefix, storing as the anchor the
 * seq and hash of the last record removed. verify() then starts the chain from the anchor, so a
 * pruned log still verifies while a record missing after the anchor is still a gap.
 *
 * Pruning re-checks what it removes (consecutive seqs from the anchor, intact hashes and links)
 * and stops at the first record that does not verify: retention must never launder tampering by
 * moving the anchor over it. A log with a problem near its start therefore stops being pruned
 * until an operator looks at it.
 */
import { hashRecord, GENESIS_HASH } from './hash-chain.js';
import type { JsonObject } from './record.js';
import { META_ANCHOR, decodeEntry, readAnchor, type Anchor, type AuditStore } from './store.js';

/** Bounded transaction size: a first prune of a large old log runs as several transactions. */
export const PRUNE_BATCH = 5000;

export interface PruneStep {
  deleted: number;
  /** True when the step stopped before PRUNE_BATCH because nothing more is old enough (or a problem). */
  finished: boolean;
  anchor: Anchor | null;
}

/** Must run inside a write transaction. */
export function pruneStep(store: AuditStore, cutoffMs: number): PruneStep {
  const stored = readAnchor(store);
  if (stored === 'bad') return { deleted: 0, finished: true, anchor: null };
  let expectedSeq = stored ? stored.seq + 1 : 1;
  let prevHash = stored ? stored.hash : GENESIS_HASH;
  let anchor: Anchor | null = stored;
  const doomed: number[] = [];
  let finished = true;
  for (const { key, value } of store.records.getRange({ limit: PRUNE_BATCH + 1 })) {
    if (doomed.length === PRUNE_BATCH) {
      finished = false;
      break;
    }
    const entry = decodeEntry(value);
    if (!entry || entry.seq !== key || key !== expectedSeq || entry.prevHash !== prevHash) break;
    if (hashRecord(entry as unknown as JsonObject) !== entry.hash) break;
    const ms = Date.parse(entry.time);
    if (!(ms < cutoffMs)) break;
    doomed.push(key);
    anchor = { seq: key, hash: entry.hash, time: entry.time };
    expectedSeq = key + 1;
    prevHash = entry.hash;
  }
  for (const key of doomed) void store.records.remove(key);
  if (doomed.length > 0 && anchor) void store.meta.put(META_ANCHOR, anchor);
  return { deleted: doomed.length, finished, anchor };
}
