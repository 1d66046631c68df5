import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import {
  AuditError, AuditLog, GENESIS_HASH, canonicalJson, hashRecord, type AuditEntry, type JsonObject,
} from '../../../policy/audit/index.js';
import { canonicalParts, joinLinks, orderedParts } from '../../../policy/audit/canonical-json.js';
import { normalizeInput, normalizeOutcome, type Normalizing } from '../../../policy/audit/normalize.js';
import { decision, tempDir } from './helpers.js';
import { WRITE_BUCKETS_MS, writeBucket } from '../../../policy/audit/group-commit.js';

async function collect(iterable: AsyncIterable<AuditEntry>): Promise<AuditEntry[]> {
  const out: AuditEntry[] = [];
  for await (const entry of iterable) out.push(entry);
  return out;
}

describe('append, verify, query', () => {
  const { dir, cleanup } = tempDir();
  let log: AuditLog;
  let now = Date.parse('2026-03-01T10:00:00Z');
  before(async () => {
    log = await AuditLog.open({ dir, clock: () => new Date(now) });
  });
  after(async () => {
    await log.close();
    cleanup();
  });

  test('first record chains from genesis and hashes its canonical JSON', async () => {
    const entry = await log.append(decision(0));
    assert.equal(entry.seq, 1);
    assert.equal(entry.v, 1);
    assert.equal(entry.prevHash, GENESIS_HASH);
    assert.equal(entry.time, '2026-03-01T10:00:00.000Z');
    assert.equal(entry.hash, hashRecord(entry as unknown as JsonObject));
    const stored = log.get(1);
    assert.deepEqual(stored, entry);
  });

  test('records chain, seq is gap-free, verify passes', async () => {
    for (let i = 1; i < 20; i++) {
      now += 60_000;
      await log.append(decision(i));
    }
    const all = await collect(log.query());
    assert.deepEqual(all.map((e) => e.seq), Array.from({ length: 20 }, (_, i) => i + 1));
    for (let i = 1; i < all.length; i++) assert.equal(all[i]!.prevHash, all[i - 1]!.hash);
    const result = await log.verify();
    assert.deepEqual(result, { ok: true, count: 20, lastSeq: 20, lastHash: all[19]!.hash });
  });

  test('query filters by peer, verdict, kind, since and limit, in order', async () => {
    const deny = await collect(log.query({ verdict: 'deny' }));
    assert.deepEqual(deny.map((e) => e.seq), [1, 4, 7, 10, 13, 16, 19]);
    const ci = await collect(log.query({ peer: 'ci-agent', verdict: 'allow' }));
    assert.ok(ci.length > 0 && ci.every((e) => e.peer === 'ci-agent' && e.verdict === 'allow'));
    const since = await collect(log.query({ since: new Date('2026-03-01T10:15:00Z') }));
    assert.deepEqual(since.map((e) => e.seq), [16, 17, 18, 19, 20]);
    const sinceBetween = await collect(log.query({ since: new Date('2026-03-01T10:14:30Z') }));
    assert.equal(sinceBetween[0]!.seq, 16);
    assert.deepEqual((await collect(log.query({ limit: 3 }))).map((e) => e.seq), [1, 2, 3]);
    assert.deepEqual(await collect(log.query({ kind: 'system' })), []);
    assert.deepEqual(await collect(log.query({ since: new Date('2030-01-01T00:00:00Z') })), []);
    await assert.rejects(collect(log.query({ kind: 'nope' as 'system' })), { code: 'AUDIT_BAD_OPTION' });
  });

  test('complete() appends a record that references the original, never rewriting it', async () => {
    const original = log.get(5)!;
    const done = await log.complete(5, { commandTag: 'SELECT 1', rows: 1, bytesIn: 40, bytesOut: 120, durationMs: 3.2, closeReason: 'client' });
    assert.equal(done.seq, 21);
    assert.equal(done.completes, 5);
    assert.equal(done.kind, 'decision');
    assert.equal(done.peer, original.peer);
    assert.equal(done.endpoint, original.endpoint);
    assert.equal(done.connectionId, original.connectionId);
    assert.deepEqual(done.outcome, { commandTag: 'SELECT 1', rows: 1, bytesIn: 40, bytesOut: 120, durationMs: 3.2, closeReason: 'client' });
    assert.deepEqual(log.get(5), original);
    await assert.rejects(log.complete(999, { commandTag: 'x' }), { code: 'AUDIT_UNKNOWN_SEQ' });
    await assert.rejects(log.complete(5, { bogus: 1 } as never), { code: 'AUDIT_BAD_RECORD' });
    assert.equal((await log.verify()).ok, true);
  });

  test('bad records are refused with stable codes and consume no seq', async () => {
    const before = log.head().seq;
    await assert.rejects(log.append({ kind: 'weird' } as never), { code: 'AUDIT_BAD_RECORD' });
    await assert.rejects(log.append({ kind: 'system', seq: 5 } as never), { code: 'AUDIT_BAD_RECORD' });
    await assert.rejects(log.append({ kind: 'system', hash: 'x' } as never), { code: 'AUDIT_BAD_RECORD' });
    await assert.rejects(log.append({ kind: 'decision', verdict: 'maybe' } as never), { code: 'AUDIT_BAD_RECORD' });
    await assert.rejects(log.append({ kind: 'system', timings: { t: Number.NaN } }), { code: 'AUDIT_BAD_RECORD' });
    await assert.rejects(log.append({ kind: 'system', detail: { f: () => 1 } as never }), { code: 'AUDIT_BAD_RECORD' });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await assert.rejects(log.append({ kind: 'system', detail: cyclic as never }), { code: 'AUDIT_BAD_RECORD' });
    await assert.rejects(log.append({ kind: 'system', message: 'x'.repeat(2 << 20) }), { code: 'AUDIT_RECORD_TOO_LARGE' });
    await assert.rejects(log.append({ kind: 'system', message: 5 as never }), (e: unknown) => e instanceof AuditError);
    assert.equal(log.head().seq, before);
    const ok = await log.append({ kind: 'system', message: 'still fine', detail: { at: new Date(0) as never, big: 10n as never } });
    assert.equal(ok.seq, before + 1);
    assert.deepEqual(ok.detail, { at: '1970-01-01T00:00:00.000Z', big: '10' });
  });
});

describe('group commit', () => {
  test('1000 concurrent appends share a handful of commits, all resolve, in order and gap-free', async () => {
    const { dir, cleanup } = tempDir();
    const log = await AuditLog.open({ dir });
    try {
      const entries = await Promise.all(Array.from({ length: 1000 }, (_, i) => log.append(decision(i))));
      const stats = log.stats();
      assert.ok(stats.commits <= 3, `expected 1-3 commits for 1000 appends in one tick, got ${stats.commits}`);
      assert.equal(stats.records, 1000);
      // Promise.all keeps call order: the i-th append got seq i+1, with its own content.
      entries.forEach((e, i) => {
        assert.equal(e.seq, i + 1);
        assert.equal(e.facts?.['sql.statement'], `select * from users where id = ${i}`);
      });
      assert.deepEqual(await log.verify(), { ok: true, count: 1000, lastSeq: 1000, lastHash: entries[999]!.hash });
    } finally {
      await log.close();
      cleanup();
    }
  });

  test('appends from interleaved async tasks stay gap-free and ordered by resolution', async () => {
    const { dir, cleanup } = tempDir();
    const log = await AuditLog.open({ dir });
    try {
      const resolved: number[] = [];
      const worker = async (w: number): Promise<void> => {
        for (let i = 0; i < 100; i++) {
          const e = await log.append(decision(i, { connectionId: `w${w}` }));
          resolved.push(e.seq);
        }
      };
      await Promise.all(Array.from({ length: 20 }, (_, w) => worker(w)));
      const stats = log.stats();
      assert.equal(stats.records, 2000);
      assert.ok(stats.commits < 400, `2000 appends from 20 tasks took ${stats.commits} commits`);
      assert.deepEqual([...resolved].sort((a, b) => a - b), Array.from({ length: 2000 }, (_, i) => i + 1));
      // Each task's own appends got increasing seqs (it awaited each before the next).
      const seqs = (await collect(log.query())).filter((e) => e.connectionId === 'w7').map((e) => e.seq);
      assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
      assert.equal((await log.verify()).ok, true);
    } finally {
      await log.close();
      cleanup();
    }
  });

  test('a burst larger than maxBatch is split into bounded commits and nothing is dropped', async () => {
    const { dir, cleanup } = tempDir();
    const log = await AuditLog.open({ dir, maxBatch: 512 });
    try {
      const entries = await Promise.all(Array.from({ length: 5000 }, (_, i) => log.append(decision(i))));
      assert.equal(entries.length, 5000);
      const stats = log.stats();
      assert.equal(stats.commits, 10);
      assert.equal(stats.largestBatch, 512);
      assert.equal(stats.pending, 0);
      assert.equal((await log.verify()).ok, true);
    } finally {
      await log.close();
      cleanup();
    }
  });

  test('commits are written in place while the disk is fast, through the thread pool when told to', async () => {
    for (const inlineWrites of [true, false]) {
      const { dir, cleanup } = tempDir();
      const log = await AuditLog.open({ dir, inlineWrites });
      try {
        await Promise.all(Array.from({ length: 20 }, async (_, task) => {
          for (let i = 0; i < 10; i++) await log.append(decision(task * 10 + i));
        }));
        const stats = log.stats();
        assert.equal(stats.records, 200);
        // The first write is always in place when allowed; a slow disk may send later ones to the pool.
        if (inlineWrites) assert.ok(stats.inlineCommits >= 1 && stats.inlineCommits <= stats.commits, JSON.stringify(stats));
        else assert.equal(stats.inlineCommits, 0);
        // Each durable write takes some time, and the sum is what the commits took.
        assert.ok(stats.writeMs > 0 && stats.writeMs < 60_000, JSON.stringify(stats));
        // Every commit is counted once in the write-time histogram.
        assert.equal(stats.writeBuckets.length, WRITE_BUCKETS_MS.length + 1);
        assert.equal(stats.writeBuckets.reduce((a, b) => a + b, 0), stats.commits);
        assert.equal((await log.verify()).ok, true);
      } finally {
        await log.close();
        cleanup();
      }
    }
  });

  test('a write counts in the first bucket whose bound it does not exceed, else in the last', () => {
    assert.equal(writeBucket(0), 0);
    assert.equal(writeBucket(WRITE_BUCKETS_MS[0]!), 0);
    assert.equal(writeBucket(WRITE_BUCKETS_MS[0]! + 0.0001), 1);
    assert.equal(writeBucket(1), WRITE_BUCKETS_MS.indexOf(1));
    assert.equal(writeBucket(999), WRITE_BUCKETS_MS.length - 1);
    assert.equal(writeBucket(1000.5), WRITE_BUCKETS_MS.length);
    assert.equal(writeBucket(Number.POSITIVE_INFINITY), WRITE_BUCKETS_MS.length);
    // Bounds ascend, so the buckets partition the times.
    for (let i = 1; i < WRITE_BUCKETS_MS.length; i++) assert.ok(WRITE_BUCKETS_MS[i]! > WRITE_BUCKETS_MS[i - 1]!);
  });

  test('maxBatch 1 means one commit per record (the bench baseline)', async () => {
    const { dir, cleanup } = tempDir();
    const log = await AuditLog.open({ dir, maxBatch: 1 });
    try {
      await Promise.all(Array.from({ length: 20 }, (_, i) => log.append(decision(i))));
      assert.equal(log.stats().commits, 20);
    } finally {
      await log.close();
      cleanup();
    }
  });

  test('close() waits for queued appends; appends after close are refused', async () => {
    const { dir, cleanup } = tempDir();
    const log = await AuditLog.open({ dir });
    try {
      const pending = Array.from({ length: 50 }, (_, i) => log.append(decision(i)));
      await log.close();
      assert.equal((await Promise.all(pending)).length, 50);
      await assert.rejects(log.append(decision(0)), { code: 'AUDIT_CLOSED' });
      const again = await AuditLog.open({ dir });
      assert.deepEqual((await again.verify()).ok, true);
      assert.equal((await again.append(decision(1))).seq, 51);
      await again.close();
    } finally {
      cleanup();
    }
  });

  test('read-only handles refuse writes and report a missing log', async () => {
    const { dir, cleanup } = tempDir();
    try {
      await assert.rejects(AuditLog.open({ dir, readOnly: true }), { code: 'AUDIT_NOT_FOUND' });
      const writer = await AuditLog.open({ dir });
      await writer.append(decision(0));
      const reader = await AuditLog.open({ dir, readOnly: true });
      await assert.rejects(reader.append(decision(1)), { code: 'AUDIT_READ_ONLY' });
      assert.equal((await reader.verify()).ok, true);
      await reader.close();
      // Closing a reader in the same process must not disturb the writer's environment.
      assert.equal((await writer.append(decision(2))).seq, 2);
      await writer.close();
    } finally {
      cleanup();
    }
  });
});

describe('segment files', () => {
  test('segments roll over; reads, get, since, verify and reopening span them', async () => {
    const { dir, cleanup } = tempDir();
    let now = Date.parse('2026-03-01T10:00:00Z');
    try {
      const log = await AuditLog.open({ dir, segmentBytes: 4096, clock: () => new Date(now) });
      for (let i = 0; i < 120; i++) {
        now += 1000;
        await log.append(decision(i));
      }
      const segments = readdirSync(dir).filter((n) => n.endsWith('.jsonl')).sort();
      assert.ok(segments.length >= 10, `only ${segments.length} segments`);
      // Each segment is named by its first record and holds consecutive records.
      for (const name of segments) {
        const first = JSON.parse(readFileSync(join(dir, name), 'utf8').split('\n')[0]!.replace(/\0+$/, '')) as AuditEntry;
        assert.equal(first.seq, Number(name.slice(0, 20)));
      }
      assert.deepEqual((await collect(log.query({}))).map((e) => e.seq), Array.from({ length: 120 }, (_, i) => i + 1));
      assert.equal(log.get(77)?.seq, 77);
      const since = await collect(log.query({ since: new Date(Date.parse('2026-03-01T10:00:00Z') + 100_000) }));
      assert.deepEqual(since.map((e) => e.seq), Array.from({ length: 21 }, (_, i) => i + 100));
      await log.close();
      const again = await AuditLog.open({ dir, segmentBytes: 4096 });
      assert.equal((await again.append(decision(500))).seq, 121);
      const result = await again.verify();
      assert.equal(result.ok && result.count, 121);
      await again.close();
    } finally {
      cleanup();
    }
  });

  test('a torn tail (a write that never finished) is cut at reopen; acknowledged records stay', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const log = await AuditLog.open({ dir });
      for (let i = 0; i < 5; i++) await log.append(decision(i));
      await log.close();
      const [segment] = readdirSync(dir).filter((n) => n.endsWith('.jsonl'));
      const path = join(dir, segment!);
      const intact = readFileSync(path);
      // Half a record, then the zeros a preallocated segment would have after it.
      writeFileSync(path, Buffer.concat([intact, Buffer.from('{"kind":"decision","peer":"half'), Buffer.alloc(4096)]));
      const reader = await AuditLog.open({ dir, readOnly: true });
      assert.equal((await collect(reader.query({}))).length, 5, 'readers stop at the unfinished line');
      await reader.close();
      const again = await AuditLog.open({ dir });
      assert.equal(again.stats().recoveredBytes, '{"kind":"decision","peer":"half'.length);
      assert.equal((await again.append(decision(9))).seq, 6);
      assert.equal((await again.verify()).ok, true);
      await again.close();
      assert.ok(readFileSync(path).subarray(0, intact.length).equals(intact));
    } finally {
      cleanup();
    }
  });

  test('zero-filled extents never cover records: 3 extents of concurrent appends verify', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const log = await AuditLog.open({ dir });
      const big = 'x'.repeat(4000);
      let seq = 0;
      await Promise.all([0, 1, 2, 3].map(async (k) => {
        for (let i = 0; i < 800; i++) seq = Math.max(seq, (await log.append(decision(i, { reason: `${k}${big}` }))).seq);
      }));
      const result = await log.verify();
      assert.deepEqual(result.ok ? result.count : result.problems.slice(0, 3), 3200);
      await log.close();
      const reader = await AuditLog.open({ dir, readOnly: true });
      assert.equal((await reader.verify()).ok, true);
      await reader.close();
    } finally {
      cleanup();
    }
  });
});

describe('follow in process', () => {
  test('yields existing records, then new ones as they commit, until aborted', async () => {
    const { dir, cleanup } = tempDir();
    const log = await AuditLog.open({ dir });
    try {
      await log.append(decision(0));
      await log.append(decision(1));
      const controller = new AbortController();
      const seen: number[] = [];
      const following = (async () => {
        for await (const e of log.follow({ peer: 'oncall-agent' }, { signal: controller.signal, pollMs: 60_000 })) {
          seen.push(e.seq);
          if (seen.length === 3) controller.abort();
        }
      })();
      await new Promise((r) => setTimeout(r, 20));
      const started = Date.now();
      await log.append(decision(3)); // ci-agent: filtered out
      await log.append(decision(4));
      await log.append(decision(6));
      await following;
      // Woken by the commit event, not the (one minute) poll timer.
      assert.ok(Date.now() - started < 5000);
      assert.deepEqual(seen, [1, 4, 5]);
    } finally {
      await log.close();
      cleanup();
    }
  });
});

describe('canonical JSON', () => {
  test('sorts keys at every depth, no whitespace, drops undefined', () => {
    assert.equal(canonicalJson({ b: 1, a: [{ d: 'x', c: null }], e: { g: true, f: -0 } }), '{"a":[{"c":null,"d":"x"}],"b":1,"e":{"f":0,"g":true}}');
    assert.equal(canonicalJson(JSON.parse(canonicalJson({ s: '\u2028"\\' }))), canonicalJson({ s: '\u2028"\\' }));
  });

  test('parts encoded at append time and joined in the commit equal canonicalJson of the whole', () => {
    fc.assert(fc.property(
      fc.dictionary(fc.string(), fc.jsonValue()), fc.nat(), fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex')),
      (body, seq, prevHash) => {
        const record = JSON.parse(JSON.stringify(body)) as JsonObject;
        delete record.seq;
        delete record.prevHash;
        const joined = joinLinks(canonicalParts(record), prevHash, seq);
        assert.equal(joined, canonicalJson({ ...record, prevHash, seq }));
        assert.equal(canonicalJson(JSON.parse(joined) as JsonObject), joined);
      },
    ), { numRuns: 300 });
  });

  test('the chain fields joined into parts give canonicalJson of the whole, hashed text and stored line', () => {
    // Keys on both sides of each chain field, so every position of hash, prevHash and seq occurs.
    const key = fc.oneof(fc.string(), fc.constantFrom('a', 'has', 'hasg', 'hasi', 'kind', 'prev', 'prevHasg', 'prevHasi', 'sep', 'seqq', 'time', 'z'));
    const hex = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'));
    fc.assert(fc.property(fc.dictionary(key, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 8 }), hex, hex, fc.nat(), (body, prevHash, hash, seq) => {
      const record = JSON.parse(JSON.stringify(body)) as JsonObject;
      for (const link of ['hash', 'prevHash', 'seq']) delete record[link];
      const parts = canonicalParts(record);
      assert.equal(joinLinks(parts, prevHash, seq), canonicalJson({ ...record, prevHash, seq }));
      assert.equal(joinLinks(parts, prevHash, seq, hash), canonicalJson({ ...record, hash, prevHash, seq }));
    }), { numRuns: 1000 });
    assert.equal(joinLinks([], 'ab', 7), '{"prevHash":"ab","seq":7}');
  });

  test('string fields written without JSON.stringify match it, whatever the characters', () => {
    // Controls, quotes, backslashes, lone and paired surrogates, U+2028, non-ASCII.
    const tricky = fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: fc.constantFrom('"', '\\', '\n', '\u0000', '\u001f', '\u007f', '\u2028', '\ud800', '\udfff', '\ud83d\ude00', 'é', 'a') }));
    fc.assert(fc.property(tricky, tricky, (peer, reason) => {
      const record: JsonObject = { kind: 'decision', peer, reason, v: 1 };
      assert.deepEqual(orderedParts(record), canonicalParts(record));
    }), { numRuns: 2000 });
  });

  test('a normalised record without index-like keys is encoded field by field to the same text', () => {
    // Keys the generator favours: index-like ones ("0", "10", "9"), "__proto__", non-ASCII.
    const key = fc.oneof(fc.string(), fc.constantFrom('0', '9', '10', '01', '4294967294', '4294967295', '__proto__', 'é', 'Z', 'a'));
    const value = fc.letrec<{ v: unknown }>((tie) => ({
      v: fc.oneof({ depthSize: 'small' }, fc.jsonValue({ maxDepth: 1 }), fc.array(tie('v'), { maxLength: 3 }), fc.dictionary(key, tie('v'), { maxKeys: 4 })),
    })).v;
    let ordered = 0;
    let unordered = 0;
    fc.assert(fc.property(
      fc.dictionary(key, value, { maxKeys: 5 }), fc.dictionary(key, value, { maxKeys: 3 }), fc.string(), fc.nat(), fc.option(fc.nat(), { nil: undefined }),
      (facts, detail, peer, seq, rows) => {
        const n: Normalizing = { mapString: (s) => s.replace(/secret/g, '[REDACTED]'), indexKeys: false };
        const body = normalizeInput({ kind: 'decision', peer, facts: facts as JsonObject, detail: detail as JsonObject, verdict: 'allow' }, n);
        const outcome = normalizeOutcome({ commandTag: 'SELECT 1', ...(rows !== undefined ? { rows } : {}) }, n);
        const draft = { ...body, completes: seq, outcome, v: 1, time: '2026-11-25T10:00:00.000Z' } as JsonObject;
        const expected = joinLinks(canonicalParts(draft), 'f'.repeat(64), seq + 1);
        if (n.indexKeys) {
          unordered += 1;
          return;
        }
        ordered += 1;
        assert.equal(joinLinks(orderedParts(draft), 'f'.repeat(64), seq + 1), expected);
      },
    ), { numRuns: 500 });
    assert.ok(ordered > 50 && unordered > 50, `both paths exercised: ${ordered} ordered, ${unordered} not`);
  });
});
