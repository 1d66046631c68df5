/**
 * A full disk: appends that cannot be written are refused (the caller then denies the request),
 * nothing half-written stays in the log, the chain goes on from the last durable record, and
 * appends work again once there is space. Runs on a small tmpfs mounted for the test (root, as
 * the end-to-end tests; `.ci/run` runs as root).
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { AuditLog } from '../../../policy/audit/index.js';
import { run } from '../../e2e/harness/processes.js';
import { decision } from './helpers.js';

test('disk full: appends are refused whole, the log stays consistent and recovers', { timeout: 60_000 }, async () => {
  assert.equal(process.getuid?.(), 0, 'this test mounts a tmpfs: run it as root (.ci/run does)');
  const mount = mkdtempSync(join(tmpdir(), 'bailiff-audit-full-'));
  await run('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mount]);
  try {
    const dir = join(mount, 'audit');
    const log = await AuditLog.open({ dir });
    let acked = 0;
    let refused = 0;
    const big = 'x'.repeat(3000);
    // Fill the disk: appends are acknowledged until the space runs out, then refused.
    for (let i = 0; i < 200 && refused < 5; i++) {
      try {
        await log.append(decision(i, { reason: big }));
        acked += 1;
      } catch (error) {
        assert.match((error as { code?: string }).code ?? '', /^AUDIT_WRITE_FAILED$/);
        refused += 1;
      }
    }
    assert.ok(acked > 10 && refused === 5, `acked ${acked}, refused ${refused}`);
    assert.equal(log.head().seq, acked, 'refused appends consume no seq');
    const before = await log.verify();
    assert.equal(before.ok && before.count, acked);

    // Space comes back (the operator grows the volume): appends continue on the same chain.
    await run('mount', ['-o', 'remount,size=2m', mount]);
    const next = await log.append(decision(999));
    assert.equal(next.seq, acked + 1);
    const after = await log.verify();
    assert.equal(after.ok && after.count, acked + 1);
    await log.close();
    const reader = await AuditLog.open({ dir, readOnly: true });
    assert.equal((await reader.verify()).ok, true);
    await reader.close();
  } finally {
    await run('umount', [mount]).catch(() => undefined);
    rmSync(mount, { recursive: true, force: true });
  }
});
