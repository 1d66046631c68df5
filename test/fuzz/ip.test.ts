/**
 * Fuzz for the IP codecs and IpStack: random and mutated packets (seeded from real captures)
 * give parsers only WireError, and the stack never throws; garbage comes out as a counted drop.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Counters } from '../../netstack/counters.js';
import { buildIcmpUnreachable } from '../../netstack/ip/icmp-unreachable.js';
import { IpStack, type IpOutput } from '../../netstack/ip/stack.js';
import { checkTcp, checkUdp } from '../../netstack/ip/transport.js';
import { checksumIsValid } from '../../netstack/wire/checksum.js';
import { WireError } from '../../netstack/wire/errors.js';
import { Icmpv4Packet, parseIcmpv4 } from '../../netstack/wire/icmpv4.js';
import { Icmpv6Packet, parseIcmpv6 } from '../../netstack/wire/icmpv6.js';
import { parseAddress } from '../../netstack/wire/ip-address.js';
import { Ipv4Packet, parseIpv4 } from '../../netstack/wire/ipv4.js';
import { Ipv6Packet, parseIpv6, walkIpv6ExtensionHeaders } from '../../netstack/wire/ipv6.js';
import { UdpPacket, parseUdp } from '../../netstack/wire/udp.js';
import { allCaptures } from '../fixtures/captures/captures.js';

const A4 = parseAddress('198.18.7.1');
const R4 = parseAddress('198.18.7.2');
const A6 = parseAddress('fd00:bf:1::1');
const R6 = parseAddress('fd00:bf:1::2');
const RUNS = 3000;

/** Runs `fn`; a throw that is not a WireError fails the property. */
function onlyWireErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (error) {
    if (!(error instanceof WireError)) throw error;
  }
}

/** Every parser and every field of every view that `checked` accepted. */
function parseEverything(bytes: Uint8Array): void {
  onlyWireErrors(() => {
    const p = Ipv4Packet.checked(bytes);
    const fields = [p.version, p.headerLength, p.dscp, p.ecn, p.totalLength, p.identification, p.fragmentOffset, p.ttl, p.protocol, p.checksum];
    assert.ok(fields.every(Number.isInteger));
    assert.equal(p.src.length + p.dst.length, 8);
    assert.ok(p.payload.length <= bytes.length);
    p.verifyChecksum();
  });
  onlyWireErrors(() => parseIpv4(bytes));
  onlyWireErrors(() => Ipv4Packet.checkedQuote(bytes).payload);
  onlyWireErrors(() => {
    const p = Ipv6Packet.checked(bytes);
    assert.ok([p.trafficClass, p.flowLabel, p.payloadLength, p.nextHeader, p.hopLimit].every(Number.isInteger));
    assert.equal(p.src.length + p.dst.length, 32);
    parseIpv6(p);
    const upper = walkIpv6ExtensionHeaders(p);
    assert.ok(upper.offset >= 40 && upper.offset <= 40 + p.payloadLength);
  });
  onlyWireErrors(() => walkIpv6ExtensionHeaders(Ipv6Packet.checkedQuote(bytes)));
  onlyWireErrors(() => {
    const m = Icmpv4Packet.checked(bytes);
    assert.ok([m.msgType, m.msgCode, m.checksum, m.identifier, m.sequence, m.nextHopMtu].every(Number.isInteger));
  });
  onlyWireErrors(() => parseIcmpv4(bytes));
  onlyWireErrors(() => {
    const m = Icmpv6Packet.checked(bytes);
    assert.ok([m.msgType, m.msgCode, m.checksum, m.mtu, m.pointer].every(Number.isInteger));
  });
  onlyWireErrors(() => parseIcmpv6(bytes, A6, R6));
  onlyWireErrors(() => {
    const u = UdpPacket.checked(bytes);
    assert.ok(u.payload.length === u.length - 8);
  });
  onlyWireErrors(() => parseUdp(bytes, A4, R4));
  onlyWireErrors(() => parseUdp(bytes, A6, R6));
  onlyWireErrors(() => checkTcp(bytes, A4, R4));
  onlyWireErrors(() => checkUdp(bytes, A6, R6));
}

/** An output is well formed: replies re-parse with valid checksums, deliveries point into the packet. */
function assertWellFormed(out: IpOutput, counters: Counters): void {
  switch (out.kind) {
    case 'drop':
      assert.ok(counters.get(out.reason) > 0, `drop reason ${out.reason} counted`);
      break;
    case 'reply':
      if (out.packet[0]! >> 4 === 4) {
        const ip = parseIpv4(out.packet);
        assert.ok(checksumIsValid(Ipv4Packet.checked(out.packet).payload));
        assert.equal(ip.ttl, 64);
      } else {
        const ip = parseIpv6(out.packet);
        parseIcmpv6(Ipv6Packet.checked(out.packet).payload, ip.src, ip.dst);
      }
      assert.ok(out.packet.length <= 1420);
      break;
    case 'deliver':
      assert.equal(out.header.buffer, out.packet.buffer);
      assert.ok(out.header.byteOffset + out.header.length === out.payload.byteOffset);
      assert.ok(out.payload.byteOffset + out.payload.length <= out.packet.byteOffset + out.packet.length);
      break;
  }
}

const seeds = allCaptures();

/** A captured packet with a few bytes changed, maybe cut or extended. */
const mutatedCapture = fc
  .record({
    seed: fc.integer({ min: 0, max: seeds.length - 1 }),
    edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
    cut: fc.option(fc.nat(), { nil: undefined }),
    tail: fc.uint8Array({ maxLength: 24 }),
  })
  .map(({ seed, edits, cut, tail }) => {
    const base = seeds[seed]!;
    const bytes = new Uint8Array(base.length + tail.length);
    bytes.set(base);
    bytes.set(tail, base.length);
    for (const [at, value] of edits) bytes[at % bytes.length] = value;
    return cut === undefined ? bytes : bytes.subarray(0, cut % (bytes.length + 1));
  });

/** Random bytes, half of them starting with a plausible version/IHL byte to get past the first check. */
const randomPacket = fc.oneof(
  fc.uint8Array({ maxLength: 120 }),
  fc.tuple(fc.constantFrom(0x45, 0x46, 0x4f, 0x60, 0x61), fc.uint8Array({ maxLength: 120 }))
    .map(([first, rest]) => Uint8Array.from([first, ...rest])),
);

function newStack(): { stack: IpStack; counters: Counters } {
  const counters = new Counters();
  return { stack: new IpStack({ addresses: [R4, R6], counters }), counters };
}

describe('fuzz: IP codecs', () => {
  it('random bytes give only WireError', () => {
    fc.assert(fc.property(randomPacket, (bytes) => parseEverything(bytes)), { numRuns: RUNS });
  });

  it('mutated captures give only WireError', () => {
    fc.assert(fc.property(mutatedCapture, (bytes) => parseEverything(bytes)), { numRuns: RUNS });
  });

  it('every prefix of every capture gives only WireError', () => {
    for (const packet of seeds) for (let n = 0; n <= packet.length; n++) parseEverything(packet.subarray(0, n));
  });
});

describe('fuzz: IpStack', () => {
  it('never throws on mutated captures, and every output is well formed', () => {
    const { stack, counters } = newStack();
    fc.assert(fc.property(mutatedCapture, (bytes) => assertWellFormed(stack.receive(0, bytes), counters)), { numRuns: RUNS });
  });

  it('drops random garbage, counted', () => {
    const { stack, counters } = newStack();
    fc.assert(
      fc.property(randomPacket, (bytes) => {
        const out = stack.receive(0, bytes);
        assert.equal(out.kind, 'drop');
        assertWellFormed(out, counters);
      }),
      { numRuns: RUNS },
    );
    assert.equal(counters.get('ip.internal_error'), 0);
  });

  it('buildIcmpUnreachable never throws and stays within the RFC sizes', () => {
    fc.assert(
      fc.property(fc.oneof(mutatedCapture, randomPacket), fc.integer({ min: 0, max: 2000 }), (bytes, mtu) => {
        const out = buildIcmpUnreachable(bytes, 'port-unreachable', { mtu });
        if (out === undefined) return;
        assert.ok(out.length <= Math.min(mtu, out[0]! >> 4 === 4 ? 576 : 1280));
        const { stack, counters } = newStack();
        assertWellFormed(stack.receive(0, out), counters);
      }),
      { numRuns: RUNS },
    );
  });
});
