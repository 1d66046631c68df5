/**
 * MAC1, MAC2 and cookie replies (whitepaper §5.4.4, §5.4.7).
 *
 * mac1 proves the sender knows our public key, so we never spend DH work on messages from
 * someone who does not. Under load, mac2 proves the sender can receive at its source address: it
 * is keyed with a cookie we sent there, computed from a secret that changes every
 * COOKIE_REFRESH_TIME, so we keep no per-address state.
 */
import {
  COOKIE_NONCE_SIZE, MAC_SIZE, emitCookieReply, parseCookieReply,
} from '../wire/wireguard-messages.js';
import { COOKIE_REFRESH_TIME, LABEL_COOKIE, LABEL_MAC1 } from './constants.js';
import { equalBytes, hash, mac, utf8, xaead, xaeadOpen } from './noise-primitives.js';

const MAC1_LABEL = utf8(LABEL_MAC1);
const COOKIE_LABEL = utf8(LABEL_COOKIE);
const COOKIE_SECRET_SIZE = 32;

export function mac1Key(staticPublic: Uint8Array): Uint8Array {
  return hash(MAC1_LABEL, staticPublic);
}

export function cookieKey(staticPublic: Uint8Array): Uint8Array {
  return hash(COOKIE_LABEL, staticPublic);
}

/** Offsets of mac1 and mac2 for a handshake message of the given type (1 or 2). */
export function macOffsets(message: Uint8Array): { mac1: number; mac2: number } {
  const mac2 = message.length - MAC_SIZE;
  return { mac1: mac2 - MAC_SIZE, mac2 };
}

/**
 * Our side as the receiver of handshake messages: checks their MACs and makes cookie replies.
 * One per device, keyed by our own public key.
 */
export class CookieChecker {
  readonly #mac1Key: Uint8Array;
  readonly #cookieKey: Uint8Array;
  readonly #random: (n: number) => Uint8Array;
  #secret: Uint8Array = new Uint8Array(COOKIE_SECRET_SIZE);
  #secretSetAt = -Infinity;

  constructor(staticPublic: Uint8Array, random: (n: number) => Uint8Array) {
    this.#mac1Key = mac1Key(staticPublic);
    this.#cookieKey = cookieKey(staticPublic);
    this.#random = random;
  }

  /** msg.mac1 = MAC(HASH(LABEL_MAC1 || Spub_m), msg[0 : offset of mac1]) */
  checkMac1(message: Uint8Array): boolean {
    const { mac1 } = macOffsets(message);
    return equalBytes(mac(this.#mac1Key, message.subarray(0, mac1)), message.subarray(mac1, mac1 + MAC_SIZE));
  }

  /** msg.mac2 = MAC(cookie for this source, msg[0 : offset of mac2]); a zero mac2 never matches. */
  checkMac2(now: number, message: Uint8Array, source: Uint8Array): boolean {
    if (now - this.#secretSetAt >= COOKIE_REFRESH_TIME) return false; // no cookie issued from this secret
    const { mac2 } = macOffsets(message);
    const cookie = mac(this.#secret, source);
    return equalBytes(mac(cookie, message.subarray(0, mac2)), message.subarray(mac2, mac2 + MAC_SIZE));
  }

  /**
   * msg.cookie = XAEAD(HASH(LABEL_COOKIE || Spub_m), msg.nonce, MAC(Rm, Am'), M), where M is the
   * mac1 of the message we answer, `receiver` is that message's sender index, and Am' is
   * `source` (address bytes and port).
   */
  createReply(now: number, message: Uint8Array, receiver: number, source: Uint8Array): Uint8Array {
    if (now - this.#secretSetAt >= COOKIE_REFRESH_TIME) {
      this.#secret = this.#random(COOKIE_SECRET_SIZE);
      this.#secretSetAt = now;
    }
    const { mac1 } = macOffsets(message);
    const nonce = this.#random(COOKIE_NONCE_SIZE);
    const cookie = mac(this.#secret, source);
    const encryptedCookie = xaead(this.#cookieKey, nonce, cookie, message.subarray(mac1, mac1 + MAC_SIZE));
    return emitCookieReply({ receiver, nonce, encryptedCookie });
  }
}

/**
 * Our side as the sender of handshake messages to one peer: adds mac1/mac2 and takes in the
 * cookies that peer sends us.
 */
export class CookieGenerator {
  readonly #mac1Key: Uint8Array;
  readonly #cookieKey: Uint8Array;
  #cookie: Uint8Array | undefined;
  #cookieSetAt = -Infinity;
  #lastMac1: Uint8Array | undefined;

  constructor(peerStaticPublic: Uint8Array) {
    this.#mac1Key = mac1Key(peerStaticPublic);
    this.#cookieKey = cookieKey(peerStaticPublic);
  }

  /** Fills mac1, and mac2 when we hold a cookie young enough that the peer still accepts it. */
  addMacs(now: number, message: Uint8Array): void {
    const { mac1, mac2 } = macOffsets(message);
    const m1 = mac(this.#mac1Key, message.subarray(0, mac1));
    message.set(m1, mac1);
    this.#lastMac1 = m1;
    // A cookie outlives the peer's secret by at most COOKIE_REFRESH_TIME; after that it is useless.
    if (this.#cookie !== undefined && now - this.#cookieSetAt < COOKIE_REFRESH_TIME) {
      message.set(mac(this.#cookie, message.subarray(0, mac2)), mac2);
    } else {
      message.fill(0, mac2, mac2 + MAC_SIZE);
    }
  }

  /** Accepts a cookie only as the answer to the last mac1 we sent, once. */
  consumeReply(now: number, reply: Uint8Array): boolean {
    if (this.#lastMac1 === undefined) return false;
    const { nonce, encryptedCookie } = parseCookieReply(reply);
    const cookie = xaeadOpen(this.#cookieKey, nonce, encryptedCookie, this.#lastMac1);
    if (cookie === undefined) return false;
    this.#cookie = cookie;
    this.#cookieSetAt = now;
    this.#lastMac1 = undefined;
    return true;
  }

  zero(): void {
    this.#cookie?.fill(0);
    this.#cookie = undefined;
    this.#lastMac1 = undefined;
  }
}

/** Am': the source address bytes then the port, big-endian. Only we compute it, so any fixed form works. */
export function cookieSource(address: Uint8Array, port: number): Uint8Array {
  const out = new Uint8Array(address.length + 2);
  out.set(address);
  out[address.length] = port >>> 8;
  out[address.length + 1] = port & 0xff;
  return out;
}
