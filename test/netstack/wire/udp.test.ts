import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WireError } from '../../../netstack/wire/errors.js';
import { parseAddress } from '../../../netstack/wire/ip-address.js';
import { UDP_HEADER_LEN, UdpPacket, emitUdp, parseUdp, udpReprLength } from '../../../netstack/wire/udp.js';
import { capture, flip, hex } from '../../fixtures/captures/captures.js';

const A4 = parseAddress('198.18.7.1');
const R4 = parseAddress('198.18.7.2');
const A6 = parseAddress('fd00:bf:1::1');
const R6 = parseAddress('fd00:bf:1::2');

function throwsCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => e instanceof WireError && e.code === code);
}

describe('UDP (RFC 768) on captured datagrams', () => {
  it('reads the captured IPv4 datagram', () => {
    const u = UdpPacket.checked(capture('udp4').subarray(20));
    assert.equal(u.srcPort, 41000);
    assert.equal(u.dstPort, 40000);
    assert.equal(u.length, 29);
    assert.equal(u.checksum, 0xe593);
    assert.equal(Buffer.from(u.payload).toString(), 'bailiff udp4 datagram');
    assert.ok(u.verifyChecksum(A4, R4));
    assert.ok(!u.verifyChecksum(R4, R4));
  });

  it('builds the captured IPv6 datagram through the setters', () => {
    const captured = capture('udp6').subarray(40);
    const buf = new Uint8Array(captured.length);
    buf.set(Buffer.from('bailiff udp6 datagram'), UDP_HEADER_LEN);
    const u = UdpPacket.unchecked(buf);
    u.srcPort = 41000;
    u.dstPort = 40000;
    u.length = 29;
    u.fillChecksum(A6, R6);
    assert.equal(u.checksum, 0x8435);
    assert.equal(hex(buf), hex(captured));
  });

  it('parses and emits captured datagrams of both families', () => {
    for (const [name, src, dst, offset] of [['udp4', A4, R4, 20], ['udp6', A6, R6, 40], ['udp4-no-checksum', A4, R4, 20]] as const) {
      const captured = capture(name).subarray(offset);
      const repr = parseUdp(captured, src, dst);
      assert.equal(repr.srcPort >> 8, 0xa0, name);
      assert.equal(repr.dstPort, 40000, name);
      const buf = new Uint8Array(udpReprLength(repr));
      emitUdp(repr, src, dst, buf);
      if (name === 'udp4-no-checksum') {
        // We always checksum; the capture had none (SO_NO_CHECK).
        assert.equal(hex(buf.subarray(0, 6)), hex(captured.subarray(0, 6)));
        assert.ok(UdpPacket.checked(buf).verifyChecksum(src, dst));
      } else {
        assert.equal(hex(buf), hex(captured), name);
      }
    }
  });

  it('accepts a zero checksum on IPv4 only (RFC 768; RFC 8200 §8.1)', () => {
    const none = capture('udp4-no-checksum').subarray(20);
    assert.equal(UdpPacket.checked(none).checksum, 0);
    assert.equal(Buffer.from(parseUdp(none, A4, R4).payload).toString(), 'no checksum');
    const v6 = capture('udp6').subarray(40).slice();
    v6[6] = 0; v6[7] = 0;
    throwsCode(() => parseUdp(v6, A6, R6), 'UDP_MISSING_CHECKSUM');
  });

  it('sends a computed zero checksum as all ones', () => {
    // Pick the payload word that makes the sum come out to zero, then check the field says 0xffff.
    const payload = new Uint8Array(2);
    const probe = new Uint8Array(10);
    emitUdp({ srcPort: 1, dstPort: 2, payload }, A4, R4, probe);
    // The probe's checksum is ~S for the sum S of everything else; adding ~S as a payload word
    // makes the total all ones, whose complement, the computed checksum, is zero.
    const word = probe[6]! << 8 | probe[7]!;
    payload[0] = word >> 8; payload[1] = word & 0xff;
    const buf = new Uint8Array(10);
    emitUdp({ srcPort: 1, dstPort: 2, payload }, A4, R4, buf);
    assert.equal(UdpPacket.checked(buf).checksum, 0xffff);
    assert.ok(UdpPacket.checked(buf).verifyChecksum(A4, R4));
  });

  it('stops the payload at the Length field and refuses bad lengths', () => {
    const captured = capture('udp4').subarray(20);
    const longer = new Uint8Array(captured.length + 3);
    longer.set(captured);
    assert.equal(UdpPacket.checked(longer).payload.length, 21);
    assert.equal(parseUdp(longer, A4, R4).payload.length, 21);
    throwsCode(() => UdpPacket.checked(captured.subarray(0, 7)), 'UDP_TRUNCATED');
    throwsCode(() => UdpPacket.checked(captured.subarray(0, 28)), 'UDP_TRUNCATED');
    const short = captured.slice(); short[4] = 0; short[5] = 7;
    throwsCode(() => UdpPacket.checked(short), 'UDP_BAD_LENGTH');
    const flipped = captured.slice(); flip(flipped, 10, 1);
    throwsCode(() => parseUdp(flipped, A4, R4), 'UDP_BAD_CHECKSUM');
  });

  it('refuses to emit more than a datagram holds or into a short buffer', () => {
    throwsCode(() => emitUdp({ srcPort: 1, dstPort: 2, payload: new Uint8Array(65528) }, A4, R4, new Uint8Array(65536)), 'UDP_TOO_LARGE');
    throwsCode(() => emitUdp({ srcPort: 1, dstPort: 2, payload: new Uint8Array(4) }, A4, R4, new Uint8Array(11)), 'BUFFER_TOO_SMALL');
  });
});
