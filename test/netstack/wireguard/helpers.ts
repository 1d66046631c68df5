/** Shared test fixtures: two Devices wired back to back on a manual clock, and IP packet builders. */
import { Counters } from '../../../netstack/counters.js';
import { parseCidr } from '../../../netstack/wire/ip-address.js';
import { Device, type DeviceOutput, type PeerHandle, type UdpEndpoint } from '../../../netstack/wireguard/device.js';
import { generatePrivateKey, publicKeyFromPrivate } from '../../../netstack/wireguard/keys.js';

/** Deterministic bytes (xorshift32), so handshakes and jitter repeat run to run. */
export function seededRandom(seed: number): (n: number) => Uint8Array {
  let state = seed >>> 0 || 1;
  return (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      state ^= state << 13; state >>>= 0;
      state ^= state >>> 17;
      state ^= state << 5; state >>>= 0;
      out[i] = state & 0xff;
    }
    return out;
  };
}

export const A_ENDPOINT: UdpEndpoint = { address: '198.18.0.1', port: 51820 };
export const B_ENDPOINT: UdpEndpoint = { address: '198.18.0.2', port: 51821 };
export const A_TUNNEL = '100.64.0.1';
export const B_TUNNEL = '100.64.0.2';

export interface Side {
  device: Device;
  counters: Counters;
  endpoint: UdpEndpoint;
  privateKey: Uint8Array;
  /** The handle this side holds for the other side. */
  peer: PeerHandle;
  underLoad: boolean;
}

export interface PairOptions {
  presharedKeyA?: Uint8Array;
  presharedKeyB?: Uint8Array;
  persistentKeepaliveA?: number;
  /** B knows A's endpoint too (by default only A knows B's, as a client and a server). */
  bKnowsA?: boolean;
  seed?: number;
}

export function makePair(options: PairOptions = {}): { a: Side; b: Side } {
  const random = seededRandom(options.seed ?? 7);
  const aKey = generatePrivateKey(random);
  const bKey = generatePrivateKey(random);
  const make = (privateKey: Uint8Array, endpoint: UdpEndpoint, seed: number): Omit<Side, 'peer'> => {
    const counters = new Counters();
    const side = { counters, endpoint, privateKey, underLoad: false } as Omit<Side, 'peer'>;
    side.device = new Device({
      privateKey, counters, random: seededRandom(seed), underLoad: () => side.underLoad,
      wallClock: () => 1_700_000_000_000 + wall.offset,
    });
    return side;
  };
  const a = make(aKey, A_ENDPOINT, (options.seed ?? 7) * 31 + 1) as Side;
  const b = make(bKey, B_ENDPOINT, (options.seed ?? 7) * 31 + 2) as Side;
  a.peer = a.device.addPeer({
    publicKey: publicKeyFromPrivate(bKey), allowedIps: [parseCidr(`${B_TUNNEL}/32`), parseCidr('fd00::2/128')],
    endpoint: B_ENDPOINT, presharedKey: options.presharedKeyA, persistentKeepalive: options.persistentKeepaliveA, name: 'b',
  });
  b.peer = b.device.addPeer({
    publicKey: publicKeyFromPrivate(aKey), allowedIps: [parseCidr(`${A_TUNNEL}/32`), parseCidr('fd00::1/128')],
    endpoint: options.bKnowsA ? A_ENDPOINT : undefined, presharedKey: options.presharedKeyB, name: 'a',
  });
  return { a, b };
}

/** Wall clock shared by the fixtures; tests advance it alongside `now` when timestamps matter. */
export const wall = { offset: 0 };

export function ipv4(src: string, dst: string, payloadLength = 8, protocol = 17): Uint8Array {
  const p = new Uint8Array(20 + payloadLength);
  p[0] = 0x45;
  p[2] = p.length >> 8; p[3] = p.length & 0xff;
  p[8] = 64; p[9] = protocol;
  p.set(src.split('.').map(Number), 12);
  p.set(dst.split('.').map(Number), 16);
  for (let i = 20; i < p.length; i++) p[i] = i & 0xff;
  return p;
}

export function ipv6(src: Uint8Array, dst: Uint8Array, payloadLength = 8): Uint8Array {
  const p = new Uint8Array(40 + payloadLength);
  p[0] = 0x60;
  p[4] = payloadLength >> 8; p[5] = payloadLength & 0xff;
  p[6] = 17; p[7] = 64;
  p.set(src, 8);
  p.set(dst, 24);
  return p;
}

export const network = (outputs: DeviceOutput[]) => outputs.filter((o): o is Extract<DeviceOutput, { kind: 'toNetwork' }> => o.kind === 'toNetwork');
export const tunnel = (outputs: DeviceOutput[]) => outputs.filter((o): o is Extract<DeviceOutput, { kind: 'toTunnel' }> => o.kind === 'toTunnel');

/** Delivers every toNetwork output to whichever side owns its destination, until quiet; returns tunnel deliveries. */
export function pump(now: number, a: Side, b: Side, outputs: DeviceOutput[], from: Side): { toA: Uint8Array[]; toB: Uint8Array[]; datagrams: number } {
  const toA: Uint8Array[] = [];
  const toB: Uint8Array[] = [];
  let datagrams = 0;
  let queue: { from: Side; outputs: DeviceOutput[] }[] = [{ from, outputs }];
  for (let rounds = 0; queue.length > 0 && rounds < 100; rounds++) {
    const next: typeof queue = [];
    for (const { from: sender, outputs: outs } of queue) {
      for (const o of outs) {
        if (o.kind === 'toTunnel') {
          (sender === a ? toA : toB).push(Uint8Array.from(o.packet));
          continue;
        }
        datagrams++;
        const target = o.to.address === a.endpoint.address && o.to.port === a.endpoint.port ? a : b;
        next.push({ from: target, outputs: target.device.receive(now, sender.endpoint, Uint8Array.from(o.bytes)) });
      }
    }
    queue = next;
  }
  return { toA, toB, datagrams };
}

export const messageType = (bytes: Uint8Array): number => bytes[0]!;

/** Runs both devices' timers in deadline order up to `until`, delivering everything; returns the times polled. */
export function runTimers(a: Side, b: Side, until: number, onOutputs?: (now: number, from: Side, outputs: DeviceOutput[]) => void): number {
  let now = 0;
  for (let steps = 0; steps < 10_000; steps++) {
    const da = a.device.nextDeadline() ?? Infinity;
    const db = b.device.nextDeadline() ?? Infinity;
    const next = Math.min(da, db);
    if (next > until) break;
    now = next;
    const side = da <= db ? a : b;
    const outputs = side.device.poll(now);
    onOutputs?.(now, side, outputs);
    pump(now, a, b, outputs, side);
  }
  return now;
}

/** Handshake and first packet A -> B at `now`; returns the packet B received. */
export function establish(a: Side, b: Side, now = 0): Uint8Array {
  const { toB } = pump(now, a, b, a.device.send(now, ipv4(A_TUNNEL, B_TUNNEL)), a);
  if (toB.length !== 1) throw new Error(`handshake failed: ${JSON.stringify({ a: a.counters.snapshot(), b: b.counters.snapshot() })}`);
  return toB[0]!;
}
