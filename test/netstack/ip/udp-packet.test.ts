import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Counters } from '../../../netstack/counters.js';
import { IpStack } from '../../../netstack/ip/stack.js';
import { buildUdpPacket } from '../../../netstack/ip/udp-packet.js';
import { WireError } from '../../../netstack/wire/errors.js';
import { parseAddress } from '../../../netstack/wire/ip-address.js';
import { parseIpv4 } from '../../../netstack/wire/ipv4.js';
import { capture, hex } from '../../fixtures/captures/captures.js';

const A4 = parseAddress('198.18.7.1');
const R4 = parseAddress('198.18.7.2');
const A6 = parseAddress('fd00:bf:1::1');
const R6 = parseAddress('fd00:bf:1::2');

describe('buildUdpPacket', () => {
  it('builds the captured IPv4 datagram (Linux used identification 0xfbb9, we send 0 with DF)', () => {
    const out = buildUdpPacket({ src: A4, dst: R4, srcPort: 41000, dstPort: 40000, payload: Buffer.from('bailiff udp4 datagram') });
    const linux = capture('udp4');
    assert.equal(hex(out.subarray(20)), hex(linux.subarray(20)));
    const ip = parseIpv4(out);
    assert.deepEqual(ip, { ...parseIpv4(linux), identification: 0 });
  });

  it('builds the captured IPv6 datagram (all but the flow label)', () => {
    const out = buildUdpPacket({ src: A6, dst: R6, srcPort: 41000, dstPort: 40000, payload: Buffer.from('bailiff udp6 datagram') });
    const linux = capture('udp6');
    assert.equal(hex(out.subarray(4)), hex(linux.subarray(4)));
    assert.equal(hex(out.subarray(0, 4)), '60000000');
  });

  it('is delivered back by the stack', () => {
    const stack = new IpStack({ addresses: [], counters: new Counters() });
    const out = stack.receive(0, buildUdpPacket({ src: R6, dst: A6, srcPort: 53, dstPort: 41000, payload: new Uint8Array([1, 2, 3]), ttl: 9 }));
    assert.equal(out.kind, 'deliver');
    if (out.kind === 'deliver') assert.deepEqual([out.srcPort, out.dstPort, [...out.payload]], [53, 41000, [1, 2, 3]]);
  });

  it('refuses mixed families and oversize payloads', () => {
    assert.throws(() => buildUdpPacket({ src: A4, dst: R6, srcPort: 1, dstPort: 2, payload: new Uint8Array(0) }), RangeError);
    assert.throws(
      () => buildUdpPacket({ src: A4, dst: R4, srcPort: 1, dstPort: 2, payload: new Uint8Array(65508) }),
      (e: unknown) => e instanceof WireError && e.code === 'UDP_TOO_LARGE',
    );
    assert.equal(buildUdpPacket({ src: A4, dst: R4, srcPort: 1, dstPort: 2, payload: new Uint8Array(65507) }).length, 65535);
    assert.throws(
      () => buildUdpPacket({ src: A6, dst: R6, srcPort: 1, dstPort: 2, payload: new Uint8Array(65528) }),
      (e: unknown) => e instanceof WireError && e.code === 'UDP_TOO_LARGE',
    );
  });
});
