import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildIcmpUnreachable } from '../../../netstack/ip/icmp-unreachable.js';
import { checksumIsValid } from '../../../netstack/wire/checksum.js';
import { parseIcmpv4 } from '../../../netstack/wire/icmpv4.js';
import { parseIcmpv6 } from '../../../netstack/wire/icmpv6.js';
import { parseAddress } from '../../../netstack/wire/ip-address.js';
import { Ipv4Packet, parseIpv4 } from '../../../netstack/wire/ipv4.js';
import { Ipv6Packet } from '../../../netstack/wire/ipv6.js';
import { capture, flip, hex } from '../../fixtures/captures/captures.js';

const A4 = parseAddress('198.18.7.1');
const R4 = parseAddress('198.18.7.2');
const A6 = parseAddress('fd00:bf:1::1');
const R6 = parseAddress('fd00:bf:1::2');

describe('buildIcmpUnreachable', () => {
  it('answers the captured UDP datagram to a closed port exactly as Linux did (ICMPv4)', () => {
    const out = buildIcmpUnreachable(capture('udp4-port-unreachable', 0), 'port-unreachable');
    assert.ok(out);
    const linux = capture('udp4-port-unreachable', 1);
    assert.equal(hex(out.subarray(20)), hex(linux.subarray(20)));
    const ip = parseIpv4(out);
    assert.deepEqual(ip.src, R4);
    assert.deepEqual(ip.dst, A4);
    assert.equal(ip.dscp << 2, 0xc0); // precedence 6, as Linux sent it
    assert.equal(ip.ttl, 64);
    assert.equal(ip.payloadLength, linux.length - 20);
  });

  it('answers the captured UDP datagram to a closed port exactly as Linux did (ICMPv6)', () => {
    const out = buildIcmpUnreachable(capture('udp6-port-unreachable', 0), 'port-unreachable');
    assert.ok(out);
    const linux = capture('udp6-port-unreachable', 1);
    assert.equal(hex(out.subarray(40)), hex(linux.subarray(40)));
    assert.equal(hex(out.subarray(4, 40)), hex(linux.subarray(4, 40))); // all but the flow label
  });

  it('uses the administratively-prohibited codes of each family', () => {
    const v4 = buildIcmpUnreachable(capture('tcp4-syn-rst', 0), 'admin-prohibited');
    assert.ok(v4);
    const r4 = parseIcmpv4(Ipv4Packet.checked(v4).payload);
    assert.equal(r4.kind, 'destination-unreachable');
    assert.equal((r4 as { code: number }).code, 13);
    const v6 = buildIcmpUnreachable(capture('tcp6-syn-rst', 0), 'admin-prohibited');
    assert.ok(v6);
    const r6 = parseIcmpv6(Ipv6Packet.checked(v6).payload, R6, A6);
    assert.deepEqual(r6, { kind: 'destination-unreachable', code: 1, original: capture('tcp6-syn-rst', 0) });
    const codes = (['net-unreachable', 'host-unreachable', 'port-unreachable'] as const)
      .map((c) => [buildIcmpUnreachable(capture('udp4'), c)![21], buildIcmpUnreachable(capture('udp6'), c)![41]]);
    assert.deepEqual(codes, [[0, 0], [1, 3], [3, 4]]);
  });

  it('sizes the quote to 576 bytes for IPv4 and 1280 for IPv6, and to the MTU below that', () => {
    const big4 = capture('ping4-fragmented', 0); // first fragment, 1500 bytes: may be answered
    const e4 = buildIcmpUnreachable(big4, 'host-unreachable');
    assert.ok(e4);
    assert.equal(e4.length, 576);
    assert.equal(hex(e4.subarray(28)), hex(big4.subarray(0, 548)));
    assert.ok(checksumIsValid(e4.subarray(20)));
    assert.equal(buildIcmpUnreachable(big4, 'host-unreachable', { mtu: 400 })!.length, 400);
    const big6 = capture('ping6-packet-too-big', 0); // 1448 bytes
    const e6 = buildIcmpUnreachable(big6, 'host-unreachable');
    assert.ok(e6);
    assert.equal(e6.length, 1280);
    assert.equal(hex(e6.subarray(48)), hex(big6.subarray(0, 1232)));
    const small = buildIcmpUnreachable(big6, 'host-unreachable', { mtu: 1000 });
    assert.equal(small!.length, 1000);
    assert.equal(parseIcmpv6(small!.subarray(40), parseAddress('fd00:bf:2::2'), A6).kind, 'destination-unreachable');
    // Too small an MTU to quote the header and 8 bytes: nothing.
    assert.equal(buildIcmpUnreachable(capture('udp4'), 'port-unreachable', { mtu: 40 }), undefined);
  });

  it('quotes only the packet, not link padding', () => {
    const padded = new Uint8Array(64);
    padded.set(capture('udp4-port-unreachable', 0));
    assert.equal(hex(buildIcmpUnreachable(padded, 'port-unreachable')!), hex(buildIcmpUnreachable(capture('udp4-port-unreachable', 0), 'port-unreachable')!));
  });

  it('never answers ICMP errors, later fragments, multicast, or garbage', () => {
    for (const [name, i] of [['udp4-port-unreachable', 1], ['udp6-port-unreachable', 1], ['ping4-ttl-exceeded', 1],
      ['ping6-packet-too-big', 1], ['ping4-fragmented', 1], ['mld6-hop-by-hop', 0]] as const) {
      assert.equal(buildIcmpUnreachable(capture(name, i), 'port-unreachable'), undefined, `${name}[${i}]`);
    }
    const badChecksum = capture('udp4'); flip(badChecksum, 10, 1);
    for (const junk of [new Uint8Array(0), new Uint8Array(3).fill(0x45), new Uint8Array(50).fill(0x66), badChecksum]) {
      assert.equal(buildIcmpUnreachable(junk, 'port-unreachable'), undefined);
    }
    // Echo requests are queries, not errors: they may be answered.
    assert.ok(buildIcmpUnreachable(capture('ping4', 0), 'host-unreachable'));
    assert.ok(buildIcmpUnreachable(capture('ping6', 0), 'host-unreachable'));
  });

  it('takes another source address when asked', () => {
    const vip = parseAddress('100.127.0.5');
    const out = buildIcmpUnreachable(capture('udp4'), 'port-unreachable', { source: vip });
    assert.deepEqual(Ipv4Packet.checked(out!).src, vip);
    assert.equal(buildIcmpUnreachable(capture('udp4'), 'port-unreachable', { source: R6 }), undefined);
  });
});
