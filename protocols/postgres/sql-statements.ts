/**
 * Statement roots: which walk each statement kind gets. DML and SELECT have their own
 * modules; utility statements name their tables and columns in statement-specific fields
 * (DROP object lists, COPY column lists, GRANT column privileges, ...), handled here.
 * Statements that carry others (PREPARE, EXPLAIN, RULE, DO, CREATE FUNCTION) hand them to
 * sql-hidden.
 */
import { addColumns, addFunctions, addTable, FactSink, newRecord, type WalkCtx, withSink } from './sql-context.js';
import { walkDelete, walkInsert, walkMerge, walkUpdate } from './sql-dml.js';
import { emitHidden, explainTarget, textAfterAs, walkBody } from './sql-hidden.js';
import { isObject, list, nameParts, qualifiedForms, str, sval, unwrap } from './sql-names.js';
import type { PgNode } from './sql-parser.js';
import { type Derived, type RangeEntry, Scope, UnionEntry } from './sql-scope.js';
import { checkSettingsWrite, checkVariableSet } from './sql-settings.js';
import type { SqlOrigin } from './sql-types.js';
import { funcCall, selectNode, tableEntry, walk, walkFields, walkSelect } from './sql-walk.js';

/** The walk a statement of each kind gets when it is the root of a record. */
export function walkRoot(type: string, b: PgNode, scope: Scope, ctx: WalkCtx): Derived | undefined {
  switch (type) {
    case 'SelectStmt':
      return walkSelect(b, scope, ctx);
    case 'InsertStmt':
      checkSettingsWrite(b, ctx);
      return walkInsert(b, scope, ctx);
    case 'UpdateStmt':
      checkSettingsWrite(b, ctx);
      return walkUpdate(b, scope, ctx);
    case 'DeleteStmt':
      checkSettingsWrite(b, ctx);
      return walkDelete(b, scope, ctx);
    case 'MergeStmt':
      checkSettingsWrite(b, ctx);
      return walkMerge(b, scope, ctx);
    case 'DoStmt':
      return walkDo(b, ctx);
    case 'CreateFunctionStmt':
      return walkCreateFunction(b, scope, ctx);
    case 'PrepareStmt':
      return walkPrepare(b, scope, ctx);
    case 'ExplainStmt':
      return walkExplain(b, scope, ctx);
    case 'CopyStmt':
      return walkCopy(b, scope, ctx);
    case 'DropStmt':
      return walkDrop(b, scope, ctx);
    case 'CommentStmt':
      return walkComment(b, scope, ctx);
    case 'RuleStmt':
      return walkRule(b, scope, ctx);
    case 'CreateTrigStmt':
    case 'CreateEventTrigStmt':
      return walkTrigger(b, scope, ctx);
    case 'GrantStmt':
      return walkGrant(b, scope, ctx);
    case 'VacuumStmt':
      return walkVacuum(b, scope, ctx);
    case 'IndexStmt':
      return walkIndex(b, scope, ctx);
    case 'AlterTableStmt':
      return walkAlterTable(b, scope, ctx);
    case 'VariableSetStmt':
      checkVariableSet(b, ctx);
      walkFields(b, scope, ctx);
      return undefined;
    case 'RenameStmt': {
      const level = relationScope(b, scope, ctx);
      const col = str(b['subname']);
      if (col !== undefined && b['renameType'] === 'OBJECT_COLUMN') for (const e of level.entries) addColumns(ctx, e.columnFacts(col));
      walkFields(b, level, ctx, ['relation']);
      return undefined;
    }
    case 'CallStmt':
      // funccall is a typed field, so a bare FuncCall without its wrapper.
      if (isObject(b['funccall'])) funcCall(b['funccall'], scope, ctx);
      return undefined;
    default: {
      // ALTER ROLE/DATABASE/SYSTEM ... SET: a bare VariableSetStmt that applies to later sessions.
      if (isObject(b['setstmt'])) checkVariableSet(b['setstmt'], ctx);
      const level = relationScope(b, scope, ctx);
      walkFields(b, level, ctx, ['relation', 'table']);
      return undefined;
    }
  }
}

/** A level holding the statement's `relation` / `table`, so its expressions resolve columns. */
function relationScope(b: PgNode, scope: Scope, ctx: WalkCtx): Scope {
  const level = new Scope(scope);
  for (const key of ['relation', 'table']) {
    const rv = b[key];
    if (isObject(rv) && typeof rv['relname'] === 'string') {
      const e = tableEntry(rv, ctx);
      if (e) level.entries.push(e);
    }
  }
  return level;
}

function defElems(v: unknown): Map<string, unknown> {
  const m = new Map<string, unknown>();
  for (const d of list(v)) {
    const u = unwrap(d);
    if (u && u[0] === 'DefElem') m.set(str(u[1]['defname']) ?? '', u[1]['arg']);
  }
  return m;
}

function walkDo(b: PgNode, ctx: WalkCtx): undefined {
  const opts = defElems(b['args']);
  const code = sval(opts.get('as'));
  const language = (sval(opts.get('language')) ?? 'plpgsql').toLowerCase();
  if (code !== undefined) walkBody(code, language, ctx, 'do');
  return undefined;
}

function walkCreateFunction(b: PgNode, scope: Scope, ctx: WalkCtx): undefined {
  walkFields(b, scope, ctx, ['funcname', 'options', 'sql_body', 'returnType']);
  const opts = defElems(b['options']);
  const as = nameParts(unwrap(opts.get('as'))?.[1]['items']) ?? [];
  const body = b['sql_body'];
  const language = (sval(opts.get('language')) ?? (body !== undefined ? 'sql' : 'unknown')).toLowerCase();
  const origin: SqlOrigin = 'create-function-body';
  if (body !== undefined) {
    // BEGIN ATOMIC ... END (a list of statement lists) or RETURN expr: already parsed.
    const u = unwrap(body);
    const stmts = u && u[0] === 'List' ? list(u[1]['items']).flatMap((i) => list(unwrap(i)?.[1]['items'])) : [body];
    for (const s of stmts) {
      const st = unwrap(s);
      if (st) emitHidden(st[0], st[1], new Scope(scope), ctx, origin, ctx.stmtText);
    }
  } else if (as[0] !== undefined) {
    walkBody(as[0], language, ctx, origin, b === ctx.textRoot ? ctx.stmtText : undefined);
  }
  walkFields(opts.has('set') ? { set: opts.get('set') } : {}, scope, ctx);
  return undefined;
}


function walkPrepare(b: PgNode, scope: Scope, ctx: WalkCtx): undefined {
  const q = unwrap(b['query']);
  if (q) emitHidden(q[0], q[1], new Scope(scope), ctx, 'prepare', textAfterAs(b, ctx));
  return undefined;
}

function isFalse(arg: unknown): boolean {
  const u = unwrap(arg);
  if (!u) return false;
  if (u[0] === 'Boolean') return u[1]['boolval'] !== true;
  if (u[0] === 'Integer') return (u[1]['ival'] ?? 0) === 0;
  const s = u[0] === 'String' ? str(u[1]['sval'])?.toLowerCase() : undefined;
  return s === 'false' || s === 'off' || s === '0' || s === 'no';
}

function walkExplain(b: PgNode, scope: Scope, ctx: WalkCtx): undefined {
  const opts = defElems(b['options']);
  // EXPLAIN ANALYZE runs its target; plain EXPLAIN does not, but its facts are still reported.
  const analyze = opts.has('analyze') && !isFalse(opts.get('analyze'));
  const q = unwrap(b['query']);
  if (q) emitHidden(q[0], q[1], new Scope(scope), ctx, analyze ? 'explain-analyze' : 'explain', explainTarget(b, ctx));
  return undefined;
}

function walkCopy(b: PgNode, scope: Scope, ctx: WalkCtx): undefined {
  const level = relationScope(b, scope, ctx);
  const cols = nameParts(b['attlist']) ?? [];
  for (const e of level.entries) {
    for (const c of cols) addColumns(ctx, e.columnFacts(c));
    // COPY t without a column list moves every column.
    if (cols.length === 0) addColumns(ctx, e.starFacts());
  }
  const q = unwrap(b['query']);
  if (q && q[0] === 'SelectStmt') selectNode(b['query'], scope, ctx);
  else if (q) emitHidden(q[0], q[1], new Scope(scope), ctx, 'copy-query', ctx.stmtText);
  walk(b['whereClause'], level, ctx);
  walk(b['options'], level, ctx);
  const program = b['is_program'] === true ? (str(b['filename']) ?? '') : undefined;
  if (program !== undefined) {
    ctx.sink.record.program = program;
    // The shell command is a statement of its own: it reads/writes what the COPY does.
    const outer = ctx.sink;
    const rec = newRecord('copy', ctx.stmtText, true, 'copy-program');
    rec.program = program;
    ctx.out.push(rec);
    withSink(ctx, new FactSink(rec, outer), () => {
      for (const t of outer.tables) ctx.sink.tables.add(t);
      for (const c of outer.columns) ctx.sink.columns.add(c);
    });
  }
  return undefined;
}

const TABLE_OBJECTS = new Set(['OBJECT_TABLE', 'OBJECT_VIEW', 'OBJECT_MATVIEW', 'OBJECT_FOREIGN_TABLE', 'OBJECT_SEQUENCE', 'OBJECT_INDEX']);
/** Objects named `table.object` (DROP TRIGGER t ON tbl is [tbl, t]). */
const ON_TABLE_OBJECTS = new Set(['OBJECT_TRIGGER', 'OBJECT_RULE', 'OBJECT_POLICY', 'OBJECT_TABCONSTRAINT']);

function objectNames(obj: unknown, objtype: unknown, ctx: WalkCtx, scope: Scope): void {
  const u = unwrap(obj);
  const parts = u && u[0] === 'List' ? nameParts(u[1]['items']) : undefined;
  if (parts && TABLE_OBJECTS.has(String(objtype))) addTable(ctx, qualifiedForms(parts));
  else if (parts && ON_TABLE_OBJECTS.has(String(objtype)) && parts.length > 1) addTable(ctx, qualifiedForms(parts.slice(0, -1)));
  else if (parts && objtype === 'OBJECT_COLUMN' && parts.length > 1) {
    const tables = qualifiedForms(parts.slice(0, -1));
    addTable(ctx, tables);
    addColumns(ctx, tables.map((t) => `${t}.${parts[parts.length - 1]}`));
  } else walk(obj, scope, ctx);
}

function walkDrop(b: PgNode, scope: Scope, ctx: WalkCtx): undefined {
  for (const o of list(b['objects'])) objectNames(o, b['removeType'], ctx, scope);
  return undefined;
}

function walkComment(b: PgNode, scope: Scope, ctx: WalkCtx): undefined {
  objectNames(b['object'], b['objtype'], ctx, scope);
  return undefined;
}

function withOldNew(level: Scope): Scope {
  const inner = new Scope(level);
  const members = [...level.entries];
  inner.entries.push(new UnionEntry('new', members), new UnionEntry('old', members));
  return inner;
}

function walkRule(b: PgNode, scope: Scope, ctx: WalkCtx): undefined {
  const level = withOldNew(relationScope(b, scope, ctx));
  walk(b['whereClause'], level, ctx);
  for (const a of list(b['actions'])) {
    const u = unwrap(a);
    if (u) emitHidden(u[0], u[1], level, ctx, 'rule-action', ctx.stmtText);
  }
  return undefined;
}

function walkTrigger(b: PgNode, scope: Scope, ctx: WalkCtx): undefined {
  const level = withOldNew(relationScope(b, scope, ctx));
  const fn = nameParts(b['funcname']);
  if (fn && fn.length > 0) addFunctions(ctx, qualifiedForms(fn.map((p) => p.toLowerCase())));
  walkFields(b, level, ctx, ['relation', 'funcname']);
  return undefined;
}

function walkGrant(b: PgNode, scope: Scope, ctx: WalkCtx): undefined {
  const targets: RangeEntry[] = [];
  if (b['targtype'] === 'ACL_TARGET_OBJECT' && b['objtype'] === 'OBJECT_TABLE') {
    for (const o of list(b['objects'])) {
      const u = unwrap(o);
      const e = u && u[0] === 'RangeVar' ? tableEntry(u[1], ctx) : undefined;
      if (e) targets.push(e);
    }
  }
  // Column privileges name columns of every target table.
  for (const p of list(b['privileges'])) {
    const cols = nameParts(unwrap(p)?.[1]['cols']) ?? [];
    for (const e of targets) for (const c of cols) addColumns(ctx, e.columnFacts(c));
  }
  if (targets.length === 0) walkFields(b, scope, ctx, ['privileges', 'grantees']);
  return undefined;
}

function walkVacuum(b: PgNode, scope: Scope, ctx: WalkCtx): undefined {
  for (const r of list(b['rels'])) {
    const vr = unwrap(r)?.[1];
    const rel = vr?.['relation'];
    const e = isObject(rel) ? tableEntry(rel, ctx) : undefined;
    if (e) for (const c of nameParts(vr?.['va_cols']) ?? []) addColumns(ctx, e.columnFacts(c));
  }
  walk(b['options'], scope, ctx);
  return undefined;
}

function indexElems(v: unknown, level: Scope, ctx: WalkCtx): void {
  for (const ie of list(v)) {
    const e = unwrap(ie)?.[1];
    if (!e) continue;
    const name = str(e['name']);
    if (name !== undefined) for (const en of level.entries) addColumns(ctx, en.columnFacts(name));
    walk(e['expr'], level, ctx);
  }
}

function walkIndex(b: PgNode, scope: Scope, ctx: WalkCtx): undefined {
  const level = relationScope(b, scope, ctx);
  indexElems(b['indexParams'], level, ctx);
  indexElems(b['indexIncludingParams'], level, ctx);
  walkFields(b, level, ctx, ['relation', 'indexParams', 'indexIncludingParams']);
  return undefined;
}

/** ALTER TABLE subcommands whose `name` is a column. */
const COLUMN_SUBCOMMAND = /Column|NotNull|Identity|Statistics|Storage|Compression|Expression|Default/;

function walkAlterTable(b: PgNode, scope: Scope, ctx: WalkCtx): undefined {
  const level = relationScope(b, scope, ctx);
  for (const c of list(b['cmds'])) {
    const cmd = unwrap(c)?.[1];
    if (!cmd) continue;
    const name = str(cmd['name']);
    if (name !== undefined && COLUMN_SUBCOMMAND.test(String(cmd['subtype']))) {
      for (const e of level.entries) addColumns(ctx, e.columnFacts(name));
    }
    walkFields(cmd, level, ctx);
  }
  return undefined;
}

