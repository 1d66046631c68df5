/**
 * Literal normalisation for lowercase facts, as the reference does (REFERENCE §3.1).
 *
 * `sql.verb`, `http.method`, `k8s.verb`, `ssh.verb` and the elements of `sql.functions` are
 * lowercase by contract, and `http.headers` keys are lowercase header names. A rule author
 * writing `sql.verb == 'DROP'` means DROP; leaving the literal as written would make the rule
 * silently never match, which for a deny rule is a hole. So string literals meeting those facts
 * through `==`, `!=`, `in`, `startsWith`/`endsWith`/`contains`, `sets.*`, a header index or a
 * macro variable ranging over `sql.functions` are lowercased in the AST before type checking.
 * Regex patterns are never touched (`re.matches` has `(?i)` for that).
 */
import { callArgs, callName, children, isNode, receiver, selectPath, BINDING_MACROS, type CelNode } from './ast.js';
import { LOWERCASE_KEY_FACTS, LOWERCASE_LIST_FACTS, LOWERCASE_STRING_FACTS } from './facts.js';

type Scope = ReadonlySet<string>;

function isLowerList(node: CelNode): boolean {
  const p = selectPath(node);
  return p !== undefined && LOWERCASE_LIST_FACTS.has(p);
}

function isLowerKeyMap(node: CelNode): boolean {
  const p = selectPath(node);
  return p !== undefined && LOWERCASE_KEY_FACTS.has(p);
}

function isLowerString(node: CelNode, scope: Scope): boolean {
  if (node.op === 'id' && typeof node.args === 'string') return scope.has(node.args);
  const p = selectPath(node);
  if (p !== undefined && LOWERCASE_STRING_FACTS.has(p)) return true;
  if (node.op === '[]') {
    const inner = (node.args as unknown[])[0];
    return isNode(inner) && isLowerList(inner);
  }
  return false;
}

/** Lowercase the string literals of a literal-ish expression, recording the originals. */
function lowerLiterals(node: unknown, changed: string[]): void {
  if (!isNode(node)) return;
  if (node.op === 'value') {
    if (typeof node.args === 'string') {
      const lower = node.args.toLowerCase();
      if (lower !== node.args) {
        changed.push(node.args);
        node.args = lower;
      }
    }
    return;
  }
  if (node.op === 'list' && Array.isArray(node.args)) {
    for (const el of node.args) lowerLiterals(el, changed);
    return;
  }
  if (node.op === '?:' && Array.isArray(node.args)) {
    lowerLiterals(node.args[1], changed);
    lowerLiterals(node.args[2], changed);
  }
}

const STRING_METHODS = new Set(['startsWith', 'endsWith', 'contains']);
const SET_FUNCTIONS = new Set(['contains', 'intersects', 'equivalent']);

/** Mutates literal nodes in place; returns the literals (as written) that were lowercased. */
export function normaliseLowercaseLiterals(root: CelNode): string[] {
  const changed: string[] = [];
  const stack: [CelNode, Scope][] = [[root, new Set()]];
  while (stack.length) {
    const [node, scope] = stack.pop() as [CelNode, Scope];
    const args = node.args as unknown[];
    switch (node.op) {
      case '==':
      case '!=': {
        const [l, r] = args;
        if (isNode(l) && isLowerString(l, scope)) lowerLiterals(r, changed);
        if (isNode(r) && isLowerString(r, scope)) lowerLiterals(l, changed);
        break;
      }
      case 'in': {
        const [l, r] = args;
        if (isNode(l) && isLowerString(l, scope) && isNode(r) && r.op === 'list') lowerLiterals(r, changed);
        if (isNode(r) && (isLowerList(r) || isLowerKeyMap(r))) lowerLiterals(l, changed);
        break;
      }
      case '[]': {
        const [m, k] = args;
        if (isNode(m) && isLowerKeyMap(m)) lowerLiterals(k, changed);
        break;
      }
      case 'rcall': {
        const name = callName(node);
        const recv = receiver(node);
        const fnArgs = callArgs(node);
        if (name && recv && STRING_METHODS.has(name) && isLowerString(recv, scope)) lowerLiterals(fnArgs[0], changed);
        if (name && recv && SET_FUNCTIONS.has(name) && recv.op === 'id' && recv.args === 'sets' && fnArgs.length === 2) {
          const [a, b] = fnArgs as [CelNode, CelNode];
          if (isLowerList(a)) lowerLiterals(b, changed);
          if (isLowerList(b)) lowerLiterals(a, changed);
        }
        if (name && recv && BINDING_MACROS.has(name) && fnArgs[0]?.op === 'id' && typeof fnArgs[0].args === 'string') {
          // The macro variable ranges over the receiver's elements inside the other arguments.
          const variable = fnArgs[0].args;
          const inner = new Set(scope);
          inner.delete(variable);
          if (name !== 'bind' && isLowerList(recv)) inner.add(variable);
          stack.push([recv, scope]);
          for (const a of fnArgs.slice(1)) stack.push([a, inner]);
          continue;
        }
        break;
      }
      default:
        break;
    }
    // Generic descent; macro bodies were handled above with their own scope.
    const kids = children(node);
    for (const k of kids) stack.push([k, scope]);
  }
  return changed;
}
