/**
 * The incremental framing engine shared by both directions (no decoding here). It cuts a byte
 * stream into messages at any chunk boundary, and checks type and length on the header before
 * it buffers anything: a header claiming 2 GiB fails on its 5th byte, with nothing allocated.
 *
 * Buffering is minimal: a message wholly inside one chunk is a `subarray` of that chunk; only a
 * message split across chunks is copied, into one buffer of exactly its size. Streamed types
 * (opt-in, e.g. CopyData) are never buffered: their split pieces go out as they arrive.
 */
import {
  LENGTH_SIZE,
  MAX_STARTUP_PACKET_LENGTH,
  MAX_STREAMED_MESSAGE_LENGTH,
  STARTUP_HEADER_SIZE,
  TLS_HANDSHAKE_RECORD,
  TYPED_HEADER_SIZE,
} from './constants.js';
import { PgCodecError } from './errors.js';
import type { LengthTable } from './limits.js';

/** Where the stream is: untyped startup packets, typed messages, or nothing more allowed. */
export type FramerMode = 'startup' | 'typed' | 'closed';

export interface FrameSink {
  /** A whole typed message: raw[0] is the type, raw.length === 1 + length field. */
  typed(raw: Uint8Array, typeByte: number): void;
  /** A whole untyped startup-phase packet (length field first). */
  startup(raw: Uint8Array): void;
  /** The single unframed byte expected after SSLRequest/GSSENCRequest. */
  single(raw: Uint8Array): void;
  /** A piece of a streamed message (see MessagePart in messages.ts). */
  part(raw: Uint8Array, payload: Uint8Array, typeByte: number, offset: number, bodyLength: number): void;
}

export interface FramerOptions {
  readonly lengths: LengthTable;
  readonly maxStartupLength?: number;
  /** Type bytes whose messages may be streamed in parts instead of buffered. */
  readonly streamTypes?: Iterable<number>;
  /** Cap for a streamed message (the server's own limit by default). */
  readonly maxStreamedLength?: number;
  /** Copy message bytes out of the caller's chunks (when the caller reuses its buffers). */
  readonly copy?: boolean;
}

const read32 = (b: Uint8Array, p: number): number => (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;

export class Framer {
  mode: FramerMode;

  private readonly min: Int32Array;
  private readonly max: Int32Array;
  private readonly streamed = new Uint8Array(256);
  private readonly maxStartup: number;
  private readonly maxStreamed: number;
  private readonly copy: boolean;

  private readonly header = new Uint8Array(TYPED_HEADER_SIZE);
  private headerFill = 0;
  private pending: Uint8Array | null = null;
  private pendingFill = 0;
  // An in-progress streamed message.
  private streamType = -1;
  private streamBody = 0;
  private streamOffset = 0;
  private failure: PgCodecError | null = null;
  /** Bytes accepted as the next single unframed byte (e.g. 'S','N'), or null. */
  private single: ReadonlySet<number> | null = null;

  constructor(mode: FramerMode, private readonly sink: FrameSink, opts: FramerOptions) {
    this.mode = mode;
    this.min = opts.lengths.min;
    this.max = opts.lengths.max;
    for (const t of opts.streamTypes ?? []) this.streamed[t] = 1;
    this.maxStartup = opts.maxStartupLength ?? MAX_STARTUP_PACKET_LENGTH;
    this.maxStreamed = opts.maxStreamedLength ?? MAX_STREAMED_MESSAGE_LENGTH;
    this.copy = opts.copy ?? false;
  }

  /** Bytes held back waiting for the rest of a message (never more than one message). */
  get bufferedBytes(): number {
    return this.headerFill + (this.pending ? this.pendingFill : 0);
  }

  /** True between messages: nothing partial is held and no streamed message is open. */
  get atBoundary(): boolean {
    return this.headerFill === 0 && this.pending === null && this.streamType < 0;
  }

  get failed(): PgCodecError | null {
    return this.failure;
  }

  push(chunk: Uint8Array): void {
    if (this.failure) throw new PgCodecError('PG_PARSER_FAILED', this.failure.message);
    try {
      this.consume(chunk);
    } catch (e) {
      if (e instanceof PgCodecError) this.failure = e;
      throw e;
    }
  }

  /** End of stream: anything partial is a truncated message. */
  end(): void {
    if (this.failure) throw new PgCodecError('PG_PARSER_FAILED', this.failure.message);
    if (!this.atBoundary) {
      this.failure = new PgCodecError('PG_MSG_TRUNCATED', `stream ended inside a message (${this.bufferedBytes} bytes held)`);
      throw this.failure;
    }
  }

  private view(chunk: Uint8Array, from: number, to: number): Uint8Array {
    return this.copy ? chunk.slice(from, to) : chunk.subarray(from, to);
  }

  private consume(chunk: Uint8Array): void {
    const n = chunk.length;
    let pos = 0;
    while (pos < n) {
      if (this.pending) {
        const p = this.pending;
        const take = Math.min(p.length - this.pendingFill, n - pos);
        p.set(chunk.subarray(pos, pos + take), this.pendingFill);
        this.pendingFill += take;
        pos += take;
        if (this.pendingFill === p.length) {
          this.pending = null;
          this.pendingFill = 0;
          this.deliver(p, p[0]!);
        }
        continue;
      }
      if (this.streamType >= 0) {
        const take = Math.min(this.streamBody - this.streamOffset, n - pos);
        const piece = this.view(chunk, pos, pos + take);
        const offset = this.streamOffset;
        this.streamOffset += take;
        pos += take;
        const type = this.streamType;
        if (this.streamOffset === this.streamBody) this.streamType = -1;
        this.sink.part(piece, piece, type, offset, this.streamBody);
        continue;
      }
      if (this.mode === 'closed') throw new PgCodecError('PG_UNEXPECTED_DATA', `${n - pos} bytes after the last message of the stream`);
      if (this.single && this.headerFill === 0) {
        const accepted = this.single;
        this.single = null;
        if (accepted.has(chunk[pos]!)) {
          this.sink.single(this.view(chunk, pos, pos + 1));
          pos++;
          continue;
        }
        // Anything else must be a typed message (an old server's ErrorResponse).
      }
      pos = this.startMessage(chunk, pos);
    }
  }

  /**
   * The next byte may be one unframed byte from `accepted` (the answer to SSLRequest or
   * GSSENCRequest); any other byte starts a typed message as usual (an old server's error).
   */
  expectSingleByte(accepted: ReadonlySet<number>): void {
    this.single = accepted;
  }

  /** At a message boundary (or inside a split header): returns the new position. */
  private startMessage(chunk: Uint8Array, pos: number): number {
    const n = chunk.length;
    const startup = this.mode === 'startup';
    const hsize = startup ? LENGTH_SIZE : TYPED_HEADER_SIZE;
    if (startup && this.headerFill === 0 && chunk[pos] === TLS_HANDSHAKE_RECORD) {
      throw new PgCodecError('PG_TLS_HANDSHAKE', 'TLS record where a startup packet was expected (direct SSL is not offered)');
    }
    let src: Uint8Array;
    let at: number;
    if (this.headerFill === 0 && n - pos >= hsize) {
      src = chunk;
      at = pos;
    } else {
      const take = Math.min(hsize - this.headerFill, n - pos);
      this.header.set(chunk.subarray(pos, pos + take), this.headerFill);
      this.headerFill += take;
      pos += take;
      if (this.headerFill < hsize) return pos;
      src = this.header;
      at = 0;
    }
    const fromScratch = src === this.header;
    const typeByte = startup ? 0 : src[at]!;
    const length = read32(src, startup ? at : at + 1);
    const total = startup ? length : length + 1;
    const streamed = startup ? false : this.checkTyped(typeByte, length);
    if (startup) this.checkStartup(length);
    // Where the message starts in this chunk (-1 when its header came from the scratch buffer).
    const msgStart = fromScratch ? -1 : pos;
    const bodyPos = fromScratch ? pos : pos + hsize;
    this.headerFill = 0;
    if (msgStart >= 0 && n - msgStart >= total) {
      const raw = this.view(chunk, msgStart, msgStart + total);
      this.deliver(raw, typeByte);
      return msgStart + total;
    }
    const avail = Math.min(n - bodyPos, total - hsize);
    if (streamed) {
      this.streamType = typeByte;
      this.streamBody = length - LENGTH_SIZE;
      this.streamOffset = avail;
      let raw: Uint8Array;
      if (msgStart >= 0) raw = this.view(chunk, msgStart, bodyPos + avail);
      else {
        raw = new Uint8Array(hsize + avail);
        raw.set(this.header.subarray(0, hsize));
        raw.set(chunk.subarray(bodyPos, bodyPos + avail), hsize);
      }
      if (this.streamOffset === this.streamBody) this.streamType = -1;
      this.sink.part(raw, raw.subarray(hsize), typeByte, 0, length - LENGTH_SIZE);
      return bodyPos + avail;
    }
    // Safe to allocate: the length passed every check above.
    const p = new Uint8Array(total);
    if (fromScratch) p.set(this.header.subarray(0, hsize));
    else p.set(chunk.subarray(msgStart, msgStart + hsize));
    p.set(chunk.subarray(bodyPos, bodyPos + avail), hsize);
    if (hsize + avail === total) {
      // A split header and a body that was already complete (an empty one, or the rest of this chunk).
      this.deliver(p, typeByte);
      return bodyPos + avail;
    }
    this.pending = p;
    this.pendingFill = hsize + avail;
    return bodyPos + avail;
  }

  private checkStartup(length: number): void {
    if (length < STARTUP_HEADER_SIZE) throw new PgCodecError('PG_BAD_LENGTH', `startup packet length ${length}`);
    if (length > this.maxStartup) throw new PgCodecError('PG_MSG_TOO_LARGE', `startup packet length ${length} > ${this.maxStartup}`);
  }

  /** Returns true when the message is to be streamed in parts. */
  private checkTyped(type: number, length: number): boolean {
    const max = this.max[type]!;
    if (max === 0) throw new PgCodecError('PG_UNKNOWN_MESSAGE', `type byte 0x${type.toString(16).padStart(2, '0')}`);
    const min = this.min[type]!;
    const name = `'${String.fromCharCode(type)}'`;
    if (length < min) throw new PgCodecError('PG_BAD_LENGTH', `${name} length ${length} < ${min}`);
    if (min === max && length !== min) throw new PgCodecError('PG_BAD_LENGTH', `${name} length ${length} != ${min}`);
    // A streamed type is never held whole, so its own cap replaces the buffering cap.
    const streamed = this.streamed[type] === 1;
    const cap = streamed ? this.maxStreamed : max;
    if (length > cap) throw new PgCodecError('PG_MSG_TOO_LARGE', `${name} length ${length} > ${cap}`);
    return streamed;
  }

  private deliver(raw: Uint8Array, typeByte: number): void {
    if (this.mode === 'startup') this.sink.startup(raw);
    else this.sink.typed(raw, typeByte);
  }
}
