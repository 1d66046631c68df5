/**
 * A transport session (whitepaper §5.4.6): two ChaCha20-Poly1305 keys, the send counter and the
 * receive replay window, plus what the timers need (age, who initiated).
 *
 * This is the hot path. The AEAD is our WebAssembly module (chacha20-poly1305.ts): node:crypto
 * would need one createCipheriv per packet, several times the cost of the cipher for WireGuard's
 * small packets. Keys are raw Buffers so they can actually be zeroed when the session dies.
 */
import {
  AEAD_TAG_SIZE, MESSAGE_TRANSPORT_HEADER_SIZE, emitTransportHeader, paddedLength,
} from '../wire/wireguard-messages.js';
import { NONCE_SIZE, open, seal } from './chacha20-poly1305.js';
import { REJECT_AFTER_MESSAGES_NUMBER, REJECT_AFTER_TIME } from './constants.js';
import type { OutputRing } from './output-ring.js';
import { ReplayWindow } from './replay-window.js';

// Single-threaded, and the AEAD copies the nonce in, so one scratch nonce serves every call:
// 32 zero bits, then the 64-bit little-endian counter (whitepaper §5.4.6).
const nonce = Buffer.alloc(NONCE_SIZE);

function setNonce(low: number, high: number): void {
  nonce.writeUInt32LE(low, 4);
  nonce.writeUInt32LE(high, 8);
}

export class Keypair {
  /** Next counter to send; a Number, since it cannot reach 2^53 within REJECT_AFTER_TIME. */
  sendCounter = 0;
  readonly replay = new ReplayWindow();
  readonly #sendKey: Buffer;
  readonly #receiveKey: Buffer;
  #zeroed = false;

  constructor(
    readonly localIndex: number,
    readonly remoteIndex: number,
    sendKey: Uint8Array,
    receiveKey: Uint8Array,
    /** Monotonic ms when the keys were derived. */
    readonly createdAt: number,
    readonly isInitiator: boolean,
  ) {
    this.#sendKey = Buffer.from(sendKey.buffer, sendKey.byteOffset, sendKey.length);
    this.#receiveKey = Buffer.from(receiveKey.buffer, receiveKey.byteOffset, receiveKey.length);
  }

  /** Usable for sending: young enough and not out of counters (whitepaper §6.2). */
  canSend(now: number): boolean {
    return !this.#zeroed && now - this.createdAt < REJECT_AFTER_TIME && this.sendCounter < REJECT_AFTER_MESSAGES_NUMBER;
  }

  canReceive(now: number): boolean {
    return !this.#zeroed && now - this.createdAt < REJECT_AFTER_TIME;
  }

  /**
   * Seals `packet` (an IP packet, or empty for a keepalive) into a complete type-4 message taken
   * from `ring`. The padded plaintext is assembled in place, then overwritten by the ciphertext.
   */
  seal(packet: Uint8Array, ring: OutputRing): Uint8Array {
    const counter = this.sendCounter++;
    const padded = paddedLength(packet.length);
    const out = ring.take(MESSAGE_TRANSPORT_HEADER_SIZE + padded + AEAD_TAG_SIZE);
    const content = out.subarray(MESSAGE_TRANSPORT_HEADER_SIZE, MESSAGE_TRANSPORT_HEADER_SIZE + padded);
    content.set(packet);
    content.fill(0, packet.length);
    emitTransportHeader(out, this.remoteIndex, counter);
    const tag = new Uint8Array(out.buffer, out.byteOffset + MESSAGE_TRANSPORT_HEADER_SIZE + padded, AEAD_TAG_SIZE);
    setNonce(counter >>> 0, Math.floor(counter / 0x1_0000_0000));
    seal(this.#sendKey, nonce, content, tag);
    return out;
  }

  /**
   * Opens a type-4 message whose header was already checked; undefined if it does not
   * authenticate (forged, corrupted, or for another session). The plaintext is a fresh buffer.
   */
  open(message: Uint8Array, counterLow: number, counterHigh: number): Uint8Array | undefined {
    const end = message.length - AEAD_TAG_SIZE;
    if (end < MESSAGE_TRANSPORT_HEADER_SIZE) return undefined;
    setNonce(counterLow, counterHigh);
    // Plain Uint8Array views: cheaper to create than Buffer.subarray's FastBuffer.
    return open(this.#receiveKey, nonce,
      new Uint8Array(message.buffer, message.byteOffset + MESSAGE_TRANSPORT_HEADER_SIZE, end - MESSAGE_TRANSPORT_HEADER_SIZE),
      new Uint8Array(message.buffer, message.byteOffset + end, AEAD_TAG_SIZE));
  }

  zero(): void {
    this.#sendKey.fill(0);
    this.#receiveKey.fill(0);
    // A zeroed keypair must never be used again even if something still holds it.
    this.#zeroed = true;
  }
}
