/**
 * The whitepaper's primitives (§5.4): HASH, HMAC, KDF1-3, MAC, AEAD, XAEAD.
 * node:crypto serves BLAKE2s-256, HMAC-BLAKE2s and ChaCha20-Poly1305; keyed BLAKE2s-128 (MAC) and
 * XChaCha20-Poly1305 (XAEAD) come from @noble, as node:crypto has neither (DEPENDENCY-NOTES §7).
 * These run on handshakes only; the transport path has its own allocation-free code (keypair.ts).
 */
import { createCipheriv, createDecipheriv, createHash, createHmac } from 'node:crypto';
import { blake2s } from '@noble/hashes/blake2.js';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { AEAD_TAG_SIZE, MAC_SIZE } from '../wire/wireguard-messages.js';

export const HASH_SIZE = 32;
export const AEAD_NONCE_SIZE = 12;
const CHACHA = 'chacha20-poly1305';
const AEAD_OPTIONS = { authTagLength: AEAD_TAG_SIZE } as const;

export function hash(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('blake2s256');
  for (const part of parts) h.update(part);
  return h.digest();
}

export function hmac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = createHmac('blake2s256', key);
  for (const part of parts) h.update(part);
  return h.digest();
}

const ONE = Uint8Array.of(1);
const TWO = Uint8Array.of(2);
const THREE = Uint8Array.of(3);

/** HKDF with HMAC-BLAKE2s, returning the first `n` 32-byte outputs (KDF1, KDF2, KDF3). */
export function kdf(n: 1 | 2 | 3, key: Uint8Array, input: Uint8Array): Uint8Array[] {
  const prk = hmac(key, input);
  const t1 = hmac(prk, ONE);
  const out = [t1];
  if (n >= 2) out.push(hmac(prk, t1, TWO));
  if (n === 3) out.push(hmac(prk, out[1]!, THREE));
  prk.fill(0);
  return out;
}

/** Keyed BLAKE2s with a 16-byte output: the MAC of mac1, mac2 and the cookie. */
export function mac(key: Uint8Array, input: Uint8Array): Uint8Array {
  return blake2s(input, { key, dkLen: MAC_SIZE });
}

/** The AEAD nonce: 32 zero bits then the 64-bit counter, little-endian (whitepaper §5.4). */
export function aeadNonce(counter: number, out = new Uint8Array(AEAD_NONCE_SIZE)): Uint8Array {
  out.fill(0, 0, 4);
  const low = counter >>> 0;
  const high = Math.floor(counter / 0x1_0000_0000);
  out[4] = low & 0xff; out[5] = (low >>> 8) & 0xff; out[6] = (low >>> 16) & 0xff; out[7] = low >>> 24;
  out[8] = high & 0xff; out[9] = (high >>> 8) & 0xff; out[10] = (high >>> 16) & 0xff; out[11] = high >>> 24;
  return out;
}

/** ChaCha20-Poly1305 seal; returns ciphertext followed by the tag. */
export function aead(key: Uint8Array, counter: number, plaintext: Uint8Array, ad: Uint8Array): Uint8Array {
  const cipher = createCipheriv(CHACHA, key, aeadNonce(counter), AEAD_OPTIONS);
  cipher.setAAD(ad, { plaintextLength: plaintext.length });
  const body = cipher.update(plaintext);
  cipher.final();
  return Buffer.concat([body, cipher.getAuthTag()]);
}

/** ChaCha20-Poly1305 open; undefined when the tag does not verify or the input is too short. */
export function aeadOpen(key: Uint8Array, counter: number, sealed: Uint8Array, ad: Uint8Array): Uint8Array | undefined {
  if (sealed.length < AEAD_TAG_SIZE) return undefined;
  const end = sealed.length - AEAD_TAG_SIZE;
  try {
    const decipher = createDecipheriv(CHACHA, key, aeadNonce(counter), AEAD_OPTIONS);
    decipher.setAuthTag(sealed.subarray(end));
    decipher.setAAD(ad, { plaintextLength: end });
    const body = decipher.update(sealed.subarray(0, end));
    decipher.final();
    return body;
  } catch {
    return undefined;
  }
}

/** XChaCha20-Poly1305 seal (cookie replies). */
export function xaead(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Uint8Array {
  return xchacha20poly1305(key, nonce, ad).encrypt(plaintext);
}

export function xaeadOpen(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, ad: Uint8Array): Uint8Array | undefined {
  try {
    return xchacha20poly1305(key, nonce, ad).decrypt(sealed);
  } catch {
    return undefined;
  }
}

/** Constant-time comparison: MACs must not leak how many leading bytes matched. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let acc = 0;
  for (let i = 0; i < a.length; i++) acc |= a[i]! ^ b[i]!;
  return acc === 0;
}

export function isZero(bytes: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < bytes.length; i++) acc |= bytes[i]!;
  return acc === 0;
}

export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
