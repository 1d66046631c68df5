/**
 * The pending approvals of human stages: one store that Slack buttons, the local HTTP API and
 * the CLI all decide through, so "first decision wins" has one place to be true.
 *
 * - Slack clicks are votes: only listed users count (empty list: anyone who can click), votes
 *   are per DISTINCT user, `requireApprovers` approvals approve, any single deny denies.
 * - Operator decisions (API, CLI, dashboard) are final, not votes: whoever holds the API token
 *   already controls the appliance's state dir and policy, so a quorum would not bind them.
 * - The deadline lives here too, so a timeout and a click cannot both win.
 * - Decided entries are kept for a while (bounded) so a late click or a second CLI call gets
 *   "already decided by X" rather than "unknown id".
 */
import { newApprovalId } from './ids.js';
import { capRequest } from './request.js';
import type { ApprovalRequest, ApproverOutcome } from './types.js';

export type PendingState = 'pending' | 'approved' | 'denied' | 'timed_out' | 'cancelled';
export type DecisionSource = 'slack' | 'api';

export interface Vote {
  by: string;
  source: DecisionSource;
  verdict: 'approve' | 'deny';
  at: number;
  reason?: string;
}

/** A read-only snapshot, what lists, Slack messages and the API show. */
export interface PendingView {
  id: string;
  requestId: string;
  /** `human_approver.<name>`. */
  approver: string;
  request: ApprovalRequest;
  /** Earlier stages of the chain (the judge's opinion). */
  earlier: readonly ApproverOutcome[];
  createdAt: number;
  expiresAt: number;
  requireApprovers: number;
  allowedVoters: readonly string[];
  approvals: readonly Vote[];
  state: PendingState;
  /** Who decided; for approvals by quorum, every approver. */
  decidedBy: readonly string[];
  decidedVia?: DecisionSource;
  decidedAt?: number;
  /** Deny reason, or why it was cancelled. */
  reason?: string;
}

export interface Resolution {
  state: Exclude<PendingState, 'pending'>;
  view: PendingView;
}

export type DecideResult =
  | { kind: 'decided'; view: PendingView }
  /** An approval that counts but does not complete the quorum yet. */
  | { kind: 'recorded'; view: PendingView; approvals: number; required: number }
  /** The same user approved again: counted once. */
  | { kind: 'duplicate'; view: PendingView; approvals: number; required: number }
  | { kind: 'already_decided'; view: PendingView }
  | { kind: 'not_allowed'; view: PendingView }
  | { kind: 'unknown' };

export interface OpenOptions {
  approver: string;
  request: ApprovalRequest;
  earlier?: readonly ApproverOutcome[];
  timeoutMs: number;
  requireApprovers: number;
  allowedVoters: readonly string[];
  /** Called after every change while pending (a vote that does not complete the quorum). */
  onChange?: (view: PendingView) => void;
}

export interface PendingHandle {
  readonly id: string;
  /** Settles exactly once, when the entry leaves `pending`. Never rejects. */
  readonly result: Promise<Resolution>;
  view(): PendingView;
  /** Agent disconnected, request cancelled: first decision still wins if it came earlier. */
  cancel(reason: string): boolean;
}

export interface PendingStoreOptions {
  now?: () => number;
  /** At most this many entries pending at once; more are refused (fail closed, no flood of pages). */
  maxPending?: number;
  /** How long decided entries answer "already decided". */
  keepDecidedMs?: number;
  maxDecided?: number;
}

export class PendingQueueFullError extends Error {
  readonly code = 'APPROVAL_QUEUE_FULL';
}

interface Entry {
  view: PendingView;
  votes: Map<string, Vote>;
  timer?: NodeJS.Timeout;
  resolve: (resolution: Resolution) => void;
  onChange?: (view: PendingView) => void;
}

type Listener = (event: { type: 'opened' | 'changed' | 'resolved'; view: PendingView }) => void;

export class PendingApprovals {
  readonly #now: () => number;
  readonly #maxPending: number;
  readonly #keepDecidedMs: number;
  readonly #maxDecided: number;
  readonly #pending = new Map<string, Entry>();
  /** Insertion order = decision order, so the oldest is dropped first. */
  readonly #decided = new Map<string, PendingView>();
  readonly #listeners = new Set<Listener>();

  constructor(options: PendingStoreOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#maxPending = options.maxPending ?? 1000;
    this.#keepDecidedMs = options.keepDecidedMs ?? 60 * 60_000;
    this.#maxDecided = options.maxDecided ?? 1000;
  }

  /** Dashboard live updates: opened, changed (a vote), resolved. Returns the unsubscribe. */
  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  open(options: OpenOptions): PendingHandle {
    if (this.#pending.size >= this.#maxPending) {
      throw new PendingQueueFullError(`${this.#pending.size} approvals are already pending`);
    }
    const now = this.#now();
    const id = newApprovalId();
    let resolve!: (resolution: Resolution) => void;
    const result = new Promise<Resolution>((r) => { resolve = r; });
    const entry: Entry = {
      view: {
        id,
        requestId: options.request.id,
        approver: options.approver,
        request: capRequest(options.request),
        earlier: [...(options.earlier ?? [])],
        createdAt: now,
        expiresAt: now + options.timeoutMs,
        requireApprovers: Math.max(1, options.requireApprovers),
        allowedVoters: [...options.allowedVoters],
        approvals: [],
        state: 'pending',
        decidedBy: [],
      },
      votes: new Map(),
      resolve,
      ...(options.onChange ? { onChange: options.onChange } : {}),
    };
    entry.timer = setTimeout(() => this.#settle(id, 'timed_out', [], undefined, 'no decision before the timeout'), options.timeoutMs);
    this.#pending.set(id, entry);
    this.#emit('opened', entry.view);
    return {
      id,
      result,
      view: () => this.#pending.get(id)?.view ?? this.#decided.get(id) ?? entry.view,
      cancel: (reason) => this.#settle(id, 'cancelled', [], undefined, reason) !== undefined,
    };
  }

  /** Pending entries, oldest first. */
  list(): PendingView[] {
    return [...this.#pending.values()].map((e) => e.view);
  }

  get(id: string): PendingView | undefined {
    this.#prune();
    return this.#pending.get(id)?.view ?? this.#decided.get(id);
  }

  /** A Slack click: a vote by one user, counted once per user. */
  vote(id: string, vote: { by: string; verdict: 'approve' | 'deny'; reason?: string; source?: DecisionSource }): DecideResult {
    const entry = this.#pending.get(id);
    if (!entry) return this.#notPending(id);
    const view = entry.view;
    if (view.allowedVoters.length > 0 && !view.allowedVoters.includes(vote.by)) return { kind: 'not_allowed', view };
    const record: Vote = { by: vote.by, source: vote.source ?? 'slack', verdict: vote.verdict, at: this.#now(), ...(vote.reason ? { reason: vote.reason } : {}) };
    if (vote.verdict === 'deny') {
      return { kind: 'decided', view: this.#settle(id, 'denied', [vote.by], record.source, vote.reason)! };
    }
    if (entry.votes.has(vote.by)) {
      return { kind: 'duplicate', view, approvals: entry.votes.size, required: view.requireApprovers };
    }
    entry.votes.set(vote.by, record);
    entry.view = { ...view, approvals: [...entry.votes.values()] };
    if (entry.votes.size >= view.requireApprovers) {
      return { kind: 'decided', view: this.#settle(id, 'approved', [...entry.votes.keys()], record.source)! };
    }
    this.#emit('changed', entry.view);
    entry.onChange?.(entry.view);
    return { kind: 'recorded', view: entry.view, approvals: entry.votes.size, required: view.requireApprovers };
  }

  /** An operator decision (API, CLI, dashboard): final, whatever the quorum. */
  decide(id: string, decision: { by: string; verdict: 'approve' | 'deny'; reason?: string }): DecideResult {
    const entry = this.#pending.get(id);
    if (!entry) return this.#notPending(id);
    const state = decision.verdict === 'approve' ? 'approved' : 'denied';
    return { kind: 'decided', view: this.#settle(id, state, [decision.by], 'api', decision.reason)! };
  }

  /** Cancels every pending entry (appliance shutdown): nothing stays held forever. */
  cancelAll(reason: string): void {
    for (const id of [...this.#pending.keys()]) this.#settle(id, 'cancelled', [], undefined, reason);
  }

  #notPending(id: string): DecideResult {
    this.#prune();
    const view = this.#decided.get(id);
    return view ? { kind: 'already_decided', view } : { kind: 'unknown' };
  }

  #settle(id: string, state: Resolution['state'], by: string[], via: DecisionSource | undefined, reason?: string): PendingView | undefined {
    const entry = this.#pending.get(id);
    if (!entry) return undefined;
    this.#pending.delete(id);
    if (entry.timer) clearTimeout(entry.timer);
    const view: PendingView = {
      ...entry.view,
      state,
      decidedBy: by,
      decidedAt: this.#now(),
      ...(via ? { decidedVia: via } : {}),
      ...(reason ? { reason } : {}),
    };
    this.#decided.set(id, view);
    this.#prune();
    entry.resolve({ state, view });
    this.#emit('resolved', view);
    return view;
  }

  #prune(): void {
    const cutoff = this.#now() - this.#keepDecidedMs;
    for (const [id, view] of this.#decided) {
      if (this.#decided.size > this.#maxDecided || (view.decidedAt ?? 0) < cutoff) this.#decided.delete(id);
      else break;
    }
  }

  #emit(type: 'opened' | 'changed' | 'resolved', view: PendingView): void {
    for (const listener of this.#listeners) {
      try {
        listener({ type, view });
      } catch {
        // A broken dashboard subscriber must not break a decision.
      }
    }
  }
}
