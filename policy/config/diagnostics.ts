/**
 * Load diagnostics: every problem in a configuration is collected and reported at once as
 * `file:line:col: message`, the form editors and CI logs turn into links.
 */
export interface Position {
  file: string;
  line: number; // 1-based
  column: number; // 1-based, in characters
}

export interface Diagnostic extends Position {
  message: string;
  code?: string;
}

export class Diagnostics {
  readonly list: Diagnostic[] = [];

  error(pos: Position, message: string, code?: string): void {
    this.list.push({ file: pos.file, line: pos.line, column: pos.column, message, ...(code ? { code } : {}) });
  }

  get ok(): boolean {
    return this.list.length === 0;
  }

  /** Sorted by file order given, then line and column; duplicates (same place, same text) once. */
  sorted(fileOrder: string[] = []): Diagnostic[] {
    const rank = (file: string) => {
      const i = fileOrder.indexOf(file);
      return i < 0 ? fileOrder.length : i;
    };
    const seen = new Set<string>();
    return [...this.list]
      .sort((a, b) => rank(a.file) - rank(b.file) || a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column)
      .filter((d) => {
        const key = formatDiagnostic(d);
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      });
  }
}

export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.column}: ${d.message}`;
}

/** Thrown by loaders when a configuration has errors; carries all of them. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';

  constructor(readonly diagnostics: Diagnostic[]) {
    super(diagnostics.map(formatDiagnostic).join('\n'));
  }
}
