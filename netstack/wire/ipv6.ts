/**
 * IPv6 fixed header and extension-header walk, RFC 8200 §3 (header), §4 (extension headers),
 * RFC 6946 (atomic fragments are processed whole).
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * |Version| Traffic Class |           Flow Label                  |
 * |         Payload Length        |  Next Header  |   Hop Limit   |
 * |                   Source Address (128 bits)                   |
 * |                Destination Address (128 bits)                 |
 *
 * The walk is bounded (IPV6_MAX_EXTENSION_HEADERS) and checks every length against the payload.
 */
import { readU16, readU32, writeU16, writeU32 } from './checksum.js';
import { WireError } from './errors.js';
import { IP_PROTOCOL } from './ipv4.js';

export const IPV6_VERSION = 6;
export const IPV6_HEADER_LEN = 40;
/** RFC 8200 §5: every link carries at least this much without fragmentation. */
export const IPV6_MIN_MTU = 1280;
/** Real packets carry at most a handful; more is an attack on the walk, not traffic. */
export const IPV6_MAX_EXTENSION_HEADERS = 8;

// Fixed header offsets (RFC 8200 §3).
export const IPV6_VER_TC_FLOW = 0;
export const IPV6_PAYLOAD_LEN = 4;
export const IPV6_NEXT_HEADER = 6;
export const IPV6_HOP_LIMIT = 7;
export const IPV6_SRC_ADDR = 8;
export const IPV6_DST_ADDR = 24;

// Extension header offsets, relative to the start of the extension header.
export const IPV6_EXT_NEXT_HEADER = 0;
export const IPV6_EXT_LEN = 1; // in 8-octet units, not counting the first 8 (§4.3, §4.4, §4.6)
export const IPV6_EXT_MIN_LEN = 8;
export const IPV6_ROUTING_TYPE = 2;
export const IPV6_ROUTING_SEGMENTS_LEFT = 3;
export const IPV6_FRAG_OFFSET_FLAGS = 2; // offset (13 bits) | res (2) | M (1), §4.5
export const IPV6_FRAG_IDENT = 4;
export const IPV6_FRAG_HEADER_LEN = 8;

// Option types in Hop-by-Hop / Destination Options (§4.2).
const OPT_PAD1 = 0;

export class Ipv6Packet {
  readonly buffer: Uint8Array;

  private constructor(buffer: Uint8Array) {
    this.buffer = buffer;
  }

  static unchecked(buffer: Uint8Array): Ipv6Packet {
    return new Ipv6Packet(buffer);
  }

  /**
   * Fixed header whole, version 6, payload length within the buffer. Bytes after the payload
   * (WireGuard padding) are ignored by `payload`.
   */
  static checked(buffer: Uint8Array): Ipv6Packet {
    const packet = Ipv6Packet.checkedQuote(buffer);
    const end = IPV6_HEADER_LEN + packet.payloadLength;
    if (end > buffer.length) throw new WireError('IPV6_TRUNCATED', `payload ends at ${end}, buffer has ${buffer.length}`);
    return packet;
  }

  /** The packet quoted in an ICMPv6 error: fixed header whole, payload possibly cut short. */
  static checkedQuote(buffer: Uint8Array): Ipv6Packet {
    if (buffer.length < IPV6_HEADER_LEN) throw new WireError('IPV6_TRUNCATED', `${buffer.length} bytes`);
    const packet = new Ipv6Packet(buffer);
    if (packet.version !== IPV6_VERSION) throw new WireError('IPV6_BAD_VERSION', `version ${packet.version}`);
    return packet;
  }

  get version(): number { return this.buffer[IPV6_VER_TC_FLOW]! >> 4; }
  set version(v: number) { this.buffer[IPV6_VER_TC_FLOW] = (v << 4) | (this.buffer[IPV6_VER_TC_FLOW]! & 0x0f); }

  get trafficClass(): number { return (readU16(this.buffer, IPV6_VER_TC_FLOW) >> 4) & 0xff; }
  set trafficClass(v: number) {
    const word = readU16(this.buffer, IPV6_VER_TC_FLOW);
    writeU16(this.buffer, IPV6_VER_TC_FLOW, (word & 0xf00f) | ((v & 0xff) << 4));
  }

  get flowLabel(): number { return readU32(this.buffer, IPV6_VER_TC_FLOW) & 0xfffff; }
  set flowLabel(v: number) {
    const word = readU32(this.buffer, IPV6_VER_TC_FLOW);
    writeU32(this.buffer, IPV6_VER_TC_FLOW, ((word & 0xfff00000) | (v & 0xfffff)) >>> 0);
  }

  get payloadLength(): number { return readU16(this.buffer, IPV6_PAYLOAD_LEN); }
  set payloadLength(v: number) { writeU16(this.buffer, IPV6_PAYLOAD_LEN, v); }

  get nextHeader(): number { return this.buffer[IPV6_NEXT_HEADER]!; }
  set nextHeader(v: number) { this.buffer[IPV6_NEXT_HEADER] = v; }

  get hopLimit(): number { return this.buffer[IPV6_HOP_LIMIT]!; }
  set hopLimit(v: number) { this.buffer[IPV6_HOP_LIMIT] = v; }

  get src(): Uint8Array { return this.buffer.subarray(IPV6_SRC_ADDR, IPV6_SRC_ADDR + 16); }
  set src(a: Uint8Array) { this.buffer.set(a.subarray(0, 16), IPV6_SRC_ADDR); }

  get dst(): Uint8Array { return this.buffer.subarray(IPV6_DST_ADDR, IPV6_DST_ADDR + 16); }
  set dst(a: Uint8Array) { this.buffer.set(a.subarray(0, 16), IPV6_DST_ADDR); }

  /** Everything after the fixed header (extension headers included), up to the payload length or the end of a quote. */
  get payload(): Uint8Array {
    return this.buffer.subarray(IPV6_HEADER_LEN, Math.min(IPV6_HEADER_LEN + this.payloadLength, this.buffer.length));
  }

  /** Header and payload without trailing padding. */
  get packet(): Uint8Array {
    return this.buffer.subarray(0, Math.min(IPV6_HEADER_LEN + this.payloadLength, this.buffer.length));
  }
}

export interface Ipv6Repr {
  src: Uint8Array;
  dst: Uint8Array;
  /** The Next Header field of the fixed header (may name an extension header). */
  nextHeader: number;
  hopLimit: number;
  trafficClass: number;
  flowLabel: number;
  payloadLength: number;
}

export function parseIpv6(bytes: Uint8Array | Ipv6Packet): Ipv6Repr {
  const p = bytes instanceof Ipv6Packet ? bytes : Ipv6Packet.checked(bytes);
  return {
    src: p.src,
    dst: p.dst,
    nextHeader: p.nextHeader,
    hopLimit: p.hopLimit,
    trafficClass: p.trafficClass,
    flowLabel: p.flowLabel,
    payloadLength: p.payloadLength,
  };
}

/** Writes the 40-byte fixed header for `repr` at the start of `buf`; returns 40. */
export function emitIpv6(repr: Ipv6Repr, buf: Uint8Array): number {
  if (repr.src.length !== 16 || repr.dst.length !== 16) throw new WireError('IPV6_BAD_REPR', 'addresses must be 16 bytes');
  if (repr.payloadLength < 0 || repr.payloadLength > 0xffff) throw new WireError('IPV6_BAD_REPR', `payload of ${repr.payloadLength} bytes`);
  if (buf.length < IPV6_HEADER_LEN) throw new WireError('BUFFER_TOO_SMALL', `${buf.length} < ${IPV6_HEADER_LEN}`);
  const p = Ipv6Packet.unchecked(buf);
  writeU32(buf, IPV6_VER_TC_FLOW, 0);
  p.version = IPV6_VERSION;
  p.trafficClass = repr.trafficClass;
  p.flowLabel = repr.flowLabel;
  p.payloadLength = repr.payloadLength;
  p.nextHeader = repr.nextHeader;
  p.hopLimit = repr.hopLimit;
  p.src = repr.src;
  p.dst = repr.dst;
  return IPV6_HEADER_LEN;
}

export interface Ipv6Fragment {
  /** In bytes (the field counts 8-octet units). */
  offset: number;
  moreFragments: boolean;
  identification: number;
}

export interface Ipv6UpperLayer {
  /** Upper-layer protocol (TCP, UDP, ICMPv6, 59 = No Next Header, or anything not walked). */
  protocol: number;
  /** Offset of the upper-layer header from the start of the packet. */
  offset: number;
  /** The upper-layer header and data (for a non-atomic fragment: the fragment's data). */
  payload: Uint8Array;
  /** Present when a Fragment header was seen. */
  fragment: Ipv6Fragment | undefined;
  /** Segments Left of a Routing header; non-zero means the sender asked us to forward (source routing). */
  segmentsLeft: number;
  /** An option whose action bits (§4.2) say "discard if unrecognized" was present. */
  unrecognizedOption: boolean;
  extensionHeaders: number;
}

/**
 * Walks Hop-by-Hop, Routing, Fragment and Destination Options headers (RFC 8200 §4.1 order) to the
 * upper-layer header. Stops at a fragment that is not atomic: what follows it is not a header.
 * Works on quotes too (lengths are checked against the bytes present).
 */
export function walkIpv6ExtensionHeaders(packet: Ipv6Packet): Ipv6UpperLayer {
  const payload = packet.payload;
  let next = packet.nextHeader;
  let at = 0; // into payload
  let count = 0;
  let fragment: Ipv6Fragment | undefined;
  let segmentsLeft = 0;
  let unrecognizedOption = false;
  for (;;) {
    const isExtension = next === IP_PROTOCOL.HOPOPTS || next === IP_PROTOCOL.IPV6_ROUTE
      || next === IP_PROTOCOL.IPV6_FRAG || next === IP_PROTOCOL.IPV6_OPTS;
    if (!isExtension) break;
    if (next === IP_PROTOCOL.HOPOPTS && count > 0) throw new WireError('IPV6_BAD_EXTENSION_ORDER', 'Hop-by-Hop not first');
    if (count === IPV6_MAX_EXTENSION_HEADERS) throw new WireError('IPV6_TOO_MANY_EXTENSION_HEADERS');
    if (at + IPV6_EXT_MIN_LEN > payload.length) throw new WireError('IPV6_BAD_EXTENSION_HEADER', `header ${next} truncated`);
    const header = next;
    next = payload[at + IPV6_EXT_NEXT_HEADER]!;
    count++;
    if (header === IP_PROTOCOL.IPV6_FRAG) {
      const word = readU16(payload, at + IPV6_FRAG_OFFSET_FLAGS);
      fragment = { offset: word & 0xfff8, moreFragments: (word & 1) !== 0, identification: readU32(payload, at + IPV6_FRAG_IDENT) };
      at += IPV6_FRAG_HEADER_LEN;
      if (fragment.offset !== 0 || fragment.moreFragments) break;
      continue;
    }
    const len = (payload[at + IPV6_EXT_LEN]! + 1) * 8;
    if (at + len > payload.length) throw new WireError('IPV6_BAD_EXTENSION_HEADER', `header ${header} of ${len} bytes truncated`);
    if (header === IP_PROTOCOL.IPV6_ROUTE) {
      segmentsLeft = Math.max(segmentsLeft, payload[at + IPV6_ROUTING_SEGMENTS_LEFT]!);
    } else if (walkOptions(payload.subarray(at + 2, at + len))) {
      unrecognizedOption = true;
    }
    at += len;
  }
  return {
    protocol: next,
    offset: IPV6_HEADER_LEN + at,
    payload: payload.subarray(at),
    fragment,
    segmentsLeft,
    unrecognizedOption,
    extensionHeaders: count,
  };
}

/**
 * Checks the TLVs of an options header and reports whether one asks to be discarded when not
 * understood. We understand only padding, so any option type whose two high bits are not 00
 * (§4.2: skip) counts; options with action 00, such as Router Alert, are skipped.
 */
function walkOptions(options: Uint8Array): boolean {
  let discard = false;
  let i = 0;
  while (i < options.length) {
    const type = options[i]!;
    if (type === OPT_PAD1) { i += 1; continue; }
    if (i + 2 > options.length) throw new WireError('IPV6_BAD_OPTION', `option ${type} has no length`);
    const end = i + 2 + options[i + 1]!;
    if (end > options.length) throw new WireError('IPV6_BAD_OPTION', `option ${type} overruns its header`);
    if (type >> 6 !== 0) discard = true;
    i = end;
  }
  return discard;
}
