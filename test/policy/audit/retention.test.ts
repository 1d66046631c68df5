/** Retention by age with a manual clock: a pruned prefix still verifies, later gaps do not. */
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { AuditLog, type AuditEntry, type VerifyResult } from '../../../policy/audit/index.js';
import { decision, openRaw, tempDir } from './helpers.js';

const T0 = Date.parse('2026-05-01T00:00:00Z');
const MIN = 60_000;
const HOUR = 60 * MIN;

async function seqs(log: AuditLog): Promise<number[]> {
  const out: number[] = [];
  for await (const e of log.query()) out.push(e.seq);
  return out;
}

function codes(result: VerifyResult): string[] {
  return result.ok ? [] : result.problems.map((p) => `${p.code}@${p.seq}`);
}

async function fill(log: AuditLog, count: number, from = 0): Promise<AuditEntry[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => log.append(decision(from + i))));
}

describe('retention', () => {
  test('prunes the old prefix, stores an anchor, and still verifies', async () => {
    const { dir, cleanup } = tempDir();
    let now = T0;
    const log = await AuditLog.open({ dir, clock: () => new Date(now), retention: { maxAgeMs: HOUR, intervalMs: 0 } });
    try {
      await fill(log, 10);
      now = T0 + 30 * MIN;
      const middle = await fill(log, 10, 10);
      now = T0 + 2 * HOUR;
      await fill(log, 10, 20);

      now = T0 + 2 * HOUR + MIN; // cutoff T0 + 1h01: the first 20 are old
      assert.deepEqual(await log.prune(), { deleted: 20 });
      assert.deepEqual(await seqs(log), Array.from({ length: 10 }, (_, i) => 21 + i));
      const result = await log.verify();
      assert.equal(result.ok, true);
      assert.equal(result.ok && result.count, 10);
      assert.equal(result.ok && result.lastSeq, 30);
      assert.deepEqual(await log.prune(), { deleted: 0 });

      // The chain continues across the pruned prefix.
      assert.equal((await log.append(decision(99))).seq, 31);
      assert.equal((await log.verify()).ok, true);
      const raw = openRaw(dir);
      assert.deepEqual(raw.anchor(), { seq: 20, hash: middle[9]!.hash, time: middle[9]!.time });
      await raw.close();
    } finally {
      await log.close();
      cleanup();
    }
  });

  test('a record deleted after the anchor is still a gap, including the first kept one', async () => {
    const { dir, cleanup } = tempDir();
    let now = T0;
    const log = await AuditLog.open({ dir, clock: () => new Date(now), retention: { maxAgeMs: HOUR, intervalMs: 0 } });
    await fill(log, 5);
    now = T0 + 2 * HOUR;
    await fill(log, 10, 5);
    assert.deepEqual(await log.prune(), { deleted: 5 });
    await log.close();
    try {
      const raw = openRaw(dir);
      raw.records.removeSync(9);
      raw.records.removeSync(6);
      await raw.close();
      const reader = await AuditLog.open({ dir, readOnly: true });
      assert.deepEqual(codes(await reader.verify()), ['AUDIT_GAP@6', 'AUDIT_GAP@9']);
      await reader.close();
    } finally {
      cleanup();
    }
  });

  test('pruning stops at a tampered record instead of moving the anchor over it', async () => {
    const { dir, cleanup } = tempDir();
    let now = T0;
    const log = await AuditLog.open({ dir, clock: () => new Date(now), retention: { maxAgeMs: HOUR, intervalMs: 0 } });
    await fill(log, 10);
    await log.close();
    try {
      const raw = openRaw(dir);
      raw.records.removeSync(4);
      await raw.close();
      now = T0 + 5 * HOUR;
      // Pruning at open: removes 1..3 and stops at the gap.
      const again = await AuditLog.open({ dir, clock: () => new Date(now), retention: { maxAgeMs: HOUR, intervalMs: 0 } });
      assert.deepEqual(await seqs(again), [5, 6, 7, 8, 9, 10]);
      assert.deepEqual(codes(await again.verify()), ['AUDIT_GAP@4']);
      await again.close();
    } finally {
      cleanup();
    }
  });

  test('everything old: the log is empty, verifies, and appends chain from the anchor', async () => {
    const { dir, cleanup } = tempDir();
    let now = T0;
    const log = await AuditLog.open({ dir, clock: () => new Date(now), retention: { maxAgeMs: HOUR, intervalMs: 0 } });
    try {
      const old = await fill(log, 7);
      now = T0 + 3 * HOUR;
      assert.deepEqual(await log.prune(), { deleted: 7 });
      assert.deepEqual(await log.verify(), { ok: true, count: 0, lastSeq: 7, lastHash: old[6]!.hash });
      const next = await log.append(decision(8));
      assert.equal(next.seq, 8);
      assert.equal(next.prevHash, old[6]!.hash);
      assert.equal((await log.verify()).ok, true);
      // A completion of a pruned record is still logged.
      const done = await log.complete(3, { commandTag: 'SELECT 1' });
      assert.equal(done.completes, 3);
    } finally {
      await log.close();
      cleanup();
    }
  });

  test('a large prefix is pruned in several bounded transactions', async () => {
    const { dir, cleanup } = tempDir();
    let now = T0;
    const log = await AuditLog.open({ dir, clock: () => new Date(now), retention: { maxAgeMs: HOUR, intervalMs: 0 } });
    try {
      await fill(log, 12_000);
      now = T0 + 2 * HOUR;
      await fill(log, 3, 12_000);
      assert.deepEqual(await log.prune(), { deleted: 12_000 });
      assert.deepEqual(await seqs(log), [12_001, 12_002, 12_003]);
      assert.equal((await log.verify()).ok, true);
    } finally {
      await log.close();
      cleanup();
    }
  });
});
