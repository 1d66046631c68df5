/**
 * The one place that touches libpg-query (the real Postgres 18 grammar as WASM).
 * After one `await loadSqlParser()` every call is synchronous. Failures come back as values,
 * never exceptions, so the analyzer can fail closed with a stable code.
 *
 * Offsets in the parse tree (stmt_location, stmt_len, location) and in scanner tokens are
 * UTF-8 byte offsets; SqlSource converts them to text.
 */
import { loadModule, parsePlPgSQLSync, parseSync, scanSync } from 'libpg-query';

let loaded = false;

/** Loads the WASM parser once; later calls return at once. */
export async function loadSqlParser(): Promise<void> {
  if (loaded) return;
  await loadModule();
  loaded = true;
}

export function sqlParserLoaded(): boolean {
  return loaded;
}

/** A parse-tree node as libpg_query emits it (protobuf JSON). */
export type PgNode = Record<string, unknown>;

export interface RawStatement {
  stmt: PgNode;
  /** Byte offset of the statement in the parsed text (omitted in JSON when 0). */
  stmt_location?: number;
  /** Byte length; omitted (0) means "to the end of the text". */
  stmt_len?: number;
}

export type ParseOutcome<T> = { ok: true; value: T } | { ok: false; message: string; position?: number; parserError: boolean };

function failure(err: unknown): { ok: false; message: string; position?: number; parserError: boolean } {
  const e = err as { message?: unknown; sqlDetails?: { cursorPosition?: unknown } };
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const pos = e?.sqlDetails?.cursorPosition;
  // SqlError carries sqlDetails; anything else (WASM trap, allocation) is not a syntax verdict.
  const parserError = e?.sqlDetails !== undefined;
  return typeof pos === 'number' ? { ok: false, message, position: pos, parserError } : { ok: false, message, parserError };
}

/** Parses SQL text into top-level statements. Empty and comment-only text gives []. */
export function parseStatements(text: string): ParseOutcome<RawStatement[]> {
  if (text.trim() === '') return { ok: true, value: [] }; // parseSync refuses '' outright
  try {
    const tree = parseSync(text) as unknown as { stmts?: RawStatement[] };
    return { ok: true, value: Array.isArray(tree.stmts) ? tree.stmts : [] };
  } catch (err) {
    return failure(err);
  }
}

/** Parses `CREATE FUNCTION ... LANGUAGE plpgsql` text into PL/pgSQL function trees. */
export function parsePlpgsql(text: string): ParseOutcome<PgNode[]> {
  try {
    const tree = parsePlPgSQLSync(text) as unknown as { plpgsql_funcs?: PgNode[] };
    return { ok: true, value: Array.isArray(tree.plpgsql_funcs) ? tree.plpgsql_funcs : [] };
  } catch (err) {
    return failure(err);
  }
}

export interface SqlToken {
  start: number; // byte offsets
  end: number;
  text: string;
}

/** The real Postgres lexer: comments, dollar quotes and escapes exactly as the server sees them. */
export function scanTokens(text: string): SqlToken[] | undefined {
  try {
    return scanSync(text).tokens.map((t) => ({ start: t.start, end: t.end, text: t.text }));
  } catch {
    return undefined;
  }
}

const ASCII = /^[\x00-\x7f]*$/;

/** Text with byte-offset slicing; ASCII text (the common case) slices without a copy. */
export class SqlSource {
  readonly byteLength: number;
  private readonly bytes: Buffer | undefined;

  private scanned: SqlToken[] | undefined | null = null;

  constructor(readonly text: string) {
    if (ASCII.test(text)) {
      this.bytes = undefined;
      this.byteLength = text.length;
    } else {
      this.bytes = Buffer.from(text, 'utf8');
      this.byteLength = this.bytes.length;
    }
  }

  /** Lexer tokens of the whole text, scanned once on first use; undefined if the lexer failed. */
  tokens(): SqlToken[] | undefined {
    if (this.scanned === null) this.scanned = scanTokens(this.text);
    return this.scanned;
  }

  slice(start: number, end: number): string {
    const s = Math.max(0, Math.min(start, this.byteLength));
    const e = Math.max(s, Math.min(end, this.byteLength));
    return this.bytes === undefined ? this.text.slice(s, e) : this.bytes.subarray(s, e).toString('utf8');
  }
}
