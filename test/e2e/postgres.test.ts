/**
 * The flagship scenario end to end, with real parts only: a PostgreSQL 15 server that requires
 * SCRAM passwords, the appliance (`bailiff run`) holding the only copy of the password, and an
 * agent namespace whose wireguard-go tunnel is configured by `bailiff peer add`, running real
 * psql, pgbench and node-postgres against `db.internal` (resolved by the appliance's DNS).
 *
 * Policy under test:
 *   no-ddl        drop/truncate/alter/create denied (hidden ones too: DO bodies)
 *   secrets       any read of env_vars.secret (directly, through *, through an alias) denied
 *   job-deletes   DELETE on jobs held for a human (decided with `bailiff approve|deny`)
 *   reads         select/set/show/begin/commit/rollback allowed
 *   anything else: no rule matched, denied (so `DELETE FROM t` and a CTE that deletes from t are denied)
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { AgentNetns } from './harness/agent-netns.js';
import { bailiff, counters, ROOT, startAppliance, testGatewayBlock } from './harness/appliance.js';
import { startPostgres, type PostgresServer } from './harness/postgres-server.js';
import { run, sleep, teardown, type Running } from './harness/processes.js';
import { requireTools } from './harness/requirements.js';

const TAG = String((process.pid + 3) % 100000);
const NET = 16 + ((process.pid + 131) % 200);
const PASSWORD = `pg-App-${Math.random().toString(36).slice(2)}-Secret`;

let work: string;
let configPath: string;
let pcapPath: string;
let pg: PostgresServer | undefined;
let appliance: (Running & { metricsUrl: string }) | undefined;
let agent: AgentNetns | undefined;

const CONN = 'host=db.internal port=5432 user=app dbname=app connect_timeout=10';

before(async () => {
  requireTools(['wireguard-go', 'wg', 'wg-quick', 'ip', 'psql', 'pgbench', 'timeout']);
  work = mkdtempSync(join(tmpdir(), 'bailiff-e2e-pg-'));
  pg = await startPostgres();
  await pg.psql(`CREATE ROLE app LOGIN PASSWORD '${PASSWORD}'`);
  await pg.psql('CREATE DATABASE app OWNER app');
  const asApp = { user: 'app', password: PASSWORD, database: 'app' };
  await pg.psql(`CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 5);
    CREATE TABLE env_vars (name text, secret text); INSERT INTO env_vars VALUES ('api', 'hunter2');
    CREATE TABLE jobs (id int PRIMARY KEY, name text); INSERT INTO jobs SELECT i, 'job' || i FROM generate_series(1, 5) i;`, asApp);
  const init = await runLocal('pgbench', ['-i', '-s', '1', '-q', '-h', '127.0.0.1', '-p', String(pg.port), '-U', 'app', 'app'], { PGPASSWORD: PASSWORD });
  assert.equal(init.code, 0, init.stderr);

  configPath = join(work, 'policy.hcl');
  pcapPath = join(work, 'tunnel.pcap');
  writeFileSync(configPath, `${await testGatewayBlock(NET)}
endpoint "postgres" "prod" {
  host     = "db.internal:5432"
  upstream = "127.0.0.1:${pg.port}"
  sslmode  = "disable"
}

endpoint "postgres" "vault" {
  host     = "vault.internal:5432"
  upstream = "127.0.0.1:${pg.port}"
  sslmode  = "disable"
}

credential "postgres_credential" "app" {
  endpoint = postgres.prod
  user     = "app"
  password = env("PG_APP_PASSWORD")
}

credential "postgres_credential" "vault" {
  endpoint = postgres.vault
  user     = "app"
  password = env("PG_APP_PASSWORD")
}

profile "default" {
  credentials = [postgres_credential.app]
}

approver "human_approver" "ops" {
  timeout = "2m"
}

rule "no-ddl" {
  endpoint  = postgres.prod
  condition = "sql.verb in ['drop', 'truncate', 'alter', 'create']"
  verdict   = "deny"
  reason    = "Schema changes go through a migration PR"
}

rule "secrets" {
  endpoint  = postgres.prod
  condition = "sets.intersects(sql.columns, ['env_vars.secret', 'env_vars.*'])"
  verdict   = "deny"
  reason    = "env_vars.secret is never read by agents"
}

rule "job-deletes" {
  endpoint  = postgres.prod
  condition = "sql.verb == 'delete' && 'jobs' in sql.tables"
  approve   = [human_approver.ops]
  reason    = "Deleting jobs needs a human"
}

rule "reads" {
  endpoint  = postgres.prod
  condition = "sql.verb in ['select', 'set', 'show', 'begin', 'commit', 'rollback']"
  verdict   = "allow"
}
`);
  await bailiff(['peer', 'add', 'agent', '--config', configPath, '--out', join(work, 'agent.conf')]);
  process.env.PG_APP_PASSWORD = PASSWORD; // the appliance reads env("PG_APP_PASSWORD"); the agent never gets it
  appliance = await startAppliance(configPath, ['--pcap', pcapPath]);
  agent = new AgentNetns({ tag: `p${TAG}`.slice(0, 6), rootAddress: `198.18.${NET}.1`, nsAddress: `198.18.${NET}.2`, workDir: work });
  await agent.create();
  await agent.startWireguard(join(work, 'agent.conf'));
});

after(() => teardown(
  () => appliance?.stop(),
  () => agent?.destroy(),
  () => pg?.stop(),
  () => delete process.env.PG_APP_PASSWORD,
  () => work && rmSync(work, { recursive: true, force: true }),
));

async function runLocal(command: string, args: string[], env: Record<string, string> = {}) {
  return run('env', [...Object.entries(env).map(([k, v]) => `${k}=${v}`), command, ...args], { timeoutMs: 60_000, allowFail: true });
}

/** psql in the agent namespace, no password given (the appliance never asks for one). */
function psql(sql: string, extra: string[] = []) {
  return agent!.exec('psql', ['-X', '-At', ...extra, '-c', sql, CONN], { timeoutMs: 30_000, allowFail: true });
}

const serverCount = async (table: string): Promise<number> => Number(await pg!.psql(`SELECT count(*) FROM ${table}`, { database: 'app' }));

test('SELECT through the tunnel is allowed; the agent authenticated with no password at all', async () => {
  const r = await psql('SELECT count(*) FROM t');
  assert.equal(r.code, 0, r.stderr + appliance!.output().slice(-3000));
  assert.equal(r.stdout.trim(), '5');
});

test('DROP TABLE is denied and the table is still there', async () => {
  const r = await psql('DROP TABLE t');
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /ERROR: {2}denied by rule "no-ddl": Schema changes go through a migration PR/);
  assert.equal(await serverCount('t'), 5);
});

test('SELECT 1; DELETE FROM t: the whole message is denied, nothing deleted', async () => {
  const r = await psql('SELECT 1; DELETE FROM t');
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /denied by policy: /);
  assert.equal(r.stdout.trim(), '', 'not even the SELECT ran');
  assert.equal(await serverCount('t'), 5);
});

test('a data-modifying CTE is decided as the DELETE it hides: denied (no rule allows deletes on t)', async () => {
  const r = await psql('WITH x AS (DELETE FROM t RETURNING *) SELECT 1');
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /denied by policy: /);
  assert.equal(await serverCount('t'), 5);
});

test('a DO block that drops a table is denied by the DDL rule', async () => {
  const r = await psql('DO $$ BEGIN EXECUTE \'SELECT 1\'; DROP TABLE t; END $$');
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /denied by rule "no-ddl"/);
  assert.equal(await serverCount('t'), 5);
});

test('secret columns: direct, *, and through a join alias are denied; other columns are read', async () => {
  for (const sql of ['SELECT secret FROM env_vars', 'SELECT * FROM env_vars', 'SELECT v.secret FROM t JOIN env_vars AS v ON v.name = \'api\' LIMIT 1']) {
    const r = await psql(sql);
    assert.notEqual(r.code, 0, sql);
    assert.match(r.stderr, /denied by rule "secrets": env_vars.secret is never read by agents/, sql);
    assert.ok(!r.stdout.includes('hunter2'), sql);
  }
  const ok = await psql('SELECT name FROM env_vars');
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout.trim(), 'api');
});

test('the session stays usable after a denial (same psql session, next statements run)', async () => {
  const r = await agent!.exec('psql', ['-X', '-At', CONN], { timeoutMs: 30_000, allowFail: true, input: 'SELECT 41;\nDROP TABLE t;\nSELECT 42;\nBEGIN;\nSELECT 43;\nCOMMIT;\n' });
  assert.equal(r.stdout.trim().split('\n').filter((l) => /^\d+$/.test(l)).join(','), '41,42,43', r.stdout + r.stderr);
  assert.match(r.stderr, /denied by rule "no-ddl"/);
});

test('pgbench -S runs through in simple, extended and prepared modes with no failed transactions', async () => {
  const auditRecords = async (): Promise<number> => {
    const text = await (await fetch(`${appliance!.metricsUrl}/metrics`)).text();
    return Number(/^bailiff_audit_records_total (\d+)$/m.exec(text)?.[1] ?? Number.NaN);
  };
  const recordsBefore = await auditRecords();
  let transactions = 0;
  for (const mode of ['simple', 'extended', 'prepared']) {
    const r = await agent!.exec('pgbench', ['-S', '-M', mode, '-c', '2', '-j', '1', '-T', '3', '-h', 'db.internal', '-U', 'app', 'app'], { timeoutMs: 60_000, allowFail: true });
    assert.equal(r.code, 0, `${mode}: ${r.stderr}${r.stdout}`);
    assert.match(r.stdout, /number of failed transactions: 0 /, mode);
    const tps = Number(/tps = ([\d.]+)/.exec(r.stdout)?.[1] ?? 0);
    assert.ok(tps > 50, `${mode}: ${tps} tps`);
    transactions += Number(/number of transactions actually processed: (\d+)/.exec(r.stdout)?.[1] ?? 0);
  }
  // Each statement was logged durably (its decision, then its completion) and /metrics shows it;
  // a completion goes with the next write or within 20 ms, so the last ones may need a moment.
  let logged = 0;
  for (let tries = 0; tries < 50 && logged < 2 * transactions; tries++) {
    if (tries > 0) await new Promise((resolve) => setTimeout(resolve, 20));
    logged = (await auditRecords()) - recordsBefore;
  }
  assert.ok(logged >= 2 * transactions, `${logged} audit records for ${transactions} statements`);
});

test('node-postgres with bind parameters, named statements, and a denial in between', async () => {
  const script = join(work, 'driver.cjs');
  writeFileSync(script, `
const { Client } = require(${JSON.stringify(join(ROOT, 'node_modules/pg'))});
(async () => {
  const c = new Client({ host: 'db.internal', port: 5432, user: 'app', database: 'app', password: 'anything' });
  await c.connect();
  const out = {};
  out.bound = (await c.query('SELECT name FROM env_vars WHERE name = $1', ['api'])).rows;
  try { await c.query('SELECT secret FROM env_vars WHERE name = $1', ['api']); out.denied = 'no'; } catch (e) { out.denied = e.code + ' ' + e.message; }
  out.named = [];
  for (const n of [1, 2, 3]) out.named.push((await c.query({ name: 'q1', text: 'SELECT id FROM t WHERE id = $1', values: [n] })).rows[0].id);
  out.after = (await c.query('SELECT $1::int + 1 AS x', [41])).rows[0].x;
  await c.end();
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
`);
  const r = await agent!.exec(process.execPath, [script], { timeoutMs: 30_000, allowFail: true });
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.deepEqual(out.bound, [{ name: 'api' }]);
  assert.equal(out.denied, '42501 denied by rule "secrets": env_vars.secret is never read by agents');
  assert.deepEqual(out.named, [1, 2, 3]);
  assert.equal(out.after, 42);
});

test('a cancel of pg_sleep(30) returns within a second (psql sends a CancelRequest with our fake key)', async () => {
  const started = Date.now();
  const r = await agent!.exec('timeout', ['-s', 'INT', '1', 'psql', '-X', '-At', '-c', 'SELECT pg_sleep(30)', CONN], { timeoutMs: 20_000, allowFail: true });
  const took = Date.now() - started;
  assert.match(r.stderr, /canceling statement due to user request/, r.stderr);
  assert.ok(took < 2500, `cancel took ${took - 1000} ms after the signal`);
  const running = await pg!.psql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%' AND state = 'active'");
  assert.equal(running, '0');
  const c = await counters(appliance!.metricsUrl);
  assert.ok((c['pg.cancel.forwarded'] ?? 0) >= 1, JSON.stringify(c));
});

test('an endpoint outside the peer\'s profile is refused at connect', async () => {
  const started = Date.now();
  const r = await agent!.exec('psql', ['-X', '-At', '-c', 'SELECT 1', 'host=vault.internal port=5432 user=app dbname=app connect_timeout=5'], { timeoutMs: 20_000, allowFail: true });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /Connection refused/);
  assert.ok(Date.now() - started < 3000);
});

test('a startup user with no credential gets 28000 naming only what it sent', async () => {
  const r = await agent!.exec('psql', ['-X', '-At', '-c', 'SELECT 1', 'host=db.internal port=5432 user=postgres dbname=app'], { timeoutMs: 20_000, allowFail: true });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /no credential for user "postgres" on db\.internal/);
});

async function pendingIds(): Promise<{ id: string; summary: string }[]> {
  const r = await bailiff(['pending', '--json', '--config', configPath], { allowFail: true });
  if (r.code !== 0) return [];
  return (JSON.parse(r.stdout) as { id: string; summary: string }[]).map((p) => ({ id: p.id, summary: p.summary }));
}

async function waitForPending(text: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const hit = (await pendingIds()).find((p) => p.summary.includes(text));
    if (hit) return hit.id;
    await sleep(100);
  }
  throw new Error(`no pending approval for ${text}; appliance output:\n${appliance!.output().slice(-3000)}`);
}

test('approvals: a DELETE waits; `bailiff approve` lets it run; `bailiff deny` returns the error', async () => {
  const approved = agent!.spawn('psql', ['-X', '-At', '-c', 'DELETE FROM jobs WHERE id = 1', CONN]);
  const id = await waitForPending('id = 1');
  assert.equal(await serverCount('jobs'), 5, 'nothing ran while waiting');
  const a = await bailiff(['approve', id, '--config', configPath]);
  assert.match(a.stdout, /Approved/);
  await approved.waitFor(/DELETE 1/, 10_000);
  assert.equal(await serverCount('jobs'), 4);

  const denied = agent!.spawn('psql', ['-X', '-At', '-c', 'DELETE FROM jobs WHERE id = 2', CONN]);
  const id2 = await waitForPending('id = 2');
  await bailiff(['deny', id2, '--config', configPath, '--reason', 'not during the incident']);
  await denied.waitFor(/denied by rule "job-deletes"/, 10_000);
  assert.equal(await serverCount('jobs'), 4);
});

test('approvals: killing psql while it waits cancels the approval; the row is still there', async () => {
  const waiting = agent!.spawn('psql', ['-X', '-At', '-c', 'DELETE FROM jobs WHERE id = 3', CONN]);
  await waitForPending('id = 3');
  await waiting.stop('SIGKILL');
  let left = 1;
  for (let i = 0; i < 50 && left; i++) {
    left = (await pendingIds()).filter((p) => p.summary.includes('id = 3')).length;
    await sleep(100);
  }
  assert.equal(left, 0, 'the pending approval was not cancelled');
  assert.equal(await pg!.psql('SELECT count(*) FROM jobs WHERE id = 3', { database: 'app' }), '1');
});

test('the password appears nowhere the agent can see: not in the tunnel traffic, not in the audit log', async () => {
  await sleep(1500); // the pcap tap flushes about once a second
  const captured = readFileSync(pcapPath);
  assert.ok(captured.length > 10_000, 'the capture holds the sessions');
  assert.ok(captured.includes(Buffer.from('denied by rule')), 'the capture holds the Postgres traffic in clear');
  assert.ok(!captured.includes(Buffer.from(PASSWORD)), 'the password crossed the tunnel');
  const audit = await bailiff(['audit', '--config', configPath, '--json']);
  assert.ok(!audit.stdout.includes(PASSWORD), 'the password is in the audit log');
  const records = audit.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
  const drop = records.find((r) => r.kind === 'decision' && r.rule === 'no-ddl');
  assert.ok(drop && drop.verdict === 'deny' && drop.facts?.sql?.verb === 'drop', JSON.stringify(drop));
  assert.ok(records.some((r) => r.outcome?.commandTag === 'DELETE 1'), 'the approved DELETE was completed with its tag');
});
