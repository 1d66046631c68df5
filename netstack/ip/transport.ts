/**
 * The checks the IP layer makes on TCP and UDP before delivery: lengths, ports and the checksum
 * over the pseudo-header (RFC 9293 §3.1, RFC 768, RFC 8200 §8.1). UDP uses the wire codec; TCP
 * needs only its fixed-header length and checksum here, so those few offsets live in this file
 * until the TCP codec exists.
 */
import { checksumIsValid, pseudoHeaderSum, readU16 } from '../wire/checksum.js';
import { WireError } from '../wire/errors.js';
import { IP_PROTOCOL } from '../wire/ipv4.js';
import { UdpPacket, parseUdp } from '../wire/udp.js';

// RFC 9293 §3.1.
export const TCP_MIN_HEADER_LEN = 20;
export const TCP_MAX_HEADER_LEN = 60;
export const TCP_SRC_PORT = 0;
export const TCP_DST_PORT = 2;
export const TCP_DATA_OFFSET = 12; // high nibble, in 32-bit words

export interface CheckedSegment {
  srcPort: number;
  dstPort: number;
  header: Uint8Array;
  payload: Uint8Array;
}

/** Checks a TCP segment (the whole IP payload) and splits header from data. */
export function checkTcp(segment: Uint8Array, src: Uint8Array, dst: Uint8Array): CheckedSegment {
  if (segment.length < TCP_MIN_HEADER_LEN) throw new WireError('TCP_TRUNCATED', `${segment.length} bytes`);
  const headerLength = (segment[TCP_DATA_OFFSET]! >> 4) * 4;
  if (headerLength < TCP_MIN_HEADER_LEN || headerLength > segment.length) {
    throw new WireError('TCP_BAD_HEADER_LENGTH', `data offset ${headerLength / 4}, segment of ${segment.length} bytes`);
  }
  if (!checksumIsValid(segment, pseudoHeaderSum(src, dst, IP_PROTOCOL.TCP, segment.length))) {
    throw new WireError('TCP_BAD_CHECKSUM');
  }
  return {
    srcPort: readU16(segment, TCP_SRC_PORT),
    dstPort: readU16(segment, TCP_DST_PORT),
    header: segment.subarray(0, headerLength),
    payload: segment.subarray(headerLength),
  };
}

/** Checks a UDP datagram (the whole IP payload) and splits header from data. */
export function checkUdp(datagram: Uint8Array, src: Uint8Array, dst: Uint8Array): CheckedSegment {
  const packet = UdpPacket.checked(datagram);
  const repr = parseUdp(packet, src, dst);
  return { srcPort: repr.srcPort, dstPort: repr.dstPort, header: packet.header, payload: repr.payload };
}
