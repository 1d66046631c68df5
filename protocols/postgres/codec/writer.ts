/**
 * Builds messages into one growable buffer. `begin(type)` reserves the header and `end()` fills
 * in the length, so encoders never compute lengths by hand. Values the wire cannot carry (a NUL
 * inside a String, an Int16 out of range) throw PG_BAD_VALUE: those are programmer errors.
 */
import { LENGTH_SIZE, NULL_LENGTH } from './constants.js';
import { PgCodecError } from './errors.js';
import { encodeText } from './text.js';

const INITIAL_CAPACITY = 256;

export class MessageWriter {
  private buf = new Uint8Array(INITIAL_CAPACITY);
  private pos = 0;
  private lengthAt = -1;

  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.pos + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  /** Start a typed message; `type` null starts an untyped startup-phase packet. */
  begin(type: number | null): this {
    if (this.lengthAt >= 0) throw new PgCodecError('PG_BAD_VALUE', 'begin() inside a message');
    if (type !== null) this.byte(type);
    this.lengthAt = this.pos;
    this.reserve(LENGTH_SIZE);
    this.pos += LENGTH_SIZE;
    return this;
  }

  end(): this {
    if (this.lengthAt < 0) throw new PgCodecError('PG_BAD_VALUE', 'end() outside a message');
    const len = this.pos - this.lengthAt;
    const b = this.buf;
    const p = this.lengthAt;
    b[p] = len >>> 24;
    b[p + 1] = (len >>> 16) & 0xff;
    b[p + 2] = (len >>> 8) & 0xff;
    b[p + 3] = len & 0xff;
    this.lengthAt = -1;
    return this;
  }

  byte(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new PgCodecError('PG_BAD_VALUE', `Byte1 ${v}`);
    this.reserve(1);
    this.buf[this.pos++] = v;
    return this;
  }

  int16(v: number): this {
    if (!Number.isInteger(v) || v < -0x8000 || v > 0xffff) throw new PgCodecError('PG_BAD_VALUE', `Int16 ${v}`);
    this.reserve(2);
    this.buf[this.pos++] = (v >>> 8) & 0xff;
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  /** Accepts signed values and unsigned ones (object ids) alike. */
  int32(v: number): this {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0xffffffff) throw new PgCodecError('PG_BAD_VALUE', `Int32 ${v}`);
    this.reserve(4);
    const b = this.buf;
    b[this.pos++] = (v >>> 24) & 0xff;
    b[this.pos++] = (v >>> 16) & 0xff;
    b[this.pos++] = (v >>> 8) & 0xff;
    b[this.pos++] = v & 0xff;
    return this;
  }

  /** A count sent as Int16 (formats, parameters, columns): at most 65535 on the wire. */
  count16(n: number): this {
    if (n > 0xffff) throw new PgCodecError('PG_BAD_VALUE', `${n} items do not fit an Int16 count`);
    return this.int16(n);
  }

  bytes(v: Uint8Array): this {
    this.reserve(v.length);
    this.buf.set(v, this.pos);
    this.pos += v.length;
    return this;
  }

  cstring(s: string): this {
    const b = encodeText(s);
    if (b.includes(0)) throw new PgCodecError('PG_BAD_VALUE', 'NUL inside a String');
    this.bytes(b);
    return this.byte(0);
  }

  /** Int32 length and bytes, or -1 for NULL. */
  nullableBytes(v: Uint8Array | null): this {
    if (v === null) return this.int32(NULL_LENGTH);
    return this.int32(v.length).bytes(v);
  }

  /** The bytes written so far (a copy; the writer can be reused after reset()). */
  finish(): Uint8Array {
    if (this.lengthAt >= 0) throw new PgCodecError('PG_BAD_VALUE', 'finish() inside a message');
    return this.buf.slice(0, this.pos);
  }

  reset(): this {
    this.pos = 0;
    this.lengthAt = -1;
    return this;
  }
}

/** One message, built by `fill`. */
export function message(type: number | null, fill: (w: MessageWriter) => void): Uint8Array {
  const w = new MessageWriter().begin(type);
  fill(w);
  return w.end().finish();
}
