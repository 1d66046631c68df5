/**
 * Which facts a condition reads, by static analysis of the AST: `sql.verb` -> 'sql.verb',
 * `http.query['x']` -> 'http.query', `now` -> 'now', a bare `sql` (e.g. `dyn(sql)`) -> 'sql'.
 *
 * Over-approximation is the safe side: reading more facts than really needed can only make a
 * rule unevaluable (deny) more often. Macro variables cannot shadow fact names (refusals.ts),
 * so every fact-root identifier really is the fact.
 */
import { children, isNode, isStringLiteral, type CelNode } from './ast.js';

export function factsRead(root: CelNode, factRoots: ReadonlySet<string>): ReadonlySet<string> {
  const reads = new Set<string>();
  const stack: CelNode[] = [root];
  while (stack.length) {
    const node = stack.pop() as CelNode;
    const args = node.args as unknown[];
    if (node.op === 'id' && typeof node.args === 'string') {
      if (factRoots.has(node.args)) reads.add(node.args);
      continue;
    }
    if ((node.op === '.' || node.op === '[]') && Array.isArray(args)) {
      const inner = args[0];
      if (isNode(inner) && inner.op === 'id' && typeof inner.args === 'string' && factRoots.has(inner.args)) {
        const key = node.op === '.' ? args[1] : isStringLiteral(args[1]) ? args[1].args : undefined;
        reads.add(typeof key === 'string' ? `${inner.args}.${key}` : inner.args);
        if (node.op === '[]' && isNode(args[1])) stack.push(args[1]);
        continue;
      }
    }
    for (const k of children(node)) stack.push(k);
  }
  return reads;
}
