/**
 * pgbench -S through the appliance vs straight to the server, same client, same run.
 *
 * One agent namespace runs wireguard-go (configured from `bailiff peer add`) with two peers:
 *   - the appliance: pgbench dials `db.internal` (a postgres endpoint with a 20-rule policy, the
 *     audit log on: every statement decided and durably logged before it goes upstream);
 *   - an anchor: a second wireguard-go in another namespace, where a plain Node TCP forwarder
 *     (no parsing, no policy) relays to the server's Unix socket (path sockets are visible
 *     across network namespaces).
 * Simple and extended protocol, `-c 4 -j 2`, rounds of one anchor run and one appliance run back
 * to back (alternating which goes first, so a drift of the shared machine's speed favours
 * neither); the ratio printed is the median of the rounds' ratios (target >= 0.6x), which a noisy
 * neighbour slowing one round moves far less than a ratio of separate medians. Per-statement
 * latency from `pgbench --log` (p50/p99; -S is one statement per transaction) with the added
 * latency appliance - anchor.
 *
 * Needs root, wireguard-go, wireguard-tools, iproute2, PostgreSQL 15 and pgbench.
 * BENCH_PG_TMPFS=1 puts the state dir (the audit log) on /dev/shm: a diagnostic that shows what
 * the relay costs without the fsync of each audit commit (not a deployment setting).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { WRITE_BUCKETS_MS } from '../policy/audit/index.js';
import { AgentNetns } from '../test/e2e/harness/agent-netns.js';
import { bailiff, counters, startAppliance, testGatewayBlock } from '../test/e2e/harness/appliance.js';
import { startPostgres } from '../test/e2e/harness/postgres-server.js';
import { run, start } from '../test/e2e/harness/processes.js';
import { requireTools } from '../test/e2e/harness/requirements.js';
import { startAnchorPeer } from '../test/e2e/harness/anchor-peer.js';
import { PGBENCH_ALLOW_CONDITION, PGBENCH_DENY_CONDITIONS } from './pgbench-policy.js';
import { median } from './stats.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const CLIENTS = ['-c', '4', '-j', '2'];

/** User and system CPU seconds a process has used so far (/proc/<pid>/stat, clock ticks of 1/100 s). */
function cpuSeconds(pid: number, thread?: number): { user: number; system: number } {
  const fields = readFileSync(thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 };
}

/** Nanoseconds a thread has run and has waited runnable for a CPU (/proc/<pid>/task/<tid>/schedstat). */
function schedNs(pid: number): { run: number; wait: number } {
  const [run, wait] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ').map(Number);
  return { run: run!, wait: wait! };
}

interface AuditCounters { commits: number; records: number; inlineCommits: number; writeMs: number; writeBuckets: number[] }

/** The bucket bound (ms) under which a share `p` of the counted writes took, from the histogram's counts. */
function writeQuantile(buckets: number[], p: number): string {
  const total = buckets.reduce((a, b) => a + b, 0);
  let seen = 0;
  for (const [i, count] of buckets.entries()) {
    seen += count;
    if (seen >= p * total) return i < WRITE_BUCKETS_MS.length ? `<= ${WRITE_BUCKETS_MS[i]} ms` : `> ${WRITE_BUCKETS_MS.at(-1)} ms`;
  }
  return 'none';
}

/** The appliance's audit log counters (/api/status). */
async function auditStats(metricsUrl: string): Promise<AuditCounters> {
  const res = await fetch(`${metricsUrl}/api/status`);
  return ((await res.json()) as { audit: AuditCounters }).audit;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))]!;
}

/** Nineteen rules that a `SELECT ... FROM pgbench_accounts` is checked against before the one that allows it. */
function twentyRules(): string {
  const rules: string[] = [];
  const deny = PGBENCH_DENY_CONDITIONS;
  deny.forEach((condition, i) => rules.push(`rule "deny-${i}" {
  endpoint  = postgres.prod
  condition = ${JSON.stringify(condition)}
  verdict   = "deny"
  reason    = "bench rule ${i}"
}`));
  rules.push(`rule "reads" {
  endpoint  = postgres.prod
  condition = ${JSON.stringify(PGBENCH_ALLOW_CONDITION)}
  verdict   = "allow"
}`);
  return rules.join('\n');
}

interface PgbenchRun {
  tps: number;
  latenciesUs: number[];
  transactions: number;
}

async function pgbench(agent: AgentNetns, host: string, mode: string, logDir: string, seconds = SECONDS): Promise<PgbenchRun> {
  const prefix = join(logDir, `${mode}-${host.replace(/\W/g, '_')}-${Date.now()}`);
  const args = ['-S', '-M', mode, ...CLIENTS, '-T', String(seconds), '--log', `--log-prefix=${prefix}`, '-h', host, '-p', '5432', '-U', 'app', 'app'];
  const r = await agent.exec('timeout', [String(seconds + 30), 'pgbench', ...args], { timeoutMs: (seconds + 40) * 1000, allowFail: true });
  if (r.code !== 0 || !/number of failed transactions: 0 /.test(r.stdout)) throw new Error(`pgbench ${args.join(' ')} failed: ${r.stdout.slice(-600)} ${r.stderr}`);
  const tps = Number(/tps = ([\d.]+)/.exec(r.stdout)![1]);
  const transactions = Number(/number of transactions actually processed: (\d+)/.exec(r.stdout)?.[1] ?? 0);
  const latenciesUs: number[] = [];
  const base = prefix.slice(logDir.length + 1);
  for (const file of readdirSync(logDir).filter((f) => f.startsWith(base))) {
    // client_id transaction_no time script_no time_epoch time_us
    for (const line of readFileSync(join(logDir, file), 'utf8').split('\n')) {
      const us = Number(line.split(' ')[2]);
      if (Number.isFinite(us) && us > 0) latenciesUs.push(us);
    }
  }
  latenciesUs.sort((a, b) => a - b);
  return { tps, latenciesUs, transactions };
}

export async function main(): Promise<Record<string, number>> {
  requireTools(['wireguard-go', 'wg', 'wg-quick', 'ip', 'psql', 'pgbench', 'timeout']);
  const work = mkdtempSync(join(process.env.BENCH_PG_TMPFS === '1' ? '/dev/shm' : tmpdir(), 'bailiff-bench-pg-'));
  const logDir = join(work, 'logs');
  await run('mkdir', ['-p', logDir]);
  const net8 = 16 + ((process.pid + 41) % 180);
  const tag = String((process.pid + 7) % 10000);
  const cleanups: (() => Promise<void>)[] = [];
  const password = `bench-${Math.random().toString(36).slice(2)}`;
  try {
    const pg = await startPostgres();
    cleanups.push(() => pg.stop());
    await pg.psql(`CREATE ROLE app LOGIN PASSWORD '${password}'`);
    await pg.psql('CREATE DATABASE app OWNER app');
    await run('env', [`PGPASSWORD=${password}`, 'pgbench', '-i', '-s', '1', '-q', '-h', '127.0.0.1', '-p', String(pg.port), '-U', 'app', 'app'], { timeoutMs: 120_000 });
    const socketPath = join(dirname(pg.dataDir), 'sock', `.s.PGSQL.${pg.port}`);

    const config = join(work, 'policy.hcl');
    writeFileSync(config, `${await testGatewayBlock(net8)}
endpoint "postgres" "prod" {
  host     = "db.internal:5432"
  upstream = "127.0.0.1:${pg.port}"
  sslmode  = "disable"
}
credential "postgres_credential" "app" {
  endpoint = postgres.prod
  user     = "app"
  password = env("PG_BENCH_PASSWORD")
}
profile "default" {
  credentials = [postgres_credential.app]
}
${twentyRules()}
`);
    await bailiff(['peer', 'add', 'bench', '--config', config, '--out', join(work, 'bench.conf')]);
    process.env.PG_BENCH_PASSWORD = password;
    const appliance = await startAppliance(config);
    delete process.env.PG_BENCH_PASSWORD;
    cleanups.push(() => appliance.stop());

    const agent = new AgentNetns({ tag: `q${tag}`.slice(0, 6), rootAddress: `198.18.${net8}.1`, nsAddress: `198.18.${net8}.2`, workDir: work });
    cleanups.push(() => agent.destroy());
    await agent.create();
    await agent.startWireguard(join(work, 'bench.conf'));

    // The anchor: a second wireguard-go peer in its own namespace, joined to the agent by a veth.
    const anchor = await startAnchorPeer(agent, { tag, letter: 'm', net: net8, agentConf: join(work, 'bench.conf'), workDir: work, listenPort: 51998 });
    cleanups.push(() => anchor.stop());
    const anchorNs = anchor.ns;
    const anchorAddress = anchor.address;
    const forwarder = join(work, 'forwarder.cjs');
    writeFileSync(forwarder, `
const net = require('net');
net.createServer((c) => {
  const u = net.connect(${JSON.stringify(socketPath)});
  c.setNoDelay(true);
  c.pipe(u); u.pipe(c);
  c.on('error', () => u.destroy()); u.on('error', () => c.destroy());
}).listen(5432, ${JSON.stringify(anchorAddress)}, () => console.log('listening'));
`);
    const fwd = start('ip', ['netns', 'exec', anchorNs, process.execPath, forwarder]);
    cleanups.push(() => fwd.stop());
    await fwd.waitFor(/listening/, 10_000);

    const result: Record<string, number> = {};
    console.log(`pgbench -S ${CLIENTS.join(' ')} -T ${SECONDS}, ${ROUNDS} interleaved rounds; appliance: 20 rules, audit log on${process.env.BENCH_PG_TMPFS === '1' ? ' (on tmpfs: no fsync cost)' : ''}`);
    // Warm-up, not measured: the appliance's JIT and caches, the server's buffers, both paths.
    await pgbench(agent, anchorAddress, 'simple', logDir, 3);
    await pgbench(agent, 'db.internal', 'simple', logDir, 3);
    await pgbench(agent, 'db.internal', 'extended', logDir, 3);
    for (const mode of ['simple', 'extended']) {
      const via: PgbenchRun[] = [];
      const anchor: PgbenchRun[] = [];
      const applianceCpu = { user: 0, system: 0 };
      const mainThreadCpu = { user: 0, system: 0 };
      let waitedNs = 0;
      const audit: AuditCounters = { commits: 0, records: 0, inlineCommits: 0, writeMs: 0, writeBuckets: WRITE_BUCKETS_MS.map(() => 0).concat(0) };
      const measureAppliance = async (): Promise<void> => {
        const auditBefore = await auditStats(appliance.metricsUrl);
        const cpuBefore = cpuSeconds(appliance.pid);
        const mainBefore = cpuSeconds(appliance.pid, appliance.pid);
        const schedBefore = schedNs(appliance.pid);
        via.push(await pgbench(agent, 'db.internal', mode, logDir));
        const cpuAfter = cpuSeconds(appliance.pid);
        const mainAfter = cpuSeconds(appliance.pid, appliance.pid);
        waitedNs += schedNs(appliance.pid).wait - schedBefore.wait;
        const auditAfter = await auditStats(appliance.metricsUrl);
        for (const key of ['commits', 'records', 'inlineCommits', 'writeMs'] as const) audit[key] += auditAfter[key] - auditBefore[key];
        auditAfter.writeBuckets.forEach((count, i) => { audit.writeBuckets[i]! += count - auditBefore.writeBuckets[i]!; });
        mainThreadCpu.user += mainAfter.user - mainBefore.user;
        mainThreadCpu.system += mainAfter.system - mainBefore.system;
        applianceCpu.user += cpuAfter.user - cpuBefore.user;
        applianceCpu.system += cpuAfter.system - cpuBefore.system;
      };
      for (let round = 0; round < ROUNDS; round++) {
        if (round % 2 === 0) {
          anchor.push(await pgbench(agent, anchorAddress, mode, logDir));
          await measureAppliance();
        } else {
          await measureAppliance();
          anchor.push(await pgbench(agent, anchorAddress, mode, logDir));
        }
      }
      const statements = via.reduce((n, r) => n + r.transactions, 0);
      const tpsVia = median(via.map((r) => r.tps));
      const tpsAnchor = median(anchor.map((r) => r.tps));
      const ratios = via.map((r, i) => r.tps / anchor[i]!.tps);
      const ratio = median(ratios);
      const lat = (runs: PgbenchRun[]) => runs.flatMap((r) => r.latenciesUs).sort((a, b) => a - b);
      const lv = lat(via);
      const la = lat(anchor);
      const p50 = (percentile(lv, 0.5) - percentile(la, 0.5)) / 1000;
      const p99 = (percentile(lv, 0.99) - percentile(la, 0.99)) / 1000;
      console.log(`${mode.padEnd(8)} appliance ${tpsVia.toFixed(0).padStart(6)} tps (${via.map((r) => r.tps.toFixed(0)).join(', ')}), `
        + `p50 ${(percentile(lv, 0.5) / 1000).toFixed(3)} ms p99 ${(percentile(lv, 0.99) / 1000).toFixed(3)} ms`);
      console.log(`${''.padEnd(8)} wireguard-go anchor ${tpsAnchor.toFixed(0).padStart(6)} tps (${anchor.map((r) => r.tps.toFixed(0)).join(', ')}), `
        + `p50 ${(percentile(la, 0.5) / 1000).toFixed(3)} ms p99 ${(percentile(la, 0.99) / 1000).toFixed(3)} ms`);
      console.log(`${''.padEnd(8)} ratio ${ratio.toFixed(2)}x (median of the rounds' ${ratios.map((r) => r.toFixed(2)).join(', ')}; target >= 0.6x, goal >= 0.8x); `
        + `added latency per statement p50 ${p50.toFixed(3)} ms, p99 ${p99.toFixed(3)} ms`);
      // CPU per statement is what the machine's noise moves least: the appliance's own cost.
      const us = (seconds: number): string => (seconds / statements * 1e6).toFixed(0);
      console.log(`${''.padEnd(8)} appliance CPU per statement ${us(applianceCpu.user + applianceCpu.system)} us (user ${us(applianceCpu.user)}, system ${us(applianceCpu.system)}; all threads), `
        + `main thread ${us(mainThreadCpu.user + mainThreadCpu.system)} us (busy ${(100 * (mainThreadCpu.user + mainThreadCpu.system) / (SECONDS * ROUNDS)).toFixed(0)}% of the run, waited for a CPU ${(100 * waitedNs / 1e9 / (SECONDS * ROUNDS)).toFixed(0)}%)`);
      // The disk is shared too: a slow spell shows here, not as a change of the appliance's own cost.
      console.log(`${''.padEnd(8)} audit: ${(audit.records / statements).toFixed(2)} records and ${(audit.commits / statements).toFixed(2)} durable writes per statement, `
        + `${(100 * audit.inlineCommits / Math.max(1, audit.commits)).toFixed(0)}% of them in place, ${(audit.writeMs / Math.max(1, audit.commits)).toFixed(3)} ms each on average `
        + `(half ${writeQuantile(audit.writeBuckets, 0.5)}, 90% ${writeQuantile(audit.writeBuckets, 0.9)}, 99% ${writeQuantile(audit.writeBuckets, 0.99)})`);
      result[`${mode}Ratio`] = ratio;
      result[`${mode}CpuUsPerStatement`] = (applianceCpu.user + applianceCpu.system) / statements * 1e6;
      result[`${mode}AddedP50Ms`] = p50;
      result[`${mode}AddedP99Ms`] = p99;
    }
    if (process.env.BENCH_VERBOSE) {
      const c = await counters(appliance.metricsUrl);
      console.log(Object.entries(c).map(([k, v]) => `${k}=${v}`).join(" "));
    }
    return result;
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
