/**
 * THE crash test: a writer process is SIGKILLed mid-stream; every seq it acknowledged must be in
 * the log after reopening, the chain must verify, and appending must continue. Repeated on the
 * same directory, so reopening after a crash (a stale writer lock, a torn tail) is exercised too.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { AuditLog } from '../../../policy/audit/index.js';
import { fixturePath, tempDir } from './helpers.js';

interface CrashRun {
  acknowledged: number[];
  signal: NodeJS.Signals | null;
}

/** Runs the writer until it has acknowledged at least `target` records, then SIGKILLs it. */
function crashAfter(dir: string, target: number): Promise<CrashRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fixturePath('crash-writer.ts'), dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const acknowledged: number[] = [];
    let buffered = '';
    let stderr = '';
    let killed = false;
    const deadline = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`writer did not reach ${target} acks in time; stderr: ${stderr}`));
    }, 60_000);
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!; // a partial line is not an acknowledgement yet
      for (const line of lines) if (/^\d+$/.test(line)) acknowledged.push(Number(line));
      if (!killed && acknowledged.length >= target) {
        killed = true;
        child.kill('SIGKILL'); // by the PID we spawned
      }
    });
    child.on('close', (_code, signal) => {
      clearTimeout(deadline);
      if (!killed) reject(new Error(`writer exited on its own; stderr: ${stderr}`));
      else resolve({ acknowledged, signal });
    });
  });
}

test('every acknowledged record survives SIGKILL, the chain verifies, appends continue', { timeout: 180_000 }, async (t) => {
  const { dir, cleanup } = tempDir('bailiff-audit-crash-');
  try {
    let expectedHead = 0;
    for (const target of [300, 450, 700, 1000]) {
      const run = await crashAfter(dir, target);
      assert.equal(run.signal, 'SIGKILL');
      const acked = run.acknowledged;
      const maxAcked = Math.max(...acked);
      assert.ok(acked.length >= target);

      const log = await AuditLog.open({ dir });
      try {
        for (const seq of acked) assert.ok(log.get(seq), `acknowledged record ${seq} is missing after the crash`);
        const head = log.head();
        t.diagnostic(`killed after ${acked.length} acks (max ${maxAcked}); head after reopen ${head.seq}`);
        // Records committed but not yet printed may be there too; never fewer than acknowledged.
        assert.ok(head.seq >= maxAcked, `head ${head.seq} < acknowledged ${maxAcked}`);
        const result = await log.verify({ expect: { seq: maxAcked, hash: log.get(maxAcked)!.hash } });
        assert.deepEqual(result.ok ? 'ok' : result.problems, 'ok');
        assert.equal(result.ok && result.count, head.seq);
        assert.ok(head.seq > expectedHead);
        // The restarted appliance logs its start and carries on from the head.
        const restart = await log.append({ kind: 'system', message: 'appliance restarted after crash' });
        assert.equal(restart.seq, head.seq + 1);
        expectedHead = restart.seq;
      } finally {
        await log.close();
      }
    }
    const final = await AuditLog.open({ dir, readOnly: true });
    const result = await final.verify();
    await final.close();
    assert.equal(result.ok, true);
    assert.equal(result.ok && result.lastSeq, expectedHead);
  } finally {
    cleanup();
  }
});
