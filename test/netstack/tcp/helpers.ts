/**
 * Test helpers for the TCP layer: a seeded PRNG, an event collector, a hand-driven "agent"
 * that builds segments with the wire codec, and IP packet -> TcpSegmentIn conversion.
 */
import { Counters } from '../../../netstack/counters.js';
import { parseAddress } from '../../../netstack/wire/ip-address.js';
import { Ipv4Packet } from '../../../netstack/wire/ipv4.js';
import { Ipv6Packet } from '../../../netstack/wire/ipv6.js';
import { TCP_ACK, type TcpRepr, emitTcp, emptyOptions, parseTcp, tcpReprLength } from '../../../netstack/wire/tcp.js';
import { TcpStack, type TcpConnection, type TcpEvent, type TcpSegmentIn, type TcpStackOptions } from '../../../netstack/tcp/tcp-stack.js';

export const AGENT4 = parseAddress('100.64.0.2');
export const VIP4 = parseAddress('100.127.0.10');
export const AGENT6 = parseAddress('fd00:64::2');
export const VIP6 = parseAddress('fd00:7f::10');

/** mulberry32: small, fast, good enough for test randomness; deterministic per seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function seededBytes(seed: number): (n: number) => Uint8Array {
  const r = prng(seed);
  return (n) => Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
}

export function newStack(extra: Partial<TcpStackOptions> = {}, seed = 1): { stack: TcpStack; counters: Counters } {
  const counters = new Counters();
  const stack = new TcpStack({ counters, random: seededBytes(seed), strict: true, ...extra });
  return { stack, counters };
}

/** Collects events; `take()` returns and clears them. */
export class Events {
  list: TcpEvent[] = [];
  readonly emit = (e: TcpEvent): void => { this.list.push(e); };
  take(): TcpEvent[] {
    const l = this.list;
    this.list = [];
    return l;
  }
  kinds(): string[] {
    return this.list.map((e) => e.kind);
  }
}

export interface Sent {
  family: 4 | 6;
  src: Uint8Array;
  dst: Uint8Array;
  tcp: TcpRepr;
  packet: Uint8Array;
}

/** IP packet -> the input the TCP stack takes (what the IP layer would deliver). */
export function segmentOf(packet: Uint8Array, peer = 'p'): TcpSegmentIn {
  if (packet[0]! >> 4 === 4) {
    const ip = Ipv4Packet.checked(packet);
    return { family: 4, src: ip.src, dst: ip.dst, segment: ip.payload, peer };
  }
  const ip = Ipv6Packet.checked(packet);
  return { family: 6, src: ip.src, dst: ip.dst, segment: ip.payload, peer };
}

/** Parses a transmitted packet (checksums verified). */
export function parseSent(packet: Uint8Array): Sent {
  const s = segmentOf(packet);
  const tcp = parseTcp(s.segment, s.src, s.dst);
  return { family: s.family, src: s.src, dst: s.dst, tcp: { ...tcp, sack: [...tcp.sack] }, packet };
}

export function transmits(events: TcpEvent[]): Sent[] {
  return events.filter((e) => e.kind === 'transmit').map((e) => parseSent((e as { packet: Uint8Array }).packet));
}

export function conns(events: TcpEvent[], kind: TcpEvent['kind']): TcpConnection[] {
  return events.filter((e) => e.kind === kind).map((e) => (e as { conn: TcpConnection }).conn);
}

/** A scripted peer ("the agent") that builds segments by hand. */
export class Agent {
  readonly family: 4 | 6;
  readonly addr: Uint8Array;
  readonly vip: Uint8Array;
  port: number;
  vipPort: number;
  peer: string;

  constructor(family: 4 | 6 = 4, port = 40000, vipPort = 5432, peer = 'p') {
    this.family = family;
    this.addr = family === 4 ? AGENT4 : AGENT6;
    this.vip = family === 4 ? VIP4 : VIP6;
    this.port = port;
    this.vipPort = vipPort;
    this.peer = peer;
  }

  seg(fields: Partial<TcpRepr> & { seq: number }): TcpSegmentIn {
    const repr: TcpRepr = {
      srcPort: this.port, dstPort: this.vipPort, ack: 0, flags: TCP_ACK, window: 65535, urgentPointer: 0,
      payload: new Uint8Array(0), ...emptyOptions(), ...fields,
    };
    const buf = new Uint8Array(tcpReprLength(repr));
    emitTcp(repr, this.addr, this.vip, buf);
    return { family: this.family, src: this.addr, dst: this.vip, segment: buf, peer: this.peer };
  }
}

/** The agent's SYN as Linux sends it: MSS 1460, SACK-permitted, timestamps, window scale 7. */
export const LINUX_SYN = { mss: 1460, windowScale: 7, sackPermitted: true } as const;

export interface Opened {
  conn: TcpConnection;
  /** The agent's next sequence number. */
  seq: number;
  /** What the agent has acknowledged of ours (server ISN + 1). */
  ack: number;
  /** The agent's timestamp clock (TSval it sends next). */
  tsval: number;
  /** The stack's last TSval (what the agent echoes). */
  tsecr: number;
  synAck: Sent;
}

/** SYN -> offer -> accept -> SYN-ACK -> ACK, on a manual clock at `now`. */
export function open(stack: TcpStack, agent: Agent, ev: Events, now = 0, syn: Partial<TcpRepr> = {}): Opened {
  const isn = 1_000_000;
  const tsval = 5000;
  stack.input(now, agent.seg({ seq: isn, flags: 0x02, window: 64240, ...LINUX_SYN, timestamp: { value: tsval, echo: 0 }, ...syn }), ev.emit);
  const offer = conns(ev.take(), 'offer')[0];
  if (offer === undefined) throw new Error('no offer');
  offer.accept(now);
  stack.flush(now, ev.emit);
  const synAck = transmits(ev.take())[0];
  if (synAck === undefined) throw new Error('no SYN-ACK');
  const seq = isn + 1;
  const ack = (synAck.tcp.seq + 1) >>> 0;
  const ts = synAck.tcp.timestamp;
  const withTs = syn.timestamp !== undefined || !('timestamp' in syn);
  stack.input(now, agent.seg({ seq, ack, window: 502, ...(withTs && ts ? { timestamp: { value: tsval + 1, echo: ts.value } } : {}) }), ev.emit);
  return { conn: offer, seq, ack, tsval: tsval + 1, tsecr: ts?.value ?? 0, synAck };
}
