import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WireError } from '../../../netstack/wire/errors.js';
import { parseAddress } from '../../../netstack/wire/ip-address.js';
import { IP_PROTOCOL } from '../../../netstack/wire/ipv4.js';
import {
  IPV6_HEADER_LEN, IPV6_MAX_EXTENSION_HEADERS, Ipv6Packet, type Ipv6Repr, emitIpv6, parseIpv6, walkIpv6ExtensionHeaders,
} from '../../../netstack/wire/ipv6.js';
import { capture, hex } from '../../fixtures/captures/captures.js';

const A = parseAddress('fd00:bf:1::1');
const R = parseAddress('fd00:bf:1::2');

/** ping6[0]: 6 00 43f89, payload 64, next header 58, hop limit 64. */
const echoRequestRepr: Ipv6Repr = {
  src: A,
  dst: R,
  nextHeader: IP_PROTOCOL.ICMPV6,
  hopLimit: 64,
  trafficClass: 0,
  flowLabel: 0x43f89,
  payloadLength: 64,
};

function throwsCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => e instanceof WireError && e.code === code);
}

describe('IPv6 (RFC 8200) on captured packets', () => {
  it('reads every field of a captured echo request', () => {
    const p = Ipv6Packet.checked(capture('ping6', 0));
    assert.equal(p.version, 6);
    assert.equal(p.trafficClass, 0);
    assert.equal(p.flowLabel, 0x43f89);
    assert.equal(p.payloadLength, 64);
    assert.equal(p.nextHeader, 58);
    assert.equal(p.hopLimit, 64);
    assert.deepEqual(p.src, A);
    assert.deepEqual(p.dst, R);
    assert.equal(p.payload.length, 64);
    assert.equal(p.payload[0], 128);
  });

  it('builds the captured header through the view setters', () => {
    const captured = capture('ping6', 1); // the reply: flow label 0xe50b0
    const buf = new Uint8Array(captured.length);
    buf.set(captured.subarray(40), 40);
    const p = Ipv6Packet.unchecked(buf);
    p.version = 6;
    p.trafficClass = 0;
    p.flowLabel = 0xe50b0;
    p.payloadLength = 64;
    p.nextHeader = 58;
    p.hopLimit = 64;
    p.src = R;
    p.dst = A;
    assert.equal(hex(buf), hex(captured));
  });

  it('parses to the repr and emits the captured header from it', () => {
    const captured = capture('ping6', 0);
    assert.deepEqual(parseIpv6(captured), echoRequestRepr);
    const buf = new Uint8Array(captured.length);
    assert.equal(emitIpv6(echoRequestRepr, buf), IPV6_HEADER_LEN);
    buf.set(captured.subarray(40), 40);
    assert.equal(hex(buf), hex(captured));
  });

  it('keeps traffic class and flow label apart', () => {
    const buf = new Uint8Array(40);
    emitIpv6({ ...echoRequestRepr, trafficClass: 0xb8, flowLabel: 0xfffff, payloadLength: 0 }, buf);
    const p = Ipv6Packet.checked(buf);
    assert.equal(p.version, 6);
    assert.equal(p.trafficClass, 0xb8);
    assert.equal(p.flowLabel, 0xfffff);
    assert.equal(hex(buf.subarray(0, 4)), '6b8fffff');
  });

  it('walks straight to the upper layer when there is no extension header', () => {
    const upper = walkIpv6ExtensionHeaders(Ipv6Packet.checked(capture('udp6')));
    assert.equal(upper.protocol, IP_PROTOCOL.UDP);
    assert.equal(upper.offset, 40);
    assert.equal(upper.extensionHeaders, 0);
    assert.equal(upper.payload.length, 29);
    assert.equal(upper.fragment, undefined);
  });

  it('walks a captured Destination Options header (PadN)', () => {
    const p = Ipv6Packet.checked(capture('udp6-destination-options'));
    assert.equal(p.nextHeader, IP_PROTOCOL.IPV6_OPTS);
    const upper = walkIpv6ExtensionHeaders(p);
    assert.equal(upper.protocol, IP_PROTOCOL.UDP);
    assert.equal(upper.offset, 48);
    assert.equal(upper.extensionHeaders, 1);
    assert.equal(upper.unrecognizedOption, false);
    assert.equal(upper.payload.length, 20);
  });

  it('walks a captured Hop-by-Hop header with Router Alert (MLDv2 report)', () => {
    const p = Ipv6Packet.checked(capture('mld6-hop-by-hop'));
    assert.equal(p.nextHeader, IP_PROTOCOL.HOPOPTS);
    assert.equal(p.hopLimit, 1);
    const upper = walkIpv6ExtensionHeaders(p);
    assert.equal(upper.protocol, IP_PROTOCOL.ICMPV6);
    assert.equal(upper.offset, 48);
    assert.equal(upper.unrecognizedOption, false); // Router Alert's action bits are 00: skip
    assert.equal(upper.payload[0], 143);
  });

  it('reads captured Fragment headers and stops after a non-atomic one', () => {
    const first = walkIpv6ExtensionHeaders(Ipv6Packet.checked(capture('ping6-fragmented', 0)));
    assert.equal(first.protocol, IP_PROTOCOL.ICMPV6);
    assert.deepEqual(first.fragment, { offset: 0, moreFragments: true, identification: 0xf8979ec9 });
    assert.equal(first.offset, 48);
    const last = walkIpv6ExtensionHeaders(Ipv6Packet.checked(capture('ping6-fragmented', 1)));
    assert.deepEqual(last.fragment, { offset: 1448, moreFragments: false, identification: 0xf8979ec9 });
    assert.equal(last.payload.length, 568 - 8);
  });

  it('reads the packet quoted in a captured Packet Too Big', () => {
    const ptb = capture('ping6-packet-too-big', 1);
    const quoted = Ipv6Packet.checkedQuote(ptb.subarray(48));
    assert.equal(quoted.payloadLength, 1408);
    assert.equal(quoted.payload.length, 1232 - 40);
    throwsCode(() => Ipv6Packet.checked(ptb.subarray(48)), 'IPV6_TRUNCATED');
  });
});

describe('IPv6 errors', () => {
  it('refuses short buffers, wrong version and a payload past the end', () => {
    const good = capture('ping6', 0);
    throwsCode(() => Ipv6Packet.checked(good.subarray(0, 39)), 'IPV6_TRUNCATED');
    throwsCode(() => Ipv6Packet.checked(good.subarray(0, 103)), 'IPV6_TRUNCATED');
    const v4 = good.slice(); v4[0] = 0x40;
    throwsCode(() => Ipv6Packet.checked(v4), 'IPV6_BAD_VERSION');
  });

  it('refuses a truncated or overlong extension header', () => {
    const dst = capture('udp6-destination-options');
    const cut = dst.slice(0, 44); cut[5] = 4;
    throwsCode(() => walkIpv6ExtensionHeaders(Ipv6Packet.checked(cut)), 'IPV6_BAD_EXTENSION_HEADER');
    const long = dst.slice(); long[41] = 5; // 48 bytes claimed, 28 present
    throwsCode(() => walkIpv6ExtensionHeaders(Ipv6Packet.checked(long)), 'IPV6_BAD_EXTENSION_HEADER');
  });

  it('refuses options that overrun their header and flags unknown ones to discard', () => {
    const dst = capture('udp6-destination-options'); // options: 01 04 00000000 (PadN)
    const overrun = dst.slice(); overrun[43] = 5;
    throwsCode(() => walkIpv6ExtensionHeaders(Ipv6Packet.checked(overrun)), 'IPV6_BAD_OPTION');
    const unknown = dst.slice(); unknown[42] = 0x9e; // action 10: discard (and send Parameter Problem)
    assert.equal(walkIpv6ExtensionHeaders(Ipv6Packet.checked(unknown)).unrecognizedOption, true);
    const skippable = dst.slice(); skippable[42] = 0x1e; // action 00: skip
    assert.equal(walkIpv6ExtensionHeaders(Ipv6Packet.checked(skippable)).unrecognizedOption, false);
  });

  it('refuses Hop-by-Hop anywhere but first', () => {
    const dst = capture('udp6-destination-options');
    dst[40] = IP_PROTOCOL.HOPOPTS; // Destination Options -> Hop-by-Hop
    throwsCode(() => walkIpv6ExtensionHeaders(Ipv6Packet.checked(dst)), 'IPV6_BAD_EXTENSION_ORDER');
  });

  it('bounds the walk', () => {
    const n = IPV6_MAX_EXTENSION_HEADERS + 1;
    const buf = new Uint8Array(40 + n * 8);
    emitIpv6({ ...echoRequestRepr, nextHeader: IP_PROTOCOL.IPV6_OPTS, payloadLength: n * 8 }, buf);
    for (let i = 0; i < n; i++) { buf[40 + i * 8] = IP_PROTOCOL.IPV6_OPTS; buf[40 + i * 8 + 2] = 1; buf[40 + i * 8 + 3] = 4; }
    throwsCode(() => walkIpv6ExtensionHeaders(Ipv6Packet.checked(buf)), 'IPV6_TOO_MANY_EXTENSION_HEADERS');
    // One fewer is fine and ends at No Next Header.
    const ok = buf.slice(0, 40 + (n - 1) * 8);
    ok[4] = 0; ok[5] = (n - 1) * 8;
    ok[40 + (n - 2) * 8] = IP_PROTOCOL.IPV6_NONXT;
    const upper = walkIpv6ExtensionHeaders(Ipv6Packet.checked(ok));
    assert.equal(upper.protocol, IP_PROTOCOL.IPV6_NONXT);
    assert.equal(upper.extensionHeaders, n - 1);
  });

  it('reports Segments Left of a Routing header', () => {
    const buf = new Uint8Array(40 + 24 + 8);
    emitIpv6({ ...echoRequestRepr, nextHeader: IP_PROTOCOL.IPV6_ROUTE, payloadLength: 32 }, buf);
    buf.set([IP_PROTOCOL.UDP, 2, 0, 1], 40); // type 0, one segment left
    assert.equal(walkIpv6ExtensionHeaders(Ipv6Packet.checked(buf)).segmentsLeft, 1);
  });

  it('refuses an impossible repr and a short buffer on emit', () => {
    throwsCode(() => emitIpv6({ ...echoRequestRepr, dst: new Uint8Array(4) }, new Uint8Array(40)), 'IPV6_BAD_REPR');
    throwsCode(() => emitIpv6({ ...echoRequestRepr, payloadLength: 70000 }, new Uint8Array(40)), 'IPV6_BAD_REPR');
    throwsCode(() => emitIpv6(echoRequestRepr, new Uint8Array(39)), 'BUFFER_TOO_SMALL');
  });
});
