/**
 * Name resolution for `sql.columns`: which real table a column reference reads.
 * One Scope per query level (FROM entries) or WITH list (CTE definitions), chained to the
 * enclosing level. Resolution errs towards naming more tables, never fewer: an unqualified
 * column names every table visible at any level, because a name the inner FROM lacks silently
 * resolves to an outer one (`SELECT (SELECT secret FROM pg_class LIMIT 1) FROM env_vars`).
 */

/** One output column of a derived relation (subquery, CTE, VALUES, RETURNING). */
export interface OutputColumn {
  name: string | undefined;
  /** The column facts the output's expression reads. */
  facts: string[];
}

/** What a SELECT exposes to the level that uses it. */
export interface Derived {
  columns: OutputColumn[];
  /** Entries expanded by `*` / `t.*` in the target list: names not listed resolve through them. */
  stars: RangeEntry[];
}

export const EMPTY_DERIVED: Derived = Object.freeze({ columns: [], stars: [] }) as Derived;

export interface RangeEntry {
  /** The name the query uses for it (alias, or the relation name). */
  readonly alias: string;
  /** Set for real tables: for `s.t.c` references. */
  readonly relname?: string;
  readonly schemaname?: string;
  columnFacts(column: string): string[];
  starFacts(): string[];
}

/**
 * A real relation: `t.c`, plus `s.t.c` when written schema-qualified (like sql.tables).
 * `FROM t AS x(a, b)` renames t's first columns without saying which: a renamed name may be
 * any column, so it resolves to `t.*`.
 */
export class TableEntry implements RangeEntry {
  constructor(
    readonly alias: string,
    readonly names: string[],
    readonly relname: string,
    readonly schemaname?: string,
    private readonly renamed: string[] = [],
  ) {}
  columnFacts(column: string): string[] {
    const direct = this.names.map((n) => `${n}.${column}`);
    return this.renamed.includes(column) ? [...direct, ...this.starFacts()] : direct;
  }
  starFacts(): string[] {
    return this.names.map((n) => `${n}.*`);
  }
}

/**
 * What a Derived's columns resolve to, computed once per Derived: a chain of CTEs each selecting
 * `*` from the previous one would otherwise be re-walked at every level (quadratic time, and a
 * recursion as deep as the chain).
 */
interface Resolved {
  star?: string[];
  byName: Map<string, string[]>;
}
const resolved = new WeakMap<Derived, Resolved>();

function memo(d: Derived): Resolved {
  let r = resolved.get(d);
  if (!r) resolved.set(d, (r = { byName: new Map() }));
  return r;
}

function derivedStar(d: Derived): string[] {
  const m = memo(d);
  if (!m.star) {
    m.star = []; // a recursive CTE's output reaches itself through `*`: stop there
    const out = new Set<string>();
    for (const c of d.columns) for (const f of c.facts) out.add(f);
    for (const s of d.stars) for (const f of s.starFacts()) out.add(f);
    m.star = [...out];
  }
  return m.star;
}

/** Facts of the outputs named `column`, and of star sources when `viaStars` (not listed by name). */
function derivedColumn(d: Derived, column: string, index: number | undefined): string[] {
  const m = memo(d);
  const key = index === undefined ? column : `${index}:${column}`;
  let hit = m.byName.get(key);
  if (!hit) {
    m.byName.set(key, []); // cycle guard, as in derivedStar
    const out = new Set<string>();
    const matches = index !== undefined ? d.columns.slice(index, index + 1) : d.columns.filter((c) => c.name === column);
    for (const c of matches) for (const f of c.facts) out.add(f);
    // Not listed by name: it may come through any `*` of the target list.
    if (matches.length === 0 || index !== undefined) for (const s of d.stars) for (const f of s.columnFacts(column)) out.add(f);
    hit = [...out];
    m.byName.set(key, hit);
  }
  return hit;
}

/** A subquery, CTE or VALUES list: columns resolve to what the underlying output reads. */
export class DerivedEntry implements RangeEntry {
  constructor(readonly alias: string, private readonly source: () => Derived, private readonly renamed: string[] = []) {}
  columnFacts(column: string): string[] {
    const d = this.source();
    // Column aliases `x(a, b)` rename outputs by position.
    const i = this.renamed.indexOf(column);
    const facts = derivedColumn(d, column, i >= 0 && i < d.columns.length ? i : undefined);
    return facts.length > 0 ? facts : [`${this.alias}.${column}`];
  }
  starFacts(): string[] {
    const facts = derivedStar(this.source());
    return facts.length > 0 ? facts : [`${this.alias}.*`];
  }
}

/** A set-returning function or other opaque row source: only its alias names its columns. */
export class OpaqueEntry implements RangeEntry {
  constructor(readonly alias: string) {}
  columnFacts(column: string): string[] {
    return [`${this.alias}.${column}`];
  }
  starFacts(): string[] {
    return [`${this.alias}.*`];
  }
}

/** `(a JOIN b) AS j`, a USING alias, or OLD/NEW: columns may come from any member. */
export class UnionEntry implements RangeEntry {
  constructor(readonly alias: string, private readonly members: RangeEntry[]) {}
  columnFacts(column: string): string[] {
    return [...new Set(this.members.flatMap((m) => m.columnFacts(column)))];
  }
  starFacts(): string[] {
    return [...new Set(this.members.flatMap((m) => m.starFacts()))];
  }
}

export interface CteDef {
  name: string;
  derived: Derived;
}

export class Scope {
  readonly entries: RangeEntry[] = [];
  private ctes: Map<string, CteDef> | undefined;

  constructor(readonly parent: Scope | undefined) {}

  defineCte(def: CteDef): void {
    (this.ctes ??= new Map()).set(def.name, def);
  }

  /** The CTE an unqualified relation name refers to here, if any (lexical: inner WITH wins). */
  findCte(name: string): CteDef | undefined {
    for (let s: Scope | undefined = this; s; s = s.parent) {
      const c = s.ctes?.get(name);
      if (c) return c;
    }
    return undefined;
  }

  /** Entries named `alias`, innermost level that has one. */
  findAlias(alias: string): RangeEntry[] {
    for (let s: Scope | undefined = this; s; s = s.parent) {
      const hits = s.entries.filter((e) => e.alias === alias);
      if (hits.length > 0) return hits;
    }
    return [];
  }

  /** Table entries written `schema.rel` (or just `rel` when schema is undefined). */
  findRelation(rel: string, schema: string | undefined): RangeEntry[] {
    const out: RangeEntry[] = [];
    for (let s: Scope | undefined = this; s; s = s.parent) {
      for (const e of s.entries) {
        if (e.relname === rel && (schema === undefined || e.schemaname === undefined || e.schemaname === schema)) out.push(e);
      }
    }
    return out;
  }

  /** Every entry at every level: the candidates for an unqualified column. */
  allEntries(): RangeEntry[] {
    const out: RangeEntry[] = [];
    for (let s: Scope | undefined = this; s; s = s.parent) out.push(...s.entries);
    return out;
  }

  /** Entries of the innermost level that has any: what a bare `*` expands. */
  nearestEntries(): RangeEntry[] {
    for (let s: Scope | undefined = this; s; s = s.parent) if (s.entries.length > 0) return s.entries;
    return [];
  }
}
