/**
 * Enforces the dependency directions of ARCHITECTURE.md on every source file:
 * appliance -> {policy, protocols, netstack}; policy -> protocols (types only);
 * netstack and protocols never import each other; inside netstack
 * wire <- wireguard, tcp, udp <- ip <- stack, with io beside them.
 * Pure layers (netstack except io, protocols, policy/rules) do no file, socket or timer I/O.
 */
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TOP = ['appliance', 'netstack', 'protocols', 'policy'] as const;

interface Import {
  from: string; // file, relative to ROOT
  spec: string;
  typeOnly: boolean;
  line: number;
}

function sourceFiles(dir: string): string[] {
  const abs = join(ROOT, dir);
  try {
    statSync(abs);
  } catch {
    return [];
  }
  return readdirSync(abs, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => join(dir, f));
}

export function importsOf(file: string, text: string): Import[] {
  const out: Import[] = [];
  const lines = text.split('\n');
  // Static imports and re-exports, possibly spanning lines: join the statement first.
  const statement = /(^|\n)\s*(import|export)\s+(type\s+)?([^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/g;
  for (const m of text.matchAll(statement)) {
    const line = text.slice(0, m.index).split('\n').length + (m[1] ? 1 : 0);
    out.push({ from: file, spec: m[5]!, typeOnly: Boolean(m[3]), line });
  }
  lines.forEach((l, i) => {
    for (const m of l.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push({ from: file, spec: m[1]!, typeOnly: false, line: i + 1 });
  });
  return out;
}

function area(path: string): string {
  const parts = path.split(sep);
  if (parts[0] === 'netstack' && parts.length > 2) return `netstack/${parts[1]}`;
  if (parts[0] === 'policy' && parts.length > 2) return `policy/${parts[1]}`;
  return parts[0]!;
}

const NETSTACK_ALLOWED: Record<string, string[]> = {
  'netstack/wire': ['netstack/wire'],
  'netstack/wireguard': ['netstack/wire', 'netstack/wireguard', 'netstack'],
  'netstack/tcp': ['netstack/wire', 'netstack/tcp', 'netstack'],
  'netstack/udp': ['netstack/wire', 'netstack/udp', 'netstack'],
  'netstack/ip': ['netstack/wire', 'netstack/tcp', 'netstack/udp', 'netstack/ip', 'netstack'],
  'netstack/stack': ['netstack/wire', 'netstack/wireguard', 'netstack/tcp', 'netstack/udp', 'netstack/ip', 'netstack/stack', 'netstack'],
  'netstack/io': ['netstack/wire', 'netstack/io', 'netstack/tcp', 'netstack'],
  netstack: ['netstack'],
};

/** Why an edge is forbidden, or undefined when it is allowed. */
export function violation(fromFile: string, target: string, typeOnly: boolean): string | undefined {
  const fromTop = fromFile.split(sep)[0]!;
  const toTop = target.split(sep)[0]!;
  if (!TOP.includes(toTop as (typeof TOP)[number])) {
    return `imports ${target}, outside the source tree`;
  }
  if (fromTop === 'appliance') return undefined;
  if (fromTop === 'netstack') {
    if (toTop !== 'netstack') return `netstack must not import ${toTop}/`;
    const fromArea = area(fromFile);
    const toArea = area(target);
    const allowed = NETSTACK_ALLOWED[fromArea] ?? [fromArea, 'netstack/wire', 'netstack'];
    return allowed.includes(toArea) ? undefined : `${fromArea} must not import ${toArea}`;
  }
  if (fromTop === 'protocols') return toTop === 'protocols' ? undefined : `protocols must not import ${toTop}/`;
  if (fromTop === 'policy') {
    if (toTop === 'policy') return undefined;
    if (toTop === 'protocols' && typeOnly) return undefined;
    return toTop === 'protocols' ? 'policy may import only types from protocols (use `import type`)' : `policy must not import ${toTop}/`;
  }
  return undefined;
}

const IO_MODULES = ['fs', 'fs/promises', 'dgram', 'net', 'http', 'https', 'http2', 'tls', 'child_process', 'worker_threads', 'timers', 'timers/promises'];

function isPure(file: string): boolean {
  const a = area(file);
  return (a.startsWith('netstack') && a !== 'netstack/io') || a === 'protocols' || a === 'policy/rules';
}

test('every import follows the dependency directions of ARCHITECTURE.md', () => {
  const problems: string[] = [];
  let checked = 0;
  for (const top of TOP) {
    for (const file of sourceFiles(top)) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      for (const imp of importsOf(file, text)) {
        if (imp.spec.startsWith('.')) {
          const target = relative(ROOT, resolve(ROOT, dirname(file), imp.spec));
          checked++;
          const why = violation(file, target, imp.typeOnly);
          if (why) problems.push(`${file}:${imp.line}: ${why}`);
        } else if (isPure(file)) {
          const name = imp.spec.replace(/^node:/, '');
          // node:net is allowed for its pure address helpers (isIP...), not for sockets.
          const socketUse = name === 'net' && /\b(createServer|createConnection|connect|Socket)\b/.test(text);
          if ((IO_MODULES.includes(name) && name !== 'net') || socketUse) {
            problems.push(`${file}:${imp.line}: pure layer imports ${imp.spec} (I/O belongs in appliance/ or netstack/io)`);
          }
        }
      }
      const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');
      if (isPure(file) && /\b(setTimeout|setInterval|setImmediate|Date\.now|performance\.now)\s*\(/.test(code)) {
        problems.push(`${file}: pure layer reads the clock or sets timers (time must be passed in)`);
      }
    }
  }
  assert.ok(checked > 0, 'found no imports to check: is the test looking at the right tree?');
  assert.deepEqual(problems, []);
});

test('the checker itself refuses the forbidden edges', () => {
  assert.match(violation('netstack/wire/ipv4.ts', 'policy/rules/x.ts', false) ?? '', /netstack must not import policy/);
  assert.match(violation('protocols/postgres/codec.ts', 'netstack/tcp/x.ts', false) ?? '', /protocols must not import netstack/);
  assert.match(violation('netstack/wire/ipv4.ts', 'netstack/wireguard/device.ts', false) ?? '', /netstack\/wire must not import netstack\/wireguard/);
  assert.match(violation('netstack/wireguard/device.ts', 'netstack/ip/stack.ts', false) ?? '', /must not import/);
  assert.match(violation('policy/rules/x.ts', 'protocols/postgres/facts.ts', false) ?? '', /only types/);
  assert.equal(violation('policy/rules/x.ts', 'protocols/postgres/facts.ts', true), undefined);
  assert.match(violation('policy/config/x.ts', 'appliance/cli.ts', false) ?? '', /policy must not import appliance/);
  assert.equal(violation('appliance/cli.ts', 'netstack/wireguard/device.ts', false), undefined);
  const found = importsOf('policy/a.ts', "import type {\n  A,\n} from '../protocols/x.js';\nimport { b } from './b.js';\nconst m = await import('../netstack/y.js');\n");
  assert.deepEqual(found.map((i) => [i.spec, i.typeOnly]), [['../protocols/x.js', true], ['./b.js', false], ['../netstack/y.js', false]]);
});
