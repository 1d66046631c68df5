/**
 * IPv4 header, RFC 791 §3.1 (fields), RFC 2474/3168 (DSCP/ECN in the old TOS octet),
 * RFC 6864 (identification only matters for fragmentable datagrams).
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * |Version|  IHL  |   DSCP    |ECN|          Total Length         |
 * |         Identification        |Flags|      Fragment Offset    |
 * |  Time to Live |    Protocol   |         Header Checksum       |
 * |                       Source Address                          |
 * |                    Destination Address                        |
 * |                    Options                    |    Padding    |
 *
 * `Ipv4Packet` is a view over bytes (length checked once by `checked`), `Ipv4Repr` the parsed
 * value, `emitIpv4` writes a header from a repr into a caller buffer.
 */
import { internetChecksum, checksumIsValid, readU16, writeU16 } from './checksum.js';
import { WireError } from './errors.js';

/** IANA protocol numbers used by the stack (IPv4 Protocol / IPv6 Next Header share one registry). */
export const IP_PROTOCOL = {
  HOPOPTS: 0,
  ICMP: 1,
  TCP: 6,
  UDP: 17,
  IPV6_ROUTE: 43,
  IPV6_FRAG: 44,
  ICMPV6: 58,
  IPV6_NONXT: 59,
  IPV6_OPTS: 60,
} as const;

export const IPV4_VERSION = 4;
export const IPV4_MIN_HEADER_LEN = 20;
export const IPV4_MAX_HEADER_LEN = 60;
export const IPV4_MAX_TOTAL_LEN = 0xffff;

// Field offsets (RFC 791 §3.1).
export const IPV4_VER_IHL = 0;
export const IPV4_TOS = 1;
export const IPV4_TOTAL_LEN = 2;
export const IPV4_IDENT = 4;
export const IPV4_FLG_OFF = 6;
export const IPV4_TTL = 8;
export const IPV4_PROTOCOL = 9;
export const IPV4_CHECKSUM = 10;
export const IPV4_SRC_ADDR = 12;
export const IPV4_DST_ADDR = 16;
export const IPV4_OPTIONS = 20;

const FLAG_DF = 0x4000;
const FLAG_MF = 0x2000;
const FRAG_OFFSET_MASK = 0x1fff;

// Option types (RFC 791 §3.1): End and No-op are one octet; every other type carries a length octet.
const OPT_END = 0;
const OPT_NOP = 1;
export const IPV4_OPT_LSRR = 0x83; // Loose Source and Record Route
export const IPV4_OPT_SSRR = 0x89; // Strict Source and Record Route

/** The version nibble of an IP packet, or undefined for an empty buffer. */
export function ipVersion(bytes: Uint8Array): number | undefined {
  return bytes.length === 0 ? undefined : bytes[0]! >> 4;
}

export class Ipv4Packet {
  readonly buffer: Uint8Array;

  private constructor(buffer: Uint8Array) {
    this.buffer = buffer;
  }

  /** A view with no checks, for building a header in place in a buffer the caller sized. */
  static unchecked(buffer: Uint8Array): Ipv4Packet {
    return new Ipv4Packet(buffer);
  }

  /**
   * A view whose every field read is in bounds: version 4, IHL within the buffer, total length
   * covering the header and not past the buffer, options well-formed. The buffer may be longer
   * than the total length (WireGuard pads to 16 bytes); `payload` stops at the total length.
   * Does not verify the checksum (see `verifyChecksum`, `parseIpv4`).
   */
  static checked(buffer: Uint8Array): Ipv4Packet {
    const packet = new Ipv4Packet(buffer);
    packet.#checkHeader();
    const total = packet.totalLength;
    if (total < packet.headerLength) throw new WireError('IPV4_BAD_TOTAL_LENGTH', `total length ${total} < header length ${packet.headerLength}`);
    if (total > buffer.length) throw new WireError('IPV4_TRUNCATED', `total length ${total} > ${buffer.length} bytes`);
    return packet;
  }

  /**
   * A view of the IPv4 datagram quoted inside an ICMP error (RFC 792, RFC 1812 §4.3.2.3): the
   * header must be whole, but the quote usually stops before the total length says.
   */
  static checkedQuote(buffer: Uint8Array): Ipv4Packet {
    const packet = new Ipv4Packet(buffer);
    packet.#checkHeader();
    if (packet.totalLength < packet.headerLength) throw new WireError('IPV4_BAD_TOTAL_LENGTH');
    return packet;
  }

  #checkHeader(): void {
    const b = this.buffer;
    if (b.length < IPV4_MIN_HEADER_LEN) throw new WireError('IPV4_TRUNCATED', `${b.length} bytes`);
    if (this.version !== IPV4_VERSION) throw new WireError('IPV4_BAD_VERSION', `version ${this.version}`);
    const hl = this.headerLength;
    if (hl < IPV4_MIN_HEADER_LEN) throw new WireError('IPV4_BAD_HEADER_LENGTH', `IHL ${hl / 4}`);
    if (hl > b.length) throw new WireError('IPV4_TRUNCATED', `header length ${hl} > ${b.length} bytes`);
    checkOptions(b.subarray(IPV4_OPTIONS, hl));
  }

  get version(): number { return this.buffer[IPV4_VER_IHL]! >> 4; }
  set version(v: number) { this.buffer[IPV4_VER_IHL] = (v << 4) | (this.buffer[IPV4_VER_IHL]! & 0x0f); }

  /** Header length in bytes (IHL × 4). */
  get headerLength(): number { return (this.buffer[IPV4_VER_IHL]! & 0x0f) * 4; }
  set headerLength(bytes: number) { this.buffer[IPV4_VER_IHL] = (this.buffer[IPV4_VER_IHL]! & 0xf0) | ((bytes >> 2) & 0x0f); }

  get dscp(): number { return this.buffer[IPV4_TOS]! >> 2; }
  set dscp(v: number) { this.buffer[IPV4_TOS] = ((v & 0x3f) << 2) | (this.buffer[IPV4_TOS]! & 0x03); }

  get ecn(): number { return this.buffer[IPV4_TOS]! & 0x03; }
  set ecn(v: number) { this.buffer[IPV4_TOS] = (this.buffer[IPV4_TOS]! & 0xfc) | (v & 0x03); }

  get totalLength(): number { return readU16(this.buffer, IPV4_TOTAL_LEN); }
  set totalLength(v: number) { writeU16(this.buffer, IPV4_TOTAL_LEN, v); }

  get identification(): number { return readU16(this.buffer, IPV4_IDENT); }
  set identification(v: number) { writeU16(this.buffer, IPV4_IDENT, v); }

  get dontFragment(): boolean { return (readU16(this.buffer, IPV4_FLG_OFF) & FLAG_DF) !== 0; }
  set dontFragment(v: boolean) { this.#setFlag(FLAG_DF, v); }

  get moreFragments(): boolean { return (readU16(this.buffer, IPV4_FLG_OFF) & FLAG_MF) !== 0; }
  set moreFragments(v: boolean) { this.#setFlag(FLAG_MF, v); }

  /** Fragment offset in bytes (the 13-bit field counts 8-byte units). */
  get fragmentOffset(): number { return (readU16(this.buffer, IPV4_FLG_OFF) & FRAG_OFFSET_MASK) * 8; }
  set fragmentOffset(bytes: number) {
    const word = readU16(this.buffer, IPV4_FLG_OFF);
    writeU16(this.buffer, IPV4_FLG_OFF, (word & ~FRAG_OFFSET_MASK) | ((bytes >> 3) & FRAG_OFFSET_MASK));
  }

  /** True for any piece of a fragmented datagram (the first one included). */
  get isFragment(): boolean { return (readU16(this.buffer, IPV4_FLG_OFF) & (FLAG_MF | FRAG_OFFSET_MASK)) !== 0; }

  get ttl(): number { return this.buffer[IPV4_TTL]!; }
  set ttl(v: number) { this.buffer[IPV4_TTL] = v; }

  get protocol(): number { return this.buffer[IPV4_PROTOCOL]!; }
  set protocol(v: number) { this.buffer[IPV4_PROTOCOL] = v; }

  get checksum(): number { return readU16(this.buffer, IPV4_CHECKSUM); }
  set checksum(v: number) { writeU16(this.buffer, IPV4_CHECKSUM, v); }

  get src(): Uint8Array { return this.buffer.subarray(IPV4_SRC_ADDR, IPV4_SRC_ADDR + 4); }
  set src(a: Uint8Array) { this.buffer.set(a.subarray(0, 4), IPV4_SRC_ADDR); }

  get dst(): Uint8Array { return this.buffer.subarray(IPV4_DST_ADDR, IPV4_DST_ADDR + 4); }
  set dst(a: Uint8Array) { this.buffer.set(a.subarray(0, 4), IPV4_DST_ADDR); }

  get options(): Uint8Array { return this.buffer.subarray(IPV4_OPTIONS, this.headerLength); }

  /** The bytes after the header up to the total length (or the end of a quote, whichever is first). */
  get payload(): Uint8Array {
    return this.buffer.subarray(this.headerLength, Math.min(this.totalLength, this.buffer.length));
  }

  /** The header and payload without any link padding after the total length. */
  get packet(): Uint8Array {
    return this.buffer.subarray(0, Math.min(this.totalLength, this.buffer.length));
  }

  /** The first option of `type` (type, length and data octets), if the header carries one. */
  findOption(type: number): Uint8Array | undefined {
    const options = this.options;
    let i = 0;
    while (i < options.length) {
      const t = options[i]!;
      if (t === OPT_END) return undefined;
      if (t === OPT_NOP) { i += 1; continue; }
      const len = options[i + 1] ?? 0;
      if (len < 2) return undefined; // only on an unchecked view
      if (t === type) return options.subarray(i, i + len);
      i += len;
    }
    return undefined;
  }

  verifyChecksum(): boolean {
    return checksumIsValid(this.buffer.subarray(0, this.headerLength));
  }

  fillChecksum(): void {
    this.checksum = 0;
    this.checksum = internetChecksum(this.buffer.subarray(0, this.headerLength));
  }

  #setFlag(flag: number, on: boolean): void {
    const word = readU16(this.buffer, IPV4_FLG_OFF);
    writeU16(this.buffer, IPV4_FLG_OFF, on ? word | flag : word & ~flag);
  }
}

export interface Ipv4Repr {
  src: Uint8Array;
  dst: Uint8Array;
  protocol: number;
  ttl: number;
  dscp: number;
  ecn: number;
  identification: number;
  dontFragment: boolean;
  moreFragments: boolean;
  /** In bytes, a multiple of 8. */
  fragmentOffset: number;
  /** Raw option bytes (length a multiple of 4, at most 40); empty for almost every packet. */
  options: Uint8Array;
  payloadLength: number;
}

/**
 * Parses and verifies a whole datagram: `Ipv4Packet.checked` plus the header checksum.
 * Addresses and options in the repr are views into `bytes`.
 */
export function parseIpv4(bytes: Uint8Array | Ipv4Packet): Ipv4Repr {
  const packet = bytes instanceof Ipv4Packet ? bytes : Ipv4Packet.checked(bytes);
  if (!packet.verifyChecksum()) throw new WireError('IPV4_BAD_CHECKSUM');
  return reprOf(packet);
}

function reprOf(packet: Ipv4Packet): Ipv4Repr {
  return {
    src: packet.src,
    dst: packet.dst,
    protocol: packet.protocol,
    ttl: packet.ttl,
    dscp: packet.dscp,
    ecn: packet.ecn,
    identification: packet.identification,
    dontFragment: packet.dontFragment,
    moreFragments: packet.moreFragments,
    fragmentOffset: packet.fragmentOffset,
    options: packet.options,
    payloadLength: packet.totalLength - packet.headerLength,
  };
}

export function ipv4HeaderLength(repr: Ipv4Repr): number {
  return IPV4_MIN_HEADER_LEN + repr.options.length;
}

/**
 * Writes the header for `repr` at the start of `buf` (checksum filled) and returns its length.
 * The payload, if any, is the caller's to place at that offset.
 */
export function emitIpv4(repr: Ipv4Repr, buf: Uint8Array): number {
  const hl = ipv4HeaderLength(repr);
  if (repr.src.length !== 4 || repr.dst.length !== 4) throw new WireError('IPV4_BAD_REPR', 'addresses must be 4 bytes');
  if (repr.options.length % 4 !== 0 || hl > IPV4_MAX_HEADER_LEN) throw new WireError('IPV4_BAD_REPR', `options of ${repr.options.length} bytes`);
  if (repr.payloadLength < 0 || hl + repr.payloadLength > IPV4_MAX_TOTAL_LEN) throw new WireError('IPV4_BAD_REPR', `payload of ${repr.payloadLength} bytes`);
  if (repr.fragmentOffset % 8 !== 0 || repr.fragmentOffset > FRAG_OFFSET_MASK * 8) throw new WireError('IPV4_BAD_REPR', `fragment offset ${repr.fragmentOffset}`);
  if (buf.length < hl) throw new WireError('BUFFER_TOO_SMALL', `${buf.length} < ${hl}`);
  const p = Ipv4Packet.unchecked(buf);
  p.version = IPV4_VERSION;
  p.headerLength = hl;
  buf[IPV4_TOS] = 0;
  p.dscp = repr.dscp;
  p.ecn = repr.ecn;
  p.totalLength = hl + repr.payloadLength;
  p.identification = repr.identification;
  writeU16(buf, IPV4_FLG_OFF, 0);
  p.dontFragment = repr.dontFragment;
  p.moreFragments = repr.moreFragments;
  p.fragmentOffset = repr.fragmentOffset;
  p.ttl = repr.ttl;
  p.protocol = repr.protocol;
  p.src = repr.src;
  p.dst = repr.dst;
  buf.set(repr.options, IPV4_OPTIONS);
  p.fillChecksum();
  return hl;
}

/** Each option must fit in the header: types other than End/No-op carry a length >= 2. */
function checkOptions(options: Uint8Array): void {
  let i = 0;
  while (i < options.length) {
    const type = options[i]!;
    if (type === OPT_END) return;
    if (type === OPT_NOP) { i += 1; continue; }
    if (i + 1 >= options.length) throw new WireError('IPV4_BAD_OPTION', `option ${type} has no length`);
    const len = options[i + 1]!;
    if (len < 2 || i + len > options.length) throw new WireError('IPV4_BAD_OPTION', `option ${type} length ${len}`);
    i += len;
  }
}
