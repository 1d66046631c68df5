/**
 * Diagnostics that point into the policy file, not into the condition string.
 *
 * cel-js reports an offset into the expression. The caller says where the expression starts
 * (`origin`: for a quoted string the character after the opening quote, for a heredoc the first
 * character of its first body line). When the text compiled differs from the text in the file
 * (HCL escapes such as `\"`, a `<<-` heredoc whose indentation was stripped), the caller may pass
 * `raw`, the text exactly as written from `origin` on; offsets are then aligned onto it.
 */

export interface ConditionOrigin {
  readonly file: string;
  /** 1-based line of the first character of the condition text. */
  readonly line: number;
  /** 1-based column (in characters) of that character. */
  readonly column: number;
  /** The text as written in the file, when it differs from the compiled source. */
  readonly raw?: string;
}

export interface Diagnostic {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly message: string;
  readonly code: string;
}

export const NO_ORIGIN: ConditionOrigin = Object.freeze({ file: '<condition>', line: 1, column: 1 });

/** Length of an escape sequence starting at raw[j] === '\\' (HCL quoted-string escapes). */
function escapeLength(raw: string, j: number): number {
  const c = raw[j + 1];
  if (c === 'u') return 6;
  if (c === 'U') return 10;
  return 2;
}

/**
 * For each offset in `source`, the matching offset in `raw`, or undefined when the two cannot
 * be aligned (then positions are computed on `source` alone). Greedy: equal characters match;
 * a backslash in raw is an escape standing for one source character; any other extra raw
 * character (stripped indentation, a doubled `$$`) is skipped.
 */
export function alignToRaw(source: string, raw: string): Int32Array | undefined {
  const map = new Int32Array(source.length + 1);
  let i = 0;
  let j = 0;
  while (i < source.length) {
    if (j >= raw.length) return undefined;
    if (raw[j] === source[i]) {
      map[i++] = j++;
    } else if (raw[j] === '\\') {
      map[i++] = j;
      j += escapeLength(raw, j);
    } else {
      j++;
    }
  }
  map[source.length] = Math.min(j, raw.length);
  return map;
}

/** 0-based line and column of `offset` in `text`; CRLF counts as one line break. */
function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 0;
  let lineStart = 0;
  const end = Math.min(Math.max(offset, 0), text.length);
  for (let k = 0; k < end; k++) {
    const ch = text.charCodeAt(k);
    if (ch === 10 /* \n */) {
      line++;
      lineStart = k + 1;
    } else if (ch === 13 /* \r */ && text.charCodeAt(k + 1) !== 10) {
      line++;
      lineStart = k + 1;
    }
  }
  return { line, column: end - lineStart };
}

/** File position of a character offset in the compiled condition source. */
export function locate(source: string, offset: number, origin: ConditionOrigin = NO_ORIGIN): { file: string; line: number; column: number } {
  let text = source;
  let at = Math.min(Math.max(Math.trunc(Number.isFinite(offset) ? offset : 0), 0), source.length);
  if (typeof origin.raw === 'string' && origin.raw !== source) {
    const map = alignToRaw(source, origin.raw);
    if (map) {
      text = origin.raw;
      at = map[at] ?? origin.raw.length;
    }
  }
  const lc = lineColumn(text, at);
  return {
    file: origin.file,
    line: origin.line + lc.line,
    column: lc.line === 0 ? origin.column + lc.column : lc.column + 1,
  };
}

export function diagnostic(source: string, offset: number, origin: ConditionOrigin | undefined, code: string, message: string): Diagnostic {
  return Object.freeze({ ...locate(source, offset, origin ?? NO_ORIGIN), message, code });
}
