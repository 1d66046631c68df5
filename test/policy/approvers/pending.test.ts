/** The pending store: quorum of distinct users, first decision wins, timeouts, bounds, ids. */
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { isApprovalId, newApprovalId, PendingApprovals, PendingQueueFullError } from '../../../policy/approvers/index.js';
import { ManualClock, sampleRequest } from './helpers.js';

const open = (store: PendingApprovals, options: { required?: number; voters?: string[]; timeoutMs?: number } = {}) =>
  store.open({
    approver: 'human_approver.ops', request: sampleRequest(), timeoutMs: options.timeoutMs ?? 60_000,
    requireApprovers: options.required ?? 1, allowedVoters: options.voters ?? [],
  });

describe('pending approvals', () => {
  test('ids are 128-bit random base32, all different', () => {
    const ids = new Set(Array.from({ length: 1000 }, newApprovalId));
    assert.equal(ids.size, 1000);
    for (const id of ids) assert.ok(isApprovalId(id), id);
  });

  test('quorum: distinct users; the same user twice counts once; completion decides', async () => {
    const store = new PendingApprovals();
    const handle = open(store, { required: 2, voters: ['U1', 'U2', 'U3'] });
    assert.equal(store.vote(handle.id, { by: 'U1', verdict: 'approve' }).kind, 'recorded');
    assert.equal(store.vote(handle.id, { by: 'U1', verdict: 'approve' }).kind, 'duplicate');
    assert.equal(store.vote(handle.id, { by: 'U9', verdict: 'approve' }).kind, 'not_allowed');
    assert.equal(store.list().length, 1);
    const done = store.vote(handle.id, { by: 'U2', verdict: 'approve' });
    assert.equal(done.kind, 'decided');
    const resolution = await handle.result;
    assert.equal(resolution.state, 'approved');
    assert.deepEqual(resolution.view.decidedBy, ['U1', 'U2']);
    assert.equal(store.vote(handle.id, { by: 'U3', verdict: 'deny' }).kind, 'already_decided');
    assert.equal(store.list().length, 0);
  });

  test('a single deny denies, even after approvals', async () => {
    const store = new PendingApprovals();
    const handle = open(store, { required: 2 });
    store.vote(handle.id, { by: 'U1', verdict: 'approve' });
    store.vote(handle.id, { by: 'U2', verdict: 'deny' });
    assert.equal((await handle.result).state, 'denied');
  });

  test('an operator decision is final whatever the quorum; a second one is "already decided"', async () => {
    const store = new PendingApprovals();
    const handle = open(store, { required: 3 });
    assert.equal(store.decide(handle.id, { by: 'cli:alice', verdict: 'approve' }).kind, 'decided');
    const again = store.decide(handle.id, { by: 'cli:bob', verdict: 'deny' });
    assert.equal(again.kind, 'already_decided');
    assert.equal((await handle.result).view.decidedBy[0], 'cli:alice');
    assert.equal(store.decide('nosuchid', { by: 'cli:bob', verdict: 'deny' }).kind, 'unknown');
  });

  test('timeout settles once; a later click is "already decided"', async () => {
    const store = new PendingApprovals();
    const handle = open(store, { timeoutMs: 20 });
    assert.equal((await handle.result).state, 'timed_out');
    assert.equal(store.vote(handle.id, { by: 'U1', verdict: 'approve' }).kind, 'already_decided');
    assert.equal(handle.cancel('late'), false);
  });

  test('the number pending is bounded: more are refused, not queued', () => {
    const store = new PendingApprovals({ maxPending: 2 });
    open(store);
    open(store);
    assert.throws(() => open(store), PendingQueueFullError);
    store.cancelAll('done');
    assert.equal(store.list().length, 0);
  });

  test('decided entries are forgotten after keepDecidedMs and beyond maxDecided', () => {
    const clock = new ManualClock();
    const store = new PendingApprovals({ now: clock.now, keepDecidedMs: 1000, maxDecided: 2 });
    const a = open(store);
    store.decide(a.id, { by: 'cli:x', verdict: 'deny' });
    clock.advance(1001);
    assert.equal(store.get(a.id), undefined);
    const ids = [open(store), open(store), open(store)].map((h) => h.id);
    for (const id of ids) store.decide(id, { by: 'cli:x', verdict: 'deny' });
    assert.equal(store.get(ids[0]!), undefined);
    assert.equal(store.get(ids[2]!)?.state, 'denied');
  });

  test('subscribers see opened, changed and resolved; a throwing subscriber changes nothing', async () => {
    const store = new PendingApprovals();
    const events: string[] = [];
    store.subscribe((e) => events.push(e.type));
    store.subscribe(() => { throw new Error('broken dashboard'); });
    const handle = open(store, { required: 2 });
    store.vote(handle.id, { by: 'U1', verdict: 'approve' });
    store.vote(handle.id, { by: 'U2', verdict: 'approve' });
    await handle.result;
    assert.deepEqual(events, ['opened', 'changed', 'resolved']);
  });
});

describe('approval requests', () => {
  test('approvalRequest: JSON facts, a fresh id, capped text', async () => {
    const { approvalRequest, MAX_SUMMARY_BYTES } = await import('../../../policy/approvers/index.js');
    const r = approvalRequest({
      peer: { name: 'p', address: '100.64.0.2' }, profile: 'default', endpoint: 'ssh.box', rule: 'r', reason: '', family: 'ssh',
      facts: { now: new Date('2026-01-02T03:04:05Z'), ssh: { verb: 'exec', tags: new Set(['a']), n: 10n, skip: undefined } },
      summary: 'x'.repeat(MAX_SUMMARY_BYTES + 10),
    });
    assert.ok(isApprovalId(r.id));
    assert.deepEqual(r.facts, { now: '2026-01-02T03:04:05.000Z', ssh: { verb: 'exec', tags: ['a'], n: '10' } });
    assert.equal(r.summary.length, MAX_SUMMARY_BYTES);
  });
});
