/**
 * ICMP for IPv4, RFC 792 (messages), RFC 1191 §4 (Next-Hop MTU in "fragmentation needed"),
 * RFC 1812 §5.2.7.1 (code 13, communication administratively prohibited).
 *
 * |     Type      |     Code      |          Checksum             |
 * |           Identifier          |        Sequence Number        |   echo / echo reply
 * |            unused             |         Next-Hop MTU          |   destination unreachable
 * |                            unused                             |   time exceeded
 * |     Data / Internet Header + leading octets of the original datagram ...
 *
 * The checksum covers the whole ICMP message; there is no pseudo-header for IPv4.
 */
import { checksumIsValid, internetChecksum, readU16, writeU16 } from './checksum.js';
import { WireError } from './errors.js';

export const ICMPV4_HEADER_LEN = 8;

// Field offsets.
export const ICMPV4_TYPE = 0;
export const ICMPV4_CODE = 1;
export const ICMPV4_CHECKSUM = 2;
export const ICMPV4_IDENT = 4;
export const ICMPV4_SEQ_NO = 6;
export const ICMPV4_NEXT_HOP_MTU = 6;
export const ICMPV4_DATA = 8;

export const ICMPV4_TYPE_ECHO_REPLY = 0;
export const ICMPV4_TYPE_DEST_UNREACHABLE = 3;
export const ICMPV4_TYPE_ECHO_REQUEST = 8;
export const ICMPV4_TYPE_TIME_EXCEEDED = 11;

/** Destination Unreachable codes (RFC 792, RFC 1812 §5.2.7.1). */
export const ICMPV4_UNREACHABLE = {
  NET_UNREACHABLE: 0,
  HOST_UNREACHABLE: 1,
  PROTOCOL_UNREACHABLE: 2,
  PORT_UNREACHABLE: 3,
  FRAG_REQUIRED: 4,
  SOURCE_ROUTE_FAILED: 5,
  NET_PROHIBITED: 9,
  HOST_PROHIBITED: 10,
  ADMIN_PROHIBITED: 13,
} as const;

/** Time Exceeded codes (RFC 792). */
export const ICMPV4_TIME_EXCEEDED = { TTL_EXCEEDED: 0, FRAG_REASSEMBLY: 1 } as const;

/** The types that report an error about another datagram (RFC 1812 §4.3.2.7 never answers these). */
export function isIcmpv4Error(type: number): boolean {
  return type === 3 || type === 4 || type === 5 || type === 11 || type === 12;
}

export class Icmpv4Packet {
  readonly buffer: Uint8Array;

  private constructor(buffer: Uint8Array) {
    this.buffer = buffer;
  }

  static unchecked(buffer: Uint8Array): Icmpv4Packet {
    return new Icmpv4Packet(buffer);
  }

  /** At least the 8-byte header; the message is the whole buffer (the IP layer cut it to size). */
  static checked(buffer: Uint8Array): Icmpv4Packet {
    if (buffer.length < ICMPV4_HEADER_LEN) throw new WireError('ICMPV4_TRUNCATED', `${buffer.length} bytes`);
    return new Icmpv4Packet(buffer);
  }

  get msgType(): number { return this.buffer[ICMPV4_TYPE]!; }
  set msgType(v: number) { this.buffer[ICMPV4_TYPE] = v; }

  get msgCode(): number { return this.buffer[ICMPV4_CODE]!; }
  set msgCode(v: number) { this.buffer[ICMPV4_CODE] = v; }

  get checksum(): number { return readU16(this.buffer, ICMPV4_CHECKSUM); }
  set checksum(v: number) { writeU16(this.buffer, ICMPV4_CHECKSUM, v); }

  get identifier(): number { return readU16(this.buffer, ICMPV4_IDENT); }
  set identifier(v: number) { writeU16(this.buffer, ICMPV4_IDENT, v); }

  get sequence(): number { return readU16(this.buffer, ICMPV4_SEQ_NO); }
  set sequence(v: number) { writeU16(this.buffer, ICMPV4_SEQ_NO, v); }

  get nextHopMtu(): number { return readU16(this.buffer, ICMPV4_NEXT_HOP_MTU); }
  set nextHopMtu(v: number) { writeU16(this.buffer, ICMPV4_NEXT_HOP_MTU, v); }

  /** The 4 octets after the checksum, whatever the type makes of them. */
  get restOfHeader(): Uint8Array { return this.buffer.subarray(ICMPV4_IDENT, ICMPV4_DATA); }

  /** Echo data, or the quoted original datagram for error messages. */
  get data(): Uint8Array { return this.buffer.subarray(ICMPV4_DATA); }

  verifyChecksum(): boolean { return checksumIsValid(this.buffer); }

  fillChecksum(): void {
    this.checksum = 0;
    this.checksum = internetChecksum(this.buffer);
  }
}

export type Icmpv4Repr =
  | { kind: 'echo-request' | 'echo-reply'; identifier: number; sequence: number; data: Uint8Array }
  | { kind: 'destination-unreachable'; code: number; nextHopMtu: number; original: Uint8Array }
  | { kind: 'time-exceeded'; code: number; original: Uint8Array };

/** Verifies the checksum and parses the message types the stack uses; others are ICMPV4_UNSUPPORTED_TYPE. */
export function parseIcmpv4(bytes: Uint8Array | Icmpv4Packet): Icmpv4Repr {
  const p = bytes instanceof Icmpv4Packet ? bytes : Icmpv4Packet.checked(bytes);
  if (!p.verifyChecksum()) throw new WireError('ICMPV4_BAD_CHECKSUM');
  switch (p.msgType) {
    case ICMPV4_TYPE_ECHO_REQUEST:
    case ICMPV4_TYPE_ECHO_REPLY:
      if (p.msgCode !== 0) break;
      return {
        kind: p.msgType === ICMPV4_TYPE_ECHO_REQUEST ? 'echo-request' : 'echo-reply',
        identifier: p.identifier,
        sequence: p.sequence,
        data: p.data,
      };
    case ICMPV4_TYPE_DEST_UNREACHABLE:
      return {
        kind: 'destination-unreachable',
        code: p.msgCode,
        nextHopMtu: p.msgCode === ICMPV4_UNREACHABLE.FRAG_REQUIRED ? p.nextHopMtu : 0,
        original: p.data,
      };
    case ICMPV4_TYPE_TIME_EXCEEDED:
      return { kind: 'time-exceeded', code: p.msgCode, original: p.data };
  }
  throw new WireError('ICMPV4_UNSUPPORTED_TYPE', `type ${p.msgType} code ${p.msgCode}`);
}

export function icmpv4ReprLength(repr: Icmpv4Repr): number {
  return ICMPV4_HEADER_LEN + ('data' in repr ? repr.data.length : repr.original.length);
}

/** Writes the message (checksum filled) at the start of `buf` and returns its length. */
export function emitIcmpv4(repr: Icmpv4Repr, buf: Uint8Array): number {
  const len = icmpv4ReprLength(repr);
  if (buf.length < len) throw new WireError('BUFFER_TOO_SMALL', `${buf.length} < ${len}`);
  const out = buf.subarray(0, len);
  const p = Icmpv4Packet.unchecked(out);
  out.fill(0, 0, ICMPV4_HEADER_LEN);
  switch (repr.kind) {
    case 'echo-request':
    case 'echo-reply':
      p.msgType = repr.kind === 'echo-request' ? ICMPV4_TYPE_ECHO_REQUEST : ICMPV4_TYPE_ECHO_REPLY;
      p.identifier = repr.identifier;
      p.sequence = repr.sequence;
      out.set(repr.data, ICMPV4_DATA);
      break;
    case 'destination-unreachable':
      p.msgType = ICMPV4_TYPE_DEST_UNREACHABLE;
      p.msgCode = repr.code;
      p.nextHopMtu = repr.nextHopMtu;
      out.set(repr.original, ICMPV4_DATA);
      break;
    case 'time-exceeded':
      p.msgType = ICMPV4_TYPE_TIME_EXCEEDED;
      p.msgCode = repr.code;
      out.set(repr.original, ICMPV4_DATA);
      break;
  }
  p.fillChecksum();
  return len;
}
