/**
 * human_approver: holds the request in the pending store until people decide (Slack buttons,
 * API, CLI), the timeout passes, or the agent goes away. Slack is a notifier here, not the
 * decider: without Slack settings the same stage is decided from the API/CLI only.
 */
import { ApprovalCode } from './codes.js';
import { PendingQueueFullError, type PendingApprovals, type PendingView, type Resolution } from './pending.js';
import { silentLogger, type ApprovalRequest, type Approver, type ApproverLogger, type StageContext, type StageDecision } from './types.js';

/** Where a pending approval is shown to people (Slack). */
export interface HumanNotifier {
  /** Shows the new approval; the value it resolves to is given back to update(). */
  post(view: PendingView): Promise<unknown>;
  /** Shows progress (a vote that does not complete the quorum) or the final state. */
  update(ref: unknown, view: PendingView): Promise<void>;
}

export interface HumanApproverSettings {
  /** `human_approver.<name>`. */
  name: string;
  timeoutMs: number;
  requireApprovers: number;
  /** Slack user ids allowed to vote; empty: anyone who can click. */
  approvers: readonly string[];
}

export interface HumanApproverOptions {
  store: PendingApprovals;
  notifier?: HumanNotifier;
  logger?: ApproverLogger;
}

export class HumanApprover implements Approver {
  readonly kind = 'human_approver' as const;
  readonly name: string;
  readonly #settings: HumanApproverSettings;
  readonly #store: PendingApprovals;
  readonly #notifier: HumanNotifier | undefined;
  readonly #logger: ApproverLogger;

  constructor(settings: HumanApproverSettings, options: HumanApproverOptions) {
    this.name = settings.name;
    this.#settings = settings;
    this.#store = options.store;
    this.#notifier = options.notifier;
    this.#logger = options.logger ?? silentLogger;
  }

  async decide(request: ApprovalRequest, context: StageContext): Promise<StageDecision> {
    if (context.signal.aborted) return cancelled('agent disconnected');
    let handle;
    const notices = new NoticeQueue(this.#notifier, this.#logger, this.name);
    try {
      handle = this.#store.open({
        approver: this.name,
        request,
        earlier: context.earlier,
        timeoutMs: this.#settings.timeoutMs,
        requireApprovers: this.#settings.requireApprovers,
        allowedVoters: this.#settings.approvers,
        onChange: (view) => notices.update(view),
      });
    } catch (error) {
      if (error instanceof PendingQueueFullError) {
        return { verdict: 'error', code: ApprovalCode.QUEUE_FULL, reason: 'too many approvals are pending' };
      }
      throw error;
    }
    notices.post(handle.view());
    const onAbort = (): void => { handle.cancel('agent disconnected'); };
    context.signal.addEventListener('abort', onAbort, { once: true });
    let resolution: Resolution;
    try {
      resolution = await handle.result;
    } finally {
      context.signal.removeEventListener('abort', onAbort);
    }
    notices.update(resolution.view);
    return toDecision(resolution);
  }
}

function cancelled(reason: string): StageDecision {
  return { verdict: 'cancelled', code: ApprovalCode.CANCELLED, reason };
}

/** `slack:U123` for Slack votes; operator decisions already carry their source (`cli:alice`). */
export function decidedByText(view: PendingView): string {
  return view.decidedBy.map((by) => (view.decidedVia === 'slack' ? `slack:${by}` : by)).join(',');
}

function toDecision({ state, view }: Resolution): StageDecision {
  const decidedBy = decidedByText(view);
  switch (state) {
    case 'approved':
      return { verdict: 'allow', code: ApprovalCode.HUMAN_APPROVED, decidedBy, reason: `approved by ${decidedBy}` };
    case 'denied':
      return { verdict: 'deny', code: ApprovalCode.HUMAN_DENIED, decidedBy, reason: view.reason ?? `denied by ${decidedBy}` };
    case 'timed_out':
      return { verdict: 'timeout', code: ApprovalCode.HUMAN_TIMEOUT, reason: 'no human decision before the timeout' };
    case 'cancelled':
      return cancelled(view.reason ?? 'cancelled');
  }
}

/**
 * Posts, then updates, in order: an update must not overtake the post it edits, and a slow or
 * failing Slack must never delay or change the decision, so failures are logged only.
 */
class NoticeQueue {
  #tail: Promise<unknown> = Promise.resolve(undefined);
  #ref: unknown;
  #posted = false;

  constructor(readonly notifier: HumanNotifier | undefined, readonly logger: ApproverLogger, readonly approver: string) {}

  post(view: PendingView): void {
    const notifier = this.notifier;
    if (!notifier) return;
    this.#tail = this.#tail.then(async () => {
      this.#ref = await notifier.post(view);
      this.#posted = true;
    }).catch((error: unknown) => this.logger.warn('approval notice failed', { approver: this.approver, id: view.id, error: String((error as Error)?.message ?? error) }));
  }

  update(view: PendingView): void {
    const notifier = this.notifier;
    if (!notifier) return;
    this.#tail = this.#tail.then(async () => {
      if (this.#posted) await notifier.update(this.#ref, view);
    }).catch((error: unknown) => this.logger.warn('approval notice update failed', { approver: this.approver, id: view.id, error: String((error as Error)?.message ?? error) }));
  }
}
