/**
 * WireGuard message layouts (whitepaper §5.4.2-§5.4.7, §5.4.6 for transport data).
 *
 * Views over bytes plus parsed values, no state and no crypto. Every multi-byte integer in these
 * headers is little-endian. A view is only built after an exact-size check (`check*`), so field
 * reads never run past the end; callers drop anything that fails the check.
 */

export const MESSAGE_HANDSHAKE_INITIATION = 1;
export const MESSAGE_HANDSHAKE_RESPONSE = 2;
export const MESSAGE_HANDSHAKE_COOKIE = 3;
export const MESSAGE_TRANSPORT_DATA = 4;

export const KEY_SIZE = 32;
export const AEAD_TAG_SIZE = 16;
export const MAC_SIZE = 16;
export const TAI64N_SIZE = 12;
export const COOKIE_NONCE_SIZE = 24;
export const COOKIE_SIZE = 16;

// The first word is `type` in its low byte and three reserved zero bytes.
export const TYPE_OFFSET = 0;
export const RESERVED_SIZE = 3;

// Type 1: handshake initiation, 148 bytes.
export const INITIATION_SENDER_OFFSET = 4;
export const INITIATION_EPHEMERAL_OFFSET = 8;
export const INITIATION_STATIC_OFFSET = 40;
export const INITIATION_STATIC_SIZE = KEY_SIZE + AEAD_TAG_SIZE; // 48
export const INITIATION_TIMESTAMP_OFFSET = 88;
export const INITIATION_TIMESTAMP_SIZE = TAI64N_SIZE + AEAD_TAG_SIZE; // 28
export const INITIATION_MAC1_OFFSET = 116;
export const INITIATION_MAC2_OFFSET = 132;
export const MESSAGE_INITIATION_SIZE = 148;

// Type 2: handshake response, 92 bytes.
export const RESPONSE_SENDER_OFFSET = 4;
export const RESPONSE_RECEIVER_OFFSET = 8;
export const RESPONSE_EPHEMERAL_OFFSET = 12;
export const RESPONSE_EMPTY_OFFSET = 44;
export const RESPONSE_EMPTY_SIZE = AEAD_TAG_SIZE; // AEAD of the empty string: the tag alone
export const RESPONSE_MAC1_OFFSET = 60;
export const RESPONSE_MAC2_OFFSET = 76;
export const MESSAGE_RESPONSE_SIZE = 92;

// Type 3: cookie reply, 64 bytes.
export const COOKIE_RECEIVER_OFFSET = 4;
export const COOKIE_NONCE_OFFSET = 8;
export const COOKIE_ENCRYPTED_OFFSET = 32;
export const COOKIE_ENCRYPTED_SIZE = COOKIE_SIZE + AEAD_TAG_SIZE; // 32
export const MESSAGE_COOKIE_REPLY_SIZE = 64;

// Type 4: transport data, a 16-byte header then AEAD(packet padded to 16) with its tag.
export const TRANSPORT_RECEIVER_OFFSET = 4;
export const TRANSPORT_COUNTER_OFFSET = 8;
export const TRANSPORT_CONTENT_OFFSET = 16;
export const MESSAGE_TRANSPORT_HEADER_SIZE = 16;
export const MESSAGE_TRANSPORT_MIN_SIZE = MESSAGE_TRANSPORT_HEADER_SIZE + AEAD_TAG_SIZE; // 32: a keepalive
export const MESSAGE_PADDING_MULTIPLE = 16;

/** Why a datagram is not a WireGuard message we can look at. Stable names for counters. */
export type MessageCheckError = 'bad_length' | 'unknown_type';

/**
 * Reads the type of a datagram and checks the length is exactly right for it (for transport data:
 * at least a header and a tag). The type is the whole first little-endian word, so a message with
 * non-zero reserved bytes is an unknown type, as in the reference implementations.
 */
export function checkMessage(bytes: Uint8Array): number | MessageCheckError {
  if (bytes.length < 4) return 'bad_length';
  const type = readU32(bytes, TYPE_OFFSET);
  switch (type) {
    case MESSAGE_HANDSHAKE_INITIATION: return bytes.length === MESSAGE_INITIATION_SIZE ? type : 'bad_length';
    case MESSAGE_HANDSHAKE_RESPONSE: return bytes.length === MESSAGE_RESPONSE_SIZE ? type : 'bad_length';
    case MESSAGE_HANDSHAKE_COOKIE: return bytes.length === MESSAGE_COOKIE_REPLY_SIZE ? type : 'bad_length';
    case MESSAGE_TRANSPORT_DATA: return bytes.length >= MESSAGE_TRANSPORT_MIN_SIZE ? type : 'bad_length';
    default: return 'unknown_type';
  }
}

export function readU32(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! | (bytes[offset + 1]! << 8) | (bytes[offset + 2]! << 16) | (bytes[offset + 3]! << 24)) >>> 0;
}

export function writeU32(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value & 0xff;
  bytes[offset + 1] = (value >>> 8) & 0xff;
  bytes[offset + 2] = (value >>> 16) & 0xff;
  bytes[offset + 3] = (value >>> 24) & 0xff;
}

function writeHeader(bytes: Uint8Array, type: number): void {
  bytes[0] = type;
  bytes[1] = 0;
  bytes[2] = 0;
  bytes[3] = 0;
}

/** Parsed handshake initiation. Byte fields are subarrays of the message, not copies. */
export interface InitiationRepr {
  sender: number;
  ephemeral: Uint8Array;
  encryptedStatic: Uint8Array;
  encryptedTimestamp: Uint8Array;
  mac1: Uint8Array;
  mac2: Uint8Array;
}

export function parseInitiation(bytes: Uint8Array): InitiationRepr {
  return {
    sender: readU32(bytes, INITIATION_SENDER_OFFSET),
    ephemeral: bytes.subarray(INITIATION_EPHEMERAL_OFFSET, INITIATION_EPHEMERAL_OFFSET + KEY_SIZE),
    encryptedStatic: bytes.subarray(INITIATION_STATIC_OFFSET, INITIATION_STATIC_OFFSET + INITIATION_STATIC_SIZE),
    encryptedTimestamp: bytes.subarray(INITIATION_TIMESTAMP_OFFSET, INITIATION_TIMESTAMP_OFFSET + INITIATION_TIMESTAMP_SIZE),
    mac1: bytes.subarray(INITIATION_MAC1_OFFSET, INITIATION_MAC1_OFFSET + MAC_SIZE),
    mac2: bytes.subarray(INITIATION_MAC2_OFFSET, INITIATION_MAC2_OFFSET + MAC_SIZE),
  };
}

/** Writes an initiation with zero MACs; the MACs are filled in last, over the finished bytes. */
export function emitInitiation(repr: Omit<InitiationRepr, 'mac1' | 'mac2'>, out = new Uint8Array(MESSAGE_INITIATION_SIZE)): Uint8Array {
  out.fill(0);
  writeHeader(out, MESSAGE_HANDSHAKE_INITIATION);
  writeU32(out, INITIATION_SENDER_OFFSET, repr.sender);
  out.set(repr.ephemeral, INITIATION_EPHEMERAL_OFFSET);
  out.set(repr.encryptedStatic, INITIATION_STATIC_OFFSET);
  out.set(repr.encryptedTimestamp, INITIATION_TIMESTAMP_OFFSET);
  return out;
}

export interface ResponseRepr {
  sender: number;
  receiver: number;
  ephemeral: Uint8Array;
  encryptedEmpty: Uint8Array;
  mac1: Uint8Array;
  mac2: Uint8Array;
}

export function parseResponse(bytes: Uint8Array): ResponseRepr {
  return {
    sender: readU32(bytes, RESPONSE_SENDER_OFFSET),
    receiver: readU32(bytes, RESPONSE_RECEIVER_OFFSET),
    ephemeral: bytes.subarray(RESPONSE_EPHEMERAL_OFFSET, RESPONSE_EPHEMERAL_OFFSET + KEY_SIZE),
    encryptedEmpty: bytes.subarray(RESPONSE_EMPTY_OFFSET, RESPONSE_EMPTY_OFFSET + RESPONSE_EMPTY_SIZE),
    mac1: bytes.subarray(RESPONSE_MAC1_OFFSET, RESPONSE_MAC1_OFFSET + MAC_SIZE),
    mac2: bytes.subarray(RESPONSE_MAC2_OFFSET, RESPONSE_MAC2_OFFSET + MAC_SIZE),
  };
}

export function emitResponse(repr: Omit<ResponseRepr, 'mac1' | 'mac2'>, out = new Uint8Array(MESSAGE_RESPONSE_SIZE)): Uint8Array {
  out.fill(0);
  writeHeader(out, MESSAGE_HANDSHAKE_RESPONSE);
  writeU32(out, RESPONSE_SENDER_OFFSET, repr.sender);
  writeU32(out, RESPONSE_RECEIVER_OFFSET, repr.receiver);
  out.set(repr.ephemeral, RESPONSE_EPHEMERAL_OFFSET);
  out.set(repr.encryptedEmpty, RESPONSE_EMPTY_OFFSET);
  return out;
}

export interface CookieReplyRepr {
  receiver: number;
  nonce: Uint8Array;
  encryptedCookie: Uint8Array;
}

export function parseCookieReply(bytes: Uint8Array): CookieReplyRepr {
  return {
    receiver: readU32(bytes, COOKIE_RECEIVER_OFFSET),
    nonce: bytes.subarray(COOKIE_NONCE_OFFSET, COOKIE_NONCE_OFFSET + COOKIE_NONCE_SIZE),
    encryptedCookie: bytes.subarray(COOKIE_ENCRYPTED_OFFSET, COOKIE_ENCRYPTED_OFFSET + COOKIE_ENCRYPTED_SIZE),
  };
}

export function emitCookieReply(repr: CookieReplyRepr, out = new Uint8Array(MESSAGE_COOKIE_REPLY_SIZE)): Uint8Array {
  writeHeader(out, MESSAGE_HANDSHAKE_COOKIE);
  writeU32(out, COOKIE_RECEIVER_OFFSET, repr.receiver);
  out.set(repr.nonce, COOKIE_NONCE_OFFSET);
  out.set(repr.encryptedCookie, COOKIE_ENCRYPTED_OFFSET);
  return out;
}

/**
 * Transport data header. The counter is 64-bit; it is kept as two 32-bit halves because a
 * Number loses exactness above 2^53 and the replay window must compare counters exactly.
 */
export interface TransportHeaderRepr {
  receiver: number;
  counterLow: number;
  counterHigh: number;
}

export function parseTransportHeader(bytes: Uint8Array): TransportHeaderRepr {
  return {
    receiver: readU32(bytes, TRANSPORT_RECEIVER_OFFSET),
    counterLow: readU32(bytes, TRANSPORT_COUNTER_OFFSET),
    counterHigh: readU32(bytes, TRANSPORT_COUNTER_OFFSET + 4),
  };
}

/** Writes the 16-byte header of a transport message; `counter` must be below 2^53. */
export function emitTransportHeader(out: Uint8Array, receiver: number, counter: number): void {
  writeHeader(out, MESSAGE_TRANSPORT_DATA);
  writeU32(out, TRANSPORT_RECEIVER_OFFSET, receiver);
  writeU32(out, TRANSPORT_COUNTER_OFFSET, counter >>> 0);
  writeU32(out, TRANSPORT_COUNTER_OFFSET + 4, Math.floor(counter / 0x1_0000_0000));
}

/** Plaintext length after padding `length` to the next multiple of 16 (whitepaper §5.4.6). */
export function paddedLength(length: number): number {
  return (length + MESSAGE_PADDING_MULTIPLE - 1) & ~(MESSAGE_PADDING_MULTIPLE - 1);
}

/** Total size of a transport message carrying an IP packet of `packetLength` bytes. */
export function transportMessageSize(packetLength: number): number {
  return MESSAGE_TRANSPORT_HEADER_SIZE + paddedLength(packetLength) + AEAD_TAG_SIZE;
}
