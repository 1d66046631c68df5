/**
 * Statement roots: which walk each statement kind gets, and the statements hidden inside
 * others (POLICY.md: data-modifying CTEs, DO and function bodies, PREPARE, EXPLAIN targets,
 * COPY PROGRAM, rule actions). Each hidden statement gets its own record and facts; its
 * facts also count for every statement enclosing it.
 */
import {
  addColumns, addFunctions, addTable, FactSink, markUnknown, MAX_BODY_DEPTH, newRecord, type WalkCtx, withSink,
} from './sql-context.js';
import { walkDelete, walkInsert, walkMerge, walkUpdate } from './sql-dml.js';
import { constString, isObject, list, nameParts, qualifiedForms, str, sval, unwrap } from './sql-names.js';
import { type ParseOutcome, type PgNode, parseStatements, SqlSource } from './sql-parser.js';
import { walkPlpgsqlBody } from './sql-plpgsql.js';
import { type Derived, type RangeEntry, Scope, UnionEntry } from './sql-scope.js';
import type { SqlOrigin } from './sql-types.js';
import { verbOf } from './sql-verbs.js';
import { funcCall, selectNode, tableEntry, walk, walkFields, walkSelect } from './sql-walk.js';

/**
 * Parses `text` and walks each statement in order. Top-level statements (hidden=false) stand
 * alone; hidden ones (bodies) belong to the statement being walked now.
 */
export function walkSqlText(text: string, ctx: WalkCtx, hidden: boolean, origin?: SqlOrigin): ParseOutcome<number> {
  const parsed = parseStatements(text);
  if (!parsed.ok) return parsed;
  const source = new SqlSource(text);
  const saved = { source: ctx.source, stmtText: ctx.stmtText, stmtStart: ctx.stmtStart, stmtEnd: ctx.stmtEnd, textRoot: ctx.textRoot };
  const encloser = ctx.sink;
  try {
    for (const raw of parsed.value) {
      const start = raw.stmt_location ?? 0;
      const len = raw.stmt_len ?? 0; // 0: to the end of the text
      const end = len > 0 ? start + len : source.byteLength;
      const stmtText = source.slice(start, end).trim();
      const u = unwrap(raw.stmt);
      const rec = newRecord(u ? verbOf(u[0], u[1]) : '', stmtText, hidden, origin);
      ctx.out.push(rec);
      const sink = new FactSink(rec, hidden ? encloser : undefined);
      Object.assign(ctx, { source, stmtText, stmtStart: start, stmtEnd: end, textRoot: u?.[1] });
      withSink(ctx, sink, () => {
        if (u) walkRoot(u[0], u[1], new Scope(undefined), ctx);
        else markUnknown(ctx, 'statement node not recognised');
      });
    }
  } finally {
    Object.assign(ctx, saved);
  }
  return { ok: true, value: parsed.value.length };
}

/** A statement found inside another: its own record, facts shared with the encloser. */
export function emitHidden(type: string, body: PgNode, scope: Scope, ctx: WalkCtx, origin: SqlOrigin, text: string): Derived | undefined {
  const rec = newRecord(verbOf(type, body), text, true, origin);
  ctx.out.push(rec);
  return withSink(ctx, new FactSink(rec, ctx.sink), () => walkRoot(type, body, scope, ctx));
}

/** A hidden statement nothing is known about; it and its enclosers get unknownFacts. */
export function emitUnknown(ctx: WalkCtx, origin: SqlOrigin, text: string, reason: string): void {
  const rec = newRecord('', text, true, origin);
  ctx.out.push(rec);
  withSink(ctx, new FactSink(rec, ctx.sink), () => markUnknown(ctx, reason));
}

/** SQL text inside a body (DO, function, EXECUTE literal): every statement in it is hidden. */
export function walkNestedSql(text: string, ctx: WalkCtx, origin: SqlOrigin): void {
  if (ctx.bodyDepth >= MAX_BODY_DEPTH) return emitUnknown(ctx, origin, text, 'SQL bodies nest too deeply');
  ctx.bodyDepth++;
  try {
    const r = walkSqlText(text, ctx, true, origin);
    if (!r.ok) emitUnknown(ctx, origin, text, `body SQL did not parse: ${r.message}`);
  } finally {
    ctx.bodyDepth--;
  }
}

function walkBody(code: string, language: string, ctx: WalkCtx, origin: SqlOrigin, createText?: string): void {
  if (language === 'plpgsql') {
    if (ctx.bodyDepth >= MAX_BODY_DEPTH) return emitUnknown(ctx, origin, code, 'SQL bodies nest too deeply');
    ctx.bodyDepth++;
    try {
      walkPlpgsqlBody(code, { sql: (t) => walkNestedSql(t, ctx, origin), unknown: (reason, t) => emitUnknown(ctx, origin, t, reason) }, createText);
    } finally {
      ctx.bodyDepth--;
    }
  } else if (language === 'sql') walkNestedSql(code, ctx, origin);
  // C and internal functions name code already in the server; they run nothing new.
  else if (language !== 'c' && language !== 'internal') emitUnknown(ctx, origin, code, `body in language ${language} cannot be analysed`);
}

/** The walk a statement of each kind gets when it is the root of a record. */
export function walkRoot(type: string, b: PgNode, scope: Scope, ctx: WalkCtx): Derived | undefined {
  switch (type) {
    case 'SelectStmt':
      return walkSelect(b, scope, ctx);
    case 'InsertStmt':
      return walkInsert(b, scope, ctx);
    case 'UpdateStmt':
      return walkUpdate(b, scope, ctx);
    case 'DeleteStmt':
      return walkDelete(b, scope, ctx);
    case 'MergeStmt':
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

/** Text of the statement after the first top-level AS (PREPARE name(types) AS ...). */
function textAfterAs(b: PgNode, ctx: WalkCtx): string {
  if (b !== ctx.textRoot) return ctx.stmtText;
  const tokens = ctx.source.tokens() ?? [];
  let depth = 0;
  for (const t of tokens) {
    if (t.start < ctx.stmtStart || t.end > ctx.stmtEnd) continue;
    if (t.text === '(') depth++;
    else if (t.text === ')') depth--;
    else if (depth === 0 && t.text.toUpperCase() === 'AS') return ctx.source.slice(t.end, ctx.stmtEnd).trim();
  }
  return ctx.stmtText;
}

/** Text of an EXPLAIN's target: after EXPLAIN, its (options) and ANALYZE/VERBOSE keywords. */
function explainTarget(b: PgNode, ctx: WalkCtx): string {
  if (b !== ctx.textRoot) return ctx.stmtText;
  const tokens = (ctx.source.tokens() ?? []).filter((t) => t.start >= ctx.stmtStart && t.end <= ctx.stmtEnd && !t.text.startsWith('--') && !t.text.startsWith('/*'));
  let i = 1;
  if (tokens[i]?.text === '(') {
    let depth = 0;
    for (; i < tokens.length; i++) {
      if (tokens[i]!.text === '(') depth++;
      else if (tokens[i]!.text === ')' && --depth === 0) break;
    }
    i++;
  }
  while (i < tokens.length && ['ANALYZE', 'ANALYSE', 'VERBOSE'].includes(tokens[i]!.text.toUpperCase())) i++;
  const t = tokens[i];
  return t ? ctx.source.slice(t.start, ctx.stmtEnd).trim() : ctx.stmtText;
}

/** Text of a CTE's query: inside the parentheses after `name [(cols)] AS [[NOT] MATERIALIZED]`. */
export function cteText(c: PgNode, ctx: WalkCtx): string {
  const loc = typeof c['location'] === 'number' ? c['location'] : -1;
  const tokens = ctx.source.tokens();
  if (!tokens || loc < 0) return ctx.stmtText;
  let i = tokens.findIndex((t) => t.start >= loc);
  if (i < 0) return ctx.stmtText;
  while (i < tokens.length && tokens[i]!.text.toUpperCase() !== 'AS') {
    if (tokens[i]!.text === '(') {
      // the column list: skip it whole
      let d = 0;
      for (; i < tokens.length; i++) if (tokens[i]!.text === '(') d++; else if (tokens[i]!.text === ')' && --d === 0) break;
    }
    i++;
  }
  while (i < tokens.length && tokens[i]!.text !== '(') i++;
  const open = tokens[i];
  let depth = 0;
  for (; i < tokens.length; i++) {
    if (tokens[i]!.text === '(') depth++;
    else if (tokens[i]!.text === ')' && --depth === 0) return open ? ctx.source.slice(open.end, tokens[i]!.start).trim() : ctx.stmtText;
  }
  return ctx.stmtText;
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

/**
 * Settings that change how the server lexes later statements. With standard_conforming_strings
 * off, `'a\' ...` ends somewhere else than our parser thinks, so everything after could hide a
 * statement; a non-UTF8 client_encoding does the same to multibyte text. Statements that
 * change them get unknown facts: a rule cannot trust this analysis after them.
 */
const LEXING_SETTINGS: Record<string, (value: string | undefined) => boolean> = {
  standard_conforming_strings: (v) => v !== undefined && ['on', 'true', 'yes', '1'].includes(v.toLowerCase()),
  client_encoding: (v) => v !== undefined && ['utf8', 'unicode'].includes(v.toLowerCase().replace(/[-_]/g, '')),
};

function settingValue(arg: unknown): string | undefined {
  const s = constString(arg);
  if (s !== undefined) return s;
  const u = unwrap(arg);
  if (u && u[0] === 'A_Const') {
    const i = u[1]['ival'];
    if (isObject(i)) return String(i['ival'] ?? 0);
    const bv = u[1]['boolval'];
    if (isObject(bv)) return bv['boolval'] === true ? 'true' : 'false';
  }
  return undefined;
}

export function checkVariableSet(b: PgNode, ctx: WalkCtx): void {
  const kind = b['kind'];
  if (kind !== 'VAR_SET_VALUE' && kind !== 'VAR_SET_CURRENT') return; // RESET / DEFAULT restore a safe value
  const name = str(b['name'])?.toLowerCase() ?? '';
  const safe = LEXING_SETTINGS[name];
  const args = list(b['args']);
  if (safe && (kind === 'VAR_SET_CURRENT' || args.length !== 1 || !safe(settingValue(args[0])))) {
    markUnknown(ctx, `SET ${name} changes how later statements are parsed`);
  }
}

/**
 * Functions that run SQL given as text: the text is a statement of its own (a literal is
 * analysed; a computed one is unknown). dblink runs it on another server, possibly this one.
 */
const SQL_TEXT_FUNCTIONS = new Set([
  'query_to_xml', 'query_to_xmlschema', 'query_to_xml_and_xmlschema',
  'dblink', 'dblink_exec', 'dblink_send_query', 'dblink_open',
]);

export function checkSqlTextFunction(name: string, args: unknown[], ctx: WalkCtx): void {
  if (!SQL_TEXT_FUNCTIONS.has(name) || args.length === 0) return;
  let sqlArg: unknown;
  if (name.startsWith('query_to_xml')) sqlArg = args[0];
  else {
    // dblink*(..., sql [, fail_on_error boolean]): the SQL is the last non-boolean argument.
    const last = unwrap(args[args.length - 1]);
    const trailingBool = last?.[0] === 'A_Const' && isObject(last[1]['boolval']);
    sqlArg = args[args.length - (trailingBool ? 2 : 1)];
    if (name !== 'dblink_exec' && name !== 'dblink' && args.length === 1) sqlArg = undefined; // dblink_open(cursor) alone
  }
  if (sqlArg === undefined) return;
  const text = constString(sqlArg);
  if (text === undefined) return emitUnknown(ctx, 'function-sql', ctx.stmtText, `${name} runs SQL computed at run time`);
  walkNestedSql(text, ctx, 'function-sql');
}

export function checkSetConfig(args: unknown[], ctx: WalkCtx): void {
  const name = constString(args[0])?.toLowerCase();
  if (name === undefined) return markUnknown(ctx, 'set_config with a computed setting name');
  const safe = LEXING_SETTINGS[name];
  if (safe && !safe(constString(args[1]))) markUnknown(ctx, `set_config(${name}) changes how later statements are parsed`);
}
