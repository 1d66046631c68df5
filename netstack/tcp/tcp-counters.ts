/**
 * Counter names of the TCP layer. Every dropped segment increments exactly one drop counter;
 * the rest count events an operator may graph (offers, retransmissions, challenge ACKs).
 */
export const TCP_COUNTERS = {
  SEGMENTS_IN: 'tcp.segments_in',
  SEGMENTS_OUT: 'tcp.segments_out',
  // Drops of malformed input (WireError codes map onto the first three via counterName()).
  BAD_LENGTH: 'tcp.bad_length',
  BAD_CHECKSUM: 'tcp.bad_checksum',
  BAD_OPTION: 'tcp.bad_option',
  BAD_ADDRESS: 'tcp.bad_address',
  BAD_PORT: 'tcp.bad_port',
  BAD_FLAGS: 'tcp.bad_flags',
  // Demultiplexing.
  NO_CONNECTION: 'tcp.no_connection',
  PEER_MISMATCH: 'tcp.peer_mismatch',
  RST_SENT: 'tcp.rst_sent',
  RST_RATE_LIMITED: 'tcp.rst_rate_limited',
  // Offers and caps.
  OFFERS: 'tcp.offers',
  ACCEPTED: 'tcp.accepted',
  REFUSED: 'tcp.refused',
  SYN_ABSORBED: 'tcp.syn_absorbed',
  OFFER_PENDING: 'tcp.offer_pending',
  OFFER_EXPIRED: 'tcp.offer_expired',
  HALF_OPEN_LIMIT: 'tcp.half_open_limit',
  CONNECTION_LIMIT: 'tcp.connection_limit',
  TIME_WAIT_RECYCLED: 'tcp.time_wait_recycled',
  TIME_WAIT_EVICTED: 'tcp.time_wait_evicted',
  // Segment checks of RFC 9293 §3.10.7.4, RFC 7323, RFC 5961.
  OUT_OF_WINDOW: 'tcp.out_of_window',
  PAWS_REJECTED: 'tcp.paws_rejected',
  MISSING_TIMESTAMP: 'tcp.missing_timestamp',
  RST_OUT_OF_WINDOW: 'tcp.rst_out_of_window',
  RESET_RECEIVED: 'tcp.reset_received',
  CHALLENGE_ACK: 'tcp.challenge_ack',
  CHALLENGE_ACK_LIMITED: 'tcp.challenge_ack_limited',
  NO_ACK: 'tcp.no_ack',
  BAD_ACK: 'tcp.bad_ack',
  ACK_TOO_NEW: 'tcp.ack_too_new',
  ACK_TOO_OLD: 'tcp.ack_too_old',
  BAD_SYN_ACK: 'tcp.bad_syn_ack',
  // Data.
  OOO_QUEUED: 'tcp.ooo_queued',
  OOO_DROPPED: 'tcp.ooo_dropped',
  BEYOND_WINDOW: 'tcp.beyond_window',
  DUPLICATE_DATA: 'tcp.duplicate_data',
  DATA_AFTER_FIN: 'tcp.data_after_fin',
  DATA_ON_SYN: 'tcp.data_on_syn',
  WRITE_AFTER_SHUTDOWN: 'tcp.write_after_shutdown',
  // Loss recovery and timers.
  RETRANSMITTED_SEGMENTS: 'tcp.retransmitted_segments',
  FAST_RECOVERY: 'tcp.fast_recovery',
  RTO: 'tcp.rto',
  TIMEOUT: 'tcp.timeout',
  ZERO_WINDOW_PROBES: 'tcp.zero_window_probes',
  KEEPALIVE_PROBES: 'tcp.keepalive_probes',
  DELAYED_ACKS: 'tcp.delayed_acks',
  INTERNAL_ERROR: 'tcp.internal_error',
} as const;
