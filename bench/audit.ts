/**
 * Audit log append throughput: durable appends per second with group commit, against a baseline
 * measured in the same run on the same disk: the same log with maxBatch 1, i.e. one commit and
 * one flush per record (what awaiting one durable write per record costs).
 * Both runs keep the same number of appends in flight (concurrent connections logging decisions),
 * so the ratio is what group commit buys under load.
 *
 *   node --import tsx bench/audit.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog, type AuditRecordInput } from '../policy/audit/index.js';

const IN_FLIGHT = 256;
const GROUP_RECORDS = 20_000;
const BASELINE_RECORDS = 1_000;

function record(i: number): AuditRecordInput {
  return {
    kind: 'decision',
    connectionId: `c${i % 500}`,
    peer: `agent-${i % 8}`,
    profile: 'platform',
    endpoint: 'postgres.prod-db',
    credential: 'postgres_credential.pg-ro',
    facts: { 'sql.verb': 'select', 'sql.tables': ['users', 'orders'], 'sql.statement': `select * from users join orders using (id) where id = ${i}` },
    rule: 'pg-read',
    verdict: 'allow',
    reason: 'reads are fine',
    reasonCode: 'POL_RULE_ALLOW',
    timings: { parseMs: 0.06, evalMs: 0.004 },
    upstream: { outcome: 'forwarded' },
  };
}

interface RunResult {
  perSecond: number;
  commits: number;
  meanBatch: number;
  p50Ms: number;
  p99Ms: number;
}

async function measure(records: number, maxBatch: number | undefined): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), 'bailiff-bench-audit-'));
  const log = await AuditLog.open(maxBatch === undefined ? { dir } : { dir, maxBatch });
  try {
    log.addSecrets(['not-in-these-records']); // redaction is part of the real cost
    await log.append({ kind: 'system', message: 'warm-up' });
    const latencies: number[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < records) {
        const i = next++;
        const started = performance.now();
        await log.append(record(i));
        latencies.push(performance.now() - started);
      }
    };
    const before = log.stats().commits;
    const started = performance.now();
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    const seconds = (performance.now() - started) / 1000;
    const commits = log.stats().commits - before;
    latencies.sort((a, b) => a - b);
    const verified = await log.verify();
    if (!verified.ok) throw new Error('bench log does not verify');
    return {
      perSecond: records / seconds,
      commits,
      meanBatch: records / commits,
      p50Ms: latencies[Math.floor(latencies.length * 0.5)]!,
      p99Ms: latencies[Math.floor(latencies.length * 0.99)]!,
    };
  } finally {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const fmt = (n: number): string => `${Math.round(n).toLocaleString('en-US').padStart(8)} appends/s`;

export async function main(): Promise<{ baseline: RunResult; group: RunResult; ratio: number }> {
  const baseline = await measure(BASELINE_RECORDS, 1);
  const group = await measure(GROUP_RECORDS, undefined);
  const ratio = group.perSecond / baseline.perSecond;
  const line = (name: string, r: RunResult): string =>
    `${name} ${fmt(r.perSecond)}   ${r.commits} commits, ${r.meanBatch.toFixed(1)} records/commit, latency p50 ${r.p50Ms.toFixed(2)} ms p99 ${r.p99Ms.toFixed(2)} ms`;
  console.log(`audit log, ${IN_FLIGHT} appends in flight, every append durable (commit + fsync) before it resolves`);
  console.log(line('baseline: one fsync per record  ', baseline));
  console.log(line('group commit                    ', group));
  console.log(`ratio: group commit = ${ratio.toFixed(1)}x baseline`);
  return { baseline, group, ratio };
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
