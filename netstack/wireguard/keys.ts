/**
 * Curve25519 keys: raw 32-byte forms (as in `wg` configs, base64) and node:crypto KeyObjects.
 * Importing a raw key into a KeyObject costs ~10x a DH (DEPENDENCY-NOTES §7), so static keys are
 * imported once and kept; only a peer's ephemeral key is imported per handshake.
 */
import { createPrivateKey, createPublicKey, diffieHellman, randomBytes, type KeyObject } from 'node:crypto';
import { KEY_SIZE } from '../wire/wireguard-messages.js';

// DER wrappers for raw X25519 keys (RFC 8410): PKCS#8 for private, SubjectPublicKeyInfo for public.
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_X25519_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

export class KeyError extends Error {
  readonly code = 'WG_BAD_KEY';
}

function checkSize(raw: Uint8Array, what: string): void {
  if (raw.length !== KEY_SIZE) throw new KeyError(`${what} must be ${KEY_SIZE} bytes, got ${raw.length}`);
}

/** Clamps a scalar as RFC 7748 §5 does, so stored keys look like `wg genkey` output. */
export function clampPrivateKey(raw: Uint8Array): Uint8Array {
  const out = Uint8Array.from(raw);
  out[0]! &= 248;
  out[31]! &= 127;
  out[31]! |= 64;
  return out;
}

export function generatePrivateKey(random: (n: number) => Uint8Array = randomBytes): Uint8Array {
  return clampPrivateKey(random(KEY_SIZE));
}

export function importPrivateKey(raw: Uint8Array): KeyObject {
  checkSize(raw, 'private key');
  const der = Buffer.concat([PKCS8_X25519_PREFIX, raw]);
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } finally {
    der.fill(0); // the copy of the secret we made; OpenSSL holds its own
  }
}

/** Throws for a wrong size only; every 32-byte string is a valid X25519 public key. */
export function importPublicKey(raw: Uint8Array): KeyObject {
  checkSize(raw, 'public key');
  return createPublicKey({ key: Buffer.concat([SPKI_X25519_PREFIX, raw]), format: 'der', type: 'spki' });
}

export function exportPublicKey(key: KeyObject): Uint8Array {
  const der = key.export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(der.length - KEY_SIZE));
}

export function publicKeyFromPrivate(privateKey: Uint8Array): Uint8Array {
  return exportPublicKey(createPublicKey(importPrivateKey(privateKey)));
}

/** A key pair as used in a handshake: the KeyObject for DH, the raw public half for the wire. */
export interface X25519KeyPair {
  privateKey: KeyObject;
  publicKey: Uint8Array;
}

export function keyPairFromPrivate(privateKey: Uint8Array): X25519KeyPair {
  const key = importPrivateKey(privateKey);
  return { privateKey: key, publicKey: exportPublicKey(createPublicKey(key)) };
}

/**
 * X25519, or undefined when the result is all zeros (a low-order public key): Noise requires
 * refusing such a handshake, and OpenSSL reports it by throwing.
 */
export function dh(privateKey: KeyObject, publicKey: KeyObject): Uint8Array | undefined {
  let shared: Buffer;
  try {
    shared = diffieHellman({ privateKey, publicKey });
  } catch {
    return undefined;
  }
  let acc = 0;
  for (let i = 0; i < shared.length; i++) acc |= shared[i]!;
  return acc === 0 ? undefined : shared;
}

const BASE64_KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

/** Base64 as in `wg` configs: exactly 44 characters, canonical, decoding to 32 bytes. */
export function decodeKey(text: string): Uint8Array {
  if (!BASE64_KEY.test(text)) throw new KeyError('key must be 44 characters of canonical base64 (32 bytes)');
  const raw = new Uint8Array(Buffer.from(text, 'base64'));
  checkSize(raw, 'key');
  return raw;
}

export function encodeKey(raw: Uint8Array): string {
  checkSize(raw, 'key');
  return Buffer.from(raw.buffer, raw.byteOffset, raw.length).toString('base64');
}
