/**
 * The state of one analysis: the statement records in output order, the fact sink of the
 * statement being walked, and the limits that keep hostile input from exhausting the stack.
 */
import type { PgNode, SqlSource } from './sql-parser.js';
import type { SqlFactPath, SqlOrigin, SqlStatementFacts } from './sql-types.js';
import { SQL_FACT_PATHS } from './sql-types.js';

/** Parse-tree nesting beyond this is refused (SQL_UNSUPPORTED) rather than risk the JS stack. */
export const MAX_WALK_DEPTH = 1500;
/** SQL inside a body inside a body ... (a DO level counts twice: body, then its SQL): beyond this, unknown. */
export const MAX_BODY_DEPTH = 16;

/** Thrown inside the walk only; analyzeSql turns it into SQL_UNSUPPORTED. */
export class SqlTooComplex extends Error {}

/** Facts of one statement while it is walked; merged into its encloser when done. */
export class FactSink {
  readonly tables = new Set<string>();
  readonly columns = new Set<string>();
  readonly functions = new Set<string>();
  unknownReason: string | undefined;

  constructor(readonly record: SqlStatementFacts, readonly parent: FactSink | undefined) {}

  /** Writes the sets into the record and hands them to the enclosing statement. */
  finish(): void {
    const r = this.record;
    r.tables = [...this.tables];
    r.columns = [...this.columns];
    r.functions = [...this.functions];
    if (this.unknownReason !== undefined) {
      r.unknownFacts = [...SQL_FACT_PATHS] as SqlFactPath[];
      r.unknownReason = this.unknownReason;
    }
    const p = this.parent;
    if (p) {
      // An encloser reads and writes everything its hidden statements do.
      for (const t of this.tables) p.tables.add(t);
      for (const c of this.columns) p.columns.add(c);
      for (const f of this.functions) p.functions.add(f);
    }
  }
}

export interface WalkCtx {
  out: SqlStatementFacts[];
  sink: FactSink;
  /** Column facts of the expression being walked, for subquery output resolution. */
  captures: Set<string>[];
  depth: number;
  bodyDepth: number;
  /** The text that `location` offsets currently refer to. */
  source: SqlSource;
  /** The current statement's text and byte range in `source`. */
  stmtText: string;
  stmtStart: number;
  stmtEnd: number;
  /** The statement node parsed from `stmtText` (CREATE FUNCTION re-parses that text). */
  textRoot: PgNode | undefined;
  /** Origin given to statements met inside another (CREATE SCHEMA elements, BEGIN ATOMIC, ...). */
  nestedOrigin: SqlOrigin;
}

export function newRecord(verb: string, statement: string, hidden: boolean, origin?: SqlOrigin): SqlStatementFacts {
  const r: SqlStatementFacts = { verb, tables: [], columns: [], functions: [], statement, hidden };
  if (origin !== undefined) r.origin = origin;
  return r;
}

export function addTable(ctx: WalkCtx, names: string[]): void {
  for (const n of names) ctx.sink.tables.add(n);
}

export function addColumns(ctx: WalkCtx, facts: string[]): void {
  for (const f of facts) {
    ctx.sink.columns.add(f);
    for (const c of ctx.captures) c.add(f);
  }
}

export function addFunctions(ctx: WalkCtx, names: string[]): void {
  for (const n of names) ctx.sink.functions.add(n);
}

/** Marks the current statement and every statement enclosing it as having unknown facts. */
export function markUnknown(ctx: WalkCtx, reason: string): void {
  for (let s: FactSink | undefined = ctx.sink; s; s = s.parent) s.unknownReason ??= reason;
}

/** Runs `fn` with `sink` as the current statement, then finishes it. */
export function withSink<T>(ctx: WalkCtx, sink: FactSink, fn: () => T): T {
  const prev = ctx.sink;
  const prevCaptures = ctx.captures;
  ctx.sink = sink;
  ctx.captures = [];
  try {
    return fn();
  } finally {
    ctx.sink = prev;
    ctx.captures = prevCaptures;
    sink.finish();
  }
}
