/**
 * A sans-IO WireGuard device (whitepaper §5-§6): datagrams and tunnel packets in, datagrams and
 * tunnel packets out, with time passed in. No sockets, no timers: the caller calls poll(now) at
 * nextDeadline().
 *
 * Anything that cannot be authenticated is dropped without a reply and counted under a `wg.*`
 * name; the only reply to an unauthenticated message is a cookie reply, under load, to a
 * handshake message with a valid mac1 (§5.3).
 */
import { randomBytes } from 'node:crypto';
import type { Counters } from '../counters.js';
import { parseAddress } from '../wire/ip-address.js';
import {
  COOKIE_RECEIVER_OFFSET, INITIATION_SENDER_OFFSET, KEY_SIZE, MESSAGE_HANDSHAKE_COOKIE, MESSAGE_HANDSHAKE_INITIATION,
  MESSAGE_HANDSHAKE_RESPONSE, MESSAGE_TRANSPORT_DATA, RESPONSE_RECEIVER_OFFSET, RESPONSE_SENDER_OFFSET,
  TRANSPORT_COUNTER_OFFSET, TRANSPORT_RECEIVER_OFFSET, checkMessage, readU32,
} from '../wire/wireguard-messages.js';
import { AllowedIps } from './allowed-ips.js';
import {
  HANDSHAKE_INITIATION_RATE, KEEPALIVE_TIMEOUT, MAX_STAGED_PACKETS, REJECT_AFTER_TIME, REKEY_AFTER_MESSAGES_NUMBER,
  REKEY_AFTER_TIME, REKEY_ATTEMPT_TIME, REKEY_TIMEOUT, REKEY_TIMEOUT_JITTER_MAX,
} from './constants.js';
import { CookieChecker, cookieSource } from './cookie.js';
import {
  consumeInitiation, consumeResponse, createInitiation, createResponse, initialHashFor, noPresharedKey,
  zeroInitiatorState, type LocalIdentity, type RemoteIdentity,
} from './handshake.js';
import { ipPacketLength, addressLength, destinationOffset, sourceOffset } from './inner-packet.js';
import { dh, importPublicKey, keyPairFromPrivate, KeyError, type X25519KeyPair } from './keys.js';
import { Keypair } from './keypair.js';
import { LoadMonitor } from './load-monitor.js';
import { OutputRing } from './output-ring.js';
import { Peer } from './peer.js';
import { SourceRateLimiter } from './source-rate-limiter.js';
import { compareTai64n, tai64n } from './tai64n.js';
import {
  timersAnyAuthenticatedPacketReceived, timersAnyAuthenticatedPacketSent, timersAnyAuthenticatedPacketTraversal,
  timersDataReceived, timersDataSent, timersHandshakeComplete, timersHandshakeInitiated, timersSessionDerived,
} from './timers.js';
import type { DeviceOptions, DeviceOutput, PeerConfig, PeerHandle, UdpEndpoint } from './types.js';

export type { DeviceOptions, DeviceOutput, PeerConfig, PeerHandle, UdpEndpoint } from './types.js';
export { generatePrivateKey, publicKeyFromPrivate, encodeKey, decodeKey } from './keys.js';

const EMPTY = new Uint8Array(0);

/** An index we handed out: either a handshake we initiated or a session's receiving index. */
interface IndexEntry {
  peer: Peer;
  keypair: Keypair | undefined;
}

const keyId = (publicKey: Uint8Array): string => Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.length).toString('hex');

export class Device {
  readonly #counters: Counters;
  readonly #random: (n: number) => Uint8Array;
  readonly #wallClock: () => number;
  readonly #local: LocalIdentity;
  readonly #cookieChecker: CookieChecker;
  readonly #load: LoadMonitor;
  readonly #sourceLimiter = new SourceRateLimiter();
  readonly #peers = new Map<string, Peer>();
  readonly #routes = new AllowedIps<Peer>();
  readonly #indices = new Map<number, IndexEntry>();
  readonly #ring = new OutputRing();

  constructor(options: DeviceOptions) {
    this.#counters = options.counters;
    this.#random = options.random ?? randomBytes;
    this.#wallClock = options.wallClock ?? Date.now;
    const keys = keyPairFromPrivate(options.privateKey);
    this.#local = { staticPrivate: keys.privateKey, staticPublic: keys.publicKey, initialHash: initialHashFor(keys.publicKey) };
    this.#cookieChecker = new CookieChecker(keys.publicKey, this.#random);
    this.#load = new LoadMonitor(options.underLoad);
  }

  get publicKey(): Uint8Array {
    return Uint8Array.from(this.#local.staticPublic);
  }

  /** Adds a peer, or updates the allowed IPs, endpoint, keepalive, key and name of an existing one. */
  addPeer(config: PeerConfig): PeerHandle {
    if (config.publicKey.length !== KEY_SIZE) throw new KeyError(`peer public key must be ${KEY_SIZE} bytes`);
    if (config.presharedKey !== undefined && config.presharedKey.length !== KEY_SIZE) {
      throw new KeyError(`preshared key must be ${KEY_SIZE} bytes`);
    }
    const id = keyId(config.publicKey);
    if (id === keyId(this.#local.staticPublic)) throw new KeyError('a peer cannot have the device\'s own public key');
    let peer = this.#peers.get(id);
    if (peer === undefined) {
      const staticPublic = Uint8Array.from(config.publicKey);
      const staticKey = importPublicKey(staticPublic);
      const identity: RemoteIdentity = {
        staticPublic,
        staticKey,
        presharedKey: noPresharedKey(),
        initialHash: initialHashFor(staticPublic),
        // Precomputed once: the static-static DH is the same in every handshake with this peer.
        staticStatic: dh(this.#local.staticPrivate, staticKey),
      };
      const created: Peer = new Peer(identity, () => this.#routes.entriesFor(created));
      peer = created;
      this.#peers.set(id, peer);
    }
    peer.identity.presharedKey.set(config.presharedKey ?? noPresharedKey());
    peer.name = config.name;
    if (config.endpoint !== undefined) peer.endpoint = { address: config.endpoint.address, port: config.endpoint.port };
    this.#routes.removeValue(peer);
    for (const cidr of config.allowedIps) this.#routes.insert(cidr, peer);
    const keepalive = config.persistentKeepalive ?? 0;
    if (keepalive !== peer.persistentKeepalive) {
      peer.persistentKeepalive = keepalive;
      // As wireguard-go does: turning it on sends a keepalive at once, so a peer behind NAT is
      // reachable without waiting for traffic.
      peer.persistentKeepaliveAt = keepalive > 0 ? 0 : Infinity;
    }
    return peer;
  }

  removePeer(publicKey: Uint8Array): void {
    const id = keyId(publicKey);
    const peer = this.#peers.get(id);
    if (peer === undefined) return;
    this.#zeroAll(peer);
    peer.cookies.zero();
    peer.identity.presharedKey.fill(0);
    peer.identity.staticStatic?.fill(0);
    this.#routes.removeValue(peer);
    this.#peers.delete(id);
  }

  peers(): PeerHandle[] {
    return [...this.#peers.values()];
  }

  /** A UDP datagram arrived from `from`. `now` is monotonic milliseconds. */
  receive(now: number, from: UdpEndpoint, datagram: Uint8Array): DeviceOutput[] {
    const out: DeviceOutput[] = [];
    const type = checkMessage(datagram);
    switch (type) {
      case MESSAGE_TRANSPORT_DATA: this.#receiveTransport(now, from, datagram, out); break;
      case MESSAGE_HANDSHAKE_INITIATION:
      case MESSAGE_HANDSHAKE_RESPONSE: this.#receiveHandshake(now, from, datagram, type, out); break;
      case MESSAGE_HANDSHAKE_COOKIE: this.#receiveCookieReply(now, datagram); break;
      default: this.#drop(type === 'bad_length' ? 'bad_length' : 'unknown_type');
    }
    return out;
  }

  /** An IP packet to send into the tunnel, routed by destination through the allowed IPs. */
  send(now: number, packet: Uint8Array): DeviceOutput[] {
    const out: DeviceOutput[] = [];
    const length = ipPacketLength(packet);
    if (length < 0) {
      this.#drop('bad_packet');
      return out;
    }
    const peer = this.#routes.lookup(packet, destinationOffset(packet), addressLength(packet));
    if (peer === undefined) {
      this.#drop('no_route');
      return out;
    }
    const payload = length === packet.length ? packet : packet.subarray(0, length);
    const keypair = peer.current;
    if (peer.staged.length === 0 && keypair !== undefined && keypair.canSend(now) && peer.endpoint !== undefined) {
      this.#sendData(now, peer, keypair, payload, out);
      this.#keepKeyFreshSending(now, peer, keypair, out);
      return out;
    }
    this.#stage(peer, Uint8Array.from(payload)); // the caller may reuse its buffer before the session exists
    this.#sendStaged(now, peer, out);
    return out;
  }

  /** Runs the timers due at `now`. */
  poll(now: number): DeviceOutput[] {
    const out: DeviceOutput[] = [];
    for (const peer of this.#peers.values()) {
      if (peer.nextDeadline() <= now) this.#pollPeer(now, peer, out);
    }
    return out;
  }

  /** Earliest deadline (ms) at which poll() has work, or undefined. */
  nextDeadline(): number | undefined {
    let earliest = Infinity;
    for (const peer of this.#peers.values()) earliest = Math.min(earliest, peer.nextDeadline());
    return earliest === Infinity ? undefined : earliest;
  }

  // ---- receive paths ----

  #receiveTransport(now: number, from: UdpEndpoint, datagram: Uint8Array, out: DeviceOutput[]): void {
    const entry = this.#indices.get(readU32(datagram, TRANSPORT_RECEIVER_OFFSET));
    const keypair = entry?.keypair;
    if (entry === undefined || keypair === undefined) return this.#drop('unknown_receiver');
    if (!keypair.canReceive(now)) return this.#drop('expired_keypair');
    const low = readU32(datagram, TRANSPORT_COUNTER_OFFSET);
    const high = readU32(datagram, TRANSPORT_COUNTER_OFFSET + 4);
    // Checked before decrypting so a replay flood costs no cipher work; recorded only after.
    if (!keypair.replay.check(low, high)) return this.#drop('replay');
    const plaintext = keypair.open(datagram, low, high);
    if (plaintext === undefined) return this.#drop('decrypt_failed');
    if (!keypair.replay.accept(low, high)) return this.#drop('replay');

    // Authenticated from here on (whitepaper §6.5: roaming follows authenticated packets only).
    const peer = entry.peer;
    peer.receivedBytes += datagram.length;
    this.#setEndpoint(peer, from);
    if (keypair === peer.next) this.#confirmNext(now, peer, keypair, out);
    this.#keepKeyFreshReceiving(now, peer, keypair, out);
    timersAnyAuthenticatedPacketReceived(peer);
    timersAnyAuthenticatedPacketTraversal(peer, now);
    if (plaintext.length === 0) {
      this.#counters.inc('wg.keepalive_received');
      return;
    }
    timersDataReceived(peer, now);
    const length = ipPacketLength(plaintext);
    if (length < 0) return this.#drop('bad_inner_packet');
    // Cryptokey routing: the inner source must be one of this peer's allowed IPs.
    if (this.#routes.lookup(plaintext, sourceOffset(plaintext), addressLength(plaintext)) !== peer) {
      return this.#drop('allowed_ips');
    }
    out.push({ kind: 'toTunnel', peer, packet: new Uint8Array(plaintext.buffer, plaintext.byteOffset, length) });
  }

  #receiveHandshake(now: number, from: UdpEndpoint, datagram: Uint8Array, type: number, out: DeviceOutput[]): void {
    this.#load.record(now);
    if (!this.#cookieChecker.checkMac1(datagram)) return this.#drop('bad_mac1');
    if (this.#load.underLoad(now)) {
      let source: Uint8Array;
      try {
        source = cookieSource(parseAddress(from.address), from.port);
      } catch {
        return this.#drop('bad_source'); // not an IP address: nothing a cookie could be bound to
      }
      if (!this.#cookieChecker.checkMac2(now, datagram, source)) {
        // Sender index sits at the same offset in both handshake messages.
        const sender = readU32(datagram, INITIATION_SENDER_OFFSET);
        out.push({ kind: 'toNetwork', to: { address: from.address, port: from.port }, bytes: this.#cookieChecker.createReply(now, datagram, sender, source) });
        this.#counters.inc('wg.cookie_sent');
        return;
      }
      if (!this.#sourceLimiter.allow(now, from.address)) return this.#drop('rate_limited');
    }
    if (type === MESSAGE_HANDSHAKE_INITIATION) this.#receiveInitiation(now, from, datagram, out);
    else this.#receiveResponse(now, from, datagram, out);
  }

  #receiveInitiation(now: number, from: UdpEndpoint, datagram: Uint8Array, out: DeviceOutput[]): void {
    const result = consumeInitiation(this.#local, datagram, (key) => this.#peers.get(keyId(key))?.identity);
    if (result.kind !== 'ok') return this.#drop(result.kind);
    const peer = this.#peers.get(keyId(result.remote.staticPublic))!;
    // Replay protection (§5.1): the timestamp must be newer than any accepted before.
    if (peer.latestTimestamp !== undefined && compareTai64n(result.timestamp, peer.latestTimestamp) <= 0) {
      return this.#drop('stale_timestamp');
    }
    if (now - peer.lastInitiationConsumedAt < HANDSHAKE_INITIATION_RATE) return this.#drop('initiation_flood');
    peer.latestTimestamp = result.timestamp;
    peer.lastInitiationConsumedAt = now;
    this.#setEndpoint(peer, from);
    timersAnyAuthenticatedPacketTraversal(peer, now);
    timersAnyAuthenticatedPacketReceived(peer);

    // One handshake slot per peer: the peer's initiation replaces one we may have in flight.
    this.#clearHandshake(peer);
    const ephemeral = this.#newEphemeral();
    const localIndex = this.#allocateIndex({ peer, keypair: undefined });
    const response = createResponse(result, ephemeral, localIndex);
    if (response === undefined) {
      this.#indices.delete(localIndex);
      return this.#drop('bad_key');
    }
    const keypair = new Keypair(localIndex, result.senderIndex, response.keys.sendKey, response.keys.receiveKey, now, false);
    this.#indices.set(localIndex, { peer, keypair });
    // The responder may not send with new keys until the initiator has used them (§5.4.6), so
    // they wait in `next`; the previous session is dropped, `current` keeps carrying traffic.
    this.#dropKeypair(peer.next);
    peer.next = keypair;
    this.#dropKeypair(peer.previous);
    peer.previous = undefined;

    peer.cookies.addMacs(now, response.message);
    this.#emit(peer, response.message, out);
    this.#counters.inc('wg.handshake_response_sent');
    timersSessionDerived(peer, now);
    timersAnyAuthenticatedPacketTraversal(peer, now);
    timersAnyAuthenticatedPacketSent(peer);
  }

  #receiveResponse(now: number, from: UdpEndpoint, datagram: Uint8Array, out: DeviceOutput[]): void {
    const receiver = readU32(datagram, RESPONSE_RECEIVER_OFFSET);
    const entry = this.#indices.get(receiver);
    const pending = entry?.peer.handshake;
    if (entry === undefined || entry.keypair !== undefined || pending === undefined || pending.localIndex !== receiver) {
      return this.#drop('unknown_receiver');
    }
    const peer = entry.peer;
    const keys = consumeResponse(this.#local, peer.identity, pending.state, datagram);
    if ('kind' in keys) return this.#drop(keys.kind);
    zeroInitiatorState(pending.state);
    peer.handshake = undefined;
    // The handshake's index becomes the session's receiving index.
    const keypair = new Keypair(receiver, readU32(datagram, RESPONSE_SENDER_OFFSET), keys.sendKey, keys.receiveKey, now, true);
    this.#indices.set(receiver, { peer, keypair });
    // The initiator has proof the responder holds the keys, so they become current at once.
    const oldPrevious = peer.previous;
    if (peer.next !== undefined) {
      peer.previous = peer.next;
      peer.next = undefined;
      this.#dropKeypair(peer.current);
    } else {
      peer.previous = peer.current;
    }
    this.#dropKeypair(oldPrevious);
    peer.current = keypair;
    this.#counters.inc('wg.handshake_completed');

    this.#setEndpoint(peer, from);
    timersAnyAuthenticatedPacketTraversal(peer, now);
    timersAnyAuthenticatedPacketReceived(peer);
    timersHandshakeComplete(peer, now);
    timersSessionDerived(peer, now);
    // Confirm the session to the responder right away: queued data, or else a keepalive.
    this.#sendKeepalive(now, peer, out);
  }

  #receiveCookieReply(now: number, datagram: Uint8Array): void {
    const entry = this.#indices.get(readU32(datagram, COOKIE_RECEIVER_OFFSET));
    if (entry === undefined) return this.#drop('unknown_receiver');
    if (!entry.peer.cookies.consumeReply(now, datagram)) return this.#drop('bad_cookie');
    // The retransmit timer sends the next initiation, now with mac2 (§5.4.7).
    this.#counters.inc('wg.cookie_received');
  }

  /** The initiator used the responder's `next` keys: they are confirmed and become current. */
  #confirmNext(now: number, peer: Peer, keypair: Keypair, out: DeviceOutput[]): void {
    this.#dropKeypair(peer.previous);
    peer.previous = peer.current;
    peer.current = keypair;
    peer.next = undefined;
    this.#counters.inc('wg.handshake_completed');
    timersHandshakeComplete(peer, now);
    this.#sendStaged(now, peer, out);
  }

  // ---- send paths ----

  #sendData(now: number, peer: Peer, keypair: Keypair, packet: Uint8Array, out: DeviceOutput[]): void {
    this.#emit(peer, keypair.seal(packet, this.#ring), out);
    // Jitter is drawn only when the timer is armed: random bytes per packet would cost more than the rest.
    if (packet.length > 0) { if (peer.newHandshakeAt === Infinity) timersDataSent(peer, now, this.#jitter()); }
    else this.#counters.inc('wg.keepalive_sent');
    timersAnyAuthenticatedPacketSent(peer);
    timersAnyAuthenticatedPacketTraversal(peer, now);
  }

  #stage(peer: Peer, packet: Uint8Array): void {
    if (peer.staged.length >= MAX_STAGED_PACKETS) {
      peer.staged.shift();
      this.#drop('queue_full');
    }
    peer.staged.push(packet);
  }

  #sendStaged(now: number, peer: Peer, out: DeviceOutput[]): void {
    if (peer.staged.length === 0) return;
    const keypair = peer.current;
    if (keypair === undefined || !keypair.canSend(now) || peer.endpoint === undefined) {
      this.#sendInitiation(now, peer, false, out);
      return;
    }
    const staged = peer.staged;
    peer.staged = [];
    for (const packet of staged) this.#sendData(now, peer, keypair, packet, out);
    this.#keepKeyFreshSending(now, peer, keypair, out);
  }

  #sendKeepalive(now: number, peer: Peer, out: DeviceOutput[]): void {
    if (peer.staged.length === 0) peer.staged.push(EMPTY);
    this.#sendStaged(now, peer, out);
  }

  /** §6.2: rekey after REKEY_AFTER_MESSAGES, or (initiator only) when the session is REKEY_AFTER_TIME old. */
  #keepKeyFreshSending(now: number, peer: Peer, keypair: Keypair, out: DeviceOutput[]): void {
    if (keypair.sendCounter > REKEY_AFTER_MESSAGES_NUMBER || (keypair.isInitiator && now - keypair.createdAt >= REKEY_AFTER_TIME)) {
      this.#sendInitiation(now, peer, false, out);
    }
  }

  /**
   * §6.2: an initiator that only receives would let its session expire; it rekeys once when the
   * current session is REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT old.
   */
  #keepKeyFreshReceiving(now: number, peer: Peer, keypair: Keypair, out: DeviceOutput[]): void {
    if (keypair !== peer.current || !keypair.isInitiator || peer.sentLastMinuteHandshake) return;
    if (now - keypair.createdAt >= REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT) {
      peer.sentLastMinuteHandshake = true;
      this.#sendInitiation(now, peer, false, out);
    }
  }

  /**
   * Sends a handshake initiation. A fresh attempt (not a retry) is skipped while a round of
   * retries runs or within REKEY_TIMEOUT of the last initiation (§6.4: at most one per
   * REKEY_TIMEOUT), so traffic cannot turn into an initiation flood.
   */
  #sendInitiation(now: number, peer: Peer, isRetry: boolean, out: DeviceOutput[]): void {
    if (!isRetry) {
      if (peer.retransmitHandshakeAt !== Infinity || now - peer.lastSentHandshakeAt < REKEY_TIMEOUT) return;
      peer.handshakeAttemptsStartedAt = now;
    }
    if (peer.endpoint === undefined) return this.#drop('no_endpoint');
    this.#clearHandshake(peer);
    const ephemeral = this.#newEphemeral();
    const localIndex = this.#allocateIndex({ peer, keypair: undefined });
    const created = createInitiation(this.#local, peer.identity, ephemeral, localIndex, tai64n(this.#wallClock()));
    if (created === undefined) {
      this.#indices.delete(localIndex);
      return this.#drop('bad_key');
    }
    peer.handshake = { localIndex, state: created.state };
    peer.cookies.addMacs(now, created.message);
    peer.lastSentHandshakeAt = now;
    this.#emit(peer, created.message, out);
    this.#counters.inc('wg.handshake_initiation_sent');
    timersHandshakeInitiated(peer, now, this.#jitter());
    timersAnyAuthenticatedPacketSent(peer);
    timersAnyAuthenticatedPacketTraversal(peer, now);
  }

  #emit(peer: Peer, bytes: Uint8Array, out: DeviceOutput[]): void {
    peer.sentBytes += bytes.length;
    out.push({ kind: 'toNetwork', to: peer.endpoint!, bytes });
  }

  // ---- timers ----

  #pollPeer(now: number, peer: Peer, out: DeviceOutput[]): void {
    if (peer.retransmitHandshakeAt <= now) {
      peer.retransmitHandshakeAt = Infinity;
      if (now - peer.handshakeAttemptsStartedAt >= REKEY_ATTEMPT_TIME) this.#giveUpHandshake(now, peer);
      else this.#sendInitiation(now, peer, true, out);
    }
    if (peer.sendKeepaliveAt <= now) {
      peer.sendKeepaliveAt = Infinity;
      this.#sendKeepalive(now, peer, out);
      if (peer.needAnotherKeepalive) {
        peer.needAnotherKeepalive = false;
        peer.sendKeepaliveAt = now + KEEPALIVE_TIMEOUT;
      }
    }
    if (peer.newHandshakeAt <= now) {
      // We sent data and heard nothing back for KEEPALIVE_TIMEOUT + REKEY_TIMEOUT (§6.5).
      peer.newHandshakeAt = Infinity;
      this.#sendInitiation(now, peer, false, out);
    }
    if (peer.zeroKeyMaterialAt <= now) {
      peer.zeroKeyMaterialAt = Infinity;
      this.#zeroAll(peer);
      this.#counters.inc('wg.keys_zeroed');
    }
    if (peer.persistentKeepaliveAt <= now) {
      peer.persistentKeepaliveAt = Infinity;
      if (peer.persistentKeepalive > 0) this.#sendKeepalive(now, peer, out);
    }
  }

  /** §6.4: after REKEY_ATTEMPT_TIME of retries, stop; queued packets are dropped. */
  #giveUpHandshake(now: number, peer: Peer): void {
    this.#counters.inc('wg.handshake_gave_up');
    this.#clearHandshake(peer);
    this.#flushStaged(peer);
    peer.handshakeAttemptsStartedAt = -Infinity;
    if (peer.zeroKeyMaterialAt === Infinity) peer.zeroKeyMaterialAt = now + 3 * REJECT_AFTER_TIME;
  }

  // ---- state helpers ----

  #setEndpoint(peer: Peer, from: UdpEndpoint): void {
    const current = peer.endpoint;
    if (current === undefined || current.port !== from.port || current.address !== from.address) {
      peer.endpoint = { address: from.address, port: from.port };
    }
  }

  #allocateIndex(entry: IndexEntry): number {
    for (;;) {
      const bytes = this.#random(4);
      const index = readU32(bytes, 0);
      if (!this.#indices.has(index)) {
        this.#indices.set(index, entry);
        return index;
      }
    }
  }

  #clearHandshake(peer: Peer): void {
    const pending = peer.handshake;
    if (pending === undefined) return;
    this.#indices.delete(pending.localIndex);
    zeroInitiatorState(pending.state);
    peer.handshake = undefined;
  }

  #dropKeypair(keypair: Keypair | undefined): void {
    if (keypair === undefined) return;
    this.#indices.delete(keypair.localIndex);
    keypair.zero();
  }

  #flushStaged(peer: Peer): void {
    const dropped = peer.staged.filter((p) => p.length > 0).length;
    if (dropped > 0) this.#counters.inc('wg.staged_dropped', dropped);
    peer.staged = [];
  }

  /** Forget every key of a peer (§6.3 after 3 x REJECT_AFTER_TIME, or on removal). */
  #zeroAll(peer: Peer): void {
    this.#dropKeypair(peer.current);
    this.#dropKeypair(peer.previous);
    this.#dropKeypair(peer.next);
    peer.current = peer.previous = peer.next = undefined;
    this.#clearHandshake(peer);
    this.#flushStaged(peer);
  }

  /** A fresh ephemeral key pair; the raw secret is wiped once it lives inside a KeyObject. */
  #newEphemeral(): X25519KeyPair {
    const secret = this.#random(KEY_SIZE);
    const pair = keyPairFromPrivate(secret);
    secret.fill(0);
    return pair;
  }

  #jitter(): number {
    const bytes = this.#random(2);
    return ((bytes[0]! << 8) | bytes[1]!) % (REKEY_TIMEOUT_JITTER_MAX + 1);
  }

  #drop(reason: string): void {
    this.#counters.inc(`wg.${reason}`);
  }
}
