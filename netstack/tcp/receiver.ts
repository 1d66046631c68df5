/**
 * The receive side of one connection (RFC 9293 §3.8.6.2.2, §3.10.7.4 "seventh, process the
 * segment text"): RCV.NXT, the receive buffer, out-of-order reassembly, the advertised window
 * with receiver-side silly window avoidance, and the delayed-ACK decision (RFC 5681 §4.2,
 * RFC 1122 §4.2.3.2).
 *
 * Window and memory: the receive ring holds what the application has not read, and out-of-
 * order data at its offset after that; the window we advertise is the ring's free space, so a
 * slow reader shrinks the window and slows the peer, and memory never exceeds the capacity.
 */
import { Assembler } from './assembler.js';
import { ByteRing } from './ring-buffer.js';
import { seqAdd, seqDiff } from './seq.js';

export type ReceiveOutcome = 'in-order' | 'out-of-order' | 'duplicate' | 'beyond-window' | 'ooo-dropped';

export class Receiver {
  readonly ring: ByteRing;
  readonly assembler: Assembler;
  /** The MSS we advertised: the largest segment the peer should send. */
  readonly ourMss: number;
  irs = 0;
  rcvNxt = 0;
  /** Our window shift, 0 unless both SYNs carried window scale. */
  scale = 0;
  /** The right edge (RCV.NXT + RCV.WND) of the last window we advertised. */
  advRight = 0;
  /** The peer's FIN sequence number once a FIN was seen, maybe ahead of RCV.NXT. */
  finSeq: number | undefined;
  /** The FIN has been reached in order (RCV.NXT counts it). */
  finReceived = false;
  /** Send an ACK at the next output, do not delay it. */
  ackNow = false;
  delayedAckAt = Infinity;
  /** RCV.NXT when we last sent an ACK (RFC 7323 Last.ACK.sent). */
  lastAckSent = 0;
  /** Largest payload seen, the "full-sized segment" of the ACK-every-second rule. */
  rcvMss: number;
  /** Bytes trimmed off the last segment by `accept` (beyond the window). */
  trimmed = 0;

  constructor(capacity: number, ourMss: number, maxOooRanges: number) {
    this.ring = new ByteRing(capacity);
    this.assembler = new Assembler(maxOooRanges);
    this.ourMss = ourMss;
    this.rcvMss = Math.min(ourMss, 536);
  }

  init(irs: number): void {
    this.irs = irs;
    this.rcvNxt = seqAdd(irs, 1);
    this.advRight = this.rcvNxt;
    this.lastAckSent = this.rcvNxt;
  }

  /** Bytes we could take beyond RCV.NXT right now. */
  get window(): number {
    return this.ring.free;
  }

  /** The window last advertised, from RCV.NXT (0 if data arrived past it). */
  get advertised(): number {
    return Math.max(0, seqDiff(this.advRight, this.rcvNxt));
  }

  /**
   * The 16-bit window field for an outgoing segment, recording the advertised edge. SYN and
   * SYN-ACK windows are never scaled (RFC 7323 §2.2). The right edge moves only by at least
   * min(capacity / 2, MSS) (RFC 9293 §3.8.6.2.2, receiver SWS avoidance).
   */
  windowField(syn: boolean): number {
    const free = this.ring.free;
    if (syn) {
      const field = Math.min(free, 0xffff);
      this.advRight = seqAdd(this.rcvNxt, field);
      return field;
    }
    const cur = this.advertised;
    const wnd = free - cur < Math.min(this.ring.capacity >> 1, this.ourMss) ? cur : free;
    const field = Math.min(0xffff, Math.floor(wnd / 2 ** this.scale));
    this.advRight = seqAdd(this.rcvNxt, field * 2 ** this.scale);
    return field;
  }

  /** True when reading opened the window enough to tell the peer now (a window update). */
  windowUpdateDue(): boolean {
    const cur = this.advertised;
    const grown = this.ring.free - cur;
    const half = this.ring.capacity >> 1;
    return grown >= (cur < this.ourMss ? Math.min(half, this.ourMss) : Math.min(half, 2 * this.ourMss));
  }

  /**
   * Takes what fits of payload `data` starting at `seq` (already found acceptable) and returns
   * the outcome; `rcvNxt` advances over in-order data and any out-of-order ranges it joins.
   */
  accept(seq: number, data: Uint8Array): ReceiveOutcome {
    this.trimmed = 0;
    let off = seqDiff(seq, this.rcvNxt);
    let d = data;
    if (off < 0) {
      if (-off >= d.length) return 'duplicate';
      d = d.subarray(-off);
      off = 0;
    }
    const room = this.ring.free;
    if (off >= room) {
      this.trimmed = d.length;
      return 'beyond-window';
    }
    if (off + d.length > room) {
      this.trimmed = off + d.length - room;
      d = d.subarray(0, room - off);
    }
    if (d.length > this.rcvMss) this.rcvMss = Math.min(d.length, this.ourMss);
    if (off === 0) {
      this.ring.writeAt(this.ring.length, d);
      this.ring.commit(d.length);
      this.rcvNxt = seqAdd(this.rcvNxt, d.length);
      let joined = false;
      for (;;) {
        const end = this.assembler.takeContiguous(this.rcvNxt);
        if (end === undefined) break;
        const n = seqDiff(end, this.rcvNxt);
        if (n > 0) {
          this.ring.commit(n);
          this.rcvNxt = end;
        }
        joined = true;
      }
      // RFC 5681 §4.2: ACK at once when a segment fills (part of) a hole.
      if (joined || this.assembler.rangeCount > 0) this.ackNow = true;
      return 'in-order';
    }
    const start = seqAdd(this.rcvNxt, off);
    if (!this.assembler.add(start, seqAdd(start, d.length))) return 'ooo-dropped';
    this.ring.writeAt(this.ring.length + off, d);
    return 'out-of-order';
  }

  /** After in-order data: ACK every second full-sized segment at once, else within the delay. */
  scheduleAck(now: number, delayMs: number, everySegments: number): void {
    if (this.ackNow) return;
    if (seqDiff(this.rcvNxt, this.lastAckSent) >= everySegments * this.rcvMss) this.ackNow = true;
    else if (this.delayedAckAt === Infinity) this.delayedAckAt = now + delayMs;
  }

  /** Called for every segment we send that carries an ACK. */
  onAckSent(): void {
    this.ackNow = false;
    this.delayedAckAt = Infinity;
    this.lastAckSent = this.rcvNxt;
  }

  /** When RCV.NXT has reached the FIN, counts it (RCV.NXT + 1) and returns true once. */
  reachFin(): boolean {
    if (this.finReceived || this.finSeq === undefined || this.rcvNxt !== this.finSeq) return false;
    this.finReceived = true;
    this.rcvNxt = seqAdd(this.rcvNxt, 1);
    this.assembler.clear();
    this.ackNow = true;
    return true;
  }
}
