/**
 * Domain names on the wire (RFC 1035 §3.1, §4.1.4) and in presentation form (§5.1).
 *
 * Reading follows compression pointers, but only backwards: every pointer must land strictly
 * before the start of the segment it was read from (and after the header). Targets therefore
 * strictly decrease, so a loop is impossible whatever the bytes say; the hop cap is belt and braces.
 * Names are returned exactly as asked (case kept: resolvers randomise it, RFC 4343 / 0x20 bit
 * encoding, and check that the answer echoes it); compare with `canonicalName`.
 */
import {
  HEADER_SIZE, LABEL_TYPE_MASK, MAX_LABEL_LENGTH, MAX_NAME_LENGTH, MAX_POINTER_HOPS, POINTER_TAG,
} from './constants.js';
import { DnsError } from './errors.js';

export interface WireName {
  /** Uncompressed wire form, ending with the root label (0). Case as it was sent. */
  wire: Uint8Array;
  /** Presentation form without the trailing dot ("." for the root), RFC 1035 §5.1 escapes. */
  text: string;
  /** Offset just after the name where it started (after the first pointer, if any). */
  end: number;
}

export function readName(message: Uint8Array, offset: number): WireName {
  const out = new Uint8Array(MAX_NAME_LENGTH);
  let length = 0;
  const labels: string[] = [];
  let pos = offset;
  let segmentStart = offset;
  let end = -1;
  for (let hops = 0; ; ) {
    if (pos >= message.length) throw new DnsError('DNS_TRUNCATED', `name at ${offset} runs past the message`);
    const octet = message[pos]!;
    const tag = octet & LABEL_TYPE_MASK;
    if (tag === POINTER_TAG) {
      if (pos + 2 > message.length) throw new DnsError('DNS_TRUNCATED', `pointer at ${pos} cut short`);
      const target = ((octet & ~LABEL_TYPE_MASK) << 8) | message[pos + 1]!;
      if (target >= segmentStart || target < HEADER_SIZE) {
        throw new DnsError('DNS_BAD_POINTER', `pointer at ${pos} to ${target} does not point backwards into the message`);
      }
      if (++hops > MAX_POINTER_HOPS) throw new DnsError('DNS_BAD_POINTER', `more than ${MAX_POINTER_HOPS} pointers in one name`);
      if (end < 0) end = pos + 2;
      pos = target;
      segmentStart = target;
      continue;
    }
    if (tag !== 0) throw new DnsError('DNS_BAD_LABEL_TYPE', `label type ${tag >> 6} at ${pos}`);
    const labelLength = octet;
    if (length + 1 + labelLength > MAX_NAME_LENGTH) {
      throw new DnsError('DNS_NAME_TOO_LONG', `name at ${offset} exceeds ${MAX_NAME_LENGTH} octets`);
    }
    if (labelLength === 0) {
      out[length++] = 0;
      if (end < 0) end = pos + 1;
      break;
    }
    if (pos + 1 + labelLength > message.length) throw new DnsError('DNS_TRUNCATED', `label at ${pos} runs past the message`);
    const label = message.subarray(pos + 1, pos + 1 + labelLength);
    out[length++] = labelLength;
    out.set(label, length);
    length += labelLength;
    labels.push(labelText(label));
    pos += 1 + labelLength;
  }
  return { wire: out.slice(0, length), text: labels.length === 0 ? '.' : labels.join('.'), end };
}

function labelText(label: Uint8Array): string {
  let s = '';
  for (const b of label) {
    if (b === 0x2e || b === 0x5c) s += `\\${String.fromCharCode(b)}`; // "." and "\" inside a label
    else if (b > 0x20 && b < 0x7f) s += String.fromCharCode(b);
    else s += `\\${b.toString().padStart(3, '0')}`;
  }
  return s;
}

/**
 * The form names are compared in: ASCII letters lowercased (RFC 4343: DNS is case-insensitive
 * for ASCII only; escapes stay as they are, so "\065" never equals "a"), no trailing dot.
 */
export function canonicalName(text: string): string {
  // A trailing dot is the fully qualified form of the same name; an escaped one ("\\.") is not.
  const trimmed = text.length > 1 && text.endsWith('.') && !text.includes('\\') ? text.slice(0, -1) : text;
  return trimmed.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/** Presentation text ("db.internal", "db.internal.", "." for root) to uncompressed wire form. */
export function encodeName(text: string): Uint8Array {
  if (text === '.' || text === '') return Uint8Array.of(0);
  const out = new Uint8Array(MAX_NAME_LENGTH);
  let length = 0;
  let label: number[] = [];
  const flush = () => {
    if (label.length === 0) throw new DnsError('DNS_BAD_NAME', 'empty label');
    if (label.length > MAX_LABEL_LENGTH) throw new DnsError('DNS_LABEL_TOO_LONG', `label of ${label.length} octets`);
    if (length + 1 + label.length + 1 > MAX_NAME_LENGTH) throw new DnsError('DNS_NAME_TOO_LONG', `name exceeds ${MAX_NAME_LENGTH} octets`);
    out[length++] = label.length;
    out.set(label, length);
    length += label.length;
    label = [];
  };
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) {
      flush();
      if (i === text.length - 1) break; // trailing dot: fully qualified
      continue;
    }
    if (c === 0x5c) {
      const digits = /^\d{3}/.exec(text.slice(i + 1, i + 4));
      if (digits) {
        const value = Number(digits[0]);
        if (value > 255) throw new DnsError('DNS_BAD_NAME', `escape \\${digits[0]} out of range`);
        label.push(value);
        i += 3;
      } else if (i + 1 < text.length) {
        label.push(text.charCodeAt(++i));
      } else {
        throw new DnsError('DNS_BAD_NAME', 'dangling escape');
      }
      if (label[label.length - 1]! > 0xff) throw new DnsError('DNS_BAD_NAME', 'non-ASCII character');
      continue;
    }
    if (c > 0x7e || c < 0x21) throw new DnsError('DNS_BAD_NAME', 'character outside printable ASCII must be escaped');
    label.push(c);
  }
  if (label.length > 0) flush();
  out[length++] = 0;
  return out.slice(0, length);
}
