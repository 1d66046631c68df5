/**
 * The e2e harness cleans up after test runs that were killed before their teardown: a namespace
 * claimed by a process that is gone is removed (with the processes left inside it), one whose
 * owner is alive is left alone. And teardown() runs every step even when one fails.
 */
import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { claimNamespace, releaseNamespace, sweepStaleNamespaces } from './harness/agent-netns.js';
import { run, sleep, start, teardown } from './harness/processes.js';

const namespaces = async (): Promise<string[]> => (await run('ip', ['netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0]!).filter(Boolean);

test('namespaces of a dead owner are swept with what runs inside them; a live owner\'s stay', async () => {
  const tag = String(process.pid % 100000);
  const stale = `bf-s${tag}`;
  const live = `bf-l${tag}`;
  const dead = start('true', []);
  await dead.stop();
  let sleeper: ReturnType<typeof start> | undefined;
  try {
    await run('ip', ['netns', 'add', stale]);
    await run('ip', ['netns', 'add', live]);
    claimNamespace(live);
    claimNamespace(stale);
    writeFileSync(`/run/bailiff-test-netns/${stale}`, `${dead.pid}\n`); // as if a killed run made it
    sleeper = start('ip', ['netns', 'exec', stale, 'sleep', '60']);
    await sleep(200);
    await sweepStaleNamespaces();
    const after = await namespaces();
    assert.ok(!after.includes(stale), 'the dead owner\'s namespace is gone');
    assert.ok(after.includes(live), 'a live owner\'s namespace stays');
    const child = sleeper.child;
    for (let i = 0; i < 40 && child.exitCode === null && child.signalCode === null; i++) await sleep(50);
    assert.equal(child.signalCode, 'SIGKILL', 'the process left inside was stopped');
  } finally {
    await sleeper?.stop('SIGKILL', 1000);
    for (const ns of [stale, live]) {
      await run('ip', ['netns', 'del', ns], { allowFail: true });
      releaseNamespace(ns);
    }
  }
});

test('teardown runs every step after a failure and reports the first', async () => {
  const ran: number[] = [];
  await assert.rejects(teardown(
    () => ran.push(1),
    () => { throw new Error('first'); },
    async () => { ran.push(3); throw new Error('second'); },
    () => ran.push(4),
  ), /first/);
  assert.deepEqual(ran, [1, 3, 4]);
});
