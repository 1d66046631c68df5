/**
 * PostgreSQL wire codec, both directions, pure and incremental (no I/O, no clock).
 * Parsers: FrontendParser (client -> server), BackendParser (server -> client).
 * Encoders: encode* in frontend-encode.ts / backend-encode.ts.
 * Authentication: SCRAM-SHA-256 client, SASLprep, MD5.
 */
export * from './constants.js';
export * from './errors.js';
export type * from './messages.js';
export type { ParserOptions } from './parser-options.js';
export { FrontendParser, type FrontendParserOptions } from './frontend-parser.js';
export { BackendParser, type BackendParserOptions } from './backend-parser.js';
export * from './frontend-encode.js';
export * from './backend-encode.js';
export * from './notice-fields.js';
export * from './password-message.js';
export * from './scram.js';
export * from './saslprep.js';
export { md5Password } from './md5-password.js';
export { MessageWriter } from './writer.js';
