/**
 * TCP segment header and options, RFC 9293 §3.1 (header, options), §3.2 (option definitions),
 * RFC 7323 §2.2/§3.2 (window scale, timestamps), RFC 2018 §2/§3 (SACK-permitted, SACK),
 * checksum over the pseudo-header of RFC 9293 §3.1 (IPv4) and RFC 8200 §8.1 (IPv6).
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * |          Source Port          |       Destination Port        |
 * |                        Sequence Number                        |
 * |                    Acknowledgment Number                      |
 * |  Data |       |C|E|U|A|P|R|S|F|                               |
 * | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
 * |           Checksum            |         Urgent Pointer        |
 * |                           [Options]                           |
 * |                             data ...
 *
 * `TcpPacket` is a view (checked once: header length, option lengths), `TcpRepr` the parsed
 * value, `emitTcp` writes a segment from a repr. Options are emitted in the order Linux uses
 * (MSS, SACK-permitted, timestamps, NOP + window scale; NOP NOP + SACK), so a segment we parse
 * from a capture comes back out byte for byte. Unknown options are skipped by their length.
 */
import { fold, onesComplementSum, pseudoHeaderSum, readU16, readU32, writeU16, writeU32 } from './checksum.js';
import { WireError } from './errors.js';
import { IP_PROTOCOL } from './ipv4.js';

/** The codes this codec throws; `counterName()` turns them into `tcp.*` drop counters. */
export type TcpWireErrorCode =
  | 'TCP_TRUNCATED'
  | 'TCP_BAD_HEADER_LENGTH'
  | 'TCP_BAD_CHECKSUM'
  | 'TCP_BAD_OPTION'
  | 'TCP_BAD_REPR'
  | 'BUFFER_TOO_SMALL';

export const TCP_HEADER_LEN = 20;
export const TCP_MAX_HEADER_LEN = 60;
export const TCP_MAX_OPTIONS_LEN = TCP_MAX_HEADER_LEN - TCP_HEADER_LEN;

// Field offsets (RFC 9293 §3.1).
export const TCP_SRC_PORT = 0;
export const TCP_DST_PORT = 2;
export const TCP_SEQ_NUM = 4;
export const TCP_ACK_NUM = 8;
export const TCP_DATA_OFFSET = 12; // high nibble, in 32-bit words
export const TCP_FLAGS = 13;
export const TCP_WINDOW = 14;
export const TCP_CHECKSUM = 16;
export const TCP_URGENT = 18;
export const TCP_OPTIONS = 20;

// Control bits (RFC 9293 §3.1; CWR/ECE from RFC 3168).
export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;

// Option kinds and lengths (RFC 9293 §3.2, RFC 7323, RFC 2018).
export const TCP_OPT_EOL = 0;
export const TCP_OPT_NOP = 1;
export const TCP_OPT_MSS = 2;
export const TCP_OPT_MSS_LEN = 4;
export const TCP_OPT_WSCALE = 3;
export const TCP_OPT_WSCALE_LEN = 3;
export const TCP_OPT_SACK_PERMITTED = 4;
export const TCP_OPT_SACK_PERMITTED_LEN = 2;
export const TCP_OPT_SACK = 5;
export const TCP_OPT_SACK_BLOCK_LEN = 8;
export const TCP_OPT_TIMESTAMPS = 8;
export const TCP_OPT_TIMESTAMPS_LEN = 10;
/** RFC 7323 §2.3: a shift above 14 is used as 14. */
export const TCP_MAX_WINDOW_SCALE = 14;
/** Blocks that fit in 40 option bytes beside the 12-byte NOP NOP + timestamps. */
export const TCP_MAX_SACK_BLOCKS_WITH_TIMESTAMPS = 3;
/** Blocks that fit in 40 option bytes alone (2 + 8n <= 38 after NOP NOP). */
export const TCP_MAX_SACK_BLOCKS = 4;

function fail(code: TcpWireErrorCode, message?: string): never {
  throw new WireError<TcpWireErrorCode>(code, message);
}

export class TcpPacket {
  readonly buffer: Uint8Array;

  private constructor(buffer: Uint8Array) {
    this.buffer = buffer;
  }

  /** A view with no checks, for building a segment in a buffer the caller sized. */
  static unchecked(buffer: Uint8Array): TcpPacket {
    return new TcpPacket(buffer);
  }

  /**
   * A view over exactly one segment (the whole IP payload): the fixed header is whole, the data
   * offset is 5..15 and within the buffer, and every option's length stays inside the header.
   */
  static checked(buffer: Uint8Array): TcpPacket {
    if (buffer.length < TCP_HEADER_LEN) fail('TCP_TRUNCATED', `${buffer.length} bytes`);
    const p = new TcpPacket(buffer);
    const hl = p.headerLength;
    if (hl < TCP_HEADER_LEN || hl > buffer.length) {
      fail('TCP_BAD_HEADER_LENGTH', `data offset ${hl / 4}, segment of ${buffer.length} bytes`);
    }
    checkOptions(buffer, hl);
    return p;
  }

  get srcPort(): number { return readU16(this.buffer, TCP_SRC_PORT); }
  set srcPort(v: number) { writeU16(this.buffer, TCP_SRC_PORT, v); }

  get dstPort(): number { return readU16(this.buffer, TCP_DST_PORT); }
  set dstPort(v: number) { writeU16(this.buffer, TCP_DST_PORT, v); }

  get seq(): number { return readU32(this.buffer, TCP_SEQ_NUM); }
  set seq(v: number) { writeU32(this.buffer, TCP_SEQ_NUM, v >>> 0); }

  get ack(): number { return readU32(this.buffer, TCP_ACK_NUM); }
  set ack(v: number) { writeU32(this.buffer, TCP_ACK_NUM, v >>> 0); }

  /** Header length in bytes (data offset * 4). */
  get headerLength(): number { return (this.buffer[TCP_DATA_OFFSET]! >> 4) * 4; }
  set headerLength(bytes: number) { this.buffer[TCP_DATA_OFFSET] = ((bytes >> 2) << 4) | (this.buffer[TCP_DATA_OFFSET]! & 0x0f); }

  /** The 8 control bits CWR..FIN (the 4 reserved bits are not included). */
  get flags(): number { return this.buffer[TCP_FLAGS]!; }
  set flags(v: number) { this.buffer[TCP_FLAGS] = v & 0xff; }

  get fin(): boolean { return (this.flags & TCP_FIN) !== 0; }
  get syn(): boolean { return (this.flags & TCP_SYN) !== 0; }
  get rst(): boolean { return (this.flags & TCP_RST) !== 0; }
  get psh(): boolean { return (this.flags & TCP_PSH) !== 0; }
  get ackFlag(): boolean { return (this.flags & TCP_ACK) !== 0; }
  get urg(): boolean { return (this.flags & TCP_URG) !== 0; }

  /** The raw 16-bit window field (unscaled). */
  get window(): number { return readU16(this.buffer, TCP_WINDOW); }
  set window(v: number) { writeU16(this.buffer, TCP_WINDOW, v); }

  get checksum(): number { return readU16(this.buffer, TCP_CHECKSUM); }
  set checksum(v: number) { writeU16(this.buffer, TCP_CHECKSUM, v); }

  get urgentPointer(): number { return readU16(this.buffer, TCP_URGENT); }
  set urgentPointer(v: number) { writeU16(this.buffer, TCP_URGENT, v); }

  get options(): Uint8Array { return this.buffer.subarray(TCP_OPTIONS, this.headerLength); }
  get header(): Uint8Array { return this.buffer.subarray(0, this.headerLength); }
  get payload(): Uint8Array { return this.buffer.subarray(this.headerLength); }

  /** SEG.LEN: payload bytes plus one each for SYN and FIN (RFC 9293 §3.4). */
  get segmentLength(): number {
    const f = this.flags;
    return this.buffer.length - this.headerLength + (f & TCP_SYN ? 1 : 0) + (f & TCP_FIN ? 1 : 0);
  }

  verifyChecksum(src: Uint8Array, dst: Uint8Array): boolean {
    return segmentSum(this.buffer, pseudoHeaderSum(src, dst, IP_PROTOCOL.TCP, this.buffer.length)) === 0xffff;
  }

  fillChecksum(src: Uint8Array, dst: Uint8Array): void {
    this.checksum = 0;
    this.checksum = ~segmentSum(this.buffer, pseudoHeaderSum(src, dst, IP_PROTOCOL.TCP, this.buffer.length)) & 0xffff;
  }
}

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
/** Below this the word-at-a-time setup costs more than it saves. */
const WIDE_SUM_MIN_BYTES = 64;

/**
 * `onesComplementSum` 4 bytes at a time: RFC 1071 §2(B), the sum is independent of byte order
 * up to a final swap, so little-endian 32-bit words are added and the folded result swapped.
 * Every segment is summed twice (sent and received), so this is on the hot path.
 */
export function segmentSum(bytes: Uint8Array, initial = 0): number {
  const aligned = (bytes.byteOffset & 3) === 0;
  if (!LITTLE_ENDIAN || !aligned || bytes.length < WIDE_SUM_MIN_BYTES) return onesComplementSum(bytes, initial);
  const words = bytes.length >>> 2;
  const view = new Uint32Array(bytes.buffer, bytes.byteOffset, words);
  let sum = 0;
  for (let i = 0; i < words; i++) sum += view[i]!;
  // Fold the little-endian sum to 16 bits, then swap to network order.
  const le = fold(sum);
  const be = ((le & 0xff) << 8) | (le >>> 8);
  const tail = bytes.subarray(words << 2);
  return onesComplementSum(tail, fold(be + initial));
}

/** Walks the options once: EOL ends the list, NOP is one byte, every other kind has 2 <= len <= rest. */
function checkOptions(b: Uint8Array, end: number): void {
  let at = TCP_OPTIONS;
  while (at < end) {
    const kind = b[at]!;
    if (kind === TCP_OPT_EOL) return;
    if (kind === TCP_OPT_NOP) { at++; continue; }
    if (at + 1 >= end) fail('TCP_BAD_OPTION', `kind ${kind} without a length at ${at}`);
    const len = b[at + 1]!;
    if (len < 2 || at + len > end) fail('TCP_BAD_OPTION', `kind ${kind} length ${len} at ${at}`);
    at += len;
  }
}

export interface TcpTimestamp {
  /** TSval */
  value: number;
  /** TSecr */
  echo: number;
}

/** The options this stack understands. SACK blocks are [left, right) sequence numbers. */
export interface TcpOptions {
  mss: number | undefined;
  windowScale: number | undefined;
  sackPermitted: boolean;
  /** Flat pairs: left0, right0, left1, right1, ... (at most 4 blocks). */
  sack: number[];
  timestamp: TcpTimestamp | undefined;
}

export interface TcpRepr extends TcpOptions {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** Control bits, `TCP_SYN | TCP_ACK` etc. */
  flags: number;
  /** The raw (unscaled) window field. */
  window: number;
  urgentPointer: number;
  payload: Uint8Array;
}

export function emptyOptions(): TcpOptions {
  return { mss: undefined, windowScale: undefined, sackPermitted: false, sack: [], timestamp: undefined };
}

/**
 * Reads the known options of a checked view into `out` (reused on the hot path). An option of a
 * known kind with the wrong length is an error (RFC 9293 §3.1 says to be robust, but a 3-byte
 * MSS cannot be read); unknown kinds are skipped. Window scale above 14 is read as 14
 * (RFC 7323 §2.3). Only the first 4 SACK blocks are kept (that is all 40 bytes can hold).
 */
export function readTcpOptions(p: TcpPacket, out: TcpOptions = emptyOptions()): TcpOptions {
  out.mss = undefined;
  out.windowScale = undefined;
  out.sackPermitted = false;
  out.sack.length = 0;
  out.timestamp = undefined;
  const b = p.buffer;
  const end = p.headerLength;
  let at = TCP_OPTIONS;
  while (at < end) {
    const kind = b[at]!;
    if (kind === TCP_OPT_EOL) break;
    if (kind === TCP_OPT_NOP) { at++; continue; }
    if (at + 1 >= end) fail('TCP_BAD_OPTION', `kind ${kind} without a length`);
    const len = b[at + 1]!;
    if (len < 2 || at + len > end) fail('TCP_BAD_OPTION', `kind ${kind} length ${len}`);
    switch (kind) {
      case TCP_OPT_MSS:
        if (len !== TCP_OPT_MSS_LEN) fail('TCP_BAD_OPTION', `MSS length ${len}`);
        out.mss = readU16(b, at + 2);
        break;
      case TCP_OPT_WSCALE:
        if (len !== TCP_OPT_WSCALE_LEN) fail('TCP_BAD_OPTION', `window scale length ${len}`);
        out.windowScale = Math.min(b[at + 2]!, TCP_MAX_WINDOW_SCALE);
        break;
      case TCP_OPT_SACK_PERMITTED:
        if (len !== TCP_OPT_SACK_PERMITTED_LEN) fail('TCP_BAD_OPTION', `SACK-permitted length ${len}`);
        out.sackPermitted = true;
        break;
      case TCP_OPT_SACK: {
        if ((len - 2) % TCP_OPT_SACK_BLOCK_LEN !== 0 || len === 2) fail('TCP_BAD_OPTION', `SACK length ${len}`);
        for (let o = at + 2; o < at + len && out.sack.length < 2 * TCP_MAX_SACK_BLOCKS; o += TCP_OPT_SACK_BLOCK_LEN) {
          out.sack.push(readU32(b, o), readU32(b, o + 4));
        }
        break;
      }
      case TCP_OPT_TIMESTAMPS:
        if (len !== TCP_OPT_TIMESTAMPS_LEN) fail('TCP_BAD_OPTION', `timestamps length ${len}`);
        out.timestamp = { value: readU32(b, at + 2), echo: readU32(b, at + 6) };
        break;
      default:
        break; // unknown: skipped by its length (RFC 9293 §3.2)
    }
    at += len;
  }
  return out;
}

/**
 * Checks lengths, options and (unless `verifyChecksum` is false because the IP layer already
 * did) the checksum over the pseudo-header of `src`/`dst`. The payload is a view.
 */
export function parseTcp(bytes: Uint8Array | TcpPacket, src: Uint8Array, dst: Uint8Array, verifyChecksum = true): TcpRepr {
  const p = bytes instanceof TcpPacket ? bytes : TcpPacket.checked(bytes);
  if (verifyChecksum && !p.verifyChecksum(src, dst)) fail('TCP_BAD_CHECKSUM');
  const o = readTcpOptions(p);
  return {
    srcPort: p.srcPort, dstPort: p.dstPort, seq: p.seq, ack: p.ack, flags: p.flags, window: p.window,
    urgentPointer: p.urgentPointer, payload: p.payload,
    mss: o.mss, windowScale: o.windowScale, sackPermitted: o.sackPermitted, sack: o.sack, timestamp: o.timestamp,
  };
}

/** Bytes the options of `o` take when emitted (a multiple of 4). */
export function tcpOptionsLength(o: TcpOptions): number {
  let n = 0;
  if (o.mss !== undefined) n += TCP_OPT_MSS_LEN;
  if (o.timestamp !== undefined) n += 12; // SACK-permitted + TS, or NOP NOP + TS
  else if (o.sackPermitted) n += 4; // NOP NOP + SACK-permitted
  if (o.windowScale !== undefined) n += 4; // NOP + window scale
  if (o.sack.length > 0) n += 4 + 4 * o.sack.length; // NOP NOP kind len + 8 per pair
  return n;
}

export function tcpReprLength(repr: TcpRepr): number {
  return TCP_HEADER_LEN + tcpOptionsLength(repr) + repr.payload.length;
}

/** Writes the options of `o` at `at` (the layout of `tcpOptionsLength`); returns the new offset. */
export function emitTcpOptions(o: TcpOptions, b: Uint8Array, start: number): number {
  let at = start;
  if (o.mss !== undefined) {
    b[at] = TCP_OPT_MSS; b[at + 1] = TCP_OPT_MSS_LEN; writeU16(b, at + 2, o.mss);
    at += TCP_OPT_MSS_LEN;
  }
  if (o.timestamp !== undefined) {
    if (o.sackPermitted) {
      b[at] = TCP_OPT_SACK_PERMITTED; b[at + 1] = TCP_OPT_SACK_PERMITTED_LEN;
    } else {
      b[at] = TCP_OPT_NOP; b[at + 1] = TCP_OPT_NOP;
    }
    b[at + 2] = TCP_OPT_TIMESTAMPS; b[at + 3] = TCP_OPT_TIMESTAMPS_LEN;
    writeU32(b, at + 4, o.timestamp.value >>> 0);
    writeU32(b, at + 8, o.timestamp.echo >>> 0);
    at += 12;
  } else if (o.sackPermitted) {
    b[at] = TCP_OPT_NOP; b[at + 1] = TCP_OPT_NOP; b[at + 2] = TCP_OPT_SACK_PERMITTED; b[at + 3] = TCP_OPT_SACK_PERMITTED_LEN;
    at += 4;
  }
  if (o.windowScale !== undefined) {
    b[at] = TCP_OPT_NOP; b[at + 1] = TCP_OPT_WSCALE; b[at + 2] = TCP_OPT_WSCALE_LEN; b[at + 3] = o.windowScale;
    at += 4;
  }
  const pairs = o.sack.length;
  if (pairs > 0) {
    b[at] = TCP_OPT_NOP; b[at + 1] = TCP_OPT_NOP; b[at + 2] = TCP_OPT_SACK; b[at + 3] = 2 + 4 * pairs;
    at += 4;
    for (let i = 0; i < pairs; i++, at += 4) writeU32(b, at, o.sack[i]! >>> 0);
  }
  return at;
}

function checkRepr(repr: TcpRepr): void {
  const bad = (what: string): never => fail('TCP_BAD_REPR', what);
  if (!isU16(repr.srcPort) || !isU16(repr.dstPort)) bad('ports');
  if (!isU16(repr.window) || !isU16(repr.urgentPointer)) bad('window or urgent pointer');
  if (repr.mss !== undefined && !isU16(repr.mss)) bad(`MSS ${repr.mss}`);
  if (repr.windowScale !== undefined && !(repr.windowScale >= 0 && repr.windowScale <= TCP_MAX_WINDOW_SCALE)) bad(`window scale ${repr.windowScale}`);
  if (repr.sack.length % 2 !== 0 || repr.sack.length > 2 * TCP_MAX_SACK_BLOCKS) bad(`${repr.sack.length} SACK numbers`);
  if (tcpOptionsLength(repr) > TCP_MAX_OPTIONS_LEN) bad(`${tcpOptionsLength(repr)} option bytes`);
}

function isU16(v: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= 0xffff;
}

/**
 * Writes header, options and payload at the start of `buf` with the checksum filled for the
 * pseudo-header of `src`/`dst`; returns the segment length.
 */
export function emitTcp(repr: TcpRepr, src: Uint8Array, dst: Uint8Array, buf: Uint8Array): number {
  checkRepr(repr);
  const hl = TCP_HEADER_LEN + tcpOptionsLength(repr);
  const len = hl + repr.payload.length;
  if (buf.length < len) fail('BUFFER_TOO_SMALL', `${buf.length} < ${len}`);
  const out = buf.subarray(0, len);
  const p = TcpPacket.unchecked(out);
  p.srcPort = repr.srcPort;
  p.dstPort = repr.dstPort;
  p.seq = repr.seq;
  p.ack = repr.ack;
  out[TCP_DATA_OFFSET] = (hl >> 2) << 4;
  p.flags = repr.flags;
  p.window = repr.window;
  p.urgentPointer = repr.urgentPointer;
  emitTcpOptions(repr, out, TCP_OPTIONS);
  out.set(repr.payload, hl);
  p.fillChecksum(src, dst);
  return len;
}
