/**
 * Statements that differ only in their numbers (`... WHERE aid = 48213`, `... OFFSET 200`) have
 * the same facts except for their text: pgbench in simple mode, or an agent paging through a
 * table, would otherwise pay a full parse (tens of microseconds) for every one. A shape is the
 * text with each numeric literal replaced by NUL; an analysis is reused for another text of the
 * same shape only when that cannot change a fact:
 *
 *  - the text has no string, quoted identifier, dollar quote, parameter, escape or comment
 *    (`'`, `"`, `$`, `\`, `--`, `/*`), so every digit is in plain code and the lexer reads both
 *    texts as the same tokens but for the numbers' values; NUL is refused by the analyzer, so a
 *    shape can never be a text of its own;
 *  - a number is a whole token: not part of a name (`t1`), and of the plain decimal form only
 *    (`12`, `1.5`, `.5`, `1e9`); anything else (`0x1F`, `1_000`, `1e+5`, `t.1`) gives no shape;
 *  - the analysis is one top-level statement, no hidden ones, nothing unknown, and its verb is
 *    select, insert, update or delete: the walker reads a number's value only for SET and
 *    EXPLAIN options (`SET standard_conforming_strings = 0` must never borrow the facts of `= 1`);
 *  - its statement text is the query text trimmed of whitespace and semicolons, so the reused
 *    analysis can take the new text the same way.
 */
import type { SqlAnalysis, SqlStatementFacts } from './sql-types.js';

const SHAPE_VERBS = new Set(['select', 'insert', 'update', 'delete']);

/** Longer texts are rarely repeated shapes; scanning them would only cost. */
const MAX_SHAPE_TEXT = 4096;

const INELIGIBLE = /['"$\\\0]|--|\/\*/;
const PLAIN_NUMBER = /^(?:\d+\.?\d*|\.\d+)(?:[eE]\d+)?$/;

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Characters that continue a name (and `$`, excluded above anyway). */
function isNameChar(c: number): boolean {
  return isDigit(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 36 || c >= 128;
}

/** The text with its numbers replaced, or undefined when it has none or cannot be read safely. */
export function shapeKey(text: string): string | undefined {
  if (text.length > MAX_SHAPE_TEXT || INELIGIBLE.test(text)) return undefined;
  let out = '';
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (!isDigit(c) && !(c === 46 && isDigit(text.charCodeAt(i + 1)))) continue;
    const before = i > 0 ? text.charCodeAt(i - 1) : 32;
    if (isNameChar(before)) continue; // inside a name, or the rest of a number already taken
    if (before === 46) return undefined; // `t.1`, `1..2`
    let end = i + 1;
    while (end < text.length && (isNameChar(text.charCodeAt(end)) || text.charCodeAt(end) === 46)) end++;
    if (!PLAIN_NUMBER.test(text.slice(i, end))) return undefined;
    out += `${text.slice(from, i)}\0`;
    from = end;
    i = end - 1;
  }
  return from === 0 ? undefined : out + text.slice(from);
}

/** The text as the parser slices a lone statement: no leading whitespace, no trailing `;`. */
export function trimStatement(text: string): string {
  return text.replace(/^[ \t\n\r\f\v]+/, '').replace(/[ \t\n\r\f\v;]+$/, '');
}

/** Whether `analysis` of `text` may stand for other texts of its shape. */
export function reusableForShape(text: string, analysis: SqlAnalysis): boolean {
  if (!analysis.ok || analysis.statements.length !== 1) return false;
  const s = analysis.statements[0]!;
  return !s.hidden && SHAPE_VERBS.has(s.verb) && (s.unknownFacts?.length ?? 0) === 0 && s.unknownReason === undefined
    && s.program === undefined && s.origin === undefined && s.statement === trimStatement(text);
}

/** The analysis of a text of the same shape, with this text as its statement. */
export function withStatement(analysis: SqlAnalysis, text: string): SqlAnalysis {
  if (!analysis.ok) return analysis;
  // The lists are the cached analysis's own (frozen): only the statement text is new.
  const statement: SqlStatementFacts = Object.freeze({ ...analysis.statements[0]!, statement: trimStatement(text) });
  return Object.freeze({ ok: true as const, statements: Object.freeze([statement]) as SqlStatementFacts[] });
}
