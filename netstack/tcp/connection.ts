/**
 * One TCP connection: the state machine of RFC 9293 §3.3.2 and the event processing of §3.10
 * (SEGMENT ARRIVES, USER calls, timeouts), with RFC 5961 (blind RST/SYN/data mitigations),
 * RFC 7323 (window scale, timestamps, PAWS), RFC 2018/6675 (SACK), RFC 5681/6582 (fast
 * retransmit and recovery), RFC 6298 (RTO), RFC 1122 §4.2.3.6 (keepalive).
 *
 * Passive opens start in OFFERED: the SYN's parameters are kept and nothing is sent until the
 * application calls accept() (SYN-ACK) or refuse() (RST). Retransmitted SYNs are absorbed.
 *
 * Sans-IO: segments go out through the host (the TcpStack), which hands them to the caller's
 * `emit` as `transmit` events; timers are deadlines the host polls. Application calls
 * (write/read/shutdown) only change buffers and mark the connection dirty; the stack's flush
 * sends what became sendable, so many writes become full segments.
 */
import type { Counters } from '../counters.js';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, type TcpOptions, type TcpPacket, emptyOptions, tcpOptionsLength } from '../wire/tcp.js';
import { type CongestionControlName, createCongestionControl } from './congestion.js';
import {
  ACK_EVERY_SEGMENTS, DATA_RETRIES, DEFAULT_SEND_MSS_V4, DEFAULT_SEND_MSS_V6, DUP_ACK_THRESHOLD,
  KEEPALIVE_IDLE_MS, KEEPALIVE_INTERVAL_MS, KEEPALIVE_PROBES, MAX_OOO_RANGES, MAX_SCOREBOARD_RANGES, MIN_SEND_MSS,
  PAWS_IDLE_LIMIT_MS, SYN_ACK_RETRIES, SYN_RETRIES, TIMESTAMP_CLOCK_MS, mssForMtu, windowScaleFor,
} from './constants.js';
import type { Scheduled } from './deadline-heap.js';
import { Receiver } from './receiver.js';
import { RttEstimator } from './rtt-estimator.js';
import { SegmentBuilder } from './segment-builder.js';
import { Sender } from './sender.js';
import { seqAdd, seqDiff, seqGeq, seqGt, seqLeq, seqLt } from './seq.js';
import { TCP_COUNTERS as C } from './tcp-counters.js';
import type { TcpCloseReason, TcpConnection, TcpEvent, TcpState } from './types.js';

/** Settings a connection reads from its stack. */
export interface ConnectionConfig {
  mtu: number;
  ttl: number;
  receiveBuffer: number;
  sendBuffer: number;
  timeWaitMs: number;
  offerTimeoutMs: number;
  finWait2TimeoutMs: number;
  initialRtoMs: number;
  minRtoMs: number;
  maxRtoMs: number;
  delayedAckMs: number;
  congestionControl: CongestionControlName;
}

/** What a connection needs from its stack. */
export interface ConnectionHost {
  readonly counters: Counters;
  readonly config: ConnectionConfig;
  transmit(packet: Uint8Array): void;
  event(e: TcpEvent): void;
  markDirty(conn: Connection): void;
  reschedule(conn: Connection): void;
  stateChanged(conn: Connection, from: TcpState, to: TcpState): void;
  remove(conn: Connection): void;
  /** RFC 5961 §7: may another challenge ACK go out now? */
  challengeAllowed(now: number): boolean;
  random32(): number;
}

/** Segments one flush may send for one connection: a bound on work, not on the window. */
const MAX_SEGMENTS_PER_OUTPUT = 4096;

export class Connection implements TcpConnection, Scheduled {
  readonly id: number;
  readonly key: string;
  readonly family: 4 | 6;
  readonly remoteAddress: Uint8Array;
  readonly remotePort: number;
  readonly localAddress: Uint8Array;
  readonly localPort: number;
  readonly peer: string;
  readonly passive: boolean;
  heapAt: number | undefined;
  dirty = false;

  readonly #host: ConnectionHost;
  readonly #builder: SegmentBuilder;
  readonly #snd: Sender;
  readonly #rcv: Receiver;
  readonly #ourMss: number;
  readonly #opts: TcpOptions = emptyOptions();
  readonly #ts = { value: 0, echo: 0 };
  #state: TcpState;
  #closeReason: TcpCloseReason | undefined;
  #closedEmitted = false;
  #peerFinEmitted = false;

  // Negotiated options.
  #wsOk = false;
  #sackOk = false;
  #tsOk = false;
  #tsOffset: number;
  #tsRecent = 0;
  #tsRecentAt = 0;

  // The SYN of an offer (or the SYN-ACK's peer options of an active open).
  #peerMss: number | undefined;
  #peerScale: number | undefined;
  #peerSackOk = false;
  #peerTs: number | undefined;
  #peerWindow = 0;
  #synRetries = 0;
  #synSentAt = 0;

  // Timers other than RTO/persist (Sender) and delayed ACK (Receiver).
  #offerAt = Infinity;
  #timeWaitAt = Infinity;
  #finWait2At = Infinity;
  #keepaliveAt = Infinity;
  #keepalive = false;
  #keepaliveIdle = KEEPALIVE_IDLE_MS;
  #keepaliveInterval = KEEPALIVE_INTERVAL_MS;
  #keepaliveProbes = KEEPALIVE_PROBES;
  #keepaliveSent = 0;
  #lastRxAt = 0;

  #wantWritable = false;
  #readableSignalled = false;
  #bytesIn = 0;
  #bytesOut = 0;

  constructor(host: ConnectionHost, id: number, key: string, family: 4 | 6, local: Uint8Array, localPort: number,
    remote: Uint8Array, remotePort: number, peer: string, passive: boolean) {
    this.#host = host;
    this.id = id;
    this.key = key;
    this.family = family;
    this.localAddress = local;
    this.localPort = localPort;
    this.remoteAddress = remote;
    this.remotePort = remotePort;
    this.peer = peer;
    this.passive = passive;
    this.#state = passive ? 'OFFERED' : 'SYN-SENT';
    const cfg = host.config;
    this.#builder = new SegmentBuilder(family, local, localPort, remote, remotePort, cfg.ttl);
    this.#ourMss = mssForMtu(cfg.mtu, family);
    this.#rcv = new Receiver(cfg.receiveBuffer, this.#ourMss, MAX_OOO_RANGES);
    this.#snd = new Sender(cfg.sendBuffer, new RttEstimator(cfg.initialRtoMs, cfg.minRtoMs, cfg.maxRtoMs), MAX_SCOREBOARD_RANGES);
    this.#tsOffset = host.random32();
  }

  // ---- TcpConnection: read-only views -------------------------------------------------------

  get state(): TcpState { return this.#state; }
  get closeReason(): TcpCloseReason | undefined { return this.#closeReason; }
  get peerFinished(): boolean { return this.#rcv.finReceived && this.#rcv.ring.length === 0; }
  get bytesIn(): number { return this.#bytesIn; }
  get bytesOut(): number { return this.#bytesOut; }
  get receiveBuffered(): number { return this.#rcv.ring.length; }
  get sendBuffered(): number { return this.#snd.ring.length; }
  get bufferMemory(): number { return this.#rcv.ring.allocated + this.#snd.ring.allocated; }
  /** Out-of-order ranges held (tests and fuzz check the cap). */
  get oooRanges(): number { return this.#rcv.assembler.rangeCount; }
  get congestionWindow(): number { return this.#snd.cc?.cwnd ?? 0; }
  get smoothedRtt(): number | undefined { return this.#snd.rtt.srtt; }
  get rto(): number { return this.#snd.rtt.rto; }
  /** Negotiated options, for tests and diagnostics. */
  get negotiated(): { windowScale: boolean; sack: boolean; timestamps: boolean; sendMss: number } {
    return { windowScale: this.#wsOk, sack: this.#sackOk, timestamps: this.#tsOk, sendMss: this.#snd.mss };
  }

  /** The earliest timer deadline (Infinity when none). */
  deadline(): number {
    return Math.min(this.#offerAt, this.#snd.rtoAt, this.#snd.persistAt, this.#rcv.delayedAckAt,
      this.#keepaliveAt, this.#timeWaitAt, this.#finWait2At);
  }

  // ---- TcpConnection: application calls -----------------------------------------------------

  accept(now: number): void {
    if (this.#state !== 'OFFERED') return;
    this.#host.counters.inc(C.ACCEPTED);
    this.#offerAt = Infinity;
    this.#negotiate(this.#peerScale, this.#peerSackOk, this.#peerTs, now);
    this.#snd.sndWnd = this.#peerWindow; // RFC 7323 §2.2: a SYN's window is never scaled
    this.#snd.maxSndWnd = this.#peerWindow;
    this.#snd.init(this.#host.random32());
    this.#setState('SYN-RECEIVED');
    this.#sendSyn(now, true);
    this.#snd.rtoAt = now + this.#snd.rtt.rto;
    this.#host.reschedule(this);
  }

  refuse(now: number): void {
    if (this.#state !== 'OFFERED') return;
    this.#host.counters.inc(C.REFUSED);
    // RFC 9293 §3.10.7.1 for a SYN (no ACK): <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
    this.#sendControl(0, seqAdd(this.#rcv.irs, 1), TCP_RST | TCP_ACK, now);
    this.#terminate(now, 'refused', false);
  }

  read(maxBytes?: number): Uint8Array | null {
    const ring = this.#rcv.ring;
    if (ring.length === 0) return null;
    const out = ring.read(maxBytes === undefined ? ring.length : Math.max(0, Math.floor(maxBytes)));
    if (out.length === 0) return null;
    this.#readableSignalled = false;
    if (this.#state !== 'CLOSED' && this.#state !== 'TIME-WAIT') {
      if (this.#rcv.windowUpdateDue()) this.#rcv.ackNow = true;
    }
    this.#host.markDirty(this); // window update, peer-fin, deferred 'closed'
    return out;
  }

  write(_now: number, data: Uint8Array): number {
    switch (this.#state) {
      case 'SYN-SENT': case 'SYN-RECEIVED': case 'ESTABLISHED': case 'CLOSE-WAIT':
        break;
      default:
        if (this.#snd.finQueued) this.#host.counters.inc(C.WRITE_AFTER_SHUTDOWN);
        return 0;
    }
    if (this.#snd.finQueued) {
      this.#host.counters.inc(C.WRITE_AFTER_SHUTDOWN);
      return 0;
    }
    const n = this.#snd.ring.append(data);
    if (n < data.length) this.#wantWritable = true;
    if (n > 0) this.#host.markDirty(this);
    return n;
  }

  shutdown(now: number): void {
    switch (this.#state) {
      case 'OFFERED':
        this.refuse(now);
        return;
      case 'SYN-SENT':
        this.#terminate(now, 'aborted', false);
        return;
      case 'SYN-RECEIVED':
      case 'ESTABLISHED':
      case 'CLOSE-WAIT': {
        // The FIN follows the last byte written. After SYN-RECEIVED the state moves to
        // FIN-WAIT-1 when the SYN is acknowledged.
        const s = this.#snd;
        s.finQueued = true;
        s.finSeq = s.dataEnd;
        if (this.#state === 'ESTABLISHED') this.#setState('FIN-WAIT-1');
        else if (this.#state === 'CLOSE-WAIT') this.#setState('LAST-ACK');
        break;
      }
      default:
        return;
    }
    this.#host.markDirty(this);
  }

  abort(now: number): void {
    switch (this.#state) {
      case 'CLOSED': case 'TIME-WAIT':
        return;
      case 'OFFERED':
        this.refuse(now);
        return;
      case 'SYN-SENT':
        this.#terminate(now, 'aborted', false);
        return;
      default:
        this.#terminate(now, 'aborted', true);
    }
  }

  setKeepAlive(enabled: boolean, idleMs = KEEPALIVE_IDLE_MS, intervalMs = KEEPALIVE_INTERVAL_MS, probes = KEEPALIVE_PROBES): void {
    this.#keepalive = enabled;
    this.#keepaliveIdle = Math.max(1, idleMs);
    this.#keepaliveInterval = Math.max(1, intervalMs);
    this.#keepaliveProbes = Math.max(1, Math.floor(probes));
    this.#keepaliveSent = 0;
    this.#armKeepalive(this.#lastRxAt);
    this.#host.reschedule(this);
  }

  // ---- Opening ---------------------------------------------------------------------------

  /** A SYN that matched no connection made this offer (state OFFERED). */
  offered(now: number, p: TcpPacket, o: TcpOptions): void {
    this.#rememberSyn(p, o);
    this.#offerAt = now + this.#host.config.offerTimeoutMs;
    this.#lastRxAt = now;
    this.#host.counters.inc(C.OFFERS);
    if (p.payload.length > 0) this.#host.counters.inc(C.DATA_ON_SYN);
    this.#host.event({ kind: 'offer', conn: this });
    this.#host.reschedule(this);
  }

  /** Active open (RFC 9293 §3.10.1): SYN with every option we support. */
  connect(now: number): void {
    this.#snd.init(this.#host.random32());
    this.#snd.cc = createCongestionControl(this.#host.config.congestionControl, this.#snd.mss);
    this.#rcv.scale = windowScaleFor(this.#host.config.receiveBuffer);
    this.#sendSyn(now, false);
    this.#snd.rtoAt = now + this.#snd.rtt.rto;
    this.#lastRxAt = now;
    this.#host.reschedule(this);
  }

  #rememberSyn(p: TcpPacket, o: TcpOptions): void {
    this.#rcv.init(p.seq);
    this.#peerMss = o.mss;
    this.#peerScale = o.windowScale;
    this.#peerSackOk = o.sackPermitted;
    this.#peerTs = o.timestamp?.value;
    this.#peerWindow = p.window;
  }

  /** Fixes the options both SYNs agreed on (RFC 7323 §1.3, RFC 2018 §2). */
  #negotiate(peerScale: number | undefined, peerSack: boolean, peerTs: number | undefined, now: number): void {
    this.#wsOk = peerScale !== undefined;
    this.#snd.scale = peerScale ?? 0;
    this.#rcv.scale = this.#wsOk ? windowScaleFor(this.#host.config.receiveBuffer) : 0;
    this.#sackOk = peerSack;
    this.#tsOk = peerTs !== undefined;
    if (peerTs !== undefined) {
      this.#tsRecent = peerTs;
      this.#tsRecentAt = now;
    }
    const fallback = this.family === 4 ? DEFAULT_SEND_MSS_V4 : DEFAULT_SEND_MSS_V6;
    this.#snd.mss = Math.max(MIN_SEND_MSS, Math.min(this.#peerMss ?? fallback, this.#ourMss));
    this.#snd.cc = createCongestionControl(this.#host.config.congestionControl, this.#snd.mss);
  }

  #sendSyn(now: number, synAck: boolean): void {
    const o = this.#opts;
    o.mss = this.#ourMss;
    o.sack.length = 0;
    if (synAck) {
      o.windowScale = this.#wsOk ? this.#rcv.scale : undefined;
      o.sackPermitted = this.#sackOk;
      o.timestamp = this.#tsOk ? this.#stamp(now) : undefined;
    } else {
      o.windowScale = this.#rcv.scale;
      o.sackPermitted = true;
      this.#ts.value = this.#tsClock(now);
      this.#ts.echo = 0;
      o.timestamp = this.#ts;
    }
    const flags = synAck ? TCP_SYN | TCP_ACK : TCP_SYN;
    const ack = synAck ? this.#rcv.rcvNxt : 0;
    const packet = this.#builder.build(this.#snd.iss, ack, flags, this.#rcv.windowField(true), o, undefined, 0, 0);
    if (synAck) this.#rcv.onAckSent();
    this.#synSentAt = now;
    this.#out(packet);
  }

  // ---- SEGMENT ARRIVES (RFC 9293 §3.10.7) -------------------------------------------------

  segmentArrives(now: number, p: TcpPacket, o: TcpOptions): void {
    switch (this.#state) {
      case 'OFFERED': this.#offeredInput(now, p, o); break;
      case 'SYN-SENT': this.#synSentInput(now, p, o); break;
      case 'CLOSED': break;
      default: this.#synchronizedInput(now, p, o);
    }
    this.#afterInput(now);
  }

  #offeredInput(now: number, p: TcpPacket, o: TcpOptions): void {
    const counters = this.#host.counters;
    const flags = p.flags;
    if (flags & TCP_RST) {
      // The agent gave up before we decided. Only an exact RST (RFC 5961 §3.2) ends the offer.
      if (p.seq === this.#rcv.rcvNxt) {
        counters.inc(C.RESET_RECEIVED);
        this.#terminate(now, 'reset', false);
      } else {
        counters.inc(C.RST_OUT_OF_WINDOW);
      }
      return;
    }
    if ((flags & (TCP_SYN | TCP_ACK)) === TCP_SYN) {
      // A retransmitted SYN: absorbed. A new ISN means the agent started over; keep the newest.
      counters.inc(C.SYN_ABSORBED);
      if (p.seq !== this.#rcv.irs) this.#rememberSyn(p, o);
      this.#lastRxAt = now;
      return;
    }
    counters.inc(C.OFFER_PENDING);
  }

  /** RFC 9293 §3.10.7.3. */
  #synSentInput(now: number, p: TcpPacket, o: TcpOptions): void {
    const counters = this.#host.counters;
    const s = this.#snd;
    const flags = p.flags;
    const ackOk = (flags & TCP_ACK) !== 0 && seqGt(p.ack, s.iss) && seqLeq(p.ack, s.sndMax);
    if ((flags & TCP_ACK) && !ackOk) {
      counters.inc(C.BAD_SYN_ACK);
      if (!(flags & TCP_RST)) this.#sendControl(p.ack, 0, TCP_RST, now);
      return;
    }
    if (flags & TCP_RST) {
      if (ackOk) {
        counters.inc(C.RESET_RECEIVED);
        this.#terminate(now, 'refused', false);
      } else {
        counters.inc(C.RST_OUT_OF_WINDOW);
      }
      return;
    }
    if (!(flags & TCP_SYN)) {
      counters.inc(C.BAD_SYN_ACK);
      return;
    }
    this.#rememberSyn(p, o);
    this.#negotiate(o.windowScale, o.sackPermitted, o.timestamp?.value, now);
    if (!ackOk) {
      // Simultaneous open (RFC 9293 §3.10.7.3 fourth): SYN-RECEIVED, answer with SYN-ACK.
      this.#snd.sndWnd = p.window;
      this.#setState('SYN-RECEIVED');
      this.#sendSyn(now, true);
      return;
    }
    if (p.payload.length > 0) counters.inc(C.DATA_ON_SYN); // not acknowledged: the peer sends it again
    if (this.#synRetries === 0 && !this.#tsOk) s.rtt.sample(now - this.#synSentAt);
    if (this.#tsOk && o.timestamp !== undefined && o.timestamp.echo !== 0) this.#rttFromEcho(now, o.timestamp.echo);
    s.sndUna = p.ack;
    s.synAcked = true;
    s.sndWnd = p.window; // unscaled in a SYN-ACK
    s.maxSndWnd = p.window;
    s.sndWl1 = p.seq;
    s.sndWl2 = p.ack;
    s.rtt.backoffs = 0;
    s.rtoAt = s.sndUna === s.sndMax ? Infinity : now + s.rtt.rto;
    this.#lastRxAt = now;
    this.#setState('ESTABLISHED');
    this.#rcv.ackNow = true;
    this.#host.markDirty(this);
    this.#armKeepalive(now);
    this.#host.event({ kind: 'established', conn: this });
  }

  /** RFC 9293 §3.10.7.4, for SYN-RECEIVED and every synchronized state. */
  #synchronizedInput(now: number, p: TcpPacket, o: TcpOptions): void {
    const counters = this.#host.counters;
    const rcv = this.#rcv;
    const flags = p.flags;
    const seq = p.seq;
    const payload = p.payload;
    const segLen = p.segmentLength;
    const ts = o.timestamp;

    // RFC 7323 §5.3 R1-R2: PAWS.
    if (this.#tsOk && !(flags & TCP_RST)) {
      if (ts === undefined) {
        // RFC 7323 §3.2 says drop; Linux accepts. A missing option is not an attack on us here.
        counters.inc(C.MISSING_TIMESTAMP);
      } else if (seqLt(ts.value, this.#tsRecent) && now - this.#tsRecentAt < PAWS_IDLE_LIMIT_MS) {
        counters.inc(C.PAWS_REJECTED);
        rcv.ackNow = true;
        this.#host.markDirty(this);
        return;
      }
    }

    // First: the sequence number test.
    if (!this.#acceptable(seq, segLen)) {
      if (flags & TCP_RST) {
        counters.inc(C.RST_OUT_OF_WINDOW);
        return;
      }
      if (this.#state === 'SYN-RECEIVED' && (flags & (TCP_SYN | TCP_ACK)) === TCP_SYN && seq === rcv.irs) {
        counters.inc(C.SYN_ABSORBED); // our SYN-ACK was lost: say it again
        this.#sendSyn(now, true);
        return;
      }
      if (this.#state === 'TIME-WAIT' && (flags & TCP_FIN)) this.#timeWaitAt = now + this.#host.config.timeWaitMs;
      counters.inc(C.OUT_OF_WINDOW);
      rcv.ackNow = true;
      this.#host.markDirty(this);
      return;
    }

    // Second: RST (RFC 5961 §3.2: only an exact match resets; in-window gets a challenge ACK).
    if (flags & TCP_RST) {
      if (seq === rcv.rcvNxt) {
        counters.inc(C.RESET_RECEIVED);
        if (this.#state === 'TIME-WAIT') this.#expire();
        else this.#terminate(now, 'reset', false);
      } else {
        this.#challengeAck(now);
      }
      return;
    }

    // Fourth: SYN in a synchronized state (RFC 5961 §4.2): challenge ACK, drop.
    if (flags & TCP_SYN) {
      this.#challengeAck(now);
      return;
    }

    // Fifth: ACK.
    if (!(flags & TCP_ACK)) {
      counters.inc(C.NO_ACK);
      return;
    }
    // RFC 7323 §4.3 (2): TS.Recent follows segments that start at or before Last.ACK.sent.
    if (this.#tsOk && ts !== undefined && seqGeq(ts.value, this.#tsRecent) && seqLeq(seq, rcv.lastAckSent)) {
      this.#tsRecent = ts.value;
      this.#tsRecentAt = now;
    }
    this.#lastRxAt = now;
    this.#keepaliveSent = 0;

    if (this.#state === 'SYN-RECEIVED') {
      const s = this.#snd;
      if (!(seqGt(p.ack, s.sndUna) && seqLeq(p.ack, s.sndMax))) {
        counters.inc(C.BAD_ACK);
        this.#sendControl(p.ack, 0, TCP_RST, now);
        return;
      }
      if (this.#synRetries === 0 && !this.#tsOk) s.rtt.sample(now - this.#synSentAt);
      s.sndWnd = p.window * 2 ** s.scale;
      s.maxSndWnd = Math.max(s.maxSndWnd, s.sndWnd);
      s.sndWl1 = seq;
      s.sndWl2 = p.ack;
      this.#setState(s.finQueued ? 'FIN-WAIT-1' : 'ESTABLISHED');
      this.#armKeepalive(now);
      this.#host.event({ kind: 'established', conn: this });
    }

    if (!this.#processAck(now, p, o)) return;
    if (this.#state === 'CLOSED') return;

    const s = this.#snd;
    switch (this.#state) {
      case 'FIN-WAIT-1':
        if (s.finAcked) {
          this.#setState('FIN-WAIT-2');
          this.#finWait2At = now + this.#host.config.finWait2TimeoutMs;
        }
        break;
      case 'CLOSING':
        if (s.finAcked) this.#enterTimeWait(now);
        break;
      case 'LAST-ACK':
        if (s.finAcked) {
          this.#finish(now);
          return;
        }
        break;
      case 'TIME-WAIT':
        if (flags & TCP_FIN) {
          rcv.ackNow = true;
          this.#timeWaitAt = now + this.#host.config.timeWaitMs;
        }
        return;
      default:
        break;
    }
    if (this.#state === 'FIN-WAIT-2') this.#finWait2At = now + this.#host.config.finWait2TimeoutMs;

    // Seventh: segment text.
    if (payload.length > 0) {
      if (this.#state === 'ESTABLISHED' || this.#state === 'FIN-WAIT-1' || this.#state === 'FIN-WAIT-2') {
        this.#receiveData(now, seq, payload);
      } else {
        counters.inc(C.DATA_AFTER_FIN);
      }
    }

    // Eighth: FIN.
    if ((flags & TCP_FIN) && !rcv.finReceived) {
      const finSeq = seqAdd(seq, payload.length);
      if (seqLeq(finSeq, seqAdd(rcv.rcvNxt, rcv.window))) rcv.finSeq = finSeq;
    }
    if (rcv.reachFin()) this.#peerFin(now);
  }

  /** RFC 9293 §3.10.7.4 acceptability, against the space the receive buffer has. */
  #acceptable(seq: number, segLen: number): boolean {
    const rcvNxt = this.#rcv.rcvNxt;
    const wnd = this.#state === 'TIME-WAIT' || this.#rcv.finReceived ? 1 : this.#rcv.window;
    if (segLen === 0) {
      return wnd === 0 ? seq === rcvNxt : seqLeq(rcvNxt, seq) && seqLt(seq, seqAdd(rcvNxt, Math.max(wnd, 1)));
    }
    // A zero window still lets a segment at RCV.NXT through for its ACK (the data is trimmed):
    // RFC 9293 asks for "special allowance ... to accept valid ACKs".
    const w = Math.max(wnd, 1);
    const last = seqAdd(seq, segLen - 1);
    return (seqLeq(rcvNxt, seq) && seqLt(seq, seqAdd(rcvNxt, w))) || (seqLeq(rcvNxt, last) && seqLt(last, seqAdd(rcvNxt, w)));
  }

  /** The ACK field (RFC 9293 §3.10.7.4 fifth, RFC 5961 §5). False: drop the rest of the segment. */
  #processAck(now: number, p: TcpPacket, o: TcpOptions): boolean {
    const counters = this.#host.counters;
    const s = this.#snd;
    const ack = p.ack;
    if (seqGt(ack, s.sndMax)) {
      counters.inc(C.ACK_TOO_NEW);
      this.#rcv.ackNow = true;
      this.#host.markDirty(this);
      return false;
    }
    if (seqLt(ack, seqAdd(s.sndUna, -Math.max(s.maxSndWnd, 1)))) {
      counters.inc(C.ACK_TOO_OLD);
      this.#rcv.ackNow = true;
      this.#host.markDirty(this);
      return false;
    }
    const seq = p.seq;
    const window = p.window * 2 ** s.scale;
    let windowChanged = false;
    if (seqLt(s.sndWl1, seq) || (s.sndWl1 === seq && seqLeq(s.sndWl2, ack))) {
      windowChanged = window !== s.sndWnd;
      if (window > s.sndWnd) {
        s.persistBackoff = 0;
        if (s.hasUnsent || seqLt(s.sndNxt, s.dataEnd)) this.#host.markDirty(this);
      }
      s.sndWnd = window;
      s.sndWl1 = seq;
      s.sndWl2 = ack;
      if (window > s.maxSndWnd) s.maxSndWnd = window;
    }
    s.retries = s.sndUna === s.sndMax ? 0 : s.retries; // an answered probe
    if (s.sndWnd > 0) s.persistAt = Infinity;

    const newlySacked = this.#sackOk && o.sack.length > 0 ? s.scoreboard.update(o.sack, s.sndUna, s.sndMax) : 0;

    if (seqGt(ack, s.sndUna)) {
      const flightBefore = s.flight;
      const cwndLimited = flightBefore + 2 * s.mss >= s.cc.cwnd;
      let acked = seqDiff(ack, s.sndUna);
      if (!s.synAcked) { s.synAcked = true; acked--; }
      const finNowAcked = s.finQueued && !s.finAcked && seqGt(ack, s.finSeq);
      if (finNowAcked) acked--;
      const dataAcked = Math.min(Math.max(acked, 0), s.ring.length);
      s.ring.discard(dataAcked);
      this.#bytesOut += dataAcked;
      // RTT (RFC 7323 §4.2 with timestamps, else one timed segment).
      if (this.#tsOk && o.timestamp !== undefined && o.timestamp.echo !== 0) this.#rttFromEcho(now, o.timestamp.echo);
      else if (s.timing && seqGeq(ack, s.timedSeq)) {
        s.timing = false;
        s.rtt.sample(now - s.timedAt);
      }
      s.sndUna = ack;
      if (seqLt(s.sndNxt, ack)) s.sndNxt = ack;
      if (seqLt(s.highRxt, ack)) s.highRxt = ack;
      s.scoreboard.advance(ack);
      s.rtt.backoffs = 0;
      s.retries = 0;
      s.dupAcks = 0;
      if (s.recoverAfterRto && seqGt(ack, s.recover)) s.recoverAfterRto = false;
      if (s.inRecovery) {
        if (seqGeq(ack, s.recover)) {
          s.inRecovery = false;
          s.clearRecoveryLog();
          s.cc.onRecoveryEnd(s.mss, s.flight);
        }
        // A partial ACK (RFC 6582 §3.2 step 5): the next hole goes out at once.
        else s.retransmitNow = true;
      } else {
        s.cc.onAck(now, dataAcked + (acked - dataAcked), s.mss, cwndLimited, s.rtt.srtt ?? 0);
      }
      // RFC 6298 §5.2-5.3.
      s.rtoAt = s.sndUna === s.sndMax ? Infinity : now + s.rtt.rto;
      if (this.#wantWritable && s.ring.length <= s.ring.capacity / 2 && !s.finQueued) {
        this.#wantWritable = false;
        this.#host.event({ kind: 'writable', conn: this });
      }
      this.#host.markDirty(this);
    } else if (ack === s.sndUna && s.sndUna !== s.sndMax) {
      // RFC 5681 §2 duplicate ACK (with RFC 6675 §2: SACK information counts too).
      const pure = p.payload.length === 0 && !(p.flags & (TCP_SYN | TCP_FIN)) && !windowChanged;
      if (pure || newlySacked > 0) s.dupAcks++;
      if (!s.inRecovery && !s.recoverAfterRto &&
        (s.dupAcks >= DUP_ACK_THRESHOLD || (this.#sackOk && s.scoreboard.sackedAbove(s.sndUna, DUP_ACK_THRESHOLD * s.mss)))) {
        this.#enterRecovery(now);
      }
      if (s.inRecovery || newlySacked > 0) this.#host.markDirty(this);
    }
    if (s.inRecovery && newlySacked > 0) s.detectLostRetransmits();
    return true;
  }

  #enterRecovery(now: number): void {
    const s = this.#snd;
    this.#host.counters.inc(C.FAST_RECOVERY);
    s.inRecovery = true;
    s.clearRecoveryLog();
    s.recover = s.sndMax;
    s.highRxt = s.sndUna;
    s.retransmitNow = true;
    s.cc.onLoss(now, s.flight, s.mss);
    s.timing = false;
  }

  #rttFromEcho(now: number, echo: number): void {
    const rtt = seqDiff(this.#tsClock(now), echo) * TIMESTAMP_CLOCK_MS;
    if (rtt >= 0 && rtt < this.#host.config.maxRtoMs * 4) this.#snd.rtt.sample(rtt);
  }

  #receiveData(now: number, seq: number, payload: Uint8Array): void {
    const counters = this.#host.counters;
    const rcv = this.#rcv;
    const before = rcv.rcvNxt;
    const outcome = rcv.accept(seq, payload);
    if (rcv.trimmed > 0) counters.inc(C.BEYOND_WINDOW);
    switch (outcome) {
      case 'in-order': {
        const n = seqDiff(rcv.rcvNxt, before);
        this.#bytesIn += n;
        rcv.scheduleAck(now, this.#host.config.delayedAckMs, ACK_EVERY_SEGMENTS);
        if (!this.#readableSignalled) {
          this.#readableSignalled = true;
          this.#host.event({ kind: 'readable', conn: this });
        }
        break;
      }
      case 'out-of-order':
        counters.inc(C.OOO_QUEUED);
        rcv.ackNow = true; // RFC 5681 §4.2: a duplicate ACK at once, with SACK blocks
        break;
      case 'ooo-dropped':
        counters.inc(C.OOO_DROPPED);
        rcv.ackNow = true;
        break;
      case 'duplicate':
        counters.inc(C.DUPLICATE_DATA);
        rcv.ackNow = true;
        break;
      case 'beyond-window':
        rcv.ackNow = true;
        break;
    }
    if (rcv.ackNow || rcv.delayedAckAt !== Infinity) this.#host.markDirty(this);
  }

  /** The FIN was reached in order (RFC 9293 §3.10.7.4 eighth). */
  #peerFin(now: number): void {
    this.#rcv.ackNow = true;
    this.#host.markDirty(this);
    switch (this.#state) {
      case 'SYN-RECEIVED': case 'ESTABLISHED':
        this.#setState('CLOSE-WAIT');
        break;
      case 'FIN-WAIT-1':
        if (this.#snd.finAcked) this.#enterTimeWait(now);
        else this.#setState('CLOSING');
        break;
      case 'FIN-WAIT-2':
        this.#enterTimeWait(now);
        break;
      default:
        break;
    }
  }

  #challengeAck(now: number): void {
    const counters = this.#host.counters;
    if (!this.#host.challengeAllowed(now)) {
      counters.inc(C.CHALLENGE_ACK_LIMITED);
      return;
    }
    counters.inc(C.CHALLENGE_ACK);
    this.#sendAck(now);
  }

  /** Events that depend on the buffers after any change: peer-fin, and a deferred 'closed'. */
  #afterInput(now: number): void {
    this.#signalEnd();
    this.#host.reschedule(this);
    void now;
  }

  #signalEnd(): void {
    if (!this.#peerFinEmitted && this.#rcv.finReceived && this.#rcv.ring.length === 0 && this.#closeReason !== 'reset') {
      this.#peerFinEmitted = true;
      this.#host.event({ kind: 'peer-fin', conn: this });
    }
    if (this.#closeReason === 'fin' && !this.#closedEmitted && this.#peerFinEmitted) {
      this.#closedEmitted = true;
      this.#host.event({ kind: 'closed', conn: this, reason: 'fin' });
    }
  }

  // ---- Output ---------------------------------------------------------------------------

  /** Sends what is due: data, retransmissions, FIN, or a bare ACK. Called by the stack's flush. */
  output(now: number): void {
    switch (this.#state) {
      case 'OFFERED': case 'SYN-SENT': case 'CLOSED':
        break;
      case 'SYN-RECEIVED':
        break;
      case 'TIME-WAIT':
        if (this.#rcv.ackNow) this.#sendAck(now);
        break;
      default: {
        const sent = this.#sendData(now);
        if (sent === 0 && this.#rcv.ackNow) this.#sendAck(now);
        this.#armPersist(now);
      }
    }
    this.#signalEnd();
    this.#host.reschedule(this);
  }

  #sendData(now: number): number {
    const s = this.#snd;
    const rcv = this.#rcv;
    const counters = this.#host.counters;
    let sent = 0;
    let pipe = s.pipe();
    for (let i = 0; i < MAX_SEGMENTS_PER_OUTPUT; i++) {
      const o = this.#prepareOptions(now);
      const maxSeg = Math.max(1, s.mss - tcpOptionsLength(o));
      const cwndRoom = s.cc.cwnd - pipe;
      let hole = false;
      if (s.inRecovery && s.pickHole(maxSeg)) {
        if (!s.retransmitNow && cwndRoom < Math.min(s.pickLen, s.mss) && pipe > 0) break;
        s.retransmitNow = false;
        hole = true;
      } else if (!s.pickNext(maxSeg, cwndRoom)) {
        break;
      }
      let flags = TCP_ACK;
      if (s.pickFin) flags |= TCP_FIN;
      if (s.pickLen > 0 && seqAdd(s.pickSeq, s.pickLen) === s.dataEnd) flags |= TCP_PSH;
      const offset = seqDiff(s.pickSeq, s.dataStart);
      const packet = this.#builder.build(s.pickSeq, rcv.rcvNxt, flags, rcv.windowField(false), o, s.ring, offset, s.pickLen);
      rcv.onAckSent();
      if (s.pickRetransmit) counters.inc(C.RETRANSMITTED_SEGMENTS);
      const len = s.pickLen + (s.pickFin ? 1 : 0);
      if (hole) {
        const end = seqAdd(s.pickSeq, len);
        if (!s.pickRelost && seqGt(end, s.highRxt)) s.highRxt = end;
        s.logRetransmit(s.pickSeq, end);
      }
      s.sent(now, this.#tsOk);
      pipe += len;
      sent++;
      this.#out(packet);
    }
    s.force = false;
    return sent;
  }

  /** Zero window (or a window SWS avoidance will not use) and nothing in flight: probe later. */
  #armPersist(now: number): void {
    const s = this.#snd;
    if (s.persistAt !== Infinity || s.rtoAt !== Infinity) return;
    if (s.sndUna !== s.sndMax || !seqLt(s.sndNxt, s.dataEnd)) return;
    const base = Math.max(this.#host.config.minRtoMs, s.rtt.baseRto);
    s.persistAt = now + Math.min(this.#host.config.maxRtoMs, base * 2 ** s.persistBackoff);
  }

  /** Options of a non-SYN segment: timestamps and SACK blocks when negotiated. */
  #prepareOptions(now: number): TcpOptions {
    const o = this.#opts;
    o.mss = undefined;
    o.windowScale = undefined;
    o.sackPermitted = false;
    o.timestamp = this.#tsOk ? this.#stamp(now) : undefined;
    if (this.#sackOk && this.#rcv.assembler.rangeCount > 0) {
      this.#rcv.assembler.sackBlocks(o.sack, this.#tsOk ? 3 : 4);
    } else {
      o.sack.length = 0;
    }
    return o;
  }

  #stamp(now: number): { value: number; echo: number } {
    this.#ts.value = this.#tsClock(now);
    this.#ts.echo = this.#tsRecent;
    return this.#ts;
  }

  #tsClock(now: number): number {
    return (Math.floor(now / TIMESTAMP_CLOCK_MS) + this.#tsOffset) >>> 0;
  }

  #sendAck(now: number): void {
    const o = this.#prepareOptions(now);
    const rcv = this.#rcv;
    const packet = this.#builder.build(this.#snd.sndNxt, rcv.rcvNxt, TCP_ACK, rcv.windowField(false), o, undefined, 0, 0);
    rcv.onAckSent();
    this.#out(packet);
  }

  /** A segment outside the data stream (RST, keepalive or window probe). */
  #sendControl(seq: number, ack: number, flags: number, now: number): void {
    const o = (flags & TCP_RST) ? this.#noOptions() : this.#prepareOptions(now);
    const window = (flags & TCP_RST) ? 0 : this.#rcv.windowField(false);
    const packet = this.#builder.build(seq, ack, flags, window, o, undefined, 0, 0);
    if (flags & TCP_RST) this.#host.counters.inc(C.RST_SENT);
    if ((flags & TCP_ACK) && !(flags & TCP_RST)) this.#rcv.onAckSent();
    this.#out(packet);
  }

  #noOptions(): TcpOptions {
    const o = this.#opts;
    o.mss = undefined;
    o.windowScale = undefined;
    o.sackPermitted = false;
    o.sack.length = 0;
    o.timestamp = undefined;
    return o;
  }

  #out(packet: Uint8Array): void {
    this.#host.counters.inc(C.SEGMENTS_OUT);
    this.#host.transmit(packet);
  }

  // ---- Timers (RFC 9293 §3.10.8) ---------------------------------------------------------

  onTimer(now: number): void {
    if (this.#state === 'CLOSED') return;
    if (this.#offerAt <= now) {
      this.#offerAt = Infinity;
      if (this.#state === 'OFFERED') {
        this.#host.counters.inc(C.OFFER_EXPIRED);
        this.#sendControl(0, seqAdd(this.#rcv.irs, 1), TCP_RST | TCP_ACK, now);
        this.#terminate(now, 'offer-expired', false);
        return;
      }
    }
    if (this.#timeWaitAt <= now) {
      this.#timeWaitAt = Infinity;
      this.#expire();
      return;
    }
    if (this.#finWait2At <= now) {
      this.#finWait2At = Infinity;
      if (this.#state === 'FIN-WAIT-2') {
        this.#host.counters.inc(C.TIMEOUT);
        this.#terminate(now, 'timeout', true);
        return;
      }
    }
    if (this.#snd.rtoAt <= now) {
      this.#snd.rtoAt = Infinity;
      this.#onRto(now);
      if (this.#isClosed()) return;
    }
    if (this.#snd.persistAt <= now) {
      this.#snd.persistAt = Infinity;
      this.#onPersist(now);
      if (this.#isClosed()) return;
    }
    if (this.#keepaliveAt <= now) {
      this.#keepaliveAt = Infinity;
      this.#onKeepalive(now);
      if (this.#isClosed()) return;
    }
    if (this.#rcv.delayedAckAt <= now) {
      this.#rcv.delayedAckAt = Infinity;
      this.#host.counters.inc(C.DELAYED_ACKS);
      this.#rcv.ackNow = true;
      this.#host.markDirty(this);
    }
    this.#host.reschedule(this);
  }

  #onRto(now: number): void {
    const s = this.#snd;
    const counters = this.#host.counters;
    if (this.#state === 'SYN-SENT' || this.#state === 'SYN-RECEIVED') {
      const limit = this.#state === 'SYN-SENT' ? SYN_RETRIES : SYN_ACK_RETRIES;
      if (++this.#synRetries > limit) {
        counters.inc(C.TIMEOUT);
        this.#terminate(now, 'timeout', false);
        return;
      }
      counters.inc(C.RETRANSMITTED_SEGMENTS);
      s.rtt.backoff();
      this.#sendSyn(now, this.#state === 'SYN-RECEIVED');
      s.rtoAt = now + s.rtt.rto;
      return;
    }
    if (s.sndUna === s.sndMax) return;
    if (++s.retries > DATA_RETRIES) {
      counters.inc(C.TIMEOUT);
      this.#terminate(now, 'timeout', true);
      return;
    }
    counters.inc(C.RTO);
    // RFC 5681 §3.1 eq. (4) on the first timeout only; later ones keep ssthresh (RFC 6298 §5.5).
    if (s.rtt.backoffs === 0) s.cc.onRto(now, s.flight, s.mss);
    else s.cc.cwnd = s.mss;
    s.rtt.backoff();
    // RFC 2018 §8: the receiver may have dropped what it SACKed; after a second timeout in a
    // row stop trusting the scoreboard.
    if (s.rtt.backoffs >= 2) s.scoreboard.clear();
    s.inRecovery = false;
    s.clearRecoveryLog();
    s.retransmitNow = false;
    s.dupAcks = 0;
    s.recover = s.sndMax;
    s.recoverAfterRto = true;
    s.highRxt = s.sndUna;
    s.sndNxt = s.sndUna;
    s.timing = false;
    s.rtoAt = now + s.rtt.rto;
    this.#host.markDirty(this);
  }

  /** RFC 9293 §3.8.6.1 zero-window probing; a probe is Linux's: SEG.SEQ = SND.UNA - 1, no data. */
  #onPersist(now: number): void {
    const s = this.#snd;
    if (s.sndUna !== s.sndMax || !seqLt(s.sndNxt, s.dataEnd)) return;
    if (s.sndWnd === 0) {
      if (++s.retries > DATA_RETRIES) {
        this.#host.counters.inc(C.TIMEOUT);
        this.#terminate(now, 'timeout', true);
        return;
      }
      this.#host.counters.inc(C.ZERO_WINDOW_PROBES);
      this.#sendControl(seqAdd(s.sndUna, -1), this.#rcv.rcvNxt, TCP_ACK, now);
    } else {
      s.force = true; // SWS override timeout: send what the small window takes
      this.#host.markDirty(this);
    }
    s.persistBackoff++;
    const base = Math.max(this.#host.config.minRtoMs, s.rtt.baseRto);
    s.persistAt = now + Math.min(this.#host.config.maxRtoMs, base * 2 ** s.persistBackoff);
  }

  #armKeepalive(from: number): void {
    const synchronized = this.#state === 'ESTABLISHED' || this.#state === 'CLOSE-WAIT' || this.#state === 'FIN-WAIT-2';
    this.#keepaliveAt = this.#keepalive && synchronized ? from + this.#keepaliveIdle : Infinity;
  }

  #onKeepalive(now: number): void {
    if (!this.#keepalive) return;
    const idle = now - this.#lastRxAt;
    if (idle < this.#keepaliveIdle) {
      this.#armKeepalive(this.#lastRxAt);
      return;
    }
    if (this.#keepaliveSent >= this.#keepaliveProbes) {
      this.#host.counters.inc(C.TIMEOUT);
      this.#terminate(now, 'timeout', true);
      return;
    }
    if (this.#snd.sndUna === this.#snd.sndMax) {
      // RFC 1122 §4.2.3.6: SEG.SEQ = SND.NXT - 1, no data; the peer answers with an ACK.
      this.#keepaliveSent++;
      this.#host.counters.inc(C.KEEPALIVE_PROBES);
      this.#sendControl(seqAdd(this.#snd.sndNxt, -1), this.#rcv.rcvNxt, TCP_ACK, now);
    }
    this.#keepaliveAt = now + this.#keepaliveInterval;
  }

  // ---- Closing ---------------------------------------------------------------------------

  #enterTimeWait(now: number): void {
    this.#setState('TIME-WAIT');
    this.#timeWaitAt = now + this.#host.config.timeWaitMs;
    this.#clearTransferTimers();
    this.#snd.ring.release();
    this.#closeReason = 'fin';
    this.#rcv.ackNow = true;
    this.#host.markDirty(this);
  }

  /** LAST-ACK done: closed, both directions finished. */
  #finish(now: number): void {
    this.#closeReason = 'fin';
    this.#clearTransferTimers();
    this.#snd.ring.release();
    this.#setState('CLOSED');
    this.#host.remove(this);
    this.#signalEnd();
    void now;
  }

  /** TIME-WAIT over (or recycled / evicted by the stack). */
  expireTimeWait(): void {
    this.#expire();
  }

  #expire(): void {
    this.#timeWaitAt = Infinity;
    this.#closeReason ??= 'fin';
    this.#setState('CLOSED');
    this.#host.remove(this);
  }

  /** A new SYN may take over this TIME-WAIT 4-tuple (RFC 6191 with timestamps, RFC 1122 without). */
  canRecycle(p: TcpPacket, o: TcpOptions): boolean {
    if (this.#state !== 'TIME-WAIT') return false;
    if (this.#tsOk && o.timestamp !== undefined) return seqGt(o.timestamp.value, this.#tsRecent);
    return seqGt(p.seq, this.#rcv.rcvNxt);
  }

  #terminate(now: number, reason: TcpCloseReason, sendRst: boolean): void {
    if (this.#state === 'CLOSED') return;
    if (sendRst) this.#sendControl(this.#snd.sndNxt, this.#rcv.rcvNxt, TCP_RST | TCP_ACK, now);
    this.#closeReason = reason;
    this.#clearTransferTimers();
    this.#offerAt = Infinity;
    this.#timeWaitAt = Infinity;
    this.#snd.ring.release();
    if (reason !== 'fin') {
      this.#rcv.ring.release();
      this.#rcv.assembler.clear();
    }
    this.#setState('CLOSED');
    this.#host.remove(this);
    if (!this.#closedEmitted) {
      this.#closedEmitted = true;
      this.#host.event({ kind: 'closed', conn: this, reason });
    }
  }

  #clearTransferTimers(): void {
    this.#snd.rtoAt = Infinity;
    this.#snd.persistAt = Infinity;
    this.#keepaliveAt = Infinity;
    this.#finWait2At = Infinity;
    this.#rcv.delayedAckAt = Infinity;
  }

  #isClosed(): boolean {
    return this.#state === 'CLOSED';
  }

  #setState(to: TcpState): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    this.#host.stateChanged(this, from, to);
  }
}
