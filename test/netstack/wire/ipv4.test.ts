import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WireError } from '../../../netstack/wire/errors.js';
import { parseAddress } from '../../../netstack/wire/ip-address.js';
import {
  IP_PROTOCOL, IPV4_CHECKSUM, IPV4_MIN_HEADER_LEN, Ipv4Packet, type Ipv4Repr, emitIpv4, ipVersion, parseIpv4,
} from '../../../netstack/wire/ipv4.js';
import { bytes, capture, flip, hex } from '../../fixtures/captures/captures.js';

const A = parseAddress('198.18.7.1');
const R = parseAddress('198.18.7.2');

/** ping4[0], the echo request Linux sent: 45 00 0054 4adc 4000 40 01 55a5 c6120701 c6120702. */
const echoRequestRepr: Ipv4Repr = {
  src: A,
  dst: R,
  protocol: IP_PROTOCOL.ICMP,
  ttl: 64,
  dscp: 0,
  ecn: 0,
  identification: 0x4adc,
  dontFragment: true,
  moreFragments: false,
  fragmentOffset: 0,
  options: new Uint8Array(0),
  payloadLength: 64,
};

function throwsCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => e instanceof WireError && e.code === code);
}

describe('IPv4 (RFC 791) on captured packets', () => {
  it('reads every field of a captured echo request', () => {
    const p = Ipv4Packet.checked(capture('ping4', 0));
    assert.equal(p.version, 4);
    assert.equal(p.headerLength, 20);
    assert.equal(p.dscp, 0);
    assert.equal(p.ecn, 0);
    assert.equal(p.totalLength, 84);
    assert.equal(p.identification, 0x4adc);
    assert.equal(p.dontFragment, true);
    assert.equal(p.moreFragments, false);
    assert.equal(p.fragmentOffset, 0);
    assert.equal(p.isFragment, false);
    assert.equal(p.ttl, 64);
    assert.equal(p.protocol, 1);
    assert.equal(p.checksum, 0x55a5);
    assert.deepEqual(p.src, A);
    assert.deepEqual(p.dst, R);
    assert.equal(p.options.length, 0);
    assert.equal(p.payload.length, 64);
    assert.equal(p.payload[0], 8); // ICMP echo request follows
    assert.ok(p.verifyChecksum());
  });

  it('builds the captured header byte for byte through the view setters', () => {
    const captured = capture('ping4', 0);
    const buf = new Uint8Array(captured.length);
    buf.set(captured.subarray(20), 20);
    const p = Ipv4Packet.unchecked(buf);
    p.version = 4;
    p.headerLength = 20;
    p.dscp = 0;
    p.ecn = 0;
    p.totalLength = 84;
    p.identification = 0x4adc;
    p.dontFragment = true;
    p.moreFragments = false;
    p.fragmentOffset = 0;
    p.ttl = 64;
    p.protocol = 1;
    p.src = A;
    p.dst = R;
    p.fillChecksum();
    assert.equal(hex(buf), hex(captured));
  });

  it('parses a captured packet to its repr', () => {
    assert.deepEqual(parseIpv4(capture('ping4', 0)), echoRequestRepr);
    const reply = parseIpv4(capture('ping4', 1));
    assert.deepEqual(reply.src, R);
    assert.equal(reply.identification, 0x92be);
    assert.equal(reply.dontFragment, false);
  });

  it('emits the captured header from the repr', () => {
    const captured = capture('ping4', 0);
    const buf = new Uint8Array(captured.length);
    const hl = emitIpv4(echoRequestRepr, buf);
    assert.equal(hl, IPV4_MIN_HEADER_LEN);
    buf.set(captured.subarray(hl), hl);
    assert.equal(hex(buf), hex(captured));
  });

  it('skips a captured Record Route option and round-trips it', () => {
    const captured = capture('ping4-record-route', 0);
    const p = Ipv4Packet.checked(captured);
    assert.equal(p.headerLength, 60);
    assert.equal(p.totalLength, 124);
    assert.equal(p.options.length, 40);
    assert.equal(p.options[0], 1); // NOP
    assert.equal(p.options[1], 7); // Record Route
    assert.equal(p.options[2], 39); // its length
    assert.equal(p.payload[0], 8); // the ICMP echo request after the options
    assert.equal(p.findOption(7)?.length, 39);
    assert.equal(p.findOption(0x83), undefined);
    const repr = parseIpv4(captured);
    assert.equal(repr.payloadLength, 64);
    const buf = new Uint8Array(captured.length);
    emitIpv4(repr, buf);
    buf.set(p.payload, 60);
    assert.equal(hex(buf), hex(captured));
    parseIpv4(capture('ping4-record-route', 1)); // the reply's filled-in route parses too
  });

  it('reads flags and offset of captured fragments', () => {
    const first = parseIpv4(capture('ping4-fragmented', 0));
    assert.equal(first.moreFragments, true);
    assert.equal(first.fragmentOffset, 0);
    assert.equal(first.payloadLength, 1480);
    const last = Ipv4Packet.checked(capture('ping4-fragmented', 1));
    assert.equal(last.moreFragments, false);
    assert.equal(last.fragmentOffset, 1480);
    assert.equal(last.identification, first.identification);
    assert.ok(last.isFragment);
    const lastRepr = parseIpv4(last);
    const buf = new Uint8Array(548);
    emitIpv4(lastRepr, buf);
    assert.equal(hex(buf.subarray(0, 20)), hex(capture('ping4-fragmented', 1).subarray(0, 20)));
  });

  it('reads the header quoted inside a captured ICMP error', () => {
    const error = capture('ping4-ttl-exceeded', 1);
    const quoted = Ipv4Packet.checkedQuote(error.subarray(28, 28 + 24));
    assert.equal(quoted.ttl, 1);
    assert.equal(quoted.totalLength, 84);
    assert.deepEqual(quoted.dst, parseAddress('198.18.7.6'));
    assert.equal(quoted.payload.length, 4);
    throwsCode(() => Ipv4Packet.checked(error.subarray(28, 28 + 24)), 'IPV4_TRUNCATED');
  });

  it('ignores link padding after the total length', () => {
    const padded = new Uint8Array(96);
    padded.set(capture('ping4', 0));
    const p = Ipv4Packet.checked(padded);
    assert.equal(p.payload.length, 64);
    assert.equal(p.packet.length, 84);
    assert.deepEqual(parseIpv4(padded), echoRequestRepr);
  });
});

describe('IPv4 errors', () => {
  it('refuses short buffers, wrong version, bad IHL and total length', () => {
    const good = capture('ping4', 0);
    throwsCode(() => Ipv4Packet.checked(good.subarray(0, 19)), 'IPV4_TRUNCATED');
    throwsCode(() => Ipv4Packet.checked(good.subarray(0, 83)), 'IPV4_TRUNCATED');
    const v6 = good.slice(); v6[0] = 0x65;
    throwsCode(() => Ipv4Packet.checked(v6), 'IPV4_BAD_VERSION');
    const ihl4 = good.slice(); ihl4[0] = 0x44;
    throwsCode(() => Ipv4Packet.checked(ihl4), 'IPV4_BAD_HEADER_LENGTH');
    const ihl15 = good.slice(0, 40); ihl15[0] = 0x4f;
    throwsCode(() => Ipv4Packet.checked(ihl15), 'IPV4_TRUNCATED');
    const total = good.slice(); total[2] = 0; total[3] = 19;
    throwsCode(() => Ipv4Packet.checked(total), 'IPV4_BAD_TOTAL_LENGTH');
  });

  it('verifies the header checksum on parse', () => {
    const bad = capture('ping4', 0);
    flip(bad, IPV4_CHECKSUM, 0x01);
    assert.doesNotThrow(() => Ipv4Packet.checked(bad));
    throwsCode(() => parseIpv4(bad), 'IPV4_BAD_CHECKSUM');
    const ttl = capture('ping4', 0);
    ttl[8] = 63;
    throwsCode(() => parseIpv4(ttl), 'IPV4_BAD_CHECKSUM');
  });

  it('length-checks options', () => {
    const rr = capture('ping4-record-route', 0);
    const overrun = rr.slice(); overrun[22] = 40; // Record Route claims one byte past the header
    throwsCode(() => Ipv4Packet.checked(overrun), 'IPV4_BAD_OPTION');
    const tooShort = rr.slice(); tooShort[22] = 1;
    throwsCode(() => Ipv4Packet.checked(tooShort), 'IPV4_BAD_OPTION');
    const noLength = rr.slice(); noLength.fill(1, 20, 59); noLength[59] = 7; // ...NOPs, then a type with no length byte
    throwsCode(() => Ipv4Packet.checked(noLength), 'IPV4_BAD_OPTION');
    const ended = rr.slice(); ended[20] = 0; ended[22] = 200; // End of Option List: the rest is not read
    assert.doesNotThrow(() => Ipv4Packet.checked(ended));
  });

  it('refuses an impossible repr and a short buffer on emit', () => {
    throwsCode(() => emitIpv4({ ...echoRequestRepr, src: new Uint8Array(16) }, new Uint8Array(20)), 'IPV4_BAD_REPR');
    throwsCode(() => emitIpv4({ ...echoRequestRepr, options: new Uint8Array(3) }, new Uint8Array(24)), 'IPV4_BAD_REPR');
    throwsCode(() => emitIpv4({ ...echoRequestRepr, payloadLength: 65516 }, new Uint8Array(20)), 'IPV4_BAD_REPR');
    throwsCode(() => emitIpv4({ ...echoRequestRepr, fragmentOffset: 5 }, new Uint8Array(20)), 'IPV4_BAD_REPR');
    throwsCode(() => emitIpv4(echoRequestRepr, new Uint8Array(19)), 'BUFFER_TOO_SMALL');
  });
});

describe('ipVersion', () => {
  it('reads the version nibble', () => {
    assert.equal(ipVersion(capture('ping4', 0)), 4);
    assert.equal(ipVersion(capture('ping6', 0)), 6);
    assert.equal(ipVersion(bytes('f0')), 15);
    assert.equal(ipVersion(new Uint8Array(0)), undefined);
  });
});
