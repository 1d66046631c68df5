/**
 * PL/pgSQL bodies (DO blocks, CREATE FUNCTION ... LANGUAGE plpgsql): every SQL query and
 * expression the body would run becomes SQL text for the caller to analyze as a hidden
 * statement; EXECUTE of a computed string cannot be known and is reported as such.
 *
 * libpg_query's PL/pgSQL parser takes a whole CREATE FUNCTION statement, so a bare body is
 * wrapped in one. The dollar-quote tag is chosen so that it cannot occur in the body: the
 * body can never end the wrapper early and smuggle text past the parser.
 */
import { isObject, list, str, unwrap, constString } from './sql-names.js';
import { type PgNode, parsePlpgsql, parseStatements, SqlSource } from './sql-parser.js';

export interface PlpgsqlOut {
  /** SQL text the body runs (a statement, or `SELECT <expression>`). */
  sql(text: string): void;
  /** Something the body runs that cannot be known from its text. */
  unknown(reason: string, text: string): void;
}

// Expression parse modes (RawParseMode in parser.h) of PLpgSQL_expr.parseMode.
const RAW_PARSE_DEFAULT = 0;
const RAW_PARSE_PLPGSQL_EXPR = 2;
const RAW_PARSE_PLPGSQL_ASSIGN1 = 3;
const RAW_PARSE_PLPGSQL_ASSIGN3 = 5;

/** Statements whose query is a computed string (EXECUTE, FOR .. IN EXECUTE, OPEN .. FOR EXECUTE, RETURN QUERY EXECUTE). */
const DYNAMIC: Record<string, string> = {
  PLpgSQL_stmt_dynexecute: 'query',
  PLpgSQL_stmt_dynfors: 'query',
  PLpgSQL_stmt_open: 'dynquery',
  PLpgSQL_stmt_return_query: 'dynquery',
};

/** Return types to try for a bare body: RETURN x, RETURN QUERY and NEW/OLD each need the right one. */
const WRAPPER_RETURNS = ['void', 'trigger', 'SETOF record', 'record', 'event_trigger'];

export function dollarTag(body: string): string {
  for (let i = 0; ; i++) {
    const tag = i === 0 ? '$bailiff$' : `$bailiff${i}$`;
    // The first occurrence of the tag after the opener must be the closer we append.
    if ((body + tag).indexOf(tag) === body.length) return tag;
  }
}

/** Parses a PL/pgSQL body and reports what it runs. `createText` is the original CREATE FUNCTION, when known. */
export function walkPlpgsqlBody(body: string, out: PlpgsqlOut, createText?: string): void {
  const tag = dollarTag(body);
  const candidates = createText !== undefined ? [createText] : [];
  for (const r of WRAPPER_RETURNS) candidates.push(`CREATE FUNCTION bailiff_body() RETURNS ${r} AS ${tag}${body}${tag} LANGUAGE plpgsql`);
  let lastError = 'no PL/pgSQL function found';
  for (const text of candidates) {
    const parsed = parsePlpgsql(text);
    if (parsed.ok && parsed.value.length === 1) {
      walkTree(parsed.value[0], out);
      return;
    }
    if (!parsed.ok) lastError = parsed.message;
  }
  out.unknown(`PL/pgSQL body did not parse: ${lastError}`, body);
}

function walkTree(v: unknown, out: PlpgsqlOut): void {
  if (Array.isArray(v)) {
    for (const x of v) walkTree(x, out);
    return;
  }
  if (!isObject(v)) return;
  const u = unwrap(v);
  if (u) {
    const [type, b] = u;
    if (type === 'PLpgSQL_expr') return expr(b, out);
    const dynField = DYNAMIC[type];
    if (dynField !== undefined && b[dynField] !== undefined) dynamic(b[dynField], out);
  }
  for (const k in v) {
    const x = v[k];
    if (typeof x === 'object' && x !== null) walkTree(x, out);
  }
}

function expr(b: PgNode, out: PlpgsqlOut): void {
  const query = str(b['query']);
  if (query === undefined) return;
  const mode = typeof b['parseMode'] === 'number' ? b['parseMode'] : RAW_PARSE_DEFAULT;
  if (mode === RAW_PARSE_DEFAULT) out.sql(query);
  else if (mode === RAW_PARSE_PLPGSQL_EXPR) out.sql(`SELECT ${query}`);
  else if (mode >= RAW_PARSE_PLPGSQL_ASSIGN1 && mode <= RAW_PARSE_PLPGSQL_ASSIGN3) {
    const sql = assignmentAsSelect(query);
    if (sql !== undefined) out.sql(sql);
    else out.unknown('PL/pgSQL assignment could not be split', query);
  }
  // RAW_PARSE_TYPE_NAME: a type, runs nothing.
}

/**
 * `target[sub] := expr FROM ...` -> `SELECT target[sub], expr FROM ...`: both the subscripts
 * and the value may read tables. Split at the first := or = outside brackets, found by the
 * real lexer so that strings and comments cannot fake one.
 */
export function assignmentAsSelect(query: string): string | undefined {
  const src = new SqlSource(query);
  const tokens = src.tokens();
  if (!tokens) return undefined;
  let depth = 0;
  for (const t of tokens) {
    if (t.text === '(' || t.text === '[') depth++;
    else if (t.text === ')' || t.text === ']') depth--;
    else if (depth === 0 && (t.text === ':=' || t.text === '=')) {
      return `SELECT ${src.slice(0, t.start)}, ${src.slice(t.end, src.byteLength)}`;
    }
  }
  return undefined;
}

/** EXECUTE of a string literal is known SQL; anything computed is not. */
function dynamic(v: unknown, out: PlpgsqlOut): void {
  const q = unwrap(v);
  const text = q && q[0] === 'PLpgSQL_expr' ? str(q[1]['query']) : undefined;
  if (text !== undefined) {
    const parsed = parseStatements(`SELECT ${text}`);
    if (parsed.ok && parsed.value.length === 1) {
      const sel = unwrap(parsed.value[0]!.stmt);
      const targets = sel && sel[0] === 'SelectStmt' && Object.keys(sel[1]).every((k) => k === 'targetList' || k === 'limitOption' || k === 'op')
        ? list(sel[1]['targetList']) : [];
      const only = targets.length === 1 ? unwrap(targets[0]) : undefined;
      const literal = only && only[0] === 'ResTarget' ? constString(only[1]['val']) : undefined;
      if (literal !== undefined) {
        out.sql(literal);
        return;
      }
    }
  }
  out.unknown('dynamic SQL (EXECUTE of a computed string)', text ?? '');
}
