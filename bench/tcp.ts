/**
 * Bulk transfer through two TcpStacks in one process, over a lossless in-memory link (packets
 * handed straight from one stack's transmit events to the other's input), against a baseline
 * measured in the same run: copying the same bytes with Buffer.copy in MSS-sized chunks.
 * Both move TOTAL_BYTES; the figure is application payload per second. The ratio says what
 * the TCP machinery (segmenting, IP/TCP headers, two checksums per segment, reassembly, ACKs,
 * timers) costs over bare copying. Alternating short rounds; medians reported.
 * Run: node --import tsx bench/tcp.ts
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { Counters } from '../netstack/counters.js';
import { Ipv4Packet } from '../netstack/wire/ipv4.js';
import { TcpStack, type TcpConnection, type TcpEvent } from '../netstack/tcp/tcp-stack.js';
import { median } from './stats.js';

const TOTAL_BYTES = 32 * 1024 * 1024;
const MSS_PAYLOAD = 1368; // MTU 1420 - 40 - 12 bytes of timestamps
const ROUNDS = 5;

export interface TcpBenchResult {
  tcpBytesPerSecond: number;
  copyBytesPerSecond: number;
  ratio: number;
  segments: number;
}

function copyBaseline(source: Uint8Array): number {
  const src = Buffer.from(source.buffer, source.byteOffset, source.length);
  const dst = Buffer.alloc(source.length);
  const t0 = performance.now();
  for (let at = 0; at < src.length; at += MSS_PAYLOAD) src.copy(dst, at, at, Math.min(src.length, at + MSS_PAYLOAD));
  const ms = performance.now() - t0;
  if (dst[dst.length - 1] !== src[src.length - 1]) throw new Error('copy baseline broke');
  return (source.length / ms) * 1000;
}

function tcpTransfer(source: Uint8Array): { bytesPerSecond: number; segments: number } {
  const a = new TcpStack({ counters: new Counters(), checksumVerified: false });
  const b = new TcpStack({ counters: new Counters(), checksumVerified: false });
  const toA: Uint8Array[] = [];
  const toB: Uint8Array[] = [];
  let server: TcpConnection | undefined;
  let written = 0;
  let received = 0;
  let client: TcpConnection | undefined;
  const pump = (now: number): void => {
    while (client !== undefined && written < source.length) {
      const n = client.write(now, source.subarray(written, Math.min(source.length, written + 65536)));
      if (n === 0) break;
      written += n;
    }
  };
  const emitA = (e: TcpEvent): void => {
    if (e.kind === 'transmit') toB.push(e.packet);
    else if (e.kind === 'established' || e.kind === 'writable') pump(performance.now());
  };
  const emitB = (e: TcpEvent): void => {
    if (e.kind === 'transmit') toA.push(e.packet);
    else if (e.kind === 'offer') { server = e.conn; e.conn.accept(performance.now()); }
    else if (e.kind === 'readable') {
      for (;;) {
        const d = e.conn.read();
        if (d === null) break;
        received += d.length;
      }
    }
  };
  const addrA = Uint8Array.of(100, 64, 0, 2);
  const addrB = Uint8Array.of(100, 127, 0, 1);
  const deliver = (queue: Uint8Array[], stack: TcpStack, emit: (e: TcpEvent) => void, now: number): number => {
    const batch = queue.splice(0, queue.length);
    for (const packet of batch) {
      const ip = Ipv4Packet.checked(packet);
      stack.input(now, { family: 4, src: ip.src, dst: ip.dst, segment: ip.payload, peer: 'bench' }, emit);
    }
    return batch.length;
  };
  let segments = 0;
  const t0 = performance.now();
  client = a.connect(t0, { family: 4, src: addrA, srcPort: 40000, dst: addrB, dstPort: 443, peer: 'bench' }, emitA);
  while (received < source.length) {
    const now = performance.now();
    segments += deliver(toB, b, emitB, now);
    b.flush(now, emitB);
    deliver(toA, a, emitA, now);
    pump(now);
    a.flush(now, emitA);
    if (toA.length === 0 && toB.length === 0) {
      a.poll(now, emitA);
      b.poll(now, emitB);
    }
    if (now - t0 > 60_000) throw new Error(`stalled at ${received} bytes`);
  }
  const ms = performance.now() - t0;
  void server;
  return { bytesPerSecond: (source.length / ms) * 1000, segments };
}

export function main(): TcpBenchResult {
  const source = new Uint8Array(TOTAL_BYTES);
  for (let i = 0; i < source.length; i += 4096) source[i] = i & 0xff;
  tcpTransfer(source.subarray(0, 4 * 1024 * 1024)); // warm-up
  copyBaseline(source);
  const tcp: number[] = [];
  const copy: number[] = [];
  let segments = 0;
  for (let r = 0; r < ROUNDS; r++) {
    copy.push(copyBaseline(source));
    const t = tcpTransfer(source);
    tcp.push(t.bytesPerSecond);
    segments = t.segments;
  }
  const result = {
    tcpBytesPerSecond: median(tcp),
    copyBytesPerSecond: median(copy),
    ratio: median(tcp) / median(copy),
    segments,
  };
  const mb = (x: number): string => (x / 1e6).toFixed(1);
  process.stdout.write(`tcp: ${mb(result.tcpBytesPerSecond)} MB/s through two TcpStacks (${segments} data-direction packets for ${TOTAL_BYTES} bytes)\n`);
  process.stdout.write(`copy: ${mb(result.copyBytesPerSecond)} MB/s Buffer.copy in ${MSS_PAYLOAD}-byte chunks\n`);
  process.stdout.write(`ratio tcp/copy: ${result.ratio.toFixed(4)} (rounds: tcp ${tcp.map(mb).join(' ')}, copy ${copy.map(mb).join(' ')})\n`);
  return result;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main();
