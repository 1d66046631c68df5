/**
 * The send side of one connection: the send buffer (from SND.UNA on), SND.UNA / SND.NXT /
 * SND.MAX (the highest sequence sent; SND.NXT goes back to SND.UNA after a timeout), the peer's
 * window, the SACK scoreboard, congestion control and the RTO (RFC 9293 §3.8, RFC 6298).
 *
 * What to send next (`pickHole`, `pickNext`) follows RFC 6675's conservative loss recovery,
 * simplified: in recovery every un-SACKed byte with DupThresh segments SACKed above it, and
 * at least the first segment after SND.UNA (NewReno, RFC 6582, for peers without SACK), is
 * taken as lost; each is retransmitted once per recovery, as `pipe` (the bytes estimated in
 * the network) leaves room under cwnd; then new data goes out under the same rule.
 */
import type { CongestionControl } from './congestion.js';
import { DUP_ACK_THRESHOLD as DUP_THRESHOLD_SEGMENTS } from './constants.js';

/** Retransmissions remembered per recovery for lost-retransmit detection. */
const MAX_RETRANSMIT_LOG = 64;
import { ByteRing } from './ring-buffer.js';
import { RttEstimator } from './rtt-estimator.js';
import { Scoreboard } from './scoreboard.js';
import { seqAdd, seqDiff, seqGeq, seqGt, seqLt, seqMax, seqMin } from './seq.js';

export class Sender {
  readonly ring: ByteRing;
  readonly scoreboard: Scoreboard;
  readonly rtt: RttEstimator;
  cc!: CongestionControl;
  iss = 0;
  sndUna = 0;
  sndNxt = 0;
  sndMax = 0;
  /** The peer's window in bytes (scaled). */
  sndWnd = 0;
  sndWl1 = 0;
  sndWl2 = 0;
  /** Largest window the peer offered (RFC 5961 §5.2 MAX.SND.WND, SWS avoidance). */
  maxSndWnd = 0;
  /** The peer's window shift. */
  scale = 0;
  /** Send MSS: payload + options of one segment. */
  mss = 536;
  synAcked = false;
  finQueued = false;
  /** The sequence number the FIN takes (valid when finQueued). */
  finSeq = 0;
  // Loss recovery.
  inRecovery = false;
  /** RFC 6582 "recover": SND.MAX when recovery (or a timeout) began. */
  recover = 0;
  recoverAfterRto = false;
  /** RFC 6675 HighRxt: retransmissions of this recovery reached here. */
  highRxt = 0;
  dupAcks = 0;
  /** RFC 6675 §5 (4.3) / RFC 6582 §3.2 (5): the next hole goes out whatever cwnd says. */
  retransmitNow = false;
  /**
   * Retransmissions of this recovery as flat (start, end, SND.MAX when sent) triples. When
   * data sent after one is SACKed while its range is still missing, that retransmission was
   * lost too, and its range moves to `relost` to go out again before any new hole (what
   * Linux calls lost-retransmit detection); otherwise only a timeout would find it.
   */
  readonly rxtLog: number[] = [];
  /** Flat (start, end) ranges to retransmit again. */
  readonly relost: number[] = [];
  pickRelost = false;
  // RTT timing of one segment when timestamps are off (Karn's algorithm).
  timing = false;
  timedSeq = 0;
  timedAt = 0;
  // Timers and their retry counts.
  rtoAt = Infinity;
  persistAt = Infinity;
  persistBackoff = 0;
  /** Consecutive timeouts (or unanswered probes) without progress. */
  retries = 0;
  /** Set by the persist timer: send what the small window allows (SWS override). */
  force = false;
  // The segment chosen by pickHole / pickNext.
  pickSeq = 0;
  pickLen = 0;
  pickFin = false;
  pickRetransmit = false;

  constructor(capacity: number, rtt: RttEstimator, maxScoreboardRanges: number) {
    this.ring = new ByteRing(capacity);
    this.rtt = rtt;
    this.scoreboard = new Scoreboard(maxScoreboardRanges);
  }

  init(iss: number): void {
    this.iss = iss;
    this.sndUna = iss;
    this.sndNxt = seqAdd(iss, 1);
    this.sndMax = this.sndNxt;
    this.recover = iss;
    this.highRxt = iss;
  }

  /** The sequence number of the first byte in the ring. */
  get dataStart(): number { return this.synAcked ? this.sndUna : seqAdd(this.iss, 1); }
  get dataEnd(): number { return seqAdd(this.dataStart, this.ring.length); }
  get finSent(): boolean { return this.finQueued && seqGt(this.sndMax, this.finSeq); }
  get finAcked(): boolean { return this.finQueued && seqGt(this.sndUna, this.finSeq); }
  get flight(): number { return seqDiff(this.sndMax, this.sndUna); }
  /** Data or FIN not yet sent even once. */
  get hasUnsent(): boolean {
    return seqLt(this.sndMax, this.dataEnd) || (this.finQueued && !this.finSent);
  }

  /**
   * Bytes taken as lost in recovery end here: holes with DupThresh segments SACKed above them
   * (RFC 6675 IsLost), and at least the segment at SND.UNA (NewReno's retransmission).
   */
  lossEdge(): number {
    const lost = this.scoreboard.lostBelow(DUP_THRESHOLD_SEGMENTS * this.mss) ?? this.sndUna;
    return seqMax(lost, seqMin(seqAdd(this.sndUna, this.mss), this.sndMax));
  }

  /** Log a retransmission made in recovery (see rxtLog). */
  logRetransmit(start: number, end: number): void {
    if (this.rxtLog.length >= 3 * MAX_RETRANSMIT_LOG) this.rxtLog.splice(0, 3);
    this.rxtLog.push(start, end, this.sndMax);
  }

  /** After SACK news in recovery: retransmissions overtaken by SACKed later data were lost. */
  detectLostRetransmits(): void {
    const high = this.scoreboard.highSacked;
    if (high === undefined) return;
    const log = this.rxtLog;
    let drop = 0;
    while (drop < log.length && seqLt(log[drop + 2]!, high)) {
      const start = seqMax(log[drop]!, this.sndUna);
      const end = log[drop + 1]!;
      if (seqLt(start, end) && this.scoreboard.sackedBetween(start, end) < seqDiff(end, start) && this.relost.length < 2 * MAX_RETRANSMIT_LOG) {
        this.relost.push(start, end);
      }
      drop += 3;
    }
    if (drop > 0) log.splice(0, drop);
  }

  clearRecoveryLog(): void {
    this.rxtLog.length = 0;
    this.relost.length = 0;
  }

  /** RFC 6675 §4 SetPipe, in bytes, with the lost-set of `lossEdge`. */
  pipe(): number {
    let p = seqDiff(this.sndNxt, this.sndUna);
    p -= this.sndNxt === this.sndMax ? this.scoreboard.sackedBytes : this.scoreboard.sackedBetween(this.sndUna, this.sndNxt);
    if (this.inRecovery) {
      const edge = seqMin(this.lossEdge(), this.sndNxt);
      const from = seqMax(this.highRxt, this.sndUna);
      if (seqLt(from, edge)) p -= seqDiff(edge, from) - this.scoreboard.sackedBetween(from, edge);
      for (let i = 0; i < this.relost.length; i += 2) {
        const a = seqMax(this.relost[i]!, this.sndUna);
        const b = this.relost[i + 1]!;
        if (seqLt(a, b) && seqLt(b, from)) p -= seqDiff(b, a) - this.scoreboard.sackedBetween(a, b);
      }
    }
    return Math.max(0, p);
  }

  /** In recovery: the next lost range not yet retransmitted (RFC 6675 NextSeg rule 1). */
  pickHole(maxSeg: number): boolean {
    this.pickRelost = false;
    const relost = this.relost;
    while (relost.length > 0) {
      const end = relost[1]!;
      const start = this.scoreboard.skipSacked(seqMax(relost[0]!, this.sndUna));
      if (!seqLt(start, end) || !seqLt(start, this.dataEnd)) { relost.splice(0, 2); continue; }
      let len = Math.min(seqDiff(end, start), maxSeg, seqDiff(this.dataEnd, start));
      const next = this.scoreboard.nextSackedStart(start);
      if (next !== undefined) len = Math.min(len, seqDiff(next, start));
      relost[0] = seqAdd(start, len);
      this.pickSeq = start;
      this.pickLen = len;
      this.pickFin = false;
      this.pickRetransmit = true;
      this.pickRelost = true;
      return true;
    }
    const edge = this.lossEdge();
    const s = this.scoreboard.skipSacked(seqMax(this.highRxt, this.sndUna));
    if (!seqLt(s, edge)) return false;
    this.pickSeq = s;
    this.pickRetransmit = true;
    if (this.finQueued && seqGeq(s, this.finSeq)) {
      this.pickLen = 0;
      this.pickFin = true;
      return true;
    }
    let len = Math.min(seqDiff(edge, s), maxSeg, seqDiff(this.dataEnd, s));
    const next = this.scoreboard.nextSackedStart(s);
    if (next !== undefined) len = Math.min(len, seqDiff(next, s));
    if (len <= 0) return false;
    this.pickLen = len;
    this.pickFin = this.finQueued && seqAdd(s, len) === this.finSeq && seqGt(edge, this.finSeq);
    return true;
  }

  /**
   * The segment at SND.NXT: new data, or data sent before a timeout sent again. Sender SWS
   * avoidance (RFC 9293 §3.8.6.2.1) without Nagle: a short segment goes out only when it is all
   * that is queued, or when the window (not cwnd) is the limit and is at least half the
   * largest the peer offered, or when the persist timer forces it.
   */
  pickNext(maxSeg: number, cwndRoom: number): boolean {
    let s = this.sndNxt;
    if (seqLt(s, this.sndMax)) {
      const t = this.scoreboard.skipSacked(s);
      if (t !== s) { s = t; this.sndNxt = t; }
    }
    const dataEnd = this.dataEnd;
    this.pickSeq = s;
    this.pickRetransmit = seqLt(s, this.sndMax);
    if (!seqLt(s, dataEnd)) {
      if (this.finQueued && s === this.finSeq) {
        this.pickLen = 0;
        this.pickFin = true;
        return true;
      }
      return false;
    }
    const avail = seqDiff(dataEnd, s);
    const wndRoom = seqDiff(seqAdd(this.sndUna, this.sndWnd), s);
    let len = Math.min(avail, maxSeg);
    if (this.pickRetransmit) {
      const next = this.scoreboard.nextSackedStart(s);
      if (next !== undefined) len = Math.min(len, seqDiff(next, s));
    }
    const room = Math.min(wndRoom, cwndRoom);
    if (room <= 0) return false;
    if (len > room) {
      const windowLimited = wndRoom <= cwndRoom;
      if (!(this.force || this.pickRetransmit || (windowLimited && room >= this.maxSndWnd / 2))) return false;
      len = room;
    }
    this.pickLen = len;
    this.pickFin = this.finQueued && seqAdd(s, len) === this.finSeq;
    return true;
  }

  /** Bookkeeping after the picked segment went out. */
  sent(now: number, timestamps: boolean): void {
    const end = seqAdd(this.pickSeq, this.pickLen + (this.pickFin ? 1 : 0));
    if (this.pickRetransmit) this.timing = false; // Karn: a sample across a retransmission is ambiguous
    if (seqGt(end, this.sndNxt)) this.sndNxt = end;
    if (seqGt(end, this.sndMax)) {
      this.sndMax = end;
      if (!timestamps && !this.timing) {
        this.timing = true;
        this.timedSeq = end;
        this.timedAt = now;
      }
    }
    if (this.rtoAt === Infinity) this.rtoAt = now + this.rtt.rto;
    this.persistAt = Infinity;
  }
}
