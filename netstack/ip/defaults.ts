/** Values the IP layer puts in packets it originates. */

/** The inner MTU of a WireGuard interface over a 1500-byte path (1500 - 80 for IPv6 + UDP + WG overhead). */
export const DEFAULT_MTU = 1420;
/** TTL / hop limit of packets we originate (the Linux default, RFC 1700's recommendation). */
export const DEFAULT_TTL = 64;
/** RFC 1812 §4.3.2.3: an ICMPv4 error should not exceed 576 bytes, the minimum reassembly size. */
export const ICMPV4_ERROR_MAX_LEN = 576;
/** RFC 4443 §2.4(c): an ICMPv6 error must not exceed the minimum IPv6 MTU. */
export const ICMPV6_ERROR_MAX_LEN = 1280;
/** RFC 1812 §4.3.2.5: ICMP errors are sent with precedence 6 (internetwork control), i.e. DSCP CS6. */
export const ICMPV4_ERROR_DSCP = 0x30;
