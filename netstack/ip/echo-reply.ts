/**
 * Echo replies, RFC 792 ("Echo or Echo Reply Message") and RFC 4443 §4.2: the identifier, sequence
 * number and data of the request come back unchanged, addresses swapped.
 *
 * The reply is a new buffer: the request usually sits in a buffer WireGuard decrypted into and
 * will reuse. IPv4 options of the request are not reflected (RFC 1122 §3.2.2.6 asks for Record
 * Route / Timestamp to be; a firewall has no business echoing route data, so it sends none).
 * The reply is an atomic datagram (DF set, identification 0: RFC 6864 §4.1).
 */
import { IP_PROTOCOL, IPV4_MIN_HEADER_LEN, emitIpv4 } from '../wire/ipv4.js';
import { IPV6_HEADER_LEN, emitIpv6 } from '../wire/ipv6.js';
import { ICMPV4_HEADER_LEN, emitIcmpv4 } from '../wire/icmpv4.js';
import { ICMPV6_HEADER_LEN, emitIcmpv6 } from '../wire/icmpv6.js';
import { DEFAULT_TTL } from './defaults.js';

export interface EchoRequest {
  /** Source of the request, destination of the reply. */
  src: Uint8Array;
  /** Our address the request went to, source of the reply. */
  dst: Uint8Array;
  identifier: number;
  sequence: number;
  data: Uint8Array;
}

export function buildEchoReplyV4(request: EchoRequest): Uint8Array {
  const icmpLength = ICMPV4_HEADER_LEN + request.data.length;
  const out = new Uint8Array(IPV4_MIN_HEADER_LEN + icmpLength);
  const hl = emitIpv4({
    src: request.dst,
    dst: request.src,
    protocol: IP_PROTOCOL.ICMP,
    ttl: DEFAULT_TTL,
    dscp: 0,
    ecn: 0,
    identification: 0,
    dontFragment: true,
    moreFragments: false,
    fragmentOffset: 0,
    options: new Uint8Array(0),
    payloadLength: icmpLength,
  }, out);
  emitIcmpv4({ kind: 'echo-reply', identifier: request.identifier, sequence: request.sequence, data: request.data }, out.subarray(hl));
  return out;
}

export function buildEchoReplyV6(request: EchoRequest): Uint8Array {
  const icmpLength = ICMPV6_HEADER_LEN + request.data.length;
  const out = new Uint8Array(IPV6_HEADER_LEN + icmpLength);
  emitIpv6({
    src: request.dst,
    dst: request.src,
    nextHeader: IP_PROTOCOL.ICMPV6,
    hopLimit: DEFAULT_TTL,
    trafficClass: 0,
    flowLabel: 0,
    payloadLength: icmpLength,
  }, out);
  emitIcmpv6(
    { kind: 'echo-reply', identifier: request.identifier, sequence: request.sequence, data: request.data },
    request.dst,
    request.src,
    out.subarray(IPV6_HEADER_LEN),
  );
  return out;
}
