/**
 * UDP, RFC 768, with the checksum rules of RFC 768 (IPv4: zero means "none", a computed zero is
 * sent as all ones) and RFC 8200 §8.1 (IPv6: the checksum is mandatory, zero is refused).
 *
 * |          Source Port          |       Destination Port        |
 * |            Length             |           Checksum            |
 * |                          data octets ...
 */
import { checksumIsValid, internetChecksum, pseudoHeaderSum, readU16, writeU16 } from './checksum.js';
import { WireError } from './errors.js';
import { IP_PROTOCOL } from './ipv4.js';

export const UDP_HEADER_LEN = 8;
export const UDP_MAX_LEN = 0xffff;

// Field offsets.
export const UDP_SRC_PORT = 0;
export const UDP_DST_PORT = 2;
export const UDP_LENGTH = 4;
export const UDP_CHECKSUM = 6;
export const UDP_DATA = 8;

export class UdpPacket {
  readonly buffer: Uint8Array;

  private constructor(buffer: Uint8Array) {
    this.buffer = buffer;
  }

  static unchecked(buffer: Uint8Array): UdpPacket {
    return new UdpPacket(buffer);
  }

  /**
   * Header whole and the Length field within the buffer. A buffer longer than Length is allowed
   * (the IP payload may carry trailing bytes); `payload` stops at Length.
   */
  static checked(buffer: Uint8Array): UdpPacket {
    if (buffer.length < UDP_HEADER_LEN) throw new WireError('UDP_TRUNCATED', `${buffer.length} bytes`);
    const p = new UdpPacket(buffer);
    if (p.length < UDP_HEADER_LEN) throw new WireError('UDP_BAD_LENGTH', `length field ${p.length}`);
    if (p.length > buffer.length) throw new WireError('UDP_TRUNCATED', `length field ${p.length} > ${buffer.length} bytes`);
    return p;
  }

  get srcPort(): number { return readU16(this.buffer, UDP_SRC_PORT); }
  set srcPort(v: number) { writeU16(this.buffer, UDP_SRC_PORT, v); }

  get dstPort(): number { return readU16(this.buffer, UDP_DST_PORT); }
  set dstPort(v: number) { writeU16(this.buffer, UDP_DST_PORT, v); }

  get length(): number { return readU16(this.buffer, UDP_LENGTH); }
  set length(v: number) { writeU16(this.buffer, UDP_LENGTH, v); }

  get checksum(): number { return readU16(this.buffer, UDP_CHECKSUM); }
  set checksum(v: number) { writeU16(this.buffer, UDP_CHECKSUM, v); }

  get header(): Uint8Array { return this.buffer.subarray(0, UDP_HEADER_LEN); }

  get payload(): Uint8Array { return this.buffer.subarray(UDP_DATA, this.length); }

  /** Header and payload, without bytes past Length. */
  get datagram(): Uint8Array { return this.buffer.subarray(0, this.length); }

  /** True when the checksum is right, or absent on IPv4. `src`/`dst` pick the pseudo-header family. */
  verifyChecksum(src: Uint8Array, dst: Uint8Array): boolean {
    if (this.checksum === 0) return src.length === 4;
    const datagram = this.datagram;
    return checksumIsValid(datagram, pseudoHeaderSum(src, dst, IP_PROTOCOL.UDP, datagram.length));
  }

  fillChecksum(src: Uint8Array, dst: Uint8Array): void {
    this.checksum = 0;
    const datagram = this.datagram;
    const sum = internetChecksum(datagram, pseudoHeaderSum(src, dst, IP_PROTOCOL.UDP, datagram.length));
    this.checksum = sum === 0 ? 0xffff : sum;
  }
}

export interface UdpRepr {
  srcPort: number;
  dstPort: number;
  payload: Uint8Array;
}

/** Checks lengths and the checksum (against the pseudo-header of `src`/`dst`). The payload is a view. */
export function parseUdp(bytes: Uint8Array | UdpPacket, src: Uint8Array, dst: Uint8Array): UdpRepr {
  const p = bytes instanceof UdpPacket ? bytes : UdpPacket.checked(bytes);
  if (p.checksum === 0 && src.length !== 4) throw new WireError('UDP_MISSING_CHECKSUM', 'zero checksum over IPv6');
  if (!p.verifyChecksum(src, dst)) throw new WireError('UDP_BAD_CHECKSUM');
  return { srcPort: p.srcPort, dstPort: p.dstPort, payload: p.payload };
}

export function udpReprLength(repr: UdpRepr): number {
  return UDP_HEADER_LEN + repr.payload.length;
}

/** Writes header and payload at the start of `buf` with the checksum filled; returns the length. */
export function emitUdp(repr: UdpRepr, src: Uint8Array, dst: Uint8Array, buf: Uint8Array): number {
  const len = udpReprLength(repr);
  if (len > UDP_MAX_LEN) throw new WireError('UDP_TOO_LARGE', `${len} bytes`);
  if (buf.length < len) throw new WireError('BUFFER_TOO_SMALL', `${buf.length} < ${len}`);
  const out = buf.subarray(0, len);
  const p = UdpPacket.unchecked(out);
  out.set(repr.payload, UDP_DATA);
  p.srcPort = repr.srcPort;
  p.dstPort = repr.dstPort;
  p.length = len;
  p.fillChecksum(src, dst);
  return len;
}
