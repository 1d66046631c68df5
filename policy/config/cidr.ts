/**
 * Text-level address checks for configuration values. The policy layer does not depend on the
 * network stack, so it validates and normalises addresses as text (node:net does the parsing)
 * and the appliance turns them into the stack's binary form.
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface CidrText {
  address: string; // the network address, host bits zeroed, canonical text
  prefixLength: number;
  family: 4 | 6;
}

export function parseCidrText(text: string): CidrText | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const host = text.slice(0, slash);
  const lengthText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lengthText)) return undefined;
  const prefixLength = Number(lengthText);
  const family = isIPv4(host) ? 4 : isIPv6(host) ? 6 : undefined;
  if (!family || prefixLength > (family === 4 ? 32 : 128)) return undefined;
  return { address: maskText(host, family, prefixLength), prefixLength, family };
}

export function formatCidrText(cidr: CidrText): string {
  return `${cidr.address}/${cidr.prefixLength}`;
}

function toBigInt(address: string, family: 4 | 6): bigint {
  if (family === 4) return address.split('.').reduce((n, part) => (n << 8n) | BigInt(Number(part)), 0n);
  // node:net has validated the text; expand "::" and a trailing dotted quad into 8 groups.
  let text = address;
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') as [string, string] : [text, undefined];
  const headParts = head ? head.split(':') : [];
  const tailParts = tail ? tail.split(':') : [];
  const groups = tail === undefined ? headParts : [...headParts, ...Array<string>(8 - headParts.length - tailParts.length).fill('0'), ...tailParts];
  return groups.reduce((n, g) => (n << 16n) | BigInt(parseInt(g, 16)), 0n);
}

function fromBigInt(value: bigint, family: 4 | 6): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => Number((value >> s) & 0xffn)).join('.');
  const groups: string[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(((value >> s) & 0xffffn).toString(16));
  // RFC 5952: the longest run of two or more zero groups becomes "::".
  const joined = `:${groups.join(':')}:`;
  const runs = joined.match(/(:0)+(?=:)/g)?.filter((r) => r.length >= 4) ?? [];
  const longest = runs.reduce((a, b) => (b.length > a.length ? b : a), '');
  const compressed = longest ? joined.replace(longest, ':') : joined;
  return compressed.replace(/^:(?!:)/, '').replace(/(?<!:):$/, '').replace(/^:::/, '::');
}

function maskText(address: string, family: 4 | 6, prefixLength: number): string {
  const bits = BigInt(family === 4 ? 32 : 128);
  const hostBits = bits - BigInt(prefixLength);
  const value = (toBigInt(address, family) >> hostBits) << hostBits;
  return fromBigInt(value, family);
}

/** Host number of `address` inside `cidr`, or undefined if it lies outside. */
export function hostIndex(cidr: CidrText, address: string): bigint | undefined {
  const family = isIPv4(address) ? 4 : isIPv6(address) ? 6 : undefined;
  if (family !== cidr.family) return undefined;
  const bits = BigInt(family === 4 ? 32 : 128);
  const hostBits = bits - BigInt(cidr.prefixLength);
  const value = toBigInt(address, family);
  if ((value >> hostBits) !== (toBigInt(cidr.address, family) >> hostBits)) return undefined;
  return value & ((1n << hostBits) - 1n);
}
