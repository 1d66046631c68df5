/**
 * ChaCha20-Poly1305 (RFC 8439) for WireGuard transport messages: the WebAssembly module of
 * chacha20-poly1305-wat.ts, compiled once at load (3.5 KB, synchronous). Associated data is
 * limited to 64 bytes (transport messages have none; handshakes, which stay on node:crypto in
 * noise-primitives.ts, have a 32-byte hash).
 *
 * One instance serves every keypair: the key and nonce are copied in for each call, and the key
 * material (key, keystream, one-time Poly1305 key and accumulator) is wiped when it returns,
 * whatever happens. The last message's bytes stay in the data area until the next call, like the
 * contents of any buffer the caller hands over.
 */
import { CHACHA_POLY_WASM } from './chacha20-poly1305-wasm.js';
import { AEAD_LAYOUT, AEAD_MAX_AAD, AEAD_MAX_MESSAGE } from './chacha20-poly1305-wat.js';

export { AEAD_MAX_AAD, AEAD_MAX_MESSAGE };

// The ES library this project compiles against has no WebAssembly types (they live in the DOM
// library): the little used here, declared.
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: unknown };
};

interface Exports {
  memory: { buffer: ArrayBuffer };
  seal(length: number, aadLength: number): void;
  open(length: number, aadLength: number): number;
  poly1305Blocks(length: number): void;
  macStateCleared(): number;
}

const exports = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(CHACHA_POLY_WASM, 'base64'))).exports as unknown as Exports;
// Fixed size (maximum = initial pages): the view never detaches.
const memory = new Uint8Array(exports.memory.buffer);
const { key: KEY, nonce: NONCE, tag: TAG, keystream: KEYSTREAM, computedTag: COMPUTED_TAG, aad: AAD, data: DATA, scratchEnd: SCRATCH_END } = AEAD_LAYOUT;
const EMPTY = new Uint8Array(0);
export const KEY_SIZE = 32;
export const NONCE_SIZE = 12;
export const TAG_SIZE = 16;

function load(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, length: number): void {
  if (key.length !== KEY_SIZE || nonce.length !== NONCE_SIZE) throw new RangeError('ChaCha20-Poly1305 takes a 32-byte key and a 12-byte nonce');
  if (aad.length > AEAD_MAX_AAD) throw new RangeError(`associated data of ${aad.length} bytes exceeds ${AEAD_MAX_AAD}`);
  if (length > AEAD_MAX_MESSAGE) throw new RangeError(`message of ${length} bytes exceeds ${AEAD_MAX_MESSAGE}`);
  memory.set(key, KEY);
  memory.set(nonce, NONCE);
  if (aad.length > 0) memory.set(aad, AAD);
}

/** Encrypts `content` in place and writes its 16-byte tag into `tag`. */
export function seal(key: Uint8Array, nonce: Uint8Array, content: Uint8Array, tag: Uint8Array, aad: Uint8Array = EMPTY): void {
  if (tag.length !== TAG_SIZE) throw new RangeError(`the tag takes ${TAG_SIZE} bytes, not ${tag.length}`);
  const n = content.length;
  load(key, nonce, aad, n);
  try {
    memory.set(content, DATA);
    exports.seal(n, aad.length);
    content.set(memory.subarray(DATA, DATA + n));
    tag.set(memory.subarray(TAG, TAG + TAG_SIZE));
  } finally {
    memory.fill(0, 0, SCRATCH_END);
  }
}

/**
 * Checks and decrypts `ciphertext` whose tag is `tag`: a fresh plaintext, or undefined when the
 * tag does not match (nothing is decrypted then).
 */
export function open(key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array, tag: Uint8Array, aad: Uint8Array = EMPTY): Uint8Array | undefined {
  const n = ciphertext.length;
  // Received input: too large to be genuine is just not authentic.
  if (tag.length !== TAG_SIZE || n > AEAD_MAX_MESSAGE || aad.length > AEAD_MAX_AAD) return undefined;
  load(key, nonce, aad, n);
  try {
    memory.set(ciphertext, DATA);
    memory.set(tag, TAG);
    return exports.open(n, aad.length) === 1 ? memory.slice(DATA, DATA + n) : undefined;
  } finally {
    memory.fill(0, 0, SCRATCH_END);
  }
}

/**
 * Poly1305 alone (§2.5) over whole 16-byte blocks under a 32-byte one-time key: only for tests
 * of the limb arithmetic against a reference, which the AEAD's inputs rarely stress.
 */
export function poly1305Blocks(oneTimeKey: Uint8Array, message: Uint8Array): Uint8Array {
  if (oneTimeKey.length !== KEY_SIZE || message.length % 16 !== 0 || message.length > AEAD_MAX_MESSAGE) {
    throw new RangeError('Poly1305 takes a 32-byte key and whole 16-byte blocks');
  }
  try {
    memory.set(oneTimeKey, KEYSTREAM);
    memory.set(message, DATA);
    exports.poly1305Blocks(message.length);
    return memory.slice(COMPUTED_TAG, COMPUTED_TAG + TAG_SIZE);
  } finally {
    memory.fill(0, 0, SCRATCH_END);
  }
}

/** Whether no key material is left in the module (its key scratch and Poly1305 state): for tests. */
export function keyMaterialCleared(): boolean {
  return exports.macStateCleared() === 1 && memory.subarray(0, SCRATCH_END).every((b) => b === 0);
}
