/** Known answers for the handshake primitives, keys and TAI64N (whitepaper §5.4, RFC 7748 §6.1). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { blake2s } from '@noble/hashes/blake2.js';
import { hmac as nobleHmac } from '@noble/hashes/hmac.js';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { INITIAL_CHAINING_KEY, INITIAL_HASH } from '../../../netstack/wireguard/handshake.js';
import { CookieChecker, cookieKey, mac1Key } from '../../../netstack/wireguard/cookie.js';
import {
  aead, aeadNonce, aeadOpen, hash, kdf, mac, utf8, xaead, xaeadOpen,
} from '../../../netstack/wireguard/noise-primitives.js';
import {
  decodeKey, dh, encodeKey, generatePrivateKey, importPrivateKey, importPublicKey, publicKeyFromPrivate,
} from '../../../netstack/wireguard/keys.js';
import { compareTai64n, tai64n } from '../../../netstack/wireguard/tai64n.js';

const hex = (text: string) => new Uint8Array(Buffer.from(text.replace(/\s/g, ''), 'hex'));
const toHex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const OUR_PRIVATE_KEY = 'gCVF6Xxd1tKmgLNVRNQJjd5e0qDH0rNXWcZwCjN320o='; // as in interop.test.ts

describe('handshake primitives', () => {
  it('derive the WireGuard construction constants', () => {
    assert.equal(toHex(INITIAL_CHAINING_KEY), '60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36');
    assert.equal(toHex(INITIAL_HASH), '2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3');
  });

  it('HASH is BLAKE2s-256 and MAC is keyed BLAKE2s-128 (checked against @noble)', () => {
    const input = utf8('The quick brown fox');
    assert.deepEqual(toHex(hash(input)), toHex(blake2s(input)));
    assert.equal(hash(input, input).length, 32);
    const key = new Uint8Array(32).fill(7);
    assert.equal(mac(key, input).length, 16);
    assert.notDeepEqual(mac(key, input), blake2s(input, { dkLen: 16 }));
  });

  it('derives the mac1 and cookie keys as HASH(label || public key), and verifies a wireguard-go mac1', () => {
    const pub = publicKeyFromPrivate(decodeKey(OUR_PRIVATE_KEY));
    assert.equal(toHex(mac1Key(pub)), toHex(blake2s(new Uint8Array([...utf8('mac1----'), ...pub]))));
    assert.equal(toHex(cookieKey(pub)), toHex(blake2s(new Uint8Array([...utf8('cookie--'), ...pub]))));
    const capture = JSON.parse(readFileSync(new URL('./fixtures/wireguard-go-capture.json', import.meta.url), 'utf8')) as { wgGoInitiation: string };
    const init = hex(capture.wgGoInitiation);
    assert.equal(toHex(mac(mac1Key(pub), init.subarray(0, 116))), toHex(init.subarray(116, 132)));
    const checker = new CookieChecker(pub, () => new Uint8Array(32));
    assert.equal(checker.checkMac1(init), true);
    init[5]! ^= 1;
    assert.equal(checker.checkMac1(init), false);
  });

  it('KDF is HKDF over HMAC-BLAKE2s (checked against @noble hmac)', () => {
    const key = hex('00'.repeat(31) + '01');
    const input = utf8('input keying material');
    const h = (k: Uint8Array, m: Uint8Array) => nobleHmac(blake2s, k, m);
    const prk = h(key, input);
    const t1 = h(prk, Uint8Array.of(1));
    const t2 = h(prk, new Uint8Array([...t1, 2]));
    const t3 = h(prk, new Uint8Array([...t2, 3]));
    assert.deepEqual(kdf(3, key, input).map(toHex), [t1, t2, t3].map(toHex));
    assert.deepEqual(kdf(1, key, input).map(toHex), [toHex(t1)]);
  });

  it('AEAD uses a 32-bit zero + 64-bit little-endian counter nonce and matches @noble', () => {
    assert.equal(toHex(aeadNonce(0x01_0203_0405)), '000000000504030201000000');
    const key = new Uint8Array(32).map((_, i) => i);
    const plaintext = utf8('hello, wireguard');
    const ad = utf8('associated');
    const sealed = aead(key, 0x01_0203_0405, plaintext, ad);
    assert.equal(toHex(sealed), toHex(chacha20poly1305(key, aeadNonce(0x01_0203_0405), ad).encrypt(plaintext)));
    assert.deepEqual(aeadOpen(key, 0x01_0203_0405, sealed, ad), Buffer.from(plaintext));
    assert.equal(aeadOpen(key, 0x01_0203_0406, sealed, ad), undefined);
    assert.equal(aeadOpen(key, 0x01_0203_0405, sealed, utf8('other')), undefined);
    assert.equal(aeadOpen(key, 0, new Uint8Array(5), ad), undefined);
  });

  it('XAEAD round-trips and rejects a wrong AD', () => {
    const key = new Uint8Array(32).fill(3);
    const nonce = new Uint8Array(24).fill(4);
    const sealed = xaead(key, nonce, new Uint8Array(16).fill(5), utf8('mac1'));
    assert.equal(sealed.length, 32);
    assert.deepEqual(xaeadOpen(key, nonce, sealed, utf8('mac1')), new Uint8Array(16).fill(5));
    assert.equal(xaeadOpen(key, nonce, sealed, utf8('mac2')), undefined);
  });
});

describe('keys', () => {
  // RFC 7748 §6.1
  const alicePrivate = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
  const alicePublic = '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a';
  const bobPrivate = hex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb');
  const bobPublic = 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f';
  const shared = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';

  it('derive public keys and shared secrets as RFC 7748', () => {
    assert.equal(toHex(publicKeyFromPrivate(alicePrivate)), alicePublic);
    assert.equal(toHex(publicKeyFromPrivate(bobPrivate)), bobPublic);
    assert.equal(toHex(dh(importPrivateKey(alicePrivate), importPublicKey(hex(bobPublic)))!), shared);
  });

  it('refuse a DH with a low-order point (all-zero result)', () => {
    assert.equal(dh(importPrivateKey(alicePrivate), importPublicKey(new Uint8Array(32))), undefined);
    assert.equal(dh(importPrivateKey(alicePrivate), importPublicKey(hex('01'.padEnd(64, '0')))), undefined);
  });

  it('generate clamped private keys', () => {
    const key = generatePrivateKey(() => new Uint8Array(32).fill(0xff));
    assert.equal(key[0]! & 7, 0);
    assert.equal(key[31]! & 0x80, 0);
    assert.equal(key[31]! & 0x40, 0x40);
  });

  it('encode and decode base64 keys strictly (44 characters, canonical, 32 bytes)', () => {
    const raw = generatePrivateKey();
    assert.deepEqual(decodeKey(encodeKey(raw)), raw);
    assert.equal(encodeKey(alicePrivate), 'dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=');
    for (const bad of ['', 'dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo', 'dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCp=',
      'dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo==', ' dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=', 'dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LC_=',
      'AAAA']) {
      assert.throws(() => decodeKey(bad), /44 characters/, bad);
    }
    assert.throws(() => encodeKey(new Uint8Array(31)), /32 bytes/);
    assert.throws(() => importPublicKey(new Uint8Array(33)), /32 bytes/);
  });
});

describe('TAI64N', () => {
  it('encodes 2^62 + 10 + seconds, then whitened nanoseconds, big-endian', () => {
    assert.equal(toHex(tai64n(0)), '400000000000000a' + '00000000');
    const t = tai64n(1_500);
    assert.equal(toHex(t.subarray(0, 8)), '400000000000000b');
    assert.equal(new DataView(t.buffer).getUint32(8), 486_539_264, '500 ms rounded down to a multiple of 2^24 ns');
  });

  it('orders by time', () => {
    assert.ok(compareTai64n(tai64n(1_700_000_000_000), tai64n(1_700_000_000_100)) < 0);
    assert.ok(compareTai64n(tai64n(1_700_000_001_000), tai64n(1_700_000_000_999)) > 0);
    assert.equal(compareTai64n(tai64n(1_700_000_000_001), tai64n(1_700_000_000_002)), 0, 'same 16 ms bucket');
  });
});
