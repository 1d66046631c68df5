/**
 * runApprovalChain: the stages of one `approve = [...]` list, in order (REFERENCE §2.4, with the
 * gaps of §2.7 closed).
 *
 * - Every stage must allow. The first deny, timeout or error denies and later stages never run,
 *   so a judge's deny never pages a human.
 * - The signal (agent disconnected, request cancelled) cancels the running stage: the stage sees
 *   the same signal and cleans up (Slack message updated, pending entry removed), and the chain
 *   resolves as `cancelled` at once without waiting for that cleanup. The caller forwards
 *   upstream only on `allow`.
 * - Never rejects: an approver that throws is a stage `error`, which denies.
 */
import { ApprovalCode } from './codes.js';
import type { ApprovalRequest, Approver, ApproverOutcome, ChainResult, StageDecision } from './types.js';

export interface ChainOptions {
  /** Monotonic milliseconds for latencies (tests pass a manual clock). */
  now?: () => number;
}

const CANCELLED_REASON = 'the request was cancelled before its approval completed; it was not sent upstream';

export async function runApprovalChain(
  request: ApprovalRequest,
  stages: readonly Approver[],
  signal: AbortSignal,
  options: ChainOptions = {},
): Promise<ChainResult> {
  const now = options.now ?? (() => performance.now());
  const started = now();
  const outcomes: ApproverOutcome[] = [];
  const finish = (verdict: ChainResult['verdict'], code: string, reason: string): ChainResult =>
    ({ verdict, code, reason, stages: outcomes, latencyMs: Math.max(0, now() - started) });

  if (stages.length === 0) return finish('deny', ApprovalCode.NO_STAGES, 'approval required but no approver is configured');

  for (const stage of stages) {
    if (signal.aborted) return finish('cancelled', ApprovalCode.CANCELLED, CANCELLED_REASON);
    const stageStart = now();
    const decision = await raceAbort(runStage(stage, request, outcomes, signal), signal);
    const outcome: ApproverOutcome = {
      ...(decision ?? { verdict: 'cancelled', code: ApprovalCode.CANCELLED, reason: 'agent disconnected' }),
      name: stage.name,
      latencyMs: Math.max(0, now() - stageStart),
    };
    outcomes.push(outcome);
    if (outcome.verdict === 'cancelled' || (decision === undefined)) {
      return finish('cancelled', ApprovalCode.CANCELLED, CANCELLED_REASON);
    }
    if (outcome.verdict !== 'allow') return finish('deny', outcome.code, agentReason(outcome));
  }
  const last = outcomes[outcomes.length - 1]!;
  return finish('allow', ApprovalCode.ALLOWED, last.reason || 'approved');
}

async function runStage(stage: Approver, request: ApprovalRequest, earlier: readonly ApproverOutcome[], signal: AbortSignal): Promise<StageDecision> {
  try {
    const decision = await stage.decide(request, { signal, earlier: [...earlier] });
    // A stage may answer after the abort raced it; its answer no longer counts.
    return decision;
  } catch (error) {
    return {
      verdict: 'error',
      code: ApprovalCode.APPROVER_ERROR,
      reason: `approver ${stage.name} failed: ${(error as Error)?.message ?? String(error)}`,
    };
  }
}

/** Resolves with the promise's value, or undefined as soon as the signal aborts. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise<T | undefined>((resolve) => {
    const onAbort = (): void => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => { signal.removeEventListener('abort', onAbort); resolve(signal.aborted ? undefined : value); },
      () => { signal.removeEventListener('abort', onAbort); resolve(undefined); },
    );
  });
}

/**
 * What the agent is told. A human's or judge's own reason is the most useful answer; failures
 * of the approval machinery say what happened without internals (URLs, status bodies).
 */
function agentReason(outcome: ApproverOutcome): string {
  switch (outcome.verdict) {
    case 'deny':
      return outcome.reason ? `denied by ${outcome.name}: ${outcome.reason}` : `denied by ${outcome.name}`;
    case 'timeout':
      return `approver ${outcome.name} did not decide in time; the request was not sent upstream`;
    default:
      return `approver ${outcome.name} could not decide (${outcome.code}); the request was not sent upstream`;
  }
}
