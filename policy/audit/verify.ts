/**
 * Chain verification: walks every stored line in file order and checks that
 *  - each line parses as an entry, in seq order                           (AUDIT_BAD_RECORD, AUDIT_SEQ_MISMATCH)
 *  - seqs are consecutive from the retention anchor (or 1)                (AUDIT_GAP)
 *  - each record's hash matches its content, stored as its canonical text  (AUDIT_HASH_MISMATCH)
 *  - each prevHash is the previous record's hash (or anchor / genesis)    (AUDIT_CHAIN_BROKEN)
 *  - the stored head and any externally known head are present             (AUDIT_TRUNCATED, AUDIT_BAD_HEAD)
 *
 * The hash chain alone cannot see a cut tail; the head pointer (rewritten after each flush)
 * catches a naive cut, and an acknowledged seq/hash known outside the files (the writer's own
 * memory, a checkpoint an operator saved) catches one that also rewrote the head.
 * Records never acknowledged (a crash before their commit) are simply absent and not a problem.
 */
import { canonicalJson } from './canonical-json.js';
import { hashRecord, GENESIS_HASH } from './hash-chain.js';
import type { JsonObject } from './record.js';
import { readAnchor, readHead, readLines, startPosition, type AuditStore, type ChainPoint } from './store.js';

export type VerifyProblemCode =
  | 'AUDIT_HASH_MISMATCH'
  | 'AUDIT_CHAIN_BROKEN'
  | 'AUDIT_GAP'
  | 'AUDIT_SEQ_MISMATCH'
  | 'AUDIT_BAD_RECORD'
  | 'AUDIT_TRUNCATED'
  | 'AUDIT_BAD_HEAD'
  | 'AUDIT_BAD_ANCHOR'
  | 'AUDIT_TOO_MANY_PROBLEMS';

export interface VerifyProblem {
  seq: number;
  code: VerifyProblemCode;
  message: string;
}

export type VerifyResult =
  | { ok: true; count: number; lastSeq: number; lastHash: string }
  | { ok: false; count: number; problems: VerifyProblem[] };

export interface VerifyOptions {
  /** A record known to have been acknowledged (e.g. a saved checkpoint); it must be in the log. */
  expect?: { seq: number; hash?: string };
}

/** A corrupt log of millions of records should not produce millions of problem objects. */
const MAX_PROBLEMS = 1000;

const CHUNK = 4096;

export function verifyStore(store: AuditStore, options: VerifyOptions = {}): VerifyResult {
  const problems: VerifyProblem[] = [];
  const report = (seq: number, code: VerifyProblemCode, message: string): void => {
    if (problems.length < MAX_PROBLEMS) problems.push({ seq, code, message });
    else if (problems.length === MAX_PROBLEMS) {
      problems.push({ seq, code: 'AUDIT_TOO_MANY_PROBLEMS', message: `stopped listing after ${MAX_PROBLEMS} problems` });
    }
  };

  const anchor = readAnchor(store);
  let expectedSeq = 1;
  let prevHash: string | null = GENESIS_HASH;
  if (anchor === 'bad') {
    report(0, 'AUDIT_BAD_ANCHOR', 'retention anchor is malformed');
    prevHash = null; // unknown: the first record's link cannot be checked
    expectedSeq = -1;
  } else if (anchor !== null) {
    expectedSeq = anchor.seq + 1;
    prevHash = anchor.hash;
  }

  let count = 0;
  let last: ChainPoint | null = anchor !== null && anchor !== 'bad' ? { seq: anchor.seq, hash: anchor.hash } : { seq: 0, hash: GENESIS_HASH };
  const seen = new Map<number, string>(); // only for the head and options.expect: seq -> hash
  const expect = options.expect;
  const head = readHead(store);
  const watched = new Set<number>();
  if (expect) watched.add(expect.seq);
  if (head !== null && head !== 'bad') watched.add(head.seq);

  const position = startPosition();
  for (;;) {
    const lines = readLines(store, position, CHUNK);
    for (const line of lines) {
      const entry = line.entry;
      if (entry && anchor !== null && anchor !== 'bad' && entry.seq <= anchor.seq && expectedSeq === anchor.seq + 1 && count === 0) {
        continue; // removed by retention, left by a prune that stopped half-way
      }
      count += 1;
      if (!entry) {
        const at = expectedSeq === -1 ? (last ? last.seq + 1 : 0) : expectedSeq;
        report(at, 'AUDIT_BAD_RECORD', `line at byte ${line.offset} of ${line.segment} is not a valid entry`);
        if (expectedSeq !== -1) expectedSeq += 1;
        prevHash = null;
        last = null;
        continue;
      }
      const key = entry.seq;
      if (expectedSeq !== -1 && key > expectedSeq) {
        const missing = key - expectedSeq === 1 ? `${expectedSeq}` : `${expectedSeq}..${key - 1}`;
        report(expectedSeq, 'AUDIT_GAP', `record(s) ${missing} missing`);
      } else if (expectedSeq !== -1 && key < expectedSeq) {
        report(key, 'AUDIT_SEQ_MISMATCH', `record ${key} found where ${expectedSeq} belongs (moved, copied or reordered)`);
      } else if (prevHash !== null && entry.prevHash !== prevHash) {
        // Only reported when there is no gap: after a gap the link cannot match anyway.
        report(key, 'AUDIT_CHAIN_BROKEN', `prevHash does not match the hash of record ${key - 1}`);
      }
      const actual = hashRecord(entry as unknown as JsonObject);
      if (actual !== entry.hash) report(key, 'AUDIT_HASH_MISMATCH', `content does not match its hash (edited)`);
      else if (canonicalJson(entry as unknown as JsonObject) !== line.text) {
        // The stored bytes are the hashed text: a line that only parses to the same value (a
        // duplicated key, added spaces, escaped letters) shows grep and readers something else.
        report(key, 'AUDIT_HASH_MISMATCH', `line at byte ${line.offset} of ${line.segment} is not the hashed canonical text (edited)`);
      }
      if (watched.has(key)) seen.set(key, entry.hash);
      expectedSeq = key + 1;
      // Chain on the stored hash: one edited record is one problem, not one per following record.
      prevHash = entry.hash;
      last = { seq: key, hash: entry.hash };
    }
    if (lines.length < CHUNK) break;
  }

  const lastSeq = last?.seq ?? expectedSeq - 1;
  if (head === 'bad') {
    report(lastSeq, 'AUDIT_BAD_HEAD', 'head pointer is malformed');
  } else if (head !== null && head.seq > lastSeq) {
    const cut = head.seq - lastSeq === 1 ? `${head.seq}` : `${lastSeq + 1}..${head.seq}`;
    report(lastSeq + 1, 'AUDIT_TRUNCATED', `acknowledged record(s) ${cut} missing at the end`);
  } else if (head !== null && seen.has(head.seq) && seen.get(head.seq) !== head.hash) {
    // Records after the head are normal (the head is rewritten after each flush, without one of
    // its own); the record the head names must still be the one that was acknowledged.
    report(head.seq, 'AUDIT_BAD_HEAD', `record ${head.seq} is not the one the head pointer acknowledged`);
  }

  if (expect) {
    if (expect.seq > lastSeq) {
      if (!problems.some((p) => p.code === 'AUDIT_TRUNCATED')) {
        report(lastSeq + 1, 'AUDIT_TRUNCATED', `acknowledged record ${expect.seq} is beyond the end of the log (${lastSeq})`);
      }
    } else if (expect.hash !== undefined) {
      const hash = seen.get(expect.seq);
      if (hash !== undefined && hash !== expect.hash) {
        report(expect.seq, 'AUDIT_HASH_MISMATCH', `record ${expect.seq} differs from the acknowledged one`);
      }
    }
  }

  if (problems.length > 0) return { ok: false, count, problems };
  return { ok: true, count, lastSeq, lastHash: last?.hash ?? GENESIS_HASH };
}
