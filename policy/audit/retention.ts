/**
 * Retention by age: removes the oldest records, and only ever a prefix, storing as the anchor the
 * seq and hash of the last record removed. verify() then starts the chain from the anchor, so a
 * pruned log still verifies while a record missing after the anchor is still a gap.
 *
 * Pruning re-checks what it removes (consecutive seqs from the anchor, intact hashes and links)
 * and stops at the first record that does not verify: retention must never launder tampering by
 * moving the anchor over it. A log with a problem near its start therefore stops being pruned
 * until an operator looks at it.
 *
 * Order of effects, each durable before the next: the anchor; whole segments removed; a segment
 * cut in the middle rewritten as a new file named for its first kept record (temp file, fsync,
 * rename) before the old one goes. A crash in between leaves records at or below the anchor,
 * which readers skip, or the old segment next to the copy of its tail (verify() reports the
 * overlap), which the next prune removes (removeSuperseded) before anything else.
 */
import { closeSync, fsyncSync, openSync, readSync, renameSync, unlinkSync, writeSync, fstatSync } from 'node:fs';
import { join } from 'node:path';
import { hashRecord, GENESIS_HASH } from './hash-chain.js';
import type { JsonObject } from './record.js';
import {
  ANCHOR_FILE, listSegments, readAnchor, readLines, segmentName, segmentSize, syncDir, writeDurably, type Anchor, type AuditStore,
} from './store.js';

const SCAN_CHUNK = 4096;

/** Finds the last record to remove: old enough, and everything up to it intact. */
function lastDoomed(store: AuditStore, cutoffMs: number, stored: Anchor | null): { anchor: Anchor; segment: string; end: number } | null {
  let expectedSeq = stored ? stored.seq + 1 : 1;
  let prevHash = stored ? stored.hash : GENESIS_HASH;
  let found: { anchor: Anchor; segment: string; end: number } | null = null;
  const position = { segment: '', offset: 0 };
  for (;;) {
    const lines = readLines(store, position, SCAN_CHUNK);
    for (const line of lines) {
      const entry = line.entry;
      if (entry && stored && entry.seq <= stored.seq) continue; // left by a prune that crashed half-way
      if (!entry || entry.seq !== expectedSeq || entry.prevHash !== prevHash) return found;
      if (hashRecord(entry as unknown as JsonObject) !== entry.hash) return found;
      if (!(Date.parse(entry.time) < cutoffMs)) return found;
      found = { anchor: { seq: entry.seq, hash: entry.hash, time: entry.time }, segment: line.segment, end: line.end };
      expectedSeq = entry.seq + 1;
      prevHash = entry.hash;
    }
    if (lines.length < SCAN_CHUNK) return found;
  }
}

/** Copies bytes [from, end of file) of a segment into a new segment file, durably. */
function rewriteTail(store: AuditStore, name: string, from: number, firstSeq: number): void {
  const source = openSync(join(store.dir, name), 'r');
  const target = segmentName(firstSeq);
  const tmp = join(store.dir, `.${target}.tmp`);
  const out = openSync(tmp, 'w', 0o600);
  try {
    const size = fstatSync(source).size;
    const buffer = Buffer.allocUnsafe(1 << 20);
    for (let at = from; at < size;) {
      const got = readSync(source, buffer, 0, Math.min(buffer.length, size - at), at);
      if (got === 0) break;
      writeSync(out, buffer, 0, got);
      at += got;
    }
    fsyncSync(out);
  } finally {
    closeSync(out);
    closeSync(source);
  }
  renameSync(tmp, join(store.dir, target));
  syncDir(store.dir);
}

/**
 * Removes records older than `cutoffMs`. `closeSegment` makes sure a segment is not the one being
 * appended to (only closed segments are removed or rewritten), rejecting if it cannot.
 */
export async function prune(
  store: AuditStore, cutoffMs: number, closeSegment: (segment: string) => Promise<void>,
): Promise<{ deleted: number }> {
  const stored = readAnchor(store);
  if (stored === 'bad') return { deleted: 0 };
  if (stored !== null) await removeSuperseded(store, stored.seq, closeSegment);
  const doomed = lastDoomed(store, cutoffMs, stored);
  if (!doomed) return { deleted: 0 };
  const segments = listSegments(store);
  const at = segments.findIndex((s) => s.name === doomed.segment);
  const cutSegment = segments[at]!;
  // Only closed segments are removed or rewritten: close the open one if it is among them (it
  // rejects, and nothing is touched, if a new segment cannot be started).
  for (const segment of segments.slice(0, at + 1)) await closeSegment(segment.name);
  const size = segmentSize(store, cutSegment.name);
  writeDurably(store.dir, ANCHOR_FILE, JSON.stringify(doomed.anchor));
  for (const segment of segments.slice(0, at)) unlinkSync(join(store.dir, segment.name));
  if (doomed.end < size) rewriteTail(store, cutSegment.name, doomed.end, doomed.anchor.seq + 1);
  unlinkSync(join(store.dir, cutSegment.name));
  syncDir(store.dir);
  return { deleted: doomed.anchor.seq - (stored ? stored.seq : 0) };
}

/**
 * Finishes a prune that stopped after writing a cut segment's kept tail as a new file and before
 * removing the old one: a segment followed by one starting at or below anchor + 1 holds nothing
 * that is not pruned or also in a later segment (the copy is durable before the old one goes).
 */
async function removeSuperseded(
  store: AuditStore, anchorSeq: number, closeSegment: (segment: string) => Promise<void>,
): Promise<void> {
  const segments = listSegments(store);
  let removed = false;
  for (let i = 0; i + 1 < segments.length && segments[i + 1]!.firstSeq <= anchorSeq + 1; i++) {
    await closeSegment(segments[i]!.name);
    unlinkSync(join(store.dir, segments[i]!.name));
    removed = true;
  }
  if (removed) syncDir(store.dir);
}
