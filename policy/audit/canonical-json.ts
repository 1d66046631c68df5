/**
 * Canonical JSON for hashing: object keys sorted by UTF-16 code unit order (what Array#sort does
 * by default), no whitespace, numbers and strings as JSON.stringify writes them. Parsing the stored
 * text and canonicalising it again gives the same bytes, which is what lets verify() re-hash
 * records read back from disk.
 */
import type { JsonValue } from './record.js';

export function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value).sort();
  const parts: string[] = [];
  for (const key of keys) {
    const item = value[key];
    // Absent and undefined are the same thing in JSON; a stored record never holds undefined.
    if (item === undefined) continue;
    parts.push(`${JSON.stringify(key)}:${canonicalJson(item)}`);
  }
  return `{${parts.join(',')}}`;
}
