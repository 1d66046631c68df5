/** Transport sessions: seal/open, padding, 64-bit counters, message and time limits, zeroing. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Keypair } from '../../../netstack/wireguard/keypair.js';
import { OutputRing } from '../../../netstack/wireguard/output-ring.js';
import { REJECT_AFTER_MESSAGES_NUMBER, REJECT_AFTER_TIME } from '../../../netstack/wireguard/constants.js';
import { parseTransportHeader } from '../../../netstack/wire/wireguard-messages.js';
import { aeadOpen } from '../../../netstack/wireguard/noise-primitives.js';

const k1 = () => new Uint8Array(32).fill(1);
const k2 = () => new Uint8Array(32).fill(2);
const pair = () => ({ a: new Keypair(10, 20, k1(), k2(), 0, true), b: new Keypair(20, 10, k2(), k1(), 0, false) });

describe('Keypair', () => {
  it('seals to the peer\'s index with a counter nonce and pads to 16; the peer opens it', () => {
    const { a, b } = pair();
    const ring = new OutputRing();
    const packet = Uint8Array.from({ length: 21 }, (_, i) => i + 1);
    const message = a.seal(packet, ring);
    assert.equal(message.length, 16 + 32 + 16);
    assert.deepEqual(parseTransportHeader(message), { receiver: 20, counterLow: 0, counterHigh: 0 });
    const plaintext = b.open(message, 0, 0)!;
    assert.deepEqual([...plaintext], [...packet, ...new Array(11).fill(0)]);
    // Independent check of the AEAD construction (empty associated data, counter nonce).
    assert.deepEqual([...aeadOpen(k1(), 0, message.subarray(16), new Uint8Array(0))!], [...plaintext]);
    assert.equal(a.sendCounter, 1);
  });

  it('uses 64-bit counters beyond 2^32', () => {
    const { a, b } = pair();
    a.sendCounter = 2 ** 40 + 3;
    const message = a.seal(new Uint8Array(0), new OutputRing());
    const { counterLow, counterHigh } = parseTransportHeader(message);
    assert.deepEqual([counterLow, counterHigh], [3, 256]);
    assert.equal(b.open(message, counterLow, counterHigh)?.length, 0);
    assert.equal(b.open(message, counterLow, 0), undefined, 'the counter is bound by the nonce');
  });

  it('fails to open anything tampered or for another session', () => {
    const { a, b } = pair();
    const message = a.seal(new Uint8Array(40), new OutputRing());
    for (const i of [16, 40, message.length - 1]) {
      const bad = Uint8Array.from(message);
      bad[i]! ^= 1;
      assert.equal(b.open(bad, 0, 0), undefined, `byte ${i}`);
    }
    assert.equal(a.open(message, 0, 0), undefined, 'own direction uses the other key');
  });

  it('stops sending at REJECT_AFTER_MESSAGES and both ways at REJECT_AFTER_TIME', () => {
    const { a } = pair();
    assert.equal(a.canSend(REJECT_AFTER_TIME - 1), true);
    assert.equal(a.canSend(REJECT_AFTER_TIME), false);
    assert.equal(a.canReceive(REJECT_AFTER_TIME - 1), true);
    assert.equal(a.canReceive(REJECT_AFTER_TIME), false);
    a.sendCounter = REJECT_AFTER_MESSAGES_NUMBER;
    assert.equal(a.canSend(0), false);
  });

  it('is unusable and holds only zeros after zero()', () => {
    const sendKey = k1();
    const receiveKey = k2();
    const kp = new Keypair(1, 2, sendKey, receiveKey, 0, true);
    kp.zero();
    assert.ok(sendKey.every((x) => x === 0) && receiveKey.every((x) => x === 0));
    assert.equal(kp.canSend(0), false);
    assert.equal(kp.canReceive(0), false);
  });

  it('keeps ring slices of one call apart and wraps around', () => {
    const ring = new OutputRing();
    const { a } = pair();
    const first = a.seal(new Uint8Array(1400), ring);
    const second = a.seal(new Uint8Array(1400), ring);
    assert.notEqual(first.byteOffset, second.byteOffset);
    assert.ok(second.byteOffset >= first.byteOffset + first.length);
    for (let i = 0; i < 2000; i++) a.seal(new Uint8Array(1400), ring);
    assert.ok(a.seal(new Uint8Array(1400), ring).byteOffset < 1 << 20);
  });
});
