/**
 * SASLprep (RFC 4013, the stringprep profile of RFC 3454) for SCRAM passwords, matching what
 * PostgreSQL does with it (src/common/saslprep.c) so that our client derives the same key as the
 * server's stored verifier:
 *   - pure ASCII needs no mapping or normalisation; `saslprep` still refuses ASCII controls as
 *     RFC 4013 says, while the server's fast path takes any ASCII as is (the bytes hashed are
 *     the same either way, since a refusal falls back to the raw password);
 *   - otherwise map (non-ASCII spaces -> U+0020, "commonly mapped to nothing" -> removed),
 *     normalise NFKC, refuse prohibited characters and bad bidi;
 *   - when SASLprep refuses, the server (and libpq) hash the raw password bytes instead:
 *     `scramPasswordBytes` does the same.
 *
 * Limits: NFKC is the runtime's Unicode version, not Unicode 3.2 as RFC 3454 fixes; unassigned
 * code points (table A.1) are checked against the runtime's Unicode (\p{Cn}), so a character
 * assigned after 3.2 passes here and is refused by the server; RandALCat/LCat (bidi, RFC 3454
 * §6) are approximated by script (Hebrew, Arabic, Syriac, Thaana, N'Ko and the RTL marks) and by
 * \p{L}. Each mismatch only matters for passwords made of such characters.
 */
import { encodeText } from './text.js';

export type SaslprepResult = { readonly ok: true; readonly value: string } | { readonly ok: false; readonly reason: 'prohibited' | 'unassigned' | 'bidi' };

type Range = readonly [number, number];
const inRanges = (cp: number, ranges: readonly Range[]): boolean => ranges.some(([a, b]) => cp >= a && cp <= b);

/** RFC 3454 C.1.2, mapped to SPACE (checked before B.1, as the server does for U+200B). */
const NON_ASCII_SPACE: readonly Range[] = [[0xa0, 0xa0], [0x1680, 0x1680], [0x2000, 0x200b], [0x202f, 0x202f], [0x205f, 0x205f], [0x3000, 0x3000]];
/** RFC 3454 B.1, mapped to nothing. */
const MAPPED_TO_NOTHING: readonly Range[] = [
  [0xad, 0xad], [0x34f, 0x34f], [0x1806, 0x1806], [0x180b, 0x180d], [0x200b, 0x200d], [0x2060, 0x2060], [0xfe00, 0xfe0f], [0xfeff, 0xfeff],
];
/** RFC 3454 C.1.2, C.2.1, C.2.2, C.3, C.4, C.5, C.6, C.7, C.8, C.9 (RFC 4013 §2.3). */
const PROHIBITED: readonly Range[] = [
  ...NON_ASCII_SPACE,
  [0x0, 0x1f], [0x7f, 0x7f], // C.2.1
  [0x80, 0x9f], [0x6dd, 0x6dd], [0x70f, 0x70f], [0x180e, 0x180e], [0x200c, 0x200d], [0x2028, 0x2029], [0x2060, 0x2063], [0x206a, 0x206f], [0xfeff, 0xfeff], [0xfff9, 0xfffc], [0x1d173, 0x1d17a], // C.2.2
  [0xe000, 0xf8ff], [0xf0000, 0xffffd], [0x100000, 0x10fffd], // C.3
  [0xfdd0, 0xfdef], [0xfffe, 0xffff], // C.4 (plus U+nFFFE/U+nFFFF below)
  [0xd800, 0xdfff], // C.5
  [0xfff9, 0xfffd], // C.6
  [0x2ff0, 0x2ffb], // C.7
  [0x340, 0x341], [0x200e, 0x200f], [0x202a, 0x202e], // C.8
  [0xe0001, 0xe0001], [0xe0020, 0xe007f], // C.9
];
const UNASSIGNED = /\p{Cn}/u;
const RAND_AL = /[\p{Script=Hebrew}\p{Script=Arabic}\p{Script=Syriac}\p{Script=Thaana}\p{Script=Nko}\u200f]/u;
const L_CAT = /[\p{L}\u200e]/u;

export function saslprep(input: string): SaslprepResult {
  if (isAscii(input)) return /[\x00-\x1f\x7f]/.test(input) ? { ok: false, reason: 'prohibited' } : { ok: true, value: input };
  let mapped = '';
  for (const ch of input) {
    const cp = ch.codePointAt(0)!;
    if (inRanges(cp, NON_ASCII_SPACE)) mapped += ' ';
    else if (!inRanges(cp, MAPPED_TO_NOTHING)) mapped += ch;
  }
  const value = mapped.normalize('NFKC');
  const chars = Array.from(value);
  let randAl = false;
  let lCat = false;
  for (const ch of chars) {
    const cp = ch.codePointAt(0)!;
    if (inRanges(cp, PROHIBITED) || (cp & 0xfffe) === 0xfffe) return { ok: false, reason: 'prohibited' };
    if (UNASSIGNED.test(ch)) return { ok: false, reason: 'unassigned' };
    if (RAND_AL.test(ch)) randAl = true;
    else if (L_CAT.test(ch)) lCat = true;
  }
  // RFC 3454 §6: RTL text may not mix with LTR letters and must start and end with RTL.
  if (randAl && (lCat || !RAND_AL.test(chars[0]!) || !RAND_AL.test(chars[chars.length - 1]!))) return { ok: false, reason: 'bidi' };
  return { ok: true, value };
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
}

/** The bytes SCRAM hashes for `password`, as the server and libpq choose them. */
export function scramPasswordBytes(password: string): Uint8Array {
  const r = saslprep(password);
  return encodeText(r.ok ? r.value : password);
}
