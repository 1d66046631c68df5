/**
 * `re.matches(pattern, text)`: RE2 semantics (linear time in the text, no backreferences), so a
 * rule cannot be made to backtrack catastrophically on agent-controlled text. Like CEL's
 * `matches`, the match is unanchored: use `^...$` to match the whole text.
 *
 * Patterns are compiled once and cached. Literal patterns are compiled (and rejected when
 * invalid) at load; a pattern computed at run time is compiled on first use, bounded in length,
 * and an invalid one is an evaluation error (the rule denies).
 */
import { RE2JS } from '@bufbuild/re2';

/** Longest pattern accepted from a non-literal argument (a literal is checked at load instead). */
export const MAX_RUNTIME_PATTERN = 4096;
/** Cache entries before the oldest are dropped (run-time patterns could otherwise grow it). */
const CACHE_LIMIT = 1024;

const cache = new Map<string, RE2JS>();
/** Literal patterns from the policy: never evicted, so a rule's own regex never recompiles. */
const pinned = new Map<string, RE2JS>();

export type RegexResult = { ok: true; re: RE2JS } | { ok: false; message: string };

/** Compile (or fetch) a pattern; never throws. */
export function compileRegex(pattern: string): RegexResult {
  const hit = pinned.get(pattern) ?? cache.get(pattern);
  if (hit) return { ok: true, re: hit };
  try {
    const re = RE2JS.compile(pattern);
    if (cache.size >= CACHE_LIMIT) {
      const oldest = cache.keys().next();
      if (!oldest.done) cache.delete(oldest.value);
    }
    cache.set(pattern, re);
    return { ok: true, re };
  } catch (error) {
    return { ok: false, message: error instanceof Error ? error.message : String(error) };
  }
}

/** Thrown inside CEL evaluation; cel-js turns it into an evaluation error (the rule denies). */
export class RegexError extends Error {
  override readonly name = 'RegexError';
  readonly code = 'POL_REGEX_INVALID';
}

/** Compile a literal pattern at load and keep it for the life of the process. */
export function pinRegex(pattern: string): RegexResult {
  const compiled = compileRegex(pattern);
  if (compiled.ok) pinned.set(pattern, compiled.re);
  return compiled;
}

export function reMatches(pattern: string, text: string): boolean {
  if (pattern.length > MAX_RUNTIME_PATTERN && !pinned.has(pattern)) {
    throw new RegexError(`re.matches: pattern longer than ${MAX_RUNTIME_PATTERN} characters`);
  }
  const compiled = compileRegex(pattern);
  if (!compiled.ok) throw new RegexError(`re.matches: invalid pattern: ${compiled.message}`);
  return compiled.re.test(text);
}
