/**
 * verify() must catch every edit, deletion, reordering or cut of acknowledged records, made by
 * someone writing the log's files directly (the threat: a compromised host editing its own trail).
 */
import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import fc from 'fast-check';
import { AuditLog, canonicalJson, hashRecord, type AuditEntry, type JsonObject, type VerifyResult } from '../../../policy/audit/index.js';
import { decision, openRaw, tempDir, type RawLog } from './helpers.js';

const N = 12;

function codes(result: VerifyResult): string[] {
  return result.ok ? [] : result.problems.map((p) => `${p.code}@${p.seq}`);
}

describe('tampering', () => {
  let dir: string;
  let cleanup: () => void;
  let raw: RawLog;

  beforeEach(async () => {
    ({ dir, cleanup } = tempDir());
    const log = await AuditLog.open({ dir });
    for (let i = 0; i < N; i++) await log.append(decision(i));
    await log.close();
    raw = openRaw(dir);
  });
  afterEach(async () => {
    await raw.close();
    cleanup();
  });

  const entry = (seq: number): AuditEntry => JSON.parse(raw.records.get(seq)!) as AuditEntry;
  const store = (seq: number, value: AuditEntry | string): void => {
    raw.records.putSync(seq, typeof value === 'string' ? value : canonicalJson(value as unknown as JsonObject));
  };
  const verify = async (options?: Parameters<AuditLog['verify']>[0]): Promise<VerifyResult> => {
    const log = await AuditLog.open({ dir, readOnly: true });
    try {
      return await log.verify(options);
    } finally {
      await log.close();
    }
  };

  test('untouched log verifies', async () => {
    const result = await verify();
    assert.equal(result.ok, true);
    assert.equal(result.ok && result.count, N);
  });

  test('editing a field (deny -> allow) is a hash mismatch on that record only', async () => {
    const e = entry(4);
    assert.equal(e.verdict, 'deny');
    store(4, { ...e, verdict: 'allow' });
    assert.deepEqual(codes(await verify()), ['AUDIT_HASH_MISMATCH@4']);
  });

  test('editing a field and re-hashing the record breaks the next link', async () => {
    const e = { ...entry(4), reason: 'nothing to see' };
    e.hash = hashRecord(e as unknown as JsonObject);
    store(4, e);
    assert.deepEqual(codes(await verify()), ['AUDIT_CHAIN_BROKEN@5']);
  });

  test('rewriting the whole tail from an edit on is caught by the head pointer', async () => {
    let prev = entry(3).hash;
    for (let seq = 4; seq <= N; seq++) {
      const e = { ...entry(seq), prevHash: prev, ...(seq === 4 ? { verdict: 'allow' as const } : {}) };
      e.hash = hashRecord(e as unknown as JsonObject);
      store(seq, e);
      prev = e.hash;
    }
    assert.deepEqual(codes(await verify()), [`AUDIT_BAD_HEAD@${N}`]);
  });

  test('deleting a record in the middle is a gap', async () => {
    raw.records.removeSync(6);
    assert.deepEqual(codes(await verify()), ['AUDIT_GAP@6']);
  });

  test('deleting the first record is a gap', async () => {
    raw.records.removeSync(1);
    assert.deepEqual(codes(await verify()), ['AUDIT_GAP@1']);
  });

  test('swapping two records (reorder) is caught', async () => {
    const a = raw.records.get(3)!;
    const b = raw.records.get(4)!;
    store(3, b);
    store(4, a);
    const found = codes(await verify());
    assert.ok(found.includes('AUDIT_GAP@3') && found.includes('AUDIT_SEQ_MISMATCH@3'), found.join());
  });

  test('renumbering swapped records still breaks the chain', async () => {
    const a = entry(3);
    const b = entry(4);
    const moved3 = { ...b, seq: 3 };
    moved3.hash = hashRecord(moved3 as unknown as JsonObject);
    const moved4 = { ...a, seq: 4 };
    moved4.hash = hashRecord(moved4 as unknown as JsonObject);
    store(3, moved3);
    store(4, moved4);
    assert.ok(codes(await verify()).some((c) => c.startsWith('AUDIT_CHAIN_BROKEN')));
  });

  test('garbage in a record is a bad record', async () => {
    store(7, '{"not json');
    const found = codes(await verify());
    assert.ok(found.includes('AUDIT_BAD_RECORD@7'), found.join());
  });

  test('cutting acknowledged records off the end is caught by the head pointer', async () => {
    raw.records.removeSync(N);
    raw.records.removeSync(N - 1);
    assert.deepEqual(codes(await verify()), [`AUDIT_TRUNCATED@${N - 1}`]);
  });

  test('a cut that also rewrites the head needs an acknowledged seq from outside the database', async () => {
    const lastHash = entry(N).hash;
    raw.records.removeSync(N);
    raw.setHead({ seq: N - 1, hash: entry(N - 1).hash });
    assert.equal((await verify()).ok, true); // the chain alone cannot see it...
    assert.deepEqual(codes(await verify({ expect: { seq: N } })), [`AUDIT_TRUNCATED@${N}`]);
    assert.deepEqual(codes(await verify({ expect: { seq: N - 1, hash: lastHash } })), [`AUDIT_HASH_MISMATCH@${N - 1}`]);
  });

  test('the writer notices when records it acknowledged disappear', async () => {
    await raw.close();
    const log = await AuditLog.open({ dir });
    const acked = await log.append(decision(99));
    raw = openRaw(dir);
    raw.records.removeSync(acked.seq);
    raw.setHead({ seq: acked.seq - 1, hash: entry(acked.seq - 1).hash });
    const result = await log.verify();
    await log.close();
    assert.deepEqual(codes(result), [`AUDIT_TRUNCATED@${acked.seq}`]);
  });

  test('appending after a deletion keeps the evidence: the gap stays, nothing is overwritten', async () => {
    raw.records.removeSync(N);
    await raw.close();
    const log = await AuditLog.open({ dir });
    const next = await log.append(decision(100));
    assert.equal(next.seq, N + 1);
    const result = await log.verify();
    await log.close();
    raw = openRaw(dir);
    assert.deepEqual(codes(result), [`AUDIT_GAP@${N}`]);
  });

  test('a second writer is refused while the first is open, so the chain cannot fork', async () => {
    const log = await AuditLog.open({ dir });
    try {
      await assert.rejects(AuditLog.open({ dir }), (e: { code?: string }) => e.code === 'AUDIT_LOCKED');
      const next = await log.append(decision(3));
      assert.equal(next.seq, N + 1);
      assert.equal((await log.verify()).ok, true);
    } finally {
      await log.close();
    }
    // Released on close; readers never needed it.
    const again = await AuditLog.open({ dir });
    await again.close();
  });

  test('a lock left by a writer that died is taken over', async () => {
    writeFileSync(join(dir, 'writer.lock'), '2147483646'); // no such process
    const log = await AuditLog.open({ dir });
    try {
      assert.equal((await log.append(decision(5))).seq, N + 1);
    } finally {
      await log.close();
    }
  });

  test('any single random edit of any stored record fails verification', async () => {
    const log = await AuditLog.open({ dir, readOnly: true });
    try {
      const json: fc.Arbitrary<unknown> = fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 2 }));
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 1, max: N }), fc.nat(), json, async (seq, pick, value) => {
          const original = raw.records.get(seq)!;
          const e = JSON.parse(original) as Record<string, unknown>;
          const keys = Object.keys(e);
          const key = keys[pick % keys.length]!;
          fc.pre(canonicalJson(e[key] as never) !== canonicalJson(value as never));
          e[key] = value;
          raw.records.putSync(seq, JSON.stringify(e));
          try {
            const result = await log.verify();
            assert.equal(result.ok, false, `editing ${key} of ${seq} went unnoticed`);
          } finally {
            raw.records.putSync(seq, original);
          }
        }),
        { numRuns: 150 },
      );
      assert.equal((await log.verify()).ok, true);
    } finally {
      await log.close();
    }
  });
});
