/** `bailiff audit` output and exit codes, and --follow seeing another process's appends. */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { auditCommand, formatEntry, parseSince } from '../../../appliance/audit-command.js';
import { AuditLog, auditDir, type AuditEntry } from '../../../policy/audit/index.js';
import { decision, fixturePath, openRaw, tempDir } from './helpers.js';

const T0 = Date.parse('2026-06-01T12:00:00Z');
const MIN = 60_000;

interface Run {
  code: number;
  out: string;
  err: string;
}

async function run(argv: string[], stateDir: string, extra: { signal?: AbortSignal; now?: () => Date; onOut?: (s: string) => void } = {}): Promise<Run> {
  let out = '';
  let err = '';
  const code = await auditCommand(argv, {
    stdout: (s) => { out += s; extra.onOut?.(s); },
    stderr: (s) => { err += s; },
    stateDir,
    ...(extra.signal ? { signal: extra.signal } : {}),
    now: extra.now ?? (() => new Date(T0 + 60 * MIN)),
  });
  return { code, out, err };
}

const lines = (text: string): string[] => text.split('\n').filter((l) => l.length > 0);

describe('bailiff audit', () => {
  const { dir: stateDir, cleanup } = tempDir('bailiff-state-');
  const entries: AuditEntry[] = [];
  before(async () => {
    let now = T0;
    const log = await AuditLog.open({ dir: auditDir(stateDir), clock: () => new Date(now) });
    entries.push(await log.append({ kind: 'system', message: 'appliance started' }));
    for (let i = 0; i < 6; i++) {
      now = T0 + (i + 1) * 10 * MIN;
      entries.push(await log.append(decision(i)));
    }
    entries.push(await log.append({ kind: 'connection', peer: 'ci-agent', endpoint: 'tcp.legacy', verdict: 'deny', reasonCode: 'POL_NO_PROFILE', reason: 'profile does not reach tcp.legacy' }));
    entries.push(await log.append({ kind: 'approval', peer: 'oncall-agent', endpoint: 'postgres.prod-db', rule: 'pg-secrets', verdict: 'allow', reason: 'approved', approvers: [{ name: 'human_approver.ops', verdict: 'allow', decidedBy: 'U0123ABC' }] }));
    entries.push(await log.complete(3, { commandTag: 'SELECT 3', bytesOut: 512, durationMs: 4 }));
    entries.push(await log.append({ kind: 'decision', peer: 'evil\u001b[31m', reason: 'line\nbreak\u202e' }));
    await log.close();
  });
  after(cleanup);

  test('lists every record, one aligned line each, under a header', async () => {
    const { code, out, err } = await run([], stateDir);
    assert.equal(code, 0, err);
    const rows = lines(out);
    assert.equal(rows.length, entries.length + 1);
    const header = rows[0]!;
    for (const column of ['TIME', 'KIND', 'PEER', 'ENDPOINT', 'VERDICT', 'RULE', 'REASON']) assert.ok(header.includes(column));
    const at = (name: string): number => header.indexOf(name);
    const first = rows[2]!; // seq 2, a decision
    assert.equal(first.slice(at('TIME')).startsWith(entries[1]!.time), true);
    assert.equal(first.slice(at('KIND')).startsWith('decision'), true);
    assert.equal(first.slice(at('PEER')).startsWith('oncall-agent'), true);
    assert.equal(first.slice(at('ENDPOINT')).startsWith('postgres.prod-db'), true);
    assert.equal(first.slice(at('VERDICT')).startsWith('deny'), true);
    assert.equal(first.slice(at('RULE')).startsWith('pg-no-ddl'), true);
    assert.equal(first.slice(at('REASON')), 'Schema changes go through a migration PR [POL_RULE_DENY]');
    assert.match(rows[10]!, /completes #3: SELECT 3, 0 B in \/ 512 B out, 4 ms$/);
    assert.equal(rows[1]!.slice(at('REASON')), 'appliance started');
    // Agent-controlled text cannot inject terminal escapes or break the line.
    const evil = rows[11]!;
    assert.ok(!/[\u0000-\u001f\u202e]/.test(evil));
    assert.ok(evil.includes('evil\\u001b[31m') && evil.includes('line\\nbreak\\u202e'));
    assert.deepEqual(lines(out).map((l) => l.indexOf(' ', at('KIND'))).slice(1, 4).every((p) => p > at('KIND')), true);
  });

  test('--json prints the stored records, one per line', async () => {
    const { code, out } = await run(['--json'], stateDir);
    assert.equal(code, 0);
    assert.deepEqual(lines(out).map((l) => JSON.parse(l) as AuditEntry), entries);
  });

  test('filters: --peer, --verdict, --kind, --since (duration and ISO)', async () => {
    const seqsOf = async (argv: string[]): Promise<number[]> => {
      const { code, out, err } = await run([...argv, '--json'], stateDir);
      assert.equal(code, 0, err);
      return lines(out).map((l) => (JSON.parse(l) as AuditEntry).seq);
    };
    assert.deepEqual(await seqsOf(['--peer', 'ci-agent']), entries.filter((e) => e.peer === 'ci-agent').map((e) => e.seq));
    assert.deepEqual(await seqsOf(['--verdict', 'deny']), entries.filter((e) => e.verdict === 'deny').map((e) => e.seq));
    assert.deepEqual(await seqsOf(['--kind', 'system']), [1]);
    assert.deepEqual(await seqsOf(['--peer', 'ci-agent', '--verdict', 'deny']), [5, 8]);
    // now = T0 + 60 min; 25m ago = T0 + 35 min: records from T0 + 40 min on.
    const recent = await seqsOf(['--since', '25m']);
    assert.deepEqual(recent, entries.filter((e) => Date.parse(e.time) >= T0 + 35 * MIN).map((e) => e.seq));
    assert.equal(recent[0], 5);
    assert.deepEqual(await seqsOf(['--since', new Date(T0 + 50 * MIN).toISOString()]), recent.slice(1));
    assert.deepEqual(await seqsOf(['--since', '1h']), entries.map((e) => e.seq));
  });

  test('usage errors exit 2 with a message', async () => {
    for (const argv of [['--verdict', 'maybe'], ['--since', 'yesterday'], ['--since', '5y'], ['--bogus'], ['extra'], ['--kind', 'x'], ['verify', '--follow'], ['verify', '--expect', 'abc']]) {
      const { code, err } = await run(argv, stateDir);
      assert.equal(code, 2, argv.join(' '));
      assert.match(err, /^bailiff audit: /);
    }
    const help = await run(['--help'], stateDir);
    assert.equal(help.code, 0);
    assert.match(help.out, /usage: bailiff audit/);
  });

  test('parseSince', () => {
    const now = new Date('2026-01-10T00:00:00Z');
    assert.equal(parseSince('15m', now).toISOString(), '2026-01-09T23:45:00.000Z');
    assert.equal(parseSince('2h', now).toISOString(), '2026-01-09T22:00:00.000Z');
    assert.equal(parseSince('7d', now).toISOString(), '2026-01-03T00:00:00.000Z');
    assert.equal(parseSince('2026-01-05', now).toISOString(), '2026-01-05T00:00:00.000Z');
    assert.equal(parseSince('2026-01-05T01:02:03+01:00', now).toISOString(), '2026-01-05T00:02:03.000Z');
    assert.throws(() => parseSince('2026-13-45', now));
  });

  test('verify: OK line and exit 0', async () => {
    const { code, out } = await run(['verify'], stateDir);
    assert.equal(code, 0);
    assert.equal(lines(out)[0], `audit log OK: ${entries.length} records, chain verified`);
    const json = await run(['verify', '--json'], stateDir);
    assert.deepEqual(JSON.parse(json.out), { ok: true, count: entries.length, lastSeq: entries.length, lastHash: entries.at(-1)!.hash });
    const expectOk = await run(['verify', '--expect', `3:${entries[2]!.hash}`], stateDir);
    assert.equal(expectOk.code, 0);
  });

  test('verify: problems listed and exit 1 (expect beyond the end, then an edit)', async () => {
    const beyond = await run(['verify', '--expect', String(entries.length + 5)], stateDir);
    assert.equal(beyond.code, 1);
    assert.match(beyond.out, /AUDIT_TRUNCATED/);

    const { dir, cleanup: done } = tempDir('bailiff-state-');
    try {
      const log = await AuditLog.open({ dir: auditDir(dir) });
      for (let i = 0; i < 5; i++) await log.append(decision(i));
      await log.close();
      const raw = openRaw(auditDir(dir));
      const third = JSON.parse(raw.records.get(3)!) as AuditEntry;
      raw.records.putSync(3, JSON.stringify({ ...third, verdict: third.verdict === 'allow' ? 'deny' : 'allow' }));
      await raw.close();
      const { code, out } = await run(['verify'], dir);
      assert.equal(code, 1);
      assert.equal(lines(out)[0], 'audit log FAILED: 1 problem(s) in 5 records');
      assert.match(lines(out)[1]!, /seq 3: AUDIT_HASH_MISMATCH/);
    } finally {
      done();
    }
  });

  test('a missing log is exit 1 with a message, not a crash', async () => {
    const { dir, cleanup: done } = tempDir('bailiff-state-');
    try {
      const list = await run([], dir);
      assert.equal(list.code, 1);
      assert.match(list.err, /AUDIT_NOT_FOUND/);
      assert.equal((await run(['verify'], dir)).code, 1);
    } finally {
      done();
    }
  });

  test('formatEntry keeps columns aligned when values overflow', () => {
    const long = formatEntry({ ...entries[1]!, peer: 'p'.repeat(40), endpoint: 'e'.repeat(40) });
    const short = formatEntry(entries[1]!);
    assert.equal(long.indexOf('deny'), short.indexOf('deny'));
    assert.ok(long.includes('…'));
  });
});

describe('bailiff audit --follow across processes', () => {
  test('sees records appended by another process within a second', { timeout: 60_000 }, async () => {
    const { dir: stateDir, cleanup } = tempDir('bailiff-state-');
    const seenAt = new Map<number, number>();
    const controller = new AbortController();
    try {
      const log = await AuditLog.open({ dir: auditDir(stateDir) });
      await log.append({ kind: 'system', message: 'before follow' });
      await log.close();

      const following = run(['--follow', '--json'], stateDir, {
        signal: controller.signal,
        onOut: (s) => {
          for (const line of lines(s)) seenAt.set((JSON.parse(line) as AuditEntry).seq, Date.now());
        },
      });

      const acked = new Map<number, number>();
      await new Promise<void>((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', fixturePath('append-writer.ts'), auditDir(stateDir), 'first', 'second', 'third'], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stderr = '';
        const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
        child.stdout.on('data', (c: Buffer) => {
          for (const line of lines(c.toString())) {
            const [, seq, at] = line.split(' ');
            acked.set(Number(seq), Number(at));
          }
        });
        child.on('close', (code) => {
          clearTimeout(killer);
          if (code === 0) resolve();
          else reject(new Error(`writer exited ${code}: ${stderr}`));
        });
      });
      // Give the last poll time to run, then stop following.
      const deadline = Date.now() + 2000;
      while (!seenAt.has(4) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      controller.abort();
      const result = await following;
      assert.equal(result.code, 0);
      assert.deepEqual([...seenAt.keys()], [1, 2, 3, 4]);
      for (const [seq, at] of acked) {
        const delay = seenAt.get(seq)! - at;
        assert.ok(delay < 1000, `record ${seq} shown ${delay} ms after it was acknowledged`);
      }
    } finally {
      controller.abort();
      cleanup();
    }
  });
});
