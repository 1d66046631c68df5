/** runApprovalChain: order, short-circuit, cancellation, failures as denials. */
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import {
  ApprovalCode, HumanApprover, PendingApprovals, runApprovalChain, toAuditApprovers,
  type Approver, type StageContext, type StageDecision,
} from '../../../policy/approvers/index.js';
import { delay, sampleRequest, waitFor } from './helpers.js';

interface Scripted extends Approver {
  calls: StageContext[];
}

function stage(name: string, decide: (context: StageContext) => Promise<StageDecision> | StageDecision): Scripted {
  const calls: StageContext[] = [];
  return {
    name,
    kind: name.startsWith('llm') ? 'llm_approver' : 'human_approver',
    calls,
    decide: async (_request, context) => {
      calls.push(context);
      return decide(context);
    },
  };
}

const allow = (reason = 'ok'): StageDecision => ({ verdict: 'allow', code: 'LLM_ALLOWED', reason });

describe('approval chain', () => {
  test('stages run in order, each seeing the outcomes before it; all allow -> allow', async () => {
    const order: string[] = [];
    const a = stage('llm_approver.a', () => { order.push('a'); return allow('a ok'); });
    const b = stage('llm_approver.b', () => { order.push('b'); return allow('b ok'); });
    const c = stage('human_approver.c', () => { order.push('c'); return { ...allow('c ok'), decidedBy: 'slack:U1' }; });
    const result = await runApprovalChain(sampleRequest(), [a, b, c], new AbortController().signal);
    assert.deepEqual(order, ['a', 'b', 'c']);
    assert.equal(result.verdict, 'allow');
    assert.equal(result.code, ApprovalCode.ALLOWED);
    assert.deepEqual(result.stages.map((s) => [s.name, s.verdict]), [['llm_approver.a', 'allow'], ['llm_approver.b', 'allow'], ['human_approver.c', 'allow']]);
    assert.deepEqual(c.calls[0]!.earlier.map((o) => o.name), ['llm_approver.a', 'llm_approver.b']);
    assert.ok(result.stages.every((s) => typeof s.latencyMs === 'number' && s.latencyMs >= 0));
  });

  test('the first non-allow short-circuits: later stages never run', async () => {
    for (const decision of [
      { verdict: 'deny', code: 'LLM_DENIED', reason: 'touches secrets' },
      { verdict: 'timeout', code: 'LLM_TIMEOUT', reason: 'slow' },
      { verdict: 'error', code: 'LLM_BAD_ANSWER', reason: 'garbage' },
    ] as StageDecision[]) {
      const judge = stage('llm_approver.judge', () => decision);
      const human = stage('human_approver.ops', () => allow());
      const result = await runApprovalChain(sampleRequest(), [judge, human], new AbortController().signal);
      assert.equal(result.verdict, 'deny', decision.code);
      assert.equal(result.code, decision.code);
      assert.equal(human.calls.length, 0, `${decision.code}: the human is never asked`);
      assert.equal(result.stages.length, 1);
    }
  });

  test('the agent is told the judge\'s reason on deny, and no internals on failure', async () => {
    const denied = await runApprovalChain(sampleRequest(), [stage('llm_approver.j', () => ({ verdict: 'deny', code: 'LLM_DENIED', reason: 'returns secrets' }))], new AbortController().signal);
    assert.equal(denied.reason, 'denied by llm_approver.j: returns secrets');
    const failed = await runApprovalChain(sampleRequest(), [stage('llm_approver.j', () => ({ verdict: 'error', code: 'LLM_HTTP_ERROR', reason: 'http://10.0.0.5:11434 answered 500' }))], new AbortController().signal);
    assert.doesNotMatch(failed.reason, /10\.0\.0\.5/);
    assert.match(failed.reason, /LLM_HTTP_ERROR/);
  });

  test('an approver that throws is an error stage, which denies', async () => {
    const broken = stage('llm_approver.broken', () => { throw new Error('bug'); });
    const result = await runApprovalChain(sampleRequest(), [broken], new AbortController().signal);
    assert.equal(result.verdict, 'deny');
    assert.equal(result.code, ApprovalCode.APPROVER_ERROR);
    assert.equal(result.stages[0]!.verdict, 'error');
  });

  test('no stages denies', async () => {
    const result = await runApprovalChain(sampleRequest(), [], new AbortController().signal);
    assert.equal(result.verdict, 'deny');
    assert.equal(result.code, ApprovalCode.NO_STAGES);
  });

  test('an already-aborted signal runs nothing', async () => {
    const a = stage('llm_approver.a', () => allow());
    const controller = new AbortController();
    controller.abort();
    const result = await runApprovalChain(sampleRequest(), [a], controller.signal);
    assert.equal(result.verdict, 'cancelled');
    assert.equal(a.calls.length, 0);
  });

  test('cancellation mid-stage resolves at once as cancelled; the stage sees the abort; later stages never run', async () => {
    let sawAbort = false;
    const slow = stage('llm_approver.slow', (context) => new Promise<StageDecision>((resolve) => {
      // A stage that ignores its signal for a while must not hold the chain.
      context.signal.addEventListener('abort', () => { sawAbort = true; });
      setTimeout(() => resolve(allow('too late')), 500);
    }));
    const after = stage('human_approver.ops', () => allow());
    const controller = new AbortController();
    const started = Date.now();
    const chain = runApprovalChain(sampleRequest(), [slow, after], controller.signal);
    await delay(30);
    controller.abort();
    const result = await chain;
    assert.ok(Date.now() - started < 400);
    assert.equal(result.verdict, 'cancelled');
    assert.equal(result.code, ApprovalCode.CANCELLED);
    assert.equal(sawAbort, true);
    assert.deepEqual(result.stages.map((s) => [s.name, s.verdict]), [['llm_approver.slow', 'cancelled']]);
    await delay(500);
    assert.equal(after.calls.length, 0);
  });

  test('cancellation during a human stage removes the pending entry', async () => {
    const store = new PendingApprovals();
    const human = new HumanApprover({ name: 'human_approver.ops', timeoutMs: 10_000, requireApprovers: 1, approvers: [] }, { store });
    const controller = new AbortController();
    const chain = runApprovalChain(sampleRequest(), [stage('llm_approver.j', () => allow()), human], controller.signal);
    const entry = await waitFor(() => store.list()[0], 'pending entry');
    assert.equal(entry.earlier[0]!.name, 'llm_approver.j');
    controller.abort();
    const result = await chain;
    assert.equal(result.verdict, 'cancelled');
    assert.equal(store.list().length, 0);
    assert.equal(store.get(entry.id)?.state, 'cancelled');
    assert.equal(store.decide(entry.id, { by: 'cli:late', verdict: 'approve' }).kind, 'already_decided');
  });

  test('outcomes map onto audit approver records', async () => {
    const result = await runApprovalChain(sampleRequest(), [stage('llm_approver.j', () => ({ ...allow('fine'), model: 'm1', cacheHit: true, decidedBy: 'llm:m1' }))], new AbortController().signal);
    const [audit] = toAuditApprovers(result.stages);
    assert.deepEqual({ ...audit, latencyMs: 0 }, { name: 'llm_approver.j', verdict: 'allow', decidedBy: 'llm:m1', reason: 'fine', latencyMs: 0, code: 'LLM_ALLOWED', model: 'm1', cacheHit: true });
  });
});
