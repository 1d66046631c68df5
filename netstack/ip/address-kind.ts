/**
 * Which addresses may appear where. RFC 1122 §3.2.1.3 / RFC 1812 §5.3.7 (IPv4 martians) and
 * RFC 4291 §2.5.2-2.7 (IPv6 unspecified, loopback, multicast). WireGuard has already checked the
 * source against the peer's allowed IPs, but a peer allowed 0.0.0.0/0 may still send anything.
 */

/** True for an address that can name one host: what a source must be, and what we deliver to. */
export function isUnicast(address: Uint8Array): boolean {
  if (address.length === 4) {
    const first = address[0]!;
    // 0/8 "this network", 127/8 loopback, 224/4 multicast, 240/4 reserved incl. 255.255.255.255.
    return first !== 0 && first !== 127 && first < 224;
  }
  if (address.length === 16) {
    if (address[0] === 0xff) return false; // ff00::/8 multicast
    for (let i = 0; i < 15; i++) if (address[i] !== 0) return true;
    return address[15]! > 1; // :: unspecified, ::1 loopback
  }
  return false;
}
