/**
 * Incremental parser for the server -> client stream: `push(chunk)` returns the messages the
 * chunk completes, correct at any chunk boundary.
 *
 * Every backend message is typed, except the one byte answering an SSLRequest ('S' or 'N') or
 * GSSENCRequest ('G' or 'N'). The parser cannot see the request, so whoever sends it calls
 * `expectEncryptionResponse()` first. An 'E' in that place is an ErrorResponse from a server
 * that predates the request, and is parsed as one.
 */
import { BE, DEFAULT_MAX_MESSAGE_LENGTH, ENCRYPTION_ACCEPTED_GSS, ENCRYPTION_ACCEPTED_SSL, ENCRYPTION_REFUSED } from './constants.js';
import { decodeBackendTyped } from './backend-decode.js';
import { PgCodecError } from './errors.js';
import { Framer, type FrameSink } from './framer.js';
import { BACKEND_RULES, buildLengthTable } from './limits.js';
import type { BackendEvent } from './messages.js';
import type { ParserOptions } from './parser-options.js';

export interface BackendParserOptions extends ParserOptions {
  /** Pass CopyData through in MessagePart pieces instead of buffering whole messages. */
  readonly streamCopyData?: boolean;
  /** Same for DataRow (rows can legally reach 1 GiB; a relay need not hold them). */
  readonly streamDataRows?: boolean;
}

const SSL_ANSWERS: ReadonlySet<number> = new Set([ENCRYPTION_ACCEPTED_SSL, ENCRYPTION_REFUSED]);
const GSS_ANSWERS: ReadonlySet<number> = new Set([ENCRYPTION_ACCEPTED_GSS, ENCRYPTION_REFUSED]);

export class BackendParser {
  private readonly framer: Framer;
  private out: BackendEvent[] = [];
  private awaiting: 'ssl' | 'gss' = 'ssl';

  constructor(opts: BackendParserOptions = {}) {
    const streamTypes: number[] = [];
    if (opts.streamCopyData) streamTypes.push(BE.CopyData);
    if (opts.streamDataRows) streamTypes.push(BE.DataRow);
    const sink: FrameSink = {
      startup: () => {
        throw new PgCodecError('PG_UNKNOWN_MESSAGE', 'untyped packet in the backend stream');
      },
      typed: (raw, typeByte) => {
        try {
          this.out.push(decodeBackendTyped(raw, typeByte));
        } catch (e) {
          if (!(e instanceof PgCodecError)) throw e;
          this.out.push({ type: 'Malformed', raw, typeByte, error: e });
        }
      },
      single: (raw) => {
        const b = raw[0]!;
        this.out.push({ type: 'EncryptionResponse', raw, request: this.awaiting, accepted: b !== ENCRYPTION_REFUSED });
      },
      part: (raw, payload, typeByte, offset, bodyLength) =>
        this.out.push({ type: 'MessagePart', raw, payload, typeByte, offset, bodyLength, first: offset === 0 && raw !== payload, last: offset + payload.length === bodyLength }),
    };
    this.framer = new Framer('typed', sink, {
      lengths: buildLengthTable(BACKEND_RULES, opts.maxMessageLength ?? DEFAULT_MAX_MESSAGE_LENGTH),
      ...(opts.maxStreamedLength !== undefined ? { maxStreamedLength: opts.maxStreamedLength } : {}),
      streamTypes,
      copy: opts.copy ?? false,
    });
  }

  /** The next byte may be the unframed answer to the SSLRequest / GSSENCRequest just sent. */
  expectEncryptionResponse(request: 'ssl' | 'gss'): void {
    if (!this.framer.atBoundary) throw new PgCodecError('PG_UNEXPECTED_DATA', 'encryption response expected inside a message');
    this.awaiting = request;
    this.framer.expectSingleByte(request === 'ssl' ? SSL_ANSWERS : GSS_ANSWERS);
  }

  get bufferedBytes(): number {
    return this.framer.bufferedBytes;
  }

  /** Throws PgCodecError on a framing error (`before` holds this push's earlier events). */
  push(chunk: Uint8Array): BackendEvent[] {
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
}
