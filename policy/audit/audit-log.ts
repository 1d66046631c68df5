/**
 * The audit log: every decision the appliance makes is appended here, durably, before the request
 * goes upstream (ARCHITECTURE "Data path" step 5). One writer process (the appliance) and any
 * number of readers (`bailiff audit`, the dashboard) share one directory of segment files
 * (store.ts).
 *
 * append() resolves only after the record is written and fdatasync'd; concurrent appends share
 * one flush (group-commit.ts). Records are redacted (redact.ts), hash-chained (hash-chain.ts) and
 * never rewritten: a later result is a new record that references the first (complete()).
 */
import { EventEmitter } from 'node:events';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { canonicalParts, orderedParts } from './canonical-json.js';
import { AuditError } from './errors.js';
import { DEFAULT_MAX_BATCH, GroupCommitter, chainTip, emptyCommitStats, type CommitStats } from './group-commit.js';
import { normalizeInput, normalizeOutcome, type Normalizing } from './normalize.js';
import { prune } from './retention.js';
import { checkQuery, readChunk, startCursor, type AuditQuery } from './query.js';
import { Redactor } from './redact.js';
import {
  AUDIT_FORMAT_VERSION, type AuditDraft, type AuditEntry, type AuditOutcome, type AuditRecordInput, type JsonObject,
} from './record.js';
import { closeStore, openStore, positionFor, readLines, type AuditStore, type ChainPoint } from './store.js';
import { verifyStore, type VerifyOptions, type VerifyResult } from './verify.js';
import { DEFAULT_POLL_MS, waitForAppend } from './wait-for-append.js';

/** Larger than any JSON record the appliance should produce; caps memory per queued append. */
export const MAX_RECORD_BYTES = 1 << 20;

/** Records read per synchronous chunk by query()/follow() before giving the event loop a turn. */
const READ_CHUNK = 512;

const DEFAULT_PRUNE_INTERVAL_MS = 60 * 60 * 1000;

/** Records appended and not yet completed whose identity fields are kept in memory. */
const MAX_AWAITING_COMPLETION = 65_536;

/** The fields a completion record repeats from the record it completes, so filters by peer find it. */
function identity(entry: Partial<AuditRecordInput>): Partial<AuditRecordInput> {
  const copied: Partial<AuditRecordInput> = { kind: entry.kind ?? 'system' };
  for (const field of ['connectionId', 'peer', 'peerAddress', 'profile', 'endpoint', 'credential'] as const) {
    if (entry[field] !== undefined) copied[field] = entry[field];
  }
  return copied;
}

export interface AuditRetention {
  /** Records older than this are removed (as a prefix, see retention.ts). */
  maxAgeMs: number;
  /** How often a writer prunes on its own; 0 disables the timer (call prune() yourself). Default 1 h. */
  intervalMs?: number;
}

export interface AuditLogOptions {
  dir: string;
  clock?: () => Date;
  retention?: AuditRetention;
  /** Readers (`bailiff audit`) open read-only: they cannot append, prune, or create the log. */
  readOnly?: boolean;
  /** Most records per commit. 1 turns group commit off (one fsync per record; the bench baseline). */
  maxBatch?: number;
  /** Segment size at which a new segment file is started (default 64 MiB). */
  segmentBytes?: number;
  /**
   * Whether a commit may be written in place on the event loop while the disk is fast
   * (group-commit.ts, INLINE_LIMIT_MS). Default true; false always uses the thread pool.
   */
  inlineWrites?: boolean;
  /** Secret values to redact from the start (more with addSecrets()). */
  secrets?: Iterable<string>;
}

export interface FollowOptions {
  signal?: AbortSignal;
  /** How often to look for records appended by another process. */
  pollMs?: number;
}

export interface AuditLogStats extends CommitStats {
  /** Appends waiting for a commit. */
  pending: number;
  /** Highest seq this handle has acknowledged (0 if none). */
  acknowledgedSeq: number;
}

export class AuditLog {
  readonly dir: string;
  readonly #store: AuditStore;
  readonly #clock: () => Date;
  readonly #customClock: boolean;
  readonly #retention: AuditRetention | undefined;
  readonly #redactor = new Redactor();
  readonly #committer: GroupCommitter | undefined;
  readonly #events = new EventEmitter();
  /**
   * What complete() copies from the record it completes, kept from the append until then so
   * completing costs no read of the files (bounded: oldest dropped, then read back if needed).
   */
  readonly #awaitingCompletion = new Map<number, Partial<AuditRecordInput>>();
  #acknowledged: ChainPoint | null = null;
  #pruneTimer: NodeJS.Timeout | undefined;
  #closed = false;

  private constructor(options: AuditLogOptions, store: AuditStore) {
    this.dir = options.dir;
    this.#store = store;
    this.#clock = options.clock ?? (() => new Date());
    this.#customClock = options.clock !== undefined;
    this.#retention = options.retention;
    if (options.secrets) this.#redactor.add(options.secrets);
    this.#events.setMaxListeners(0); // every follower waits on 'commit'
    this.#committer = store.readOnly ? undefined : new GroupCommitter(store, {
      maxBatch: options.maxBatch ?? DEFAULT_MAX_BATCH,
      ...(options.segmentBytes !== undefined ? { segmentBytes: options.segmentBytes } : {}),
      ...(options.inlineWrites !== undefined ? { inlineWrites: options.inlineWrites } : {}),
      onCommit: (entries) => {
        const last = entries[entries.length - 1];
        if (last) this.#acknowledged = { seq: last.seq, hash: last.hash };
        this.#events.emit('commit', entries);
      },
    });
  }

  static async open(options: AuditLogOptions): Promise<AuditLog> {
    const { maxBatch, retention } = options;
    if (maxBatch !== undefined && (!Number.isSafeInteger(maxBatch) || maxBatch < 1)) {
      throw new AuditError('AUDIT_BAD_OPTION', 'maxBatch must be a positive integer');
    }
    if (retention !== undefined && !(retention.maxAgeMs > 0)) {
      throw new AuditError('AUDIT_BAD_OPTION', 'retention.maxAgeMs must be positive');
    }
    const store = openStore(options.dir, options.readOnly === true);
    let log: AuditLog;
    try {
      log = new AuditLog(options, store);
    } catch (error) {
      closeStore(store);
      throw error instanceof AuditError ? error : new AuditError('AUDIT_NOT_FOUND', `cannot open the audit log in ${options.dir}: ${(error as Error).message}`, { cause: error });
    }
    if (retention && !options.readOnly) {
      try {
        await log.prune();
      } catch (error) {
        await log.close();
        throw error;
      }
      const every = retention.intervalMs ?? DEFAULT_PRUNE_INTERVAL_MS;
      if (every > 0) {
        // Failures are retried at the next tick; unref so a forgotten close() does not hang exit.
        log.#pruneTimer = setInterval(() => void log.prune().catch(() => undefined), every).unref();
      }
    }
    return log;
  }

  get readOnly(): boolean {
    return this.#store.readOnly;
  }

  /** Registers secret values; from now on they are replaced by [REDACTED] in every record. */
  addSecrets(secrets: Iterable<string>): void {
    this.#redactor.add(secrets);
  }

  /**
   * Appends a record. Resolves once it is durable (committed and fsync'd) with the stored entry;
   * rejects with an AuditError (AUDIT_BAD_RECORD, AUDIT_WRITE_FAILED, ...) otherwise, in which
   * case the caller must treat the request as not logged, i.e. deny it.
   *
   * Never drops a record: the queue is bounded only by memory. Backpressure is the caller's job:
   * a connection awaits its append before forwarding, so a slow disk slows the agents down
   * instead of losing their records.
   */
  append(record: AuditRecordInput): Promise<AuditEntry> {
    try {
      this.#writable();
      const n = this.#normalizing();
      const body = normalizeInput(record, n);
      const appended = this.#submit(body as unknown as AuditRecordInput, undefined, !n.indexKeys);
      if (body.kind !== 'decision' && body.kind !== 'connection') return appended;
      return appended.then((entry) => {
        this.#awaitingCompletion.set(entry.seq, identity(entry));
        if (this.#awaitingCompletion.size > MAX_AWAITING_COMPLETION) {
          this.#awaitingCompletion.delete(this.#awaitingCompletion.keys().next().value!);
        }
        return entry;
      });
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  /**
   * Logs what became known after forwarding the request of record `seq`, as a new record
   * referencing it (the chain is append-only). It repeats the peer/endpoint/connection of the
   * original so filters by peer find it.
   */
  complete(seq: number, outcome: AuditOutcome): Promise<AuditEntry> {
    try {
      this.#writable();
      const n = this.#normalizing();
      const normalized = normalizeOutcome(outcome, n) as AuditOutcome;
      if (!Number.isSafeInteger(seq) || seq < 1 || seq > this.#committer!.tip.seq) {
        throw new AuditError('AUDIT_UNKNOWN_SEQ', `no record ${seq} to complete`);
      }
      let copied = this.#awaitingCompletion.get(seq);
      if (copied) this.#awaitingCompletion.delete(seq);
      else {
        // Not appended by this handle (or long ago): read it. A record already removed by
        // retention still gets its completion, without the copied fields.
        const original = this.get(seq);
        copied = identity(original ?? { kind: 'system' });
      }
      // The copied fields are strings taken from a normalised record: in order like the outcome.
      return this.#submit(copied as AuditRecordInput, { completes: seq, outcome: normalized }, !n.indexKeys);
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  #lastMs = Number.NaN;
  #lastIso = '';

  /** The time of an append, as stored; one Date per millisecond with the system clock. */
  #time(): string {
    if (this.#customClock) return this.#clock().toISOString();
    const ms = Date.now();
    if (ms !== this.#lastMs) {
      this.#lastMs = ms;
      this.#lastIso = new Date(ms).toISOString();
    }
    return this.#lastIso;
  }

  #writable(): void {
    if (this.#closed) throw new AuditError('AUDIT_CLOSED', 'audit log is closed');
    if (this.#store.readOnly) throw new AuditError('AUDIT_READ_ONLY', 'audit log was opened read-only');
  }

  readonly #mapString = (s: string): string => this.#redactor.apply(s);

  #normalizing(): Normalizing {
    return { mapString: this.#mapString, indexKeys: false };
  }

  /** `ordered`: body and outcome were built by normalize.ts with no index-like keys (orderedParts). */
  #submit(body: AuditRecordInput, completion: { completes: number; outcome: AuditOutcome } | undefined, ordered: boolean): Promise<AuditEntry> {
    // time is taken at the call, not at commit: it is when the event happened.
    // body is this log's own copy (normalised or copied above): completed in place, not copied again.
    const draft = body as unknown as AuditDraft;
    if (completion) {
      draft.completes = completion.completes;
      draft.outcome = completion.outcome;
    }
    draft.v = AUDIT_FORMAT_VERSION;
    draft.time = this.#time();
    // Encoded here, outside the commit, so it overlaps the previous batch's fsync.
    const parts = ordered ? orderedParts(draft as unknown as JsonObject) : canonicalParts(draft as unknown as JsonObject);
    let size = 0;
    for (const [key, value] of parts) size += key.length + value.length;
    // String length, not bytes: a cheap bound on memory per queued append, not a byte-exact cap.
    if (size > MAX_RECORD_BYTES) {
      throw new AuditError('AUDIT_RECORD_TOO_LARGE', `record is about ${size} bytes, limit ${MAX_RECORD_BYTES}`);
    }
    // A completion is lazy: nothing waits for it before forwarding (group-commit.ts).
    return this.#committer!.submit({ draft, parts }, completion !== undefined);
  }

  /** Checks the whole chain, plus that every record this handle acknowledged is still there. */
  async verify(options: VerifyOptions = {}): Promise<VerifyResult> {
    this.#open();
    await this.#committer?.idle();
    const expect = options.expect ?? this.#acknowledged ?? undefined;
    return verifyStore(this.#store, expect ? { expect } : {});
  }

  /** Matching records in seq order. */
  async *query(query: AuditQuery = {}): AsyncGenerator<AuditEntry> {
    checkQuery(query);
    this.#open();
    let remaining = query.limit ?? Number.POSITIVE_INFINITY;
    if (remaining === 0) return;
    const cursor = startCursor(this.#store, query);
    while (!this.#closed) {
      const { entries, scanned } = readChunk(this.#store, query, cursor, READ_CHUNK);
      for (const entry of entries) {
        yield entry;
        if (--remaining === 0) return;
      }
      if (scanned < READ_CHUNK) return;
      await nextTurn(); // a long scan must not starve the data path
    }
  }

  /**
   * Matching records from the start of the query, then new ones as they are appended, until the
   * signal aborts or the log is closed. In the writer's process it wakes on each commit; in
   * another process it polls every `pollMs` (default 250 ms).
   */
  async *follow(query: AuditQuery = {}, options: FollowOptions = {}): AsyncGenerator<AuditEntry> {
    checkQuery(query);
    this.#open();
    const { signal } = options;
    const pollMs = options.pollMs ?? DEFAULT_POLL_MS;
    let remaining = query.limit ?? Number.POSITIVE_INFINITY;
    const cursor = startCursor(this.#store, query);
    while (remaining > 0 && !signal?.aborted && !this.#closed) {
      const { entries, scanned } = readChunk(this.#store, query, cursor, READ_CHUNK);
      for (const entry of entries) {
        yield entry;
        if (--remaining === 0 || signal?.aborted) return;
      }
      if (scanned === READ_CHUNK) {
        await nextTurn();
        continue;
      }
      await waitForAppend(this.#events, pollMs, signal);
    }
  }

  /** Removes records older than retention.maxAgeMs. A no-op without retention. */
  async prune(): Promise<{ deleted: number }> {
    if (!this.#retention) return { deleted: 0 };
    this.#writable();
    const cutoff = this.#clock().getTime() - this.#retention.maxAgeMs;
    // The segment being appended to is closed first if the cut falls inside it.
    return prune(this.#store, cutoff, (segment) => this.#committer!.closeSegment(segment));
  }

  /** The record at seq, if present and readable. */
  get(seq: number): AuditEntry | undefined {
    this.#open();
    const position = positionFor(this.#store, seq);
    for (;;) {
      const lines = readLines(this.#store, position, READ_CHUNK);
      for (const line of lines) {
        if (line.entry?.seq === seq) return line.entry;
      }
      if (lines.length < READ_CHUNK) return undefined;
    }
  }

  /** Where the next record will chain from: the newest durable record, or seq 0 and the genesis hash. */
  head(): ChainPoint {
    this.#open();
    return this.#committer ? this.#committer.tip : chainTip(this.#store);
  }

  stats(): AuditLogStats {
    const stats = this.#committer?.stats() ?? emptyCommitStats();
    return { ...stats, pending: this.#committer?.pending ?? 0, acknowledgedSeq: this.#acknowledged?.seq ?? 0 };
  }

  /** Waits for queued appends to finish, stops followers and the prune timer, releases the files. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#pruneTimer);
    await this.#committer?.idle();
    this.#events.emit('close');
    await this.#committer?.close();
    closeStore(this.#store);
  }

  #open(): void {
    if (this.#closed) throw new AuditError('AUDIT_CLOSED', 'audit log is closed');
  }
}
