/**
 * Data-plane cost of the WireGuard Device against the cipher alone, measured in the same run:
 *  - device: A.send(IP packet) then B.receive(datagram) -> toTunnel, per packet;
 *  - raw:    the cipher the device uses (our WebAssembly ChaCha20-Poly1305) seal + open of the
 *            same size, 4 zero bytes + 64-bit LE counter nonce;
 *  - node:   node:crypto seal + open (createCipheriv and createDecipheriv per packet, KeyObject
 *            key), the cipher the device used before: what it would cost instead.
 * At 1420 bytes (bulk) and 160 bytes (a typical Postgres query). Short rounds alternate between
 * them so machine noise hits all alike; each ratio is the median of the per-round ratios (each
 * compares neighbours in time). Target: device/raw >= 0.8 at 1420 bytes.
 * Run: node --import tsx bench/wireguard.ts
 */
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { Counters } from '../netstack/counters.js';
import { parseCidr } from '../netstack/wire/ip-address.js';
import { open, seal } from '../netstack/wireguard/chacha20-poly1305.js';
import { Device, type DeviceOutput, type UdpEndpoint } from '../netstack/wireguard/device.js';
import { generatePrivateKey, publicKeyFromPrivate } from '../netstack/wireguard/keys.js';
import { median } from './stats.js';

const PACKET_SIZES = [1420, 160];
const ROUNDS = 16;
const ROUND_MS = 150;

export interface WireguardBenchResult {
  size: number;
  devicePacketsPerSecond: number;
  rawPacketsPerSecond: number;
  ratio: number;
}

function ipv4Packet(size: number): Uint8Array {
  const p = new Uint8Array(size);
  p[0] = 0x45;
  p[2] = size >> 8; p[3] = size & 0xff;
  p[8] = 64; p[9] = 17;
  p.set([100, 64, 0, 1], 12);
  p.set([100, 64, 0, 2], 16);
  return p;
}

function connectedPair(size: number): { send: () => void } {
  const aKey = generatePrivateKey();
  const bKey = generatePrivateKey();
  const aEnd: UdpEndpoint = { address: '198.18.0.1', port: 1 };
  const bEnd: UdpEndpoint = { address: '198.18.0.2', port: 2 };
  const a = new Device({ privateKey: aKey, counters: new Counters() });
  const b = new Device({ privateKey: bKey, counters: new Counters() });
  a.addPeer({ publicKey: publicKeyFromPrivate(bKey), allowedIps: [parseCidr('100.64.0.2/32')], endpoint: bEnd });
  b.addPeer({ publicKey: publicKeyFromPrivate(aKey), allowedIps: [parseCidr('100.64.0.1/32')] });
  const t0 = performance.now();
  const deliver = (outs: DeviceOutput[], to: Device, from: UdpEndpoint): DeviceOutput[] =>
    outs.flatMap((o) => (o.kind === 'toNetwork' ? to.receive(performance.now() - t0, from, o.bytes) : []));
  // Handshake (initiation, response, keepalive confirming the session to b).
  const response = deliver(a.send(0, ipv4Packet(64)), b, aEnd);
  deliver(deliver(response, a, bEnd), b, aEnd);
  const packet = ipv4Packet(size);
  return {
    send: () => {
      const now = performance.now() - t0;
      const outs = a.send(now, packet);
      const o = outs[0];
      if (o === undefined || o.kind !== 'toNetwork') throw new Error('no datagram');
      const got = b.receive(now, aEnd, o.bytes);
      if (got.length !== 1 || got[0]!.kind !== 'toTunnel') throw new Error('not delivered');
    },
  };
}

/** Our cipher alone; the content is padded to 16 like a transport message's. */
function wasmSealOpen(size: number): () => void {
  const key = randomBytes(32);
  const nonce = Buffer.alloc(12);
  const content = randomBytes((size + 15) & ~15);
  const tag = new Uint8Array(16);
  let counter = 0;
  return () => {
    nonce.writeUInt32LE(counter >>> 0, 4);
    nonce.writeUInt32LE(Math.floor(counter / 0x1_0000_0000), 8);
    counter++;
    seal(key, nonce, content, tag);
    if (!open(key, nonce, content, tag)) throw new Error('did not open');
  };
}

function nodeSealOpen(size: number): () => void {
  const key = createSecretKey(randomBytes(32));
  const nonce = Buffer.alloc(12);
  const plaintext = randomBytes((size + 15) & ~15);
  const options = { authTagLength: 16 } as const;
  let counter = 0;
  return () => {
    nonce.writeUInt32LE(counter >>> 0, 4);
    nonce.writeUInt32LE(Math.floor(counter / 0x1_0000_0000), 8);
    counter++;
    const cipher = createCipheriv('chacha20-poly1305', key, nonce, options);
    const sealed = cipher.update(plaintext);
    cipher.final();
    const tag = cipher.getAuthTag();
    const decipher = createDecipheriv('chacha20-poly1305', key, nonce, options);
    decipher.setAuthTag(tag);
    decipher.update(sealed);
    decipher.final();
  };
}

/**
 * Packets per CPU-second of this process. CPU time rather than wall time, because on a shared
 * machine wall time also counts the moments another process had the core.
 */
function rate(step: () => void, ms: number): number {
  let n = 0;
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  while (performance.now() - start < ms) {
    for (let i = 0; i < 256; i++) step();
    n += 256;
  }
  const cpu = process.cpuUsage(cpuStart);
  return (n * 1e6) / (cpu.user + cpu.system);
}

function measure(size: number): WireguardBenchResult {
  const device = connectedPair(size);
  const raw = wasmSealOpen(size);
  const node = nodeSealOpen(size);
  rate(device.send, 200); // warm up every path before measuring
  rate(raw, 200);
  rate(node, 200);
  let deviceTotal = 0;
  let rawTotal = 0;
  const ratios: number[] = [];
  const nodeRatios: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which goes first so neither always runs on a warmer or colder machine.
    const [d, r, n] = round % 2 === 0
      ? [rate(device.send, ROUND_MS), rate(raw, ROUND_MS), rate(node, ROUND_MS)]
      : [rate(node, ROUND_MS), rate(raw, ROUND_MS), rate(device.send, ROUND_MS)].reverse() as [number, number, number];
    deviceTotal += d;
    rawTotal += r;
    ratios.push(d / r);
    nodeRatios.push(d / n);
  }
  const result = { size, devicePacketsPerSecond: deviceTotal / ROUNDS, rawPacketsPerSecond: rawTotal / ROUNDS, ratio: median(ratios) };
  const sorted = [...ratios].sort((x, y) => x - y);
  console.log(`${size} B: device encapsulate+decapsulate ${Math.round(result.devicePacketsPerSecond)} pkt/s; its cipher alone (seal+open) ${Math.round(result.rawPacketsPerSecond)} pkt/s`);
  console.log(`${size} B: ratio device/cipher ${result.ratio.toFixed(3)} (median of ${ROUNDS} interleaved rounds; range ${sorted[0]!.toFixed(3)}-${sorted.at(-1)!.toFixed(3)}${size === 1420 ? '; target >= 0.8' : ''}); `
    + `device/node:crypto-cipher-alone ${median(nodeRatios).toFixed(3)}`);
  return result;
}

export function main(): WireguardBenchResult[] {
  return PACKET_SIZES.map(measure);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main();
