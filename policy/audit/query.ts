/**
 * Reading the log in sequence order with simple filters. `since` skips whole segments by the time
 * of their first record, which relies on time growing with seq; within the segments read every
 * record is checked, so a wall clock stepped backwards can only make the read start earlier.
 */
import { AuditError } from './errors.js';
import { AUDIT_KINDS, AUDIT_VERDICTS, type AuditEntry, type AuditKind, type AuditVerdict } from './record.js';
import { listSegments, positionFor, readLines, startPosition, type AuditStore, type ReadPosition } from './store.js';

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

/** Where a read starts and which seq it expects next. */
export interface Cursor {
  position: ReadPosition;
  /** Records with a lower seq are skipped (already read, or before fromSeq). */
  next: number;
}

/**
 * The segment to start reading `since` from: the newest one whose first record is older than
 * `since` (records are in time order as long as the wall clock does not step back; matches()
 * filters exactly, this only skips whole segments).
 */
function segmentAtTime(store: AuditStore, since: Date): ReadPosition {
  const segments = listSegments(store);
  for (let i = segments.length - 1; i >= 0; i--) {
    const position = { segment: segments[i]!.name, offset: 0 };
    const first = readLines(store, position, 1)[0];
    const ms = first?.entry ? Date.parse(first.entry.time) : Number.NaN;
    if (ms < since.getTime()) return { segment: segments[i]!.name, offset: 0 };
  }
  return startPosition();
}

export function startCursor(store: AuditStore, query: AuditQuery): Cursor {
  const next = Math.max(1, query.fromSeq ?? 1);
  let position = next > 1 ? positionFor(store, next) : startPosition();
  if (query.since !== undefined) {
    const bySince = segmentAtTime(store, query.since);
    if (bySince.segment > position.segment) position = bySince;
  }
  return { position, next };
}

/**
 * Reads up to `maxScanned` records from the cursor and returns the matching ones; the cursor
 * ends after the last line looked at (matching or not), which is where the next chunk, or
 * follow(), resumes. Chunks are read synchronously and returned as arrays.
 */
export function readChunk(
  store: AuditStore, query: AuditQuery, cursor: Cursor, maxScanned: number,
): { entries: AuditEntry[]; scanned: number } {
  const entries: AuditEntry[] = [];
  const lines = readLines(store, cursor.position, maxScanned);
  for (const { entry } of lines) {
    if (!entry) {
      query.onBadRecord?.(cursor.next);
      continue;
    }
    if (entry.seq < cursor.next) continue;
    cursor.next = entry.seq + 1;
    if (matches(entry, query)) entries.push(entry);
  }
  return { entries, scanned: lines.length };
}
