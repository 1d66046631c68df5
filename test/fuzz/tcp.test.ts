/**
 * Fuzz for the TCP codec and TcpStack: random and mutated segments (seeded from captured Linux
 * segments) give the codec only WireError; fed to a stack, together with random application
 * calls and clock jumps, they never throw (strict mode rethrows internal errors) and never
 * grow memory past the caps: connections, buffered bytes, allocated buffers, out-of-order ranges.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Counters } from '../../netstack/counters.js';
import { WireError } from '../../netstack/wire/errors.js';
import { TcpPacket, emitTcp, emptyOptions, parseTcp, readTcpOptions, tcpReprLength, type TcpRepr } from '../../netstack/wire/tcp.js';
import { TcpStack, type TcpConnection, type TcpEvent } from '../../netstack/tcp/tcp-stack.js';
import { allTcpCaptures } from '../fixtures/captures/tcp-captures.js';
import { AGENT4, AGENT6, VIP4, VIP6, seededBytes, segmentOf } from '../netstack/tcp/helpers.js';

const RUNS = 2000;

function onlyWireErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (error) {
    if (!(error instanceof WireError)) throw error;
  }
}

/** Segments (IP payloads) of every captured packet, with the addresses of their pseudo-header. */
const captured = allTcpCaptures().map((p) => segmentOf(p));

const mutatedSegment = fc
  .record({
    seed: fc.integer({ min: 0, max: captured.length - 1 }),
    edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
    cut: fc.option(fc.nat(), { nil: undefined }),
  })
  .map(({ seed, edits, cut }) => {
    const s = captured[seed]!;
    const bytes = s.segment.slice();
    for (const [at, value] of edits) bytes[at % bytes.length] = value;
    return { ...s, segment: cut === undefined ? bytes : bytes.subarray(0, cut % (bytes.length + 1)) };
  });

describe('fuzz: TCP codec', () => {
  it('random bytes give only WireError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
      onlyWireErrors(() => {
        const p = TcpPacket.checked(bytes);
        assert.ok([p.srcPort, p.dstPort, p.seq, p.ack, p.flags, p.window, p.segmentLength].every(Number.isInteger));
        readTcpOptions(p);
      });
      onlyWireErrors(() => parseTcp(bytes, AGENT4, VIP4));
      onlyWireErrors(() => parseTcp(bytes, AGENT6, VIP6, false));
    }), { numRuns: RUNS });
  });

  it('mutated captured segments give only WireError, and what parses round-trips through emit', () => {
    fc.assert(fc.property(mutatedSegment, (s) => {
      onlyWireErrors(() => {
        const r = parseTcp(s.segment, s.src, s.dst, false);
        const buf = new Uint8Array(tcpReprLength(r));
        emitTcp(r, s.src, s.dst, buf);
        const back = parseTcp(buf, s.src, s.dst);
        assert.deepEqual({ ...back, payload: [...back.payload] }, { ...r, payload: [...r.payload] });
      });
    }), { numRuns: RUNS });
  });
});

// ---- the stack ------------------------------------------------------------------------------

const CAPS = { receiveBuffer: 16384, sendBuffer: 16384, maxConnections: 6, maxConnectionsPerPeer: 4, maxHalfOpen: 4, maxHalfOpenPerPeer: 3, maxTimeWait: 4 };

type Action =
  | { kind: 'segment'; port: number; peer: number; flags: number; seqOff: number; ackOff: number; window: number; payload: number; ts: boolean; sack: boolean; v6: boolean }
  | { kind: 'mutated'; index: number }
  | { kind: 'time'; ms: number }
  | { kind: 'app'; op: 'accept' | 'refuse' | 'write' | 'read' | 'shutdown' | 'abort' | 'keepalive'; which: number; n: number };

const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 6, arbitrary: fc.record({
    kind: fc.constant('segment' as const), port: fc.integer({ min: 1, max: 4 }), peer: fc.integer({ min: 0, max: 1 }),
    flags: fc.oneof(fc.constantFrom(0x02, 0x10, 0x18, 0x11, 0x04, 0x14, 0x12, 0x01), fc.integer({ min: 0, max: 255 })),
    seqOff: fc.oneof(fc.integer({ min: -3000, max: 40000 }), fc.integer()), ackOff: fc.oneof(fc.integer({ min: -3000, max: 3000 }), fc.integer()),
    window: fc.integer({ min: 0, max: 65535 }), payload: fc.integer({ min: 0, max: 1500 }), ts: fc.boolean(), sack: fc.boolean(), v6: fc.boolean(),
  }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('mutated' as const), index: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('time' as const), ms: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 120_000 })) }) },
  { weight: 3, arbitrary: fc.record({
    kind: fc.constant('app' as const), op: fc.constantFrom('accept', 'refuse', 'write', 'read', 'shutdown', 'abort', 'keepalive'),
    which: fc.nat(), n: fc.integer({ min: 0, max: 40000 }),
  }) },
);

function checkBounds(stack: TcpStack, live: TcpConnection[]): void {
  assert.ok(stack.connectionCount <= CAPS.maxConnections + CAPS.maxTimeWait, `connections ${stack.connectionCount}`);
  assert.ok(stack.openCount <= CAPS.maxConnections);
  assert.ok(stack.halfOpenCount <= CAPS.maxHalfOpen);
  for (const c of live) {
    assert.ok(c.receiveBuffered <= CAPS.receiveBuffer);
    assert.ok(c.sendBuffered <= CAPS.sendBuffer);
    assert.ok(c.bufferMemory <= CAPS.receiveBuffer + CAPS.sendBuffer);
    assert.ok((c as unknown as { oooRanges: number }).oooRanges <= 32);
  }
}

describe('fuzz: TcpStack', () => {
  it('random segments, app calls and clock jumps never throw and stay within the caps', () => {
    fc.assert(fc.property(fc.array(action, { minLength: 1, maxLength: 80 }), fc.integer(), (actions, seed) => {
      const counters = new Counters();
      const stack = new TcpStack({ counters, random: seededBytes(seed), strict: true, ...CAPS });
      const known: TcpConnection[] = [];
      /** Per agent port: the stack's next sequence number as last seen, the agent's ISN. */
      const theirs = new Map<number, number>();
      let now = 0;
      const emit = (e: TcpEvent): void => {
        if (e.kind === 'transmit') {
          const s = segmentOf(e.packet);
          const p = TcpPacket.checked(s.segment);
          assert.ok(p.verifyChecksum(s.src, s.dst));
          assert.ok(e.packet.length <= 1420);
          theirs.set(p.dstPort, (p.seq + p.segmentLength) >>> 0);
        } else if (!known.includes(e.conn)) {
          known.push(e.conn);
        }
      };
      for (const a of actions) {
        switch (a.kind) {
          case 'segment': {
            const v6 = a.v6;
            const repr: TcpRepr = {
              ...emptyOptions(), srcPort: 40000 + a.port, dstPort: 443, seq: (1000 + a.seqOff) >>> 0,
              ack: ((theirs.get(40000 + a.port) ?? 0) + a.ackOff) >>> 0, flags: a.flags, window: a.window, urgentPointer: 0,
              payload: new Uint8Array(a.payload),
              mss: a.flags & 0x02 ? 1460 : undefined, windowScale: a.flags & 0x02 ? 7 : undefined, sackPermitted: (a.flags & 0x02) !== 0,
              timestamp: a.ts ? { value: now, echo: 0 } : undefined,
              sack: a.sack && !(a.flags & 0x02) ? [(1000 + a.seqOff + 100) >>> 0, (1000 + a.seqOff + 900) >>> 0] : [],
            };
            const buf = new Uint8Array(tcpReprLength(repr));
            const src = v6 ? AGENT6 : AGENT4;
            const dst = v6 ? VIP6 : VIP4;
            emitTcp(repr, src, dst, buf);
            stack.input(now, { family: v6 ? 6 : 4, src, dst, segment: buf, peer: `peer${a.peer}` }, emit);
            break;
          }
          case 'mutated': {
            const s = captured[a.index % captured.length]!;
            const bytes = s.segment.slice();
            const at = (a.index * 7) % bytes.length;
            bytes[at] = bytes[at]! ^ 0xff;
            stack.input(now, { ...s, segment: bytes, peer: 'peer0' }, emit);
            stack.input(now, { ...s, peer: 'peer1' }, emit);
            break;
          }
          case 'time':
            now += a.ms;
            stack.poll(now, emit);
            break;
          case 'app': {
            const c = known[a.which % Math.max(1, known.length)];
            if (c === undefined) break;
            switch (a.op) {
              case 'accept': c.accept(now); break;
              case 'refuse': c.refuse(now); break;
              case 'write': c.write(now, new Uint8Array(a.n)); break;
              case 'read': c.read(a.n); break;
              case 'shutdown': c.shutdown(now); break;
              case 'abort': c.abort(now); break;
              case 'keepalive': c.setKeepAlive(true, 1 + a.n, 1000, 2); break;
            }
            stack.flush(now, emit);
            break;
          }
        }
        checkBounds(stack, known);
        const next = stack.nextDeadline();
        if (next !== undefined) assert.ok(Number.isFinite(next));
      }
      // Time heals: everything eventually closes or idles (keepalive off, offers expire, TIME-WAIT ends).
      for (let i = 0; i < 200 && stack.nextDeadline() !== undefined; i++) {
        now = Math.max(now, stack.nextDeadline()!);
        stack.poll(now, emit);
      }
      assert.equal(stack.halfOpenCount, 0);
      assert.equal(stack.timeWaitCount, 0);
      assert.equal(counters.get('tcp.internal_error'), 0);
    }), { numRuns: 400 });
  });
});
