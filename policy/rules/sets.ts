/**
 * `sets.contains / sets.intersects / sets.equivalent` with cel-go ext.Sets semantics:
 *   contains(a, b)   every element of b is in a
 *   intersects(a, b) some element is in both
 *   equivalent(a, b) same elements, ignoring order and duplicates
 * Lists may be agent-controlled (sql.tables of a huge statement), so large inputs go through a
 * hash set instead of the quadratic scan.
 */

/** Past this many element comparisons a Set is built (for primitive elements). */
const SCAN_LIMIT = 256;

type Key = string | bigint | number | boolean | null;

function isPrimitive(v: unknown): v is Key {
  return v === null || typeof v === 'string' || typeof v === 'bigint' || typeof v === 'number' || typeof v === 'boolean';
}

/** CEL equality for list elements: numbers compare across int/double, lists and maps deeply. */
export function celEquals(a: unknown, b: unknown, depth = 0): boolean {
  if (a === b) return true;
  if (depth > 32) return false;
  if ((typeof a === 'bigint' || typeof a === 'number') && (typeof b === 'bigint' || typeof b === 'number')) {
    return Number(a) === Number(b) && (typeof a !== 'bigint' || typeof b !== 'bigint' || a === b);
  }
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    return a.length === b.length && a.every((x, i) => x === b[i]);
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => celEquals(x, b[i], depth + 1));
  }
  if (a instanceof Map && b instanceof Map) {
    if (a.size !== b.size) return false;
    for (const [k, v] of a) if (!b.has(k) || !celEquals(v, b.get(k), depth + 1)) return false;
    return true;
  }
  return false;
}

function toArray(list: unknown): readonly unknown[] {
  if (Array.isArray(list)) return list;
  if (list instanceof Set) return [...list];
  return [];
}

/** Hot path: two strings (the usual case) compare with ===; anything else by CEL equality. */
function same(x: unknown, y: unknown): boolean {
  if (x === y) return true;
  if (typeof x === 'string' || typeof y === 'string') return false;
  return celEquals(x, y);
}

/** Normalise numbers so 1 (int) and 1.0 (double) hash alike, as CEL equality says. */
function hashKey(v: Key): Key {
  return typeof v === 'bigint' && v >= -(2n ** 53n) && v <= 2n ** 53n ? Number(v) : v;
}

/** Is each needle in haystack? Scans small inputs, hashes large all-primitive ones. */
function membership(haystack: readonly unknown[], needles: readonly unknown[]): (needle: unknown) => boolean {
  if (haystack.length * needles.length > SCAN_LIMIT && haystack.every(isPrimitive)) {
    const set = new Set((haystack as Key[]).map(hashKey));
    return (needle) => (isPrimitive(needle) ? set.has(hashKey(needle)) : false);
  }
  return (needle) => {
    for (let i = 0; i < haystack.length; i++) if (same(haystack[i], needle)) return true;
    return false;
  };
}

export function setsContains(a: unknown, b: unknown): boolean {
  const left = toArray(a);
  const right = toArray(b);
  if (right.length === 0) return true;
  const has = membership(left, right);
  for (let i = 0; i < right.length; i++) if (!has(right[i])) return false;
  return true;
}

export function setsIntersects(a: unknown, b: unknown): boolean {
  const left = toArray(a);
  const right = toArray(b);
  if (left.length === 0 || right.length === 0) return false;
  const has = membership(left, right);
  for (let i = 0; i < right.length; i++) if (has(right[i])) return true;
  return false;
}

export function setsEquivalent(a: unknown, b: unknown): boolean {
  return setsContains(a, b) && setsContains(b, a);
}
