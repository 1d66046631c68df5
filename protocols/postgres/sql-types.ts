/**
 * The SQL facts contract (POLICY.md, `sql.*`): what analyzeSql returns for one query string.
 * Kept apart from the analyzer so policy/ can `import type` it without pulling in the parser.
 */

/** Fact paths a caller must treat as unknown when analysis could not establish them. */
export const SQL_FACT_PATHS = ['sql.verb', 'sql.tables', 'sql.columns', 'sql.functions'] as const;
export type SqlFactPath = (typeof SQL_FACT_PATHS)[number];

/** Stable error codes (STYLE.md §8): logs and the dashboard filter by them. */
export type SqlErrorCode = 'SQL_PARSE_ERROR' | 'SQL_TOO_LONG' | 'SQL_UNSUPPORTED';

/** Where a hidden statement was found inside its enclosing statement. */
export type SqlOrigin =
  | 'cte'
  | 'do'
  | 'prepare'
  | 'explain'
  | 'explain-analyze'
  | 'copy-program'
  | 'copy-query'
  | 'create-function-body'
  | 'rule-action'
  | 'function-sql'
  | 'nested';

export interface SqlStatementFacts {
  /** Lowercase statement kind ("select", "revoke", ...); "" when unknown. */
  verb: string;
  /** Every relation read or written; `s.t` also gives `t`. CTE names are not tables. */
  tables: string[];
  /** `table.column` per column reference, aliases resolved; `table.*` for stars and whole rows. */
  columns: string[];
  /** Every function called, lowercase, qualified and bare. */
  functions: string[];
  /** The statement's own text (parser-sliced for top-level statements). */
  statement: string;
  /** True for statements found inside another one (CTE DML, DO body, PREPARE, ...). */
  hidden: boolean;
  origin?: SqlOrigin;
  /** COPY ... PROGRAM: the shell command the server would run. */
  program?: string;
  /**
   * Facts this analysis cannot know (dynamic SQL, an opaque language body, a setting that makes
   * later statements parse differently). Set on the hidden statement and on every statement
   * enclosing it: a rule reading any of these must treat them as unknown (deny).
   */
  unknownFacts?: SqlFactPath[];
  /** Why facts are unknown, for the audit record (never shown to the agent). */
  unknownReason?: string;
}

export interface SqlAnalysisError {
  code: SqlErrorCode;
  message: string;
  /** 0-based character offset into the text, when the parser gave one. */
  position?: number;
}

export type SqlAnalysis =
  | { ok: true; statements: SqlStatementFacts[] }
  | { ok: false; error: SqlAnalysisError; unknown: SqlFactPath[] };
