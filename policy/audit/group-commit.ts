/**
 * Group commit: appends queue up while one commit is being made durable, and the next commit takes
 * everything that queued meanwhile (up to maxBatch). N appends issued in one event-loop turn
 * therefore cost one LMDB transaction and one fsync, and under load the batch grows instead of
 * the number of fsyncs (the Postgres/InnoDB technique).
 *
 * Durability: with lmdb's defaults (overlappingSync on Linux) a write promise resolves when the
 * transaction is committed and visible, which is before it is flushed. So each batch awaits
 * `env.flushed` ("all previous writes committed and flushed to disk"), taken right after its
 * commit, before any of its appends resolve. Commits are pipelined: the next batch commits while
 * the previous one is still being flushed (LMDB serialises the transactions, and flushes complete
 * in commit order), so a steady stream of appends is not held to one fsync round trip per batch.
 *
 * Sequence numbers and hashes are assigned inside the write transaction, from the head stored in
 * the same database: the chain can never fork, even if a second process appended in between, and
 * a failed commit consumes no sequence numbers (LMDB transactions are atomic), so the next batch
 * simply retries from the same head.
 *
 * Nothing is ever dropped: the queue is bounded only by memory. Backpressure belongs to the
 * caller, which awaits append() before forwarding a request.
 */
import { AuditError } from './errors.js';
import { GENESIS_HASH, hashCanonical } from './hash-chain.js';
import { joinParts, part, type CanonicalParts } from './canonical-json.js';
import type { AuditDraft, AuditEntry } from './record.js';
import {
  META_HEAD, decodeEntry, lastKey, readAnchor, readHead, type AuditStore, type ChainPoint,
} from './store.js';

/** Keeps one transaction's size and the latency of the appends at its end bounded. */
export const DEFAULT_MAX_BATCH = 4096;

/** A record ready to commit: its fields, and their canonical encoding made before the commit. */
export interface PreparedRecord {
  draft: AuditDraft;
  /** canonicalParts(draft): must not contain seq, prevHash or hash. */
  parts: CanonicalParts;
}

interface Pending {
  record: PreparedRecord;
  resolve: (entry: AuditEntry) => void;
  reject: (error: Error) => void;
}

export interface CommitStats {
  /** Durable commits made (one fsync each). */
  commits: number;
  /** Records made durable. */
  records: number;
  largestBatch: number;
  failedCommits: number;
}

/** Where the next record chains from, read inside the write transaction. */
export function chainTip(store: AuditStore): ChainPoint {
  const head = readHead(store);
  if (head !== null && head !== 'bad') return head;
  const last = lastKey(store);
  if (last !== undefined) {
    const text = store.records.get(last);
    const entry = text === undefined ? undefined : decodeEntry(text);
    if (!entry) throw new AuditError('AUDIT_CONFLICT', `head missing and record ${last} unreadable; run verify`);
    return { seq: entry.seq, hash: entry.hash };
  }
  const anchor = readAnchor(store);
  if (anchor !== null && anchor !== 'bad') return { seq: anchor.seq, hash: anchor.hash };
  return { seq: 0, hash: GENESIS_HASH };
}

/** Must run inside a write transaction. Assigns seq + hashes and writes the batch and the head. */
export function writeBatch(store: AuditStore, records: readonly PreparedRecord[]): AuditEntry[] {
  let { seq, hash } = chainTip(store);
  const entries: AuditEntry[] = [];
  for (const { draft, parts } of records) {
    seq += 1;
    const prevHash = hash;
    // Extras in key order: hash < prevHash < seq.
    const linkParts: CanonicalParts = [part('prevHash', JSON.stringify(prevHash)), part('seq', String(seq))];
    hash = hashCanonical(joinParts(parts, linkParts));
    // The chain is append-only: a record already at this key means someone wrote behind the head.
    if (store.records.doesExist(seq)) throw new AuditError('AUDIT_CONFLICT', `record ${seq} already exists`);
    void store.records.put(seq, joinParts(parts, [part('hash', JSON.stringify(hash)), ...linkParts]));
    entries.push({ ...draft, seq, prevHash, hash });
  }
  void store.meta.put(META_HEAD, { seq, hash });
  return entries;
}

export class GroupCommitter {
  readonly #store: AuditStore;
  readonly #maxBatch: number;
  readonly #onCommit: (entries: readonly AuditEntry[]) => void;
  #queue: Pending[] = [];
  #draining: Promise<void> | null = null;
  /** Committed batches waiting for their flush. */
  readonly #flushing = new Set<Promise<void>>();
  readonly #stats: CommitStats = { commits: 0, records: 0, largestBatch: 0, failedCommits: 0 };

  constructor(store: AuditStore, options: { maxBatch: number; onCommit: (entries: readonly AuditEntry[]) => void }) {
    this.#store = store;
    this.#maxBatch = options.maxBatch;
    this.#onCommit = options.onCommit;
  }

  submit(record: PreparedRecord): Promise<AuditEntry> {
    return new Promise<AuditEntry>((resolve, reject) => {
      this.#queue.push({ record, resolve, reject });
      // setImmediate, not a microtask: everything appended during this event-loop turn
      // (including from other promise continuations) joins the first batch.
      this.#draining ??= new Promise<void>((done) => setImmediate(() => void this.#drain().finally(done)));
    });
  }

  get pending(): number {
    return this.#queue.length;
  }

  stats(): CommitStats {
    return { ...this.#stats };
  }

  /** Resolves once every append submitted so far has resolved or rejected. */
  async idle(): Promise<void> {
    while (this.#draining || this.#flushing.size > 0) {
      if (this.#draining) await this.#draining;
      await Promise.all([...this.#flushing]);
    }
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, this.#maxBatch);
        await this.#commit(batch);
      }
    } finally {
      this.#draining = null;
    }
  }

  /** Commits the batch; resolves its appends later, when the flush covering it completes. */
  async #commit(batch: Pending[]): Promise<void> {
    const fail = (error: unknown) => {
      this.#stats.failedCommits += 1;
      const failure = error instanceof AuditError
        ? error
        : new AuditError('AUDIT_WRITE_FAILED', (error as Error).message, { cause: error });
      for (const p of batch) p.reject(failure);
    };
    let entries: AuditEntry[];
    try {
      entries = await this.#store.env.transaction(() => writeBatch(this.#store, batch.map((p) => p.record)));
    } catch (error) {
      fail(error);
      return;
    }
    const flushing: Promise<void> = Promise.resolve(this.#store.env.flushed).then(() => {
      this.#stats.commits += 1;
      this.#stats.records += entries.length;
      this.#stats.largestBatch = Math.max(this.#stats.largestBatch, entries.length);
      batch.forEach((p, i) => p.resolve(entries[i]!));
      this.#onCommit(entries);
    }, fail).finally(() => this.#flushing.delete(flushing));
    this.#flushing.add(flushing);
  }
}
