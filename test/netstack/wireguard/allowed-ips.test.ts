/** Cryptokey routing table: longest prefix match, both families, removal. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { cidrContains, formatCidr, parseAddress, parseCidr } from '../../../netstack/wire/ip-address.js';
import { AllowedIps } from '../../../netstack/wireguard/allowed-ips.js';
import { ipPacketLength, sourceOffset, destinationOffset } from '../../../netstack/wireguard/inner-packet.js';

describe('AllowedIps', () => {
  it('returns the longest matching prefix in each family', () => {
    const t = new AllowedIps<string>();
    t.insert(parseCidr('0.0.0.0/0'), 'default');
    t.insert(parseCidr('100.64.0.0/10'), 'cgnat');
    t.insert(parseCidr('100.64.1.0/24'), 'subnet');
    t.insert(parseCidr('100.64.1.7/32'), 'host');
    t.insert(parseCidr('fd00::/8'), 'ula');
    t.insert(parseCidr('fd00:1::/32'), 'ula1');
    const at = (a: string) => t.lookupAddress(parseAddress(a));
    assert.equal(at('100.64.1.7'), 'host');
    assert.equal(at('100.64.1.8'), 'subnet');
    assert.equal(at('100.65.0.1'), 'cgnat');
    assert.equal(at('8.8.8.8'), 'default');
    assert.equal(at('fd00:1::5'), 'ula1');
    assert.equal(at('fd00:2::5'), 'ula');
    assert.equal(at('2001:db8::1'), undefined, 'no IPv6 default');
    const packet = new Uint8Array(8 + 4);
    packet.set(parseAddress('100.64.1.9'), 8);
    assert.equal(t.lookup(packet, 8, 4), 'subnet', 'reads straight from packet bytes');
  });

  it('masks host bits on insert, moves a prefix to its new owner, removes by value', () => {
    const t = new AllowedIps<string>();
    t.insert({ address: parseAddress('10.1.2.3'), prefixLength: 16 }, 'a');
    assert.equal(t.lookupAddress(parseAddress('10.1.200.1')), 'a');
    t.insert(parseCidr('10.1.0.0/16'), 'b');
    assert.deepEqual(t.entriesFor('a'), []);
    t.insert(parseCidr('10.2.0.0/16'), 'a');
    t.insert(parseCidr('::1/128'), 'a');
    assert.deepEqual(t.entriesFor('a').map(formatCidr), ['10.2.0.0/16', '::1/128']);
    t.removeValue('a');
    assert.equal(t.lookupAddress(parseAddress('10.2.0.1')), undefined);
    assert.equal(t.lookupAddress(parseAddress('10.1.0.1')), 'b');
    assert.throws(() => t.insert({ address: new Uint8Array(5), prefixLength: 8 }, 'x'), RangeError);
  });

  it('agrees with a linear longest-prefix scan on random tables', () => {
    const cidr = fc.tuple(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 32 }))
      .map(([address, prefixLength]) => parseCidr(`${address.join('.')}/${prefixLength}`));
    fc.assert(fc.property(fc.array(cidr, { maxLength: 30 }), fc.array(fc.uint8Array({ minLength: 4, maxLength: 4 }), { maxLength: 30 }), (cidrs, addresses) => {
      const t = new AllowedIps<number>();
      cidrs.forEach((c, i) => t.insert(c, i));
      for (const a of addresses) {
        let best: number | undefined;
        let bestLength = -1;
        cidrs.forEach((c, i) => {
          if (cidrContains(c, a) && c.prefixLength >= bestLength) { best = i; bestLength = c.prefixLength; }
        });
        assert.equal(t.lookupAddress(a), best);
      }
    }));
  });
});

describe('inner packet fields', () => {
  it('reads IPv4 total length and IPv6 payload length, refusing what does not fit', () => {
    const v4 = new Uint8Array(40);
    v4[0] = 0x45; v4[3] = 28;
    assert.equal(ipPacketLength(v4), 28);
    assert.equal(sourceOffset(v4), 12);
    assert.equal(destinationOffset(v4), 16);
    v4[3] = 41;
    assert.equal(ipPacketLength(v4), -1, 'longer than the bytes');
    v4[3] = 19;
    assert.equal(ipPacketLength(v4), -1, 'shorter than a header');
    const v6 = new Uint8Array(60);
    v6[0] = 0x60; v6[5] = 20;
    assert.equal(ipPacketLength(v6), 60);
    assert.equal(sourceOffset(v6), 8);
    assert.equal(destinationOffset(v6), 24);
    v6[5] = 21;
    assert.equal(ipPacketLength(v6), -1);
    assert.equal(ipPacketLength(new Uint8Array(39).fill(0x60)), -1);
    assert.equal(ipPacketLength(new Uint8Array(40).fill(0x50)), -1, 'version 5');
    assert.equal(ipPacketLength(new Uint8Array(0)), -1);
  });
});
