/**
 * Reading the log in sequence order with simple filters. Records are keyed by seq, not by time;
 * `since` finds its start by binary search over seq, which relies on time growing with seq. A wall
 * clock stepped backwards can make `since` start a few records early or late around the step;
 * the records themselves are never reordered.
 */
import { AuditError } from './errors.js';
import { AUDIT_KINDS, AUDIT_VERDICTS, type AuditEntry, type AuditKind, type AuditVerdict } from './record.js';
import { decodeEntry, firstKey, lastKey, type AuditStore } from './store.js';

export interface AuditQuery {
  /** Only records at or after this time. */
  since?: Date;
  /** Only records with seq >= fromSeq. */
  fromSeq?: number;
  peer?: string;
  verdict?: AuditVerdict;
  kind?: AuditKind;
  /** Stop after this many matching records. */
  limit?: number;
  /** Called for a stored value that does not decode (verify() reports it as AUDIT_BAD_RECORD). */
  onBadRecord?: (seq: number) => void;
}

export function checkQuery(query: AuditQuery): void {
  if (query.since !== undefined && (!(query.since instanceof Date) || Number.isNaN(query.since.getTime()))) {
    throw new AuditError('AUDIT_BAD_OPTION', 'since must be a valid Date');
  }
  if (query.kind !== undefined && !(AUDIT_KINDS as readonly string[]).includes(query.kind)) {
    throw new AuditError('AUDIT_BAD_OPTION', `kind must be one of ${AUDIT_KINDS.join(', ')}`);
  }
  if (query.verdict !== undefined && !(AUDIT_VERDICTS as readonly string[]).includes(query.verdict)) {
    throw new AuditError('AUDIT_BAD_OPTION', `verdict must be one of ${AUDIT_VERDICTS.join(', ')}`);
  }
  if (query.limit !== undefined && (!Number.isSafeInteger(query.limit) || query.limit < 0)) {
    throw new AuditError('AUDIT_BAD_OPTION', 'limit must be a non-negative integer');
  }
}

export function matches(entry: AuditEntry, query: AuditQuery): boolean {
  if (query.peer !== undefined && entry.peer !== query.peer) return false;
  if (query.verdict !== undefined && entry.verdict !== query.verdict) return false;
  if (query.kind !== undefined && entry.kind !== query.kind) return false;
  if (query.since !== undefined && Date.parse(entry.time) < query.since.getTime()) return false;
  return true;
}

function timeAt(store: AuditStore, seqAtLeast: number): { key: number; ms: number } | undefined {
  for (const { key, value } of store.records.getRange({ start: seqAtLeast, limit: 1 })) {
    const entry = decodeEntry(value);
    // An unreadable record sorts as "old": the search moves past it rather than stopping on it.
    return { key, ms: entry ? Date.parse(entry.time) : Number.NEGATIVE_INFINITY };
  }
  return undefined;
}

/** The smallest seq whose record time is >= since (assuming time grows with seq). */
export function seqAtTime(store: AuditStore, since: Date): number {
  const first = firstKey(store);
  const last = lastKey(store);
  if (first === undefined || last === undefined) return 1;
  let lo = first;
  let hi = last + 1;
  const target = since.getTime();
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const found = timeAt(store, mid);
    if (found === undefined || found.key >= hi || found.ms >= target) hi = mid;
    else lo = found.key + 1;
  }
  return lo;
}

/**
 * Reads up to `maxScanned` records from `cursor.next` and returns the matching ones;
 * `cursor.next` ends at the seq after the last record looked at (matching or not), which is where
 * the next chunk, or follow(), resumes. Chunks are read synchronously and returned as arrays so no
 * LMDB read transaction stays open while a consumer awaits between records.
 */
export function readChunk(
  store: AuditStore, query: AuditQuery, cursor: { next: number }, maxScanned: number,
): { entries: AuditEntry[]; scanned: number } {
  const entries: AuditEntry[] = [];
  let scanned = 0;
  for (const { key, value } of store.records.getRange({ start: cursor.next, limit: maxScanned })) {
    scanned += 1;
    cursor.next = key + 1;
    const entry = decodeEntry(value);
    if (!entry) {
      query.onBadRecord?.(key);
      continue;
    }
    if (matches(entry, query)) entries.push(entry);
  }
  return { entries, scanned };
}

export function startSeq(store: AuditStore, query: AuditQuery): number {
  let start = Math.max(1, query.fromSeq ?? 1);
  if (query.since !== undefined) start = Math.max(start, seqAtTime(store, query.since));
  return start;
}
