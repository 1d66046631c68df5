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
import { FramedParser } from './framed-parser.js';
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

export class BackendParser extends FramedParser<BackendEvent> {
  protected readonly framer: Framer;
  private awaiting: 'ssl' | 'gss' = 'ssl';

  constructor(opts: BackendParserOptions = {}) {
    super();
    const streamTypes: number[] = [];
    if (opts.streamCopyData) streamTypes.push(BE.CopyData);
    if (opts.streamDataRows) streamTypes.push(BE.DataRow);
    const sink: FrameSink = {
      startup: () => {
        throw new PgCodecError('PG_UNKNOWN_MESSAGE', 'untyped packet in the backend stream');
      },
      typed: (raw, typeByte) => this.pushDecoded(raw, typeByte, () => decodeBackendTyped(raw, typeByte)),
      single: (raw) => {
        const b = raw[0]!;
        this.out.push({ type: 'EncryptionResponse', raw, request: this.awaiting, accepted: b !== ENCRYPTION_REFUSED });
      },
      part: this.onPart,
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
}
