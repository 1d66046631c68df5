/**
 * The files behind the audit log, one directory per log:
 *
 *   format.json            {"v":1}: the on-disk format this directory holds
 *   <first seq>.jsonl      segments: one stored entry per line (its canonical JSON, the hashed
 *                          bytes, so the files are greppable and `sha256sum`-checkable by hand),
 *                          named by the seq of their first record, 20 digits, so names sort as seqs
 *   head.json              {seq, hash} of the newest acknowledged record, rewritten at most
 *                          50 ms after each durable write (and at close): a naive cut of the
 *                          tail shows as AUDIT_TRUNCATED
 *   anchor.json            {seq, hash, time} of the last record removed by retention
 *   writer.lock            the pid of the one process that appends
 *
 * Append-only segment files replace the LMDB environment the log started with: a group of records
 * is one O_DSYNC write into blocks zeroed ahead of time (group-commit.ts), ~0.2 ms on this disk,
 * where an LMDB commit flushed its pages and then its meta page (~0.7 ms), and the writer no
 * longer spends CPU on B-tree pages that only readers use. Readers scan; `since` skips whole
 * segments by the time of their first record.
 *
 * Readers (`bailiff audit`, the dashboard) open the same files read-only and see every record
 * whose line is complete; a line still being written is not read until its newline is there.
 */
import {
  closeSync, existsSync, fstatSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync,
  statSync, unlinkSync, writeSync, constants as fsc,
} from 'node:fs';
import { join } from 'node:path';
import { AuditError } from './errors.js';
import { HASH_PATTERN } from './hash-chain.js';
import { AUDIT_FORMAT_VERSION, type AuditEntry } from './record.js';

export const FORMAT_FILE = 'format.json';
export const HEAD_FILE = 'head.json';
export const ANCHOR_FILE = 'anchor.json';
export const LOCK_FILE = 'writer.lock';
export const SEGMENT_SUFFIX = '.jsonl';

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
  readonly dir: string;
  readonly readOnly: boolean;
}

/** Directories this process writes: a second writer handle in the same process is refused too. */
const writersHere = new Set<string>();

export function segmentName(firstSeq: number): string {
  return `${String(firstSeq).padStart(20, '0')}${SEGMENT_SUFFIX}`;
}

const SEGMENT_PATTERN = /^(\d{20})\.jsonl$/;

export interface Segment {
  name: string;
  firstSeq: number;
}

/** The segments, oldest first. */
export function listSegments(store: AuditStore): Segment[] {
  const out: Segment[] = [];
  for (const name of readdirSync(store.dir)) {
    const m = SEGMENT_PATTERN.exec(name);
    if (m) out.push({ name, firstSeq: Number(m[1]) });
  }
  return out.sort((a, b) => a.firstSeq - b.firstSeq);
}

export function openStore(dir: string, readOnly: boolean): AuditStore {
  const formatPath = join(dir, FORMAT_FILE);
  if (readOnly) {
    if (!existsSync(formatPath)) throw new AuditError('AUDIT_NOT_FOUND', `no audit log in ${dir}`);
  } else {
    // 0700: the log holds peer names, statements and facts; it is for the operator only.
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }
  let format: { v?: unknown } | undefined;
  try {
    format = existsSync(formatPath) ? JSON.parse(readFileSync(formatPath, 'utf8')) as { v?: unknown } : undefined;
  } catch (error) {
    throw new AuditError('AUDIT_FORMAT', `unreadable ${FORMAT_FILE} in ${dir}: ${(error as Error).message}`);
  }
  if (format === undefined) {
    if (existsSync(join(dir, 'data.mdb'))) {
      throw new AuditError('AUDIT_FORMAT', `${dir} holds an audit log of an earlier format (LMDB); move it aside to start a new one`);
    }
    writeDurably(dir, FORMAT_FILE, JSON.stringify({ v: AUDIT_FORMAT_VERSION }));
  } else if (format.v !== AUDIT_FORMAT_VERSION) {
    throw new AuditError('AUDIT_FORMAT', `log format ${String(format.v)}, this build reads ${AUDIT_FORMAT_VERSION}`);
  }
  const store: AuditStore = { dir, readOnly };
  if (!readOnly) lock(store);
  return store;
}

/** Releases the writer lock (readers hold none). */
export function closeStore(store: AuditStore): void {
  if (store.readOnly || !writersHere.has(store.dir)) return;
  writersHere.delete(store.dir);
  try {
    unlinkSync(join(store.dir, LOCK_FILE));
  } catch {
    // already gone: nothing to release
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * One writer per log: two would fork the chain. The lock file holds the writer's pid; a lock left
 * by a process that no longer exists (a crash) is taken over.
 */
function lock(store: AuditStore): void {
  const path = join(store.dir, LOCK_FILE);
  if (writersHere.has(store.dir)) throw new AuditError('AUDIT_LOCKED', `this process already writes the audit log in ${store.dir}`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, fsc.O_CREAT | fsc.O_EXCL | fsc.O_WRONLY, 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      writersHere.add(store.dir);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new AuditError('AUDIT_NOT_FOUND', `cannot lock the audit log in ${store.dir}: ${(error as Error).message}`, { cause: error });
      }
    }
    const pid = Number(readFileSync(path, 'utf8').trim());
    if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) {
      throw new AuditError('AUDIT_LOCKED', `process ${pid} already writes the audit log in ${store.dir}`);
    }
    unlinkSync(path); // stale: its writer is gone
  }
  throw new AuditError('AUDIT_LOCKED', `cannot take the writer lock of ${store.dir}`);
}

/** Writes a small file atomically and durably: temp file, fsync, rename, fsync of the directory. */
export function writeDurably(dir: string, name: string, text: string): void {
  const tmp = join(dir, `.${name}.tmp`);
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, join(dir, name));
  syncDir(dir);
}

export function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function asChainPoint(value: unknown): ChainPoint | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { seq, hash } = value as { seq?: unknown; hash?: unknown };
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return undefined;
  if (typeof hash !== 'string' || !HASH_PATTERN.test(hash)) return undefined;
  return { seq, hash };
}

function readJsonFile(store: AuditStore, name: string): unknown {
  let text: string;
  try {
    text = readFileSync(join(store.dir, name), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  if (text.trim() === '') return undefined; // created, nothing acknowledged in it yet
  try {
    return JSON.parse(text);
  } catch {
    return 'bad';
  }
}

/** The head pointer; `null` when absent, `'bad'` when present but malformed. */
export function readHead(store: AuditStore): ChainPoint | null | 'bad' {
  const raw = readJsonFile(store, HEAD_FILE);
  if (raw === undefined) return null;
  return asChainPoint(raw) ?? 'bad';
}

export function readAnchor(store: AuditStore): Anchor | null | 'bad' {
  const raw = readJsonFile(store, ANCHOR_FILE);
  if (raw === undefined) return null;
  const point = asChainPoint(raw);
  const time = (raw as { time?: unknown }).time;
  if (!point || typeof time !== 'string') return 'bad';
  return { ...point, time };
}

/** Parses a stored line; returns undefined when it is not an object with the entry's basic shape. */
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

/** One stored line: its text and, when it decodes, the entry. */
export interface StoredLine {
  text: string;
  entry: AuditEntry | undefined;
  /** The segment and byte range the line occupies. */
  segment: string;
  offset: number;
  end: number;
}

/** Where a sequential read resumes: a segment and a byte offset in it. */
export interface ReadPosition {
  segment: string;
  offset: number;
}

const READ_BLOCK = 1 << 20;

/**
 * Complete lines from `position` on, across segments, until `max` lines have been read or the
 * end of the log. `position` is advanced past each line returned. A line without its newline yet
 * (being written) ends the read without being consumed.
 */
export function readLines(store: AuditStore, position: ReadPosition, max: number): StoredLine[] {
  const out: StoredLine[] = [];
  const segments = listSegments(store);
  let index = segments.findIndex((s) => s.name === position.segment);
  if (index === -1) {
    // The segment went away (pruned) or this is a fresh position: the first one after it.
    index = segments.findIndex((s) => s.name > position.segment);
    if (index === -1) return out;
    position.segment = segments[index]!.name;
    position.offset = 0;
  }
  while (out.length < max) {
    const segment = segments[index]!;
    const more = readSegmentLines(store, segment.name, position, max - out.length, out);
    if (more || out.length >= max) break;
    if (index + 1 >= segments.length) break;
    // Only move on once this segment is finished: the writer has started the next one.
    index += 1;
    position.segment = segments[index]!.name;
    position.offset = 0;
  }
  return out;
}

/**
 * Reads lines of one segment into `out`; true when it stopped because `max` was reached. The data
 * of a segment ends at its first NUL byte: the writer extends segments with zeros ahead of the
 * records (store.ts header), and a line never holds a NUL (JSON escapes control characters).
 */
function readSegmentLines(store: AuditStore, name: string, position: ReadPosition, max: number, out: StoredLine[]): boolean {
  let fd: number;
  try {
    fd = openSync(join(store.dir, name), 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  try {
    const size = fstatSync(fd).size;
    let added = 0;
    let pending: Buffer[] = []; // a line longer than one block, read so far
    let pendingBytes = 0;
    let at = position.offset;
    while (at < size && added < max) {
      const block = Buffer.allocUnsafe(Math.min(READ_BLOCK, size - at));
      const got = readSync(fd, block, 0, block.length, at);
      if (got === 0) break;
      let data = block.subarray(0, got);
      at += got;
      const zero = data.indexOf(0);
      const ended = zero !== -1;
      if (ended) data = data.subarray(0, zero);
      if (pending.length > 0) {
        data = Buffer.concat([...pending, data]);
        pending = [];
        pendingBytes = 0;
      }
      let start = 0;
      while (added < max) {
        const nl = data.indexOf(10, start);
        if (nl === -1) break;
        const text = data.toString('utf8', start, nl);
        out.push({ text, entry: decodeEntry(text), segment: name, offset: position.offset + start, end: position.offset + nl + 1 });
        added += 1;
        start = nl + 1;
      }
      position.offset += start;
      if (ended || added >= max) break;
      if (start < data.length) {
        // The rest is the start of a line: keep it if it may be a long one, re-read it otherwise.
        pending = [data.subarray(start)];
        pendingBytes = data.length - start;
        if (pendingBytes > 2 * MAX_LINE_BYTES) break; // no newline this far: not a record, stop
      }
    }
    return added >= max;
  } finally {
    closeSync(fd);
  }
}

/** Larger than any stored line (records are capped at 1 MiB of text, a little more as bytes). */
const MAX_LINE_BYTES = 4 << 20;

/** Where the data of a segment ends (its first NUL byte, or its size), looking from `from`. */
export function dataEnd(store: AuditStore, name: string, from: number): number {
  const fd = openSync(join(store.dir, name), 'r');
  try {
    const size = fstatSync(fd).size;
    const block = Buffer.allocUnsafe(READ_BLOCK);
    for (let at = from; at < size;) {
      const got = readSync(fd, block, 0, Math.min(block.length, size - at), at);
      if (got === 0) break;
      const zero = block.subarray(0, got).indexOf(0);
      if (zero !== -1) return at + zero;
      at += got;
    }
    return size;
  } finally {
    closeSync(fd);
  }
}

/** Every complete line of one segment. */
export function linesOf(store: AuditStore, name: string): StoredLine[] {
  const out: StoredLine[] = [];
  readSegmentLines(store, name, { segment: name, offset: 0 }, Number.POSITIVE_INFINITY, out);
  return out;
}

/** A position at the start of the log (the oldest segment). */
export function startPosition(): ReadPosition {
  return { segment: '', offset: 0 };
}

/** The position of the first line of the segment that would hold `seq`. */
export function positionFor(store: AuditStore, seq: number): ReadPosition {
  const segments = listSegments(store);
  let chosen: Segment | undefined;
  for (const s of segments) {
    if (s.firstSeq <= seq) chosen = s;
    else break;
  }
  return chosen ? { segment: chosen.name, offset: 0 } : startPosition();
}

export function segmentSize(store: AuditStore, name: string): number {
  try {
    return statSync(join(store.dir, name)).size;
  } catch {
    return 0;
  }
}
