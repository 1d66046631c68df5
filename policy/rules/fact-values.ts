/**
 * Plain request values -> CEL values, once per request.
 *
 * Callers (the fact mappers in appliance/) pass ordinary objects: numbers, arrays, Dates, plain
 * objects. cel-js wants BigInt for `int`, Dates for timestamps and its registered fact classes,
 * and fails on a missing field. `toCelFacts` converts, fills every missing fact with the zero
 * value of its type (`sql.columns` absent = []), lowercases the facts that are lowercase by
 * contract, and never throws: a value of the wrong type is recorded as *invalid* and any rule
 * that reads it fails closed (evaluation error), instead of being silently coerced.
 */
import { recordClass, type FactRecord } from './environment.js';
import { familySchema, LOWERCASE_KEY_FACTS, LOWERCASE_LIST_FACTS, LOWERCASE_STRING_FACTS, type Family, type FactType } from './facts.js';

/** Nesting accepted in `http.body_json` (JSON.parse output of a capped body is far shallower). */
export const MAX_JSON_DEPTH = 64;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

export interface CelFacts {
  readonly family: Family;
  /** The CEL activation: `{ sql, peer, profile, now, ... }` with fact-class instances. */
  readonly context: Readonly<Record<string, unknown>>;
  /** Fact paths whose given value had the wrong type (rules reading them fail closed). */
  readonly invalid: ReadonlySet<string>;
}

/**
 * Objects made by toCelFacts, with the plain input they came from: decide() trusts these and
 * converts anything else; the input is kept to convert again for a rule of another family.
 */
const minted = new WeakMap<object, unknown>();

export function isCelFacts(value: unknown): value is CelFacts {
  return typeof value === 'object' && value !== null && minted.has(value);
}

export function rawFactsOf(facts: CelFacts): unknown {
  return minted.get(facts);
}

const INVALID = Symbol('invalid');
type Converted = unknown | typeof INVALID;

function ownField(obj: unknown, key: string): unknown {
  if (obj instanceof Map) return obj.get(key);
  if (typeof obj !== 'object' || obj === null) return undefined;
  return Object.prototype.hasOwnProperty.call(obj, key) ? (obj as Record<string, unknown>)[key] : undefined;
}

function convertString(v: unknown, lower: boolean): Converted {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') return INVALID;
  return lower ? v.toLowerCase() : v;
}

function convertInt(v: unknown): Converted {
  if (v === undefined || v === null) return 0n;
  if (typeof v === 'bigint') return v >= INT64_MIN && v <= INT64_MAX ? v : INVALID;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  return INVALID;
}

function convertTimestamp(v: unknown): Converted {
  if (v === undefined || v === null) return new Date(0);
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? INVALID : new Date(v.getTime());
  if (typeof v === 'number' && Number.isFinite(v) && Math.abs(v) <= 8.64e15) return new Date(v);
  return INVALID;
}

function iterableValues(v: unknown): readonly unknown[] | undefined {
  if (Array.isArray(v)) return v;
  if (v instanceof Set) return [...v];
  return undefined;
}

function convertStringList(v: unknown, lower: boolean): Converted {
  if (v === undefined || v === null) return [];
  const items = iterableValues(v);
  if (!items) return INVALID;
  const out: string[] = new Array<string>(items.length);
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    if (typeof item !== 'string') return INVALID;
    out[i] = lower ? item.toLowerCase() : item;
  }
  return out;
}

function entriesOf(v: unknown): Iterable<[unknown, unknown]> | undefined {
  if (v instanceof Map) return v.entries();
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    const proto = Object.getPrototypeOf(v) as unknown;
    if (proto !== Object.prototype && proto !== null) return undefined;
    return Object.entries(v as Record<string, unknown>);
  }
  return undefined;
}

/** map<string, list<string>>: a single string value is accepted as a one-element list. */
function convertMultiMap(v: unknown, lowerKeys: boolean): Converted {
  const out = new Map<string, string[]>();
  if (v === undefined || v === null) return out;
  const entries = entriesOf(v);
  if (!entries) return INVALID;
  for (const [key, value] of entries) {
    if (typeof key !== 'string') return INVALID;
    const list = typeof value === 'string' ? [value] : convertStringList(value, false);
    if (list === INVALID) return INVALID;
    const k = lowerKeys ? key.toLowerCase() : key;
    const prior = out.get(k);
    out.set(k, prior ? [...prior, ...(list as string[])] : (list as string[]));
  }
  return out;
}

/** JSON-shaped values for `dyn` (http.body_json): objects become Maps, numbers stay doubles. */
function convertJson(v: unknown, depth: number): Converted {
  if (depth > MAX_JSON_DEPTH) return INVALID;
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return v;
    case 'number':
      return Number.isFinite(v) ? v : INVALID;
    case 'bigint':
      return v >= INT64_MIN && v <= INT64_MAX ? v : INVALID;
    case 'object': {
      if (v === null) return null;
      const items = iterableValues(v);
      if (items) {
        const out: unknown[] = [];
        for (const item of items) {
          const c = convertJson(item, depth + 1);
          if (c === INVALID) return INVALID;
          out.push(c);
        }
        return out;
      }
      const entries = entriesOf(v);
      if (!entries) return INVALID;
      const out = new Map<string, unknown>();
      for (const [key, value] of entries) {
        if (typeof key !== 'string') return INVALID;
        const c = convertJson(value, depth + 1);
        if (c === INVALID) return INVALID;
        out.set(key, c);
      }
      return out;
    }
    default:
      return INVALID;
  }
}

function convert(type: FactType, path: string, v: unknown): Converted {
  try {
    switch (type) {
      case 'string':
        return convertString(v, LOWERCASE_STRING_FACTS.has(path));
      case 'int':
        return convertInt(v);
      case 'timestamp':
        return convertTimestamp(v);
      case 'list<string>':
        return convertStringList(v, LOWERCASE_LIST_FACTS.has(path));
      case 'map<string, list<string>>':
        return convertMultiMap(v, LOWERCASE_KEY_FACTS.has(path));
      case 'dyn':
        // A body that was not JSON is an empty object, as in the reference.
        return v === undefined || v === null ? new Map() : convertJson(v, 0);
    }
  } catch {
    // A getter or proxy that throws is a value we could not read: fail closed on it.
    return INVALID;
  }
}

/** Zero value used in place of an invalid one (the rule reading it fails before seeing it). */
function zeroValue(type: FactType): unknown {
  switch (type) {
    case 'string':
      return '';
    case 'int':
      return 0n;
    case 'timestamp':
      return new Date(0);
    case 'list<string>':
      return [];
    case 'map<string, list<string>>':
    case 'dyn':
      return new Map();
  }
}

export function toCelFacts(family: Family, facts: unknown): CelFacts {
  const schema = familySchema(family);
  // A plain object: cel-js reads only declared variable names from it, so the prototype is inert.
  const context: Record<string, unknown> = {};
  const invalid = new Set<string>();
  const rootObject = typeof facts === 'object' && facts !== null && !Array.isArray(facts);
  if (!rootObject && facts !== undefined && facts !== null) {
    for (const p of schema.paths) invalid.add(p);
  }

  const read = (obj: unknown, key: string): unknown => {
    try {
      return ownField(obj, key);
    } catch {
      return INVALID;
    }
  };

  for (const g of schema.groups) {
    const raw = read(facts, g.root);
    const groupOk = raw === undefined || raw === null || (typeof raw === 'object' && !Array.isArray(raw));
    const Ctor = recordClass(g);
    const record: FactRecord = new Ctor();
    for (const [field, type] of Object.entries(g.fields)) {
      const path = `${g.root}.${field}`;
      const value = groupOk ? read(raw, field) : INVALID;
      const c = value === INVALID ? INVALID : convert(type, path, value);
      if (c === INVALID) {
        invalid.add(path);
        record[field] = zeroValue(type);
      } else {
        record[field] = c;
      }
    }
    context[g.root] = record;
  }
  for (const s of schema.scalars) {
    const value = read(facts, s.root);
    const c = value === INVALID ? INVALID : convert(s.type, s.root, value);
    if (c === INVALID) {
      invalid.add(s.root);
      context[s.root] = zeroValue(s.type);
    } else {
      context[s.root] = c;
    }
  }

  const out: CelFacts = Object.freeze({ family, context: Object.freeze(context), invalid });
  minted.set(out, facts);
  return out;
}
