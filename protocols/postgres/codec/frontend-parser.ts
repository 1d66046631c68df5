/**
 * Incremental parser for the client -> server stream: `push(chunk)` returns the messages the
 * chunk completes, correct at any chunk boundary (PostgreSQL docs, "Message Flow").
 *
 * The stream opens with untyped packets: SSLRequest / GSSENCRequest (after which, if the server
 * refused, another untyped packet follows), CancelRequest (which ends the stream) or
 * StartupMessage (after which every message is typed). Terminate also ends the stream: bytes
 * after it are PG_UNEXPECTED_DATA, so nothing can ride along behind a goodbye.
 *
 * Framing errors throw PgCodecError and leave the parser failed; a well-framed message with a bad
 * body comes back as a `Malformed` event and parsing goes on.
 */
import { DEFAULT_MAX_MESSAGE_LENGTH, FE } from './constants.js';
import { PgCodecError } from './errors.js';
import { Framer, type FrameSink, type FramerMode } from './framer.js';
import { decodeFrontendTyped, decodeStartupPacket } from './frontend-decode.js';
import { FRONTEND_RULES, buildLengthTable } from './limits.js';
import type { FrontendEvent } from './messages.js';
import type { ParserOptions } from './parser-options.js';

export interface FrontendParserOptions extends ParserOptions {
  /** Cap on a startup packet (default 10000, as the server). */
  readonly maxStartupLength?: number;
  /** Pass CopyData through in MessagePart pieces instead of buffering whole messages. */
  readonly streamCopyData?: boolean;
  /** Start after the startup phase (e.g. a parser attached to an established session). */
  readonly phase?: 'startup' | 'typed';
}

export class FrontendParser {
  private readonly framer: Framer;
  private out: FrontendEvent[] = [];

  constructor(opts: FrontendParserOptions = {}) {
    const sink: FrameSink = {
      startup: (raw) => this.onStartup(raw),
      typed: (raw, typeByte) => this.onTyped(raw, typeByte),
      single: () => {
        throw new PgCodecError('PG_UNKNOWN_MESSAGE', 'single byte in the frontend stream');
      },
      part: (raw, payload, typeByte, offset, bodyLength) =>
        this.out.push({ type: 'MessagePart', raw, payload, typeByte, offset, bodyLength, first: offset === 0 && raw !== payload, last: offset + payload.length === bodyLength }),
    };
    this.framer = new Framer(opts.phase ?? 'startup', sink, {
      lengths: buildLengthTable(FRONTEND_RULES, opts.maxMessageLength ?? DEFAULT_MAX_MESSAGE_LENGTH),
      ...(opts.maxStartupLength !== undefined ? { maxStartupLength: opts.maxStartupLength } : {}),
      ...(opts.maxStreamedLength !== undefined ? { maxStreamedLength: opts.maxStreamedLength } : {}),
      streamTypes: opts.streamCopyData ? [FE.CopyData] : [],
      copy: opts.copy ?? false,
    });
  }

  /** 'startup' until the StartupMessage, then 'typed'; 'closed' after CancelRequest or Terminate. */
  get phase(): FramerMode {
    return this.framer.mode;
  }

  get bufferedBytes(): number {
    return this.framer.bufferedBytes;
  }

  /** Throws PgCodecError on a framing error (`before` holds this push's earlier events). */
  push(chunk: Uint8Array): FrontendEvent[] {
    this.out = [];
    try {
      this.framer.push(chunk);
    } catch (e) {
      if (e instanceof PgCodecError) e.before = this.out;
      throw e;
    }
    return this.out;
  }

  /** Call at end of stream: throws PG_MSG_TRUNCATED if a message was cut off. */
  end(): void {
    this.framer.end();
  }

  private onStartup(raw: Uint8Array): void {
    try {
      const msg = decodeStartupPacket(raw);
      if (msg.type === 'StartupMessage') this.framer.mode = 'typed';
      else if (msg.type === 'CancelRequest') this.framer.mode = 'closed';
      this.out.push(msg);
    } catch (e) {
      if (!(e instanceof PgCodecError)) throw e;
      this.out.push({ type: 'Malformed', raw, typeByte: 0, error: e });
    }
  }

  private onTyped(raw: Uint8Array, typeByte: number): void {
    try {
      this.out.push(decodeFrontendTyped(raw, typeByte));
    } catch (e) {
      if (!(e instanceof PgCodecError)) throw e;
      this.out.push({ type: 'Malformed', raw, typeByte, error: e });
    }
    if (typeByte === FE.Terminate) this.framer.mode = 'closed';
  }
}
