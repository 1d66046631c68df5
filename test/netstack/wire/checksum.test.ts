import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checksumIsValid, fold, internetChecksum, onesComplementSum, pseudoHeaderSum, readU16, readU32,
  updateChecksum, updateChecksumBytes, writeU16, writeU32,
} from '../../../netstack/wire/checksum.js';
import { bytes, capture, flip } from '../../fixtures/captures/captures.js';

describe('internet checksum (RFC 1071)', () => {
  it('matches the RFC 1071 §3 worked example', () => {
    // 00 01 f2 03 f4 f5 f6 f7 sums to ddf2 (RFC 1071 §3, "Example").
    assert.equal(onesComplementSum(bytes('0001f203f4f5f6f7')), 0xddf2);
    assert.equal(internetChecksum(bytes('0001f203f4f5f6f7')), 0x220d);
  });

  it('pads an odd byte with zero', () => {
    assert.equal(onesComplementSum(bytes('0102 03')), 0x0102 + 0x0300);
  });

  it('reproduces the header checksum of captured IPv4 packets', () => {
    for (const packet of [capture('ping4', 0), capture('ping4', 1), capture('ping4-record-route', 0), capture('udp4-port-unreachable', 1)]) {
      const hl = (packet[0]! & 0x0f) * 4;
      const header = packet.slice(0, hl);
      const captured = readU16(header, 10);
      assert.ok(checksumIsValid(header));
      writeU16(header, 10, 0);
      assert.equal(internetChecksum(header), captured);
    }
  });

  it('verifies captured UDP and TCP checksums over the pseudo-header, both families', () => {
    const udp4 = capture('udp4');
    assert.ok(checksumIsValid(udp4.subarray(20), pseudoHeaderSum(udp4.subarray(12, 16), udp4.subarray(16, 20), 17, udp4.length - 20)));
    const udp6 = capture('udp6');
    assert.ok(checksumIsValid(udp6.subarray(40), pseudoHeaderSum(udp6.subarray(8, 24), udp6.subarray(24, 40), 17, udp6.length - 40)));
    const syn6 = capture('tcp6-syn-rst', 0);
    assert.ok(checksumIsValid(syn6.subarray(40), pseudoHeaderSum(syn6.subarray(8, 24), syn6.subarray(24, 40), 6, syn6.length - 40)));
    const rst6 = capture('tcp6-syn-rst', 1);
    assert.ok(checksumIsValid(rst6.subarray(40), pseudoHeaderSum(rst6.subarray(8, 24), rst6.subarray(24, 40), 6, rst6.length - 40)));
    // A changed byte is caught.
    flip(udp6, 45, 0x01);
    assert.ok(!checksumIsValid(udp6.subarray(40), pseudoHeaderSum(udp6.subarray(8, 24), udp6.subarray(24, 40), 17, udp6.length - 40)));
  });

  it('folds carries end-around', () => {
    assert.equal(fold(0x1ffff), 0x0001);
    assert.equal(fold(0x2fffd), 0xffff);
  });
});

describe('incremental update (RFC 1624)', () => {
  it('equals a full recomputation after the TTL of a captured header changes', () => {
    const header = capture('ping4', 0).slice(0, 20);
    for (const ttl of [63, 1, 0, 255]) {
      const h = header.slice();
      const oldWord = readU16(h, 8);
      h[8] = ttl;
      const newWord = readU16(h, 8);
      const incremental = updateChecksum(readU16(h, 10), oldWord, newWord);
      writeU16(h, 10, 0);
      assert.equal(incremental, internetChecksum(h), `ttl ${ttl}`);
    }
  });

  it('gives the RFC 1624 §4 result, not the -0 of eqn. 2', () => {
    // RFC 1624 §4: HC = 0xdd2f, m = 0x5555 -> m' = 0x3285 gives HC' = 0x0000.
    assert.equal(updateChecksum(0xdd2f, 0x5555, 0x3285), 0x0000);
  });

  it('rewrites an address (NAT-style) in a captured UDP packet', () => {
    const packet = capture('udp4');
    const newSrc = bytes('c6120709'); // 198.18.7.9
    const udpChecksum = readU16(packet, 26);
    const ipChecksum = readU16(packet, 10);
    const updatedUdp = updateChecksumBytes(udpChecksum, packet.subarray(12, 16), newSrc);
    const updatedIp = updateChecksumBytes(ipChecksum, packet.subarray(12, 16), newSrc);
    packet.set(newSrc, 12);
    writeU16(packet, 26, updatedUdp);
    writeU16(packet, 10, updatedIp);
    assert.ok(checksumIsValid(packet.subarray(0, 20)));
    assert.ok(checksumIsValid(packet.subarray(20), pseudoHeaderSum(packet.subarray(12, 16), packet.subarray(16, 20), 17, packet.length - 20)));
  });
});

describe('big-endian helpers', () => {
  it('read and write 16 and 32 bit words', () => {
    const b = new Uint8Array(6);
    writeU16(b, 0, 0xabcd);
    writeU32(b, 2, 0xfedcba98);
    assert.deepEqual([...b], [0xab, 0xcd, 0xfe, 0xdc, 0xba, 0x98]);
    assert.equal(readU16(b, 0), 0xabcd);
    assert.equal(readU32(b, 2), 0xfedcba98);
  });
});
