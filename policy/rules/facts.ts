/**
 * The facts a rule condition may read, per endpoint family (POLICY.md "Facts (CEL variables)").
 *
 * This table is the single source for three things that must agree: the typed CEL environment
 * (so `sql.verbb` or `sql.verb + 1` fail at load), the conversion of plain request values into
 * CEL values (`toCelFacts`), and the set of fact paths a caller may mark unknown.
 */

export type Family = 'sql' | 'http' | 'k8s' | 'ssh' | 'tcp';
export const FAMILIES: readonly Family[] = Object.freeze(['sql', 'http', 'k8s', 'ssh', 'tcp']);

/** CEL types used by facts. `timestamp` is cel-js's `google.protobuf.Timestamp` (a JS Date). */
export type FactType = 'string' | 'int' | 'timestamp' | 'list<string>' | 'map<string, list<string>>' | 'dyn';

/** A fact object such as `sql` or `peer`: a registered CEL message type with typed fields. */
export interface FactGroup {
  readonly root: string;
  readonly typeName: string;
  readonly fields: Readonly<Record<string, FactType>>;
}

/** A top-level scalar fact such as `profile` or `now`. */
export interface FactScalar {
  readonly root: string;
  readonly type: FactType;
}

const group = (root: string, typeName: string, fields: Record<string, FactType>): FactGroup =>
  Object.freeze({ root, typeName, fields: Object.freeze(fields) });

export const PEER_FACTS = group('peer', 'bailiff.PeerFacts', { name: 'string', address: 'string' });

export const SQL_FACTS = group('sql', 'bailiff.SqlFacts', {
  verb: 'string',
  tables: 'list<string>',
  columns: 'list<string>',
  functions: 'list<string>',
  statement: 'string',
  database: 'string',
  user: 'string',
});

export const HTTP_FACTS = group('http', 'bailiff.HttpFacts', {
  method: 'string',
  host: 'string',
  path: 'string',
  query: 'map<string, list<string>>',
  headers: 'map<string, list<string>>',
  body: 'string',
  body_json: 'dyn',
});

export const K8S_FACTS = group('k8s', 'bailiff.K8sFacts', {
  verb: 'string',
  group: 'string',
  version: 'string',
  resource: 'string',
  subresource: 'string',
  namespace: 'string',
  name: 'string',
  params: 'map<string, list<string>>',
});

export const SSH_FACTS = group('ssh', 'bailiff.SshFacts', {
  verb: 'string',
  command: 'string',
  subsystem: 'string',
  forward_host: 'string',
  forward_port: 'int',
  user: 'string',
});

export const COMMON_SCALARS: readonly FactScalar[] = Object.freeze([
  { root: 'profile', type: 'string' },
  { root: 'credential', type: 'string' },
  { root: 'endpoint', type: 'string' },
  { root: 'now', type: 'timestamp' },
] as const);

/** k8s rules also read `http.*` (the Kubernetes API is HTTP), as in the reference. */
const FAMILY_GROUPS: Readonly<Record<Family, readonly FactGroup[]>> = Object.freeze({
  sql: [PEER_FACTS, SQL_FACTS],
  http: [PEER_FACTS, HTTP_FACTS],
  k8s: [PEER_FACTS, HTTP_FACTS, K8S_FACTS],
  ssh: [PEER_FACTS, SSH_FACTS],
  tcp: [PEER_FACTS],
});

export interface FamilySchema {
  readonly family: Family;
  readonly groups: readonly FactGroup[];
  readonly scalars: readonly FactScalar[];
  /** Every top-level CEL variable name of the family (fact roots). */
  readonly roots: ReadonlySet<string>;
  /** Every fact path: `sql.verb`, `peer.name`, `now`, ... */
  readonly paths: readonly string[];
}

function buildSchema(family: Family): FamilySchema {
  const groups = FAMILY_GROUPS[family];
  const roots = new Set<string>([...groups.map((g) => g.root), ...COMMON_SCALARS.map((s) => s.root)]);
  const paths: string[] = [];
  for (const g of groups) for (const f of Object.keys(g.fields)) paths.push(`${g.root}.${f}`);
  for (const s of COMMON_SCALARS) paths.push(s.root);
  return Object.freeze({ family, groups, scalars: COMMON_SCALARS, roots, paths: Object.freeze(paths) });
}

const SCHEMAS: Readonly<Record<Family, FamilySchema>> = Object.freeze({
  sql: buildSchema('sql'),
  http: buildSchema('http'),
  k8s: buildSchema('k8s'),
  ssh: buildSchema('ssh'),
  tcp: buildSchema('tcp'),
});

export function isFamily(value: unknown): value is Family {
  return typeof value === 'string' && (FAMILIES as readonly string[]).includes(value);
}

export function familySchema(family: Family): FamilySchema {
  return SCHEMAS[family];
}

/** Every fact group known to any family (each registered once as a CEL type). */
export const ALL_GROUPS: readonly FactGroup[] = Object.freeze([PEER_FACTS, SQL_FACTS, HTTP_FACTS, K8S_FACTS, SSH_FACTS]);

/**
 * Facts whose values are lowercase by contract (the dissectors lowercase them). A string literal
 * compared with one of them is lowercased at compile time, so `sql.verb == 'DROP'` matches a
 * DROP instead of silently never matching; `toCelFacts` lowercases the values too, so both sides
 * agree even if a dissector forgets.
 */
export const LOWERCASE_STRING_FACTS: ReadonlySet<string> = new Set(['sql.verb', 'http.method', 'k8s.verb', 'ssh.verb']);
/** Lists whose elements are lowercase. */
export const LOWERCASE_LIST_FACTS: ReadonlySet<string> = new Set(['sql.functions']);
/** Maps whose keys are lowercase (HTTP header names). */
export const LOWERCASE_KEY_FACTS: ReadonlySet<string> = new Set(['http.headers']);

/** Names a condition may not rebind with a macro variable (`exists(sql, ...)`): facts and namespaces. */
export const NAMESPACE_ROOTS: ReadonlySet<string> = new Set(['sets', 're', 'cel']);
