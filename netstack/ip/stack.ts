/**
 * The IP layer between WireGuard and the transports: RFC 791 / RFC 8200 input processing for a
 * host (RFC 1122 §3.2.1), ICMP echo (RFC 792, RFC 4443 §4), and delivery of checked TCP/UDP.
 *
 * Sans-IO: `receive(now, packet)` returns what to do, nothing is sent from here. Every packet
 * that is not answered or delivered is dropped with a counter whose name is the drop reason.
 *
 * Policy decisions made here:
 * - TCP and UDP are delivered whatever unicast destination they carry: the transports accept
 *   promiscuously (a VIP is any address the appliance maps), and decide at SYN time.
 * - Echo requests are answered only for the stack's own addresses.
 * - Fragments are dropped (`ip.fragment`): the tunnel MTU makes them unnecessary and
 *   reassembly is a memory-exhaustion surface. IPv6 atomic fragments (RFC 6946) are whole
 *   packets and processed as such.
 * - Source-routed packets are dropped, as Linux does by default (accept_source_route=0): IPv4
 *   with an LSRR/SSRR option, IPv6 with a Routing header whose Segments Left is not 0. Other
 *   IPv4 options are ignored; IPv6 options marked "discard if unrecognized" are honoured.
 * - Bytes after the IP total/payload length (WireGuard's padding to 16 bytes) are ignored.
 */
import type { Counters } from '../counters.js';
import { addressEquals } from '../wire/ip-address.js';
import { WireError, counterName } from '../wire/errors.js';
import { IP_PROTOCOL, IPV4_MIN_HEADER_LEN, IPV4_OPT_LSRR, IPV4_OPT_SSRR, Ipv4Packet } from '../wire/ipv4.js';
import { IPV6_HEADER_LEN, Ipv6Packet, walkIpv6ExtensionHeaders } from '../wire/ipv6.js';
import { ICMPV4_TYPE_ECHO_REQUEST, Icmpv4Packet } from '../wire/icmpv4.js';
import { ICMPV6_TYPE_ECHO_REQUEST, Icmpv6Packet } from '../wire/icmpv6.js';
import { isUnicast } from './address-kind.js';
import { DEFAULT_MTU } from './defaults.js';
import { buildEchoReplyV4, buildEchoReplyV6 } from './echo-reply.js';
import { type UnreachableCode, buildIcmpUnreachable } from './icmp-unreachable.js';
import { TokenBucket } from './token-bucket.js';
import { checkTcp, checkUdp } from './transport.js';

export interface IpStackOptions {
  /** The stack's own addresses (4 or 16 bytes each): echo requests to these are answered. */
  addresses: Uint8Array[];
  counters: Counters;
  /** Largest packet the stack originates; default 1420. */
  mtu?: number;
  /** ICMP errors per second built by `unreachable()`; default 100, burst the same. */
  icmpErrorsPerSecond?: number;
}

export type IpOutput =
  | { kind: 'reply'; packet: Uint8Array }
  | {
    kind: 'deliver';
    protocol: 'tcp' | 'udp';
    family: 4 | 6;
    src: Uint8Array;
    dst: Uint8Array;
    srcPort?: number;
    dstPort?: number;
    /** The transport header: TCP header with options, or the 8-byte UDP header. */
    header: Uint8Array;
    /** The transport payload (UDP: up to its Length field). */
    payload: Uint8Array;
    /** The whole IP packet without link padding, e.g. to quote in `unreachable()`. */
    packet: Uint8Array;
  }
  | { kind: 'drop'; reason: string };

// Counter names for outcomes that are not WireError codes.
export const IP_COUNTERS = {
  RX_V4: 'ipv4.received',
  RX_V6: 'ipv6.received',
  TRUNCATED: 'ip.truncated',
  BAD_VERSION: 'ip.bad_version',
  BAD_SOURCE: 'ip.bad_source',
  BAD_DESTINATION: 'ip.bad_destination',
  FRAGMENT: 'ip.fragment',
  NOT_LOCAL: 'ip.not_local',
  UNKNOWN_PROTOCOL: 'ip.unknown_protocol',
  SOURCE_ROUTED: 'ip.source_routed',
  UNRECOGNIZED_OPTION: 'ipv6.unrecognized_option',
  ICMP_UNHANDLED: 'icmp.unhandled',
  ECHO_REPLIED: 'icmp.echo_replied',
  ECHO_TOO_LARGE: 'icmp.echo_too_large',
  ICMP_ERROR_SENT: 'icmp.error_sent',
  ICMP_ERROR_SUPPRESSED: 'icmp.error_suppressed',
  ICMP_RATE_LIMITED: 'icmp.rate_limited',
  DELIVER_TCP: 'ip.deliver_tcp',
  DELIVER_UDP: 'ip.deliver_udp',
  INTERNAL_ERROR: 'ip.internal_error',
} as const;

export class IpStack {
  readonly #addresses: Uint8Array[];
  readonly #counters: Counters;
  readonly #mtu: number;
  readonly #icmpErrors: TokenBucket;

  constructor(options: IpStackOptions) {
    for (const a of options.addresses) {
      if (a.length !== 4 && a.length !== 16) throw new RangeError(`IpStack: address of ${a.length} bytes`);
    }
    this.#addresses = options.addresses.map((a) => Uint8Array.from(a));
    this.#counters = options.counters;
    this.#mtu = options.mtu ?? DEFAULT_MTU;
    const rate = options.icmpErrorsPerSecond ?? 100;
    this.#icmpErrors = new TokenBucket(rate, rate);
  }

  /**
   * One IP packet that arrived through the tunnel (already decrypted and source-checked by
   * WireGuard). `now` is in milliseconds. Never throws. The output may hold views into `packet`.
   */
  receive(now: number, packet: Uint8Array): IpOutput {
    void now; // nothing on the receive path is timed yet; kept so callers need not change
    try {
      if (packet.length === 0) return this.#drop(IP_COUNTERS.TRUNCATED);
      const version = packet[0]! >> 4;
      if (version === 4) return this.#receiveV4(packet);
      if (version === 6) return this.#receiveV6(packet);
      return this.#drop(IP_COUNTERS.BAD_VERSION);
    } catch (error) {
      if (error instanceof WireError) return this.#drop(counterName(error.code));
      // A bug, not bad input: still never let one packet take the process down.
      return this.#drop(IP_COUNTERS.INTERNAL_ERROR);
    }
  }

  /**
   * A rate-limited ICMP Destination Unreachable answering `original` (see `buildIcmpUnreachable`),
   * or undefined when the RFCs forbid one or the rate limit is reached. Never throws.
   */
  unreachable(now: number, original: Uint8Array, code: UnreachableCode): Uint8Array | undefined {
    const packet = buildIcmpUnreachable(original, code, { mtu: this.#mtu });
    if (packet === undefined) {
      this.#counters.inc(IP_COUNTERS.ICMP_ERROR_SUPPRESSED);
      return undefined;
    }
    if (!this.#icmpErrors.take(now)) {
      this.#counters.inc(IP_COUNTERS.ICMP_RATE_LIMITED);
      return undefined;
    }
    this.#counters.inc(IP_COUNTERS.ICMP_ERROR_SENT);
    return packet;
  }

  isLocal(address: Uint8Array): boolean {
    return this.#addresses.some((a) => addressEquals(a, address));
  }

  #receiveV4(bytes: Uint8Array): IpOutput {
    this.#counters.inc(IP_COUNTERS.RX_V4);
    const ip = Ipv4Packet.checked(bytes);
    if (!ip.verifyChecksum()) throw new WireError('IPV4_BAD_CHECKSUM');
    if (ip.isFragment) return this.#drop(IP_COUNTERS.FRAGMENT);
    if (ip.headerLength > IPV4_MIN_HEADER_LEN && (ip.findOption(IPV4_OPT_LSRR) || ip.findOption(IPV4_OPT_SSRR))) {
      return this.#drop(IP_COUNTERS.SOURCE_ROUTED);
    }
    const { src, dst } = ip;
    if (!isUnicast(src)) return this.#drop(IP_COUNTERS.BAD_SOURCE);
    if (!isUnicast(dst)) return this.#drop(IP_COUNTERS.BAD_DESTINATION);
    const payload = ip.payload;
    switch (ip.protocol) {
      case IP_PROTOCOL.ICMP: {
        if (!this.isLocal(dst)) return this.#drop(IP_COUNTERS.NOT_LOCAL);
        const icmp = Icmpv4Packet.checked(payload);
        if (!icmp.verifyChecksum()) throw new WireError('ICMPV4_BAD_CHECKSUM');
        if (icmp.msgType !== ICMPV4_TYPE_ECHO_REQUEST || icmp.msgCode !== 0) return this.#drop(IP_COUNTERS.ICMP_UNHANDLED);
        if (IPV4_MIN_HEADER_LEN + payload.length > this.#mtu) return this.#drop(IP_COUNTERS.ECHO_TOO_LARGE);
        this.#counters.inc(IP_COUNTERS.ECHO_REPLIED);
        return {
          kind: 'reply',
          packet: buildEchoReplyV4({ src, dst, identifier: icmp.identifier, sequence: icmp.sequence, data: icmp.data }),
        };
      }
      case IP_PROTOCOL.TCP:
        return this.#deliver('tcp', 4, src, dst, checkTcp(payload, src, dst), ip.packet);
      case IP_PROTOCOL.UDP:
        return this.#deliver('udp', 4, src, dst, checkUdp(payload, src, dst), ip.packet);
      default:
        return this.#drop(IP_COUNTERS.UNKNOWN_PROTOCOL);
    }
  }

  #receiveV6(bytes: Uint8Array): IpOutput {
    this.#counters.inc(IP_COUNTERS.RX_V6);
    const ip = Ipv6Packet.checked(bytes);
    const { src, dst } = ip;
    if (!isUnicast(src)) return this.#drop(IP_COUNTERS.BAD_SOURCE);
    if (!isUnicast(dst)) return this.#drop(IP_COUNTERS.BAD_DESTINATION);
    const upper = walkIpv6ExtensionHeaders(ip);
    if (upper.fragment !== undefined && (upper.fragment.offset !== 0 || upper.fragment.moreFragments)) {
      return this.#drop(IP_COUNTERS.FRAGMENT);
    }
    if (upper.segmentsLeft !== 0) return this.#drop(IP_COUNTERS.SOURCE_ROUTED);
    if (upper.unrecognizedOption) return this.#drop(IP_COUNTERS.UNRECOGNIZED_OPTION);
    const payload = upper.payload;
    switch (upper.protocol) {
      case IP_PROTOCOL.ICMPV6: {
        if (!this.isLocal(dst)) return this.#drop(IP_COUNTERS.NOT_LOCAL);
        const icmp = Icmpv6Packet.checked(payload);
        if (!icmp.verifyChecksum(src, dst)) throw new WireError('ICMPV6_BAD_CHECKSUM');
        if (icmp.msgType !== ICMPV6_TYPE_ECHO_REQUEST || icmp.msgCode !== 0) return this.#drop(IP_COUNTERS.ICMP_UNHANDLED);
        if (IPV6_HEADER_LEN + payload.length > this.#mtu) return this.#drop(IP_COUNTERS.ECHO_TOO_LARGE);
        this.#counters.inc(IP_COUNTERS.ECHO_REPLIED);
        return {
          kind: 'reply',
          packet: buildEchoReplyV6({ src, dst, identifier: icmp.identifier, sequence: icmp.sequence, data: icmp.data }),
        };
      }
      case IP_PROTOCOL.TCP:
        return this.#deliver('tcp', 6, src, dst, checkTcp(payload, src, dst), ip.packet);
      case IP_PROTOCOL.UDP:
        return this.#deliver('udp', 6, src, dst, checkUdp(payload, src, dst), ip.packet);
      default:
        return this.#drop(IP_COUNTERS.UNKNOWN_PROTOCOL);
    }
  }

  #deliver(
    protocol: 'tcp' | 'udp',
    family: 4 | 6,
    src: Uint8Array,
    dst: Uint8Array,
    segment: { srcPort: number; dstPort: number; header: Uint8Array; payload: Uint8Array },
    packet: Uint8Array,
  ): IpOutput {
    this.#counters.inc(protocol === 'tcp' ? IP_COUNTERS.DELIVER_TCP : IP_COUNTERS.DELIVER_UDP);
    return { kind: 'deliver', protocol, family, src, dst, srcPort: segment.srcPort, dstPort: segment.dstPort, header: segment.header, payload: segment.payload, packet };
  }

  #drop(reason: string): IpOutput {
    this.#counters.inc(reason);
    return { kind: 'drop', reason };
  }
}
