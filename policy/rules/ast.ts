/**
 * A narrow, defensive view of cel-js's parsed AST (the user-written tree: macros keep their
 * original `call`/`rcall` node, the expansion hangs off internal metadata).
 *
 * Node shapes by `op` (cel-js 8): value: literal; id: name; '.'/'.?': [node, field];
 * call: [name, args]; rcall: [name, receiver, args]; list: nodes; map: [[k, v]];
 * '!_'/'-_': node; everything else ('&&', '==', '[]', '?:', ...): node[].
 * Walks are iterative, so a deep left-leaning `a && b && ...` chain cannot exhaust the stack.
 */

export interface CelNode {
  readonly op: string;
  args: unknown;
  readonly start: number;
  readonly end: number;
  readonly pos: number;
  readonly checkedType?: { readonly name: string };
}

export function isNode(v: unknown): v is CelNode {
  return typeof v === 'object' && v !== null && typeof (v as { op?: unknown }).op === 'string' && 'args' in v;
}

export function children(node: CelNode): CelNode[] {
  const a = node.args;
  switch (node.op) {
    case 'value':
    case 'id':
      return [];
    case '.':
    case '.?':
      return isNode((a as unknown[])[0]) ? [(a as unknown[])[0] as CelNode] : [];
    case 'call':
      return ((a as unknown[])[1] as unknown[]).filter(isNode);
    case 'rcall': {
      const [, receiver, args] = a as [string, unknown, unknown[]];
      return [receiver, ...args].filter(isNode);
    }
    case 'map':
      return (a as unknown[][]).flat().filter(isNode);
    default:
      if (isNode(a)) return [a];
      if (Array.isArray(a)) return a.filter(isNode);
      return [];
  }
}

/** Pre-order visit of every node. */
export function* walk(root: CelNode): Generator<CelNode> {
  const stack: CelNode[] = [root];
  while (stack.length) {
    const node = stack.pop() as CelNode;
    yield node;
    const kids = children(node);
    for (let i = kids.length - 1; i >= 0; i--) stack.push(kids[i] as CelNode);
  }
}

export function depth(root: CelNode): number {
  let max = 0;
  const stack: [CelNode, number][] = [[root, 1]];
  while (stack.length) {
    const [node, d] = stack.pop() as [CelNode, number];
    if (d > max) max = d;
    for (const k of children(node)) stack.push([k, d + 1]);
  }
  return max;
}

export function isStringLiteral(node: unknown): node is CelNode & { args: string } {
  return isNode(node) && node.op === 'value' && typeof node.args === 'string';
}

export function callName(node: CelNode): string | undefined {
  if (node.op !== 'call' && node.op !== 'rcall') return undefined;
  const name = (node.args as unknown[])[0];
  return typeof name === 'string' ? name : undefined;
}

export function callArgs(node: CelNode): CelNode[] {
  if (node.op === 'call') return ((node.args as unknown[])[1] as unknown[]).filter(isNode);
  if (node.op === 'rcall') return ((node.args as unknown[])[2] as unknown[]).filter(isNode);
  return [];
}

export function receiver(node: CelNode): CelNode | undefined {
  if (node.op !== 'rcall') return undefined;
  const r = (node.args as unknown[])[1];
  return isNode(r) ? r : undefined;
}

/** `sql.verb` -> 'sql.verb', `peer.name` -> 'peer.name', `now` -> 'now'; else undefined. */
export function selectPath(node: CelNode): string | undefined {
  if (node.op === 'id' && typeof node.args === 'string') return node.args;
  if (node.op === '.') {
    const [inner, field] = node.args as [unknown, unknown];
    if (isNode(inner) && inner.op === 'id' && typeof inner.args === 'string' && typeof field === 'string') {
      return `${inner.args}.${field}`;
    }
  }
  return undefined;
}

/** Macros that bind an iteration/local variable as their first argument. */
export const BINDING_MACROS: ReadonlySet<string> = new Set(['all', 'exists', 'exists_one', 'map', 'filter', 'bind']);
