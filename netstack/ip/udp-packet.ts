/**
 * Whole IPv4/IPv6 + UDP packets for the UDP layer (DNS answers for endpoint VIPs) to send back
 * into the tunnel. The family follows the address length.
 */
import { WireError } from '../wire/errors.js';
import { IP_PROTOCOL, IPV4_MAX_TOTAL_LEN, IPV4_MIN_HEADER_LEN, emitIpv4 } from '../wire/ipv4.js';
import { IPV6_HEADER_LEN, emitIpv6 } from '../wire/ipv6.js';
import { UDP_HEADER_LEN, emitUdp } from '../wire/udp.js';
import { DEFAULT_TTL } from './defaults.js';

export interface UdpPacketSpec {
  src: Uint8Array;
  dst: Uint8Array;
  srcPort: number;
  dstPort: number;
  payload: Uint8Array;
  /** TTL / hop limit; DEFAULT_TTL if absent. */
  ttl?: number;
}

/**
 * Builds the packet with both checksums. Throws WireError `UDP_TOO_LARGE` if it cannot be one
 * datagram; fitting the tunnel MTU is the caller's decision (DNS truncates, others fragment at
 * their own layer).
 */
export function buildUdpPacket(spec: UdpPacketSpec): Uint8Array {
  const { src, dst } = spec;
  if (src.length !== dst.length || (src.length !== 4 && src.length !== 16)) {
    throw new RangeError('buildUdpPacket: src and dst must both be IPv4 or both IPv6');
  }
  const udpLength = UDP_HEADER_LEN + spec.payload.length;
  const ttl = spec.ttl ?? DEFAULT_TTL;
  const repr = { srcPort: spec.srcPort, dstPort: spec.dstPort, payload: spec.payload };
  if (src.length === 4) {
    if (IPV4_MIN_HEADER_LEN + udpLength > IPV4_MAX_TOTAL_LEN) throw new WireError('UDP_TOO_LARGE', `${udpLength} bytes`);
    const out = new Uint8Array(IPV4_MIN_HEADER_LEN + udpLength);
    const hl = emitIpv4({
      src, dst, protocol: IP_PROTOCOL.UDP, ttl, dscp: 0, ecn: 0, identification: 0,
      dontFragment: true, moreFragments: false, fragmentOffset: 0, options: new Uint8Array(0), payloadLength: udpLength,
    }, out);
    emitUdp(repr, src, dst, out.subarray(hl));
    return out;
  }
  if (udpLength > 0xffff) throw new WireError('UDP_TOO_LARGE', `${udpLength} bytes`);
  const out = new Uint8Array(IPV6_HEADER_LEN + udpLength);
  emitIpv6({ src, dst, nextHeader: IP_PROTOCOL.UDP, hopLimit: ttl, trafficClass: 0, flowLabel: 0, payloadLength: udpLength }, out);
  emitUdp(repr, src, dst, out.subarray(IPV6_HEADER_LEN));
  return out;
}
