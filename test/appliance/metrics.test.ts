import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { Counters } from '../../netstack/counters.js';
import { startMetricsServer } from '../../appliance/metrics.js';
import { AuditLog, WRITE_BUCKETS_MS } from '../../policy/audit/index.js';
import { decision, tempDir } from '../policy/audit/helpers.js';

/** Prometheus text into `name{labels}` -> value, checking every sample has a HELP and a TYPE. */
function parse(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const described = new Set<string>();
  for (const line of text.trimEnd().split('\n')) {
    const meta = /^# (HELP|TYPE) (\w+) (.+)$/.exec(line);
    if (meta) {
      if (meta[1] === 'TYPE') {
        assert.match(meta[3]!, /^(counter|gauge|histogram)$/, line);
        described.add(meta[2]!);
      }
      continue;
    }
    const sample = /^(\w+)(\{[^}]*\})? (\S+)$/.exec(line);
    assert.ok(sample, `not a sample line: ${line}`);
    const family = sample[1]!.replace(/_(bucket|sum|count)$/, '');
    assert.ok(described.has(sample[1]!) || described.has(family), `no TYPE before ${line}`);
    assert.ok(!Number.isNaN(Number(sample[3])), line);
    samples.set(sample[1]! + (sample[2] ?? ''), Number(sample[3]));
  }
  return samples;
}

test('/metrics exports the audit log: records, commits, pending and a cumulative write-time histogram', async () => {
  const { dir, cleanup } = tempDir();
  const log = await AuditLog.open({ dir });
  const counters = new Counters();
  counters.inc('udp.rx', 3);
  const server = await startMetricsServer('127.0.0.1:0', { counters, status: () => ({}), audit: () => log.stats() });
  try {
    await Promise.all(Array.from({ length: 30 }, (_, i) => log.append(decision(i))));
    for (let i = 0; i < 5; i++) await log.append(decision(100 + i));
    const res = await fetch(`${server.url}/metrics`);
    assert.equal(res.status, 200);
    const m = parse(await res.text());
    const stats = log.stats();
    assert.equal(m.get('bailiff_events_total{name="udp.rx"}'), 3);
    assert.equal(m.get('bailiff_audit_records_total'), 35);
    assert.equal(m.get('bailiff_audit_commits_total'), stats.commits);
    assert.ok(stats.commits >= 6, 'the five awaited appends are five more writes');
    assert.equal(m.get('bailiff_audit_failed_commits_total'), 0);
    assert.equal(m.get('bailiff_audit_pending'), 0);
    const buckets = [...WRITE_BUCKETS_MS.map((ms) => String(ms / 1000)), '+Inf'].map((le) => m.get(`bailiff_audit_write_seconds_bucket{le="${le}"}`));
    for (const [i, count] of buckets.entries()) {
      assert.ok(count !== undefined, `bucket ${i} missing`);
      if (i > 0) assert.ok(count >= buckets[i - 1]!, 'buckets are cumulative');
    }
    assert.equal(buckets.at(-1), stats.commits);
    assert.equal(m.get('bailiff_audit_write_seconds_count'), stats.commits);
    const sum = m.get('bailiff_audit_write_seconds_sum')!;
    assert.ok(sum > 0 && Math.abs(sum - stats.writeMs / 1000) < 1e-9, String(sum));
  } finally {
    await server.close();
    await log.close();
    cleanup();
  }
});

test('without an audit source, /metrics has the event counters only', async () => {
  const counters = new Counters();
  counters.inc('tcp.rst_sent');
  const server = await startMetricsServer('127.0.0.1:0', { counters, status: () => ({}) });
  try {
    const m = parse(await (await fetch(`${server.url}/metrics`)).text());
    assert.deepEqual([...m.keys()], ['bailiff_events_total{name="tcp.rst_sent"}']);
  } finally {
    await server.close();
  }
});
