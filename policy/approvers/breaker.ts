/**
 * Circuit breaker for a model endpoint. When the judge is down or hopelessly slow, every held
 * request would otherwise wait its full timeout before denying; after `failureThreshold`
 * consecutive failures the breaker opens and requests deny at once for `cooldownMs`. Then one
 * probe goes through (half-open): success closes the breaker, failure opens it again.
 *
 * Only failures of the service count (timeouts, HTTP and connection errors). A malformed answer
 * does not: it can be provoked by the agent's own request text, and letting an agent open the
 * breaker would let it deny everyone else's approvals.
 */
export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  failureThreshold?: number;
  cooldownMs?: number;
  now?: () => number;
}

export class CircuitBreaker {
  readonly failureThreshold: number;
  readonly cooldownMs: number;
  readonly #now: () => number;
  #failures = 0;
  #openedAt: number | undefined;
  #probing = false;

  constructor(options: BreakerOptions = {}) {
    this.failureThreshold = options.failureThreshold ?? 5;
    this.cooldownMs = options.cooldownMs ?? 30_000;
    this.#now = options.now ?? Date.now;
  }

  get state(): BreakerState {
    if (this.#openedAt === undefined) return 'closed';
    return this.#now() - this.#openedAt >= this.cooldownMs ? 'half-open' : 'open';
  }

  /**
   * May a call go out now? In half-open state only one probe at a time is let through;
   * the caller must report its result with success() or failure(), or abandon() it.
   */
  tryAcquire(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'open' || this.#probing) return false;
    this.#probing = true;
    return true;
  }

  success(): void {
    this.#failures = 0;
    this.#openedAt = undefined;
    this.#probing = false;
  }

  failure(): void {
    this.#failures++;
    if (this.#probing || this.#failures >= this.failureThreshold) this.#openedAt = this.#now();
    this.#probing = false;
  }

  /** A call that ended without telling anything about the service (cancelled, bad answer). */
  abandon(): void {
    this.#probing = false;
  }
}
