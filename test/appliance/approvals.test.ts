/** The local approvals API and the pending/approve/deny commands, against a real local server. */
import { strict as assert } from 'node:assert';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { approveCommand, denyCommand, pendingCommand, type ApprovalCommandIo } from '../../appliance/approval-commands.js';
import { createApprovalsHandler, loadOrCreateApiToken } from '../../appliance/approvals-api.js';
import { HumanApprover, PendingApprovals, type StageDecision } from '../../policy/approvers/index.js';
import { sampleRequest, waitFor } from '../policy/approvers/helpers.js';

describe('API token', () => {
  test('created 0600 with 32 random bytes as hex, then reused; loose permissions are tightened', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bailiff-token-'));
    try {
      const stateDir = join(dir, 'state');
      const token = loadOrCreateApiToken(stateDir);
      assert.match(token, /^[0-9a-f]{64}$/);
      const path = join(stateDir, 'api-token');
      assert.equal(statSync(path).mode & 0o777, 0o600);
      assert.equal(loadOrCreateApiToken(stateDir), token);
      chmodSync(path, 0o644);
      assert.equal(loadOrCreateApiToken(stateDir), token);
      assert.equal(statSync(path).mode & 0o777, 0o600);
      assert.notEqual(loadOrCreateApiToken(join(dir, 'other')), token);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('approvals API and CLI', () => {
  let dir: string;
  let token: string;
  let store: PendingApprovals;
  let server: Server;
  let base: string;
  let human: HumanApprover;
  let out: string[];
  let err: string[];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bailiff-approvals-'));
    token = loadOrCreateApiToken(dir);
    server = createServer((req, res) => {
      if (createApprovalsHandler(store, { token })(req, res)) return;
      res.writeHead(404).end('not here');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    store = new PendingApprovals();
    human = new HumanApprover({ name: 'human_approver.ops', timeoutMs: 60_000, requireApprovers: 2, approvers: ['U0ALICE', 'U0BOB'] }, { store });
    out = [];
    err = [];
  });
  afterEach(() => store.cancelAll('test over'));

  const io = (overrides: Partial<ApprovalCommandIo> = {}): ApprovalCommandIo => ({
    stdout: (t) => out.push(t), stderr: (t) => err.push(t), stateDir: dir, apiUrl: base, user: 'alice', ...overrides,
  });

  async function hold(summary = 'DELETE FROM users WHERE id = 7'): Promise<{ id: string; decision: Promise<StageDecision> }> {
    const decision = human.decide(sampleRequest({ summary }), { signal: new AbortController().signal, earlier: [] });
    const id = await waitFor(() => store.list().find((p) => p.request.summary === summary)?.id, 'pending entry');
    return { id, decision };
  }

  const call = (method: string, path: string, options: { auth?: string | null; body?: string } = {}): Promise<Response> => fetch(`${base}${path}`, {
    method,
    headers: {
      ...(options.auth === null ? {} : { authorization: options.auth ?? `Bearer ${token}` }),
      ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(options.body !== undefined ? { body: options.body } : {}),
  });

  test('missing, wrong or malformed tokens get 401 on every route; other paths are not handled', async () => {
    const { id } = await hold();
    for (const auth of [null, 'Bearer wrong', `Basic ${token}`, `Bearer ${token}x`, 'Bearer']) {
      for (const [method, path] of [['GET', '/api/approvals'], ['POST', `/api/approvals/${id}/approve`], ['GET', `/api/approvals/${id}`]] as const) {
        const response = await call(method, path, { auth });
        assert.equal(response.status, 401, `${auth} ${method} ${path}`);
        assert.equal(response.headers.get('www-authenticate'), 'Bearer realm="bailiff"');
        await response.text();
      }
    }
    assert.equal(store.get(id)?.state, 'pending');
    const other = await call('GET', '/api/approvalsX');
    assert.equal(other.status, 404);
    assert.equal(await other.text(), 'not here');
  });

  test('GET lists pending approvals with what an operator needs to decide', async () => {
    const { id } = await hold();
    const response = await call('GET', '/api/approvals');
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('cache-control'), 'no-store');
    const body = await response.json() as { pending: Array<Record<string, unknown>> };
    assert.equal(body.pending.length, 1);
    const p = body.pending[0]!;
    assert.equal(p.id, id);
    assert.equal(p.approver, 'human_approver.ops');
    assert.equal(p.rule, 'pg-secrets');
    assert.equal(p.endpoint, 'postgres.prod-db');
    assert.equal(p.summary, 'DELETE FROM users WHERE id = 7');
    assert.equal(p.requireApprovers, 2);
    assert.deepEqual((p.peer as { name: string }).name, 'oncall-agent');
    const one = await call('GET', `/api/approvals/${id}`);
    assert.equal(((await one.json()) as { state: string }).state, 'pending');
  });

  test('approve decides the held request; a second decision is 409 "already decided"', async () => {
    const { id, decision } = await hold();
    const response = await call('POST', `/api/approvals/${id}/approve`, { body: '{"by":"dashboard:root"}' });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { id, state: 'approved', decidedBy: 'dashboard:root' });
    const result = await decision;
    assert.equal(result.verdict, 'allow');
    assert.equal(result.decidedBy, 'dashboard:root');

    const again = await call('POST', `/api/approvals/${id}/deny`);
    assert.equal(again.status, 409);
    const body = await again.json() as { error: string; code: string; state: string };
    assert.equal(body.error, 'already decided');
    assert.equal(body.code, 'APPROVAL_ALREADY_DECIDED');
    assert.equal(body.state, 'approved');
  });

  test('deny with a reason: the agent is told that reason', async () => {
    const { id, decision } = await hold();
    const response = await call('POST', `/api/approvals/${id}/deny`, { body: JSON.stringify({ reason: 'not during the incident\u001b[2J' }) });
    assert.equal(response.status, 200);
    const result = await decision;
    assert.equal(result.verdict, 'deny');
    assert.equal(result.reason, 'not during the incident [2J');
    assert.equal(result.decidedBy, 'api');
  });

  test('unknown ids 404; bad bodies 400/413; wrong methods 405', async () => {
    const { id } = await hold();
    assert.equal((await call('POST', '/api/approvals/aaaaaaaaaaaaaaaaaaaaaaaaaa/approve')).status, 404);
    assert.equal((await call('GET', '/api/approvals/aaaaaaaaaaaaaaaaaaaaaaaaaa')).status, 404);
    assert.equal((await call('POST', `/api/approvals/${id}/approve`, { body: '{nope' })).status, 400);
    assert.equal((await call('POST', `/api/approvals/${id}/approve`, { body: '[1]' })).status, 400);
    assert.equal((await call('POST', `/api/approvals/${id}/approve`, { body: JSON.stringify({ reason: 'x'.repeat(20_000) }) })).status, 413);
    assert.equal((await call('GET', `/api/approvals/${id}/approve`)).status, 405);
    assert.equal((await call('DELETE', '/api/approvals')).status, 405);
    assert.equal((await call('POST', `/api/approvals/${id}/maybe`)).status, 404);
    assert.equal((await call('GET', '/api/approvals/%E0%A4%A')).status, 400);
    assert.equal(store.get(id)?.state, 'pending');
  });

  test('bailiff pending lists, --json gives the API objects', async () => {
    assert.equal(await pendingCommand([], io()), 0);
    assert.equal(out.join(''), 'No pending approvals.\n');
    out.length = 0;
    const { id } = await hold('SELECT 1;\u001b]0;pwned\u0007\nSELECT 2');
    assert.equal(await pendingCommand([], io()), 0);
    const text = out.join('');
    assert.match(text, new RegExp(`^${id}  human_approver\\.ops  oncall-agent -> postgres\\.prod-db  rule pg-secrets`));
    assert.match(text, /approvals 0\/2/);
    assert.ok(!text.includes('\u001b'), 'terminal escapes are shown, not sent');
    assert.match(text, /SELECT 1;\\x1b\]0;pwned\\x07 SELECT 2/);
    out.length = 0;
    assert.equal(await pendingCommand(['--json'], io()), 0);
    const list = JSON.parse(out.join('')) as Array<{ id: string }>;
    assert.deepEqual(list.map((p) => p.id), [id]);
  });

  test('bailiff approve ID, then again: exit 1 with "already decided"', async () => {
    const { id, decision } = await hold();
    assert.equal(await approveCommand([id], io()), 0);
    assert.match(out.join(''), new RegExp(`Approved ${id} \\(as cli:alice\\)`));
    assert.equal((await decision).decidedBy, 'cli:alice');
    assert.equal(await approveCommand([id], io()), 1);
    assert.match(err.join(''), /already decided \(approved by cli:alice\)/);
  });

  test('a prefix shorter than 8 characters is refused before anything is decided', async () => {
    const { id, decision } = await hold();
    assert.equal(await approveCommand([id.slice(0, 7)], io()), 1);
    assert.match(err.join(''), /unique prefix of at least 8/);
    err.length = 0;
    assert.equal(await denyCommand([id], io()), 0);
    assert.equal((await decision).verdict, 'deny', 'still pending after the refused prefix');
  });

  test('bailiff deny ID --reason, by a unique prefix', async () => {
    const { id, decision } = await hold();
    assert.equal(await denyCommand([id.slice(0, 8), '--reason', 'use the replica'], io()), 0);
    const result = await decision;
    assert.equal(result.verdict, 'deny');
    assert.equal(result.reason, 'use the replica');
    assert.match(out.join(''), new RegExp(`Denied ${id}`));
  });

  test('unknown id, unreachable appliance, missing token: exit 1 with a clear message; usage: exit 2', async () => {
    assert.equal(await approveCommand(['aaaaaaaaaaaaaaaaaaaaaaaaaa'], io()), 1);
    assert.match(err.join(''), /unknown approval id aaaaaaaaaaaaaaaaaaaaaaaaaa/);
    err.length = 0;
    assert.equal(await denyCommand(['zzzzzzzz'], io()), 1);
    assert.match(err.join(''), /no pending approval id starts with zzzzzzzz/);
    err.length = 0;
    assert.equal(await approveCommand(['not-an-id!'], io()), 1);
    err.length = 0;

    const dead = createServer();
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
    const deadPort = (dead.address() as AddressInfo).port;
    await new Promise<void>((resolve) => dead.close(() => resolve()));
    assert.equal(await pendingCommand([], io({ apiUrl: `127.0.0.1:${deadPort}` })), 1);
    assert.match(err.join(''), /cannot reach the appliance at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
    err.length = 0;

    const empty = mkdtempSync(join(tmpdir(), 'bailiff-notoken-'));
    try {
      assert.equal(await pendingCommand([], io({ stateDir: empty })), 1);
      assert.match(err.join(''), /no API token at .*api-token/);
      err.length = 0;
      writeFileSync(join(empty, 'api-token'), 'f'.repeat(64), { mode: 0o600 });
      assert.equal(await pendingCommand([], io({ stateDir: empty })), 1);
      assert.match(err.join(''), /refused the API token/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
    err.length = 0;
    assert.equal(await approveCommand([], io()), 2);
    assert.equal(await pendingCommand(['--nope'], io()), 2);
    assert.ok(readFileSync(join(dir, 'api-token'), 'utf8').trim() === token);
  });
});
