/**
 * The TCP codec four ways (read, build, parse, emit) on segments captured from Linux kernel TCP
 * (test/fixtures/captures/tcp-capture.sh), plus the SYN/RST pair of captures.json.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WireError } from '../../../netstack/wire/errors.js';
import { parseAddress } from '../../../netstack/wire/ip-address.js';
import {
  TCP_ACK, TCP_FIN, TCP_HEADER_LEN, TCP_PSH, TCP_RST, TCP_SYN, TcpPacket, type TcpRepr,
  emitTcp, emptyOptions, parseTcp, readTcpOptions, segmentSum, tcpOptionsLength, tcpReprLength,
} from '../../../netstack/wire/tcp.js';
import { onesComplementSum } from '../../../netstack/wire/checksum.js';
import { capture, flip, hex } from '../../fixtures/captures/captures.js';
import { tcpCapture, tcpCaptureCount, type TcpCaptureName } from '../../fixtures/captures/tcp-captures.js';

const A4 = parseAddress('198.18.9.1');
const R4 = parseAddress('198.18.9.2');
const A6 = parseAddress('fd00:bf:9::1');
const R6 = parseAddress('fd00:bf:9::2');

/** The TCP segment of captured packet `i`, with the addresses for its pseudo-header. */
function segment(name: TcpCaptureName, i: number): { seg: Uint8Array; src: Uint8Array; dst: Uint8Array } {
  const ip = tcpCapture(name, i);
  const v6 = ip[0]! >> 4 === 6;
  const seg = ip.subarray(v6 ? 40 : 20);
  const fromA = TcpPacket.checked(seg).srcPort >= 43000;
  const [a, r] = v6 ? [A6, R6] : [A4, R4];
  return fromA ? { seg, src: a, dst: r } : { seg, src: r, dst: a };
}

function throwsCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => e instanceof WireError && e.code === code);
}

describe('TCP codec (RFC 9293 §3.1) on captured segments', () => {
  it('reads the captured IPv4 SYN with every option Linux sends', () => {
    const { seg, src, dst } = segment('tcp4-session', 0);
    const p = TcpPacket.checked(seg);
    assert.equal(p.srcPort, 43000);
    assert.equal(p.dstPort, 5000);
    assert.equal(p.seq, 0xa4236a8a);
    assert.equal(p.ack, 0);
    assert.equal(p.headerLength, 40);
    assert.equal(p.flags, TCP_SYN);
    assert.ok(p.syn && !p.ackFlag && !p.fin && !p.rst);
    assert.equal(p.window, 64240);
    assert.equal(p.checksum, 0xa48d);
    assert.equal(p.segmentLength, 1);
    assert.ok(p.verifyChecksum(src, dst));
    assert.ok(!p.verifyChecksum(dst, dst));
    const o = readTcpOptions(p);
    assert.equal(o.mss, 1460);
    assert.equal(o.windowScale, 10);
    assert.equal(o.sackPermitted, true);
    assert.deepEqual(o.timestamp, { value: 0xd7176910, echo: 0 });
    assert.deepEqual(o.sack, []);
  });

  it('reads the captured IPv6 SYN-ACK', () => {
    const { seg, src, dst } = segment('tcp6-session', 1);
    const p = TcpPacket.checked(seg);
    assert.equal(p.srcPort, 5000);
    assert.equal(p.flags, TCP_SYN | TCP_ACK);
    assert.equal(p.seq, 0xa9f66bdc);
    assert.equal(p.ack, 0x92063747);
    assert.ok(p.verifyChecksum(src, dst));
    const o = readTcpOptions(p);
    assert.equal(o.mss, 1440);
    assert.equal(o.windowScale, 10);
    assert.deepEqual(o.timestamp, { value: 0x218348a4, echo: 0xe08ff31c });
  });

  it('reads SACK blocks from the captured ACKs of both families', () => {
    for (const [name, i, blocks] of [
      ['tcp4-sack', 10, [0xf4d000ad, 0xf4d00655]],
      ['tcp4-sack', 11, [0xf4d000ad, 0xf4d00bfd]],
      ['tcp6-sack', 10, [0xd5d63f7b, 0xd5d6450f]],
    ] as const) {
      const { seg, src, dst } = segment(name, i);
      const p = TcpPacket.checked(seg);
      assert.ok(p.verifyChecksum(src, dst), `${name}[${i}]`);
      assert.equal(p.flags, TCP_ACK);
      assert.deepEqual(readTcpOptions(p).sack, blocks, `${name}[${i}]`);
      assert.equal(p.payload.length, 0);
    }
  });

  it('reads the data and FIN segments of a captured session', () => {
    const { seg } = segment('tcp4-session', 3);
    const p = TcpPacket.checked(seg);
    assert.equal(p.flags, TCP_ACK | TCP_PSH);
    assert.equal(Buffer.from(p.payload).toString(), 'hello bailiff');
    assert.equal(p.segmentLength, 13);
    const fin = TcpPacket.checked(segment('tcp4-session', 7).seg);
    assert.equal(fin.flags, TCP_ACK | TCP_FIN);
    assert.equal(fin.segmentLength, 1);
  });

  it('builds the captured IPv4 data segment through the setters', () => {
    const { seg, src, dst } = segment('tcp4-session', 5);
    const buf = new Uint8Array(seg.length);
    const p = TcpPacket.unchecked(buf);
    p.srcPort = 5000;
    p.dstPort = 43000;
    p.seq = 0x39328563;
    p.ack = 0xa4236a98;
    p.headerLength = 32;
    p.flags = TCP_ACK | TCP_PSH;
    p.window = 0x40;
    p.urgentPointer = 0;
    buf.set([1, 1, 8, 10, 0x79, 0x89, 0xdd, 0xce, 0xd7, 0x17, 0x69, 0x14], 20);
    buf.set(Buffer.from('welcome to bailiff'), 32);
    p.fillChecksum(src, dst);
    assert.equal(p.checksum, 0x3683);
    assert.equal(hex(buf), hex(seg));
  });

  it('parses and emits every captured segment byte for byte', () => {
    let n = 0;
    for (const name of ['tcp4-session', 'tcp6-session', 'tcp4-sack', 'tcp6-sack'] as const) {
      for (let i = 0; i < tcpCaptureCount(name); i++) {
        const { seg, src, dst } = segment(name, i);
        const repr = parseTcp(seg, src, dst);
        const buf = new Uint8Array(tcpReprLength(repr));
        assert.equal(emitTcp(repr, src, dst, buf), seg.length, `${name}[${i}]`);
        assert.equal(hex(buf), hex(seg), `${name}[${i}]`);
        n++;
      }
    }
    assert.ok(n > 90);
  });

  it('parses the SYN and RST of captures.json (no window scale on the RST)', () => {
    const S4 = parseAddress('198.18.7.1');
    const D4 = parseAddress('198.18.7.2');
    const syn = parseTcp(capture('tcp4-syn-rst', 0).subarray(20), S4, D4);
    assert.equal(syn.flags, TCP_SYN);
    assert.equal(syn.dstPort, 5432);
    assert.equal(syn.sackPermitted, true);
    const rst = parseTcp(capture('tcp4-syn-rst', 1).subarray(20), D4, S4);
    assert.equal(rst.flags, TCP_RST | TCP_ACK);
    assert.equal(rst.ack, (syn.seq + 1) >>> 0);
    assert.equal(rst.seq, 0);
    assert.equal(rst.window, 0);
    const S6 = parseAddress('fd00:bf:1::1');
    const D6 = parseAddress('fd00:bf:1::2');
    const rst6 = capture('tcp6-syn-rst', 1).subarray(40);
    const r = parseTcp(rst6, D6, S6);
    const buf = new Uint8Array(tcpReprLength(r));
    emitTcp(r, D6, S6, buf);
    assert.equal(hex(buf), hex(rst6));
  });

  it('emits a SYN without timestamps in the NOP-padded layout', () => {
    const repr: TcpRepr = {
      srcPort: 1, dstPort: 2, seq: 100, ack: 0, flags: TCP_SYN, window: 65535, urgentPointer: 0,
      payload: new Uint8Array(0), ...emptyOptions(), mss: 1380, windowScale: 7, sackPermitted: true,
    };
    assert.equal(tcpOptionsLength(repr), 12);
    const buf = new Uint8Array(tcpReprLength(repr));
    emitTcp(repr, A4, R4, buf);
    assert.equal(hex(buf.subarray(20)), '02040564' + '01010402' + '01030307');
    const back = parseTcp(buf, A4, R4);
    assert.equal(back.mss, 1380);
    assert.equal(back.windowScale, 7);
    assert.equal(back.sackPermitted, true);
    assert.equal(back.timestamp, undefined);
  });

  it('round-trips four SACK blocks without timestamps, three with', () => {
    const base: TcpRepr = {
      srcPort: 1, dstPort: 2, seq: 1, ack: 2, flags: TCP_ACK, window: 10, urgentPointer: 0,
      payload: Uint8Array.of(1, 2, 3), ...emptyOptions(), sack: [1, 2, 3, 4, 5, 6, 0xfffffff0, 7],
    };
    const buf = new Uint8Array(tcpReprLength(base));
    emitTcp(base, A6, R6, buf);
    assert.equal(TcpPacket.checked(buf).headerLength, 56);
    assert.deepEqual(parseTcp(buf, A6, R6).sack, base.sack);
    const withTs = { ...base, sack: [1, 2, 3, 4, 5, 6], timestamp: { value: 9, echo: 8 } };
    const b2 = new Uint8Array(tcpReprLength(withTs));
    emitTcp(withTs, A6, R6, b2);
    const back = parseTcp(b2, A6, R6);
    assert.deepEqual(back.sack, withTs.sack);
    assert.deepEqual(back.timestamp, { value: 9, echo: 8 });
    throwsCode(() => emitTcp({ ...withTs, sack: [1, 2, 3, 4, 5, 6, 7, 8] }, A6, R6, new Uint8Array(100)), 'TCP_BAD_REPR');
  });

  it('skips unknown options by their length and stops at EOL', () => {
    const { seg, src, dst } = segment('tcp4-session', 0);
    const s = seg.slice();
    // Replace the trailing NOP + window scale (4 bytes) with an unknown 4-byte option (kind 30).
    s.set([30, 4, 0xaa, 0xbb], 36);
    TcpPacket.unchecked(s).fillChecksum(src, dst);
    const r = parseTcp(s, src, dst);
    assert.equal(r.windowScale, undefined);
    assert.equal(r.mss, 1460);
    s.set([0, 3, 3, 7], 36); // EOL: the window scale after it is not read
    TcpPacket.unchecked(s).fillChecksum(src, dst);
    assert.equal(parseTcp(s, src, dst).windowScale, undefined);
  });

  it('refuses truncated segments, bad data offsets, bad option lengths and bad checksums', () => {
    const { seg, src, dst } = segment('tcp4-session', 0);
    throwsCode(() => TcpPacket.checked(seg.subarray(0, 19)), 'TCP_TRUNCATED');
    throwsCode(() => TcpPacket.checked(seg.subarray(0, 39)), 'TCP_BAD_HEADER_LENGTH');
    const low = seg.slice(); low[12] = 0x40;
    throwsCode(() => TcpPacket.checked(low), 'TCP_BAD_HEADER_LENGTH');
    const overrun = seg.slice(); overrun[21] = 40; // MSS option length past the header
    throwsCode(() => TcpPacket.checked(overrun), 'TCP_BAD_OPTION');
    const zero = seg.slice(); zero[21] = 0;
    throwsCode(() => TcpPacket.checked(zero), 'TCP_BAD_OPTION');
    const mss3 = seg.slice(); mss3.set([2, 3, 5, 1], 20); // known kind, wrong length
    throwsCode(() => readTcpOptions(TcpPacket.checked(mss3)), 'TCP_BAD_OPTION');
    throwsCode(() => parseTcp(flip(seg.slice(), 30), src, dst), 'TCP_BAD_CHECKSUM');
    assert.equal(parseTcp(flip(seg.slice(), 30), src, dst, false).mss, 1460);
  });

  it('reads window scale above 14 as 14 (RFC 7323 §2.3)', () => {
    const { seg } = segment('tcp4-session', 0);
    const s = seg.slice(); s[39] = 15;
    assert.equal(readTcpOptions(TcpPacket.checked(s)).windowScale, 14);
  });

  it('sums 4 bytes at a time exactly like the byte-wise sum, at every alignment and length', () => {
    const big = new Uint8Array(1600).map((_, i) => (i * 131 + 7) & 0xff);
    for (const offset of [0, 1, 2, 3, 4, 20, 40]) {
      for (const len of [0, 1, 63, 64, 65, 66, 67, 1380, 1420, 1500]) {
        const view = big.subarray(offset, offset + len);
        for (const initial of [0, 1, 0xffff, 0x12345]) {
          assert.equal(segmentSum(view, initial), onesComplementSum(view, initial), `offset ${offset} len ${len}`);
        }
      }
    }
    const ones = new Uint8Array(1400).fill(0xff);
    assert.equal(segmentSum(ones), onesComplementSum(ones));
  });

  it('refuses a repr that does not fit', () => {
    const repr: TcpRepr = {
      srcPort: 70000, dstPort: 2, seq: 1, ack: 2, flags: TCP_ACK, window: 10, urgentPointer: 0,
      payload: new Uint8Array(0), ...emptyOptions(),
    };
    throwsCode(() => emitTcp(repr, A4, R4, new Uint8Array(20)), 'TCP_BAD_REPR');
    throwsCode(() => emitTcp({ ...repr, srcPort: 1 }, A4, R4, new Uint8Array(TCP_HEADER_LEN - 1)), 'BUFFER_TOO_SMALL');
  });
});
