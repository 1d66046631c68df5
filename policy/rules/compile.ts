/**
 * compileCondition: a rule's CEL text -> an immutable compiled condition, once, at load.
 *
 * Steps, each collecting diagnostics with file:line:col (cel-go style: the config refuses to
 * start on any): parse; bound the size and nesting; refuse `matches()` and shadowing macro
 * variables; lowercase literals compared with lowercase facts; type check against the family's
 * facts (so `sql.verbb` and `sql.verb + 1` fail here); require bool; compile literal
 * `re.matches` patterns; record the facts read. Never throws: any surprise is a diagnostic.
 */
import type { ParseResult } from '@marcbachmann/cel-js';
import { callArgs, callName, depth, isStringLiteral, receiver, walk, type CelNode } from './ast.js';
import { CompileCode } from './codes.js';
import { CEL_LIMITS, familyEnvironment, RE_TYPE } from './environment.js';
import { factsRead } from './fact-reads.js';
import { familySchema, isFamily, type Family } from './facts.js';
import { normaliseLowercaseLiterals } from './normalise.js';
import { diagnostic, type ConditionOrigin, type Diagnostic } from './positions.js';
import { pinRegex } from './re.js';
import { findRefusals, findUntypedMatches, type Finding } from './refusals.js';

/** Longest condition text accepted (a rule is a few lines; this is a guard, not a style rule). */
export const MAX_CONDITION_LENGTH = 64 * 1024;

export interface CompiledCondition {
  readonly family: Family;
  /** The condition text as given. */
  readonly source: string;
  readonly origin: ConditionOrigin | undefined;
  /** Fact paths the condition reads (`sql.verb`, `peer.name`, `now`, or a whole root `sql`). */
  readonly reads: ReadonlySet<string>;
  /** String literals (as written) lowercased because they meet a lowercase fact. */
  readonly lowercased: readonly string[];
}

export type CompileResult = { ok: true; condition: CompiledCondition } | { ok: false; diagnostics: Diagnostic[] };

/** The executable part, kept out of the public object so a condition cannot be forged. */
const programs = new WeakMap<CompiledCondition, ParseResult>();

export function programOf(condition: unknown): ParseResult | undefined {
  return typeof condition === 'object' && condition !== null ? programs.get(condition as CompiledCondition) : undefined;
}

interface CelErrorLike {
  readonly code?: unknown;
  readonly summary?: unknown;
  readonly message?: unknown;
  readonly range?: { readonly start?: unknown };
}

function errorOffset(error: unknown): number {
  const start = (error as CelErrorLike | undefined)?.range?.start;
  return typeof start === 'number' ? start : 0;
}

function errorSummary(error: unknown): string {
  const e = error as CelErrorLike | undefined;
  if (typeof e?.summary === 'string') return e.summary;
  if (typeof e?.message === 'string') return e.message.split('\n')[0] ?? '';
  return String(error);
}

function unknownNameHint(summary: string, family: Family): string {
  const schema = familySchema(family);
  const unknownVariable = /^Unknown variable: (.+)$/.exec(summary);
  if (unknownVariable) {
    return `${summary} (${family} rules can read: ${[...schema.roots].sort().join(', ')}, and the namespaces sets and re)`;
  }
  return summary;
}

function fail(source: string, origin: ConditionOrigin | undefined, findings: Finding[]): CompileResult {
  const diagnostics = findings
    .slice()
    .sort((a, b) => a.offset - b.offset)
    .map((f) => diagnostic(source, f.offset, origin, f.code, f.message));
  return { ok: false, diagnostics };
}

export function compileCondition(family: Family, source: string, origin?: ConditionOrigin): CompileResult {
  try {
    return compileUnchecked(family, source, origin);
  } catch (error) {
    // cel-js threw something unexpected (a bug, or a stack overflow on a pathological input).
    return fail(typeof source === 'string' ? source : '', origin, [
      { offset: 0, code: CompileCode.INTERNAL, message: `condition could not be compiled: ${errorSummary(error)}` },
    ]);
  }
}

function compileUnchecked(family: Family, source: string, origin: ConditionOrigin | undefined): CompileResult {
  if (!isFamily(family)) {
    return fail('', origin, [{ offset: 0, code: CompileCode.UNKNOWN_FAMILY, message: `unknown endpoint family '${String(family)}'` }]);
  }
  if (typeof source !== 'string' || source.trim() === '') {
    return fail('', origin, [{ offset: 0, code: CompileCode.EMPTY, message: 'condition is empty; omit it to match every request' }]);
  }
  if (source.length > MAX_CONDITION_LENGTH) {
    return fail(source, origin, [
      { offset: 0, code: CompileCode.TOO_LARGE, message: `condition is longer than ${MAX_CONDITION_LENGTH} characters` },
    ]);
  }

  const env = familyEnvironment(family);
  const schema = familySchema(family);
  let program: ParseResult;
  try {
    program = env.parse(source);
  } catch (error) {
    const code = (error as CelErrorLike).code === 'limit_exceeded' ? CompileCode.TOO_LARGE : CompileCode.SYNTAX;
    return fail(source, origin, [{ offset: errorOffset(error), code, message: `syntax error: ${errorSummary(error)}` }]);
  }
  const root = program.ast as unknown as CelNode;

  // cel-js bounds nesting of calls and brackets but not of `a && b && ...` chains; its checker
  // and evaluator recurse, so bound the tree depth before handing it over.
  if (depth(root) > CEL_LIMITS.maxDepth) {
    return fail(source, origin, [
      { offset: 0, code: CompileCode.TOO_DEEP, message: `condition nests deeper than ${CEL_LIMITS.maxDepth} levels; split it into several rules` },
    ]);
  }

  const findings = findRefusals(root, schema.roots);
  const lowercased = normaliseLowercaseLiterals(root);

  const checked = program.check();
  if (!checked.valid) {
    const summary = unknownNameHint(errorSummary(checked.error), family);
    findings.push({ offset: errorOffset(checked.error), code: CompileCode.TYPE, message: `type error: ${summary}` });
    return fail(source, origin, findings);
  }
  if (checked.type !== 'bool') {
    findings.push({
      offset: 0,
      code: CompileCode.NOT_BOOL,
      message: `condition must be a bool, but it is ${checked.type ?? 'unknown'}${checked.type === 'dyn' ? " (compare explicitly, e.g. '== true')" : ''}`,
    });
  }
  findings.push(...findUntypedMatches(root));
  findings.push(...literalPatternFindings(root));
  if (findings.length) return fail(source, origin, dedupe(findings));

  const condition: CompiledCondition = Object.freeze({
    family,
    source,
    origin: origin ? Object.freeze({ ...origin }) : undefined,
    reads: factsRead(root, schema.roots),
    lowercased: Object.freeze(lowercased),
  });
  programs.set(condition, program);
  return { ok: true, condition };
}

/** `re.matches('<literal>', x)`: compile now, so a bad pattern is a load error at the pattern. */
function literalPatternFindings(root: CelNode): Finding[] {
  const findings: Finding[] = [];
  for (const node of walk(root)) {
    if (callName(node) !== 'matches' || receiver(node)?.checkedType?.name !== RE_TYPE) continue;
    const [pattern, text] = callArgs(node);
    if (!isStringLiteral(pattern)) {
      // A run-time pattern would be agent-controlled; with a literal text it is a swap.
      if (isStringLiteral(text)) {
        findings.push({
          offset: node.start,
          code: CompileCode.REGEX_ARGS,
          message: 're.matches(pattern, text) takes the pattern first; here the text is a literal and the pattern is not (arguments swapped?)',
        });
      }
      continue;
    }
    const compiled = pinRegex(pattern.args);
    if (!compiled.ok) {
      findings.push({ offset: pattern.start, code: CompileCode.BAD_REGEX, message: `invalid regular expression: ${compiled.message}` });
    }
  }
  return findings;
}

function dedupe(findings: Finding[]): Finding[] {
  const seen = new Set<string>();
  return findings.filter((f) => {
    const key = `${f.offset}|${f.code}|${f.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
