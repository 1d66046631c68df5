/**
 * The few IP header fields WireGuard needs from a tunnelled packet: the version, the true length
 * (to strip the padding added before encryption, whitepaper §5.4.6) and where the source and
 * destination addresses sit. Read directly from the bytes (RFC 791 §3.1, RFC 8200 §3) so this
 * layer stays independent of the IP codecs.
 */
const IPV4_HEADER_MIN = 20;
const IPV4_TOTAL_LENGTH_OFFSET = 2;
export const IPV4_SOURCE_OFFSET = 12;
export const IPV4_DESTINATION_OFFSET = 16;
const IPV6_HEADER_SIZE = 40;
const IPV6_PAYLOAD_LENGTH_OFFSET = 4;
export const IPV6_SOURCE_OFFSET = 8;
export const IPV6_DESTINATION_OFFSET = 24;

/**
 * Length of the IP packet at the start of `bytes` as its header states it, or -1 when it is not
 * an IPv4/IPv6 packet that fits in `bytes`.
 */
export function ipPacketLength(bytes: Uint8Array): number {
  if (bytes.length === 0) return -1;
  const version = bytes[0]! >> 4;
  if (version === 4) {
    if (bytes.length < IPV4_HEADER_MIN) return -1;
    const total = (bytes[IPV4_TOTAL_LENGTH_OFFSET]! << 8) | bytes[IPV4_TOTAL_LENGTH_OFFSET + 1]!;
    return total >= IPV4_HEADER_MIN && total <= bytes.length ? total : -1;
  }
  if (version === 6) {
    if (bytes.length < IPV6_HEADER_SIZE) return -1;
    const total = IPV6_HEADER_SIZE + ((bytes[IPV6_PAYLOAD_LENGTH_OFFSET]! << 8) | bytes[IPV6_PAYLOAD_LENGTH_OFFSET + 1]!);
    return total <= bytes.length ? total : -1;
  }
  return -1;
}

/** Address size of a packet already accepted by ipPacketLength. */
export function addressLength(bytes: Uint8Array): 4 | 16 {
  return bytes[0]! >> 4 === 4 ? 4 : 16;
}

export function sourceOffset(bytes: Uint8Array): number {
  return bytes[0]! >> 4 === 4 ? IPV4_SOURCE_OFFSET : IPV6_SOURCE_OFFSET;
}

export function destinationOffset(bytes: Uint8Array): number {
  return bytes[0]! >> 4 === 4 ? IPV4_DESTINATION_OFFSET : IPV6_DESTINATION_OFFSET;
}
