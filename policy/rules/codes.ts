/** Stable codes: logs, audit records and the dashboard filter on these, so never rename one. */

/** Load-time diagnostics of a condition. */
export const CompileCode = Object.freeze({
  UNKNOWN_FAMILY: 'POL_CEL_UNKNOWN_FAMILY',
  EMPTY: 'POL_CEL_EMPTY',
  TOO_LARGE: 'POL_CEL_TOO_LARGE',
  TOO_DEEP: 'POL_CEL_TOO_DEEP',
  SYNTAX: 'POL_CEL_SYNTAX',
  TYPE: 'POL_CEL_TYPE',
  NOT_BOOL: 'POL_CEL_NOT_BOOL',
  MATCHES_REFUSED: 'POL_CEL_MATCHES_REFUSED',
  SHADOWED: 'POL_CEL_SHADOWED',
  BAD_REGEX: 'POL_CEL_BAD_REGEX',
  /** `re.matches(fact, 'literal')`: almost surely swapped arguments (pattern first). */
  REGEX_ARGS: 'POL_CEL_REGEX_ARGS',
  INTERNAL: 'POL_CEL_INTERNAL',
} as const);
export type CompileCode = (typeof CompileCode)[keyof typeof CompileCode];

/** Why a request got its verdict. */
export const DecisionCode = Object.freeze({
  RULE_ALLOW: 'RULE_ALLOW',
  RULE_DENY: 'RULE_DENY',
  RULE_APPROVE: 'RULE_APPROVE',
  NO_MATCH_DENY: 'NO_MATCH_DENY',
  NO_MATCH_ALLOW: 'NO_MATCH_ALLOW',
  /** A rule read a fact the request could not provide (truncated / unparseable). */
  UNEVALUABLE: 'POL_UNEVALUABLE',
  /** A rule failed at run time (missing map key, wrong-typed fact, bad run-time regex). */
  EVAL_ERROR: 'POL_EVAL_ERROR',
  /** A rule that is not well formed (no verdict, foreign condition): the loader should refuse it. */
  INVALID_RULE: 'POL_INVALID_RULE',
} as const);
export type DecisionCode = (typeof DecisionCode)[keyof typeof DecisionCode];
