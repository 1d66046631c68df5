/**
 * Rule engine throughput: decisions per second for a 50-rule Postgres policy, against a baseline
 * measured in the same run: one trivial compiled cel-js expression (`x == 1`). The ratio says
 * how many trivial CEL evaluations one decision costs, which is stable across machines.
 *
 *   node --import tsx bench/rules.ts
 */
import { Environment } from '@marcbachmann/cel-js';
import { compileCondition, decide, prepareRules, toCelFacts, type RuleForDecision } from '../policy/rules/index.js';

const TABLES = ['users', 'api_tokens', 'payments', 'audit_log', 'sessions', 'secrets', 'invoices', 'orders', 'env_vars', 'keys'];

/** 50 rules shaped like real ones: verb lists, table sets, column sets, regexes, pins, hours. */
function policySources(): string[] {
  const out: string[] = [];
  for (let i = 0; i < 10; i++) {
    const t = TABLES[i] as string;
    out.push(`sql.verb in ['drop', 'truncate', 'alter'] && '${t}' in sql.tables`);
    out.push(`sets.intersects(sql.tables, ['${t}', '${t}_archive']) && sql.verb in ['delete', 'update']`);
    out.push(`sets.intersects(sql.columns, ['${t}.secret', '${t}.*'])`);
    out.push(`sql.functions.exists(f, f == 'pg_sleep_${i}') || re.matches('(?i)copy .* to program ${i}', sql.statement)`);
    out.push(`sql.database == 'db${i}' && sql.user != 'owner' && now.getHours() < 6`);
  }
  return out;
}

function buildRules(): readonly RuleForDecision[] {
  const rules = policySources().map((src, i): RuleForDecision => {
    const r = compileCondition('sql', src);
    if (!r.ok) throw new Error(`${src}: ${JSON.stringify(r.diagnostics)}`);
    return { name: `rule-${i}`, priority: 100 - (i % 7), order: i, condition: r.condition, verdict: 'deny', ...(i % 9 === 8 ? { credential: 'pg-rw' } : {}) };
  });
  // The last rule allows what none of the others caught: every request walks all 50.
  const allowSelect = compileCondition('sql', "sql.verb == 'select'");
  if (!allowSelect.ok) throw new Error('allow rule');
  rules.push({ name: 'allow-select', priority: -100, order: 999, condition: allowSelect.condition, verdict: 'allow' });
  return prepareRules(rules);
}

const REQUEST = {
  peer: { name: 'agent', address: '100.64.0.2' },
  profile: 'platform',
  credential: 'pg-ro',
  endpoint: 'postgres.prod',
  now: new Date('2026-03-02T10:00:00Z'),
  sql: {
    verb: 'select',
    tables: ['orders', 'customers', 'public.orders'],
    columns: ['orders.id', 'orders.total', 'customers.name'],
    functions: ['count', 'sum'],
    statement: 'SELECT o.id, sum(o.total), c.name FROM public.orders o JOIN customers c ON c.id = o.customer GROUP BY 1, 3',
    database: 'app',
    user: 'agent',
  },
};

function opsPerSecond(fn: () => void, seconds = 1): number {
  for (let i = 0; i < 2_000; i++) fn();
  let n = 0;
  const start = performance.now();
  const until = start + seconds * 1000;
  let now = start;
  while (now < until) {
    for (let i = 0; i < 500; i++) fn();
    n += 500;
    now = performance.now();
  }
  return (n * 1000) / (now - start);
}

function fmt(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)} M/s` : `${(n / 1e3).toFixed(1)} k/s`;
}

export function main(): { baseline: number; typicalCondition: number; decide: number; decideWithConversion: number; decideUnknown: number } {
  const env = new Environment().registerVariable('x', 'int');
  const trivial = env.parse('x == 1');
  trivial.check();
  const ctx = { x: 1n };
  let sink = 0;
  const baseline = opsPerSecond(() => {
    if (trivial(ctx) === true) sink++;
  });

  // A second reference: one typical rule condition, straight through cel-js, no engine around it.
  const typicalEnv = new Environment().registerVariable('sql', 'map');
  const typical = typicalEnv.parse("sql.verb in ['drop', 'truncate', 'alter'] && 'users' in sql.tables");
  typical.check();
  const typicalCtx = { sql: { verb: 'select', tables: ['orders', 'customers'] } };
  const typicalRate = opsPerSecond(() => {
    if (typical(typicalCtx) === false) sink++;
  });

  const rules = buildRules();
  const facts = toCelFacts('sql', REQUEST);
  const check = decide(rules, { facts, credential: 'pg-ro' });
  if (check.rule !== 'allow-select') throw new Error(`bench policy decided ${check.rule} (${check.code})`);

  const decideRate = opsPerSecond(() => {
    if (decide(rules, { facts, credential: 'pg-ro' }).verdict === 'allow') sink++;
  });
  const withConversion = opsPerSecond(() => {
    if (decide(rules, { facts: toCelFacts('sql', REQUEST), credential: 'pg-ro' }).verdict === 'allow') sink++;
  });
  const unknown = new Set(['sql.columns']);
  const unknownRate = opsPerSecond(() => {
    if (decide(rules, { facts, unknown, unknownCause: 'truncated', credential: 'pg-ro' }).verdict === 'deny') sink++;
  });
  if (sink === 0) throw new Error('nothing measured');

  console.log(`baseline: trivial cel-js expression        ${fmt(baseline)}`);
  console.log(`reference: one typical condition, cel-js   ${fmt(typicalRate)}   ratio ${(baseline / typicalRate).toFixed(1)}x`);
  console.log(`decide, 51 rules walked (facts converted)  ${fmt(decideRate)}   ratio ${(baseline / decideRate).toFixed(1)}x baseline per decision, ${(baseline / decideRate / 51).toFixed(2)}x per rule`);
  console.log(`decide + toCelFacts per request            ${fmt(withConversion)}   ratio ${(baseline / withConversion).toFixed(1)}x`);
  console.log(`decide, one unknown fact (fails closed)    ${fmt(unknownRate)}   ratio ${(baseline / unknownRate).toFixed(1)}x`);
  return { baseline, typicalCondition: typicalRate, decide: decideRate, decideWithConversion: withConversion, decideUnknown: unknownRate };
}

if (import.meta.url === `file://${process.argv[1]}`) main();
