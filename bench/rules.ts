/**
 * Rule engine throughput: decisions per second for a 50-rule Postgres policy, against a baseline
 * measured in the same run: one trivial compiled cel-js expression (`x == 1`). The ratio says
 * how many trivial CEL evaluations one decision costs, which is stable across machines.
 * Then the appliance's own path, CompiledPolicy.decide() with plain facts as the Postgres session
 * passes them, for the 20-rule policy of bench/postgres.ts with a different statement every time
 * (pgbench -S), and for the 50-rule policy with varying statements.
 *
 *   node --import tsx bench/rules.ts
 */
import { Environment } from '@marcbachmann/cel-js';
import { loadConfigTexts } from '../policy/config/load.js';
import { CompiledPolicy, type PolicyRequest } from '../policy/engine.js';
import { PGBENCH_ALLOW_CONDITION, PGBENCH_DENY_CONDITIONS } from './pgbench-policy.js';
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


function hclRule(name: string, condition: string, verdict: 'allow' | 'deny', extra = ''): string {
  return `rule "${name}" {\n  endpoint  = postgres.prod\n  condition = ${JSON.stringify(condition)}\n  verdict   = "${verdict}"\n${extra}}\n`;
}

/** A compiled policy as the appliance holds it: one postgres endpoint, one credential, these rules. */
async function compiledPolicy(rules: string): Promise<CompiledPolicy> {
  const text = `gateway {
  state_dir        = "./state"
  dashboard_listen = "127.0.0.1:8080"
  wireguard {
    listen_port = 51820
    subnet_cidr = "100.64.0.0/24"
  }
}
endpoint "postgres" "prod" {
  host    = "db.internal:5432"
  sslmode = "disable"
}
credential "postgres_credential" "pg-ro" {
  endpoint = postgres.prod
  user     = "agent"
  password = env("BENCH_UNUSED_PASSWORD")
}
profile "platform" {
  credentials = [postgres_credential.pg-ro]
}
${rules}`;
  const loaded = await loadConfigTexts([{ file: 'bench.hcl', text }], { source: 'bench.hcl', baseDir: '.' });
  if (!loaded.config) throw new Error(`bench policy does not load: ${JSON.stringify(loaded.diagnostics)}`);
  return new CompiledPolicy(loaded.config);
}

function twentyRulePolicy(): Promise<CompiledPolicy> {
  const rules = PGBENCH_DENY_CONDITIONS.map((c, i) => hclRule(`deny-${i}`, c, 'deny', `  reason    = "bench rule ${i}"\n`));
  rules.push(hclRule('reads', PGBENCH_ALLOW_CONDITION, 'allow'));
  return compiledPolicy(rules.join(''));
}

function fiftyRulePolicy(): Promise<CompiledPolicy> {
  const rules = policySources().map((c, i) => hclRule(`rule-${i}`, c, 'deny', `  priority  = ${100 - (i % 7)}\n`));
  rules.push(hclRule('allow-select', "sql.verb == 'select'", 'allow', '  priority  = -100\n'));
  return compiledPolicy(rules.join(''));
}

/** The 20-rule policy straight to prepareRules, to measure decide() with and without the memo. */
function twentyRuleList(memo: boolean): readonly RuleForDecision[] {
  const compiled = (src: string) => {
    const r = compileCondition('sql', src);
    if (!r.ok) throw new Error(`${src}: ${JSON.stringify(r.diagnostics)}`);
    return r.condition;
  };
  const rules: RuleForDecision[] = PGBENCH_DENY_CONDITIONS.map((src, i) => ({ name: `deny-${i}`, priority: 0, order: i, condition: compiled(src), verdict: 'deny' }));
  rules.push({ name: 'reads', priority: 0, order: 99, condition: compiled(PGBENCH_ALLOW_CONDITION), verdict: 'allow' });
  return prepareRules(rules, { memo });
}

const PEER = { name: 'agent', address: '100.64.0.2', profile: 'platform' };

function pgbenchSql(n: number) {
  return {
    verb: 'select',
    tables: ['pgbench_accounts'],
    columns: ['pgbench_accounts.abalance', 'pgbench_accounts.aid'],
    functions: [],
    statement: `SELECT abalance FROM pgbench_accounts WHERE aid = ${n};`,
    database: 'app',
    user: 'agent',
  };
}

/** One pgbench -S statement as the Postgres session hands it over: plain facts, a new statement each time. */
function pgbenchRequest(n: number, now: Date): PolicyRequest {
  return {
    peer: PEER,
    endpoint: 'postgres.prod',
    credential: 'postgres_credential.pg-ro',
    facts: { sql: pgbenchSql(n) },
    unknown: [],
    unknownCause: 'unparseable',
    now,
  };
}

/** The same statement as decide() sees it from CompiledPolicy: plain facts with the common ones. */
function pgbenchFacts(n: number, now: Date): Record<string, unknown> {
  return { sql: pgbenchSql(n), peer: { name: PEER.name, address: PEER.address }, profile: PEER.profile, credential: 'postgres_credential.pg-ro', endpoint: 'postgres.prod', now };
}

/** The 50-rule bench request, with its statement varied the same way. */
function ordersRequest(n: number, now: Date): PolicyRequest {
  return {
    peer: PEER,
    endpoint: 'postgres.prod',
    credential: 'postgres_credential.pg-ro',
    facts: { sql: { ...REQUEST.sql, statement: `${REQUEST.sql.statement} LIMIT ${n}` } },
    unknown: [],
    unknownCause: 'unparseable',
    now,
  };
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

export async function main(): Promise<{
  baseline: number;
  typicalCondition: number;
  decide: number;
  decideWithConversion: number;
  decideUnknown: number;
  policy20: number;
  decide20MemoOff: number;
  decide20MemoOn: number;
  policy50: number;
}> {
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

  const now = new Date('2026-03-02T10:00:00Z');
  let n = 0;
  const twenty = await twentyRulePolicy();
  const first20 = twenty.decide(pgbenchRequest(1, now));
  if (first20.rule !== 'reads') throw new Error(`20-rule policy decided ${first20.rule} (${first20.code})`);
  const policy20 = opsPerSecond(() => {
    if (twenty.decide(pgbenchRequest(++n, now)).verdict === 'allow') sink++;
  });
  const memoOff = twentyRuleList(false);
  const memoOn = twentyRuleList(true);
  const decide20MemoOff = opsPerSecond(() => {
    if (decide(memoOff, { facts: pgbenchFacts(++n, now), credential: 'postgres_credential.pg-ro' }).verdict === 'allow') sink++;
  });
  const decide20MemoOn = opsPerSecond(() => {
    if (decide(memoOn, { facts: pgbenchFacts(++n, now), credential: 'postgres_credential.pg-ro' }).verdict === 'allow') sink++;
  });
  const fifty = await fiftyRulePolicy();
  const first50 = fifty.decide(ordersRequest(1, now));
  if (first50.rule !== 'allow-select') throw new Error(`50-rule policy decided ${first50.rule} (${first50.code})`);
  const policy50 = opsPerSecond(() => {
    if (fifty.decide(ordersRequest(++n, now)).verdict === 'allow') sink++;
  });
  if (sink === 0) throw new Error('nothing measured');

  console.log(`baseline: trivial cel-js expression        ${fmt(baseline)}`);
  console.log(`reference: one typical condition, cel-js   ${fmt(typicalRate)}   ratio ${(baseline / typicalRate).toFixed(1)}x`);
  console.log(`decide, 51 rules walked (facts converted)  ${fmt(decideRate)}   ratio ${(baseline / decideRate).toFixed(1)}x baseline per decision, ${(baseline / decideRate / 51).toFixed(2)}x per rule`);
  console.log(`decide + toCelFacts per request            ${fmt(withConversion)}   ratio ${(baseline / withConversion).toFixed(1)}x`);
  console.log(`decide, one unknown fact (fails closed)    ${fmt(unknownRate)}   ratio ${(baseline / unknownRate).toFixed(1)}x`);
  const us = (rate: number) => `${(1e6 / rate).toFixed(2)} us/decision`;
  console.log(`CompiledPolicy.decide, 20-rule pgbench -S   ${fmt(policy20)}   ratio ${(baseline / policy20).toFixed(1)}x   ${us(policy20)}`);
  console.log(`  decide(), 20 rules, memo off              ${fmt(decide20MemoOff)}   ratio ${(baseline / decide20MemoOff).toFixed(1)}x   ${us(decide20MemoOff)}`);
  console.log(`  decide(), 20 rules, memo on               ${fmt(decide20MemoOn)}   ratio ${(baseline / decide20MemoOn).toFixed(1)}x   ${us(decide20MemoOn)}   (${(decide20MemoOn / decide20MemoOff).toFixed(1)}x the rate without)`);
  console.log(`CompiledPolicy.decide, 51 rules, statements vary ${fmt(policy50)}   ratio ${(baseline / policy50).toFixed(1)}x   ${us(policy50)}`);
  return {
    baseline,
    typicalCondition: typicalRate,
    decide: decideRate,
    decideWithConversion: withConversion,
    decideUnknown: unknownRate,
    policy20,
    decide20MemoOff,
    decide20MemoOn,
    policy50,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
