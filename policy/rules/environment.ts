/**
 * One typed CEL environment per family (DEPENDENCY-NOTES §2), built once and shared.
 *
 * Facts are registered as message types with typed fields, so an unknown fact or a type error
 * is a load error. cel-js cannot register a dotted function name (`sets.intersects`), so each
 * namespace is a constant of its own message type carrying the functions as methods: `sets` is
 * an instance of `bailiff.SetsNamespace` and `sets.intersects(a, b)` a method call on it.
 */
import { Environment } from '@marcbachmann/cel-js';
import { ALL_GROUPS, familySchema, type Family, type FactGroup } from './facts.js';
import { reMatches } from './re.js';
import { setsContains, setsEquivalent, setsIntersects } from './sets.js';

export const SETS_TYPE = 'bailiff.SetsNamespace';
export const RE_TYPE = 'bailiff.ReNamespace';
export const TIMESTAMP_TYPE = 'google.protobuf.Timestamp';

/** Structural limits: a rule is a page of text at most; anything bigger is a mistake or an attack. */
export const CEL_LIMITS = Object.freeze({
  maxAstNodes: 10_000,
  maxDepth: 100,
  maxListElements: 10_000,
  maxMapEntries: 1_000,
  maxCallArguments: 32,
});

/** Instances of these classes are what cel-js sees for `sql`, `http`, `peer`, ... */
export type FactRecord = Record<string, unknown>;
export type FactRecordClass = new () => FactRecord;

function namedClass(name: string): FactRecordClass {
  // A distinct constructor per group: cel-js resolves a value's CEL type by its constructor.
  const holder = { [name]: class {} } as Record<string, FactRecordClass>;
  return holder[name] as FactRecordClass;
}

const RECORD_CLASSES = new Map<string, FactRecordClass>(ALL_GROUPS.map((g) => [g.root, namedClass(g.typeName)]));

export function recordClass(group: FactGroup): FactRecordClass {
  const ctor = RECORD_CLASSES.get(group.root);
  if (!ctor) throw new Error(`no record class for fact group ${group.root}`);
  return ctor;
}

class SetsNamespace {}
class ReNamespace {}

function typeString(t: string): string {
  return t === 'timestamp' ? TIMESTAMP_TYPE : t;
}

function buildBase(): Environment {
  const env = new Environment({ limits: CEL_LIMITS, enableOptionalTypes: false });
  for (const g of ALL_GROUPS) {
    const fields: Record<string, string> = {};
    for (const [name, type] of Object.entries(g.fields)) fields[name] = typeString(type);
    env.registerType(g.typeName, { ctor: recordClass(g), fields });
  }
  env
    .registerType(SETS_TYPE, SetsNamespace)
    .registerConstant('sets', SETS_TYPE, new SetsNamespace())
    .registerFunction(`${SETS_TYPE}.contains(list<A>, list<A>): bool`, (_ns: unknown, a: unknown, b: unknown) => setsContains(a, b))
    .registerFunction(`${SETS_TYPE}.intersects(list<A>, list<A>): bool`, (_ns: unknown, a: unknown, b: unknown) => setsIntersects(a, b))
    .registerFunction(`${SETS_TYPE}.equivalent(list<A>, list<A>): bool`, (_ns: unknown, a: unknown, b: unknown) => setsEquivalent(a, b))
    .registerType(RE_TYPE, ReNamespace)
    .registerConstant('re', RE_TYPE, new ReNamespace())
    .registerFunction(`${RE_TYPE}.matches(string, string): bool`, (_ns: unknown, pattern: string, text: string) => reMatches(pattern, text));
  return env;
}

let base: Environment | undefined;
const perFamily = new Map<Family, Environment>();

export function familyEnvironment(family: Family): Environment {
  let env = perFamily.get(family);
  if (env) return env;
  base ??= buildBase();
  env = base.clone();
  const schema = familySchema(family);
  for (const g of schema.groups) env.registerVariable(g.root, g.typeName);
  for (const s of schema.scalars) env.registerVariable(s.root, typeString(s.type));
  perFamily.set(family, env);
  return env;
}
