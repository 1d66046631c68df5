/**
 * The TCP layer of the appliance (RFC 9293): demultiplexes segments to connections, makes offers
 * for new SYNs to any address and port (promiscuous: the appliance terminates whatever the agent
 * dials), enforces connection caps, answers strays with RST (§3.10.7.1) and drives timers.
 *
 * Sans-IO. How to drive it:
 *  - `input(now, seg, emit)` for each TCP segment from the IP layer;
 *  - `poll(now, emit)` when `nextDeadline()` has passed;
 *  - `flush(now, emit)` after calling connection methods (accept, refuse, write, read, shutdown,
 *    abort, setKeepAlive) outside an event handler. Those methods never emit by themselves: they
 *    change buffers and mark the connection; flush sends what became due (data, SYN-ACK, RST,
 *    window updates) and delivers the events that followed. Calls made inside an event handler
 *    during input/poll/flush are flushed before that call returns.
 * `emit` receives events synchronously, `transmit` packets in the order they must be sent. A
 * transmit packet is a fresh array owned by the receiver. `now` is a monotonic time in ms.
 *
 * Caps (each drop counted): connections in total and per peer (RST for a SYN over the cap, so
 * the agent fails fast), half-open connections (offers + SYN-RECEIVED) in total and per peer
 * (the SYN is dropped silently, as a SYN flood would be), TIME-WAIT entries (the oldest goes).
 */
import type { Counters } from '../counters.js';
import { readU32 } from '../wire/checksum.js';
import { WireError, counterName } from '../wire/errors.js';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, TcpPacket, type TcpOptions, emptyOptions, readTcpOptions } from '../wire/tcp.js';
import type { CongestionControlName } from './congestion.js';
import { Connection, type ConnectionConfig, type ConnectionHost } from './connection.js';
import {
  CHALLENGE_ACKS_PER_SECOND, DEFAULT_FIN_WAIT_2_TIMEOUT_MS, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_PEER,
  DEFAULT_MAX_HALF_OPEN, DEFAULT_MAX_HALF_OPEN_PER_PEER, DEFAULT_MTU, DEFAULT_OFFER_TIMEOUT_MS, DEFAULT_RECEIVE_BUFFER,
  DEFAULT_SEND_BUFFER, DEFAULT_TIME_WAIT_MS, DEFAULT_TTL, DELAYED_ACK_MS, INITIAL_RTO_MS, MAX_RTO_MS, MIN_RTO_MS,
  NO_CONNECTION_RSTS_PER_SECOND,
} from './constants.js';
import { DeadlineHeap } from './deadline-heap.js';
import { RateLimiter } from './rate-limiter.js';
import { SegmentBuilder } from './segment-builder.js';
import { seqAdd } from './seq.js';
import { TCP_COUNTERS as C } from './tcp-counters.js';
import type { TcpConnection, TcpEvent, TcpSegmentIn, TcpState } from './types.js';

export type { TcpCloseReason, TcpConnection, TcpEvent, TcpSegmentIn, TcpState } from './types.js';
export { TCP_COUNTERS } from './tcp-counters.js';

export interface TcpStackOptions {
  counters: Counters;
  /** Tunnel MTU; our MSS is MTU - 40 (IPv4) or - 60 (IPv6). Default 1420. */
  mtu?: number;
  /** Receive buffer per connection (bytes the agent sent and the appliance has not read). Default 256 KiB. */
  receiveBuffer?: number;
  /** Send buffer per connection (bytes written and not yet acknowledged). Default 256 KiB. */
  sendBuffer?: number;
  /** Default 10 s (see constants.ts). */
  timeWaitMs?: number;
  /** How long an offer waits for accept()/refuse() before it is refused by RST. Default 10 s. */
  offerTimeoutMs?: number;
  maxConnectionsPerPeer?: number;
  maxHalfOpenPerPeer?: number;
  maxConnections?: number;
  /** Half-open connections over all peers. Default 1024. */
  maxHalfOpen?: number;
  /** TIME-WAIT entries kept; default maxConnections. */
  maxTimeWait?: number;
  /** Random bytes for ISNs and timestamp offsets; default crypto.getRandomValues. */
  random?: (n: number) => Uint8Array;
  /** Set when the IP layer already verified the TCP checksum (IpStack does). Default false. */
  checksumVerified?: boolean;
  /** Default 'cubic'. */
  congestionControl?: CongestionControlName;
  /** Lower bound of the RTO; default 200 ms. */
  minRtoMs?: number;
  /** Delayed ACK timeout; default 40 ms. */
  delayedAckMs?: number;
  finWait2TimeoutMs?: number;
  /** Rethrow internal errors (bugs) instead of counting `tcp.internal_error`; for tests. */
  strict?: boolean;
}

interface PeerCount {
  open: number;
  halfOpen: number;
}

type Tally = 'half-open' | 'open' | 'time-wait' | 'none';

function tally(state: TcpState, passive: boolean): Tally {
  switch (state) {
    case 'OFFERED': return 'half-open';
    case 'SYN-RECEIVED': return passive ? 'half-open' : 'open';
    case 'TIME-WAIT': return 'time-wait';
    case 'CLOSED': return 'none';
    default: return 'open';
  }
}

/** Connection key: family, remote address and port, local address and port, as 16-bit chars. */
function w(a: Uint8Array, i: number): number {
  return (a[i]! << 8) | a[i + 1]!;
}

function connectionKey(family: 4 | 6, remote: Uint8Array, remotePort: number, local: Uint8Array, localPort: number): string {
  if (family === 4) {
    return String.fromCharCode(4, w(remote, 0), w(remote, 2), remotePort, w(local, 0), w(local, 2), localPort);
  }
  return String.fromCharCode(6,
    w(remote, 0), w(remote, 2), w(remote, 4), w(remote, 6), w(remote, 8), w(remote, 10), w(remote, 12), w(remote, 14), remotePort,
    w(local, 0), w(local, 2), w(local, 4), w(local, 6), w(local, 8), w(local, 10), w(local, 12), w(local, 14), localPort);
}

function defaultRandom(n: number): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}

/** Bound on event/flush rounds in one drain: handlers that keep writing cannot spin forever. */
const MAX_DRAIN_ROUNDS = 64;

export class TcpStack implements ConnectionHost {
  readonly counters: Counters;
  readonly config: ConnectionConfig;
  readonly #maxConnections: number;
  readonly #maxConnectionsPerPeer: number;
  readonly #maxHalfOpen: number;
  readonly #maxHalfOpenPerPeer: number;
  readonly #maxTimeWait: number;
  readonly #random: (n: number) => Uint8Array;
  readonly #checksumVerified: boolean;
  readonly #strict: boolean;

  readonly #connections = new Map<string, Connection>();
  readonly #peers = new Map<string, PeerCount>();
  readonly #timeWait = new Set<Connection>();
  readonly #heap = new DeadlineHeap<Connection>();
  #open = 0;
  #halfOpen = 0;
  #nextId = 1;

  #dirty: Connection[] = [];
  #events: TcpEvent[] = [];
  #pendingTransmits: Uint8Array[] = [];
  #emit: ((e: TcpEvent) => void) | undefined;
  #draining = false;
  #batching = false;

  readonly #options: TcpOptions = emptyOptions();
  readonly #challenges = new RateLimiter(CHALLENGE_ACKS_PER_SECOND);
  readonly #strayRsts = new RateLimiter(NO_CONNECTION_RSTS_PER_SECOND);

  constructor(options: TcpStackOptions) {
    this.counters = options.counters;
    const mtu = options.mtu ?? DEFAULT_MTU;
    if (!Number.isInteger(mtu) || mtu < 576 || mtu > 65535) throw new RangeError(`TcpStack: mtu ${mtu}`);
    this.config = {
      mtu,
      ttl: DEFAULT_TTL,
      receiveBuffer: positive(options.receiveBuffer ?? DEFAULT_RECEIVE_BUFFER, 'receiveBuffer'),
      sendBuffer: positive(options.sendBuffer ?? DEFAULT_SEND_BUFFER, 'sendBuffer'),
      timeWaitMs: options.timeWaitMs ?? DEFAULT_TIME_WAIT_MS,
      offerTimeoutMs: options.offerTimeoutMs ?? DEFAULT_OFFER_TIMEOUT_MS,
      finWait2TimeoutMs: options.finWait2TimeoutMs ?? DEFAULT_FIN_WAIT_2_TIMEOUT_MS,
      initialRtoMs: INITIAL_RTO_MS,
      minRtoMs: options.minRtoMs ?? MIN_RTO_MS,
      maxRtoMs: MAX_RTO_MS,
      delayedAckMs: options.delayedAckMs ?? DELAYED_ACK_MS,
      congestionControl: options.congestionControl ?? 'cubic',
    };
    this.#maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    this.#maxConnectionsPerPeer = options.maxConnectionsPerPeer ?? DEFAULT_MAX_CONNECTIONS_PER_PEER;
    this.#maxHalfOpen = options.maxHalfOpen ?? DEFAULT_MAX_HALF_OPEN;
    this.#maxHalfOpenPerPeer = options.maxHalfOpenPerPeer ?? DEFAULT_MAX_HALF_OPEN_PER_PEER;
    this.#maxTimeWait = options.maxTimeWait ?? this.#maxConnections;
    this.#random = options.random ?? defaultRandom;
    this.#checksumVerified = options.checksumVerified ?? false;
    this.#strict = options.strict ?? false;
  }

  /** Every connection the stack holds, TIME-WAIT and offers included. */
  get connectionCount(): number { return this.#connections.size; }
  /** Connections other than TIME-WAIT (offers included): what the caps count. */
  get openCount(): number { return this.#open; }
  get halfOpenCount(): number { return this.#halfOpen; }
  get timeWaitCount(): number { return this.#timeWait.size; }

  /** All connections, for diagnostics and tests. */
  connections(): IterableIterator<TcpConnection> {
    return this.#connections.values();
  }

  /** Feed one received segment; events are pushed to `emit` (synchronously). Never throws. */
  input(now: number, seg: TcpSegmentIn, emit: (e: TcpEvent) => void): void {
    this.#run(emit, () => this.#input(now, seg), now);
  }

  /**
   * Coalesce output over a batch of input (all the datagrams one socket read delivered): while a
   * batch is open, input() delivers events but leaves what connections must send (ACKs, data
   * the ACKs released) for endBatch(). One ACK then covers many segments, as GRO does in a
   * kernel, and every packet sent costs a seal and a syscall. A batch must be short (one event
   * loop turn): it delays ACKs by that long.
   */
  beginBatch(): void {
    this.#batching = true;
  }

  endBatch(now: number, emit: (e: TcpEvent) => void): void {
    this.#batching = false;
    this.#run(emit, () => undefined, now);
  }

  /** Run due timers. */
  poll(now: number, emit: (e: TcpEvent) => void): void {
    this.#run(emit, () => {
      for (;;) {
        const conn = this.#heap.popDue(now);
        if (conn === undefined) break;
        const due = conn.deadline();
        if (due > now) {
          this.#heap.schedule(conn, due); // an early (stale) entry: re-arm at the real deadline
          continue;
        }
        conn.onTimer(now);
      }
    }, now);
  }

  /** Send what application calls made due, and deliver the events that follow. */
  flush(now: number, emit: (e: TcpEvent) => void): void {
    this.#run(emit, () => undefined, now);
  }

  /** The earliest timer deadline of any connection (may be early: poll then does nothing). */
  nextDeadline(): number | undefined {
    return this.#heap.peek();
  }

  /** Active open. Throws (a programmer error) if the 4-tuple is in use or addresses are wrong. */
  connect(now: number, opts: { family: 4 | 6; src: Uint8Array; srcPort: number; dst: Uint8Array; dstPort: number; peer: string },
    emit: (e: TcpEvent) => void): TcpConnection {
    const len = opts.family === 4 ? 4 : 16;
    if (opts.src.length !== len || opts.dst.length !== len) throw new RangeError('TcpStack.connect: address length does not match family');
    const key = connectionKey(opts.family, opts.dst, opts.dstPort, opts.src, opts.srcPort);
    if (this.#connections.has(key)) throw new Error('TcpStack.connect: 4-tuple in use');
    const conn = new Connection(this, this.#nextId++, key, opts.family, Uint8Array.from(opts.src), opts.srcPort,
      Uint8Array.from(opts.dst), opts.dstPort, opts.peer, false);
    this.#add(conn);
    this.#run(emit, () => conn.connect(now), now);
    return conn;
  }

  // ---- ConnectionHost ---------------------------------------------------------------------

  transmit(packet: Uint8Array): void {
    if (this.#emit !== undefined) this.#emit({ kind: 'transmit', packet });
    else this.#pendingTransmits.push(packet);
  }

  event(e: TcpEvent): void {
    this.#events.push(e);
  }

  markDirty(conn: Connection): void {
    if (conn.dirty) return;
    conn.dirty = true;
    this.#dirty.push(conn);
  }

  reschedule(conn: Connection): void {
    if (conn.state === 'CLOSED') return;
    this.#heap.schedule(conn, conn.deadline());
  }

  stateChanged(conn: Connection, from: TcpState, to: TcpState): void {
    const a = tally(from, conn.passive);
    const b = tally(to, conn.passive);
    if (a === b) return;
    this.#count(conn.peer, a, -1);
    this.#count(conn.peer, b, +1);
    if (b === 'time-wait') {
      this.#timeWait.add(conn);
      if (this.#timeWait.size > this.#maxTimeWait) {
        const oldest = this.#timeWait.values().next().value;
        if (oldest !== undefined && oldest !== conn) {
          this.counters.inc(C.TIME_WAIT_EVICTED);
          oldest.expireTimeWait();
        }
      }
    } else if (a === 'time-wait') {
      this.#timeWait.delete(conn);
    }
  }

  remove(conn: Connection): void {
    if (this.#connections.get(conn.key) === conn) this.#connections.delete(conn.key);
    this.#timeWait.delete(conn);
  }

  challengeAllowed(now: number): boolean {
    return this.#challenges.take(now);
  }

  random32(): number {
    return readU32(this.#random(4), 0);
  }

  // ---- internals --------------------------------------------------------------------------

  #count(peer: string, t: Tally, d: number): void {
    if (t === 'none' || t === 'time-wait') return;
    let pc = this.#peers.get(peer);
    if (pc === undefined) {
      pc = { open: 0, halfOpen: 0 };
      this.#peers.set(peer, pc);
    }
    pc.open += d;
    this.#open += d;
    if (t === 'half-open') {
      pc.halfOpen += d;
      this.#halfOpen += d;
    }
    if (pc.open === 0 && pc.halfOpen === 0) this.#peers.delete(peer);
  }

  #add(conn: Connection): void {
    this.#connections.set(conn.key, conn);
    this.#count(conn.peer, tally(conn.state, conn.passive), +1);
  }

  /** Runs `work` with `emit` as the sink, then delivers events and flushes dirty connections. */
  #run(emit: (e: TcpEvent) => void, work: () => void, now: number): void {
    if (this.#draining) {
      // Re-entered from an event handler: the outer drain will deliver and flush.
      work();
      return;
    }
    this.#emit = emit;
    this.#draining = true;
    try {
      if (this.#pendingTransmits.length > 0) {
        const pending = this.#pendingTransmits;
        this.#pendingTransmits = [];
        for (const packet of pending) emit({ kind: 'transmit', packet });
      }
      try {
        work();
      } catch (error) {
        if (!(error instanceof WireError)) throw error;
        this.counters.inc(counterName(error.code));
      }
      this.#drain(now, emit);
    } catch (error) {
      // A bug, not bad input: count it and keep the process up. Tests assert the counter is 0.
      this.counters.inc(C.INTERNAL_ERROR);
      if (this.#strict) throw error;
    } finally {
      this.#emit = undefined;
      this.#draining = false;
    }
  }

  #drain(now: number, emit: (e: TcpEvent) => void): void {
    for (let round = 0; round < MAX_DRAIN_ROUNDS; round++) {
      if (this.#events.length > 0) {
        const events = this.#events;
        this.#events = [];
        for (const e of events) emit(e);
      }
      if (this.#dirty.length === 0 || this.#batching) {
        if (this.#events.length === 0) return;
        continue;
      }
      const dirty = this.#dirty;
      this.#dirty = [];
      for (const conn of dirty) {
        conn.dirty = false;
        conn.output(now);
      }
    }
  }

  #input(now: number, seg: TcpSegmentIn): void {
    const counters = this.counters;
    counters.inc(C.SEGMENTS_IN);
    const { family, src, dst, segment, peer } = seg;
    const len = family === 4 ? 4 : family === 6 ? 16 : -1;
    if (src.length !== len || dst.length !== len) {
      counters.inc(C.BAD_ADDRESS);
      return;
    }
    let p: TcpPacket;
    try {
      p = TcpPacket.checked(segment);
    } catch (error) {
      if (!(error instanceof WireError)) throw error;
      counters.inc(error.code === 'TCP_BAD_OPTION' ? C.BAD_OPTION : C.BAD_LENGTH);
      return;
    }
    if (!this.#checksumVerified && !p.verifyChecksum(src, dst)) {
      counters.inc(C.BAD_CHECKSUM);
      return;
    }
    let o: TcpOptions;
    try {
      o = readTcpOptions(p, this.#options);
    } catch (error) {
      if (!(error instanceof WireError)) throw error;
      counters.inc(C.BAD_OPTION);
      return;
    }
    const srcPort = p.srcPort;
    const dstPort = p.dstPort;
    if (srcPort === 0 || dstPort === 0) {
      counters.inc(C.BAD_PORT);
      return;
    }
    const flags = p.flags;
    if ((flags & TCP_SYN) && (flags & (TCP_RST | TCP_FIN))) {
      counters.inc(C.BAD_FLAGS);
      return;
    }
    const key = connectionKey(family, src, srcPort, dst, dstPort);
    let conn = this.#connections.get(key);
    if (conn !== undefined) {
      if (conn.peer !== peer) {
        counters.inc(C.PEER_MISMATCH);
        return;
      }
      const freshSyn = (flags & (TCP_SYN | TCP_ACK)) === TCP_SYN;
      if (freshSyn && conn.state === 'TIME-WAIT' && conn.canRecycle(p, o)) {
        counters.inc(C.TIME_WAIT_RECYCLED);
        conn.expireTimeWait();
        conn = undefined;
      } else {
        conn.segmentArrives(now, p, o);
        return;
      }
    }
    if (flags & TCP_RST) {
      counters.inc(C.NO_CONNECTION);
      return;
    }
    if ((flags & (TCP_SYN | TCP_ACK)) === TCP_SYN) {
      this.#offer(now, seg, p, o, key);
      return;
    }
    counters.inc(C.NO_CONNECTION);
    this.#strayReset(now, seg, p);
  }

  #offer(now: number, seg: TcpSegmentIn, p: TcpPacket, o: TcpOptions, key: string): void {
    const pc = this.#peers.get(seg.peer);
    if (this.#open >= this.#maxConnections || (pc?.open ?? 0) >= this.#maxConnectionsPerPeer) {
      this.counters.inc(C.CONNECTION_LIMIT);
      this.#strayReset(now, seg, p);
      return;
    }
    if (this.#halfOpen >= this.#maxHalfOpen || (pc?.halfOpen ?? 0) >= this.#maxHalfOpenPerPeer) {
      this.counters.inc(C.HALF_OPEN_LIMIT);
      return;
    }
    const conn = new Connection(this, this.#nextId++, key, seg.family, Uint8Array.from(seg.dst), p.dstPort,
      Uint8Array.from(seg.src), p.srcPort, seg.peer, true);
    this.#add(conn);
    conn.offered(now, p, o);
  }

  /** RFC 9293 §3.10.7.1: a segment for no connection gets a RST, unless it is one. */
  #strayReset(now: number, seg: TcpSegmentIn, p: TcpPacket): void {
    if (!this.#strayRsts.take(now)) {
      this.counters.inc(C.RST_RATE_LIMITED);
      return;
    }
    const b = new SegmentBuilder(seg.family, seg.dst, p.dstPort, seg.src, p.srcPort, DEFAULT_TTL);
    const o = emptyOptions();
    const packet = (p.flags & TCP_ACK)
      ? b.build(p.ack, 0, TCP_RST, 0, o, undefined, 0, 0)
      : b.build(0, seqAdd(p.seq, p.segmentLength), TCP_RST | TCP_ACK, 0, o, undefined, 0, 0);
    this.counters.inc(C.RST_SENT);
    this.counters.inc(C.SEGMENTS_OUT);
    this.transmit(packet);
  }
}

function positive(v: number, name: string): number {
  if (!Number.isInteger(v) || v <= 0) throw new RangeError(`TcpStack: ${name} ${v}`);
  return v;
}
