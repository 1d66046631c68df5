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
import { FramedParser } from './framed-parser.js';
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

export class FrontendParser extends FramedParser<FrontendEvent> {
  protected readonly framer: Framer;

  constructor(opts: FrontendParserOptions = {}) {
    super();
    const sink: FrameSink = {
      startup: (raw) => this.onStartup(raw),
      typed: (raw, typeByte) => this.onTyped(raw, typeByte),
      single: () => {
        throw new PgCodecError('PG_UNKNOWN_MESSAGE', 'single byte in the frontend stream');
      },
      part: this.onPart,
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

  private onStartup(raw: Uint8Array): void {
    this.pushDecoded(raw, 0, () => {
      const msg = decodeStartupPacket(raw);
      if (msg.type === 'StartupMessage') this.framer.mode = 'typed';
      else if (msg.type === 'CancelRequest') this.framer.mode = 'closed';
      return msg;
    });
  }

  private onTyped(raw: Uint8Array, typeByte: number): void {
    this.pushDecoded(raw, typeByte, () => decodeFrontendTyped(raw, typeByte));
    if (typeByte === FE.Terminate) this.framer.mode = 'closed';
  }
}
