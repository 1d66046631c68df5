/**
 * One peer's state: identity, sessions (whitepaper §6.1 current/previous/next), the handshake in
 * flight, packets staged until a session exists, and its timer deadlines (§6.2-§6.5). The Device
 * drives it; callers only ever see it through the read-only PeerHandle.
 */
import type { Cidr } from '../wire/ip-address.js';
import { CookieGenerator } from './cookie.js';
import type { InitiatorState, RemoteIdentity } from './handshake.js';
import type { Keypair } from './keypair.js';
import type { PeerHandle, UdpEndpoint } from './types.js';

export interface PendingHandshake {
  localIndex: number;
  state: InitiatorState;
}

export class Peer implements PeerHandle {
  readonly publicKey: Uint8Array;
  name?: string;
  readonly identity: RemoteIdentity;
  readonly cookies: CookieGenerator;
  endpoint: UdpEndpoint | undefined;
  persistentKeepalive = 0;
  lastHandshakeAt: number | undefined;
  sentBytes = 0;
  receivedBytes = 0;

  /** Confirmed session used for sending. */
  current: Keypair | undefined;
  /** The session before `current`, still accepted on receive so in-flight packets are not lost. */
  previous: Keypair | undefined;
  /** Responder-side session not yet confirmed by the initiator's first data packet. */
  next: Keypair | undefined;
  handshake: PendingHandshake | undefined;
  /** Packets waiting for a session (an empty one stands for a keepalive). */
  staged: Uint8Array[] = [];

  /** Greatest TAI64N seen in an initiation from this peer: anything not greater is a replay. */
  latestTimestamp: Uint8Array | undefined;
  lastInitiationConsumedAt = -Infinity;
  lastSentHandshakeAt = -Infinity;
  /** When the current round of initiation retries began (whitepaper §6.4, REKEY_ATTEMPT_TIME). */
  handshakeAttemptsStartedAt = -Infinity;
  needAnotherKeepalive = false;
  sentLastMinuteHandshake = false;

  // Timer deadlines in monotonic ms; Infinity means not armed.
  retransmitHandshakeAt = Infinity;
  sendKeepaliveAt = Infinity;
  newHandshakeAt = Infinity;
  zeroKeyMaterialAt = Infinity;
  persistentKeepaliveAt = Infinity;

  readonly #allowedIps: () => Cidr[];

  constructor(identity: RemoteIdentity, allowedIps: () => Cidr[]) {
    this.identity = identity;
    this.publicKey = identity.staticPublic;
    this.cookies = new CookieGenerator(identity.staticPublic);
    this.#allowedIps = allowedIps;
  }

  get allowedIps(): readonly Cidr[] {
    return this.#allowedIps();
  }

  nextDeadline(): number {
    return Math.min(this.retransmitHandshakeAt, this.sendKeepaliveAt, this.newHandshakeAt, this.zeroKeyMaterialAt, this.persistentKeepaliveAt);
  }
}
