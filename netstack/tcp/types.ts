/**
 * The public shapes of the TCP layer: connection handle, events, input. Implemented by
 * connection.ts and tcp-stack.ts; kept apart so both can name them without a cycle.
 */

export type TcpState =
  | 'OFFERED' // a SYN arrived and waits for accept()/refuse(): nothing sent yet (not an RFC state)
  | 'SYN-SENT'
  | 'SYN-RECEIVED'
  | 'ESTABLISHED'
  | 'FIN-WAIT-1'
  | 'FIN-WAIT-2'
  | 'CLOSE-WAIT'
  | 'CLOSING'
  | 'LAST-ACK'
  | 'TIME-WAIT'
  | 'CLOSED';

export type TcpCloseReason = 'fin' | 'reset' | 'refused' | 'timeout' | 'aborted' | 'offer-expired';

export type TcpEvent =
  /** A complete IP packet (v4 or v6) to send to the peer, checksums filled. The caller owns it. */
  | { kind: 'transmit'; packet: Uint8Array }
  /** A new inbound SYN; call conn.accept(now) or conn.refuse(now) (maybe much later), then flush. */
  | { kind: 'offer'; conn: TcpConnection }
  /** Handshake done (inbound after accept, or outbound connect). */
  | { kind: 'established'; conn: TcpConnection }
  /** conn.read() has data (edge-triggered: once per batch of newly arrived bytes). */
  | { kind: 'readable'; conn: TcpConnection }
  /** The send buffer is at most half full again after write() accepted less than offered. */
  | { kind: 'writable'; conn: TcpConnection }
  /** The peer will send no more, and every byte it sent has been read. */
  | { kind: 'peer-fin'; conn: TcpConnection }
  /** The connection is over; the last event for it. After 'fin' every byte was read. */
  | { kind: 'closed'; conn: TcpConnection; reason: TcpCloseReason };

export interface TcpSegmentIn {
  family: 4 | 6;
  /** The agent's address (IP source). */
  src: Uint8Array;
  /** The address the agent dialed (IP destination). */
  dst: Uint8Array;
  /** TCP header + payload (the IP payload, without link padding). */
  segment: Uint8Array;
  /** Opaque peer key (e.g. the WireGuard peer), used for per-peer caps. */
  peer: string;
}

export interface TcpConnection {
  readonly id: number;
  readonly family: 4 | 6;
  /** The agent. */
  readonly remoteAddress: Uint8Array;
  readonly remotePort: number;
  /** What the agent dialed. */
  readonly localAddress: Uint8Array;
  readonly localPort: number;
  readonly peer: string;
  readonly state: TcpState;
  /** Set once 'closed' was decided. */
  readonly closeReason: TcpCloseReason | undefined;
  /** The peer's FIN was received and every byte before it has been read. */
  readonly peerFinished: boolean;
  /** Answer an offer with SYN-ACK (sent at the next flush). No effect unless the state is OFFERED. */
  accept(now: number): void;
  /** Answer an offer with RST (ECONNREFUSED for the agent). No effect unless the state is OFFERED. */
  refuse(now: number): void;
  /** Up to maxBytes (default: all) buffered bytes, copied; null when nothing is buffered. */
  read(maxBytes?: number): Uint8Array | null;
  /** Copies what fits of `data` into the send buffer; returns the count (0 when full or shut down). */
  write(now: number, data: Uint8Array): number;
  /** Send FIN after the queued data (half-close: reading goes on). */
  shutdown(now: number): void;
  /** Send RST and forget the connection ('closed' with reason 'aborted'). */
  abort(now: number): void;
  /** RFC 1122 §4.2.3.6 keepalive for this connection; defaults 2 h / 75 s / 9 probes. */
  setKeepAlive(enabled: boolean, idleMs?: number, intervalMs?: number, probes?: number): void;
  /** Payload bytes received in order from the peer. */
  readonly bytesIn: number;
  /** Payload bytes the peer acknowledged. */
  readonly bytesOut: number;
  /** Bytes received and not yet read. */
  readonly receiveBuffered: number;
  /** Bytes written and not yet acknowledged. */
  readonly sendBuffered: number;
  /** Memory held by this connection's buffers (allocated, not just used), for accounting. */
  readonly bufferMemory: number;
}
