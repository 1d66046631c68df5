/**
 * A cursor over one framed message body. Every read checks the bytes are there first; a short
 * body is PG_MSG_TRUNCATED, a String without NUL is PG_BAD_STRING. Byte fields are `subarray`
 * views of the message (no copy).
 */
import { PgCodecError } from './errors.js';
import { decodeText } from './text.js';

export class BodyReader {
  private pos: number;

  constructor(
    private readonly buf: Uint8Array,
    start: number,
    private readonly end: number = buf.length,
  ) {
    this.pos = start;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number, what: string): void {
    if (this.end - this.pos < n) throw new PgCodecError('PG_MSG_TRUNCATED', `body ends before ${what}`);
  }

  byte(what = 'Byte1'): number {
    this.need(1, what);
    return this.buf[this.pos++]!;
  }

  int16(what = 'Int16'): number {
    this.need(2, what);
    const b = this.buf;
    const v = (b[this.pos]! << 8) | b[this.pos + 1]!;
    this.pos += 2;
    return (v << 16) >> 16;
  }

  uint16(what = 'Int16'): number {
    return this.int16(what) & 0xffff;
  }

  int32(what = 'Int32'): number {
    this.need(4, what);
    const b = this.buf;
    const p = this.pos;
    this.pos += 4;
    return (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
  }

  /** Object ids are unsigned 32-bit on the wire. */
  uint32(what = 'Int32'): number {
    return this.int32(what) >>> 0;
  }

  /** A count that the protocol sends as Int16 but that can never be negative. */
  count16(what: string): number {
    const n = this.int16(what);
    if (n < 0) throw new PgCodecError('PG_BAD_FIELD', `negative ${what} (${n})`);
    return n;
  }

  cstring(what = 'String'): string {
    const start = this.pos;
    const nul = this.buf.indexOf(0, start);
    if (nul < 0 || nul >= this.end) throw new PgCodecError('PG_BAD_STRING', `${what} has no terminating NUL`);
    this.pos = nul + 1;
    return decodeText(this.buf, start, nul);
  }

  bytes(n: number, what = 'Byte n'): Uint8Array {
    if (n < 0) throw new PgCodecError('PG_BAD_FIELD', `negative length for ${what}`);
    this.need(n, what);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Int32 length then that many bytes; -1 is NULL, anything below is malformed. */
  nullableBytes(what: string): Uint8Array | null {
    const n = this.int32(`${what} length`);
    if (n === -1) return null;
    if (n < -1) throw new PgCodecError('PG_BAD_FIELD', `${what} length ${n}`);
    return this.bytes(n, what);
  }

  rest(): Uint8Array {
    const out = this.buf.subarray(this.pos, this.end);
    this.pos = this.end;
    return out;
  }

  /** Every decoder ends here: extra bytes mean we misread the message, so refuse it. */
  done(what: string): void {
    if (this.pos !== this.end) throw new PgCodecError('PG_TRAILING_BYTES', `${this.end - this.pos} bytes after ${what}`);
  }
}
