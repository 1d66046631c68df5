import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WireError } from '../../../netstack/wire/errors.js';
import {
  ICMPV4_TIME_EXCEEDED, ICMPV4_UNREACHABLE, Icmpv4Packet, type Icmpv4Repr, emitIcmpv4, icmpv4ReprLength, isIcmpv4Error, parseIcmpv4,
} from '../../../netstack/wire/icmpv4.js';
import { Ipv4Packet } from '../../../netstack/wire/ipv4.js';
import { capture, flip, hex } from '../../fixtures/captures/captures.js';

/** The ICMP message inside a captured IPv4 packet (all these have a 20-byte header). */
const icmpOf = (packet: Uint8Array): Uint8Array => packet.subarray(20);

function throwsCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => e instanceof WireError && e.code === code);
}

describe('ICMPv4 echo (RFC 792) on captured packets', () => {
  it('reads the captured echo request', () => {
    const m = Icmpv4Packet.checked(icmpOf(capture('ping4', 0)));
    assert.equal(m.msgType, 8);
    assert.equal(m.msgCode, 0);
    assert.equal(m.checksum, 0xe85a);
    assert.equal(m.identifier, 0x0baf);
    assert.equal(m.sequence, 1);
    assert.equal(m.data.length, 56);
    // ping -p 6261696c696666 ("bailiff") fills the data after its 16-byte timestamp.
    assert.equal(Buffer.from(m.data.subarray(16, 30)).toString(), 'iliffbailiffba');
    assert.ok(m.verifyChecksum());
  });

  it('builds the captured echo reply through the view setters', () => {
    const captured = icmpOf(capture('ping4', 1));
    const buf = new Uint8Array(captured.length);
    buf.set(captured.subarray(8), 8);
    const m = Icmpv4Packet.unchecked(buf);
    m.msgType = 0;
    m.msgCode = 0;
    m.identifier = 0x0baf;
    m.sequence = 1;
    m.fillChecksum();
    assert.equal(m.checksum, 0xf05a);
    assert.equal(hex(buf), hex(captured));
  });

  it('parses both captured echo messages and emits them back', () => {
    const request = icmpOf(capture('ping4', 0));
    const reply = icmpOf(capture('ping4', 1));
    const parsed = parseIcmpv4(request);
    assert.deepEqual(parsed, { kind: 'echo-request', identifier: 0x0baf, sequence: 1, data: request.subarray(8) });
    const parsedReply = parseIcmpv4(reply);
    assert.equal(parsedReply.kind, 'echo-reply');
    for (const [repr, bytes] of [[parsed, request], [parsedReply, reply]] as const) {
      const buf = new Uint8Array(icmpv4ReprLength(repr));
      assert.equal(emitIcmpv4(repr, buf), bytes.length);
      assert.equal(hex(buf), hex(bytes));
    }
  });
});

describe('ICMPv4 errors (RFC 792) on captured packets', () => {
  it('reads, parses and emits a captured port unreachable with the quoted datagram', () => {
    const original = capture('udp4-port-unreachable', 0);
    const captured = icmpOf(capture('udp4-port-unreachable', 1));
    const m = Icmpv4Packet.checked(captured);
    assert.equal(m.msgType, 3);
    assert.equal(m.msgCode, ICMPV4_UNREACHABLE.PORT_UNREACHABLE);
    assert.equal(m.checksum, 0x9751);
    assert.equal(hex(m.data), hex(original)); // Linux quoted the whole 47-byte datagram
    const repr = parseIcmpv4(captured);
    assert.deepEqual(repr, { kind: 'destination-unreachable', code: 3, nextHopMtu: 0, original: m.data });
    const buf = new Uint8Array(captured.length);
    emitIcmpv4(repr, buf);
    assert.equal(hex(buf), hex(captured));
    // The quote is a readable IPv4 header.
    const quoted = Ipv4Packet.checkedQuote(m.data);
    assert.equal(quoted.protocol, 17);
  });

  it('builds a captured port unreachable through the setters', () => {
    const captured = icmpOf(capture('udp4-port-unreachable', 1));
    const buf = new Uint8Array(captured.length);
    buf.set(capture('udp4-port-unreachable', 0), 8);
    const m = Icmpv4Packet.unchecked(buf);
    m.msgType = 3;
    m.msgCode = 3;
    m.fillChecksum();
    assert.equal(hex(buf), hex(captured));
  });

  it('reads, parses and emits a captured time exceeded', () => {
    const captured = icmpOf(capture('ping4-ttl-exceeded', 1));
    const m = Icmpv4Packet.checked(captured);
    assert.equal(m.msgType, 11);
    assert.equal(m.msgCode, ICMPV4_TIME_EXCEEDED.TTL_EXCEEDED);
    assert.equal(m.checksum, 0xf4ff);
    assert.equal(hex(m.data), hex(capture('ping4-ttl-exceeded', 0)));
    const repr = parseIcmpv4(captured);
    assert.equal(repr.kind, 'time-exceeded');
    const buf = new Uint8Array(captured.length);
    emitIcmpv4(repr, buf);
    assert.equal(hex(buf), hex(captured));
  });

  it('carries the RFC 1191 next-hop MTU of fragmentation needed', () => {
    const repr: Icmpv4Repr = { kind: 'destination-unreachable', code: ICMPV4_UNREACHABLE.FRAG_REQUIRED, nextHopMtu: 1400, original: capture('udp4').subarray(0, 28) };
    const buf = new Uint8Array(icmpv4ReprLength(repr));
    emitIcmpv4(repr, buf);
    assert.equal(hex(buf.subarray(0, 8)).slice(0, 4), '0304');
    assert.equal(Icmpv4Packet.checked(buf).nextHopMtu, 1400);
    assert.deepEqual(parseIcmpv4(buf), repr);
  });

  it('tells error types from queries', () => {
    assert.deepEqual([0, 3, 4, 5, 8, 11, 12, 13].map(isIcmpv4Error), [false, true, true, true, false, true, true, false]);
  });
});

describe('ICMPv4 bad input', () => {
  it('refuses short messages, bad checksums and unsupported types', () => {
    const request = icmpOf(capture('ping4', 0));
    throwsCode(() => Icmpv4Packet.checked(request.subarray(0, 7)), 'ICMPV4_TRUNCATED');
    const bad = request.slice(); flip(bad, 40, 0xff);
    throwsCode(() => parseIcmpv4(bad), 'ICMPV4_BAD_CHECKSUM');
    const timestamp = request.slice(); timestamp[0] = 13; Icmpv4Packet.unchecked(timestamp).fillChecksum();
    throwsCode(() => parseIcmpv4(timestamp), 'ICMPV4_UNSUPPORTED_TYPE');
    const oddCode = request.slice(); oddCode[1] = 1; Icmpv4Packet.unchecked(oddCode).fillChecksum();
    throwsCode(() => parseIcmpv4(oddCode), 'ICMPV4_UNSUPPORTED_TYPE');
    throwsCode(() => emitIcmpv4(parseIcmpv4(request), new Uint8Array(63)), 'BUFFER_TOO_SMALL');
  });
});
