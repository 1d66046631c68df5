/**
 * Statements inside statements: each gets its own record (POLICY.md: "evaluated as statements
 * of their own"), its facts also count for every encloser, and what cannot be known (dynamic
 * SQL, opaque languages, unparseable bodies) is a hidden statement with unknown facts.
 * Also the texts of hidden statements, cut with the real lexer's tokens.
 */
import { FactSink, markUnknown, MAX_BODY_DEPTH, newRecord, type WalkCtx, withSink } from './sql-context.js';
import { unwrap } from './sql-names.js';
import { type ParseOutcome, type PgNode, parseStatements, SqlSource } from './sql-parser.js';
import { walkPlpgsqlBody } from './sql-plpgsql.js';
import { type Derived, Scope } from './sql-scope.js';
import { walkRoot } from './sql-statements.js';
import type { SqlOrigin } from './sql-types.js';
import { verbOf } from './sql-verbs.js';

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

export function walkBody(code: string, language: string, ctx: WalkCtx, origin: SqlOrigin, createText?: string): void {
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

/** Text of the statement after the first top-level AS (PREPARE name(types) AS ...). */
export function textAfterAs(b: PgNode, ctx: WalkCtx): string {
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
export function explainTarget(b: PgNode, ctx: WalkCtx): string {
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
