/**
 * Everything the Device sends on its own account: transport data, staged packets, keepalives and
 * handshake initiations, with the rekey rules of whitepaper §6.2 and the rate rule of §6.4.
 */
import { MAX_STAGED_PACKETS, REJECT_AFTER_TIME, KEEPALIVE_TIMEOUT, REKEY_AFTER_MESSAGES_NUMBER, REKEY_AFTER_TIME, REKEY_TIMEOUT } from './constants.js';
import type { DeviceContext } from './device-context.js';
import { createInitiation } from './handshake.js';
import type { Keypair } from './keypair.js';
import type { Peer } from './peer.js';
import { clearHandshake } from './session-state.js';
import { tai64n } from './tai64n.js';
import {
  timersAnyAuthenticatedPacketSent, timersAnyAuthenticatedPacketTraversal, timersDataSent, timersHandshakeInitiated,
} from './timers.js';
import type { DeviceOutput } from './types.js';

const EMPTY = new Uint8Array(0);

export function emit(peer: Peer, bytes: Uint8Array, out: DeviceOutput[]): void {
  peer.sentBytes += bytes.length;
  out.push({ kind: 'toNetwork', to: peer.endpoint!, bytes });
}

/** Seals one packet (empty = keepalive) on `keypair`; the caller checked it can send. */
export function sendData(ctx: DeviceContext, now: number, peer: Peer, keypair: Keypair, packet: Uint8Array, out: DeviceOutput[]): void {
  emit(peer, keypair.seal(packet, ctx.ring), out);
  // Jitter is drawn only when the timer is armed: random bytes per packet would cost more than the rest.
  if (packet.length > 0) {
    if (peer.newHandshakeAt === Infinity) timersDataSent(peer, now, ctx.jitter());
  } else {
    ctx.counters.inc('wg.keepalive_sent');
  }
  timersAnyAuthenticatedPacketSent(peer);
  timersAnyAuthenticatedPacketTraversal(peer, now);
}

/** Holds a packet until a session exists; the oldest goes when the queue is full. */
export function stage(ctx: DeviceContext, peer: Peer, packet: Uint8Array): void {
  if (peer.staged.length >= MAX_STAGED_PACKETS) {
    peer.staged.shift();
    ctx.drop('queue_full');
  }
  peer.staged.push(packet);
}

export function sendStaged(ctx: DeviceContext, now: number, peer: Peer, out: DeviceOutput[]): void {
  if (peer.staged.length === 0) return;
  const keypair = peer.current;
  if (keypair === undefined || !keypair.canSend(now) || peer.endpoint === undefined) {
    sendInitiation(ctx, now, peer, false, out);
    return;
  }
  const staged = peer.staged;
  peer.staged = [];
  for (const packet of staged) sendData(ctx, now, peer, keypair, packet, out);
  keepKeyFreshSending(ctx, now, peer, keypair, out);
}

/** An empty transport message, queued behind staged data (or a handshake) if there is no session. */
export function sendKeepalive(ctx: DeviceContext, now: number, peer: Peer, out: DeviceOutput[]): void {
  if (peer.staged.length === 0) peer.staged.push(EMPTY);
  sendStaged(ctx, now, peer, out);
}

/** §6.2: rekey after REKEY_AFTER_MESSAGES, or (initiator only) when the session is REKEY_AFTER_TIME old. */
export function keepKeyFreshSending(ctx: DeviceContext, now: number, peer: Peer, keypair: Keypair, out: DeviceOutput[]): void {
  if (keypair.sendCounter > REKEY_AFTER_MESSAGES_NUMBER || (keypair.isInitiator && now - keypair.createdAt >= REKEY_AFTER_TIME)) {
    sendInitiation(ctx, now, peer, false, out);
  }
}

/**
 * §6.2: an initiator that only receives would let its session expire; it rekeys once when the
 * current session is REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT old.
 */
export function keepKeyFreshReceiving(ctx: DeviceContext, now: number, peer: Peer, keypair: Keypair, out: DeviceOutput[]): void {
  if (keypair !== peer.current || !keypair.isInitiator || peer.sentLastMinuteHandshake) return;
  if (now - keypair.createdAt >= REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT) {
    peer.sentLastMinuteHandshake = true;
    sendInitiation(ctx, now, peer, false, out);
  }
}

/**
 * Sends a handshake initiation. A fresh attempt (not a retry) is skipped while a round of
 * retries runs or within REKEY_TIMEOUT of the last initiation (§6.4: at most one per
 * REKEY_TIMEOUT), so traffic cannot turn into an initiation flood.
 */
export function sendInitiation(ctx: DeviceContext, now: number, peer: Peer, isRetry: boolean, out: DeviceOutput[]): void {
  if (!isRetry) {
    if (peer.retransmitHandshakeAt !== Infinity || now - peer.lastSentHandshakeAt < REKEY_TIMEOUT) return;
    peer.handshakeAttemptsStartedAt = now;
  }
  if (peer.endpoint === undefined) return ctx.drop('no_endpoint');
  clearHandshake(ctx, peer);
  const ephemeral = ctx.newEphemeral();
  const localIndex = ctx.allocateIndex({ peer, keypair: undefined });
  const created = createInitiation(ctx.local, peer.identity, ephemeral, localIndex, tai64n(ctx.wallClock()));
  if (created === undefined) {
    ctx.indices.delete(localIndex);
    return ctx.drop('bad_key');
  }
  peer.handshake = { localIndex, state: created.state };
  peer.cookies.addMacs(now, created.message);
  peer.lastSentHandshakeAt = now;
  emit(peer, created.message, out);
  ctx.counters.inc('wg.handshake_initiation_sent');
  timersHandshakeInitiated(peer, now, ctx.jitter());
  timersAnyAuthenticatedPacketSent(peer);
  timersAnyAuthenticatedPacketTraversal(peer, now);
}
