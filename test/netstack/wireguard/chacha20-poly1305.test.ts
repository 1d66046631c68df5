/**
 * Our WebAssembly ChaCha20-Poly1305: the committed bytes are what the generator builds, published
 * vectors (including Poly1305 carry and tag edge cases), and agreement with node:crypto (OpenSSL)
 * on random keys, nonces, lengths and associated data, forged tags and ciphertexts refused.
 */
import { strict as assert } from 'node:assert';
import { createCipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { CHACHA_POLY_WASM } from '../../../netstack/wireguard/chacha20-poly1305-wasm.js';
import { chachaPolyWat } from '../../../netstack/wireguard/chacha20-poly1305-wat.js';
import { AEAD_MAX_AAD, AEAD_MAX_MESSAGE, keyMaterialCleared, open, poly1305Blocks, seal } from '../../../netstack/wireguard/chacha20-poly1305.js';
import { compileWat } from '../../../tools/wat.js';

interface Vector { tcId: number; key: string; iv: string; aad: string; msg: string; ct: string; tag: string }
const VECTORS = (JSON.parse(readFileSync(new URL('./fixtures/chacha20-poly1305-vectors.json', import.meta.url), 'utf8')) as { tests: Vector[] }).tests;
const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function reference(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): { ct: Buffer; tag: Buffer } {
  const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  cipher.setAAD(aad, { plaintextLength: plaintext.length });
  const ct = cipher.update(plaintext);
  cipher.final();
  return { ct, tag: cipher.getAuthTag() };
}

function sealCopy(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): { ct: Uint8Array; tag: Uint8Array } {
  const ct = Uint8Array.from(plaintext);
  const tag = new Uint8Array(16);
  seal(key, nonce, ct, tag, aad);
  return { ct, tag };
}

/** Poly1305 over whole blocks, straight from RFC 8439 §2.5.1 with BigInt: the reference. */
function referencePoly1305(key: Uint8Array, message: Uint8Array): string {
  const le = (bytes: Uint8Array): bigint => BigInt(`0x${Buffer.from(bytes).reverse().toString('hex') || '0'}`);
  const p = (1n << 130n) - 5n;
  const r = le(key.subarray(0, 16)) & 0x0ffffffc0ffffffc0ffffffc0fffffffn;
  const s = le(key.subarray(16, 32));
  let h = 0n;
  for (let at = 0; at < message.length; at += 16) h = ((h + le(message.subarray(at, at + 16)) + (1n << 128n)) * r) % p;
  const tag = (h + s) & ((1n << 128n) - 1n);
  return Buffer.from(tag.toString(16).padStart(32, '0'), 'hex').reverse().toString('hex');
}

describe('ChaCha20-Poly1305 (WebAssembly)', () => {
  test('the committed module is what the generator builds (npm run gen:wasm)', async () => {
    const built = await compileWat('chacha20-poly1305.wat', chachaPolyWat());
    assert.equal(CHACHA_POLY_WASM, Buffer.from(built).toString('base64'));
  });

  test('published vectors seal and open, including Poly1305 carry and tag edge cases', () => {
    assert.ok(VECTORS.length >= 10);
    for (const v of VECTORS) {
      const { ct, tag } = sealCopy(hex(v.key), hex(v.iv), hex(v.msg), hex(v.aad));
      assert.equal(toHex(ct), v.ct, `tcId ${v.tcId} ciphertext`);
      assert.equal(toHex(tag), v.tag, `tcId ${v.tcId} tag`);
      const opened = open(hex(v.key), hex(v.iv), hex(v.ct), hex(v.tag), hex(v.aad));
      assert.equal(opened && toHex(opened), v.msg, `tcId ${v.tcId} open`);
    }
  });

  test('Poly1305 limb arithmetic agrees with a BigInt reference, at the edges of every limb and of p', () => {
    // Bytes biased to 0x00/0xff/0xfe/0x01 and r = 1 (clamping allows it) drive h near 2^130 - 5,
    // where the final conditional subtraction and the carries decide the tag.
    const edgeByte = fc.oneof(fc.constantFrom(0x00, 0xff, 0xfe, 0xfb, 0x01, 0x03, 0x04, 0xf0), fc.integer({ min: 0, max: 255 }));
    const block = fc.oneof(
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.array(edgeByte, { minLength: 16, maxLength: 16 }).map((b) => Uint8Array.from(b)),
      // 2^128 - 256 + x: two of these with r = 1 sum to just below or past p.
      fc.integer({ min: 0, max: 255 }).map((x) => Uint8Array.from([x, ...new Array<number>(15).fill(0xff)])),
    );
    const smallR = fc.constantFrom(1, 2, 4, 5).map((r) => Uint8Array.from([r, ...new Array<number>(15).fill(0)]));
    const key = fc.tuple(fc.oneof(smallR, fc.array(edgeByte, { minLength: 16, maxLength: 16 }).map((b) => Uint8Array.from(b))), fc.array(edgeByte, { minLength: 16, maxLength: 16 }))
      .map(([r, s]) => Uint8Array.from([...r, ...s]));
    fc.assert(fc.property(key, fc.array(block, { maxLength: 6 }), (k, blocks) => {
      const message = Uint8Array.from(blocks.flatMap((b) => [...b]));
      assert.equal(toHex(poly1305Blocks(k, message)), referencePoly1305(k, message));
    }), { numRuns: 20000 });
    // h ends in [p, 2^130) or just below p: r = 1, blocks 2^128 - 1 and 2^128 - 256 + x give
    // h = 2^130 - 257 + x, which is >= p = 2^130 - 5 exactly when x >= 252.
    const one = Uint8Array.from([1, ...new Array<number>(31).fill(0)]);
    for (let x = 0; x < 256; x++) {
      const message = Uint8Array.from([...new Array<number>(16).fill(0xff), x, ...new Array<number>(15).fill(0xff)]);
      assert.equal(toHex(poly1305Blocks(one, message)), referencePoly1305(one, message), `x = ${x}`);
    }
    // RFC 8439 A.3 test vector #7: intermediate sums past p.
    const past = Buffer.from(`${'ff'.repeat(16)}f0${'ff'.repeat(15)}11${'00'.repeat(15)}`, 'hex');
    assert.equal(toHex(poly1305Blocks(one, past)), referencePoly1305(one, past));
    assert.equal(toHex(poly1305Blocks(one, past)), `05${'00'.repeat(15)}`);
  });

  test('agrees with node:crypto on random keys, nonces, associated data and lengths', () => {
    fc.assert(fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.uint8Array({ minLength: 12, maxLength: 12 }),
      fc.uint8Array({ maxLength: 1600 }),
      fc.uint8Array({ maxLength: AEAD_MAX_AAD }),
      (key, nonce, plaintext, aad) => {
        const mine = sealCopy(key, nonce, plaintext, aad);
        const theirs = reference(key, nonce, plaintext, aad);
        assert.equal(toHex(mine.ct), theirs.ct.toString('hex'));
        assert.equal(toHex(mine.tag), theirs.tag.toString('hex'));
        assert.equal(toHex(open(key, nonce, theirs.ct, theirs.tag, aad)!), toHex(plaintext));
      },
    ), { numRuns: 3000 });
  });

  test('large messages, up to the largest the module holds, agree with node:crypto', () => {
    for (const length of [4095, 4096, 4097, 65535, AEAD_MAX_MESSAGE]) {
      const key = randomBytes(32);
      const nonce = randomBytes(12);
      const plaintext = randomBytes(length);
      const mine = sealCopy(key, nonce, plaintext, new Uint8Array(0));
      const theirs = reference(key, nonce, plaintext, new Uint8Array(0));
      assert.ok(theirs.ct.equals(mine.ct), `ciphertext of ${length}`);
      assert.ok(theirs.tag.equals(mine.tag), `tag of ${length}`);
      assert.ok(plaintext.equals(open(key, nonce, theirs.ct, theirs.tag)!), `open of ${length}`);
    }
  });

  test('any flipped bit of ciphertext, tag, associated data, key or nonce is refused', () => {
    fc.assert(fc.property(
      fc.uint8Array({ minLength: 1, maxLength: 300 }),
      fc.uint8Array({ maxLength: 40 }),
      fc.constantFrom('ct', 'tag', 'aad', 'key', 'nonce'),
      fc.nat(),
      fc.integer({ min: 0, max: 7 }),
      (plaintext, aad, where, at, bit) => {
        const key = randomBytes(32);
        const nonce = randomBytes(12);
        const { ct, tag } = reference(key, nonce, plaintext, aad);
        const parts = { ct: Uint8Array.from(ct), tag: Uint8Array.from(tag), aad: Uint8Array.from(aad), key: Uint8Array.from(key), nonce: Uint8Array.from(nonce) };
        const target = parts[where];
        fc.pre(target.length > 0);
        target[at % target.length]! ^= 1 << bit;
        assert.equal(open(parts.key, parts.nonce, parts.ct, parts.tag, parts.aad), undefined);
      },
    ), { numRuns: 2000 });
  });

  test('a refused message leaves no decrypted bytes behind, and no call leaves key material', () => {
    const key = randomBytes(32);
    const nonce = randomBytes(12);
    const plaintext = Buffer.from('the password is hunter2, padded to some length');
    const { ct, tag } = reference(key, nonce, plaintext, new Uint8Array(0));
    const bad = Uint8Array.from(tag);
    bad[0]! ^= 1;
    assert.equal(open(key, nonce, ct, bad), undefined);
    assert.ok(keyMaterialCleared(), 'after a refused open');
    assert.deepEqual(Buffer.from(open(key, nonce, ct, tag)!), plaintext);
    assert.ok(keyMaterialCleared(), 'after an open');
    sealCopy(key, nonce, plaintext, Buffer.from('aad'));
    assert.ok(keyMaterialCleared(), 'after a seal');
    poly1305Blocks(randomBytes(32), randomBytes(64));
    assert.ok(keyMaterialCleared(), 'after a Poly1305');
  });

  test('sizes out of range are refused, not truncated', () => {
    const key = randomBytes(32);
    const nonce = randomBytes(12);
    assert.throws(() => seal(key, nonce, new Uint8Array(AEAD_MAX_MESSAGE + 1), new Uint8Array(16)), RangeError);
    assert.throws(() => seal(key, nonce, new Uint8Array(10), new Uint8Array(16), new Uint8Array(AEAD_MAX_AAD + 1)), RangeError);
    assert.throws(() => seal(key.subarray(1), nonce, new Uint8Array(10), new Uint8Array(16)), RangeError);
    assert.throws(() => seal(key, nonce.subarray(1), new Uint8Array(10), new Uint8Array(16)), RangeError);
    // A tag slot of the wrong size is refused before anything is encrypted.
    const content = Uint8Array.from([1, 2, 3]);
    assert.throws(() => seal(key, nonce, content, new Uint8Array(15)), RangeError);
    assert.throws(() => seal(key, nonce, content, new Uint8Array(17)), RangeError);
    assert.deepEqual([...content], [1, 2, 3]);
    assert.equal(open(key, nonce, new Uint8Array(10), new Uint8Array(15)), undefined);
    assert.equal(open(key, nonce, new Uint8Array(AEAD_MAX_MESSAGE + 1), new Uint8Array(16)), undefined);
    assert.equal(open(key, nonce, new Uint8Array(10), new Uint8Array(16), new Uint8Array(AEAD_MAX_AAD + 1)), undefined);
  });
});
