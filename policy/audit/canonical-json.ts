/**
 * Canonical JSON for hashing: object keys sorted by UTF-16 code unit order (what Array#sort does
 * by default, and what `<` compares), no whitespace, numbers and strings as JSON.stringify writes
 * them. Parsing the stored text and canonicalising it again gives the same bytes, which is what
 * lets verify() re-hash records read back from disk.
 *
 * Appends split the work: the top-level fields of a record are encoded once when append() is
 * called (canonicalParts), and inside the write transaction only seq, prevHash and hash are merged
 * in (joinParts), so the time the write lock is held does not grow with record size.
 */
import type { JsonObject, JsonValue } from './record.js';

export function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + canonicalJson(value[i]!);
    return `${out}]`;
  }
  const keys = Object.keys(value).sort();
  let out = '{';
  let first = true;
  for (const key of keys) {
    const item = value[key];
    // Absent and undefined are the same thing in JSON; a stored record never holds undefined.
    if (item === undefined) continue;
    out += `${first ? '' : ','}${JSON.stringify(key)}:${canonicalJson(item)}`;
    first = false;
  }
  return `${out}}`;
}

/** [key, `"key":<canonical JSON of the value>`] for each top-level field, sorted by key. */
export type CanonicalParts = ReadonlyArray<readonly [string, string]>;

export function canonicalParts(record: JsonObject): CanonicalParts {
  const parts: Array<[string, string]> = [];
  for (const key of Object.keys(record).sort()) {
    const item = record[key];
    if (item !== undefined) parts.push([key, `${JSON.stringify(key)}:${canonicalJson(item)}`]);
  }
  return parts;
}

export function part(key: string, encodedValue: string): readonly [string, string] {
  return [key, `${JSON.stringify(key)}:${encodedValue}`];
}

/**
 * The canonical JSON of `parts` plus `extra` fields (keys not in parts, sorted by key): the same
 * text canonicalJson would give for the merged object.
 */
export function joinParts(parts: CanonicalParts, extra: CanonicalParts): string {
  let out = '';
  let i = 0;
  let j = 0;
  while (i < parts.length || j < extra.length) {
    const next = j >= extra.length || (i < parts.length && parts[i]![0] < extra[j]![0]) ? parts[i++]! : extra[j++]!;
    out += out.length === 0 ? next[1] : `,${next[1]}`;
  }
  return `{${out}}`;
}
