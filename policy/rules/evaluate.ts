/**
 * Run one compiled condition against one request's activation.
 *
 * Outcomes: match, no match, or unevaluable with a cause. Unknown facts throw when read
 * (unknown-facts.ts), so "unevaluable because of an unknown" and "evaluation error" both arrive
 * as exceptions; when the condition reads any fact the request could not provide, the cause is
 * the unknown one (cel-go also lets unknowns win over errors), else it is an evaluation error.
 */
import type { ParseResult } from '@marcbachmann/cel-js';
import { programOf, type CompiledCondition } from './compile.js';
import { pathsOverlap, UnknownFactError, type UnknownCause } from './unknown-facts.js';

export type UnevaluableCause = 'truncated' | 'unparseable' | 'evaluation error';

export type ConditionOutcome =
  | { readonly kind: 'match' }
  | { readonly kind: 'no-match' }
  | { readonly kind: 'unevaluable'; readonly cause: UnevaluableCause; readonly detail: string };

const MATCH: ConditionOutcome = Object.freeze({ kind: 'match' });
const NO_MATCH: ConditionOutcome = Object.freeze({ kind: 'no-match' });
const MAX_DETAIL = 400;

function causeOf(why: UnknownCause): UnevaluableCause {
  return why === 'invalid' ? 'evaluation error' : why;
}

function summary(error: unknown): string {
  const e = error as { summary?: unknown; message?: unknown } | undefined;
  const text = typeof e?.summary === 'string' ? e.summary : typeof e?.message === 'string' ? e.message : String(error);
  const firstLine = text.split('\n')[0] ?? '';
  return firstLine.length > MAX_DETAIL ? `${firstLine.slice(0, MAX_DETAIL)}...` : firstLine;
}

/** The first unknown (not merely invalid) fact this condition reads, if any. */
function unknownRead(condition: CompiledCondition, poisoned: ReadonlyMap<string, UnknownCause>): [string, UnknownCause] | undefined {
  for (const [path, why] of poisoned) {
    if (why === 'invalid') continue;
    for (const read of condition.reads) if (pathsOverlap(read, path)) return [path, why];
  }
  return undefined;
}

export function runCondition(
  condition: CompiledCondition,
  context: Readonly<Record<string, unknown>>,
  poisoned: ReadonlyMap<string, UnknownCause>,
): ConditionOutcome {
  const program = programOf(condition);
  if (!program) {
    return { kind: 'unevaluable', cause: 'evaluation error', detail: 'condition was not produced by compileCondition' };
  }
  return runProgram(condition, program, context, poisoned);
}

/** runCondition with the program already looked up (decide() resolves it once per rule list). */
export function runProgram(
  condition: CompiledCondition,
  program: ParseResult,
  context: Readonly<Record<string, unknown>>,
  poisoned: ReadonlyMap<string, UnknownCause>,
): ConditionOutcome {
  let result: unknown;
  try {
    result = program(context);
  } catch (error) {
    const unknown = poisoned.size ? unknownRead(condition, poisoned) : undefined;
    if (unknown) {
      return { kind: 'unevaluable', cause: causeOf(unknown[1]), detail: `depends on unknown fact ${unknown[0]} (${unknown[1]})` };
    }
    if (error instanceof UnknownFactError) {
      return { kind: 'unevaluable', cause: causeOf(error.unknownCause), detail: `fact ${error.path} is ${error.unknownCause}` };
    }
    return { kind: 'unevaluable', cause: 'evaluation error', detail: summary(error) };
  }
  if (result === true) return MATCH;
  if (result === false) return NO_MATCH;
  // A dyn-typed corner (or an async result) that is not a bool: never guess.
  return { kind: 'unevaluable', cause: 'evaluation error', detail: `condition produced ${typeof result}, not bool` };
}
