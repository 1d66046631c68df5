/**
 * A seeded in-memory network for two TcpStacks: per direction a bottleneck (serialisation at a
 * fixed rate, a drop-tail queue), a propagation delay, and random loss, duplication and
 * reordering (extra delay for some packets). Time is simulated: the loop jumps to the next
 * packet arrival or stack deadline, so a run is deterministic for a seed and takes no wall time.
 */
import { createHash } from 'node:crypto';
import { TcpStack, type TcpConnection, type TcpEvent } from '../../../netstack/tcp/tcp-stack.js';
import { Counters } from '../../../netstack/counters.js';
import { AGENT4, AGENT6, VIP4, VIP6, prng, seededBytes, segmentOf } from './helpers.js';
import type { TcpStackOptions } from '../../../netstack/tcp/tcp-stack.js';

export interface LinkOptions {
  loss: number;
  duplicate: number;
  /** Probability that a packet gets extra delay (up to `reorderMs`), so later ones overtake it. */
  reorder: number;
  reorderMs: number;
  delayMs: number;
  /** Bottleneck rate in bytes per ms (12_500 = 100 Mbit/s). */
  bytesPerMs: number;
  /** Packets the bottleneck queue holds before tail drop. */
  queuePackets: number;
}

export const DEFAULT_LINK: LinkOptions = {
  loss: 0, duplicate: 0, reorder: 0, reorderMs: 3, delayMs: 5, bytesPerMs: 12_500, queuePackets: 128,
};

interface InFlight { at: number; order: number; to: 0 | 1; packet: Uint8Array }

class Direction {
  busyUntil = 0;
  departures: number[] = [];
}

export class Sim {
  now = 0;
  readonly stacks: [TcpStack, TcpStack];
  readonly counters: [Counters, Counters];
  readonly link: LinkOptions;
  readonly stats = { sent: 0, lost: 0, queueDrops: 0, duplicated: 0, reordered: 0, delivered: 0 };
  readonly #rand: () => number;
  #queue: InFlight[] = [];
  #order = 0;
  readonly #dirs = [new Direction(), new Direction()];
  readonly emits: [(e: TcpEvent) => void, (e: TcpEvent) => void];
  /** Non-transmit events, per side, for the test to react to. */
  onEvent: (side: 0 | 1, e: TcpEvent) => void = () => undefined;

  constructor(link: Partial<LinkOptions>, seed: number, options: Partial<TcpStackOptions> = {}) {
    this.link = { ...DEFAULT_LINK, ...link };
    this.#rand = prng(seed);
    this.counters = [new Counters(), new Counters()];
    this.stacks = [
      new TcpStack({ counters: this.counters[0], random: seededBytes(seed * 7 + 1), strict: true, ...options }),
      new TcpStack({ counters: this.counters[1], random: seededBytes(seed * 7 + 2), strict: true, ...options }),
    ];
    this.emits = [(e) => this.#handle(0, e), (e) => this.#handle(1, e)];
  }

  #handle(side: 0 | 1, e: TcpEvent): void {
    if (e.kind === 'transmit') this.#send(side === 0 ? 1 : 0, e.packet);
    else this.onEvent(side, e);
  }

  #send(to: 0 | 1, packet: Uint8Array): void {
    const L = this.link;
    this.stats.sent++;
    if (this.#rand() < L.loss) { this.stats.lost++; return; }
    const d = this.#dirs[to]!;
    // Drop-tail: packets still waiting for (or in) serialisation occupy the queue.
    d.departures = d.departures.filter((t) => t > this.now);
    if (d.departures.length >= L.queuePackets) { this.stats.queueDrops++; return; }
    const departure = Math.max(this.now, d.busyUntil) + packet.length / L.bytesPerMs;
    d.busyUntil = departure;
    d.departures.push(departure);
    let at = departure + L.delayMs;
    if (this.#rand() < L.reorder) { at += this.#rand() * L.reorderMs; this.stats.reordered++; }
    this.#push({ at, order: this.#order++, to, packet });
    if (this.#rand() < L.duplicate) {
      this.stats.duplicated++;
      this.#push({ at: at + this.#rand() * L.reorderMs, order: this.#order++, to, packet: packet.slice() });
    }
  }

  #push(p: InFlight): void {
    // Sorted insert from the back: arrivals are mostly in order.
    const q = this.#queue;
    let i = q.length;
    while (i > 0 && (q[i - 1]!.at > p.at || (q[i - 1]!.at === p.at && q[i - 1]!.order > p.order))) i--;
    q.splice(i, 0, p);
  }

  /** Runs until `done()` or `limitMs` of simulated time; returns false when the limit was hit. */
  run(done: () => boolean, limitMs: number): boolean {
    const [a, b] = this.stacks;
    while (!done()) {
      const candidates = [this.#queue[0]?.at, a.nextDeadline(), b.nextDeadline()].filter((x): x is number => x !== undefined);
      if (candidates.length === 0) return done();
      const next = Math.max(this.now, Math.min(...candidates));
      if (next > limitMs) return false;
      this.now = next;
      while (this.#queue.length > 0 && this.#queue[0]!.at <= this.now) {
        const p = this.#queue.shift()!;
        this.stats.delivered++;
        this.stacks[p.to].input(this.now, segmentOf(p.packet), this.emits[p.to]);
      }
      a.poll(this.now, this.emits[0]);
      b.poll(this.now, this.emits[1]);
    }
    return true;
  }

  /** Runs for `ms` of simulated time (stops early only when nothing at all is scheduled). */
  advance(ms: number): void {
    const end = this.now + ms;
    this.run(() => false, end);
    this.now = end;
    this.stacks[0].poll(this.now, this.emits[0]);
    this.stacks[1].poll(this.now, this.emits[1]);
  }
}

/** One direction of a transfer: writes `total` seeded bytes, the other side hashes what it reads. */
export class Transfer {
  readonly total: number;
  readonly #source: Uint8Array;
  written = 0;
  received = 0;
  readonly #sent = createHash('sha256');
  readonly #got = createHash('sha256');
  doneAt: number | undefined;
  peerFin = false;

  constructor(total: number, seed: number) {
    this.total = total;
    this.#source = seededBytes(seed)(total);
    this.#sent.update(this.#source);
  }

  pump(now: number, conn: TcpConnection, shutdownWhenDone: boolean): void {
    while (this.written < this.total) {
      const n = conn.write(now, this.#source.subarray(this.written, Math.min(this.total, this.written + 65536)));
      if (n === 0) break;
      this.written += n;
    }
    if (this.written === this.total && shutdownWhenDone) conn.shutdown(now);
  }

  drain(now: number, conn: TcpConnection): void {
    for (;;) {
      const data = conn.read();
      if (data === null) break;
      this.#got.update(data);
      this.received += data.length;
    }
    if (this.received === this.total && this.doneAt === undefined) this.doneAt = now;
  }

  digests(): { sent: string; received: string } {
    return { sent: this.#sent.copy().digest('hex'), received: this.#got.copy().digest('hex') };
  }
}

export const ADDRESSES = { 4: { client: AGENT4, server: VIP4 }, 6: { client: AGENT6, server: VIP6 } } as const;

export interface BulkResult {
  completed: boolean;
  /** Simulated ms until each direction's last byte was read: client->server, server->client. */
  upMs: number;
  downMs: number;
  up: { sent: string; received: string };
  down: { sent: string; received: string };
  closed: [string | undefined, string | undefined];
  sim: Sim;
}

/**
 * Client connects, server accepts; both write `bytes` at once (both directions), shut down
 * when done, read everything. Completes when both sides saw 'closed'.
 */
export function bulkTransfer(link: Partial<LinkOptions>, seed: number, bytes: number, family: 4 | 6 = 4,
  options: Partial<TcpStackOptions> = {}, limitMs = 600_000): BulkResult {
  const sim = new Sim(link, seed, options);
  const up = new Transfer(bytes, seed * 31 + 1);
  const down = new Transfer(bytes, seed * 31 + 2);
  const closed: [string | undefined, string | undefined] = [undefined, undefined];
  let server: TcpConnection | undefined;
  sim.onEvent = (side, e) => {
    const now = sim.now;
    if (side === 1 && e.kind === 'offer') { server = e.conn; e.conn.accept(now); return; }
    if (e.kind === 'closed') { closed[side] = e.reason; return; }
    if (e.kind === 'transmit') return;
    const conn = e.conn;
    const mine = side === 0 ? up : down;
    const theirs = side === 0 ? down : up;
    switch (e.kind) {
      case 'established': case 'writable': mine.pump(now, conn, true); break;
      case 'readable': theirs.drain(now, conn); break;
      case 'peer-fin': theirs.peerFin = true; break;
      default: break;
    }
  };
  const addr = ADDRESSES[family];
  const client = sim.stacks[0].connect(0, { family, src: addr.client, srcPort: 40001, dst: addr.server, dstPort: 443, peer: 'p' }, sim.emits[0]);
  void client;
  const completed = sim.run(() => closed[0] !== undefined && closed[1] !== undefined, limitMs);
  void server;
  return {
    completed, upMs: up.doneAt ?? Infinity, downMs: down.doneAt ?? Infinity,
    up: up.digests(), down: down.digests(), closed, sim,
  };
}
