/**
 * A token bucket on caller-supplied time, for ICMP error rate limiting (RFC 4443 §2.4(f),
 * RFC 1812 §4.3.2.8). Time is in milliseconds and only moves forward; a clock that goes back
 * refills nothing.
 */
export class TokenBucket {
  readonly #ratePerMs: number;
  readonly #burst: number;
  #tokens: number;
  #last: number | undefined;

  constructor(perSecond: number, burst: number) {
    this.#ratePerMs = perSecond / 1000;
    this.#burst = burst;
    this.#tokens = burst;
  }

  take(now: number): boolean {
    if (this.#last !== undefined && now > this.#last) {
      this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#last) * this.#ratePerMs);
    }
    if (this.#last === undefined || now > this.#last) this.#last = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
