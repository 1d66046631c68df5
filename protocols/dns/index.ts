/** Pure DNS codec: RFC 1035 messages, RFC 3596 AAAA, RFC 6891 EDNS0. No I/O, no clock. */
export * from './constants.js';
export * from './errors.js';
export * from './header.js';
export * from './name.js';
export * from './edns.js';
export * from './message.js';
export * from './query.js';
export * from './response.js';
