/**
 * Segment-file edge cases: non-canonical line bytes, a prune interrupted by a crash, a rotation
 * that fails under a prune, and record fields named like Object.prototype members.
 */
import { strict as assert } from 'node:assert';
import { mkdirSync, renameSync, openSync, closeSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { AuditLog, type VerifyResult } from '../../../policy/audit/index.js';
import { segmentName } from '../../../policy/audit/store.js';
import { decision, tempDir } from './helpers.js';

const T0 = Date.parse('2026-05-01T00:00:00Z');
const HOUR = 60 * 60_000;

function codes(result: VerifyResult): string[] {
  return result.ok ? [] : result.problems.map((p) => `${p.code}@${p.seq}`);
}

function segments(dir: string): string[] {
  return readdirSync(dir).filter((n) => /^\d{20}\.jsonl$/.test(n)).sort();
}

describe('segment files', () => {
  test('a stored line whose bytes are not the hashed canonical text fails verification', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const log = await AuditLog.open({ dir });
      for (let i = 0; i < 5; i++) await log.append(decision(i));
      await log.close();
      const [name] = segments(dir);
      const path = join(dir, name!);
      const lines = readFileSync(path, 'utf8').split('\n');
      // Record 3 says peer "evil-agent" to grep and to anyone reading the file; JSON.parse keeps
      // the last duplicate, so its parsed content (and hash) is unchanged.
      lines[2] = lines[2]!.replace('{', '{"peer":"evil-agent",');
      writeFileSync(path, lines.join('\n'));
      const reader = await AuditLog.open({ dir, readOnly: true });
      assert.notDeepEqual(codes(await reader.verify()), []);
      await reader.close();
    } finally {
      cleanup();
    }
  });

  test('a prune interrupted between writing the kept tail and removing the old segment still verifies after the next prune', async () => {
    const { dir, cleanup } = tempDir();
    let now = T0;
    try {
      const options = { dir, clock: () => new Date(now), retention: { maxAgeMs: HOUR, intervalMs: 0 } };
      let log = await AuditLog.open(options);
      for (let i = 0; i < 5; i++) await log.append(decision(i));
      now = T0 + 2 * HOUR;
      for (let i = 5; i < 10; i++) await log.append(decision(i));
      await log.close();
      const [old] = segments(dir);
      const saved = readFileSync(join(dir, old!));
      log = await AuditLog.open(options); // prunes 1..5: the tail 6..10 goes to a new segment
      await log.close();
      // The crash: the old segment had not been removed yet.
      writeFileSync(join(dir, old!), saved);
      log = await AuditLog.open(options); // the next prune finishes the interrupted one
      assert.deepEqual(codes(await log.verify()), []);
      assert.equal((await log.append(decision(10))).seq, 11);
      assert.deepEqual(codes(await log.verify()), []);
      await log.close();
    } finally {
      cleanup();
    }
  });

  test('a rotation that fails under a prune leaves the open segment alone and the log usable', async () => {
    const { dir, cleanup } = tempDir();
    let now = T0;
    try {
      const log = await AuditLog.open({ dir, clock: () => new Date(now), retention: { maxAgeMs: HOUR, intervalMs: 0 } });
      for (let i = 0; i < 5; i++) await log.append(decision(i));
      now = T0 + 2 * HOUR;
      for (let i = 5; i < 10; i++) await log.append(decision(i));
      // The segment the rotation would create cannot be created.
      const blocker = join(dir, segmentName(11));
      const pruning = log.prune();
      mkdirSync(blocker);
      await pruning.catch(() => undefined);
      rmdirSync(blocker);
      // Something else in this process opens a file: it must not receive audit records.
      const otherPath = join(dir, 'other.txt');
      const other = openSync(otherPath, 'w');
      const acked = [];
      for (let i = 10; i < 15; i++) {
        try {
          acked.push((await log.append(decision(i))).seq);
        } catch {
          // refused appends are fine; lost acknowledged ones are not
        }
      }
      closeSync(other);
      assert.equal(readFileSync(otherPath, 'utf8'), '', 'audit records were written into an unrelated file');
      await log.close();
      const reader = await AuditLog.open({ dir, readOnly: true });
      for (const seq of acked) assert.ok(reader.get(seq), `acknowledged record ${seq} is missing`);
      assert.deepEqual(codes(await reader.verify()), []);
      await reader.close();
    } finally {
      cleanup();
    }
  });

  test('a facts key named __proto__ is stored, not dropped', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const log = await AuditLog.open({ dir });
      const facts = JSON.parse('{"__proto__":{"x":1},"sql.verb":"select"}') as Record<string, never>;
      const entry = await log.append({ kind: 'decision', facts });
      assert.deepEqual(Object.keys(entry.facts!), ['__proto__', 'sql.verb']);
      assert.deepEqual(Object.keys(log.get(entry.seq)!.facts!), ['__proto__', 'sql.verb']);
      assert.equal((await log.verify()).ok, true);
      await log.close();
    } finally {
      cleanup();
    }
  });

  test('a durable write is acknowledged even when the zero-fill after it cannot start', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const log = await AuditLog.open({ dir });
      await log.append(decision(0));
      await new Promise((r) => setTimeout(r, 300)); // the first zero-fill is done
      // The next zero-fill opens the segment by name; make that fail (the writer's own fd works).
      const [name] = segments(dir);
      renameSync(join(dir, name!), join(dir, `${name!}.moved`));
      const big = 'x'.repeat(700_000);
      for (let i = 1; i <= 4; i++) assert.equal((await log.append(decision(i, { reason: big }))).seq, i + 1);
      await log.close();
    } finally {
      cleanup();
    }
  });
});
