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
import { parseAddress } from '../wire/ip-address.js';
import {
  COOKIE_RECEIVER_OFFSET, INITIATION_SENDER_OFFSET, KEY_SIZE, MESSAGE_HANDSHAKE_COOKIE, MESSAGE_HANDSHAKE_INITIATION,
  MESSAGE_HANDSHAKE_RESPONSE, MESSAGE_TRANSPORT_DATA, RESPONSE_RECEIVER_OFFSET, RESPONSE_SENDER_OFFSET,
  TRANSPORT_COUNTER_OFFSET, TRANSPORT_RECEIVER_OFFSET, checkMessage, readU32,
} from '../wire/wireguard-messages.js';
import { AllowedIps } from './allowed-ips.js';
import { HANDSHAKE_INITIATION_RATE } from './constants.js';
import { CookieChecker, cookieSource } from './cookie.js';
import { DeviceContext } from './device-context.js';
import {
  consumeInitiation, consumeResponse, createResponse, initialHashFor, noPresharedKey, zeroInitiatorState, type RemoteIdentity,
} from './handshake.js';
import { addressLength, destinationOffset, ipPacketLength, sourceOffset } from './inner-packet.js';
import { dh, importPublicKey, keyPairFromPrivate, KeyError } from './keys.js';
import { Keypair } from './keypair.js';
import { LoadMonitor } from './load-monitor.js';
import { Peer } from './peer.js';
import { emit, keepKeyFreshReceiving, keepKeyFreshSending, sendData, sendKeepalive, sendStaged, stage } from './sending.js';
import { clearHandshake, dropKeypair, setEndpoint, zeroAll } from './session-state.js';
import { SourceRateLimiter } from './source-rate-limiter.js';
import { compareTai64n } from './tai64n.js';
import { expirePeerTimers } from './timer-expiry.js';
import {
  timersAnyAuthenticatedPacketReceived, timersAnyAuthenticatedPacketSent, timersAnyAuthenticatedPacketTraversal,
  timersDataReceived, timersHandshakeComplete, timersSessionDerived,
} from './timers.js';
import type { DeviceOptions, DeviceOutput, PeerConfig, PeerHandle, UdpEndpoint } from './types.js';

export type { DeviceOptions, DeviceOutput, PeerConfig, PeerHandle, UdpEndpoint } from './types.js';
export { generatePrivateKey, publicKeyFromPrivate, encodeKey, decodeKey } from './keys.js';

const keyId = (publicKey: Uint8Array): string => Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.length).toString('hex');

export class Device {
  readonly #ctx: DeviceContext;
  readonly #cookieChecker: CookieChecker;
  readonly #load: LoadMonitor;
  readonly #sourceLimiter = new SourceRateLimiter();
  readonly #peers = new Map<string, Peer>();
  readonly #routes = new AllowedIps<Peer>();

  constructor(options: DeviceOptions) {
    const random = options.random ?? randomBytes;
    const keys = keyPairFromPrivate(options.privateKey);
    const local = { staticPrivate: keys.privateKey, staticPublic: keys.publicKey, initialHash: initialHashFor(keys.publicKey) };
    // Wall-clock time feeds TAI64N only: it must keep growing across restarts, which `now` does not.
    this.#ctx = new DeviceContext(options.counters, random, options.wallClock ?? Date.now, local);
    this.#cookieChecker = new CookieChecker(keys.publicKey, random);
    this.#load = new LoadMonitor(options.underLoad);
  }

  get publicKey(): Uint8Array {
    return Uint8Array.from(this.#ctx.local.staticPublic);
  }

  /** Adds a peer, or updates the allowed IPs, endpoint, keepalive, key and name of an existing one. */
  addPeer(config: PeerConfig): PeerHandle {
    if (config.publicKey.length !== KEY_SIZE) throw new KeyError(`peer public key must be ${KEY_SIZE} bytes`);
    if (config.presharedKey !== undefined && config.presharedKey.length !== KEY_SIZE) {
      throw new KeyError(`preshared key must be ${KEY_SIZE} bytes`);
    }
    for (const cidr of config.allowedIps) {
      const bits = cidr.address.length * 8;
      if ((bits !== 32 && bits !== 128) || !Number.isInteger(cidr.prefixLength) || cidr.prefixLength < 0 || cidr.prefixLength > bits) {
        throw new RangeError(`bad allowed IP: ${cidr.address.length}-byte address /${cidr.prefixLength}`);
      }
    }
    const id = keyId(config.publicKey);
    if (id === keyId(this.#ctx.local.staticPublic)) throw new KeyError('a peer cannot have the device\'s own public key');
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
        staticStatic: dh(this.#ctx.local.staticPrivate, staticKey),
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
    zeroAll(this.#ctx, peer);
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
      default: this.#ctx.drop(type === 'bad_length' ? 'bad_length' : 'unknown_type');
    }
    return out;
  }

  /** An IP packet to send into the tunnel, routed by destination through the allowed IPs. */
  send(now: number, packet: Uint8Array): DeviceOutput[] {
    const out: DeviceOutput[] = [];
    const length = ipPacketLength(packet);
    if (length < 0) {
      this.#ctx.drop('bad_packet');
      return out;
    }
    const peer = this.#routes.lookup(packet, destinationOffset(packet), addressLength(packet));
    if (peer === undefined) {
      this.#ctx.drop('no_route');
      return out;
    }
    const payload = length === packet.length ? packet : packet.subarray(0, length);
    const keypair = peer.current;
    if (peer.staged.length === 0 && keypair !== undefined && keypair.canSend(now) && peer.endpoint !== undefined) {
      sendData(this.#ctx, now, peer, keypair, payload, out);
      keepKeyFreshSending(this.#ctx, now, peer, keypair, out);
      return out;
    }
    stage(this.#ctx, peer, Uint8Array.from(payload)); // the caller may reuse its buffer before the session exists
    sendStaged(this.#ctx, now, peer, out);
    return out;
  }

  /** Runs the timers due at `now`. */
  poll(now: number): DeviceOutput[] {
    const out: DeviceOutput[] = [];
    for (const peer of this.#peers.values()) {
      if (peer.nextDeadline() <= now) expirePeerTimers(this.#ctx, now, peer, out);
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
    const entry = this.#ctx.indices.get(readU32(datagram, TRANSPORT_RECEIVER_OFFSET));
    const keypair = entry?.keypair;
    if (entry === undefined || keypair === undefined) return this.#ctx.drop('unknown_receiver');
    if (!keypair.canReceive(now)) return this.#ctx.drop('expired_keypair');
    const low = readU32(datagram, TRANSPORT_COUNTER_OFFSET);
    const high = readU32(datagram, TRANSPORT_COUNTER_OFFSET + 4);
    // Checked before decrypting so a replay flood costs no cipher work; recorded only after.
    if (!keypair.replay.check(low, high)) return this.#ctx.drop('replay');
    const plaintext = keypair.open(datagram, low, high);
    if (plaintext === undefined) return this.#ctx.drop('decrypt_failed');
    if (!keypair.replay.accept(low, high)) return this.#ctx.drop('replay');

    // Authenticated from here on (whitepaper §6.5: roaming follows authenticated packets only).
    const peer = entry.peer;
    peer.receivedBytes += datagram.length;
    setEndpoint(peer, from);
    if (keypair === peer.next) this.#confirmNext(now, peer, keypair, out);
    keepKeyFreshReceiving(this.#ctx, now, peer, keypair, out);
    timersAnyAuthenticatedPacketReceived(peer);
    timersAnyAuthenticatedPacketTraversal(peer, now);
    if (plaintext.length === 0) {
      this.#ctx.counters.inc('wg.keepalive_received');
      return;
    }
    timersDataReceived(peer, now);
    const length = ipPacketLength(plaintext);
    if (length < 0) return this.#ctx.drop('bad_inner_packet');
    // Cryptokey routing: the inner source must be one of this peer's allowed IPs.
    if (this.#routes.lookup(plaintext, sourceOffset(plaintext), addressLength(plaintext)) !== peer) {
      return this.#ctx.drop('allowed_ips');
    }
    out.push({ kind: 'toTunnel', peer, packet: new Uint8Array(plaintext.buffer, plaintext.byteOffset, length) });
  }

  #receiveHandshake(now: number, from: UdpEndpoint, datagram: Uint8Array, type: number, out: DeviceOutput[]): void {
    this.#load.record(now);
    if (!this.#cookieChecker.checkMac1(datagram)) return this.#ctx.drop('bad_mac1');
    if (this.#load.underLoad(now)) {
      let source: Uint8Array;
      try {
        source = cookieSource(parseAddress(from.address), from.port);
      } catch {
        return this.#ctx.drop('bad_source'); // not an IP address: nothing a cookie could be bound to
      }
      if (!this.#cookieChecker.checkMac2(now, datagram, source)) {
        // Sender index sits at the same offset in both handshake messages.
        const sender = readU32(datagram, INITIATION_SENDER_OFFSET);
        out.push({ kind: 'toNetwork', to: { address: from.address, port: from.port }, bytes: this.#cookieChecker.createReply(now, datagram, sender, source) });
        this.#ctx.counters.inc('wg.cookie_sent');
        return;
      }
      if (!this.#sourceLimiter.allow(now, from.address)) return this.#ctx.drop('rate_limited');
    }
    if (type === MESSAGE_HANDSHAKE_INITIATION) this.#receiveInitiation(now, from, datagram, out);
    else this.#receiveResponse(now, from, datagram, out);
  }

  #receiveInitiation(now: number, from: UdpEndpoint, datagram: Uint8Array, out: DeviceOutput[]): void {
    const result = consumeInitiation(this.#ctx.local, datagram, (key) => this.#peers.get(keyId(key))?.identity);
    if (result.kind !== 'ok') return this.#ctx.drop(result.kind);
    const peer = this.#peers.get(keyId(result.remote.staticPublic))!;
    // Replay protection (§5.1): the timestamp must be newer than any accepted before.
    if (peer.latestTimestamp !== undefined && compareTai64n(result.timestamp, peer.latestTimestamp) <= 0) {
      return this.#ctx.drop('stale_timestamp');
    }
    if (now - peer.lastInitiationConsumedAt < HANDSHAKE_INITIATION_RATE) return this.#ctx.drop('initiation_flood');
    peer.latestTimestamp = result.timestamp;
    peer.lastInitiationConsumedAt = now;
    setEndpoint(peer, from);
    timersAnyAuthenticatedPacketTraversal(peer, now);
    timersAnyAuthenticatedPacketReceived(peer);

    // One handshake slot per peer: the peer's initiation replaces one we may have in flight.
    clearHandshake(this.#ctx, peer);
    const ephemeral = this.#ctx.newEphemeral();
    const localIndex = this.#ctx.allocateIndex({ peer, keypair: undefined });
    const response = createResponse(result, ephemeral, localIndex);
    if (response === undefined) {
      this.#ctx.indices.delete(localIndex);
      return this.#ctx.drop('bad_key');
    }
    const keypair = new Keypair(localIndex, result.senderIndex, response.keys.sendKey, response.keys.receiveKey, now, false);
    this.#ctx.indices.set(localIndex, { peer, keypair });
    // The responder may not send with new keys until the initiator has used them (§5.4.6), so
    // they wait in `next`; the previous session is dropped, `current` keeps carrying traffic.
    dropKeypair(this.#ctx, peer.next);
    peer.next = keypair;
    dropKeypair(this.#ctx, peer.previous);
    peer.previous = undefined;

    peer.cookies.addMacs(now, response.message);
    emit(peer, response.message, out);
    this.#ctx.counters.inc('wg.handshake_response_sent');
    timersSessionDerived(peer, now);
    timersAnyAuthenticatedPacketTraversal(peer, now);
    timersAnyAuthenticatedPacketSent(peer);
  }

  #receiveResponse(now: number, from: UdpEndpoint, datagram: Uint8Array, out: DeviceOutput[]): void {
    const receiver = readU32(datagram, RESPONSE_RECEIVER_OFFSET);
    const entry = this.#ctx.indices.get(receiver);
    const pending = entry?.peer.handshake;
    if (entry === undefined || entry.keypair !== undefined || pending === undefined || pending.localIndex !== receiver) {
      return this.#ctx.drop('unknown_receiver');
    }
    const peer = entry.peer;
    const keys = consumeResponse(this.#ctx.local, peer.identity, pending.state, datagram);
    if ('kind' in keys) return this.#ctx.drop(keys.kind);
    zeroInitiatorState(pending.state);
    peer.handshake = undefined;
    // The handshake's index becomes the session's receiving index.
    const keypair = new Keypair(receiver, readU32(datagram, RESPONSE_SENDER_OFFSET), keys.sendKey, keys.receiveKey, now, true);
    this.#ctx.indices.set(receiver, { peer, keypair });
    // The initiator has proof the responder holds the keys, so they become current at once.
    const oldPrevious = peer.previous;
    if (peer.next !== undefined) {
      peer.previous = peer.next;
      peer.next = undefined;
      dropKeypair(this.#ctx, peer.current);
    } else {
      peer.previous = peer.current;
    }
    dropKeypair(this.#ctx, oldPrevious);
    peer.current = keypair;
    this.#ctx.counters.inc('wg.handshake_completed');

    setEndpoint(peer, from);
    timersAnyAuthenticatedPacketTraversal(peer, now);
    timersAnyAuthenticatedPacketReceived(peer);
    timersHandshakeComplete(peer, now);
    timersSessionDerived(peer, now);
    // Confirm the session to the responder right away: queued data, or else a keepalive.
    sendKeepalive(this.#ctx, now, peer, out);
  }

  #receiveCookieReply(now: number, datagram: Uint8Array): void {
    const entry = this.#ctx.indices.get(readU32(datagram, COOKIE_RECEIVER_OFFSET));
    if (entry === undefined) return this.#ctx.drop('unknown_receiver');
    if (!entry.peer.cookies.consumeReply(now, datagram)) return this.#ctx.drop('bad_cookie');
    // The retransmit timer sends the next initiation, now with mac2 (§5.4.7).
    this.#ctx.counters.inc('wg.cookie_received');
  }

  /** The initiator used the responder's `next` keys: they are confirmed and become current. */
  #confirmNext(now: number, peer: Peer, keypair: Keypair, out: DeviceOutput[]): void {
    dropKeypair(this.#ctx, peer.previous);
    peer.previous = peer.current;
    peer.current = keypair;
    peer.next = undefined;
    this.#ctx.counters.inc('wg.handshake_completed');
    timersHandshakeComplete(peer, now);
    sendStaged(this.#ctx, now, peer, out);
  }
}
