/**
 * Typed errors of the Postgres codec. Parsers and decoders throw only `PgCodecError`; callers,
 * logs and the audit record match on the stable `code`, never on the message text.
 *
 * Fatal codes (framing: the stream cannot be resynchronised) make a parser unusable; body codes
 * come back inside a `Malformed` message so the session can deny that one message and go on, as
 * the server does with an ERROR (not FATAL) on a bad message body.
 */
export const PG_CODEC_ERROR_CODES = [
  // framing (fatal)
  'PG_MSG_TOO_LARGE', // length field above the cap for this message type
  'PG_BAD_LENGTH', // length below the minimum, negative, or not the fixed size of the type
  'PG_UNKNOWN_MESSAGE', // type byte (or startup code) not defined in this direction
  'PG_MSG_TRUNCATED', // stream ended inside a message, or a body ended before a field
  'PG_TLS_HANDSHAKE', // a TLS ClientHello where a startup packet was expected (direct SSL)
  'PG_UNEXPECTED_DATA', // bytes after a message that ends the stream (CancelRequest)
  'PG_PARSER_FAILED', // push() after a fatal error
  // body (per message)
  'PG_BAD_STRING', // a String field without its terminating NUL
  'PG_BAD_UTF8', // a String field that is not valid UTF-8
  'PG_BAD_FIELD', // a count, length, format or code out of range
  'PG_TRAILING_BYTES', // bytes left after the last field
  'PG_UNSUPPORTED_PROTOCOL', // StartupMessage with a major version other than 3
  'PG_DUPLICATE_PARAMETER', // a startup parameter given twice (the server keeps the last one)
  // authentication helpers
  'PG_SASL_MECHANISM', // no SASL mechanism we can use (e.g. only SCRAM-SHA-256-PLUS offered)
  'PG_SCRAM_BAD_MESSAGE', // a SCRAM message that does not follow RFC 5802's grammar
  'PG_SCRAM_NONCE', // server nonce does not extend ours
  'PG_SCRAM_ITERATIONS', // iteration count out of range (DoS guard)
  'PG_SCRAM_SERVER_ERROR', // server-final-message carried e=<error>
  'PG_SCRAM_BAD_SIGNATURE', // the server could not prove it knows the verifier
  // encoders (programmer errors)
  'PG_BAD_VALUE', // a value the wire format cannot carry (NUL in a String, int out of range)
] as const;

export type PgCodecErrorCode = (typeof PG_CODEC_ERROR_CODES)[number];

export class PgCodecError extends Error {
  override readonly name = 'PgCodecError';
  readonly code: PgCodecErrorCode;
  /**
   * Set by a parser's push() that failed: the events that push parsed before the error (well
   * framed, in order). The connection is done for, but a caller may still log or relay them.
   */
  before: readonly unknown[] = [];

  constructor(code: PgCodecErrorCode, message?: string) {
    super(message === undefined ? code : `${code}: ${message}`);
    this.code = code;
  }
}
