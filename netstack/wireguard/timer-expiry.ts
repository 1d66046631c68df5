/** What happens when a peer's timer deadline passes (whitepaper §6.2-§6.5); called from Device.poll. */
import { KEEPALIVE_TIMEOUT, REJECT_AFTER_TIME, REKEY_ATTEMPT_TIME } from './constants.js';
import type { DeviceContext } from './device-context.js';
import type { Peer } from './peer.js';
import { sendInitiation, sendKeepalive } from './sending.js';
import { clearHandshake, flushStaged, zeroAll } from './session-state.js';
import type { DeviceOutput } from './types.js';

export function expirePeerTimers(ctx: DeviceContext, now: number, peer: Peer, out: DeviceOutput[]): void {
  if (peer.retransmitHandshakeAt <= now) {
    peer.retransmitHandshakeAt = Infinity;
    if (now - peer.handshakeAttemptsStartedAt >= REKEY_ATTEMPT_TIME) giveUpHandshake(ctx, now, peer);
    else sendInitiation(ctx, now, peer, true, out);
  }
  if (peer.sendKeepaliveAt <= now) {
    peer.sendKeepaliveAt = Infinity;
    sendKeepalive(ctx, now, peer, out);
    if (peer.needAnotherKeepalive) {
      peer.needAnotherKeepalive = false;
      peer.sendKeepaliveAt = now + KEEPALIVE_TIMEOUT;
    }
  }
  if (peer.newHandshakeAt <= now) {
    // We sent data and heard nothing back for KEEPALIVE_TIMEOUT + REKEY_TIMEOUT (§6.5).
    peer.newHandshakeAt = Infinity;
    sendInitiation(ctx, now, peer, false, out);
  }
  if (peer.zeroKeyMaterialAt <= now) {
    peer.zeroKeyMaterialAt = Infinity;
    zeroAll(ctx, peer);
    ctx.counters.inc('wg.keys_zeroed');
  }
  if (peer.persistentKeepaliveAt <= now) {
    peer.persistentKeepaliveAt = Infinity;
    if (peer.persistentKeepalive > 0) sendKeepalive(ctx, now, peer, out);
  }
}

/** §6.4: after REKEY_ATTEMPT_TIME of retries, stop; queued packets are dropped. */
function giveUpHandshake(ctx: DeviceContext, now: number, peer: Peer): void {
  ctx.counters.inc('wg.handshake_gave_up');
  clearHandshake(ctx, peer);
  flushStaged(ctx, peer);
  peer.handshakeAttemptsStartedAt = -Infinity;
  if (peer.zeroKeyMaterialAt === Infinity) peer.zeroKeyMaterialAt = now + 3 * REJECT_AFTER_TIME;
}
