/**
 * The Postgres session state machine on in-memory streams, against a scripted backend
 * (fake-upstream.ts): denials answered in their place in a pipeline, discard until Sync, the
 * true transaction status, one durable audit record per statement before the upstream sees it,
 * approvals held (later messages queued) and cancelled by disconnect or CancelRequest,
 * FunctionCall / oversized / malformed messages refused with the session still usable.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  encodeBind,
  encodeCopyData,
  encodeCopyDone,
  encodeClose,
  encodeDescribe,
  encodeExecute,
  encodeFunctionCall,
  encodeParse,
  encodeQuery,
  encodeSync,
  encodeTerminate,
  FE,
  FrontendParser,
  type ErrorResponse,
} from '../../../protocols/postgres/codec/index.js';
import { loadSqlParser } from '../../../protocols/postgres/sql-facts.js';
import type { ApprovalRequest, ChainResult } from '../../../policy/approvers/index.js';
import type { AuditOutcome, AuditRecordInput } from '../../../policy/audit/index.js';
import { loadConfig } from '../../../policy/config/load.js';
import { CompiledPolicy } from '../../../policy/engine.js';
import { OversizeGate } from '../../../appliance/postgres/oversize-gate.js';
import { PostgresSession, PREPARED_NOTE, type SessionApprovers } from '../../../appliance/postgres/session.js';
import { backendParserFor } from '../../../appliance/postgres/upstream.js';
import { AgentEnd, duplexPair, FakeBackend } from './fake-upstream.js';

const POLICY = `
gateway {
  state_dir = "./state"
  wireguard {
    listen_port = 51999
    subnet_cidr = "100.64.9.0/24"
  }
}
endpoint "postgres" "prod" {
  host     = "db.internal:5432"
  upstream = "127.0.0.1:5432"
  sslmode  = "disable"
}
credential "postgres_credential" "app" {
  endpoint = postgres.prod
  user     = "app"
}
profile "default" {
  credentials = [postgres_credential.app]
}
approver "human_approver" "ops" {
}
rule "no-ddl" {
  endpoint  = postgres.prod
  condition = "sql.verb in ['drop', 'truncate', 'alter']"
  verdict   = "deny"
  reason    = "Schema changes go through a migration PR"
}
rule "deletes" {
  endpoint  = postgres.prod
  condition = "sql.verb == 'delete'"
  approve   = [human_approver.ops]
  reason    = "deletes need a human"
}
rule "work" {
  endpoint  = postgres.prod
  condition = "sql.verb in ['select', 'begin', 'commit', 'rollback', 'update', 'insert', 'copy']"
  verdict   = "allow"
}
`;

let dir: string;
let policy: CompiledPolicy;

before(async () => {
  await loadSqlParser();
  dir = mkdtempSync(join(tmpdir(), 'bailiff-pg-session-'));
  writeFileSync(join(dir, 'policy.hcl'), POLICY);
  const loaded = await loadConfig(join(dir, 'policy.hcl'));
  assert.ok(loaded.config, JSON.stringify(loaded.diagnostics));
  policy = new CompiledPolicy(loaded.config);
});

after(() => rmSync(dir, { recursive: true, force: true }));

/** Shared event log: audit appends and what the upstream received, in the order they happened. */
interface Harness {
  agent: AgentEnd;
  backend: FakeBackend;
  session: PostgresSession;
  records: AuditRecordInput[];
  completions: { seq: number; outcome: AuditOutcome }[];
  events: string[];
  approvals: { request: ApprovalRequest; signal: AbortSignal; resolve: (r: ChainResult) => void }[];
}

function setup(options: { cap?: number; approvers?: SessionApprovers } = {}): Harness {
  const [agentTest, agentSession] = duplexPair();
  const [upSession, upTest] = duplexPair();
  const events: string[] = [];
  const backend = new FakeBackend(upTest);
  upTest.on('data', () => events.push('upstream'));
  const records: AuditRecordInput[] = [];
  const completions: Harness['completions'] = [];
  const approvals: Harness['approvals'] = [];
  const approvers: SessionApprovers = options.approvers ?? {
    run: (request, _refs, signal) => new Promise<ChainResult>((resolve) => {
      approvals.push({ request, signal, resolve });
      signal.addEventListener('abort', () => resolve({ verdict: 'cancelled', code: 'APPROVAL_CANCELLED', reason: 'cancelled', stages: [], latencyMs: 0 }), { once: true });
    }),
  };
  const cap = options.cap ?? 1024 * 1024;
  const session = new PostgresSession({
    id: 't1',
    peer: { name: 'agent', address: '100.64.9.2', profile: 'default' },
    endpoint: 'postgres.prod',
    credential: 'postgres_credential.app',
    facts: { database: 'app', user: 'app' },
    policy,
    audit: {
      append: async (r) => {
        records.push(r);
        events.push(`audit:${String((r.facts as { sql?: { verb?: string } } | undefined)?.sql?.verb ?? r.reasonCode)}`);
        await new Promise((resolve) => setTimeout(resolve, 2)); // durability takes time
        return { seq: records.length };
      },
      complete: async (seq, outcome) => {
        completions.push({ seq, outcome });
      },
    },
    approvers,
    logger: { info() {}, warn() {}, error() {} },
    counters: { inc() {} },
    maxMessageLength: cap,
  }, agentSession, new OversizeGate(new FrontendParser({ phase: 'typed', streamCopyData: true, maxMessageLength: cap }), cap), {
    stream: upSession,
    parser: backendParserFor(),
    pending: [],
    parameters: new Map([['standard_conforming_strings', 'on'], ['client_encoding', 'UTF8']]),
    status: 'I',
  });
  session.start();
  return { agent: new AgentEnd(agentTest), backend, session, records, completions, events, approvals };
}

const errorMessage = (h: Harness): string[] =>
  h.agent.messages.filter((m): m is ErrorResponse => m.type === 'ErrorResponse').map((m) => m.fields.get('M') ?? '');

test('a simple query is audited (durably) before the upstream sees it, and completed with its tag', async () => {
  const h = setup();
  h.agent.send(encodeQuery('SELECT 1'));
  await h.agent.readyCount(1);
  assert.deepEqual(h.agent.summary(), ['T', 'D', 'C(SELECT 1)', 'Z(I)']);
  assert.deepEqual(h.events.slice(0, 2), ['audit:select', 'upstream']);
  assert.equal(h.records.length, 1);
  assert.equal(h.records[0]!.verdict, 'allow');
  assert.equal(h.records[0]!.rule, 'work');
  assert.deepEqual(h.completions.map((c) => c.outcome.commandTag), ['SELECT 1']);
  assert.equal(h.completions[0]!.outcome.rows, 1);
});

test('a denied statement in a multi-statement query: nothing of the message reaches the upstream', async () => {
  const h = setup();
  h.agent.send(encodeQuery('SELECT 1; DROP TABLE t'));
  await h.agent.readyCount(1);
  assert.deepEqual(h.agent.summary(), ['E(42501)', 'Z(I)']);
  assert.deepEqual(errorMessage(h), ['denied by rule "no-ddl": Schema changes go through a migration PR']);
  assert.deepEqual(h.backend.texts(), []);
  assert.deepEqual(h.records.map((r) => r.verdict), ['allow', 'deny']);
  // The session goes on.
  h.agent.send(encodeQuery('SELECT 2'));
  await h.agent.readyCount(2);
  assert.deepEqual(h.agent.summary().slice(2), ['T', 'D', 'C(SELECT 1)', 'Z(I)']);
});

test('pipeline: answers to messages forwarded before a denied Parse reach the agent before its error', async () => {
  const h = setup();
  h.backend.hold(); // the upstream answers late: the denial must still come after its answers
  h.agent.send(
    encodeParse('', 'SELECT 1'), encodeBind({}), encodeExecute(),
    encodeParse('', 'DROP TABLE t'), encodeBind({}), encodeDescribe('portal'), encodeExecute(),
    encodeSync(),
  );
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(h.agent.summary(), []);
  h.backend.release();
  await h.agent.readyCount(1);
  assert.deepEqual(h.agent.summary(), ['1', '2', 'D', 'C(SELECT 1)', 'E(42501)', 'Z(I)']);
  // Discarded until Sync: the denied Parse, its Bind, Describe and Execute never went upstream.
  assert.deepEqual(h.backend.texts(), ['SELECT 1']);
  const types = h.backend.types();
  assert.deepEqual(types, ['Parse', 'Bind', 'Execute', 'Execute', 'Sync']);
  // After the Sync, extended messages work again.
  h.agent.send(encodeParse('', 'SELECT 3'), encodeBind({}), encodeExecute(), encodeSync());
  await h.agent.readyCount(2);
  assert.deepEqual(h.agent.summary().slice(6), ['1', '2', 'D', 'C(SELECT 1)', 'Z(I)']);
});

test('an error already in the batch: the denied message is skipped silently, as the server would skip it', async () => {
  const h = setup();
  h.agent.send(
    encodeParse('', 'SELECT 1/0'), encodeBind({}), encodeExecute(),
    encodeParse('', 'DROP TABLE t'), encodeBind({}), encodeExecute(),
    encodeSync(),
  );
  await h.agent.readyCount(1);
  // The server's own error ends the batch; the denial that stood behind it is skipped with it.
  assert.deepEqual(h.agent.summary(), ['1', '2', 'E(22012)', 'Z(I)']);
  assert.deepEqual(h.backend.texts(), ['SELECT 1/0']);
  const h2 = setup();
  h2.agent.send(encodeQuery('BEGIN'));
  await h2.agent.readyCount(1);
  h2.agent.send(encodeParse('', 'SELECT 1'), encodeBind({ statement: 'nope' }), encodeExecute(), encodeParse('', 'DROP TABLE t'), encodeSync());
  await h2.agent.readyCount(2);
  // Bind of an unknown statement is refused (26000 for unnamed, 42501 for named) and the DROP never runs.
  assert.deepEqual(h2.agent.summary().slice(-3), ['1', 'E(42501)', 'Z(E)']);
});

test('true transaction status: a denial inside a transaction aborts it like any server error; ROLLBACK recovers', async () => {
  const h = setup();
  h.agent.send(encodeQuery('BEGIN'));
  await h.agent.readyCount(1);
  h.agent.send(encodeQuery('UPDATE t SET x = 1'));
  await h.agent.readyCount(2);
  h.agent.send(encodeQuery('DROP TABLE t'));
  await h.agent.readyCount(3);
  assert.deepEqual(h.agent.summary(), ['C(BEGIN)', 'Z(T)', 'C(UPDATE 3)', 'Z(T)', 'E(42501)', 'Z(E)']);
  // In the failed transaction, a denial keeps 'E'; ROLLBACK gives 'I'.
  h.agent.send(encodeQuery('DROP TABLE u'));
  await h.agent.readyCount(4);
  h.agent.send(encodeQuery('ROLLBACK'));
  await h.agent.readyCount(5);
  assert.deepEqual(h.agent.summary().slice(6), ['E(42501)', 'Z(E)', 'C(ROLLBACK)', 'Z(I)']);
  assert.equal(h.backend.status, 'I');
  assert.ok(!h.backend.texts().some((t) => t.includes('DROP')));
});

test('named statements: facts follow the statement to every Execute, one audit record each', async () => {
  const h = setup();
  h.agent.send(encodeParse('s1', 'UPDATE t SET x = $1'), encodeSync());
  await h.agent.readyCount(1);
  assert.equal(h.records.length, 0, 'a Parse runs nothing: audited at Execute');
  for (let i = 0; i < 3; i++) h.agent.send(encodeBind({ portal: 'p', statement: 's1', parameters: [Buffer.from(String(i))] }), encodeExecute('p'), encodeSync());
  await h.agent.readyCount(4);
  assert.equal(h.records.length, 3);
  assert.ok(h.records.every((r) => r.rule === 'work' && (r.facts as { sql: { verb: string } }).sql.verb === 'update'));
  assert.deepEqual(h.completions.map((c) => c.outcome.commandTag), ['UPDATE 3', 'UPDATE 3', 'UPDATE 3']);
  // A portal never bound from a known statement is refused.
  h.agent.send(encodeExecute('nope'), encodeSync());
  await h.agent.readyCount(5);
  assert.deepEqual(h.agent.summary().slice(-2), ['E(42501)', 'Z(I)']);
});

test('approval: the statement and everything after it wait; allowed, they run in order', async () => {
  const h = setup();
  h.agent.send(encodeQuery('DELETE FROM t WHERE id = 1'));
  h.agent.send(encodeQuery('SELECT 1'));
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(h.approvals.length, 1);
  assert.equal(h.approvals[0]!.request.rule, 'deletes');
  assert.equal(h.approvals[0]!.request.summary, 'DELETE FROM t WHERE id = 1');
  assert.deepEqual(h.backend.received, [], 'nothing reaches the upstream while the approval is pending');
  h.approvals[0]!.resolve({ verdict: 'allow', code: 'APPROVED', reason: 'ok', stages: [{ name: 'human_approver.ops', verdict: 'allow', code: 'HUMAN_APPROVED', reason: 'ok', latencyMs: 5, decidedBy: 'cli' }], latencyMs: 5 });
  await h.agent.readyCount(2);
  assert.deepEqual(h.agent.summary(), ['C(DELETE 3)', 'Z(I)', 'T', 'D', 'C(SELECT 1)', 'Z(I)']);
  assert.equal(h.records[0]!.verdict, 'allow');
  assert.equal(h.records[0]!.approvers?.[0]?.decidedBy, 'cli');
});

test('two statements under one approve rule are two approvals, each with its own facts; the second denied, neither runs', async () => {
  const h = setup();
  h.agent.send(encodeQuery('DELETE FROM logs WHERE id = 1; DELETE FROM users'));
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(h.approvals.length, 1, 'one at a time, in statement order');
  const first = h.approvals[0]!.request.facts as { sql: { tables: string[]; statement: string } };
  assert.deepEqual(first.sql.tables, ['logs']);
  h.approvals[0]!.resolve({ verdict: 'allow', code: 'APPROVED', reason: 'logs only', stages: [], latencyMs: 1 });
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(h.approvals.length, 2, 'the second statement is asked about on its own');
  const second = h.approvals[1]!.request.facts as { sql: { tables: string[]; statement: string } };
  assert.deepEqual(second.sql.tables, ['users']);
  assert.equal(second.sql.statement, 'DELETE FROM users');
  assert.deepEqual(h.backend.received, [], 'nothing ran while the second approval was pending');
  h.approvals[1]!.resolve({ verdict: 'deny', code: 'HUMAN_DENIED', reason: 'not users', stages: [], latencyMs: 1 });
  await h.agent.readyCount(1);
  assert.deepEqual(h.agent.summary(), ['E(42501)', 'Z(I)']);
  assert.deepEqual(errorMessage(h), ['denied by rule "deletes": not users']);
  assert.deepEqual(h.backend.texts(), [], 'the message runs whole or not at all');
});

test('a Parse under an approve rule is asked once, saying that the approval covers every execution with any parameters', async () => {
  const h = setup();
  h.agent.send(encodeParse('s1', 'DELETE FROM t WHERE id = $1'), encodeSync());
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(h.approvals.length, 1);
  assert.equal(h.approvals[0]!.request.summary, `${PREPARED_NOTE}\nDELETE FROM t WHERE id = $1`);
  assert.deepEqual(h.backend.received, [], 'not even the Parse goes upstream before the approval');
  h.approvals[0]!.resolve({ verdict: 'allow', code: 'APPROVED', reason: 'ok', stages: [], latencyMs: 1 });
  await h.agent.readyCount(1);
  for (const id of ['1', '2']) h.agent.send(encodeBind({ statement: 's1', parameters: [Buffer.from(id)] }), encodeExecute(), encodeSync());
  await h.agent.readyCount(3);
  assert.equal(h.approvals.length, 1, 'the executions ride on the approval given at Parse');
  assert.deepEqual(h.backend.types().filter((t) => t === 'Execute'), ['Execute', 'Execute']);
  // Audited: the approval at Parse, then each execution, marked as approved at Parse.
  const outcomes = h.records.map((r) => (r.upstream as { outcome: string }).outcome);
  assert.deepEqual(outcomes, ['approved_at_parse', 'forwarded', 'forwarded']);
  assert.deepEqual(h.records.slice(1).map((r) => (r.detail as { approvedAtParse?: boolean }).approvedAtParse), [true, true]);
});

test('a simple Query is asked about as it is, with no prepared-statement note', async () => {
  const h = setup();
  h.agent.send(encodeQuery('DELETE FROM t WHERE id = 1'));
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(h.approvals[0]!.request.summary, 'DELETE FROM t WHERE id = 1');
  h.approvals[0]!.resolve({ verdict: 'deny', code: 'HUMAN_DENIED', reason: 'no', stages: [], latencyMs: 1 });
  await h.agent.readyCount(1);
});

test('a Parse of a name in use is refused as the server refuses it; Executes still run, and are audited as, the first statement', async () => {
  const h = setup();
  h.agent.send(encodeParse('s1', 'SELECT 2 AS first'), encodeSync());
  await h.agent.readyCount(1);
  h.agent.send(encodeParse('s1', 'SELECT 1 AS second'), encodeSync());
  await h.agent.readyCount(2);
  assert.deepEqual(h.agent.summary(), ['1', 'Z(I)', 'E(42P05)', 'Z(I)']);
  assert.deepEqual(h.backend.texts(), ['SELECT 2 AS first'], 'the second Parse never went upstream');
  h.agent.send(encodeBind({ statement: 's1' }), encodeExecute(), encodeSync());
  await h.agent.readyCount(3);
  const last = h.records.at(-1)!;
  assert.equal((last.facts as { sql: { statement: string } }).sql.statement, 'SELECT 2 AS first');
  assert.equal((last.upstream as { outcome: string }).outcome, 'forwarded');
  // Closed, the name is free again.
  h.agent.send(encodeClose('statement', 's1'), encodeParse('s1', 'SELECT 1 AS second'), encodeSync());
  await h.agent.readyCount(4);
  assert.deepEqual(h.backend.texts(), ['SELECT 2 AS first', 'SELECT 1 AS second']);
});

test('a Parse the server refuses frees its name: the next Parse of it is decided, forwarded and audited', async () => {
  const h = setup();
  h.agent.send(encodeParse('s2', 'SELECT * FROM no_such_table'), encodeSync());
  await h.agent.readyCount(1);
  assert.deepEqual(h.agent.summary(), ['E(42P01)', 'Z(I)']);
  h.agent.send(encodeParse('s2', 'SELECT 1'), encodeBind({ statement: 's2' }), encodeExecute(), encodeSync());
  await h.agent.readyCount(2);
  assert.deepEqual(h.agent.summary().slice(2), ['1', '2', 'D', 'C(SELECT 1)', 'Z(I)']);
  assert.equal((h.records.at(-1)!.facts as { sql: { statement: string } }).sql.statement, 'SELECT 1');
});

test('a pipelined text with a backslash waits for the settings the statements before it left: a function that turned standard_conforming_strings off makes it refused', async () => {
  const h = setup();
  h.backend.hold();
  // With the setting off, the server would read `'x\'` as a complete string and DROP as a statement.
  h.agent.send(encodeQuery('SELECT scs_off()'), encodeQuery("SELECT 'x\\'; DROP TABLE t; --'"));
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(h.backend.texts(), ['SELECT scs_off()'], 'not decided, not sent, before the first ReadyForQuery');
  assert.equal(h.records.length, 1);
  h.backend.release();
  await h.agent.readyCount(2);
  assert.deepEqual(h.agent.summary().slice(-2), ['E(42501)', 'Z(I)']);
  assert.match(lastUnknownReason(h), /standard_conforming_strings off/);
  assert.deepEqual(h.backend.texts(), ['SELECT scs_off()']);
});

/** Why the last audited statement's facts were unknown (for the operator; the agent is not told). */
function lastUnknownReason(h: Harness): string {
  return String((h.records.at(-1)!.detail as { unknownReason?: string } | undefined)?.unknownReason ?? '');
}

test('a backslash after the server answered: decided at once as usual; without a backslash, pipelining does not wait', async () => {
  const h = setup();
  h.agent.send(encodeQuery('SELECT 1'));
  await h.agent.readyCount(1);
  h.agent.send(encodeQuery("SELECT 'a\\b'"));
  await h.agent.readyCount(2);
  assert.deepEqual(h.agent.summary().slice(-2), ['C(SELECT 1)', 'Z(I)']);
  const h2 = setup();
  h2.backend.hold();
  h2.agent.send(encodeQuery('SELECT 1'), encodeQuery('SELECT 2'));
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(h2.backend.texts(), ['SELECT 1', 'SELECT 2']);
  h2.backend.release();
  await h2.agent.readyCount(2);
});

test('in one extended batch, a Parse with a backslash after an Execute is refused until a Sync reports the settings', async () => {
  const h = setup();
  h.agent.send(
    encodeParse('', 'SELECT scs_off()'), encodeBind({}), encodeExecute(),
    encodeParse('', "SELECT 'x\\', (SELECT 1) --'"), encodeBind({}), encodeExecute(),
    encodeSync(),
  );
  await h.agent.readyCount(1);
  // The answers to the first statement, our refusal, then the setting the server reports at the Sync.
  assert.deepEqual(h.agent.summary().slice(-3), ['E(42501)', 'ParameterStatus', 'Z(I)']);
  assert.match(errorMessage(h).at(-1)!, /send a Sync first/);
  assert.deepEqual(h.backend.texts(), ['SELECT scs_off()']);
  // After the Sync the server has reported the setting: the same text is now unknown, refused too.
  h.agent.send(encodeParse('', "SELECT 'x\\', (SELECT 1) --'"), encodeBind({}), encodeExecute(), encodeSync());
  await h.agent.readyCount(2);
  assert.deepEqual(h.agent.summary().slice(-2), ['E(42501)', 'Z(I)']);
  assert.match(lastUnknownReason(h), /standard_conforming_strings off/);
  assert.deepEqual(h.backend.texts(), ['SELECT scs_off()']);
});

test('a Sync inside COPY FROM STDIN is ignored as the server ignores it: later statements keep their own outcomes and denials', async () => {
  const h = setup();
  h.agent.send(
    encodeQuery('COPY t FROM STDIN'), encodeSync(),
    encodeCopyData(Buffer.from('1\n')), encodeCopyData(Buffer.from('2\n')), encodeCopyDone(),
    encodeQuery('SELECT 1'), encodeQuery('UPDATE t SET v = 1'), encodeQuery('DROP TABLE t'),
  );
  await h.agent.readyCount(4);
  assert.deepEqual(h.agent.summary().slice(-10), ['C(COPY 2)', 'Z(I)', 'T', 'D', 'C(SELECT 1)', 'Z(I)', 'C(UPDATE 3)', 'Z(I)', 'E(42501)', 'Z(I)']);
  assert.match(errorMessage(h).at(-1)!, /^denied by rule "no-ddl"/);
  await new Promise((resolve) => setTimeout(resolve, 20));
  const tags = h.completions.map((c) => (c.outcome as { commandTag?: string }).commandTag);
  assert.deepEqual(tags, ['COPY 2', 'SELECT 1', 'UPDATE 3']);
});

test('a COPY that fails to start is over: the Sync after it is answered like any other', async () => {
  const h = setup();
  h.agent.send(encodeQuery('COPY no_such_table FROM STDIN'), encodeSync(), encodeQuery('SELECT 1'));
  await h.agent.readyCount(3);
  assert.deepEqual(h.agent.summary(), ['E(42P01)', 'Z(I)', 'Z(I)', 'T', 'D', 'C(SELECT 1)', 'Z(I)']);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(h.completions.map((c) => (c.outcome as { commandTag?: string }).commandTag), [undefined, 'SELECT 1']);
});

test('a statement sent during copy-in ends the session with a protocol error; it never reaches the server', async () => {
  const h = setup();
  h.agent.send(encodeQuery('COPY t FROM STDIN'), encodeCopyData(Buffer.from('1\n')), encodeQuery('SELECT 1'));
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(h.agent.summary().at(-1), 'E(08P01)');
  assert.deepEqual(h.backend.texts(), ['COPY t FROM STDIN']);
});

test('a Bind (where Postgres plans, and can run functions) goes upstream only behind an audit record', async () => {
  const h = setup();
  // Bind, Describe, Execute: one record (the Execute's) before any of them reaches the server.
  h.agent.send(encodeParse('', 'SELECT 1'), encodeBind({}), encodeDescribe('portal'), encodeExecute(), encodeSync());
  await h.agent.readyCount(1);
  assert.deepEqual(h.backend.types(), ['Parse', 'Bind', 'Describe', 'Execute', 'Sync']);
  assert.deepEqual(h.events.filter((e) => e !== 'upstream').length, 1);
  assert.ok(h.events.indexOf('audit:select') < h.events.indexOf('upstream'), h.events.join(' '));
  assert.deepEqual(h.records.map((r) => (r.upstream as { outcome: string }).outcome), ['forwarded']);
  // A Bind that no Execute follows: its own record ("bound") first, then the Bind.
  h.agent.send(encodeParse('', 'SELECT 2'), encodeBind({}), encodeSync());
  await h.agent.readyCount(2);
  assert.deepEqual(h.records.map((r) => (r.upstream as { outcome: string }).outcome), ['forwarded', 'bound']);
  assert.equal((h.records[1]!.facts as { sql: { statement: string } }).sql.statement, 'SELECT 2');
  assert.deepEqual(h.backend.types().slice(5), ['Parse', 'Bind', 'Sync']);
  assert.deepEqual(h.agent.summary().slice(-3), ['1', '2', 'Z(I)']);
});

test('approval denied: the agent gets the rule and the approver\'s reason; nothing ran', async () => {
  const h = setup();
  h.agent.send(encodeQuery('DELETE FROM t'));
  await new Promise((resolve) => setTimeout(resolve, 30));
  h.approvals[0]!.resolve({ verdict: 'deny', code: 'HUMAN_DENIED', reason: 'not during the incident', stages: [], latencyMs: 1 });
  await h.agent.readyCount(1);
  assert.deepEqual(h.agent.summary(), ['E(42501)', 'Z(I)']);
  assert.deepEqual(errorMessage(h), ['denied by rule "deletes": not during the incident']);
  assert.deepEqual(h.backend.texts(), []);
});

test('approval cancelled by the agent disconnecting: the chain is aborted, the upstream never sees the statement', async () => {
  const h = setup();
  h.agent.send(encodeQuery('DELETE FROM t'));
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(h.approvals.length, 1);
  h.agent.end.destroy();
  await new Promise((resolve) => setTimeout(resolve, 50));
  const h2 = setup();
  h2.agent.send(encodeQuery('DELETE FROM t'));
  await new Promise((resolve) => setTimeout(resolve, 30));
  h2.agent.end.end(); // a FIN, not a reset
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(h2.approvals[0]!.signal.aborted, true);
  assert.deepEqual(h2.backend.texts(), []);
  assert.deepEqual(h2.backend.types(), ['Terminate']);
  assert.equal(h.approvals[0]!.signal.aborted, true);
  assert.deepEqual(h.backend.texts(), []);
  assert.ok(h.session.closed);
  assert.ok(h.records.some((r) => r.verdict === 'deny' && r.upstream?.outcome === 'not_forwarded'));
});

test('approval cancelled by a CancelRequest: 57014 to the agent, the session goes on', async () => {
  const h = setup();
  h.agent.send(encodeQuery('DELETE FROM t'));
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(h.session.cancel(), false, 'an idle upstream needs no cancel of its own');
  await h.agent.readyCount(1);
  assert.deepEqual(h.agent.summary(), ['E(57014)', 'Z(I)']);
  assert.deepEqual(errorMessage(h), ['canceling statement due to user request']);
  h.agent.send(encodeQuery('SELECT 1'));
  await h.agent.readyCount(2);
  assert.deepEqual(h.agent.summary().slice(2), ['T', 'D', 'C(SELECT 1)', 'Z(I)']);
  assert.deepEqual(h.backend.texts(), ['SELECT 1']);
});

test('FunctionCall is refused; an oversized Query is refused without losing the framing', async () => {
  const h = setup({ cap: 1000 });
  h.agent.send(encodeFunctionCall(1234, [Buffer.from('x')]));
  await h.agent.readyCount(1);
  assert.deepEqual(h.agent.summary(), ['E(42501)', 'Z(I)']);
  const big = encodeQuery(`SELECT '${'x'.repeat(5000)}'`);
  // Split at awkward places: the gate must skip exactly the oversized body.
  h.agent.send(big.subarray(0, 3));
  h.agent.send(Buffer.concat([big.subarray(3, 2000)]));
  h.agent.send(Buffer.concat([big.subarray(2000), encodeQuery('SELECT 1')]));
  await h.agent.readyCount(3);
  assert.deepEqual(h.agent.summary().slice(2), ['E(42501)', 'Z(I)', 'T', 'D', 'C(SELECT 1)', 'Z(I)']);
  assert.match(errorMessage(h)[1]!, /over the 1000-byte limit/);
  assert.deepEqual(h.backend.texts(), ['SELECT 1']);
  assert.ok(!h.backend.types().includes('FunctionCall'));
});

test('a malformed Bind is refused with 08P01 and discarded until Sync', async () => {
  const h = setup();
  const bind = Buffer.from(encodeBind({}));
  // Lie about the parameter-format count: well framed, bad body.
  bind.writeInt16BE(7, 7);
  h.agent.send(encodeParse('', 'SELECT 1'), bind, encodeExecute(), encodeSync(), encodeQuery('SELECT 1'));
  await h.agent.readyCount(2);
  assert.deepEqual(h.agent.summary(), ['1', 'E(08P01)', 'Z(I)', 'T', 'D', 'C(SELECT 1)', 'Z(I)']);
  assert.ok(!h.backend.types().slice(0, 3).includes('Bind'));
});

test('a framing error is FATAL and closes both sides', async () => {
  const h = setup();
  h.agent.send(Uint8Array.of(FE.Sync, 0, 0, 0, 9, 0, 0, 0, 0, 0));
  await h.agent.readyCount(1);
  await new Promise((resolve) => setTimeout(resolve, 30));
  const err = h.agent.messages.find((m): m is ErrorResponse => m.type === 'ErrorResponse');
  assert.equal(err?.fields.get('S'), 'FATAL');
  assert.ok(h.agent.closed);
});

test('Terminate is forwarded and both sides close', async () => {
  const h = setup();
  h.agent.send(encodeTerminate());
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(h.backend.types(), ['Terminate']);
  assert.ok(h.agent.closed);
});
