import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Counters } from '../../../netstack/counters.js';
import { IpStack, type IpOutput } from '../../../netstack/ip/stack.js';
import { checksumIsValid } from '../../../netstack/wire/checksum.js';
import { parseAddress } from '../../../netstack/wire/ip-address.js';
import { IP_PROTOCOL, Ipv4Packet, emitIpv4, parseIpv4 } from '../../../netstack/wire/ipv4.js';
import { Ipv6Packet, emitIpv6, parseIpv6 } from '../../../netstack/wire/ipv6.js';
import { capture, flip, hex } from '../../fixtures/captures/captures.js';

// In every capture the agent side is A and the requests went to R: the stack plays R.
const A4 = parseAddress('198.18.7.1');
const R4 = parseAddress('198.18.7.2');
const A6 = parseAddress('fd00:bf:1::1');
const R6 = parseAddress('fd00:bf:1::2');

function stackAt(addresses: Uint8Array[] = [R4, R6], mtu?: number): { stack: IpStack; counters: Counters } {
  const counters = new Counters();
  return { stack: new IpStack({ addresses, counters, ...(mtu === undefined ? {} : { mtu }) }), counters };
}

function expectDrop(out: IpOutput, reason: string): void {
  assert.deepEqual(out, { kind: 'drop', reason });
}

function reply(out: IpOutput): Uint8Array {
  assert.equal(out.kind, 'reply', JSON.stringify(out));
  return (out as { packet: Uint8Array }).packet;
}

type Delivered = Extract<IpOutput, { kind: 'deliver' }>;
function delivered(out: IpOutput): Delivered {
  assert.equal(out.kind, 'deliver', JSON.stringify(out));
  return out as Delivered;
}

/** A captured IPv4 packet with one header byte changed and the header checksum made right again. */
function rewriteV4(packet: Uint8Array, at: number, value: number): Uint8Array {
  const out = packet.slice();
  out[at] = value;
  Ipv4Packet.unchecked(out).fillChecksum();
  return out;
}

describe('IpStack: ICMP echo', () => {
  it('answers a captured IPv4 echo request like Linux did, as an atomic datagram with TTL 64', () => {
    const { stack, counters } = stackAt();
    const out = reply(stack.receive(0, capture('ping4', 0)));
    const linux = capture('ping4', 1);
    assert.equal(hex(out.subarray(20)), hex(linux.subarray(20))); // ICMP identical, checksum included
    const ip = parseIpv4(out);
    assert.deepEqual(ip.src, R4);
    assert.deepEqual(ip.dst, A4);
    assert.equal(ip.ttl, 64);
    assert.equal(ip.protocol, IP_PROTOCOL.ICMP);
    assert.equal(ip.payloadLength, 64);
    assert.equal(ip.dontFragment, true);
    assert.equal(ip.identification, 0);
    assert.equal(counters.get('icmp.echo_replied'), 1);
    assert.equal(counters.get('ipv4.received'), 1);
  });

  it('answers a captured IPv6 echo request like Linux did, hop limit 64', () => {
    const { stack } = stackAt();
    const out = reply(stack.receive(0, capture('ping6', 0)));
    const linux = capture('ping6', 1);
    assert.equal(hex(out.subarray(40)), hex(linux.subarray(40)));
    const ip = parseIpv6(out);
    assert.deepEqual(ip.src, R6);
    assert.deepEqual(ip.dst, A6);
    assert.equal(ip.hopLimit, 64);
    assert.equal(ip.nextHeader, IP_PROTOCOL.ICMPV6);
    assert.equal(ip.payloadLength, 64);
  });

  it('answers an echo request carrying IPv4 options without reflecting them', () => {
    const { stack } = stackAt();
    const out = reply(stack.receive(0, capture('ping4-record-route', 0)));
    assert.equal(out.length, 84);
    assert.equal(hex(out.subarray(20)), hex(capture('ping4-record-route', 1).subarray(60)));
  });

  it('ignores WireGuard padding after the packet', () => {
    const { stack } = stackAt();
    const padded = new Uint8Array(96);
    padded.set(capture('ping4', 0));
    assert.equal(hex(reply(stack.receive(0, padded))), hex(reply(stack.receive(0, capture('ping4', 0)))));
  });

  it('does not answer for addresses that are not its own', () => {
    const { stack, counters } = stackAt([parseAddress('100.64.0.1'), parseAddress('fd00:bf:9::1')]);
    expectDrop(stack.receive(0, capture('ping4', 0)), 'ip.not_local');
    expectDrop(stack.receive(0, capture('ping6', 0)), 'ip.not_local');
    assert.equal(counters.get('ip.not_local'), 2);
  });

  it('drops echo replies and ICMP errors it receives as unhandled', () => {
    const { stack, counters } = stackAt([A4, A6]);
    for (const [name, i] of [['ping4', 1], ['ping6', 1], ['ping4-ttl-exceeded', 1], ['udp4-port-unreachable', 1],
      ['ping6-hop-limit-exceeded', 1], ['ping6-packet-too-big', 1], ['udp6-port-unreachable', 1]] as const) {
      expectDrop(stack.receive(0, capture(name, i)), 'icmp.unhandled');
    }
    assert.equal(counters.get('icmp.unhandled'), 7);
  });

  it('drops a reply that would exceed the MTU', () => {
    const { stack } = stackAt([R4, R6], 80);
    expectDrop(stack.receive(0, capture('ping4', 0)), 'icmp.echo_too_large');
    expectDrop(stack.receive(0, capture('ping6', 0)), 'icmp.echo_too_large');
  });

  it('counts a bad ICMP checksum', () => {
    const { stack } = stackAt();
    const v4 = capture('ping4', 0); flip(v4, 60, 1);
    expectDrop(stack.receive(0, v4), 'icmpv4.bad_checksum');
    const v6 = capture('ping6', 0); flip(v6, 90, 1);
    expectDrop(stack.receive(0, v6), 'icmpv6.bad_checksum');
  });
});

describe('IpStack: TCP and UDP delivery', () => {
  it('delivers captured UDP over IPv4 and IPv6 with header and payload split', () => {
    const { stack, counters } = stackAt();
    const u4 = delivered(stack.receive(0, capture('udp4')));
    assert.equal(u4.protocol, 'udp');
    assert.equal(u4.family, 4);
    assert.deepEqual(u4.src, A4);
    assert.deepEqual(u4.dst, R4);
    assert.equal(u4.srcPort, 41000);
    assert.equal(u4.dstPort, 40000);
    assert.equal(u4.header.length, 8);
    assert.equal(Buffer.from(u4.payload).toString(), 'bailiff udp4 datagram');
    assert.equal(hex(u4.packet), hex(capture('udp4')));
    const u6 = delivered(stack.receive(0, capture('udp6')));
    assert.equal(u6.family, 6);
    assert.deepEqual(u6.src, A6);
    assert.equal(Buffer.from(u6.payload).toString(), 'bailiff udp6 datagram');
    assert.equal(counters.get('ip.deliver_udp'), 2);
  });

  it('delivers UDP behind a captured Destination Options header, and UDP without checksum on IPv4', () => {
    const { stack } = stackAt();
    const d = delivered(stack.receive(0, capture('udp6-destination-options')));
    assert.equal(d.srcPort, 41002);
    assert.equal(Buffer.from(d.payload).toString(), 'with dstopts');
    const n = delivered(stack.receive(0, capture('udp4-no-checksum')));
    assert.equal(Buffer.from(n.payload).toString(), 'no checksum');
  });

  it('delivers TCP to any unicast destination (the transports accept promiscuously)', () => {
    const { stack, counters } = stackAt([]);
    const syn4 = delivered(stack.receive(0, capture('tcp4-syn-rst', 0)));
    assert.equal(syn4.protocol, 'tcp');
    assert.equal(syn4.srcPort, 42000);
    assert.equal(syn4.dstPort, 5432);
    assert.equal(syn4.header.length, 40); // SYN with MSS, SACK-permitted, timestamps, window scale
    assert.equal(syn4.header[13], 0x02);
    assert.equal(syn4.payload.length, 0);
    const syn6 = delivered(stack.receive(0, capture('tcp6-syn-rst', 0)));
    assert.equal(syn6.family, 6);
    assert.equal(syn6.dstPort, 5432);
    const rst6 = delivered(stack.receive(0, capture('tcp6-syn-rst', 1)));
    assert.equal(rst6.header.length, 20);
    assert.equal(rst6.header[13], 0x14); // RST|ACK
    delivered(stack.receive(0, capture('tcp4-syn-rst', 1)));
    assert.equal(counters.get('ip.deliver_tcp'), 4);
  });

  it('refuses bad transport checksums and lengths', () => {
    const { stack } = stackAt();
    const u = capture('udp4'); flip(u, 30, 1);
    expectDrop(stack.receive(0, u), 'udp.bad_checksum');
    const u6 = capture('udp6'); u6[46] = 0; u6[47] = 0;
    expectDrop(stack.receive(0, u6), 'udp.missing_checksum');
    const t = capture('tcp4-syn-rst', 0); flip(t, 25, 1);
    expectDrop(stack.receive(0, t), 'tcp.bad_checksum');
    const t6 = capture('tcp6-syn-rst', 0); t6[52] = 0xf0; // data offset 60 > segment
    expectDrop(stack.receive(0, t6), 'tcp.bad_header_length');
    const shortTcp = rewriteV4(capture('tcp4-syn-rst', 1).subarray(0, 30), 3, 30);
    expectDrop(stack.receive(0, shortTcp), 'tcp.truncated');
  });
});

describe('IpStack: drops', () => {
  it('drops captured fragments of both families', () => {
    const { stack, counters } = stackAt();
    for (const i of [0, 1]) {
      expectDrop(stack.receive(0, capture('ping4-fragmented', i)), 'ip.fragment');
      expectDrop(stack.receive(0, capture('ping6-fragmented', i)), 'ip.fragment');
    }
    assert.equal(counters.get('ip.fragment'), 4);
  });

  it('drops empty packets, unknown versions, bad IPv4 checksums and truncation', () => {
    const { stack, counters } = stackAt();
    expectDrop(stack.receive(0, new Uint8Array(0)), 'ip.truncated');
    const v5 = capture('ping4', 0); v5[0] = 0x55;
    expectDrop(stack.receive(0, v5), 'ip.bad_version');
    const bad = capture('ping4', 0); bad[8] = 63;
    expectDrop(stack.receive(0, bad), 'ipv4.bad_checksum');
    expectDrop(stack.receive(0, capture('ping4', 0).subarray(0, 60)), 'ipv4.truncated');
    expectDrop(stack.receive(0, capture('ping6', 0).subarray(0, 60)), 'ipv6.truncated');
    assert.equal(counters.get('ipv4.bad_checksum'), 1);
    assert.equal(counters.get('ip.bad_version'), 1);
  });

  it('drops unknown protocols and martian addresses', () => {
    const { stack } = stackAt();
    expectDrop(stack.receive(0, rewriteV4(capture('udp4'), 9, 47)), 'ip.unknown_protocol'); // GRE
    expectDrop(stack.receive(0, rewriteV4(capture('ping4', 0), 12, 0)), 'ip.bad_source');
    expectDrop(stack.receive(0, rewriteV4(capture('ping4', 0), 12, 224)), 'ip.bad_source');
    expectDrop(stack.receive(0, rewriteV4(capture('ping4', 0), 16, 255)), 'ip.bad_destination');
    expectDrop(stack.receive(0, rewriteV4(capture('udp4'), 16, 127)), 'ip.bad_destination');
    expectDrop(stack.receive(0, capture('mld6-hop-by-hop')), 'ip.bad_destination'); // to ff02::16
  });

  it('drops IPv6 source routing and options marked discard-if-unknown', () => {
    const { stack } = stackAt();
    const udp6 = capture('udp6');
    const routed = new Uint8Array(udp6.length + 24);
    emitIpv6({ ...parseIpv6(udp6), nextHeader: IP_PROTOCOL.IPV6_ROUTE, payloadLength: udp6.length - 40 + 24 }, routed);
    routed.set([IP_PROTOCOL.UDP, 2, 0, 1], 40);
    routed.set(udp6.subarray(40), 64);
    expectDrop(stack.receive(0, routed), 'ip.source_routed');
    routed[43] = 0; // Segments Left 0: the header is ignored and the datagram delivered
    assert.equal(stack.receive(0, routed).kind, 'deliver');
    const opt = capture('udp6-destination-options'); opt[42] = 0x9e;
    expectDrop(stack.receive(0, opt), 'ipv6.unrecognized_option');
  });

  it('drops IPv4 source routing but not other options', () => {
    const { stack } = stackAt();
    // The captured Record Route option turned into Loose / Strict Source and Record Route.
    expectDrop(stack.receive(0, rewriteV4(capture('ping4-record-route', 0), 21, 0x83)), 'ip.source_routed');
    expectDrop(stack.receive(0, rewriteV4(capture('ping4-record-route', 0), 21, 0x89)), 'ip.source_routed');
    assert.equal(stack.receive(0, capture('ping4-record-route', 0)).kind, 'reply');
  });

  it('processes an IPv6 atomic fragment as a whole packet (RFC 6946)', () => {
    const { stack } = stackAt();
    const udp6 = capture('udp6');
    const atomic = new Uint8Array(udp6.length + 8);
    emitIpv6({ ...parseIpv6(udp6), nextHeader: IP_PROTOCOL.IPV6_FRAG, payloadLength: udp6.length - 40 + 8 }, atomic);
    atomic.set([IP_PROTOCOL.UDP, 0, 0, 0, 1, 2, 3, 4], 40);
    atomic.set(udp6.subarray(40), 48);
    assert.equal(delivered(stack.receive(0, atomic)).srcPort, 41000);
  });

  it('keeps outputs pointing into the received buffer valid and never throws on odd inputs', () => {
    const { stack } = stackAt();
    for (const input of [new Uint8Array([0x40]), new Uint8Array([0x60]), new Uint8Array(20).fill(0x45), new Uint8Array(40).fill(0x60)]) {
      assert.equal(stack.receive(0, input).kind, 'drop');
    }
  });
});

describe('IpStack: rate-limited ICMP errors', () => {
  it('builds port unreachables up to the burst, then refills with time', () => {
    const counters = new Counters();
    const stack = new IpStack({ addresses: [R4], counters, icmpErrorsPerSecond: 2 });
    const original = capture('udp4-port-unreachable', 0);
    assert.ok(stack.unreachable(0, original, 'port-unreachable'));
    assert.ok(stack.unreachable(0, original, 'port-unreachable'));
    assert.equal(stack.unreachable(0, original, 'port-unreachable'), undefined);
    assert.equal(counters.get('icmp.rate_limited'), 1);
    assert.ok(stack.unreachable(500, original, 'port-unreachable'));
    assert.equal(stack.unreachable(500, original, 'port-unreachable'), undefined);
    assert.equal(stack.unreachable(0, capture('udp4-port-unreachable', 1), 'port-unreachable'), undefined);
    assert.equal(counters.get('icmp.error_suppressed'), 1);
    assert.equal(counters.get('icmp.error_sent'), 3);
  });

  it('answers a delivered packet with an error whose checksums hold', () => {
    const { stack } = stackAt();
    const d = delivered(stack.receive(0, capture('udp6')));
    const error = stack.unreachable(0, d.packet, 'admin-prohibited');
    assert.ok(error);
    const ip = Ipv6Packet.checked(error);
    assert.deepEqual(ip.dst, A6);
    assert.equal(ip.payload[0], 1);
    assert.equal(ip.payload[1], 1);
    const v4 = stack.unreachable(0, delivered(stack.receive(0, capture('udp4'))).packet, 'admin-prohibited');
    assert.ok(v4);
    assert.ok(checksumIsValid(v4.subarray(0, 20)));
    assert.ok(checksumIsValid(v4.subarray(20)));
    assert.equal(v4[21], 13);
  });
});

describe('IpStack: construction', () => {
  it('refuses addresses of the wrong size', () => {
    assert.throws(() => new IpStack({ addresses: [new Uint8Array(5)], counters: new Counters() }), RangeError);
  });

  it('copies its addresses', () => {
    const mine = Uint8Array.from(R4);
    const counters = new Counters();
    const stack = new IpStack({ addresses: [mine], counters });
    mine[3] = 9;
    assert.equal(stack.receive(0, capture('ping4', 0)).kind, 'reply');
    assert.ok(stack.isLocal(R4));
  });

  it('emitIpv4 output feeds back in', () => {
    const { stack } = stackAt();
    const buf = new Uint8Array(20);
    emitIpv4({ ...parseIpv4(capture('ping4', 0)), protocol: 253, payloadLength: 0 }, buf);
    expectDrop(stack.receive(0, buf), 'ip.unknown_protocol');
  });
});
