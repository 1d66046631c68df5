/**
 * Congestion control: slow start and the loss responses of RFC 5681 §3.1-3.2 (with RFC 3465
 * byte counting, L = 2 SMSS), the initial window of RFC 6928, and two congestion-avoidance
 * laws: NewReno (RFC 5681/6582: +1 SMSS per cwnd acknowledged) and CUBIC (RFC 9438: the
 * window follows W(t) = C (t - K)^3 + W_max after a loss, with the Reno-friendly region of
 * §4.3 and fast convergence of §4.7). Loss recovery itself (what to retransmit) is in sender.ts.
 *
 * cwnd only grows while the connection is cwnd-limited (RFC 7661's concern): an application-
 * or receive-window-limited sender would otherwise inflate it without bound.
 */

export type CongestionControlName = 'newreno' | 'cubic';

/** RFC 6928 §2: min(10 MSS, max(2 MSS, 14600)). */
export function initialWindow(mss: number): number {
  return Math.min(10 * mss, Math.max(2 * mss, 14600));
}

/** RFC 3465 §2.2 L: at most this many SMSS per ACK in slow start. */
const SLOW_START_ABC_LIMIT = 2;
/** A ceiling far above any window the 32-bit sequence space could use. */
const MAX_CWND = 0x40000000;
// RFC 9438 §5.
const CUBIC_BETA = 0.7;
const CUBIC_C = 0.4;
const CUBIC_ALPHA = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA);

export interface CongestionControl {
  readonly name: CongestionControlName;
  cwnd: number;
  ssthresh: number;
  /**
   * `acked` new bytes were cumulatively acknowledged outside loss recovery. `cwndLimited` says
   * whether the flight before this ACK was close to cwnd. `srtt` in ms (0 when unknown).
   */
  onAck(now: number, acked: number, mss: number, cwndLimited: boolean, srtt: number): void;
  /** Loss detected by duplicate ACKs / SACK: entering fast recovery with `flight` bytes out. */
  onLoss(now: number, flight: number, mss: number): void;
  /** Fast recovery ended (the ACK covered the recovery point). */
  onRecoveryEnd(mss: number, flight: number): void;
  /** Retransmission timeout. */
  onRto(now: number, flight: number, mss: number): void;
}

function slowStart(cc: { cwnd: number }, acked: number, mss: number): void {
  cc.cwnd = Math.min(MAX_CWND, cc.cwnd + Math.min(acked, SLOW_START_ABC_LIMIT * mss));
}

export class NewReno implements CongestionControl {
  readonly name = 'newreno';
  cwnd: number;
  ssthresh = MAX_CWND;
  #acc = 0;

  constructor(mss: number) {
    this.cwnd = initialWindow(mss);
  }

  onAck(_now: number, acked: number, mss: number, cwndLimited: boolean): void {
    if (!cwndLimited) return;
    if (this.cwnd < this.ssthresh) { slowStart(this, acked, mss); return; }
    this.#acc += acked;
    if (this.#acc >= this.cwnd) {
      this.#acc -= this.cwnd;
      this.cwnd = Math.min(MAX_CWND, this.cwnd + mss);
    }
  }

  onLoss(_now: number, flight: number, mss: number): void {
    // RFC 5681 eq. (4).
    this.ssthresh = Math.max(Math.floor(flight / 2), 2 * mss);
    this.cwnd = this.ssthresh;
    this.#acc = 0;
  }

  onRecoveryEnd(mss: number, flight: number): void {
    // RFC 6582 §3.2 step 3, option 1: min(ssthresh, FlightSize + SMSS).
    this.cwnd = Math.max(mss, Math.min(this.ssthresh, flight + mss));
  }

  onRto(_now: number, flight: number, mss: number): void {
    this.ssthresh = Math.max(Math.floor(flight / 2), 2 * mss);
    this.cwnd = mss; // RFC 5681 §3.1: the loss window
    this.#acc = 0;
  }
}

export class Cubic implements CongestionControl {
  readonly name = 'cubic';
  cwnd: number;
  ssthresh = MAX_CWND;
  /** W_max in bytes: the window just before the last reduction. */
  #wMax = 0;
  /** K in seconds. */
  #k = 0;
  #epochStart: number | undefined;
  /** W_est in bytes: the Reno-friendly estimate (§4.3). */
  #wEst = 0;
  #cwndPrior = 0;

  constructor(mss: number) {
    this.cwnd = initialWindow(mss);
  }

  onAck(now: number, acked: number, mss: number, cwndLimited: boolean, srtt: number): void {
    if (!cwndLimited) return;
    if (this.cwnd < this.ssthresh) { slowStart(this, acked, mss); return; }
    if (this.#epochStart === undefined) {
      this.#epochStart = now;
      if (this.cwnd < this.#wMax) {
        this.#k = Math.cbrt((this.#wMax - this.cwnd) / mss / CUBIC_C);
      } else {
        this.#k = 0;
        this.#wMax = this.cwnd;
      }
      this.#wEst = this.cwnd;
    }
    const t = (now - this.#epochStart + srtt) / 1000;
    const target = Math.min(1.5 * this.cwnd, Math.max(this.cwnd, this.#wMax + CUBIC_C * (t - this.#k) ** 3 * mss));
    const alpha = this.#wEst >= this.#cwndPrior ? 1 : CUBIC_ALPHA;
    this.#wEst += (alpha * mss * acked) / this.cwnd;
    if (this.#wEst > target) {
      this.cwnd = Math.min(MAX_CWND, Math.max(this.cwnd, Math.floor(this.#wEst)));
    } else {
      this.cwnd = Math.min(MAX_CWND, this.cwnd + Math.floor(((target - this.cwnd) * acked) / this.cwnd));
    }
  }

  #reduce(mss: number): void {
    this.#epochStart = undefined;
    // §4.7 fast convergence: release bandwidth when the window shrank since the last loss.
    this.#wMax = this.cwnd < this.#wMax ? (this.cwnd * (1 + CUBIC_BETA)) / 2 : this.cwnd;
    this.#cwndPrior = this.cwnd;
    this.ssthresh = Math.max(Math.floor(this.cwnd * CUBIC_BETA), 2 * mss);
  }

  onLoss(_now: number, _flight: number, mss: number): void {
    this.#reduce(mss);
    this.cwnd = this.ssthresh;
  }

  onRecoveryEnd(mss: number): void {
    this.cwnd = Math.max(mss, this.ssthresh);
  }

  onRto(_now: number, _flight: number, mss: number): void {
    this.#reduce(mss);
    this.cwnd = mss;
  }
}

export function createCongestionControl(name: CongestionControlName, mss: number): CongestionControl {
  return name === 'cubic' ? new Cubic(mss) : new NewReno(mss);
}
