/**
 * `npm run bench [-- NAME...]`: every benchmark, or the named ones. Each prints its own figures
 * and a ratio against a baseline measured in the same run (absolute numbers on a shared 2-core
 * machine mean little; ratios measured side by side do).
 */
import { existsSync } from 'node:fs';

const BENCHES: Record<string, () => Promise<{ main: () => unknown }>> = {
  wireguard: () => import('./wireguard.js'),
  rules: () => import('./rules.js'),
  audit: () => import('./audit.js'),
  'postgres-codec': () => import('./postgres-codec.js'),
  postgres: () => import('./postgres.js'),
  'sql-facts': () => import('./sql-facts.js'),
  tcp: () => import('./tcp.js'),
  'tunnel-tcp': () => import('./tunnel-tcp.js'),
};

// Benchmarks that start the appliance run the compiled CLI (as deployed) once `npm run build` made it.
if (existsSync(new URL('../dist/appliance/main.js', import.meta.url))) process.env.BAILIFF_USE_DIST ??= '1';

const wanted = process.argv.slice(2);
const unknown = wanted.filter((n) => !(n in BENCHES));
if (unknown.length) {
  process.stderr.write(`unknown benchmark(s): ${unknown.join(', ')} (have: ${Object.keys(BENCHES).join(', ')})\n`);
  process.exit(2);
}
for (const name of wanted.length ? wanted : Object.keys(BENCHES)) {
  process.stdout.write(`\n== ${name}\n`);
  const mod = await BENCHES[name]!();
  await mod.main();
}
