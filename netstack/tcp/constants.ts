/**
 * Defaults and limits of the TCP layer, with where each comes from. Times are milliseconds.
 */

/** The inner MTU of a WireGuard interface over a 1500-byte path (same as the IP layer's). */
export const DEFAULT_MTU = 1420;
/** IPv4 (20) + TCP (20) fixed headers: RFC 9293 §3.7.1 MSS = MTU - 40 on IPv4. */
export const IPV4_TCP_HEADERS = 40;
/** IPv6 (40) + TCP (20) fixed headers. */
export const IPV6_TCP_HEADERS = 60;
/** RFC 9293 §3.7.1 / RFC 1122 §4.2.2.6: the send MSS when the peer sent no MSS option (IPv4). */
export const DEFAULT_SEND_MSS_V4 = 536;
/** RFC 8200 §5 minimum MTU 1280 - 60: the IPv6 send MSS without an MSS option. */
export const DEFAULT_SEND_MSS_V6 = 1220;
/** Below this the per-segment overhead dominates; a smaller peer MSS is raised to it (Linux: 48). */
export const MIN_SEND_MSS = 64;

export const DEFAULT_RECEIVE_BUFFER = 256 * 1024;
export const DEFAULT_SEND_BUFFER = 256 * 1024;

/**
 * TIME-WAIT. RFC 9293 asks for 2 MSL (4 minutes with MSL = 2 min); we are the server inside a
 * tunnel with sub-millisecond RTTs, where old duplicates cannot linger for minutes, and
 * timestamps (PAWS) guard reused 4-tuples anyway. Short, like the brief asks; configurable.
 */
export const DEFAULT_TIME_WAIT_MS = 10_000;
/** How long a SYN may wait for accept()/refuse() before it is refused by RST. */
export const DEFAULT_OFFER_TIMEOUT_MS = 10_000;
/** FIN-WAIT-2 with nothing received for this long is given up (Linux tcp_fin_timeout). */
export const DEFAULT_FIN_WAIT_2_TIMEOUT_MS = 60_000;

export const DEFAULT_MAX_CONNECTIONS = 16_384;
export const DEFAULT_MAX_CONNECTIONS_PER_PEER = 1024;
export const DEFAULT_MAX_HALF_OPEN = 1024;
export const DEFAULT_MAX_HALF_OPEN_PER_PEER = 64;

/** RFC 6298 §2.1: RTO before any RTT sample. */
export const INITIAL_RTO_MS = 1000;
/** RFC 6298 §2.4 says 1 s; 200 ms like Linux (see rtt-estimator.ts for why). */
export const MIN_RTO_MS = 200;
/** RFC 6298 §2.5: a maximum of at least 60 s. */
export const MAX_RTO_MS = 60_000;
/** SYN retransmissions before connect() fails (Linux tcp_syn_retries). */
export const SYN_RETRIES = 6;
/** SYN-ACK retransmissions before an accepted handshake is given up (Linux tcp_synack_retries). */
export const SYN_ACK_RETRIES = 5;
/** Retransmissions of data (or unanswered probes) before the connection times out (Linux tcp_retries2). */
export const DATA_RETRIES = 15;

/** RFC 9293 §3.8.6.3 / RFC 1122 §4.2.3.2: delayed ACK at most 500 ms; 40 ms like Linux's minimum. */
export const DELAYED_ACK_MS = 40;
/** RFC 5681 §4.2: ACK at least every second full-sized segment. */
export const ACK_EVERY_SEGMENTS = 2;

/** RFC 1122 §4.2.3.6 keepalive defaults (Linux's too): 2 h idle, 75 s between probes, 9 probes. */
export const KEEPALIVE_IDLE_MS = 2 * 60 * 60 * 1000;
export const KEEPALIVE_INTERVAL_MS = 75_000;
export const KEEPALIVE_PROBES = 9;

/** Out-of-order ranges (holes + 1) the receive side keeps; more is refused and counted. */
export const MAX_OOO_RANGES = 32;
/** SACKed ranges the send side keeps. */
export const MAX_SCOREBOARD_RANGES = 64;
/** RFC 5681 §3.2 / RFC 6675 DupThresh. */
export const DUP_ACK_THRESHOLD = 3;

/** RFC 5961 §7: challenge ACKs per second for the whole stack (Linux tcp_challenge_ack_limit). */
export const CHALLENGE_ACKS_PER_SECOND = 1000;
/** RSTs per second for segments that match no connection. */
export const NO_CONNECTION_RSTS_PER_SECOND = 1000;

/** TTL / hop limit of the segments we send. */
export const DEFAULT_TTL = 64;
/** RFC 7323 §5.5: TS.Recent is invalid after 24 days of idleness. */
export const PAWS_IDLE_LIMIT_MS = 24 * 24 * 60 * 60 * 1000;
/** RFC 7323 §4.2: a 1 ms timestamp clock (the allowed range is 1 ms to 1 s). */
export const TIMESTAMP_CLOCK_MS = 1;

/** Largest window shift we ask for (RFC 7323 §2.3: at most 14). */
export const MAX_OUR_WINDOW_SCALE = 14;

export function mssForMtu(mtu: number, family: 4 | 6): number {
  return mtu - (family === 4 ? IPV4_TCP_HEADERS : IPV6_TCP_HEADERS);
}

/** The smallest shift that lets the 16-bit window field express `buffer` bytes. */
export function windowScaleFor(buffer: number): number {
  let shift = 0;
  while (shift < MAX_OUR_WINDOW_SCALE && buffer >> shift > 0xffff) shift++;
  return shift;
}
