/**
 * human_approver over Slack, offline: Bolt in HTTP mode on 127.0.0.1, its Web API pointed at a
 * local mock, and interactive payloads signed and POSTed like Slack does.
 */
import { strict as assert } from 'node:assert';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import {
  APPROVE_ACTION, ApprovalCode, ApproverSet, DENY_ACTION, HumanApprover, LlmApprover, PendingApprovals, provider, runApprovalChain, SlackApp,
  type ApproverOutcome, type StageDecision,
} from '../../../policy/approvers/index.js';
import { loadConfigTexts } from '../../../policy/config/load.js';
import { delay, mockServer, sampleRequest, sendJson, waitFor } from './helpers.js';
import { blockActionPayload, postSigned, slackMock, type SlackCall, type SlackMock } from './slack-mock.js';

const SECRET = 'test-signing-secret';
const APPROVER = 'human_approver.ops';

function blocksText(call: SlackCall): string {
  return JSON.stringify(call.args.blocks);
}

/** Updates of one approval's message (an earlier test's late update must not be mistaken for it). */
function updatesFor(mock: SlackMock, id: string): SlackCall[] {
  return mock.updates().filter((u) => blocksText(u).includes(id));
}

describe('human_approver on Slack (HTTP mode, offline)', () => {
  let mock: SlackMock;
  let store: PendingApprovals;
  let slack: SlackApp;
  let eventsUrl: string;

  before(async () => {
    mock = await slackMock();
  });
  after(() => mock.close());
  beforeEach(async () => {
    mock.calls.length = 0;
    mock.responses.length = 0;
    store = new PendingApprovals();
    slack = new SlackApp({
      botToken: 'xoxb-fake', signingSecret: SECRET, listen: { host: '127.0.0.1', port: 0 }, slackApiUrl: mock.apiUrl,
      botId: 'B1', botUserId: 'UBOT', store, approvers: new Set([APPROVER]),
    });
    await slack.start();
    eventsUrl = `http://127.0.0.1:${slack.address!.port}/slack/events`;
  });
  afterEach(async () => {
    store.cancelAll('test over');
    await slack.stop();
  });

  function human(options: { requireApprovers?: number; approvers?: string[]; timeoutMs?: number } = {}): HumanApprover {
    return new HumanApprover(
      { name: APPROVER, timeoutMs: options.timeoutMs ?? 10_000, requireApprovers: options.requireApprovers ?? 1, approvers: options.approvers ?? ['U0ALICE', 'U0BOB', 'U0CAROL'] },
      { store, notifier: slack.notifier('#agent-ops') },
    );
  }

  const click = (actionId: string, approvalId: string, user: string, options: { timestamp?: number; badSignature?: boolean } = {}): Promise<number> =>
    postSigned(eventsUrl, SECRET, blockActionPayload({ actionId, approvalId, user, responseUrl: mock.responseUrl }), options);

  async function posted(): Promise<{ id: string; call: SlackCall }> {
    const call = await waitFor(() => mock.posted()[0], 'chat.postMessage');
    const id = await waitFor(() => store.list()[0]?.id, 'a pending entry');
    return { id, call };
  }

  test('the message shows peer, endpoint, rule, reason, the escaped statement, the judge\'s opinion and buttons with the id', async () => {
    const judge: ApproverOutcome = { name: 'llm_approver.secret-judge', verdict: 'allow', code: 'LLM_ALLOWED', reason: 'only names, <no> secrets', latencyMs: 5 };
    const statement = "SELECT * FROM env_vars WHERE a < b && c > d -- <!channel> ```\nplus a second line";
    const decision = human().decide(sampleRequest({ summary: statement }), { signal: new AbortController().signal, earlier: [judge] });
    const { id, call } = await posted();
    assert.equal(call.args.channel, '#agent-ops');
    assert.equal(call.authorization, 'Bearer xoxb-fake');
    const blocks = call.args.blocks as Array<Record<string, unknown>>;
    const text = JSON.stringify(blocks);
    for (const expected of ['oncall-agent', '100.64.0.2', 'postgres.prod-db', 'pg-secrets', 'Reading secrets needs a second look', 'llm_approver.secret-judge', 'only names, &lt;no&gt; secrets']) {
      assert.ok(text.includes(expected), `message mentions ${expected}`);
    }
    // The statement is in a code block, mrkdwn-escaped, its backticks unable to close the block.
    const requestBlock = blocks.find((b) => JSON.stringify(b).includes('*Request*')) as { text: { text: string } };
    const code = requestBlock.text.text;
    assert.ok(code.includes('a &lt; b &amp;&amp; c &gt; d -- &lt;!channel&gt;'), code);
    assert.ok(!code.includes('<!channel>'));
    assert.equal(code.match(/```/g)?.length, 2, 'exactly one code block');
    const actions = blocks.find((b) => b.type === 'actions') as { elements: Array<{ action_id: string; value: string }> };
    assert.deepEqual(actions.elements.map((e) => [e.action_id, e.value]), [[APPROVE_ACTION, id], [DENY_ACTION, id]]);
    store.decide(id, { by: 'cli:test', verdict: 'deny' });
    await decision;
  });

  test('a long statement is cut safely inside Slack\'s limits', async () => {
    const statement = `SELECT ${'&'.repeat(5000)}`;
    const decision = human().decide(sampleRequest({ summary: statement }), { signal: new AbortController().signal, earlier: [] });
    const { id, call } = await posted();
    const requestBlock = (call.args.blocks as Array<{ text?: { text: string } }>).find((b) => b.text?.text.includes('*Request*'))!;
    assert.ok(requestBlock.text!.text.length <= 3000);
    assert.match(requestBlock.text!.text, /&amp;\n… \(truncated\)```$/);
    store.decide(id, { by: 'cli:test', verdict: 'deny' });
    await decision;
  });

  test('a quorum of 2 needs two DISTINCT users; the message is updated at each step', async () => {
    const decision = human({ requireApprovers: 2 }).decide(sampleRequest(), { signal: new AbortController().signal, earlier: [] });
    const { id } = await posted();

    assert.equal(await click(APPROVE_ACTION, id, 'U0ALICE'), 200);
    await waitFor(() => mock.responses.length === 1, 'ephemeral ack');
    assert.match(String(mock.responses[0]!.text), /recorded \(1 of 2\)/);
    assert.equal(mock.responses[0]!.response_type, 'ephemeral');
    const progress = await waitFor(() => updatesFor(mock, id)[0], 'progress update');
    assert.match(blocksText(progress), /approved so far by <@U0ALICE> \(1 of 2\)/);
    assert.equal(progress.args.ts, mock.posted()[0]!.args.ts ?? progress.args.ts);

    // The same user again counts once.
    assert.equal(await click(APPROVE_ACTION, id, 'U0ALICE'), 200);
    await waitFor(() => mock.responses.length === 2, 'duplicate reply');
    assert.match(String(mock.responses[1]!.text), /already approved/);
    assert.equal(store.get(id)?.state, 'pending');

    assert.equal(await click(APPROVE_ACTION, id, 'U0BOB'), 200);
    const result = await decision;
    assert.equal(result.verdict, 'allow');
    assert.equal(result.code, ApprovalCode.HUMAN_APPROVED);
    assert.equal(result.decidedBy, 'slack:U0ALICE,slack:U0BOB');
    const final = await waitFor(() => updatesFor(mock, id).find((u) => blocksText(u).includes('Approved')), 'final update');
    assert.match(blocksText(final), /Approved\* by <@U0ALICE> and <@U0BOB>/);
    assert.ok(!blocksText(final).includes(APPROVE_ACTION), 'buttons removed');
  });

  test('an unlisted user is refused ephemerally and not counted; any single listed deny denies', async () => {
    const decision = human({ requireApprovers: 2 }).decide(sampleRequest(), { signal: new AbortController().signal, earlier: [] });
    const { id } = await posted();
    assert.equal(await click(APPROVE_ACTION, id, 'U0MALLORY'), 200);
    await waitFor(() => mock.responses.length === 1, 'refusal');
    assert.equal(mock.responses[0]!.response_type, 'ephemeral');
    assert.match(String(mock.responses[0]!.text), /not on the approver list of human_approver\.ops/);
    assert.equal(store.get(id)?.approvals.length, 0);

    await click(APPROVE_ACTION, id, 'U0ALICE');
    await click(DENY_ACTION, id, 'U0CAROL');
    const result = await decision;
    assert.equal(result.verdict, 'deny');
    assert.equal(result.code, ApprovalCode.HUMAN_DENIED);
    assert.equal(result.decidedBy, 'slack:U0CAROL');
    const final = await waitFor(() => updatesFor(mock, id).find((u) => blocksText(u).includes('Denied')), 'deny update');
    assert.match(blocksText(final), /Denied\* by <@U0CAROL>/);

    // A late click is told it is over.
    await click(APPROVE_ACTION, id, 'U0BOB');
    await waitFor(() => mock.responses.some((r) => /Already decided/.test(String(r.text))), 'already decided reply');
  });

  test('an empty approver list lets anyone in the channel decide', async () => {
    const decision = human({ approvers: [] }).decide(sampleRequest(), { signal: new AbortController().signal, earlier: [] });
    const { id } = await posted();
    await click(APPROVE_ACTION, id, 'U0ANYONE');
    const result = await decision;
    assert.equal(result.verdict, 'allow');
    assert.equal(result.decidedBy, 'slack:U0ANYONE');
  });

  test('a bad signature and a stale timestamp are refused with 401 and decide nothing', async () => {
    const decision = human().decide(sampleRequest(), { signal: new AbortController().signal, earlier: [] });
    const { id } = await posted();
    assert.equal(await click(APPROVE_ACTION, id, 'U0ALICE', { badSignature: true }), 401);
    assert.equal(await click(APPROVE_ACTION, id, 'U0ALICE', { timestamp: Math.floor(Date.now() / 1000) - 6 * 60 }), 401);
    await delay(50);
    assert.equal(store.get(id)?.state, 'pending');
    assert.equal(mock.responses.length, 0);
    store.decide(id, { by: 'cli:test', verdict: 'deny' });
    await decision;
  });

  test('timeout denies and the message says so', async () => {
    const decision = human({ timeoutMs: 300 }).decide(sampleRequest(), { signal: new AbortController().signal, earlier: [] });
    const { id } = await posted();
    const result = await decision;
    assert.equal(result.verdict, 'timeout');
    assert.equal(result.code, ApprovalCode.HUMAN_TIMEOUT);
    const final = await waitFor(() => updatesFor(mock, id).find((u) => blocksText(u).includes('Timed out')), 'timeout update');
    assert.ok(!blocksText(final).includes(APPROVE_ACTION));
  });

  test('agent disconnect cancels: the entry is removed and the message says "agent disconnected"', async () => {
    const controller = new AbortController();
    const decision = human().decide(sampleRequest(), { signal: controller.signal, earlier: [] });
    const { id } = await posted();
    controller.abort();
    const result = await decision;
    assert.equal(result.verdict, 'cancelled');
    assert.equal(result.code, ApprovalCode.CANCELLED);
    assert.equal(store.list().length, 0);
    const final = await waitFor(() => updatesFor(mock, id).find((u) => blocksText(u).includes('Agent disconnected')), 'cancel update');
    assert.equal(final.args.channel, 'C0AGENTOPS');
    // A click after that is answered, not counted.
    await click(APPROVE_ACTION, id, 'U0ALICE');
    await waitFor(() => mock.responses.some((r) => /Already decided/.test(String(r.text))), 'late click reply');
  });

  test('a decision from the CLI/dashboard wins and the message names it', async () => {
    const decision = human({ requireApprovers: 2 }).decide(sampleRequest(), { signal: new AbortController().signal, earlier: [] });
    const { id } = await posted();
    assert.equal(store.decide(id, { by: 'cli:alice', verdict: 'approve' }).kind, 'decided');
    const result = await decision;
    assert.equal(result.verdict, 'allow');
    assert.equal(result.decidedBy, 'cli:alice');
    const final = await waitFor(() => updatesFor(mock, id).find((u) => blocksText(u).includes('Approved')), 'update');
    assert.match(blocksText(final), /Approved\* from the CLI\/dashboard by `cli:alice`/);
    assert.equal(store.decide(id, { by: 'cli:bob', verdict: 'deny' }).kind, 'already_decided');
  });

  test('chain: a judge\'s deny never pages the human (the Slack mock receives nothing)', async () => {
    const ollama = await mockServer((_req, res) => sendJson(res, 200, { message: { role: 'assistant', content: '{"decision":"deny","reason":"reads env_vars.secret"}' }, done: true }));
    try {
      const judge = new LlmApprover({
        name: 'llm_approver.secret-judge', model: 'llama3.2:3b', policy: 'Deny secrets.', timeoutMs: 2000, cacheTtlMs: 0, maxConcurrency: 1,
        provider: provider({ provider: 'ollama', url: ollama.url, model: 'llama3.2:3b' }),
      });
      const result = await runApprovalChain(sampleRequest(), [judge, human()], new AbortController().signal);
      assert.equal(result.verdict, 'deny');
      assert.equal(result.code, ApprovalCode.LLM_DENIED);
      assert.deepEqual(result.stages.map((s) => s.name), ['llm_approver.secret-judge']);
      assert.match(result.reason, /reads env_vars\.secret/);
      await delay(50);
      assert.equal(mock.calls.length, 0, 'Slack was never called');
      assert.equal(store.list().length, 0);
      assert.equal(ollama.requests.length, 1);
    } finally {
      await ollama.close();
    }
  });

  test('chain: judge allows, then the human decides with the judge\'s opinion on the card', async () => {
    const judge = { name: 'llm_approver.j', kind: 'llm_approver' as const, decide: async (): Promise<StageDecision> => ({ verdict: 'allow', code: 'LLM_ALLOWED', reason: 'looks read-only', model: 'm' }) };
    const chain = runApprovalChain(sampleRequest(), [judge, human()], new AbortController().signal);
    const { id, call } = await posted();
    assert.match(blocksText(call), /looks read-only/);
    await click(APPROVE_ACTION, id, 'U0BOB');
    const result = await chain;
    assert.equal(result.verdict, 'allow');
    assert.deepEqual(result.stages.map((s) => [s.name, s.verdict]), [['llm_approver.j', 'allow'], [APPROVER, 'allow']]);
  });
});

describe('ApproverSet from a policy', () => {
  test('builds approvers from HCL, starts Slack in HTTP mode with bot ids fetched once, unknown refs deny', async () => {
    const mock = await slackMock();
    const loaded = await loadConfigTexts([{ file: 'policy.hcl', text: `
gateway {
  state_dir = "./state"
  wireguard {
    listen_port = 51820
    subnet_cidr = "100.64.0.0/24"
  }
}
approver "llm_approver" "judge" {
  url     = "http://127.0.0.1:9"
  model   = "llama3.2:3b"
  policy  = "Deny secrets."
  timeout = "1s"
}
approver "human_approver" "ops" {
  channel           = "#agent-ops"
  bot_token         = env("T_SLACK_BOT")
  signing_secret    = env("T_SLACK_SIGNING")
  approvers         = ["U0ALICE"]
  require_approvers = 1
  timeout           = "1m"
}
approver "human_approver" "cli-only" {
  timeout = "1m"
}
` }], { source: 'policy.hcl', baseDir: process.cwd() });
    assert.ok(loaded.config, JSON.stringify(loaded.diagnostics));
    const store = new PendingApprovals();
    const set = ApproverSet.fromConfig(loaded.config, {
      store, baseDir: process.cwd(), env: { T_SLACK_BOT: 'xoxb-from-env', T_SLACK_SIGNING: SECRET },
      slack: { listen: { host: '127.0.0.1', port: 0 }, slackApiUrl: mock.apiUrl },
    });
    try {
      assert.deepEqual(await set.start(), []);
      assert.equal(mock.calls.filter((c) => c.method === 'auth.test').length, 1);
      const [addr] = set.slackAddresses();
      assert.ok(addr && addr.port > 0);
      const stages = set.stages(['human_approver.ops', 'llm_approver.nope']);
      assert.equal(stages[0]!.kind, 'human_approver');
      const unknown = await stages[1]!.decide(sampleRequest(), { signal: new AbortController().signal, earlier: [] });
      assert.equal(unknown.code, ApprovalCode.UNKNOWN_APPROVER);

      const decision = set.get('human_approver.ops')!.decide(sampleRequest(), { signal: new AbortController().signal, earlier: [] });
      const post = await waitFor(() => mock.posted()[0], 'post');
      assert.equal(post.authorization, 'Bearer xoxb-from-env');
      const id = store.list()[0]!.id;
      await postSigned(`http://127.0.0.1:${addr.port}/slack/events`, SECRET, blockActionPayload({ actionId: APPROVE_ACTION, approvalId: id, user: 'U0ALICE', responseUrl: mock.responseUrl }));
      assert.equal((await decision).verdict, 'allow');

      // Without Slack settings: decided from the API/CLI only.
      const cliOnly = set.get('human_approver.cli-only')!.decide(sampleRequest(), { signal: new AbortController().signal, earlier: [] });
      const pending = await waitFor(() => store.list().find((p) => p.approver === 'human_approver.cli-only'), 'cli-only entry');
      store.decide(pending.id, { by: 'cli:op', verdict: 'deny', reason: 'not now' });
      const denied = await cliOnly;
      assert.equal(denied.verdict, 'deny');
      assert.equal(denied.reason, 'not now');
      assert.equal(mock.posted().length, 1);
    } finally {
      store.cancelAll('test over');
      await set.stop();
      await mock.close();
    }
  });

  test('a Slack app whose secret is missing is reported, and its approver still works from the CLI', async () => {
    const loaded = await loadConfigTexts([{ file: 'p.hcl', text: `
gateway {
  state_dir = "./state"
  wireguard {
    listen_port = 51820
    subnet_cidr = "100.64.0.0/24"
  }
}
approver "human_approver" "ops" {
  channel        = "#agent-ops"
  bot_token      = env("T_MISSING_BOT")
  signing_secret = env("T_MISSING_SIGNING")
  timeout        = "1m"
}
` }], { source: 'p.hcl', baseDir: process.cwd() });
    assert.ok(loaded.config, JSON.stringify(loaded.diagnostics));
    const store = new PendingApprovals();
    const set = ApproverSet.fromConfig(loaded.config, { store, baseDir: process.cwd(), env: {}, slack: { listen: { host: '127.0.0.1', port: 0 } } });
    const problems = await set.start();
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /human_approver\.ops.*T_MISSING_BOT/);
    const decision = set.get('human_approver.ops')!.decide(sampleRequest(), { signal: new AbortController().signal, earlier: [] });
    const pending = await waitFor(() => store.list()[0], 'entry');
    store.decide(pending.id, { by: 'cli:op', verdict: 'approve' });
    assert.equal((await decision).verdict, 'allow');
    await set.stop();
  });
});
