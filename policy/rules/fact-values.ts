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
 * The private field is the mark (it cannot be forged from outside this module); a WeakMap did
 * the same at a microsecond per request of garbage-collector work.
 */
class MintedFacts implements CelFacts {
  readonly #raw: unknown;
  constructor(
    readonly family: Family,
    readonly context: Readonly<Record<string, unknown>>,
    readonly invalid: ReadonlySet<string>,
    raw: unknown,
  ) {
    this.#raw = raw;
  }

  static isMinted(value: object): value is MintedFacts {
    return #raw in value;
  }

  static rawOf(value: MintedFacts): unknown {
    return value.#raw;
  }
}

export function isCelFacts(value: unknown): value is CelFacts {
  return typeof value === 'object' && value !== null && MintedFacts.isMinted(value);
}

export function rawFactsOf(facts: CelFacts): unknown {
  return MintedFacts.isMinted(facts) ? MintedFacts.rawOf(facts) : undefined;
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

/** One fact field and how to convert it, worked out once per family instead of per request. */
interface FieldPlan {
  readonly field: string;
  readonly path: string;
  readonly type: FactType;
}

interface FamilyPlan {
  readonly paths: readonly string[];
  readonly groups: readonly { readonly root: string; readonly Ctor: new () => FactRecord; readonly fields: readonly FieldPlan[] }[];
  readonly scalars: readonly FieldPlan[];
}

const plans = new Map<Family, FamilyPlan>();

function planOf(family: Family): FamilyPlan {
  let plan = plans.get(family);
  if (plan) return plan;
  const schema = familySchema(family);
  plan = Object.freeze({
    paths: schema.paths,
    groups: Object.freeze(
      schema.groups.map((g) =>
        Object.freeze({
          root: g.root,
          Ctor: recordClass(g),
          fields: Object.freeze(Object.entries(g.fields).map(([field, type]) => Object.freeze({ field, path: `${g.root}.${field}`, type }))),
        }),
      ),
    ),
    scalars: Object.freeze(schema.scalars.map((s) => Object.freeze({ field: s.root, path: s.root, type: s.type }))),
  });
  plans.set(family, plan);
  return plan;
}

function read(obj: unknown, key: string): unknown {
  try {
    return ownField(obj, key);
  } catch {
    return INVALID;
  }
}

export function toCelFacts(family: Family, facts: unknown): CelFacts {
  const plan = planOf(family);
  // A plain object: cel-js reads only declared variable names from it, so the prototype is inert.
  const context: Record<string, unknown> = {};
  const invalid = new Set<string>();
  const rootObject = typeof facts === 'object' && facts !== null && !Array.isArray(facts);
  if (!rootObject && facts !== undefined && facts !== null) {
    for (const p of plan.paths) invalid.add(p);
  }

  // Indexed loops: for-of over these frozen arrays was a measurable part of every request.
  for (let gi = 0; gi < plan.groups.length; gi++) {
    const g = plan.groups[gi]!;
    const raw = read(facts, g.root);
    const groupOk = raw === undefined || raw === null || (typeof raw === 'object' && !Array.isArray(raw));
    const record: FactRecord = new g.Ctor();
    for (let fi = 0; fi < g.fields.length; fi++) {
      const { field, path, type } = g.fields[fi]!;
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
  for (let si = 0; si < plan.scalars.length; si++) {
    const s = plan.scalars[si]!;
    const value = read(facts, s.path);
    const c = value === INVALID ? INVALID : convert(s.type, s.path, value);
    if (c === INVALID) {
      invalid.add(s.path);
      context[s.path] = zeroValue(s.type);
    } else {
      context[s.path] = c;
    }
  }

  return Object.freeze(new MintedFacts(family, Object.freeze(context), invalid, facts));
}
