/** The Device's public types (re-exported from device.ts, which is the module callers import). */
import type { Counters } from '../counters.js';
import type { Cidr } from '../wire/ip-address.js';

export interface UdpEndpoint { address: string; port: number } // address as text, v4 or v6

export interface PeerConfig {
  publicKey: Uint8Array; // 32 bytes
  presharedKey?: Uint8Array; // 32 bytes
  allowedIps: Cidr[];
  endpoint?: UdpEndpoint;
  persistentKeepalive?: number; // seconds, 0/undefined = off
  name?: string; // opaque label for the caller (peer name)
}

/**
 * What the Device asks its caller to do. `bytes` and `packet` may share memory the Device reuses,
 * so they are valid until the next call into the same Device; copy them to keep them longer.
 */
export type DeviceOutput =
  | { kind: 'toNetwork'; to: UdpEndpoint; bytes: Uint8Array } // a UDP datagram to send
  | { kind: 'toTunnel'; peer: PeerHandle; packet: Uint8Array }; // a decrypted IP packet from a peer

export interface PeerHandle {
  readonly publicKey: Uint8Array;
  readonly name?: string;
  /** Where we last heard from the peer with an authenticated packet, or its configured endpoint. */
  readonly endpoint: UdpEndpoint | undefined;
  /** Prefixes routed to this peer (those taken over by a later peer are no longer listed). */
  readonly allowedIps: readonly Cidr[];
  readonly persistentKeepalive: number;
  /** Monotonic ms of the last completed handshake, or undefined. */
  readonly lastHandshakeAt: number | undefined;
  /** Bytes of WireGuard datagrams sent to / authenticated from this peer. */
  readonly sentBytes: number;
  readonly receivedBytes: number;
}

export interface DeviceOptions {
  privateKey: Uint8Array;
  counters: Counters;
  /** Random bytes for ephemeral keys, indices, cookie secrets and jitter; crypto.randomBytes by default. */
  random?: (n: number) => Uint8Array;
  /** Forces the "under load" decision (cookie replies); otherwise it follows the handshake rate. */
  underLoad?: () => boolean;
  /**
   * Wall-clock ms since 1970 for TAI64N timestamps only (they must grow across restarts, which a
   * monotonic clock does not); Date.now by default. Every timer uses the `now` passed in.
   */
  wallClock?: () => number;
}
