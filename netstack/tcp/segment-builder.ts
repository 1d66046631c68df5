/**
 * Builds whole IP packets (IPv4 or IPv6 + TCP) for one connection's 4-tuple. The IP header is
 * made once as a template; per packet only its length changes, so the IPv4 header checksum is
 * updated with RFC 1624 instead of recomputed. Each packet is a new array the caller owns (the
 * `transmit` event hands it on, and it may be queued or encrypted in place later).
 */
import { updateChecksum, writeU16 } from '../wire/checksum.js';
import { IP_PROTOCOL, IPV4_CHECKSUM, IPV4_MIN_HEADER_LEN, IPV4_TOTAL_LEN, emitIpv4 } from '../wire/ipv4.js';
import { IPV6_HEADER_LEN, IPV6_PAYLOAD_LEN, emitIpv6 } from '../wire/ipv6.js';
import { TCP_DATA_OFFSET, TCP_HEADER_LEN, TCP_OPTIONS, TcpPacket, type TcpOptions, emitTcpOptions, tcpOptionsLength } from '../wire/tcp.js';
import type { ByteRing } from './ring-buffer.js';

export class SegmentBuilder {
  readonly family: 4 | 6;
  readonly local: Uint8Array;
  readonly remote: Uint8Array;
  readonly localPort: number;
  readonly remotePort: number;
  readonly ipHeaderLength: number;
  readonly #template: Uint8Array;
  readonly #templateChecksum: number;

  constructor(family: 4 | 6, local: Uint8Array, localPort: number, remote: Uint8Array, remotePort: number, ttl: number) {
    this.family = family;
    this.local = local;
    this.remote = remote;
    this.localPort = localPort;
    this.remotePort = remotePort;
    if (family === 4) {
      this.ipHeaderLength = IPV4_MIN_HEADER_LEN;
      this.#template = new Uint8Array(IPV4_MIN_HEADER_LEN);
      // RFC 6864: identification 0 is fine for atomic datagrams (DF set, never fragmented).
      emitIpv4({
        src: local, dst: remote, protocol: IP_PROTOCOL.TCP, ttl, dscp: 0, ecn: 0, identification: 0,
        dontFragment: true, moreFragments: false, fragmentOffset: 0, options: new Uint8Array(0), payloadLength: 0,
      }, this.#template);
      this.#templateChecksum = (this.#template[IPV4_CHECKSUM]! << 8) | this.#template[IPV4_CHECKSUM + 1]!;
    } else {
      this.ipHeaderLength = IPV6_HEADER_LEN;
      this.#template = new Uint8Array(IPV6_HEADER_LEN);
      emitIpv6({ src: local, dst: remote, nextHeader: IP_PROTOCOL.TCP, hopLimit: ttl, trafficClass: 0, flowLabel: 0, payloadLength: 0 }, this.#template);
      this.#templateChecksum = 0;
    }
  }

  /**
   * One packet: TCP header with `options`, then `length` payload bytes copied from `ring` at
   * `ringOffset` (or none). Both checksums filled.
   */
  build(seq: number, ack: number, flags: number, window: number, options: TcpOptions, ring: ByteRing | undefined, ringOffset: number, length: number): Uint8Array {
    const tcpHeader = TCP_HEADER_LEN + tcpOptionsLength(options);
    const segLen = tcpHeader + length;
    const ipLen = this.ipHeaderLength;
    const packet = new Uint8Array(ipLen + segLen);
    packet.set(this.#template, 0);
    if (this.family === 4) {
      const total = ipLen + segLen;
      writeU16(packet, IPV4_TOTAL_LEN, total);
      // The template was emitted with a total length of just its header; patch in the real one.
      writeU16(packet, IPV4_CHECKSUM, updateChecksum(this.#templateChecksum, IPV4_MIN_HEADER_LEN, total));
    } else {
      writeU16(packet, IPV6_PAYLOAD_LEN, segLen);
    }
    const seg = packet.subarray(ipLen);
    const p = TcpPacket.unchecked(seg);
    p.srcPort = this.localPort;
    p.dstPort = this.remotePort;
    p.seq = seq;
    p.ack = ack;
    seg[TCP_DATA_OFFSET] = (tcpHeader >> 2) << 4;
    p.flags = flags;
    p.window = window;
    emitTcpOptions(options, seg, TCP_OPTIONS);
    if (ring !== undefined && length > 0) ring.copyOut(ringOffset, length, seg, tcpHeader);
    p.fillChecksum(this.local, this.remote);
    return packet;
  }
}
