/** Hand-built ICMPv4 echo packets for the interop test (RFC 792), with RFC 1071 checksums. */

function checksum(bytes: Uint8Array, start: number, end: number): number {
  let sum = 0;
  for (let i = start; i < end; i += 2) sum += (bytes[i]! << 8) | (i + 1 < end ? bytes[i + 1]! : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function setChecksum(bytes: Uint8Array, at: number, start: number, end: number): void {
  bytes[at] = 0;
  bytes[at + 1] = 0;
  const c = checksum(bytes, start, end);
  bytes[at] = c >> 8;
  bytes[at + 1] = c & 0xff;
}

export function echoRequest(src: string, dst: string, id: number, seq: number, dataLength = 32): Uint8Array {
  const p = new Uint8Array(20 + 8 + dataLength);
  p[0] = 0x45;
  p[2] = p.length >> 8; p[3] = p.length & 0xff;
  p[6] = 0x40; // don't fragment
  p[8] = 64; p[9] = 1;
  p.set(src.split('.').map(Number), 12);
  p.set(dst.split('.').map(Number), 16);
  setChecksum(p, 10, 0, 20);
  p[20] = 8; // echo request
  p[24] = id >> 8; p[25] = id & 0xff;
  p[26] = seq >> 8; p[27] = seq & 0xff;
  for (let i = 0; i < dataLength; i++) p[28 + i] = i;
  setChecksum(p, 22, 20, p.length);
  return p;
}

/** The echo reply to an IPv4 ICMP echo request, or undefined for anything else. */
export function echoReply(request: Uint8Array): Uint8Array | undefined {
  if (request.length < 28 || request[0]! >> 4 !== 4 || request[9] !== 1) return undefined;
  const ihl = (request[0]! & 0x0f) * 4;
  if (request[ihl] !== 8) return undefined;
  const p = Uint8Array.from(request);
  p.set(request.subarray(16, 20), 12);
  p.set(request.subarray(12, 16), 16);
  p[8] = 64;
  setChecksum(p, 10, 0, ihl);
  p[ihl] = 0;
  setChecksum(p, ihl + 2, ihl, p.length);
  return p;
}
