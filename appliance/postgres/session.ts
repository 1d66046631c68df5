/**
 * One agent's Postgres session once both halves are authenticated: every agent message is
 * decided, audited and forwarded (or refused) in order; every upstream message is relayed,
 * with denials put in their place by the ResponseTracker (response-tracker.ts).
 *
 * Agent messages (PostgreSQL docs, "Message Flow"):
 *   Query        statements split and analysed (statement-facts.ts), each decided, the message
 *                runs only if all are allowed (combineDecisions); one audit record per statement
 *                is durable before the Query goes upstream
 *   Parse        decided like a Query; the statement's facts follow it (named or unnamed) to the
 *                portals bound from it, and every Execute of them is audited
 *   Bind         a statement we did not see prepared is refused (its facts are unknown)
 *   Execute      audited, then forwarded
 *   FunctionCall refused: it calls a function by OID, around every rule
 *   denied extended message: everything up to Sync is discarded, as the server does after an
 *                error; the Sync is forwarded and answered with the true transaction status
 *   Terminate    forwarded; both sides close
 * Approvals hold the message (and everything after it, bounded) until the chain decides; the
 * agent disconnecting or cancelling aborts the chain and nothing of the message is sent.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import {
  encodeCopyFail,
  encodeExecute,
  encodeSync,
  encodeTerminate,
  FE,
  PgCodecError,
  type BackendEvent,
  type BackendParser,
} from '../../protocols/postgres/codec/index.js';
import { SQL_FACT_PATHS } from '../../protocols/postgres/sql-types.js';
import { approvalRequest, toAuditApprovers, type ApprovalRequest, type ApproverOutcome, type ChainResult } from '../../policy/approvers/index.js';
import type { AuditApprover, AuditEntry, AuditOutcome, AuditRecordInput, JsonObject } from '../../policy/audit/index.js';
import { combineDecisions, type CompiledPolicy, type PeerIdentity, type PolicyDecision } from '../../policy/engine.js';
import { decisionDenialText, denialText, pgError, pgFatal, SQLSTATE } from './denials.js';
import { OversizeGate, type GateEvent } from './oversize-gate.js';
import { ResponseTracker, type ItemOutcome } from './response-tracker.js';
import { statementRequests, type SessionFacts, type StatementRequest } from './statement-facts.js';

/** The parts of AuditLog a session uses. */
export interface SessionAudit {
  append(record: AuditRecordInput): Promise<Pick<AuditEntry, 'seq'>>;
  complete(seq: number, outcome: AuditOutcome): Promise<unknown>;
}

export interface SessionApprovers {
  run(request: ApprovalRequest, refs: readonly string[], signal: AbortSignal): Promise<ChainResult>;
}

export interface SessionLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface SessionDeps {
  id: string;
  peer: PeerIdentity;
  /** `postgres.<name>` */
  endpoint: string;
  /** `postgres_credential.<name>` */
  credential: string;
  /** The agent's view: startup user and database. */
  facts: SessionFacts;
  policy: CompiledPolicy;
  audit: SessionAudit;
  approvers: SessionApprovers;
  logger: SessionLogger;
  counters: { inc(name: string, by?: number): void };
  /** Cap on one Query/Parse/Bind/FunctionCall (the agent parser's maxMessageLength). */
  maxMessageLength: number;
  /** Agent messages held while a decision is pending, before the agent is paused. */
  maxQueuedBytes?: number;
}

export interface SessionUpstream {
  stream: Duplex;
  parser: BackendParser;
  pending: BackendEvent[];
  parameters: ReadonlyMap<string, string>;
  status: 'I' | 'T' | 'E';
}

/** A statement decided at Parse: its facts and decision follow it to every Execute. */
interface Prepared {
  text: string;
  requests: StatementRequest[];
  decisions: PolicyDecision[];
  combined: PolicyDecision;
  /** Approver outcomes when an approve rule held it at Parse. */
  approvers?: AuditApprover[];
  approvalMs?: number;
}

interface Decided extends Prepared {
  parseMs: number;
  decideMs: number;
}

/** Heads an approval request for a statement prepared with Parse (extended protocol). */
export const PREPARED_NOTE = '[prepared statement: approving it allows every execution of it on this connection, with any parameter values]';

type ApprovalOutcome = { verdict: 'allow' | 'deny' | 'cancelled'; rule: string | null; reason: string; code: string; stages: ApproverOutcome[]; ms: number };

const DEFAULT_MAX_QUEUED_BYTES = 4 * 1024 * 1024;

/** Messages that carry or end COPY data (or just push output): they never wait for a COPY's answer. */
const COPY_STREAM: ReadonlySet<GateEvent['type']> = new Set(['CopyData', 'CopyDone', 'CopyFail', 'MessagePart', 'Flush']);

/** Messages that go upstream together with a held Bind of `portal`: its Describes and its Execute. */
function followsBind(m: GateEvent, portal: string): boolean {
  return (m.type === 'Execute' && m.portal === portal) || (m.type === 'Describe' && m.target === 'portal' && m.name === portal);
}
let messageCounter = 0;

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function eventSize(e: GateEvent): number {
  return e.type === 'Oversized' ? 64 : e.raw.length;
}

export class PostgresSession {
  readonly #d: SessionDeps;
  readonly #agent: Duplex;
  readonly #gate: OversizeGate;
  readonly #up: Duplex;
  readonly #upParser: BackendParser;
  readonly #tracker: ResponseTracker;
  readonly #queue: GateEvent[] = [];
  #queuedBytes = 0;
  #running = false;
  /** After a refused extended-protocol message: drop everything until Sync. */
  #discarding = false;
  #closed = false;
  #terminated = false;
  readonly #statements = new Map<string, Prepared>();
  readonly #portals = new Map<string, Prepared>();
  #toUpstream: Uint8Array[] = [];
  #approval: AbortController | undefined;
  #approvalCancelled = false;
  /** False once the server reports a lexing setting our parser does not follow. */
  #lexingSafe = true;
  #lexingReason = '';
  /** The agent's pump waiting for the server (#waitFor); one at most, as the pump is serial. */
  #waiter: { ready: () => boolean; resolve: () => void } | undefined;
  /** Bind and Execute messages forwarded since the last Sync: what they change is reported at the next one. */
  #ranSinceSync = 0;
  /**
   * COPY statements forwarded and not finished, oldest first; `started` once the server answered
   * CopyInResponse. In copy-in the server ignores Sync (and takes any other message as an error),
   * so whether an agent's Sync is owed a ReadyForQuery depends on the server's answer.
   */
  readonly #copies: Array<{ started: boolean }> = [];
  /** The server is in copy-in: since its CopyInResponse, until our CopyDone/CopyFail or the COPY's end. */
  #copyIn = false;
  /**
   * A Bind not sent yet, with the Describes of its portal that followed it. Postgres plans the
   * statement at Bind, which can run functions, so a Bind goes upstream only behind an audit
   * record: its Execute's, or, when anything else comes first, one of its own.
   */
  #heldBind: { portal: string; prepared: Prepared; raws: Uint8Array[] } | undefined;
  readonly #pausedAgent = new Set<string>();
  readonly #onClosed: Array<() => void> = [];

  constructor(deps: SessionDeps, agent: Duplex, gate: OversizeGate, upstream: SessionUpstream) {
    this.#d = deps;
    this.#agent = agent;
    this.#gate = gate;
    this.#up = upstream.stream;
    this.#upParser = upstream.parser;
    this.#tracker = new ResponseTracker(upstream.status);
    for (const [name, value] of upstream.parameters) this.#noteParameter(name, value);
    if (upstream.pending.length) this.#relay(upstream.pending);
  }

  /** Called once the session ends, whatever ended it. */
  onClose(fn: () => void): void {
    this.#onClosed.push(fn);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Begin relaying; `initial` are agent messages parsed during the handshake. */
  start(initial: GateEvent[] = []): void {
    this.#agent.on('data', (chunk: Buffer) => this.#onAgentData(chunk));
    this.#agent.on('end', () => this.#onAgentEnd());
    this.#agent.on('error', (e: Error) => this.#close('agent error', e));
    this.#agent.on('close', () => this.#close('agent closed'));
    this.#up.on('data', (chunk: Buffer) => this.#onUpstreamData(chunk));
    this.#up.on('end', () => this.#close('upstream closed'));
    this.#up.on('error', (e: Error) => this.#close('upstream error', e));
    this.#up.on('close', () => this.#close('upstream closed'));
    this.#up.on('drain', () => this.#resumeAgent('upstream'));
    this.#agent.on('drain', () => this.#up.resume());
    this.#up.resume();
    this.#enqueue(initial);
  }

  /**
   * A CancelRequest with this session's key arrived: a pending approval is abandoned; if the
   * upstream may be running something, the caller sends the real key (returned true).
   */
  cancel(): boolean {
    if (this.#approval) {
      this.#approvalCancelled = true;
      this.#approval.abort();
    }
    // An idle server ignores a cancel; only something in flight is worth the connection.
    return this.#tracker.owed > 0 || this.#tracker.waiting > 0;
  }

  // ---- agent -> upstream ----

  #onAgentData(chunk: Buffer): void {
    if (this.#closed || this.#terminated) return;
    let events: GateEvent[];
    try {
      events = this.#gate.push(chunk);
    } catch (error) {
      if (!(error instanceof PgCodecError)) throw error;
      this.#enqueue(error.before as GateEvent[]);
      this.#d.counters.inc(`pg.agent.${error.code.toLowerCase()}`);
      this.#fatalAfterQueue(error);
      return;
    }
    this.#enqueue(events);
  }

  #fatal?: PgCodecError;

  #fatalAfterQueue(error: PgCodecError): void {
    this.#fatal = error;
    void this.#pump();
  }

  #enqueue(events: GateEvent[]): void {
    for (const e of events) {
      this.#queue.push(e);
      this.#queuedBytes += eventSize(e);
    }
    if (this.#queuedBytes > (this.#d.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES)) this.#pauseAgent('queue');
    void this.#pump();
  }

  #pauseAgent(reason: string): void {
    this.#pausedAgent.add(reason);
    this.#agent.pause();
  }

  #resumeAgent(reason: string): void {
    if (!this.#pausedAgent.delete(reason)) return;
    if (this.#pausedAgent.size === 0 && !this.#closed) this.#agent.resume();
  }

  async #pump(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      while (this.#queue.length && !this.#closed && !this.#terminated) {
        const m = this.#queue.shift()!;
        this.#queuedBytes -= eventSize(m);
        // Messages already let through wait for the next write while this one is audited: the
        // server answers nothing before a Sync or Flush, and one write per batch instead of two
        // saves a send (and a wake-up of the server) per extended-protocol statement. A wait that
        // can be long (an approval) writes them first (#onStatementMessage).
        const pending = this.#handle(m);
        if (pending) await pending;
      }
      this.#flushUpstream();
      if (this.#fatal && !this.#closed && !this.#terminated) {
        const e = this.#fatal;
        this.#fatal = undefined;
        this.#d.logger.warn('postgres: agent framing error', { flow: this.#d.id, code: e.code });
        this.#agent.write(pgFatal(SQLSTATE.PROTOCOL_VIOLATION, `invalid frontend message (${e.code})`));
        this.#terminate();
      }
    } catch (error) {
      this.#d.logger.error('postgres session failed', { flow: this.#d.id, error: errorText(error) });
      this.#close('internal error', error as Error);
    } finally {
      this.#running = false;
      if (this.#queuedBytes <= (this.#d.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES) / 2) this.#resumeAgent('queue');
    }
  }

  #send(bytes: Uint8Array): void {
    this.#toUpstream.push(bytes);
  }

  #flushUpstream(): void {
    if (this.#toUpstream.length === 0 || this.#closed) return;
    const bytes = this.#toUpstream.length === 1 ? this.#toUpstream[0]! : Buffer.concat(this.#toUpstream);
    this.#toUpstream = [];
    if (!this.#up.write(bytes)) this.#pauseAgent('upstream');
  }

  /** Handles one agent message; returns a promise only when it must wait (audit, approval). */
  #handle(m: GateEvent): Promise<void> | void {
    if (!COPY_STREAM.has(m.type)) {
      // Until the server says whether a COPY it was sent is taking data, a Sync may be ignored
      // or answered, and anything else may be an error: wait for its answer.
      if (!this.#copiesAnswered()) return this.#waitFor(this.#copiesAnswered).then(() => (this.#closed ? undefined : this.#handle(m)));
      if (this.#copyIn && m.type === 'Sync') {
        this.#d.counters.inc('pg.copy.sync_ignored');
        this.#send(m.raw); // ignored by the server in copy-in, as it is here: no ReadyForQuery owed
        return;
      }
      if (this.#copyIn && m.type !== 'Terminate') {
        this.#d.counters.inc('pg.copy.protocol_violation');
        this.#agent.write(pgFatal(SQLSTATE.PROTOCOL_VIOLATION, `unexpected message during COPY from the client (${m.type})`));
        this.#terminate();
        return;
      }
    }
    if (this.#discarding && m.type !== 'Sync' && m.type !== 'Terminate') {
      this.#d.counters.inc('pg.discarded');
      return;
    }
    const held = this.#heldBind;
    if (held && !followsBind(m, held.portal)) return this.#releaseBind(held).then(() => (this.#closed ? undefined : this.#handle(m)));
    switch (m.type) {
      case 'Query':
        return this.#onStatementMessage('query', m.query, m.raw, '');
      case 'Parse':
        if (m.statement !== '' && this.#statements.has(m.statement)) {
          // The server refuses it too and keeps the old statement: taking the new text's facts
          // would audit (and decide) every later Execute of the old one as the new one.
          return this.#refuse('extended', pgError(SQLSTATE.DUPLICATE_PREPARED_STATEMENT, `prepared statement "${m.statement}" already exists`), {
            reason: 'Parse of a statement name already in use', code: 'PG_DUPLICATE_STATEMENT', detail: { statement: m.statement },
          });
        }
        return this.#onStatementMessage('parse', m.query, m.raw, m.statement);
      case 'Bind': {
        const prepared = this.#statements.get(m.statement);
        if (!prepared) {
          const text = m.statement === ''
            ? pgError(SQLSTATE.INVALID_SQL_STATEMENT_NAME, 'unnamed prepared statement does not exist')
            : pgError(SQLSTATE.INSUFFICIENT_PRIVILEGE, denialText(null, `statement "${m.statement}" was not prepared with Parse in this session`));
          return this.#refuse('extended', text, { reason: 'bind of an unknown statement', code: 'PG_UNKNOWN_STATEMENT', detail: { statement: m.statement } });
        }
        this.#portals.set(m.portal, prepared);
        this.#heldBind = { portal: m.portal, prepared, raws: [m.raw] };
        return;
      }
      case 'Execute':
        return this.#onExecute(m.portal, m.raw);
      case 'Describe':
        if (this.#heldBind) this.#heldBind.raws.push(m.raw); // of the held portal (see above)
        else this.#send(m.raw);
        return;
      case 'Flush':
        this.#send(m.raw);
        return;
      case 'Close':
        if (m.target === 'statement') this.#statements.delete(m.name);
        else this.#portals.delete(m.name);
        this.#send(m.raw);
        return;
      case 'Sync':
        this.#discarding = false;
        this.#ranSinceSync = 0;
        this.#send(m.raw);
        this.#tracker.closeUnit();
        return;
      case 'CopyDone':
      case 'CopyFail':
        this.#copyIn = false; // the server leaves copy-in on it
        this.#send(m.raw);
        return;
      case 'CopyData':
      case 'MessagePart':
        this.#send(m.raw);
        return;
      case 'FunctionCall':
        return this.#refuse('simple', pgError(SQLSTATE.INSUFFICIENT_PRIVILEGE, denialText(null, 'function calls by OID are not allowed')), {
          reason: 'FunctionCall by OID', code: 'PG_FUNCTION_CALL', detail: { functionOid: m.functionOid },
        });
      case 'Terminate':
        this.#send(m.raw);
        this.#terminate();
        return;
      case 'Oversized': {
        const kind = m.typeByte === FE.Query || m.typeByte === FE.FunctionCall ? 'simple' : 'extended';
        const reason = `message of ${m.length} bytes is over the ${this.#d.maxMessageLength}-byte limit`;
        this.#d.counters.inc('pg.agent.oversized');
        return this.#refuse(kind, pgError(SQLSTATE.INSUFFICIENT_PRIVILEGE, denialText(null, reason)), {
          reason, code: 'PG_MSG_TOO_LARGE', detail: { type: String.fromCharCode(m.typeByte), length: m.length },
        });
      }
      case 'Malformed': {
        this.#d.counters.inc('pg.agent.malformed');
        const type = String.fromCharCode(m.typeByte);
        if (m.typeByte === FE.CopyFail) {
          this.#send(encodeCopyFail('malformed CopyFail from the client'));
          return;
        }
        if (m.typeByte === FE.PasswordMessage || m.typeByte === 0) return this.#protocolFatal(`unexpected message type '${type}'`);
        const kind = m.typeByte === FE.Query || m.typeByte === FE.FunctionCall ? 'simple' : 'extended';
        return this.#refuse(kind, pgError(SQLSTATE.PROTOCOL_VIOLATION, `malformed '${type}' message refused (${m.error.code})`), {
          reason: `malformed '${type}' message`, code: m.error.code, detail: { type },
        });
      }
      case 'PasswordMessage':
        return this.#protocolFatal("unexpected message type 'p'");
      case 'StartupMessage':
      case 'SSLRequest':
      case 'GSSENCRequest':
      case 'CancelRequest':
        return this.#protocolFatal('startup packet inside a session');
    }
  }

  #protocolFatal(message: string): void {
    this.#flushUpstream();
    this.#agent.write(pgFatal(SQLSTATE.PROTOCOL_VIOLATION, message));
    this.#terminate();
  }

  // ---- decisions ----

  #decide(text: string): Decided {
    const t0 = performance.now();
    let requests = statementRequests(text, this.#d.facts);
    if (!this.#lexingSafe) {
      const reason = this.#lexingReason;
      requests = requests.map((r) => ({ ...r, unknown: [...SQL_FACT_PATHS], unknownReason: reason }));
    }
    const t1 = performance.now();
    const now = new Date();
    const decisions = requests.map((r) => this.#d.policy.decide({
      peer: this.#d.peer,
      endpoint: this.#d.endpoint,
      credential: this.#d.credential,
      facts: r.facts,
      unknown: r.unknown,
      unknownCause: r.unknownReason?.startsWith('SQL_TOO_LONG') ? 'truncated' : 'unparseable',
      now,
    }));
    const combined = combineDecisions(decisions);
    return { text, requests, decisions, combined, parseMs: t1 - t0, decideMs: performance.now() - t1 };
  }

  async #onStatementMessage(kind: 'query' | 'parse', text: string, raw: Uint8Array, name: string): Promise<void> {
    // The server reports a change of standard_conforming_strings or client_encoding (by SET, a
    // function, a pg_settings write...) only at ReadyForQuery. Of all text, only a backslash is
    // lexed differently under them (a quote or comment marker is never part of a multibyte
    // character in the client encodings Postgres accepts), so a text with one is decided only
    // once every earlier ReadyForQuery is in, under the settings the statements before it left.
    // Inside an extended batch that means a Sync first: until then it is refused.
    if (text.includes('\\')) {
      await this.#waitFor(this.#allAnswered);
      if (this.#closed) return;
      if (this.#ranSinceSync > 0) {
        const reason = 'a statement with a backslash after others in the same batch: send a Sync first, so the server reports the settings they left';
        return this.#refuse(kind === 'query' ? 'simple' : 'extended', pgError(SQLSTATE.INSUFFICIENT_PRIVILEGE, denialText(null, reason)), {
          reason, code: 'PG_LEXING_UNSETTLED',
        });
      }
    }
    const d = this.#decide(text);
    const message = ++messageCounter;
    let approval: ApprovalOutcome | undefined;
    if (d.combined.effective === 'approve') {
      this.#flushUpstream();
      approval = await this.#runApprovals(d, kind === 'parse');
      if (this.#closed) {
        // The agent went away while waiting: nothing was sent, nothing more is.
        await this.#appendAll(d, message, { approval, outcome: 'not_forwarded' }).catch(() => undefined);
        return;
      }
      d.approvers = toAuditApprovers(approval.stages);
      d.approvalMs = approval.ms;
    }
    const refused = d.combined.effective === 'deny' || (approval !== undefined && approval.verdict !== 'allow');
    const outcome = refused ? 'not_forwarded' : d.combined.verdict === 'allow' ? 'forwarded' : 'shadow_forwarded';
    const simple = kind === 'query' ? 'simple' : 'extended';
    if (refused) {
      if (kind === 'parse' && name === '') this.#statements.delete(''); // the server drops the unnamed statement at any Parse
      let error: Uint8Array;
      if (approval?.verdict === 'cancelled') {
        error = pgError(SQLSTATE.QUERY_CANCELED, this.#approvalCancelled ? 'canceling statement due to user request' : 'approval cancelled');
      } else if (approval) {
        error = pgError(SQLSTATE.INSUFFICIENT_PRIVILEGE, denialText(approval.rule, approval.reason));
      } else {
        error = pgError(SQLSTATE.INSUFFICIENT_PRIVILEGE, decisionDenialText(d.combined));
      }
      this.#approvalCancelled = false;
      try {
        await this.#appendAll(d, message, { ...(approval ? { approval } : {}), outcome });
      } catch (e) {
        this.#d.logger.error('audit append failed', { flow: this.#d.id, error: errorText(e) });
      }
      this.#d.counters.inc('pg.denied');
      this.#sentinel(error, simple);
      return;
    }
    if (kind === 'parse') {
      // Audited at each Execute of a portal bound from it; the Parse itself runs nothing.
      if (approval) {
        try {
          await this.#appendAll(d, message, { approval, outcome: 'approved_at_parse' });
        } catch (e) {
          return this.#auditFailed(e, simple);
        }
      }
      // Taken at once (a pipelined Bind needs it), dropped again if the server refuses the Parse.
      this.#statements.set(name, d);
      this.#tracker.add({ kind: 'parse', done: (ok) => { if (!ok && this.#statements.get(name) === d) this.#statements.delete(name); } });
      this.#send(raw);
      return;
    }
    let seqs: number[];
    try {
      seqs = await this.#appendAll(d, message, { ...(approval ? { approval } : {}), outcome });
    } catch (e) {
      return this.#auditFailed(e, simple);
    }
    if (this.#closed) return;
    this.#d.counters.inc('pg.forwarded');
    this.#trackStatements(d, seqs);
    this.#send(raw);
    this.#tracker.closeUnit();
    this.#noteVerbs(d);
  }

  #auditFailed(error: unknown, kind: 'simple' | 'extended'): void {
    this.#d.logger.error('audit append failed; statement refused', { flow: this.#d.id, error: errorText(error) });
    this.#d.counters.inc('pg.audit_failed');
    this.#sentinel(pgError(SQLSTATE.INSUFFICIENT_PRIVILEGE, denialText(null, 'the audit log is unavailable')), kind);
  }

  /** Prepared statements made or dropped by SQL are not ours to follow: forget ours. */
  #noteVerbs(d: Prepared): void {
    for (const r of d.requests) {
      const verb = r.facts.sql['verb'];
      if (verb === 'deallocate' || verb === 'discard' || verb === 'prepare') {
        this.#statements.clear();
        this.#portals.clear();
        return;
      }
    }
  }

  /** One execute item per top-level statement; hidden statements complete with their parent. */
  #trackStatements(d: Prepared, seqs: number[]): void {
    const started = performance.now();
    let hasTop = false;
    d.requests.forEach((r, i) => {
      if (r.statement?.hidden) return;
      hasTop = true;
      const seq = seqs[i]!;
      if (r.facts.sql['verb'] === 'copy') {
        const copy = { started: false };
        this.#copies.push(copy);
        this.#tracker.add({ kind: 'execute', done: (o) => { this.#copyEnded(copy); this.#complete(seq, o, started); } });
        return;
      }
      this.#tracker.add({ kind: 'execute', done: (o) => this.#complete(seq, o, started) });
    });
    if (!hasTop && seqs.length) {
      const seq = seqs[0]!;
      this.#tracker.add({ kind: 'execute', done: (o) => this.#complete(seq, o, started) });
    }
  }

  #complete(seq: number, o: ItemOutcome, started: number): void {
    const durationMs = Math.round((performance.now() - started) * 1000) / 1000;
    const outcome: AuditOutcome = o.kind === 'complete' ? { commandTag: o.tag, rows: o.rows, durationMs }
      : o.kind === 'empty' ? { commandTag: '', rows: 0, durationMs }
        : o.kind === 'suspended' ? { commandTag: 'PortalSuspended', rows: o.rows, durationMs }
          : o.kind === 'error' ? { error: `${o.code} ${o.message}`.trim(), rows: o.rows, durationMs }
            : { error: 'not executed (an earlier message failed or the session ended)', durationMs };
    this.#d.audit.complete(seq, outcome).catch((e: unknown) => this.#d.logger.error('audit completion failed', { flow: this.#d.id, error: errorText(e) }));
  }

  async #onExecute(portal: string, raw: Uint8Array): Promise<void> {
    const prepared = this.#portals.get(portal);
    if (!prepared) {
      const reason = `portal "${portal}" was not bound from a statement prepared in this session`;
      return this.#refuse('extended', pgError(SQLSTATE.INSUFFICIENT_PRIVILEGE, denialText(null, reason)), { reason, code: 'PG_UNKNOWN_PORTAL', detail: { portal } });
    }
    const held = this.#heldBind?.portal === portal ? this.#heldBind : undefined;
    this.#heldBind = undefined;
    const message = ++messageCounter;
    let seqs: number[];
    try {
      seqs = await this.#appendAll(prepared, message, {
        outcome: prepared.combined.verdict === 'allow' || prepared.approvers ? 'forwarded' : 'shadow_forwarded',
        ...(prepared.approvers ? { approvedAtParse: true } : {}),
      });
    } catch (e) {
      return this.#auditFailed(e, 'extended');
    }
    if (this.#closed) return;
    this.#d.counters.inc('pg.forwarded');
    if (held) for (const bytes of held.raws) this.#send(bytes);
    this.#trackStatements(prepared, seqs);
    this.#ranSinceSync++;
    this.#send(raw);
    this.#noteVerbs(prepared);
  }

  /** Sends a held Bind that no Execute followed, behind a record of its own (outcome `bound`). */
  async #releaseBind(held: { portal: string; prepared: Prepared; raws: Uint8Array[] }): Promise<void> {
    this.#heldBind = undefined;
    try {
      await this.#appendAll(held.prepared, ++messageCounter, {
        outcome: 'bound',
        ...(held.prepared.approvers ? { approvedAtParse: true } : {}),
      });
    } catch (e) {
      return this.#auditFailed(e, 'extended');
    }
    if (this.#closed) return;
    this.#ranSinceSync++; // planning at Bind can run functions
    for (const bytes of held.raws) this.#send(bytes);
  }

  /**
   * A refused message, answered where the server would have answered it: an Execute of a
   * portal that cannot exist stands in its place (response-tracker.ts), and its error is
   * replaced by `error`. Simple: followed by our own Sync. Extended: the agent's Sync ends it.
   */
  #sentinel(error: Uint8Array, kind: 'simple' | 'extended'): void {
    const portal = `bailiff.refused.${randomBytes(12).toString('base64url')}`;
    this.#tracker.add({ kind: 'sentinel', portal, replacement: error });
    this.#send(encodeExecute(portal, 1));
    if (kind === 'simple') {
      this.#send(encodeSync());
      this.#tracker.closeUnit();
    } else {
      this.#discarding = true;
    }
  }

  /** A message refused before any rule (protocol, unknown statement, size): audited, then refused. */
  async #refuse(kind: 'simple' | 'extended', error: Uint8Array, why: { reason: string; code: string; detail?: Record<string, string | number> }): Promise<void> {
    try {
      await this.#d.audit.append({
        ...this.#recordBase(),
        verdict: 'deny',
        reason: why.reason,
        reasonCode: why.code,
        upstream: { outcome: 'not_forwarded' },
        ...(why.detail ? { detail: why.detail } : {}),
      });
    } catch (e) {
      this.#d.logger.error('audit append failed', { flow: this.#d.id, error: errorText(e) });
    }
    this.#d.counters.inc('pg.denied');
    this.#sentinel(error, kind);
  }

  #recordBase(): AuditRecordInput {
    return {
      kind: 'decision',
      connectionId: this.#d.id,
      peer: this.#d.peer.name,
      peerAddress: this.#d.peer.address,
      profile: this.#d.peer.profile,
      endpoint: this.#d.endpoint,
      credential: this.#d.credential,
      mode: this.#d.policy.config.gateway.mode,
    };
  }

  /** One durable record per statement (hidden ones included), in statement order. */
  #appendAll(d: Prepared & Partial<Pick<Decided, 'parseMs' | 'decideMs'>>, message: number, extra: { approval?: ApprovalOutcome; outcome: string; approvedAtParse?: boolean }): Promise<number[]> {
    const timings: Record<string, number> = {};
    if (d.parseMs !== undefined) timings.parse = round(d.parseMs);
    if (d.decideMs !== undefined) timings.decide = round(d.decideMs);
    const approvalMs = extra.approval?.ms ?? d.approvalMs;
    if (approvalMs !== undefined) timings.approval = round(approvalMs);
    const approvers = extra.approval ? toAuditApprovers(extra.approval.stages) : d.approvers;
    return Promise.all(d.requests.map((r, i) => {
      const decision = d.decisions[i]!;
      const chained = decision.effective === 'approve' && extra.approval;
      const verdict = decision.effective === 'deny' || decision.verdict === 'deny' ? 'deny'
        : chained ? (extra.approval!.verdict === 'allow' ? 'allow' : 'deny') : 'allow';
      // Built field by field: object spreads with extra properties are a slow path in Node 20,
      // and this runs for every statement. The log copies and checks the record (normalize.ts).
      const record = this.#recordBase();
      record.facts = r.facts as unknown as JsonObject;
      if (decision.rule) record.rule = decision.rule;
      record.verdict = verdict;
      const refusedByApproval = chained && extra.approval!.verdict !== 'allow';
      record.reason = refusedByApproval ? extra.approval!.reason : decision.reason;
      record.reasonCode = refusedByApproval ? extra.approval!.code : decision.code;
      if (decision.effective === 'approve' || (decision.verdict === 'approve' && approvers)) record.approvers = approvers ?? [];
      record.timings = timings;
      record.upstream = { outcome: extra.outcome };
      const detail: JsonObject = { message, statement: i, policyVerdict: decision.verdict };
      if (r.statement?.hidden) {
        detail.hidden = true;
        detail.origin = r.statement.origin ?? 'nested';
      }
      if (r.unknownReason) detail.unknownReason = r.unknownReason;
      if (decision.internalDetail) detail.internalDetail = decision.internalDetail;
      if (extra.approvedAtParse) detail.approvedAtParse = true;
      record.detail = detail;
      return this.#d.audit.append(record).then((e) => e.seq);
    }));
  }

  /**
   * Runs the approve chain of every statement held by one, in order (any non-allow ends it). Each
   * statement is its own request with its own facts, even when several match the same rule: an
   * approval of `DELETE FROM logs WHERE id = 1` must not carry a `DELETE FROM users` sent with it.
   * A Parse is approved once for every Execute of it on this connection, whatever the parameters
   * (the statement shows `$1`, not values): the approvers are told so in the summary.
   */
  async #runApprovals(d: Decided, prepared: boolean): Promise<ApprovalOutcome> {
    const started = performance.now();
    const controller = new AbortController();
    this.#approval = controller;
    this.#d.counters.inc('pg.approval.started');
    const stages: ApproverOutcome[] = [];
    try {
      for (let i = 0; i < d.decisions.length; i++) {
        const decision = d.decisions[i]!;
        if (decision.effective !== 'approve') continue;
        if (!decision.rule) {
          // Only a rule can ask for approval; anything else is refused rather than let through.
          return { verdict: 'deny', rule: null, reason: 'approval without a rule', code: 'APPROVAL_NO_RULE', stages, ms: performance.now() - started };
        }
        const request = approvalRequest({
          peer: { name: this.#d.peer.name, address: this.#d.peer.address },
          profile: this.#d.peer.profile,
          endpoint: this.#d.endpoint,
          rule: decision.rule,
          reason: decision.reason,
          family: 'sql',
          facts: d.requests[i]!.facts,
          summary: prepared ? `${PREPARED_NOTE}\n${d.text}` : d.text,
          credential: this.#d.credential,
        });
        const result = await this.#d.approvers.run(request, decision.approve ?? [], controller.signal);
        stages.push(...result.stages);
        if (result.verdict !== 'allow') {
          this.#d.counters.inc(`pg.approval.${result.verdict}`);
          return { verdict: result.verdict, rule: decision.rule, reason: result.reason, code: result.code, stages, ms: performance.now() - started };
        }
      }
      this.#d.counters.inc('pg.approval.allow');
      return { verdict: 'allow', rule: d.combined.rule, reason: 'approved', code: 'APPROVED', stages, ms: performance.now() - started };
    } finally {
      this.#approval = undefined;
    }
  }

  // ---- upstream -> agent ----

  #onUpstreamData(chunk: Buffer): void {
    if (this.#closed) return;
    let events: BackendEvent[];
    try {
      events = this.#upParser.push(chunk);
    } catch (error) {
      if (!(error instanceof PgCodecError)) throw error;
      this.#relay(error.before as BackendEvent[]);
      this.#d.logger.error('postgres: upstream framing error', { flow: this.#d.id, code: error.code, error: error.message });
      this.#d.counters.inc('pg.upstream.framing_error');
      this.#agent.write(pgFatal(SQLSTATE.CONNECTION_FAILURE, 'the upstream server sent an invalid message'));
      this.#close('upstream protocol error');
      return;
    }
    this.#relay(events);
  }

  #copyStarted(): void {
    const copy = this.#copies.find((c) => !c.started);
    if (!copy) return;
    copy.started = true;
    this.#copyIn = true;
  }

  /** A COPY finished or failed (never started, or done): the server is out of copy-in. */
  #copyEnded(copy: { started: boolean }): void {
    const at = this.#copies.indexOf(copy);
    if (at >= 0) this.#copies.splice(at, 1);
    this.#copyIn = false;
  }

  /** Every forwarded COPY has been answered: it started taking data, or it ended. */
  readonly #copiesAnswered = (): boolean => this.#copies.every((c) => c.started);

  /** The upstream has answered every Query and Sync sent so far. */
  readonly #allAnswered = (): boolean => this.#tracker.owed === 0;

  /**
   * Resolves once `ready()` holds (checked after each batch of upstream messages) or the session
   * ends. What the pump waits for must reach the server first, so the writes held back go now.
   */
  #waitFor(ready: () => boolean): Promise<void> {
    if (this.#closed || ready()) return Promise.resolve();
    this.#flushUpstream();
    return new Promise((resolve) => { this.#waiter = { ready, resolve }; });
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.resolve();
  }

  #relay(events: BackendEvent[]): void {
    if (events.length === 0) return;
    const out: Uint8Array[] = [];
    for (const m of events) {
      if (m.type === 'ParameterStatus') this.#noteParameter(m.name, m.value);
      else if (m.type === 'BackendKeyData') continue; // only ours reaches the agent
      else if (m.type === 'CopyInResponse') this.#copyStarted();
      const r = this.#tracker.onBackend(m);
      out.push(r.kind === 'relay' ? m.raw : r.bytes);
    }
    if (this.#waiter?.ready()) this.#wake();
    if (out.length === 0) return;
    const bytes = out.length === 1 ? out[0]! : Buffer.concat(out);
    if (!this.#agent.write(bytes)) this.#up.pause();
  }

  #noteParameter(name: string, value: string): void {
    const lower = name.toLowerCase();
    if (lower === 'standard_conforming_strings' && value.toLowerCase() !== 'on') {
      this.#lexingSafe = false;
      this.#lexingReason = 'the server reports standard_conforming_strings off: statements are not read as our parser reads them';
    } else if (lower === 'client_encoding' && value.toUpperCase().replace(/[-_]/g, '') !== 'UTF8') {
      this.#lexingSafe = false;
      this.#lexingReason = `the server reports client_encoding ${value}: statements are not read as our parser reads them`;
    } else if (lower === 'standard_conforming_strings' || lower === 'client_encoding') {
      // Back to settings we read correctly (RESET): facts are trustworthy again only if both are.
      const other = lower === 'client_encoding' ? /standard_conforming/.test(this.#lexingReason) : /client_encoding/.test(this.#lexingReason);
      if (!other) {
        this.#lexingSafe = true;
        this.#lexingReason = '';
      }
    }
  }

  // ---- ending ----

  #terminate(): void {
    if (this.#terminated) return;
    this.#terminated = true;
    this.#queue.length = 0;
    this.#flushUpstream();
    this.#up.end();
    // The agent side ends when the upstream closes (its last answers relayed first).
  }

  #onAgentEnd(): void {
    if (this.#closed) return;
    this.#approval?.abort();
    if (!this.#terminated) {
      // The agent half-closed without Terminate: tell the server goodbye for it.
      this.#queue.length = 0;
      this.#send(encodeTerminate());
      this.#terminate();
    }
  }

  #close(reason: string, error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#approval?.abort();
    this.#queue.length = 0;
    this.#wake();
    this.#tracker.abandon();
    if (error) this.#d.logger.info('postgres session ended', { flow: this.#d.id, reason, error: error.message });
    if (!this.#up.destroyed) this.#up.end();
    setTimeout(() => this.#up.destroy(), 1000).unref();
    if (!this.#agent.destroyed) this.#agent.end();
    for (const fn of this.#onClosed.splice(0)) fn();
  }
}

const round = (ms: number): number => Math.round(ms * 1000) / 1000;
