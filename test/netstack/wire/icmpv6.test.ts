import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WireError } from '../../../netstack/wire/errors.js';
import {
  ICMPV6_UNREACHABLE, Icmpv6Packet, type Icmpv6Repr, emitIcmpv6, icmpv6ReprLength, isIcmpv6Error, parseIcmpv6,
} from '../../../netstack/wire/icmpv6.js';
import { parseAddress } from '../../../netstack/wire/ip-address.js';
import { Ipv6Packet } from '../../../netstack/wire/ipv6.js';
import { capture, hex } from '../../fixtures/captures/captures.js';

const A = parseAddress('fd00:bf:1::1');
const R = parseAddress('fd00:bf:1::2');
const icmpOf = (packet: Uint8Array): Uint8Array => packet.subarray(40);

function throwsCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => e instanceof WireError && e.code === code);
}

describe('ICMPv6 echo (RFC 4443 §4) on captured packets', () => {
  it('reads the captured echo request and verifies it over the pseudo-header', () => {
    const m = Icmpv6Packet.checked(icmpOf(capture('ping6', 0)));
    assert.equal(m.msgType, 128);
    assert.equal(m.msgCode, 0);
    assert.equal(m.checksum, 0x943e);
    assert.equal(m.identifier, 0x0bb3);
    assert.equal(m.sequence, 1);
    assert.equal(m.data.length, 56);
    assert.ok(m.verifyChecksum(A, R));
    assert.ok(!m.verifyChecksum(R, parseAddress('fd00:bf:1::3')));
  });

  it('builds the captured echo reply through the view setters', () => {
    const captured = icmpOf(capture('ping6', 1));
    const buf = new Uint8Array(captured.length);
    buf.set(captured.subarray(8), 8);
    const m = Icmpv6Packet.unchecked(buf);
    m.msgType = 129;
    m.msgCode = 0;
    m.identifier = 0x0bb3;
    m.sequence = 1;
    m.fillChecksum(R, A);
    assert.equal(m.checksum, 0x933e);
    assert.equal(hex(buf), hex(captured));
  });

  it('parses and emits both captured echo messages', () => {
    const request = icmpOf(capture('ping6', 0));
    const reply = icmpOf(capture('ping6', 1));
    const parsed = parseIcmpv6(request, A, R);
    assert.deepEqual(parsed, { kind: 'echo-request', identifier: 0x0bb3, sequence: 1, data: request.subarray(8) });
    const parsedReply = parseIcmpv6(reply, R, A);
    assert.equal(parsedReply.kind, 'echo-reply');
    const buf = new Uint8Array(icmpv6ReprLength(parsed));
    emitIcmpv6(parsed, A, R, buf);
    assert.equal(hex(buf), hex(request));
    emitIcmpv6(parsedReply, R, A, buf);
    assert.equal(hex(buf), hex(reply));
  });
});

describe('ICMPv6 errors (RFC 4443 §3) on captured packets', () => {
  it('reads, parses, builds and emits a captured port unreachable', () => {
    const captured = icmpOf(capture('udp6-port-unreachable', 1));
    const m = Icmpv6Packet.checked(captured);
    assert.equal(m.msgType, 1);
    assert.equal(m.msgCode, ICMPV6_UNREACHABLE.PORT_UNREACHABLE);
    assert.equal(m.checksum, 0x6fa1);
    assert.equal(hex(m.data), hex(capture('udp6-port-unreachable', 0)));
    const repr = parseIcmpv6(captured, R, A);
    assert.deepEqual(repr, { kind: 'destination-unreachable', code: 4, original: m.data });
    const emitted = new Uint8Array(captured.length);
    emitIcmpv6(repr, R, A, emitted);
    assert.equal(hex(emitted), hex(captured));
    const built = new Uint8Array(captured.length);
    built.set(capture('udp6-port-unreachable', 0), 8);
    const view = Icmpv6Packet.unchecked(built);
    view.msgType = 1;
    view.msgCode = 4;
    view.fillChecksum(R, A);
    assert.equal(hex(built), hex(captured));
  });

  it('reads, parses and emits a captured Packet Too Big (MTU 1280, quote cut at the minimum MTU)', () => {
    const packet = capture('ping6-packet-too-big', 1);
    assert.equal(packet.length, 1280);
    const captured = icmpOf(packet);
    const m = Icmpv6Packet.checked(captured);
    assert.equal(m.msgType, 2);
    assert.equal(m.mtu, 1280);
    assert.equal(m.checksum, 0xc61b);
    assert.equal(hex(m.data), hex(capture('ping6-packet-too-big', 0).subarray(0, 1232)));
    const repr = parseIcmpv6(captured, R, A);
    assert.deepEqual(repr, { kind: 'packet-too-big', mtu: 1280, original: m.data });
    const buf = new Uint8Array(captured.length);
    emitIcmpv6(repr, R, A, buf);
    assert.equal(hex(buf), hex(captured));
    assert.equal(Ipv6Packet.checkedQuote(m.data).payloadLength, 1408);
  });

  it('reads, parses and emits a captured hop limit exceeded', () => {
    const captured = icmpOf(capture('ping6-hop-limit-exceeded', 1));
    const m = Icmpv6Packet.checked(captured);
    assert.equal(m.msgType, 3);
    assert.equal(m.msgCode, 0);
    assert.equal(m.checksum, 0xf57d);
    const repr = parseIcmpv6(captured, R, A);
    assert.deepEqual(repr, { kind: 'time-exceeded', code: 0, original: capture('ping6-hop-limit-exceeded', 0) });
    const buf = new Uint8Array(captured.length);
    emitIcmpv6(repr, R, A, buf);
    assert.equal(hex(buf), hex(captured));
  });

  it('round-trips a parameter problem', () => {
    const repr: Icmpv6Repr = { kind: 'parameter-problem', code: 1, pointer: 6, original: capture('udp6').subarray(0, 48) };
    const buf = new Uint8Array(icmpv6ReprLength(repr));
    emitIcmpv6(repr, R, A, buf);
    assert.deepEqual(parseIcmpv6(buf, R, A), repr);
  });

  it('tells error types from informational ones', () => {
    assert.deepEqual([1, 2, 3, 4, 127, 128, 129, 135].map(isIcmpv6Error), [true, true, true, true, true, false, false, false]);
  });
});

describe('ICMPv6 bad input', () => {
  it('refuses short messages, bad checksums and unsupported types', () => {
    const request = icmpOf(capture('ping6', 0));
    throwsCode(() => Icmpv6Packet.checked(request.subarray(0, 7)), 'ICMPV6_TRUNCATED');
    throwsCode(() => parseIcmpv6(request, A, parseAddress('fd00:bf:1::3')), 'ICMPV6_BAD_CHECKSUM'); // the sum does not see src/dst order, only values
    const mld = capture('mld6-hop-by-hop').subarray(48);
    const p = Ipv6Packet.checked(capture('mld6-hop-by-hop'));
    throwsCode(() => parseIcmpv6(mld, p.src, p.dst), 'ICMPV6_UNSUPPORTED_TYPE'); // MLDv2 report, checksum valid
    throwsCode(() => emitIcmpv6(parseIcmpv6(request, A, R), A, R, new Uint8Array(10)), 'BUFFER_TOO_SMALL');
  });
});
