/**
 * Timer events (whitepaper §6.2-§6.5, named after the events wireguard-go hooks them to). Each
 * only moves deadlines on a Peer; the Device acts when poll() finds one due.
 */
import { KEEPALIVE_TIMEOUT, REJECT_AFTER_TIME, REKEY_TIMEOUT } from './constants.js';
import type { Peer } from './peer.js';

/** Sent a data packet (not a keepalive): expect something back within KEEPALIVE + REKEY timeouts. */
export function timersDataSent(peer: Peer, now: number, jitter: number): void {
  if (peer.newHandshakeAt === Infinity) peer.newHandshakeAt = now + KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + jitter;
}

/** Received a data packet: owe the peer a passive keepalive unless we send something first. */
export function timersDataReceived(peer: Peer, now: number): void {
  if (peer.sendKeepaliveAt === Infinity) peer.sendKeepaliveAt = now + KEEPALIVE_TIMEOUT;
  else peer.needAnotherKeepalive = true;
}

/** Any authenticated packet (data, keepalive, handshake) went out: it serves as the keepalive. */
export function timersAnyAuthenticatedPacketSent(peer: Peer): void {
  peer.sendKeepaliveAt = Infinity;
}

/** Any authenticated packet came in: the peer is alive, no need for a new handshake yet. */
export function timersAnyAuthenticatedPacketReceived(peer: Peer): void {
  peer.newHandshakeAt = Infinity;
}

/** Any authenticated packet either way restarts the persistent keepalive interval. */
export function timersAnyAuthenticatedPacketTraversal(peer: Peer, now: number): void {
  if (peer.persistentKeepalive > 0) peer.persistentKeepaliveAt = now + peer.persistentKeepalive * 1000;
}

export function timersHandshakeInitiated(peer: Peer, now: number, jitter: number): void {
  peer.retransmitHandshakeAt = now + REKEY_TIMEOUT + jitter;
}

export function timersHandshakeComplete(peer: Peer, now: number): void {
  peer.retransmitHandshakeAt = Infinity;
  peer.handshakeAttemptsStartedAt = -Infinity;
  peer.sentLastMinuteHandshake = false;
  peer.lastHandshakeAt = now;
}

/** New keys exist: forget everything if no further handshake happens in 3 x REJECT_AFTER_TIME. */
export function timersSessionDerived(peer: Peer, now: number): void {
  peer.zeroKeyMaterialAt = now + 3 * REJECT_AFTER_TIME;
}
