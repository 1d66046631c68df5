/**
 * ICMP Destination Unreachable for a packet we refuse (a closed port, a policy deny), RFC 1812
 * §4.3.2 (ICMPv4 errors) and RFC 4443 §2.4 and §3.1 (ICMPv6 errors).
 *
 * The error comes from the address the original was sent to, as if that host answered; the
 * quote holds as much of the original as fits in 576 bytes (v4) or 1280 bytes (v6), and never
 * more than the MTU. No error is built (undefined) where the RFCs forbid one: about an ICMP
 * error, a non-initial IPv4 fragment, a multicast/broadcast destination, or a source that is
 * not one host. This function is pure; rate limiting (RFC 4443 §2.4(f)) is `IpStack`'s.
 */
import { IP_PROTOCOL, IPV4_MIN_HEADER_LEN, Ipv4Packet, emitIpv4 } from '../wire/ipv4.js';
import { IPV6_HEADER_LEN, Ipv6Packet, emitIpv6, walkIpv6ExtensionHeaders } from '../wire/ipv6.js';
import { ICMPV4_HEADER_LEN, ICMPV4_UNREACHABLE, emitIcmpv4, isIcmpv4Error } from '../wire/icmpv4.js';
import { ICMPV6_HEADER_LEN, ICMPV6_UNREACHABLE, emitIcmpv6, isIcmpv6Error } from '../wire/icmpv6.js';
import { WireError } from '../wire/errors.js';
import { isUnicast } from './address-kind.js';
import { DEFAULT_MTU, DEFAULT_TTL, ICMPV4_ERROR_DSCP, ICMPV4_ERROR_MAX_LEN, ICMPV6_ERROR_MAX_LEN } from './defaults.js';

export type UnreachableCode = 'net-unreachable' | 'host-unreachable' | 'port-unreachable' | 'admin-prohibited';

const V4_CODES: Record<UnreachableCode, number> = {
  'net-unreachable': ICMPV4_UNREACHABLE.NET_UNREACHABLE,
  'host-unreachable': ICMPV4_UNREACHABLE.HOST_UNREACHABLE,
  'port-unreachable': ICMPV4_UNREACHABLE.PORT_UNREACHABLE,
  'admin-prohibited': ICMPV4_UNREACHABLE.ADMIN_PROHIBITED,
};

const V6_CODES: Record<UnreachableCode, number> = {
  'net-unreachable': ICMPV6_UNREACHABLE.NO_ROUTE,
  'host-unreachable': ICMPV6_UNREACHABLE.ADDRESS_UNREACHABLE,
  'port-unreachable': ICMPV6_UNREACHABLE.PORT_UNREACHABLE,
  'admin-prohibited': ICMPV6_UNREACHABLE.ADMIN_PROHIBITED,
};

// RFC 4443 §4.x: Redirect is informational but still never answered with an error (§2.4(e.2)).
const ICMPV6_TYPE_REDIRECT = 137;

export interface UnreachableOptions {
  /** Largest packet to build; default DEFAULT_MTU. */
  mtu?: number;
  /** Source of the error; default the original's destination. */
  source?: Uint8Array;
}

/**
 * The ICMP(v6) Destination Unreachable packet answering `original` (a whole IP packet, as
 * received), or undefined when none may be sent or `original` is not a valid IP packet.
 * Never throws.
 */
export function buildIcmpUnreachable(original: Uint8Array, code: UnreachableCode, options: UnreachableOptions = {}): Uint8Array | undefined {
  const mtu = options.mtu ?? DEFAULT_MTU;
  try {
    const version = original.length === 0 ? 0 : original[0]! >> 4;
    if (version === 4) return unreachableV4(original, V4_CODES[code], mtu, options.source);
    if (version === 6) return unreachableV6(original, V6_CODES[code], mtu, options.source);
    return undefined;
  } catch (error) {
    if (error instanceof WireError) return undefined;
    throw error;
  }
}

function unreachableV4(bytes: Uint8Array, code: number, mtu: number, source: Uint8Array | undefined): Uint8Array | undefined {
  const packet = Ipv4Packet.checked(bytes);
  if (!packet.verifyChecksum()) return undefined;
  if (packet.fragmentOffset !== 0) return undefined;
  if (!isUnicast(packet.src) || !isUnicast(packet.dst)) return undefined;
  if (packet.protocol === IP_PROTOCOL.ICMP) {
    const payload = packet.payload;
    if (payload.length === 0 || isIcmpv4Error(payload[0]!)) return undefined;
  }
  const from = source ?? packet.dst;
  if (from.length !== 4 || !isUnicast(from)) return undefined;
  const limit = Math.min(ICMPV4_ERROR_MAX_LEN, mtu);
  const whole = packet.packet;
  const room = limit - IPV4_MIN_HEADER_LEN - ICMPV4_HEADER_LEN;
  // RFC 792 asks for at least the header and 64 bits of data; below that the MTU is nonsense.
  if (room < Math.min(whole.length, packet.headerLength + 8)) return undefined;
  const quote = whole.subarray(0, Math.min(whole.length, room));
  const icmpLength = ICMPV4_HEADER_LEN + quote.length;
  const out = new Uint8Array(IPV4_MIN_HEADER_LEN + icmpLength);
  const hl = emitIpv4({
    src: from,
    dst: packet.src,
    protocol: IP_PROTOCOL.ICMP,
    ttl: DEFAULT_TTL,
    dscp: ICMPV4_ERROR_DSCP,
    ecn: 0,
    identification: 0,
    dontFragment: true,
    moreFragments: false,
    fragmentOffset: 0,
    options: new Uint8Array(0),
    payloadLength: icmpLength,
  }, out);
  emitIcmpv4({ kind: 'destination-unreachable', code, nextHopMtu: 0, original: quote }, out.subarray(hl));
  return out;
}

function unreachableV6(bytes: Uint8Array, code: number, mtu: number, source: Uint8Array | undefined): Uint8Array | undefined {
  const packet = Ipv6Packet.checked(bytes);
  if (!isUnicast(packet.src) || !isUnicast(packet.dst)) return undefined;
  const upper = walkIpv6ExtensionHeaders(packet);
  if (upper.protocol === IP_PROTOCOL.ICMPV6 && (upper.fragment === undefined || upper.fragment.offset === 0)) {
    const type = upper.payload[0];
    if (type === undefined || isIcmpv6Error(type) || type === ICMPV6_TYPE_REDIRECT) return undefined;
  }
  const from = source ?? packet.dst;
  if (from.length !== 16 || !isUnicast(from)) return undefined;
  const limit = Math.min(ICMPV6_ERROR_MAX_LEN, mtu);
  const whole = packet.packet;
  const room = limit - IPV6_HEADER_LEN - ICMPV6_HEADER_LEN;
  if (room < Math.min(whole.length, IPV6_HEADER_LEN + 8)) return undefined;
  const quote = whole.subarray(0, Math.min(whole.length, room));
  const icmpLength = ICMPV6_HEADER_LEN + quote.length;
  const out = new Uint8Array(IPV6_HEADER_LEN + icmpLength);
  emitIpv6({
    src: from,
    dst: packet.src,
    nextHeader: IP_PROTOCOL.ICMPV6,
    hopLimit: DEFAULT_TTL,
    trafficClass: 0,
    flowLabel: 0,
    payloadLength: icmpLength,
  }, out);
  emitIcmpv6({ kind: 'destination-unreachable', code, original: quote }, from, packet.src, out.subarray(IPV6_HEADER_LEN));
  return out;
}
