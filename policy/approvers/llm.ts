/**
 * llm_approver: asks a model whether a held request may proceed (POLICY.md "approver",
 * REFERENCE §4.1 and §2.8 for what theirs lacked).
 *
 * Order of checks per request: verdict cache (no call) -> circuit breaker (deny fast while the
 * model is failing) -> concurrency slot (waiting counts against the timeout) -> the call, raced
 * against the deadline so a provider that ignores its signal cannot hold the request longer.
 * `llm_fail_mode` is always closed: every failure is a non-allow stage, which denies.
 */
import { CircuitBreaker, type BreakerOptions } from './breaker.js';
import { ApprovalCode } from './codes.js';
import { parseJudgeAnswer } from './llm-answer.js';
import { buildJudgePrompt } from './llm-prompt.js';
import { LlmCallError, type LlmProvider } from './providers/types.js';
import { QueueFullError, Semaphore } from './semaphore.js';
import type { ApprovalRequest, Approver, StageContext, StageDecision } from './types.js';
import { VerdictCache, verdictCacheKey } from './verdict-cache.js';

export interface LlmApproverSettings {
  /** `llm_approver.<name>`. */
  name: string;
  model: string;
  policy: string;
  timeoutMs: number;
  cacheTtlMs: number;
  maxConcurrency: number;
  provider: LlmProvider;
  /**
   * Authentication headers, resolved at each call so a rotated secret is picked up. A throw
   * (secret missing) denies with LLM_AUTH_ERROR.
   */
  authHeaders?: () => Record<string, string>;
  /** Callers that may wait for a slot; more are refused at once. Default 16 x maxConcurrency. */
  maxQueue?: number;
  cacheMaxEntries?: number;
  breaker?: BreakerOptions;
  /** Clock for the cache and the breaker (a manual clock in tests). */
  now?: () => number;
}

export class LlmApprover implements Approver {
  readonly kind = 'llm_approver' as const;
  readonly name: string;
  readonly breaker: CircuitBreaker;
  readonly cache: VerdictCache;
  readonly semaphore: Semaphore;
  readonly #settings: LlmApproverSettings;

  constructor(settings: LlmApproverSettings) {
    this.name = settings.name;
    this.#settings = settings;
    const now = settings.now ?? Date.now;
    this.breaker = new CircuitBreaker({ now, ...settings.breaker });
    this.cache = new VerdictCache(settings.cacheTtlMs, settings.cacheMaxEntries ?? 10_000, now);
    this.semaphore = new Semaphore(settings.maxConcurrency, settings.maxQueue ?? settings.maxConcurrency * 16);
  }

  async decide(request: ApprovalRequest, context: StageContext): Promise<StageDecision> {
    const { model, policy } = this.#settings;
    const base = { model, decidedBy: `llm:${model}` };
    if (context.signal.aborted) return { ...base, verdict: 'cancelled', code: ApprovalCode.CANCELLED, reason: 'agent disconnected' };

    const key = this.cache.enabled ? verdictCacheKey({ approver: this.name, model, policy, request }) : undefined;
    const cached = key === undefined ? undefined : this.cache.get(key);
    if (cached) return { ...base, ...verdictFields(cached.decision), reason: cached.reason, cacheHit: true };

    if (!this.breaker.tryAcquire()) {
      return { ...base, verdict: 'error', code: ApprovalCode.LLM_BREAKER_OPEN, reason: 'the model failed repeatedly; its circuit breaker is open' };
    }

    let headers: Record<string, string>;
    try {
      headers = this.#settings.authHeaders?.() ?? {};
    } catch (error) {
      this.breaker.abandon();
      return { ...base, verdict: 'error', code: ApprovalCode.LLM_AUTH_ERROR, reason: `cannot authenticate to the model: ${(error as Error).message}` };
    }

    const timeout = AbortSignal.timeout(this.#settings.timeoutMs);
    const deadline = AbortSignal.any([context.signal, timeout]);
    const ended = (): StageDecision | undefined => {
      if (context.signal.aborted) return { ...base, verdict: 'cancelled', code: ApprovalCode.CANCELLED, reason: 'agent disconnected' };
      if (timeout.aborted) return { ...base, verdict: 'timeout', code: ApprovalCode.LLM_TIMEOUT, reason: `the model did not answer within ${this.#settings.timeoutMs} ms` };
      return undefined;
    };

    try {
      await this.semaphore.acquire(deadline);
    } catch (error) {
      const stop = ended();
      if (stop?.verdict === 'timeout') this.breaker.failure();
      else this.breaker.abandon();
      if (stop) return stop;
      if (error instanceof QueueFullError) return { ...base, verdict: 'error', code: ApprovalCode.LLM_QUEUE_FULL, reason: 'too many requests wait for this judge' };
      throw error;
    }

    const prompt = buildJudgePrompt({ approver: this.name, policy, request, earlier: context.earlier });
    const call = this.#settings.provider.complete({ system: prompt.system, user: prompt.user, signal: deadline, headers });
    // The slot is held until the call really ends, even when the deadline returns first:
    // the model is still busy with it, and the cap is about the model.
    call.then(() => this.semaphore.release(), () => this.semaphore.release());

    let answer: unknown;
    try {
      answer = await raceSignal(call, deadline);
    } catch (error) {
      const stop = ended();
      if (stop) {
        if (stop.verdict === 'timeout') this.breaker.failure();
        else this.breaker.abandon();
        return stop;
      }
      if (error instanceof LlmCallError && error.code === 'LLM_BAD_ANSWER') {
        this.breaker.abandon();
        return { ...base, verdict: 'error', code: ApprovalCode.LLM_BAD_ANSWER, reason: error.message };
      }
      this.breaker.failure();
      const message = error instanceof LlmCallError ? error.message : `the model cannot be reached: ${describeFetchError(error)}`;
      return { ...base, verdict: 'error', code: ApprovalCode.LLM_HTTP_ERROR, reason: message };
    }

    // The service answered: whatever the answer says, the model is up.
    this.breaker.success();
    const parsed = parseJudgeAnswer(answer);
    if (!parsed.ok) return { ...base, verdict: 'error', code: ApprovalCode.LLM_BAD_ANSWER, reason: `unusable answer from the model: ${parsed.problem}` };
    if (key !== undefined) this.cache.set(key, parsed.verdict);
    return { ...base, ...verdictFields(parsed.verdict.decision), reason: parsed.verdict.reason, cacheHit: false };
  }
}

function verdictFields(decision: 'allow' | 'deny'): Pick<StageDecision, 'verdict' | 'code'> {
  return decision === 'allow'
    ? { verdict: 'allow', code: ApprovalCode.LLM_ALLOWED }
    : { verdict: 'deny', code: ApprovalCode.LLM_DENIED };
}

function raceSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => { signal.removeEventListener('abort', onAbort); resolve(value); },
      (error: unknown) => { signal.removeEventListener('abort', onAbort); reject(error); },
    );
  });
}

/** `fetch failed` hides the reason in `cause` (ECONNREFUSED...): surface the code only. */
function describeFetchError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? (error as Error)?.message ?? String(error);
}
