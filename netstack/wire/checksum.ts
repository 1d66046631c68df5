/**
 * The internet checksum: RFC 1071 (computation), RFC 1624 (incremental update), and the
 * pseudo-headers of RFC 768/9293 (IPv4) and RFC 8200 §8.1 (IPv6).
 *
 * Sums are kept as plain numbers: 16-bit words added into a double stay exact far beyond the
 * 64 KiB an IP packet can hold (2^15 words * 0xffff < 2^31), so folding once at the end suffices.
 * The big-endian field helpers live here too, since every codec reads its words with them.
 */

/** One's-complement sum of `bytes` (odd length padded with a zero byte), added to `initial`, folded to 16 bits. */
export function onesComplementSum(bytes: Uint8Array, initial = 0): number {
  let sum = initial;
  const even = bytes.length & ~1;
  for (let i = 0; i < even; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  if (even !== bytes.length) sum += bytes[even]! << 8;
  return fold(sum);
}

/** Folds carries back into the low 16 bits (end-around carry). */
export function fold(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/** The checksum field value: the complement of the sum over `bytes` with the checksum field zeroed. */
export function internetChecksum(bytes: Uint8Array, initial = 0): number {
  return ~onesComplementSum(bytes, initial) & 0xffff;
}

/** True when `bytes` (checksum field included) sums to all ones, i.e. the checksum is right. */
export function checksumIsValid(bytes: Uint8Array, initial = 0): boolean {
  return onesComplementSum(bytes, initial) === 0xffff;
}

/**
 * Sum of the pseudo-header for an upper-layer checksum. Both addresses must be the same family:
 * 4 bytes (RFC 768: src, dst, zero, protocol, 16-bit length) or 16 bytes (RFC 8200 §8.1: src, dst,
 * 32-bit upper-layer length, three zero bytes, next header). The sums are the same either way
 * because the zero padding contributes nothing.
 */
export function pseudoHeaderSum(src: Uint8Array, dst: Uint8Array, protocol: number, upperLayerLength: number): number {
  let sum = 0;
  for (let i = 0; i < src.length; i += 2) sum += (src[i]! << 8) | src[i + 1]!;
  for (let i = 0; i < dst.length; i += 2) sum += (dst[i]! << 8) | dst[i + 1]!;
  sum += protocol;
  sum += (upperLayerLength >>> 16) + (upperLayerLength & 0xffff);
  return fold(sum);
}

/**
 * RFC 1624 eqn. 3: the new checksum after one 16-bit word of the covered data changes from
 * `oldWord` to `newWord`. HC' = ~(~HC + ~m + m'). Unlike eqn. 2 this never yields 0x0000 from a
 * non-zero sum, which is the case the RFC was written to fix.
 */
export function updateChecksum(checksum: number, oldWord: number, newWord: number): number {
  const sum = (~checksum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff);
  return ~fold(sum) & 0xffff;
}

/**
 * RFC 1624 for a run of bytes at an even offset (e.g. an address rewritten by NAT): each 16-bit
 * word of `before` is replaced by the word at the same place in `after`. Lengths must match.
 */
export function updateChecksumBytes(checksum: number, before: Uint8Array, after: Uint8Array): number {
  if (before.length !== after.length) throw new RangeError('updateChecksumBytes: lengths differ');
  // ~m + m' summed over all words, then applied once: the same as word by word, by associativity.
  const oldSum = onesComplementSum(before);
  const newSum = onesComplementSum(after);
  return ~fold((~checksum & 0xffff) + (~oldSum & 0xffff) + newSum) & 0xffff;
}

/** Network-order (big-endian) integer helpers. Callers check bounds first (`checked` views). */
export function readU16(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}

export function writeU16(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >> 8) & 0xff;
  b[at + 1] = v & 0xff;
}

export function readU32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

export function writeU32(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 24) & 0xff;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}
