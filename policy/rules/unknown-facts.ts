/**
 * Unknown facts, evaluated like CEL partial evaluation without a second interpreter.
 *
 * A fact is unknown when the dissector could not produce it (statement truncated by the
 * inspection cap, or unparseable) or when the value given had the wrong type. Reading such a
 * fact throws `UnknownFactError` from a getter on the fact object. cel-js already treats `&&`
 * and `||` as commutative over errors, as the CEL spec asks (`false && error` = false,
 * `true || error` = true, in either operand order, and likewise inside `exists`/`all`), so one
 * ordinary evaluation gives exactly the three-valued result: true or false when the outcome does
 * not depend on the unknown fact, an error otherwise, and the caller turns that error into
 * "unevaluable => deny". `has()` on an unknown field is itself unknown (the getter runs).
 *
 * Why not the simpler "any unknown fact read => deny": a policy whose allow rules test
 * `sql.verb == 'select' && ...` would deny every truncated INSERT at that rule even though the
 * rule plainly does not match; the partial form keeps the first-match order meaningful.
 * Why not substitution of sentinel values in all combinations: exponential in the facts read.
 */
import { type FactRecord } from './environment.js';
import type { CelFacts } from './fact-values.js';
import { familySchema, type Family, type FactGroup } from './facts.js';

/** Why a fact is unknown; `invalid` = the caller gave a value of the wrong type. */
export type UnknownCause = 'truncated' | 'unparseable' | 'invalid';

export class UnknownFactError extends Error {
  override readonly name = 'UnknownFactError';
  readonly code = 'POL_UNKNOWN_FACT';
  constructor(
    readonly path: string,
    readonly unknownCause: UnknownCause,
  ) {
    super(`fact ${path} is unknown (${unknownCause})`);
  }
}

/**
 * Without a stack trace: nothing reads it (the decision keeps the path and cause), and capturing
 * one was half the cost of deciding a request with an unknown fact.
 */
function unknownFactError(path: string, cause: UnknownCause): UnknownFactError {
  const limit = Error.stackTraceLimit;
  try {
    Error.stackTraceLimit = 0;
  } catch {
    return new UnknownFactError(path, cause); // frozen intrinsics: keep the stack
  }
  try {
    return new UnknownFactError(path, cause);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** True when reading `read` would touch unknown fact `unknown` (either may be a prefix). */
export function pathsOverlap(read: string, unknown: string): boolean {
  return read === unknown || read.startsWith(`${unknown}.`) || unknown.startsWith(`${read}.`);
}

interface Target {
  root: string;
  field?: string;
}

/**
 * Map a caller-given path onto what to poison. A path under a known root but naming no known
 * field (a typo in a fact mapper) poisons the whole root: failing closed beats ignoring it.
 * A path under no root of this family cannot be read by any of its rules and is ignored.
 */
function resolve(path: string, groups: ReadonlyMap<string, FactGroup>, scalars: ReadonlySet<string>): Target | undefined {
  const dot = path.indexOf('.');
  const root = dot < 0 ? path : path.slice(0, dot);
  if (scalars.has(root)) return { root };
  const group = groups.get(root);
  if (!group) return undefined;
  if (dot < 0) return { root };
  const rest = path.slice(dot + 1);
  const next = rest.indexOf('.');
  const field = next < 0 ? rest : rest.slice(0, next);
  return Object.prototype.hasOwnProperty.call(group.fields, field) ? { root, field } : { root };
}

const roots = new Map<Family, { groups: ReadonlyMap<string, FactGroup>; scalars: ReadonlySet<string> }>();

/** A family's fact roots by name, built once per family. */
function rootsOf(family: Family): { groups: ReadonlyMap<string, FactGroup>; scalars: ReadonlySet<string> } {
  let r = roots.get(family);
  if (!r) {
    const schema = familySchema(family);
    r = { groups: new Map(schema.groups.map((g) => [g.root, g])), scalars: new Set(schema.scalars.map((s) => s.root)) };
    roots.set(family, r);
  }
  return r;
}

function throwing(path: string, cause: UnknownCause): PropertyDescriptor {
  return {
    enumerable: true,
    configurable: false,
    get() {
      throw unknownFactError(path, cause);
    },
  };
}

/**
 * Build the activation for one request: `facts.context` itself when nothing is unknown or
 * invalid (the common, allocation-free case), else a copy whose unknown facts throw when read.
 * Returns the poisoned paths too, for the operator's log.
 */
export function contextWithUnknowns(
  facts: CelFacts,
  unknown: Iterable<string>,
  cause: Exclude<UnknownCause, 'invalid'>,
): { context: Readonly<Record<string, unknown>>; poisoned: ReadonlyMap<string, UnknownCause> } {
  const poisoned = new Map<string, UnknownCause>();
  for (const p of unknown) if (typeof p === 'string') poisoned.set(p, cause);
  for (const p of facts.invalid) poisoned.set(p, 'invalid');
  if (poisoned.size === 0) return { context: facts.context, poisoned };

  const { groups, scalars } = rootsOf(facts.family);
  const wholeRoots = new Map<string, UnknownCause>();
  const fields = new Map<string, Map<string, UnknownCause>>();
  for (const [path, why] of poisoned) {
    const t = resolve(path, groups, scalars);
    if (!t) continue;
    if (t.field === undefined) {
      if (!wholeRoots.has(t.root)) wholeRoots.set(t.root, why);
      continue;
    }
    let m = fields.get(t.root);
    if (!m) fields.set(t.root, (m = new Map()));
    if (!m.has(t.field)) m.set(t.field, why);
  }

  const context: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const key of Object.keys(facts.context)) {
    const whole = wholeRoots.get(key);
    if (whole) {
      Object.defineProperty(context, key, throwing(key, whole));
      continue;
    }
    const poisonFields = fields.get(key);
    const original = facts.context[key];
    if (!poisonFields || typeof original !== 'object' || original === null) {
      context[key] = original;
      continue;
    }
    // Same class, so cel-js still sees the fact type; unknown fields become throwing getters.
    const Ctor = (original as object).constructor as new () => FactRecord;
    const copy = new Ctor();
    for (const [f, v] of Object.entries(original as FactRecord)) {
      const why = poisonFields.get(f);
      if (why) Object.defineProperty(copy, f, throwing(`${key}.${f}`, why));
      else copy[f] = v;
    }
    context[key] = copy;
  }
  return { context: Object.freeze(context), poisoned };
}
