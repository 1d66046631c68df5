/**
 * Constructs refused at load, found on the parsed AST (never by searching the text, so a
 * string literal that happens to contain "matches(" is not refused).
 *
 * - `matches()` in either form (`text.matches(re)`, `matches(text, re)`): cel-js runs it with
 *   the JS RegExp engine, which backtracks exponentially on patterns like `(a+)+$` against
 *   agent-controlled text. `re.matches(pattern, text)` (RE2) is the replacement.
 * - A macro variable named like a fact or a namespace (`tables.exists(sql, ...)`,
 *   `l.exists(re, re.matches('x'))`): it would change what `sql.verb` or `re.matches` mean
 *   inside the macro, which defeats both the checks here and the fact-read analysis.
 */
import { BINDING_MACROS, callArgs, callName, receiver, walk, type CelNode } from './ast.js';
import { CompileCode } from './codes.js';
import { RE_TYPE } from './environment.js';
import { NAMESPACE_ROOTS } from './facts.js';

export interface Finding {
  readonly offset: number;
  readonly code: string;
  readonly message: string;
}

const MATCHES_MESSAGE =
  'matches() is refused: it runs a backtracking regex on agent-controlled text; use re.matches(pattern, text) (RE2, linear time)';

function isReNamespace(node: CelNode | undefined): boolean {
  return node !== undefined && node.op === 'id' && node.args === 're';
}

/** Before type checking: structural refusals. */
export function findRefusals(root: CelNode, factRoots: ReadonlySet<string>): Finding[] {
  const findings: Finding[] = [];
  for (const node of walk(root)) {
    const name = callName(node);
    if (name === undefined) continue;
    if (name === 'matches' && !(node.op === 'rcall' && isReNamespace(receiver(node)))) {
      findings.push({ offset: node.start, code: CompileCode.MATCHES_REFUSED, message: MATCHES_MESSAGE });
      continue;
    }
    if (node.op === 'rcall' && BINDING_MACROS.has(name)) {
      const variable = callArgs(node)[0];
      if (variable?.op === 'id' && typeof variable.args === 'string') {
        const v = variable.args;
        if (factRoots.has(v) || NAMESPACE_ROOTS.has(v)) {
          findings.push({
            offset: variable.start,
            code: CompileCode.SHADOWED,
            message: `macro variable '${v}' hides the ${NAMESPACE_ROOTS.has(v) ? 'namespace' : 'fact'} of the same name; choose another name`,
          });
        }
      }
    }
  }
  return findings;
}

/** After type checking: every `matches` left must be ours, by type, not just by spelling. */
export function findUntypedMatches(root: CelNode): Finding[] {
  const findings: Finding[] = [];
  for (const node of walk(root)) {
    if (callName(node) !== 'matches') continue;
    const recv = receiver(node);
    if (!recv || recv.checkedType?.name !== RE_TYPE) {
      findings.push({ offset: node.start, code: CompileCode.MATCHES_REFUSED, message: MATCHES_MESSAGE });
    }
  }
  return findings;
}
