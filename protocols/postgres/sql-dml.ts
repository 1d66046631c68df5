/**
 * INSERT, UPDATE, DELETE and MERGE: the target table, the columns written (SET, INSERT column
 * lists, ON CONFLICT) and read (WHERE, USING/FROM, RETURNING), with the aliases these
 * statements add (`excluded`, and `old`/`new` in RETURNING since Postgres 18).
 * The target is always a real table: Postgres never resolves a DML target to a CTE.
 */
import { addColumns, type WalkCtx } from './sql-context.js';
import { isObject, list, str, unwrap } from './sql-names.js';
import type { PgNode } from './sql-parser.js';
import { type Derived, EMPTY_DERIVED, type RangeEntry, Scope, UnionEntry } from './sql-scope.js';
import { fromItem, selectNode, tableEntry, walk, walkFields, walkTargetList, walkWith } from './sql-walk.js';

interface Target {
  level: Scope;
  entry: RangeEntry | undefined;
}

function openTarget(body: PgNode, scope: Scope, ctx: WalkCtx): Target {
  const ws = isObject(body['withClause']) ? walkWith(body['withClause'], scope, ctx) : scope;
  const level = new Scope(ws);
  const rel = body['relation'];
  const entry = isObject(rel) ? tableEntry(rel, ctx) : undefined;
  if (entry) level.entries.push(entry);
  return { level, entry };
}

/** Columns named by ResTargets (`SET a = ..`, `INSERT (a, b)`): columns of the target. */
function writtenColumns(targets: unknown[], t: Target, ctx: WalkCtx, walkValues: boolean): void {
  for (const x of targets) {
    const rt = unwrap(x);
    if (!rt || rt[0] !== 'ResTarget') {
      walk(x, t.level, ctx);
      continue;
    }
    const name = str(rt[1]['name']);
    if (name !== undefined && t.entry) addColumns(ctx, t.entry.columnFacts(name));
    walk(rt[1]['indirection'], t.level, ctx);
    if (walkValues) walk(rt[1]['val'], t.level, ctx);
  }
}

function returning(body: PgNode, t: Target, ctx: WalkCtx): Derived {
  const rc = body['returningClause'];
  const exprs = isObject(rc) ? list(rc['exprs']) : list(body['returningList']);
  if (exprs.length === 0) return EMPTY_DERIVED;
  // old/new (or their WITH (OLD AS o) names) are the target; they sit one level out so that
  // `*` expands only the target and its FROM/USING tables.
  const aliases = new Scope(t.level.parent);
  if (t.entry) {
    const names = ['old', 'new'];
    if (isObject(rc)) {
      for (const o of list(rc['options'])) {
        const opt = unwrap(o)?.[1];
        const alias = opt ? str(opt['value']) : undefined;
        if (alias !== undefined) names.push(alias);
      }
    }
    for (const n of names) aliases.entries.push(new UnionEntry(n, [t.entry]));
  }
  const level = new Scope(aliases);
  level.entries.push(...t.level.entries);
  return walkTargetList(exprs, level, ctx);
}

export function walkInsert(body: PgNode, scope: Scope, ctx: WalkCtx): Derived {
  const t = openTarget(body, scope, ctx);
  const cols = list(body['cols']);
  writtenColumns(cols, t, ctx, false);
  // No column list: every column of the target is written.
  if (cols.length === 0 && t.entry) addColumns(ctx, t.entry.starFacts());
  // The source query cannot see the target table.
  selectNode(body['selectStmt'], t.level.parent ?? scope, ctx);
  const oc = body['onConflictClause'];
  if (isObject(oc)) {
    const level = new Scope(t.level);
    if (t.entry) level.entries.push(new UnionEntry('excluded', [t.entry]));
    const onConflict: Target = { level, entry: t.entry };
    const infer = oc['infer'];
    if (isObject(infer)) {
      for (const ie of list(infer['indexElems'])) {
        const e = unwrap(ie)?.[1];
        const name = e ? str(e['name']) : undefined;
        if (name !== undefined && t.entry) addColumns(ctx, t.entry.columnFacts(name));
        if (e) walk(e['expr'], level, ctx);
      }
      walk(infer['whereClause'], level, ctx);
    }
    writtenColumns(list(oc['targetList']), onConflict, ctx, true);
    walk(oc['whereClause'], level, ctx);
  }
  return returning(body, t, ctx);
}

export function walkUpdate(body: PgNode, scope: Scope, ctx: WalkCtx): Derived {
  const t = openTarget(body, scope, ctx);
  for (const f of list(body['fromClause'])) fromItem(f, t.level, ctx);
  writtenColumns(list(body['targetList']), t, ctx, true);
  walk(body['whereClause'], t.level, ctx);
  return returning(body, t, ctx);
}

export function walkDelete(body: PgNode, scope: Scope, ctx: WalkCtx): Derived {
  const t = openTarget(body, scope, ctx);
  for (const f of list(body['usingClause'])) fromItem(f, t.level, ctx);
  walk(body['whereClause'], t.level, ctx);
  return returning(body, t, ctx);
}

export function walkMerge(body: PgNode, scope: Scope, ctx: WalkCtx): Derived {
  const t = openTarget(body, scope, ctx);
  fromItem(body['sourceRelation'], t.level, ctx);
  walk(body['joinCondition'], t.level, ctx);
  for (const w of list(body['mergeWhenClauses'])) {
    const mw = unwrap(w)?.[1];
    if (!mw) continue;
    walk(mw['condition'], t.level, ctx);
    const targets = list(mw['targetList']);
    writtenColumns(targets, t, ctx, true);
    if (mw['commandType'] === 'CMD_INSERT' && targets.length === 0 && t.entry) addColumns(ctx, t.entry.starFacts());
    walkFields(mw, t.level, ctx, ['condition', 'targetList']);
  }
  return returning(body, t, ctx);
}
