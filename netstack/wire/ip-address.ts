/**
 * IPv4/IPv6 addresses as raw bytes (4 or 16), text forms, and CIDR prefixes.
 * Parsing is strict: anything that is not a canonical dotted quad or a valid RFC 4291 text form
 * is refused with a typed error, never guessed.
 */
import { isIPv4, isIPv6 } from 'node:net';

export type IpFamily = 4 | 6;

export interface Cidr {
  readonly address: Uint8Array; // network address, host bits zeroed
  readonly prefixLength: number;
}

export class AddressError extends Error {
  readonly code = 'ADDR_INVALID';
}

export function familyOf(address: Uint8Array): IpFamily {
  if (address.length === 4) return 4;
  if (address.length === 16) return 6;
  throw new AddressError(`address of ${address.length} bytes`);
}

export function parseAddress(text: string): Uint8Array {
  if (isIPv4(text)) {
    const parts = text.split('.').map(Number);
    return Uint8Array.from(parts);
  }
  if (isIPv6(text)) return parseIpv6(text);
  throw new AddressError(`not an IP address: ${JSON.stringify(text)}`);
}

function parseIpv6(text: string): Uint8Array {
  const out = new Uint8Array(16);
  let body = text;
  // An embedded dotted quad (::ffff:1.2.3.4) becomes the last two groups.
  const lastColon = body.lastIndexOf(':');
  const tail = body.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = parseAddress(tail);
    body = `${body.slice(0, lastColon + 1)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const [head, rest] = body.includes('::') ? body.split('::') as [string, string] : [body, undefined];
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = rest === undefined || rest === '' ? [] : rest.split(':');
  const groups = rest === undefined
    ? headGroups
    : [...headGroups, ...new Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  if (groups.length !== 8) throw new AddressError(`not an IPv6 address: ${JSON.stringify(text)}`);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  return out;
}

export function formatAddress(address: Uint8Array): string {
  if (address.length === 4) return address.join('.');
  if (address.length !== 16) throw new AddressError(`address of ${address.length} bytes`);
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((address[i]! << 8) | address[i + 1]!);
  // RFC 5952: compress the longest run (>= 2) of zero groups, the first one on ties.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

export function parseCidr(text: string): Cidr {
  const slash = text.indexOf('/');
  const address = parseAddress(slash < 0 ? text : text.slice(0, slash));
  const max = address.length * 8;
  const lengthText = slash < 0 ? String(max) : text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lengthText)) throw new AddressError(`bad prefix length in ${JSON.stringify(text)}`);
  const prefixLength = Number(lengthText);
  if (prefixLength > max) throw new AddressError(`prefix length ${prefixLength} exceeds ${max} in ${JSON.stringify(text)}`);
  return { address: maskAddress(address, prefixLength), prefixLength };
}

export function formatCidr(cidr: Cidr): string {
  return `${formatAddress(cidr.address)}/${cidr.prefixLength}`;
}

export function maskAddress(address: Uint8Array, prefixLength: number): Uint8Array {
  const out = Uint8Array.from(address);
  for (let bit = prefixLength; bit < out.length * 8; bit++) out[bit >> 3]! &= ~(0x80 >> (bit & 7));
  return out;
}

export function cidrContains(cidr: Cidr, address: Uint8Array): boolean {
  if (address.length !== cidr.address.length) return false;
  const full = cidr.prefixLength >> 3;
  for (let i = 0; i < full; i++) if (address[i] !== cidr.address[i]) return false;
  const rest = cidr.prefixLength & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (address[full]! & mask) === cidr.address[full];
}

/** How many hosts `address` lies after the network address of `cidr` (its host bits). */
export function hostOffset(cidr: Cidr, address: Uint8Array): bigint {
  let n = 0n;
  for (let i = 0; i < address.length; i++) n = (n << 8n) | BigInt(address[i]! ^ cidr.address[i]!);
  return n;
}

/** The address `offset` hosts after the network address of `cidr`, or undefined past its end. */
export function nthAddress(cidr: Cidr, offset: bigint): Uint8Array | undefined {
  const bits = cidr.address.length * 8;
  const size = 1n << BigInt(bits - cidr.prefixLength);
  if (offset < 0n || offset >= size) return undefined;
  const out = Uint8Array.from(cidr.address);
  let carry = offset;
  for (let i = out.length - 1; i >= 0 && carry > 0n; i--) {
    const sum = BigInt(out[i]!) + (carry & 0xffn);
    out[i] = Number(sum & 0xffn);
    carry = (carry >> 8n) + (sum >> 8n);
  }
  return out;
}

export function addressEquals(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
