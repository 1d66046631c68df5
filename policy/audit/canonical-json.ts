/**
 * Canonical JSON for hashing: object keys sorted by UTF-16 code unit order (what Array#sort does
 * by default, and what `<` compares), no whitespace, numbers and strings as JSON.stringify writes
 * them. Parsing the stored text and canonicalising it again gives the same bytes, which is what
 * lets verify() re-hash records read back from disk.
 *
 * Appends split the work: the top-level fields of a record are encoded once when append() is
 * called (canonicalParts), and when its group is written only seq, prevHash and hash are merged
 * in (joinLinks).
 */
import type { JsonObject, JsonValue } from './record.js';

/**
 * True when every object in `value` already lists its keys in canonical order. Then
 * JSON.stringify, which writes keys in Object.keys order, writes the canonical text, natively and
 * several times faster. Integer-like keys are listed first in ascending numeric order whatever
 * the insertion order, so `{"9":..,"10":..}` is caught here as unsorted ("10" < "9").
 */
function sortedDeep(value: JsonValue, depth = 0): boolean {
  if (value === null || typeof value !== 'object') return true;
  if (depth > 64) return false; // let the slow path meet whatever this is
  if (Array.isArray(value)) {
    for (const item of value) if (!sortedDeep(item, depth + 1)) return false;
    return true;
  }
  let previous: string | undefined;
  for (const key in value) {
    if (previous !== undefined && !(previous < key)) return false;
    previous = key;
    const item = value[key];
    if (item === undefined) return false; // JSON.stringify would skip it too, but keep one definition
    if (!sortedDeep(item, depth + 1)) return false;
  }
  return true;
}

export function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (sortedDeep(value)) return JSON.stringify(value);
  return slowCanonicalJson(value);
}

function slowCanonicalJson(value: JsonValue): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + slowCanonicalJson(value[i]!);
    return `${out}]`;
  }
  const keys = Object.keys(value).sort();
  let out = '{';
  let first = true;
  for (const key of keys) {
    const item = value[key];
    // Absent and undefined are the same thing in JSON; a stored record never holds undefined.
    if (item === undefined) continue;
    out += `${first ? '' : ','}${JSON.stringify(key)}:${slowCanonicalJson(item)}`;
    first = false;
  }
  return `${out}}`;
}

/**
 * The canonical encoding of a record's top-level fields, in runs: [first key of the run, the
 * run's `"key":value,...` text]. A run never spans one of the fields the log adds at commit time
 * (hash, prevHash, seq), so joinLinks can merge those in between runs, and each run is one native
 * JSON.stringify instead of one encoding per field.
 */
export type CanonicalParts = ReadonlyArray<readonly [string, string]>;

const LINK_KEYS = ['hash', 'prevHash', 'seq'] as const;

export function canonicalParts(record: JsonObject): CanonicalParts {
  const runs: Array<{ key: string; members: JsonObject }> = [];
  let run: { key: string; members: JsonObject } | undefined;
  let cut = 0;
  for (const key of Object.keys(record).sort()) {
    const item = record[key];
    if (item === undefined) continue;
    while (cut < LINK_KEYS.length && key > LINK_KEYS[cut]!) {
      cut += 1;
      run = undefined;
    }
    if (!run) {
      run = { key, members: {} };
      runs.push(run);
    }
    if (key === '__proto__') Object.defineProperty(run.members, key, { value: item, enumerable: true, writable: true, configurable: true });
    else run.members[key] = item;
  }
  return runs.map(({ key, members }) => {
    const text = sortedDeep(members) ? JSON.stringify(members) : slowCanonicalJson(members);
    return [key, text.slice(1, -1)] as const;
  });
}

/** What JSON.stringify escapes in a string: quote, backslash, control characters, any surrogate (lone ones are escaped; pairs, rarer, go the slow way too). */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** JSON.stringify(value), with a plain string (most record fields) written without a call into it. */
function encodeValue(value: JsonValue): string {
  return typeof value === 'string' && !NEEDS_ESCAPE.test(value) ? `"${value}"` : JSON.stringify(value);
}

/**
 * canonicalParts for a record that normalize.ts built in canonical order (every nested object's
 * keys inserted sorted, none integer-like, so JSON.stringify already writes canonical text) and
 * whose top-level keys are record fields (plain names, nothing to escape): one native
 * JSON.stringify per field, with no copy of the record and no walk to check its order.
 */
export function orderedParts(record: JsonObject): CanonicalParts {
  const parts: Array<readonly [string, string]> = [];
  let cut = 0;
  let first = '';
  let text = '';
  for (const key of Object.keys(record).sort()) {
    const item = record[key];
    if (item === undefined) continue;
    while (cut < LINK_KEYS.length && key > LINK_KEYS[cut]!) {
      cut += 1;
      if (text !== '') parts.push([first, text]);
      text = '';
    }
    if (text === '') {
      first = key;
      text = `"${key}":${encodeValue(item)}`;
    } else {
      text += `,"${key}":${encodeValue(item)}`;
    }
  }
  if (text !== '') parts.push([first, text]);
  return parts;
}

/**
 * The canonical JSON of a record from its parts plus the chain fields (prevHash, seq, and hash
 * when given), placed between the runs by key order. The hashes are lowercase hex
 * (HASH_PATTERN) and seq a safe integer, so nothing needs escaping. Without `hash`, the text that
 * is hashed; with it, the line that is stored.
 */
export function joinLinks(parts: CanonicalParts, prevHash: string, seq: number, hash?: string): string {
  // Built as a rope and flattened once by its reader: no slicing of the text so far.
  let out = '{';
  let link = hash === undefined ? 1 : 0; // the next chain field to place
  for (let i = 0; i < parts.length; i++) {
    const [key, text] = parts[i]!;
    for (; link < LINK_KEYS.length && key > LINK_KEYS[link]!; link++) out += `${out.length === 1 ? '' : ','}${linkText(link, prevHash, seq, hash)}`;
    out += out.length === 1 ? text : `,${text}`;
  }
  for (; link < LINK_KEYS.length; link++) out += `${out.length === 1 ? '' : ','}${linkText(link, prevHash, seq, hash)}`;
  return `${out}}`;
}

function linkText(link: number, prevHash: string, seq: number, hash: string | undefined): string {
  return link === 0 ? `"hash":"${hash!}"` : link === 1 ? `"prevHash":"${prevHash}"` : `"seq":${seq}`;
}
