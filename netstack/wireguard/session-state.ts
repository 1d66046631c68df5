/** Changes to a peer's sessions and handshake that keep the index table in step, and wipe keys. */
import type { DeviceContext } from './device-context.js';
import { zeroInitiatorState } from './handshake.js';
import type { Keypair } from './keypair.js';
import type { Peer } from './peer.js';
import type { UdpEndpoint } from './types.js';

/** Roaming (§6.5): called only for authenticated packets. A new object, so outputs already handed out keep theirs. */
export function setEndpoint(peer: Peer, from: UdpEndpoint): void {
  const current = peer.endpoint;
  if (current === undefined || current.port !== from.port || current.address !== from.address) {
    peer.endpoint = { address: from.address, port: from.port };
  }
}

export function clearHandshake(ctx: DeviceContext, peer: Peer): void {
  const pending = peer.handshake;
  if (pending === undefined) return;
  ctx.indices.delete(pending.localIndex);
  zeroInitiatorState(pending.state);
  peer.handshake = undefined;
}

export function dropKeypair(ctx: DeviceContext, keypair: Keypair | undefined): void {
  if (keypair === undefined) return;
  ctx.indices.delete(keypair.localIndex);
  keypair.zero();
}

export function flushStaged(ctx: DeviceContext, peer: Peer): void {
  const dropped = peer.staged.filter((p) => p.length > 0).length;
  if (dropped > 0) ctx.counters.inc('wg.staged_dropped', dropped);
  peer.staged = [];
}

/** Forget every key of a peer (§6.3 after 3 x REJECT_AFTER_TIME, or on removal). */
export function zeroAll(ctx: DeviceContext, peer: Peer): void {
  dropKeypair(ctx, peer.current);
  dropKeypair(ctx, peer.previous);
  dropKeypair(ctx, peer.next);
  peer.current = peer.previous = peer.next = undefined;
  clearHandshake(ctx, peer);
  flushStaged(ctx, peer);
}
