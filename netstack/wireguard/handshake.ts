/**
 * Noise_IKpsk2 as WireGuard uses it (whitepaper §5.4.2 initiation, §5.4.3 response, §5.4.5
 * transport keys). Pure: no clock, no randomness (ephemeral keys, indices and timestamps are
 * passed in), no MACs (cookie.ts adds and checks those). Each step is commented with the
 * whitepaper line it implements; C is the chaining key, H the hash, k a one-use AEAD key.
 */
import type { KeyObject } from 'node:crypto';
import {
  KEY_SIZE, emitInitiation, emitResponse, parseInitiation, parseResponse, type InitiationRepr,
} from '../wire/wireguard-messages.js';
import { CONSTRUCTION, IDENTIFIER } from './constants.js';
import { dh, importPublicKey, type X25519KeyPair } from './keys.js';
import { aead, aeadOpen, hash, kdf, utf8 } from './noise-primitives.js';

const EMPTY = new Uint8Array(0);

/** Ci := HASH(CONSTRUCTION) */
export const INITIAL_CHAINING_KEY = hash(utf8(CONSTRUCTION));
/** Hi := HASH(Ci || IDENTIFIER) */
export const INITIAL_HASH = hash(INITIAL_CHAINING_KEY, utf8(IDENTIFIER));

/** Hi := HASH(Hi || Spub_r): the hash both sides start from for a given responder key. */
export function initialHashFor(responderStatic: Uint8Array): Uint8Array {
  return hash(INITIAL_HASH, responderStatic);
}

export interface LocalIdentity {
  staticPrivate: KeyObject;
  staticPublic: Uint8Array;
  /** initialHashFor(staticPublic), computed once. */
  initialHash: Uint8Array;
}

export interface RemoteIdentity {
  staticPublic: Uint8Array;
  staticKey: KeyObject;
  presharedKey: Uint8Array; // 32 zero bytes when none is configured, as the whitepaper says
  /** HASH(INITIAL_HASH || Spub_remote), computed once. */
  initialHash: Uint8Array;
  /** DH(Spriv_local, Spub_remote), computed once; undefined for a low-order key (unusable peer). */
  staticStatic: Uint8Array | undefined;
}

export function noPresharedKey(): Uint8Array {
  return new Uint8Array(KEY_SIZE);
}

export interface TransportKeys {
  sendKey: Uint8Array;
  receiveKey: Uint8Array;
}

/** What the initiator keeps between sending an initiation and consuming the response. */
export interface InitiatorState {
  chainingKey: Uint8Array;
  hash: Uint8Array;
  ephemeral: X25519KeyPair;
}

export interface CreatedInitiation {
  message: Uint8Array; // MACs still zero
  state: InitiatorState;
}

export function createInitiation(
  local: LocalIdentity, remote: RemoteIdentity, ephemeral: X25519KeyPair, senderIndex: number, timestamp: Uint8Array,
): CreatedInitiation | undefined {
  if (remote.staticStatic === undefined) return undefined;
  // Ci := KDF1(Ci, Epub_i); Hi := HASH(Hi || Epub_i)
  let [c] = kdf(1, INITIAL_CHAINING_KEY, ephemeral.publicKey) as [Uint8Array];
  let h = hash(remote.initialHash, ephemeral.publicKey);
  // (Ci, k) := KDF2(Ci, DH(Epriv_i, Spub_r))
  const es = dh(ephemeral.privateKey, remote.staticKey);
  if (es === undefined) return undefined;
  let k: Uint8Array;
  [c, k] = kdf(2, c, es) as [Uint8Array, Uint8Array];
  es.fill(0);
  // msg.static := AEAD(k, 0, Spub_i, Hi); Hi := HASH(Hi || msg.static)
  const encryptedStatic = aead(k, 0, local.staticPublic, h);
  k.fill(0);
  h = hash(h, encryptedStatic);
  // (Ci, k) := KDF2(Ci, DH(Spriv_i, Spub_r))
  [c, k] = kdf(2, c, remote.staticStatic) as [Uint8Array, Uint8Array];
  // msg.timestamp := AEAD(k, 0, TAI64N(), Hi); Hi := HASH(Hi || msg.timestamp)
  const encryptedTimestamp = aead(k, 0, timestamp, h);
  k.fill(0);
  h = hash(h, encryptedTimestamp);
  const message = emitInitiation({ sender: senderIndex, ephemeral: ephemeral.publicKey, encryptedStatic, encryptedTimestamp });
  return { message, state: { chainingKey: c, hash: h, ephemeral } };
}

export interface ConsumedInitiation {
  kind: 'ok';
  remote: RemoteIdentity;
  senderIndex: number;
  remoteEphemeral: KeyObject;
  timestamp: Uint8Array;
  chainingKey: Uint8Array;
  hash: Uint8Array;
}

export type HandshakeFailure = { kind: 'decrypt_failed' } | { kind: 'unknown_peer' } | { kind: 'bad_key' };

export function consumeInitiation(
  local: LocalIdentity, message: Uint8Array, lookup: (staticPublic: Uint8Array) => RemoteIdentity | undefined,
): ConsumedInitiation | HandshakeFailure {
  const msg: InitiationRepr = parseInitiation(message);
  // Ci := KDF1(Ci, Epub_i); Hi := HASH(Hi || msg.ephemeral)
  let [c] = kdf(1, INITIAL_CHAINING_KEY, msg.ephemeral) as [Uint8Array];
  let h = hash(local.initialHash, msg.ephemeral);
  let remoteEphemeral: KeyObject;
  try {
    remoteEphemeral = importPublicKey(msg.ephemeral);
  } catch {
    return { kind: 'bad_key' };
  }
  // (Ci, k) := KDF2(Ci, DH(Spriv_r, Epub_i))
  const es = dh(local.staticPrivate, remoteEphemeral);
  if (es === undefined) return { kind: 'bad_key' };
  let k: Uint8Array;
  [c, k] = kdf(2, c, es) as [Uint8Array, Uint8Array];
  es.fill(0);
  // Spub_i := AEAD-open(k, 0, msg.static, Hi); Hi := HASH(Hi || msg.static)
  const staticPublic = aeadOpen(k, 0, msg.encryptedStatic, h);
  k.fill(0);
  if (staticPublic === undefined) return { kind: 'decrypt_failed' };
  h = hash(h, msg.encryptedStatic);
  const remote = lookup(staticPublic);
  if (remote === undefined) return { kind: 'unknown_peer' };
  if (remote.staticStatic === undefined) return { kind: 'bad_key' };
  // (Ci, k) := KDF2(Ci, DH(Spriv_r, Spub_i))
  [c, k] = kdf(2, c, remote.staticStatic) as [Uint8Array, Uint8Array];
  // timestamp := AEAD-open(k, 0, msg.timestamp, Hi); Hi := HASH(Hi || msg.timestamp)
  const timestamp = aeadOpen(k, 0, msg.encryptedTimestamp, h);
  k.fill(0);
  if (timestamp === undefined) return { kind: 'decrypt_failed' };
  h = hash(h, msg.encryptedTimestamp);
  return { kind: 'ok', remote, senderIndex: msg.sender, remoteEphemeral, timestamp, chainingKey: c, hash: h };
}

export interface CreatedResponse {
  message: Uint8Array; // MACs still zero
  keys: TransportKeys;
}

export function createResponse(
  initiation: ConsumedInitiation, ephemeral: X25519KeyPair, senderIndex: number,
): CreatedResponse | undefined {
  const { remote } = initiation;
  let c = initiation.chainingKey;
  let h = initiation.hash;
  // Cr := KDF1(Cr, Epub_r); Hr := HASH(Hr || Epub_r)
  [c] = kdf(1, c, ephemeral.publicKey) as [Uint8Array];
  h = hash(h, ephemeral.publicKey);
  // Cr := KDF1(Cr, DH(Epriv_r, Epub_i)); Cr := KDF1(Cr, DH(Epriv_r, Spub_i))
  const ee = dh(ephemeral.privateKey, initiation.remoteEphemeral);
  const se = dh(ephemeral.privateKey, remote.staticKey);
  if (ee === undefined || se === undefined) return undefined;
  [c] = kdf(1, c, ee) as [Uint8Array];
  [c] = kdf(1, c, se) as [Uint8Array];
  ee.fill(0);
  se.fill(0);
  // (Cr, tau, k) := KDF3(Cr, Q); Hr := HASH(Hr || tau)
  const [c3, tau, k] = kdf(3, c, remote.presharedKey) as [Uint8Array, Uint8Array, Uint8Array];
  h = hash(h, tau);
  tau.fill(0);
  // msg.empty := AEAD(k, 0, e, Hr); Hr := HASH(Hr || msg.empty)
  const encryptedEmpty = aead(k, 0, EMPTY, h);
  k.fill(0);
  // (Trecv_r, Tsend_r) := KDF2(Cr, e)
  const [receiveKey, sendKey] = kdf(2, c3, EMPTY) as [Uint8Array, Uint8Array];
  c3.fill(0);
  initiation.chainingKey.fill(0);
  const message = emitResponse({ sender: senderIndex, receiver: initiation.senderIndex, ephemeral: ephemeral.publicKey, encryptedEmpty });
  return { message, keys: { sendKey, receiveKey } };
}

export function consumeResponse(
  local: LocalIdentity, remote: RemoteIdentity, state: InitiatorState, message: Uint8Array,
): TransportKeys | HandshakeFailure {
  const msg = parseResponse(message);
  let remoteEphemeral: KeyObject;
  try {
    remoteEphemeral = importPublicKey(msg.ephemeral);
  } catch {
    return { kind: 'bad_key' };
  }
  // Cr := KDF1(Cr, Epub_r); Hr := HASH(Hr || msg.ephemeral)
  let [c] = kdf(1, state.chainingKey, msg.ephemeral) as [Uint8Array];
  let h = hash(state.hash, msg.ephemeral);
  // Cr := KDF1(Cr, DH(Epriv_i, Epub_r)); Cr := KDF1(Cr, DH(Spriv_i, Epub_r))
  const ee = dh(state.ephemeral.privateKey, remoteEphemeral);
  const se = dh(local.staticPrivate, remoteEphemeral);
  if (ee === undefined || se === undefined) return { kind: 'bad_key' };
  [c] = kdf(1, c, ee) as [Uint8Array];
  [c] = kdf(1, c, se) as [Uint8Array];
  ee.fill(0);
  se.fill(0);
  // (Cr, tau, k) := KDF3(Cr, Q); Hr := HASH(Hr || tau)
  const [c3, tau, k] = kdf(3, c, remote.presharedKey) as [Uint8Array, Uint8Array, Uint8Array];
  h = hash(h, tau);
  tau.fill(0);
  // e := AEAD-open(k, 0, msg.empty, Hr)
  const empty = aeadOpen(k, 0, msg.encryptedEmpty, h);
  k.fill(0);
  if (empty === undefined) {
    c3.fill(0);
    return { kind: 'decrypt_failed' };
  }
  // (Tsend_i, Trecv_i) := KDF2(Ci, e)
  const [sendKey, receiveKey] = kdf(2, c3, EMPTY) as [Uint8Array, Uint8Array];
  c3.fill(0);
  return { sendKey, receiveKey };
}

/** Forget an unfinished initiator handshake (the ephemeral KeyObject is dropped with the state). */
export function zeroInitiatorState(state: InitiatorState): void {
  state.chainingKey.fill(0);
  state.hash.fill(0);
}

