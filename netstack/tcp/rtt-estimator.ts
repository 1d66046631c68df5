/**
 * Retransmission timeout, RFC 6298 §2 (SRTT, RTTVAR, RTO = SRTT + max(G, 4 RTTVAR)) with the
 * exponential backoff of §5.5. The lower bound is a parameter: RFC 6298 asks for 1 s, Linux
 * and most stacks use 200 ms; inside a tunnel whose RTT is well under a millisecond, 1 s would
 * make every lost tail segment a one-second stall (see constants.ts).
 */

/** Clock granularity G: `now` is in milliseconds. */
const CLOCK_GRANULARITY_MS = 1;
const ALPHA = 1 / 8;
const BETA = 1 / 4;
const K = 4;

export class RttEstimator {
  readonly minRto: number;
  readonly maxRto: number;
  srtt: number | undefined;
  rttvar = 0;
  #rto: number;
  /** Consecutive backoffs since the last fresh sample or new ACK. */
  backoffs = 0;

  constructor(initialRto: number, minRto: number, maxRto: number) {
    this.minRto = minRto;
    this.maxRto = maxRto;
    this.#rto = initialRto;
  }

  /** The current RTO with backoff applied. */
  get rto(): number {
    return Math.min(this.maxRto, this.#rto * 2 ** this.backoffs);
  }

  /** The RTO without backoff (for persist and keepalive intervals). */
  get baseRto(): number { return this.#rto; }

  sample(rtt: number): void {
    const r = Math.max(0, rtt);
    if (this.srtt === undefined) {
      this.srtt = r;
      this.rttvar = r / 2;
    } else {
      this.rttvar = (1 - BETA) * this.rttvar + BETA * Math.abs(this.srtt - r);
      this.srtt = (1 - ALPHA) * this.srtt + ALPHA * r;
    }
    this.#rto = Math.min(this.maxRto, Math.max(this.minRto, this.srtt + Math.max(CLOCK_GRANULARITY_MS, K * this.rttvar)));
  }

  backoff(): void {
    if (this.rto < this.maxRto) this.backoffs++;
  }
}
