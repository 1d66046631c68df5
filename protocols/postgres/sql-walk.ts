/**
 * The walk over one statement's parse tree: query structure (WITH, FROM, target lists) is
 * walked with scopes so columns resolve to real tables; every other node is walked by its
 * fields, so a RangeVar, ColumnRef or FuncCall in a node type not handled here is still seen.
 * Field names follow libpg_query's JSON (DEPENDENCY-NOTES §3): RangeVars in typed fields are
 * bare objects with `relname`, defaults are omitted.
 */
import { addColumns, addFunctions, addTable, MAX_WALK_DEPTH, SqlTooComplex, type WalkCtx } from './sql-context.js';
import { aliasOf, isObject, list, nameParts, qualifiedForms, rangeVarParts, str, sval, unwrap } from './sql-names.js';
import type { PgNode } from './sql-parser.js';
import { cteText, emitHidden } from './sql-hidden.js';
import { checkSetConfig, checkSqlTextFunction, checkVariableSet } from './sql-settings.js';
import {
  type Derived, DerivedEntry, EMPTY_DERIVED, OpaqueEntry, type OutputColumn, type RangeEntry, Scope, TableEntry, UnionEntry,
} from './sql-scope.js';

/** Walks any JSON value of the tree. */
export function walk(v: unknown, scope: Scope, ctx: WalkCtx): void {
  if (Array.isArray(v)) {
    for (const x of v) walk(x, scope, ctx);
    return;
  }
  if (!isObject(v)) return;
  if (++ctx.depth > MAX_WALK_DEPTH) throw new SqlTooComplex('statement nests too deeply');
  try {
    const u = unwrap(v);
    if (u) walkNode(u[0], u[1], scope, ctx);
    else if (typeof v['relname'] === 'string') tableRef(v, ctx);
    else walkFields(v, scope, ctx);
  } finally {
    ctx.depth--;
  }
}

export function walkFields(body: PgNode, scope: Scope, ctx: WalkCtx, skip?: readonly string[]): void {
  for (const k in body) {
    if (skip?.includes(k)) continue;
    const v = body[k];
    if (typeof v === 'object' && v !== null) walk(v, scope, ctx);
  }
}

function walkNode(type: string, body: PgNode, scope: Scope, ctx: WalkCtx): void {
  switch (type) {
    case 'ColumnRef':
      return columnRef(body, scope, ctx);
    case 'FuncCall':
      return funcCall(body, scope, ctx);
    case 'SubLink':
      walk(body['testexpr'], scope, ctx);
      selectNode(body['subselect'], scope, ctx);
      return;
    case 'SelectStmt':
      walkSelect(body, scope, ctx);
      return;
    case 'A_Indirection':
      return indirection(body, scope, ctx);
    case 'RangeVar':
      return tableRef(body, ctx);
    case 'VariableSetStmt':
      // Inside ALTER ROLE/DATABASE/SYSTEM ... SET: part of that statement, not one of its own.
      checkVariableSet(body, ctx);
      walkFields(body, scope, ctx);
      return;
    case 'JoinExpr':
    case 'RangeSubselect':
    case 'RangeFunction':
    case 'RangeTableSample':
      fromItem({ [type]: body }, new Scope(scope), ctx);
      return;
    case 'String':
    case 'Integer':
    case 'Float':
    case 'Boolean':
    case 'BitString':
    case 'A_Const':
    case 'A_Star':
    case 'TypeName':
    case 'RoleSpec':
      return;
    default:
      if (type.endsWith('Stmt')) {
        emitHidden(type, body, scope, ctx, ctx.nestedOrigin, ctx.stmtText);
        return;
      }
      walkFields(body, scope, ctx);
  }
}

/** A relation named outside FROM (LOCK, TRUNCATE, GRANT, DDL targets): always a real table. */
export function tableRef(rv: PgNode, ctx: WalkCtx): void {
  const parts = rangeVarParts(rv);
  if (parts) addTable(ctx, qualifiedForms(parts));
}

export function tableEntry(rv: PgNode, ctx: WalkCtx): TableEntry | undefined {
  const parts = rangeVarParts(rv);
  if (!parts) return undefined;
  const names = qualifiedForms(parts);
  addTable(ctx, names);
  const a = aliasOf(rv);
  const rel = parts[parts.length - 1]!;
  return new TableEntry(a.name ?? rel, names, rel, str(rv['schemaname']), a.columns);
}

export function funcCall(body: PgNode, scope: Scope, ctx: WalkCtx): void {
  const parts = nameParts(body['funcname']);
  if (parts && parts.length > 0) {
    const lower = parts.map((p) => p.toLowerCase());
    addFunctions(ctx, qualifiedForms(lower));
    const bare = lower[lower.length - 1]!;
    if (bare === 'set_config') checkSetConfig(list(body['args']), ctx);
    checkSqlTextFunction(bare, list(body['args']), ctx);
  }
  walkFields(body, scope, ctx, ['funcname']);
}

function columnRef(body: PgNode, scope: Scope, ctx: WalkCtx): void {
  const fields = list(body['fields']);
  const last = unwrap(fields[fields.length - 1]);
  const star = last?.[0] === 'A_Star';
  const names: string[] = [];
  for (const f of star ? fields.slice(0, -1) : fields) {
    const s = sval(f);
    if (s === undefined) return; // not a plain dotted name: nothing nameable
    names.push(s);
  }
  if (star) {
    if (names.length === 0) {
      for (const e of scope.nearestEntries()) addColumns(ctx, e.starFacts());
      return;
    }
    const entries = qualifierEntries(names, scope);
    if (entries.length === 0) addColumns(ctx, [`${names.join('.')}.*`]);
    for (const e of entries) addColumns(ctx, e.starFacts());
    return;
  }
  if (names.length === 1) {
    const c = names[0]!;
    for (const e of scope.allEntries()) addColumns(ctx, e.columnFacts(c));
    // A bare name that is also a range alias may be the whole row (row_to_json(e), SELECT e).
    for (const e of scope.findAlias(c)) addColumns(ctx, e.starFacts());
    return;
  }
  const col = names[names.length - 1]!;
  const entries = qualifierEntries(names.slice(0, -1), scope);
  if (entries.length === 0) addColumns(ctx, [names.join('.')]);
  for (const e of entries) addColumns(ctx, e.columnFacts(col));
  // `s.t` alone can be the whole row of schema-qualified table t.
  if (names.length === 2) for (const e of scope.findRelation(col, names[0])) addColumns(ctx, e.starFacts());
}

/** The entries a qualifier (`e`, `t`, `s.t`, `db.s.t`) names. */
function qualifierEntries(qual: string[], scope: Scope): RangeEntry[] {
  if (qual.length === 1) {
    const byAlias = scope.findAlias(qual[0]!);
    return byAlias.length > 0 ? byAlias : scope.findRelation(qual[0]!, undefined);
  }
  return scope.findRelation(qual[qual.length - 1]!, qual[qual.length - 2]);
}

function indirection(body: PgNode, scope: Scope, ctx: WalkCtx): void {
  walk(body['arg'], scope, ctx);
  // (e).secret: the whole row is already reported; also name the field on the real table.
  const arg = unwrap(body['arg']);
  const first = sval(list(body['indirection'])[0]);
  if (arg?.[0] === 'ColumnRef' && first !== undefined) {
    const f = list(arg[1]['fields']);
    const name = f.length === 1 ? sval(f[0]) : undefined;
    if (name !== undefined) for (const e of scope.findAlias(name)) addColumns(ctx, e.columnFacts(first));
  }
  walk(body['indirection'], scope, ctx);
}

/** A `{SelectStmt: ...}` node in an expression or FROM position. */
export function selectNode(v: unknown, scope: Scope, ctx: WalkCtx): Derived {
  const u = unwrap(v);
  if (u && u[0] === 'SelectStmt') return walkSelect(u[1], scope, ctx);
  walk(v, scope, ctx);
  return EMPTY_DERIVED;
}

/** Walks a SELECT (or VALUES, or set operation) and returns what it outputs. */
export function walkSelect(body: PgNode, scope: Scope, ctx: WalkCtx): Derived {
  if (++ctx.depth > MAX_WALK_DEPTH) throw new SqlTooComplex('statement nests too deeply');
  try {
    const ws = isObject(body['withClause']) ? walkWith(body['withClause'], scope, ctx) : scope;
    const op = body['op'];
    if (typeof op === 'string' && op !== 'SETOP_NONE') {
      const l = isObject(body['larg']) ? walkSelect(body['larg'], ws, ctx) : EMPTY_DERIVED;
      const r = isObject(body['rarg']) ? walkSelect(body['rarg'], ws, ctx) : EMPTY_DERIVED;
      const d = mergeSetOp(l, r);
      // ORDER BY / LIMIT of a set operation name its output columns.
      const level = new Scope(ws);
      level.entries.push(new DerivedEntry('', () => d));
      walkFields(body, level, ctx, ['withClause', 'larg', 'rarg', 'lockingClause']);
      return d;
    }
    const level = new Scope(ws);
    for (const item of list(body['fromClause'])) fromItem(item, level, ctx);
    const into = body['intoClause'];
    if (isObject(into) && isObject(into['rel'])) tableRef(into['rel'], ctx);
    let d: Derived = EMPTY_DERIVED;
    if (body['valuesLists'] !== undefined) d = valuesOutput(list(body['valuesLists']), level, ctx);
    if (body['targetList'] !== undefined) d = walkTargetList(list(body['targetList']), level, ctx);
    // lockingClause names aliases (FOR UPDATE OF e), not relations.
    walkFields(body, level, ctx, ['withClause', 'fromClause', 'intoClause', 'valuesLists', 'targetList', 'lockingClause']);
    return d;
  } finally {
    ctx.depth--;
  }
}

function mergeSetOp(l: Derived, r: Derived): Derived {
  const stars = [...l.stars, ...r.stars];
  if (l.stars.length === 0 && r.stars.length === 0 && l.columns.length === r.columns.length) {
    return { columns: l.columns.map((c, i) => ({ name: c.name, facts: [...new Set([...c.facts, ...r.columns[i]!.facts])] })), stars };
  }
  // Positions unknown (a star on one side): every output may carry any column of the other side.
  const rightFacts = r.columns.flatMap((c) => c.facts);
  const leftFacts = l.columns.flatMap((c) => c.facts);
  const columns = l.columns.map((c) => ({ name: c.name, facts: [...new Set([...c.facts, ...rightFacts])] }));
  if (l.columns.length === 0) columns.push({ name: undefined, facts: [...new Set([...leftFacts, ...rightFacts])] });
  return { columns, stars };
}

function valuesOutput(rows: unknown[], level: Scope, ctx: WalkCtx): Derived {
  const cols: Set<string>[] = [];
  for (const row of rows) {
    const items = list(unwrap(row)?.[1]['items']);
    items.forEach((item, i) => {
      const cap = (cols[i] ??= new Set());
      captureWalk(item, level, ctx, cap);
    });
  }
  return { columns: cols.map((c, i) => ({ name: `column${i + 1}`, facts: [...c] })), stars: [] };
}

function captureWalk(v: unknown, scope: Scope, ctx: WalkCtx, cap: Set<string>): void {
  ctx.captures.push(cap);
  try {
    walk(v, scope, ctx);
  } finally {
    ctx.captures.pop();
  }
}

/** A target list (SELECT list or RETURNING): walks it and names what each output reads. */
export function walkTargetList(targets: unknown[], level: Scope, ctx: WalkCtx): Derived {
  const columns: OutputColumn[] = [];
  const stars: RangeEntry[] = [];
  for (const t of targets) {
    const rt = unwrap(t);
    if (!rt || rt[0] !== 'ResTarget') {
      walk(t, level, ctx);
      continue;
    }
    const val = rt[1]['val'];
    const ref = unwrap(val);
    if (ref?.[0] === 'ColumnRef') {
      const f = list(ref[1]['fields']);
      if (unwrap(f[f.length - 1])?.[0] === 'A_Star') {
        const names = f.slice(0, -1).map(sval);
        if (names.every((n) => n !== undefined)) {
          stars.push(...(names.length === 0 ? level.nearestEntries() : qualifierEntries(names as string[], level)));
        }
      }
    }
    const cap = new Set<string>();
    captureWalk(val, level, ctx, cap);
    walk(rt[1]['indirection'], level, ctx);
    columns.push({ name: str(rt[1]['name']) ?? outputName(val), facts: [...cap] });
  }
  return { columns, stars };
}

/** The column name Postgres gives an unnamed output (FigureColname, simplified). */
function outputName(v: unknown): string | undefined {
  const u = unwrap(v);
  if (!u) return undefined;
  const [type, b] = u;
  if (type === 'ColumnRef') return sval(list(b['fields']).at(-1));
  if (type === 'FuncCall') return nameParts(b['funcname'])?.at(-1);
  if (type === 'TypeCast') return outputName(b['arg']);
  if (type === 'A_Indirection') return sval(list(b['indirection']).at(-1));
  return undefined;
}

/** WITH: defines CTEs in a new scope; data-modifying CTEs are hidden statements. */
export function walkWith(w: PgNode, scope: Scope, ctx: WalkCtx): Scope {
  const ws = new Scope(scope);
  const recursive = w['recursive'] === true;
  const ctes = list(w['ctes']).map(unwrap).filter((u): u is [string, PgNode] => u?.[0] === 'CommonTableExpr');
  const defs = ctes.map(([, c]) => ({ name: str(c['ctename']) ?? '', derived: EMPTY_DERIVED }));
  // WITH RECURSIVE: every CTE of the list is visible in every body, its own included.
  if (recursive) for (const d of defs) ws.defineCte(d);
  ctes.forEach(([, c], i) => {
    const def = defs[i]!;
    const q = unwrap(c['ctequery']);
    let d: Derived = EMPTY_DERIVED;
    if (q && q[0] === 'SelectStmt') d = walkSelect(q[1], ws, ctx);
    else if (q) d = emitHidden(q[0], q[1], ws, ctx, 'cte', cteText(c, ctx)) ?? EMPTY_DERIVED;
    const renamed = nameParts(c['aliascolnames']) ?? [];
    if (renamed.length > 0) d = { columns: d.columns.map((col, j) => (j < renamed.length ? { name: renamed[j], facts: col.facts } : col)), stars: d.stars };
    def.derived = d;
    // Defined after its body: a plain CTE named like a table reads the real table inside itself.
    if (!recursive) ws.defineCte(def);
  });
  return ws;
}

/** One FROM item: adds its range entries to `level`. */
export function fromItem(item: unknown, level: Scope, ctx: WalkCtx): void {
  const u = unwrap(item);
  if (!u) {
    walk(item, level, ctx);
    return;
  }
  const [type, b] = u;
  switch (type) {
    case 'RangeVar': {
      const parts = rangeVarParts(b);
      if (parts && parts.length === 1) {
        const cte = level.findCte(parts[0]!);
        if (cte) {
          const a = aliasOf(b);
          level.entries.push(new DerivedEntry(a.name ?? cte.name, () => cte.derived, a.columns));
          return;
        }
      }
      const e = tableEntry(b, ctx);
      if (e) level.entries.push(e);
      return;
    }
    case 'RangeSubselect': {
      // Only LATERAL subqueries see the FROM items before them; all see outer levels.
      const visible = b['lateral'] === true ? level : (level.parent ?? level);
      const d = selectNode(b['subquery'], visible, ctx);
      const a = aliasOf(b);
      level.entries.push(new DerivedEntry(a.name ?? '?subquery?', () => d, a.columns));
      return;
    }
    case 'RangeFunction': {
      walk(b['functions'], level, ctx);
      const a = aliasOf(b);
      const first = unwrap(list(unwrap(list(b['functions'])[0])?.[1]['items'])[0]);
      const fname = first?.[0] === 'FuncCall' ? nameParts(first[1]['funcname'])?.at(-1) : undefined;
      level.entries.push(new OpaqueEntry(a.name ?? fname ?? '?function?'));
      return;
    }
    case 'JoinExpr': {
      const start = level.entries.length;
      fromItem(b['larg'], level, ctx);
      const mid = level.entries.length;
      fromItem(b['rarg'], level, ctx);
      const left = level.entries.slice(start, mid);
      const right = level.entries.slice(mid);
      const members = [...left, ...right];
      for (const name of nameParts(b['usingClause']) ?? []) for (const e of members) addColumns(ctx, e.columnFacts(name));
      // NATURAL JOIN compares every same-named column: any of them may be read.
      if (b['isNatural'] === true) for (const e of members) addColumns(ctx, e.starFacts());
      walk(b['quals'], level, ctx);
      const usingAlias = isObject(b['join_using_alias']) ? str(b['join_using_alias']['aliasname']) : undefined;
      if (usingAlias !== undefined) level.entries.push(new UnionEntry(usingAlias, members));
      const a = aliasOf(b);
      if (a.name !== undefined) level.entries.push(new UnionEntry(a.name, members));
      return;
    }
    case 'RangeTableSample':
      fromItem(b['relation'], level, ctx);
      walkFields(b, level, ctx, ['relation', 'method']);
      return;
    default: {
      // XMLTABLE, JSON_TABLE and future row sources: walk everything, expose the alias.
      walkFields(b, level, ctx);
      const a = aliasOf(b);
      level.entries.push(new OpaqueEntry(a.name ?? `?${type}?`));
    }
  }
}
