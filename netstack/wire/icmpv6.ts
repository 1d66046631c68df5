/**
 * ICMPv6, RFC 4443 §2.1 (format), §2.3 (checksum over the RFC 8200 §8.1 pseudo-header),
 * §3.1-3.4 (error messages), §4.1-4.2 (echo).
 *
 * |     Type      |     Code      |          Checksum             |
 * |           Identifier          |        Sequence Number        |   echo request / reply
 * |                             MTU                               |   packet too big
 * |                            Pointer                            |   parameter problem
 * |                            Unused                             |   dest. unreachable, time exceeded
 * |     Data / as much of the invoking packet as fits in the minimum MTU ...
 */
import { checksumIsValid, internetChecksum, pseudoHeaderSum, readU16, readU32, writeU16, writeU32 } from './checksum.js';
import { WireError } from './errors.js';
import { IP_PROTOCOL } from './ipv4.js';

export const ICMPV6_HEADER_LEN = 8;

// Field offsets.
export const ICMPV6_TYPE = 0;
export const ICMPV6_CODE = 1;
export const ICMPV6_CHECKSUM = 2;
export const ICMPV6_IDENT = 4;
export const ICMPV6_SEQ_NO = 6;
export const ICMPV6_MTU = 4;
export const ICMPV6_POINTER = 4;
export const ICMPV6_DATA = 8;

export const ICMPV6_TYPE_DEST_UNREACHABLE = 1;
export const ICMPV6_TYPE_PACKET_TOO_BIG = 2;
export const ICMPV6_TYPE_TIME_EXCEEDED = 3;
export const ICMPV6_TYPE_PARAM_PROBLEM = 4;
export const ICMPV6_TYPE_ECHO_REQUEST = 128;
export const ICMPV6_TYPE_ECHO_REPLY = 129;

/** Destination Unreachable codes (§3.1). */
export const ICMPV6_UNREACHABLE = {
  NO_ROUTE: 0,
  ADMIN_PROHIBITED: 1,
  BEYOND_SCOPE: 2,
  ADDRESS_UNREACHABLE: 3,
  PORT_UNREACHABLE: 4,
  FAILED_POLICY: 5,
  REJECT_ROUTE: 6,
} as const;

/** Time Exceeded codes (§3.3). */
export const ICMPV6_TIME_EXCEEDED = { HOP_LIMIT_EXCEEDED: 0, FRAG_REASSEMBLY: 1 } as const;

/** §2.1: types 0-127 are error messages, 128-255 informational. */
export function isIcmpv6Error(type: number): boolean {
  return type < 128;
}

export class Icmpv6Packet {
  readonly buffer: Uint8Array;

  private constructor(buffer: Uint8Array) {
    this.buffer = buffer;
  }

  static unchecked(buffer: Uint8Array): Icmpv6Packet {
    return new Icmpv6Packet(buffer);
  }

  static checked(buffer: Uint8Array): Icmpv6Packet {
    if (buffer.length < ICMPV6_HEADER_LEN) throw new WireError('ICMPV6_TRUNCATED', `${buffer.length} bytes`);
    return new Icmpv6Packet(buffer);
  }

  get msgType(): number { return this.buffer[ICMPV6_TYPE]!; }
  set msgType(v: number) { this.buffer[ICMPV6_TYPE] = v; }

  get msgCode(): number { return this.buffer[ICMPV6_CODE]!; }
  set msgCode(v: number) { this.buffer[ICMPV6_CODE] = v; }

  get checksum(): number { return readU16(this.buffer, ICMPV6_CHECKSUM); }
  set checksum(v: number) { writeU16(this.buffer, ICMPV6_CHECKSUM, v); }

  get identifier(): number { return readU16(this.buffer, ICMPV6_IDENT); }
  set identifier(v: number) { writeU16(this.buffer, ICMPV6_IDENT, v); }

  get sequence(): number { return readU16(this.buffer, ICMPV6_SEQ_NO); }
  set sequence(v: number) { writeU16(this.buffer, ICMPV6_SEQ_NO, v); }

  get mtu(): number { return readU32(this.buffer, ICMPV6_MTU); }
  set mtu(v: number) { writeU32(this.buffer, ICMPV6_MTU, v); }

  get pointer(): number { return readU32(this.buffer, ICMPV6_POINTER); }
  set pointer(v: number) { writeU32(this.buffer, ICMPV6_POINTER, v); }

  get data(): Uint8Array { return this.buffer.subarray(ICMPV6_DATA); }

  verifyChecksum(src: Uint8Array, dst: Uint8Array): boolean {
    return checksumIsValid(this.buffer, pseudoHeaderSum(src, dst, IP_PROTOCOL.ICMPV6, this.buffer.length));
  }

  fillChecksum(src: Uint8Array, dst: Uint8Array): void {
    this.checksum = 0;
    this.checksum = internetChecksum(this.buffer, pseudoHeaderSum(src, dst, IP_PROTOCOL.ICMPV6, this.buffer.length));
  }
}

export type Icmpv6Repr =
  | { kind: 'echo-request' | 'echo-reply'; identifier: number; sequence: number; data: Uint8Array }
  | { kind: 'destination-unreachable'; code: number; original: Uint8Array }
  | { kind: 'packet-too-big'; mtu: number; original: Uint8Array }
  | { kind: 'time-exceeded'; code: number; original: Uint8Array }
  | { kind: 'parameter-problem'; code: number; pointer: number; original: Uint8Array };

/** Verifies the checksum against the pseudo-header of `src`/`dst` and parses the types above. */
export function parseIcmpv6(bytes: Uint8Array | Icmpv6Packet, src: Uint8Array, dst: Uint8Array): Icmpv6Repr {
  const p = bytes instanceof Icmpv6Packet ? bytes : Icmpv6Packet.checked(bytes);
  if (!p.verifyChecksum(src, dst)) throw new WireError('ICMPV6_BAD_CHECKSUM');
  switch (p.msgType) {
    case ICMPV6_TYPE_ECHO_REQUEST:
    case ICMPV6_TYPE_ECHO_REPLY:
      if (p.msgCode !== 0) break;
      return {
        kind: p.msgType === ICMPV6_TYPE_ECHO_REQUEST ? 'echo-request' : 'echo-reply',
        identifier: p.identifier,
        sequence: p.sequence,
        data: p.data,
      };
    case ICMPV6_TYPE_DEST_UNREACHABLE:
      return { kind: 'destination-unreachable', code: p.msgCode, original: p.data };
    case ICMPV6_TYPE_PACKET_TOO_BIG:
      if (p.msgCode !== 0) break;
      return { kind: 'packet-too-big', mtu: p.mtu, original: p.data };
    case ICMPV6_TYPE_TIME_EXCEEDED:
      return { kind: 'time-exceeded', code: p.msgCode, original: p.data };
    case ICMPV6_TYPE_PARAM_PROBLEM:
      return { kind: 'parameter-problem', code: p.msgCode, pointer: p.pointer, original: p.data };
  }
  throw new WireError('ICMPV6_UNSUPPORTED_TYPE', `type ${p.msgType} code ${p.msgCode}`);
}

export function icmpv6ReprLength(repr: Icmpv6Repr): number {
  return ICMPV6_HEADER_LEN + ('data' in repr ? repr.data.length : repr.original.length);
}

/** Writes the message with its checksum (over the pseudo-header of `src`/`dst`); returns its length. */
export function emitIcmpv6(repr: Icmpv6Repr, src: Uint8Array, dst: Uint8Array, buf: Uint8Array): number {
  const len = icmpv6ReprLength(repr);
  if (buf.length < len) throw new WireError('BUFFER_TOO_SMALL', `${buf.length} < ${len}`);
  const out = buf.subarray(0, len);
  const p = Icmpv6Packet.unchecked(out);
  out.fill(0, 0, ICMPV6_HEADER_LEN);
  switch (repr.kind) {
    case 'echo-request':
    case 'echo-reply':
      p.msgType = repr.kind === 'echo-request' ? ICMPV6_TYPE_ECHO_REQUEST : ICMPV6_TYPE_ECHO_REPLY;
      p.identifier = repr.identifier;
      p.sequence = repr.sequence;
      out.set(repr.data, ICMPV6_DATA);
      break;
    case 'destination-unreachable':
      p.msgType = ICMPV6_TYPE_DEST_UNREACHABLE;
      p.msgCode = repr.code;
      out.set(repr.original, ICMPV6_DATA);
      break;
    case 'packet-too-big':
      p.msgType = ICMPV6_TYPE_PACKET_TOO_BIG;
      p.mtu = repr.mtu;
      out.set(repr.original, ICMPV6_DATA);
      break;
    case 'time-exceeded':
      p.msgType = ICMPV6_TYPE_TIME_EXCEEDED;
      p.msgCode = repr.code;
      out.set(repr.original, ICMPV6_DATA);
      break;
    case 'parameter-problem':
      p.msgType = ICMPV6_TYPE_PARAM_PROBLEM;
      p.msgCode = repr.code;
      p.pointer = repr.pointer;
      out.set(repr.original, ICMPV6_DATA);
      break;
  }
  p.fillChecksum(src, dst);
  return len;
}
