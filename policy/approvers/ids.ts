/**
 * Approval ids. Whoever holds an id can name the approval to the API and Slack, so ids are
 * capabilities in all but name: 128 random bits, never derived from the request or a counter.
 * Lowercase RFC 4648 base32 without padding (26 characters) is short enough to type and
 * survives copy-paste from Slack and terminals (no `+/=`, no case ambiguity).
 */
import { randomBytes } from 'node:crypto';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
export const APPROVAL_ID_LENGTH = 26;
const ID_PATTERN = /^[a-z2-7]{26}$/;

export function base32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

export function newApprovalId(): string {
  return base32(randomBytes(16));
}

export function isApprovalId(text: string): boolean {
  return ID_PATTERN.test(text);
}
