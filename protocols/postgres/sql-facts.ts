/**
 * SQL facts for policy (POLICY.md `sql.*`): `analyzeSql(text)` splits a query string into
 * statements with the real Postgres parser (never a hand-written splitter: the parser and
 * the server must agree on where statements end), and reports for each statement, and each
 * statement hidden inside one, its verb, tables, columns and functions.
 *
 * Fails closed: text the parser rejects, text over the length cap, or a tree too deep to
 * walk gives `ok: false` and the list of facts that are unknown; analyzeSql never throws.
 */
import { FactSink, newRecord, SqlTooComplex, type WalkCtx } from './sql-context.js';
import { DEFAULT_SQL_CACHE_CHARS, DEFAULT_SQL_CACHE_ENTRIES, SqlCache } from './sql-cache.js';
import { SqlSource, loadSqlParser, sqlParserLoaded } from './sql-parser.js';
import { walkSqlText } from './sql-hidden.js';
import { reusableForShape, shapeKey, withStatement } from './sql-shape.js';
import { SQL_FACT_PATHS, type SqlAnalysis, type SqlErrorCode, type SqlFactPath, type SqlStatementFacts } from './sql-types.js';

export { loadSqlParser, SqlCache, DEFAULT_SQL_CACHE_CHARS, DEFAULT_SQL_CACHE_ENTRIES };
export type * from './sql-types.js';

/** Longest text analysed by default (characters). Parse time grows with length: ~0.25 s at 150 KB. */
export const DEFAULT_MAX_SQL_LENGTH = 256 * 1024;

export interface AnalyzeSqlOptions {
  maxLength?: number;
  /** The cache to use; `false` analyses every time (benchmarks, tests). Default: a shared one. */
  cache?: SqlCache | false;
}

const sharedCache = new SqlCache();

function failure(code: SqlErrorCode, message: string, position?: number): SqlAnalysis {
  const error = position === undefined ? { code, message } : { code, message, position };
  return { ok: false, error, unknown: [...SQL_FACT_PATHS] as SqlFactPath[] };
}

/** Facts of every statement in `text`. Call `await loadSqlParser()` once before. */
export function analyzeSql(text: string, opts: AnalyzeSqlOptions = {}): SqlAnalysis {
  const max = opts.maxLength ?? DEFAULT_MAX_SQL_LENGTH;
  if (typeof text !== 'string') return failure('SQL_UNSUPPORTED', 'statement text is not a string');
  if (text.length > max) return failure('SQL_TOO_LONG', `statement is ${text.length} characters, over the ${max} cap`);
  if (!sqlParserLoaded()) return failure('SQL_UNSUPPORTED', 'SQL parser not loaded: call loadSqlParser() first');
  const cache = opts.cache === undefined ? sharedCache : opts.cache;
  if (!cache) return analyzeUncached(text);
  const hit = cache.get(text);
  if (hit) return hit;
  // The same statement with other numbers: its facts but for the text (sql-shape.ts).
  const shape = shapeKey(text);
  if (shape !== undefined) {
    const shaped = cache.shapes.get(shape);
    if (shaped) return withStatement(shaped, text);
  }
  const result = cache.set(text, analyzeUncached(text));
  if (shape !== undefined && reusableForShape(text, result)) cache.shapes.set(shape, result);
  return result;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function analyzeUncached(text: string): SqlAnalysis {
  // The parser reads a C string: it would stop at NUL and never see what follows.
  if (text.includes('\0')) return failure('SQL_UNSUPPORTED', 'statement text contains a NUL character');
  // A lone surrogate has no UTF-8 form: what the parser would see is not what a server gets.
  if (LONE_SURROGATE.test(text)) return failure('SQL_UNSUPPORTED', 'statement text is not well-formed Unicode');
  const out: SqlStatementFacts[] = [];
  const ctx: WalkCtx = {
    out,
    sink: new FactSink(newRecord('', '', false), undefined),
    captures: [],
    depth: 0,
    bodyDepth: 0,
    source: new SqlSource(''),
    stmtText: '',
    stmtStart: 0,
    stmtEnd: 0,
    textRoot: undefined,
    nestedOrigin: 'nested',
  };
  try {
    const r = walkSqlText(text, ctx, false);
    if (!r.ok) {
      return r.parserError
        ? failure('SQL_PARSE_ERROR', r.message, r.position)
        : failure('SQL_UNSUPPORTED', `parser failed: ${r.message}`);
    }
  } catch (err) {
    if (err instanceof SqlTooComplex) return failure('SQL_UNSUPPORTED', err.message);
    if (err instanceof RangeError) return failure('SQL_UNSUPPORTED', 'statement nests too deeply');
    return failure('SQL_UNSUPPORTED', `analysis failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  return { ok: true, statements: out };
}
