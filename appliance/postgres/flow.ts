/**
 * One Postgres flow from the agent, start to end (ARCHITECTURE.md, "Data path of one Postgres
 * statement", step 3): the agent's startup packets (SSLRequest and GSSENCRequest answered 'N':
 * the tunnel already encrypts), a CancelRequest mapped to its session, or a StartupMessage whose
 * `user` picks the credential; the upstream authenticated with the real password; then the
 * agent gets AuthenticationOk (it never sends a password we use), the server's parameters, a
 * fake cancel key and ReadyForQuery, and the session (session.ts) takes over.
 */
import { performance } from 'node:perf_hooks';
import {
  encodeAuthenticationOk,
  encodeBackendKeyData,
  encodeCancelRequest,
  encodeEncryptionResponse,
  encodeNegotiateProtocolVersion,
  encodeReadyForQuery,
  FrontendParser,
  type CancelRequest,
  type FrontendEvent,
  type StartupMessage,
} from '../../protocols/postgres/codec/index.js';
import { loadSqlParser } from '../../protocols/postgres/sql-facts.js';
import { configFiles } from '../../policy/config/load.js';
import type { CredentialChoice } from '../../policy/engine.js';
import { readSecret, SecretError } from '../../policy/secrets.js';
import type { FlowContext } from '../flows.js';
import type { CancelRegistry } from './cancel-registry.js';
import { pgFatal, SQLSTATE, UPSTREAM_AUTH_FAILED } from './denials.js';
import { HandshakeError, MessageReader } from './message-reader.js';
import { OversizeGate } from './oversize-gate.js';
import { PostgresSession } from './session.js';
import { upstreamParameters } from './startup-parameters.js';
import { negotiateTls, openUpstream, UpstreamError } from './upstream.js';

export interface PostgresFlowOptions {
  /** Cap on one agent message (Query, Parse, Bind...), default 1 MiB. */
  maxMessageLength: number;
  /** Startup and upstream authentication must finish within this. */
  handshakeTimeoutMs: number;
  /** Where `env()` secrets are read (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Agent messages held while a decision is pending before the agent is paused. */
  maxQueuedBytes?: number;
}

type PostgresEndpoint = Extract<FlowContext['endpoint'], { type: 'postgres' }>;

/** The credential the agent asked for by its startup `user`: the profile entry's user, else the credential's. */
export function pickCredential(choices: readonly CredentialChoice[], user: string): CredentialChoice | undefined {
  return choices.find((c) => c.credential.type === 'postgres_credential' && (c.entry.user ?? c.credential.user) === user);
}

function fail(ctx: FlowContext, bytes: Uint8Array): void {
  ctx.agent.end(bytes);
  ctx.upstream.destroy();
}

function hostOf(hostPort: string): string {
  const m = /^\[(.*)\](?::\d+)?$/.exec(hostPort);
  if (m) return m[1]!;
  const i = hostPort.lastIndexOf(':');
  return i > 0 && hostPort.indexOf(':') === i ? hostPort.slice(0, i) : hostPort;
}

export async function runPostgresFlow(ctx: FlowContext, registry: CancelRegistry, options: PostgresFlowOptions): Promise<void> {
  const endpoint = ctx.endpoint as PostgresEndpoint;
  const started = performance.now();
  const parser = new FrontendParser({ maxMessageLength: options.maxMessageLength, streamCopyData: true });
  const reader = new MessageReader<FrontendEvent>(ctx.agent, (chunk) => parser.push(chunk));
  const timeout = AbortSignal.timeout(options.handshakeTimeoutMs);
  ctx.agent.on('error', () => undefined); // handled by whoever reads; never an uncaught error
  ctx.upstream.on('error', () => undefined);
  ctx.upstream.pause();

  let startup: StartupMessage | undefined;
  try {
    for (let negotiations = 0; !startup;) {
      const m = await reader.next(timeout);
      if (m.type === 'SSLRequest' || m.type === 'GSSENCRequest') {
        if (++negotiations > 2) throw new HandshakeError('PG_PROTOCOL', 'too many encryption requests');
        ctx.agent.write(encodeEncryptionResponse(m.type === 'SSLRequest' ? 'ssl' : 'gss', false));
        continue;
      }
      if (m.type === 'CancelRequest') {
        reader.detach();
        await forwardCancel(ctx, registry, m, endpoint);
        return;
      }
      if (m.type === 'StartupMessage') {
        startup = m;
        break;
      }
      throw new HandshakeError(m.type === 'Malformed' ? m.error.code : 'PG_PROTOCOL', `${m.type} where a startup packet was expected`);
    }
  } catch (error) {
    reader.detach();
    const code = error instanceof HandshakeError ? error.code : 'PG_PROTOCOL';
    ctx.counters.inc('pg.startup_failed');
    if (code !== 'PG_PEER_CLOSED' && code !== 'PG_PEER_ERROR') {
      fail(ctx, pgFatal(SQLSTATE.PROTOCOL_VIOLATION, code === 'PG_HANDSHAKE_TIMEOUT' ? 'startup timed out' : 'invalid startup packet'));
    } else ctx.upstream.destroy();
    return;
  }

  const user = startup.parameters.get('user') ?? '';
  const agentDatabase = startup.parameters.get('database') || user;
  const choice = pickCredential(ctx.route.credentials, user);
  const base = {
    kind: 'decision' as const,
    connectionId: ctx.id,
    peer: ctx.peer.name,
    peerAddress: ctx.peer.address,
    profile: ctx.peer.profile,
    endpoint: endpoint.ref,
    mode: ctx.policy.config.gateway.mode,
  };
  if (!choice || choice.credential.type !== 'postgres_credential') {
    reader.detach();
    ctx.counters.inc('pg.no_credential');
    await ctx.audit.append({ ...base, verdict: 'deny', reason: `no credential for user "${user}"`, reasonCode: 'PG_NO_CREDENTIAL', facts: { sql: { user, database: agentDatabase } } })
      .catch((e: Error) => ctx.logger.error('audit append failed', { error: e.message }));
    fail(ctx, pgFatal(SQLSTATE.INVALID_AUTHORIZATION, `no credential for user "${user}" on ${hostOf(endpoint.host)}`));
    return;
  }
  const credential = choice.credential;
  const upstreamDatabase = choice.entry.database ?? credential.database ?? agentDatabase;
  const { parameters, dropped, protocolOptions } = upstreamParameters(startup.parameters, credential.user, upstreamDatabase);

  const refuseAuth = async (code: string, detail: string): Promise<void> => {
    reader.detach();
    ctx.counters.inc('pg.upstream_auth_failed');
    ctx.logger.warn('postgres upstream authentication failed', { flow: ctx.id, endpoint: endpoint.ref, credential: credential.ref, code, detail });
    await ctx.audit.append({
      ...base, credential: credential.ref, verdict: 'deny', reason: UPSTREAM_AUTH_FAILED, reasonCode: code,
      upstream: { outcome: 'auth_failed', address: endpoint.upstream, error: detail },
    }).catch((e: Error) => ctx.logger.error('audit append failed', { error: e.message }));
    fail(ctx, pgFatal(SQLSTATE.INVALID_AUTHORIZATION, UPSTREAM_AUTH_FAILED));
  };

  let password: string | undefined;
  if (credential.password) {
    try {
      password = readSecret(credential.password, { baseDir: configFiles(ctx.policy.config.source).baseDir, ...(options.env ? { env: options.env } : {}) });
    } catch (error) {
      await refuseAuth(error instanceof SecretError ? error.code : 'SECRET_UNREADABLE', (error as Error).message);
      return;
    }
    // Never in a record, whatever a statement or an error message echoes back.
    ctx.audit.addSecrets([password]);
  }

  let ready;
  try {
    await loadSqlParser();
    ready = await openUpstream(ctx.upstream, {
      sslmode: endpoint.sslmode,
      caCert: endpoint.caCert,
      host: hostOf(endpoint.upstream),
      baseDir: configFiles(ctx.policy.config.source).baseDir,
      parameters,
      user: credential.user,
      password,
      maxMessageLength: options.maxMessageLength,
      signal: timeout,
    });
  } catch (error) {
    if (error instanceof UpstreamError) {
      await refuseAuth(error.code, error.detail);
      return;
    }
    throw error;
  }

  // Anything the agent sent after its StartupMessage must have ended on a message boundary.
  const early = reader.detach();
  if (parser.bufferedBytes !== 0) {
    ready.stream.destroy();
    fail(ctx, pgFatal(SQLSTATE.PROTOCOL_VIOLATION, 'data sent before authentication completed'));
    return;
  }
  if (dropped.length) ctx.logger.info('postgres startup parameters not forwarded', { flow: ctx.id, parameters: dropped });

  const session = new PostgresSession({
    id: ctx.id,
    peer: ctx.peer,
    endpoint: endpoint.ref,
    credential: credential.ref,
    facts: { database: agentDatabase, user },
    policy: ctx.policy,
    audit: ctx.audit,
    approvers: ctx.approvers,
    logger: ctx.logger,
    counters: ctx.counters,
    maxMessageLength: options.maxMessageLength,
    ...(options.maxQueuedBytes ? { maxQueuedBytes: options.maxQueuedBytes } : {}),
  }, ctx.agent, new OversizeGate(parser, options.maxMessageLength), ready);
  const realKey = ready.backendKey;
  const { key, release } = registry.register({
    peerName: ctx.peer.name,
    cancel: () => (session.cancel() ? realKey : undefined),
  });
  session.onClose(release);

  const hello: Uint8Array[] = [];
  if (startup.minorVersion > 0 || protocolOptions.length) hello.push(encodeNegotiateProtocolVersion(0, protocolOptions));
  hello.push(encodeAuthenticationOk(), ...ready.replay, encodeBackendKeyData(key.processId, key.secretKey), encodeReadyForQuery(ready.status));
  ctx.agent.write(Buffer.concat(hello));
  ctx.counters.inc('pg.sessions');
  ctx.logger.info('postgres session started', {
    flow: ctx.id, peer: ctx.peer.name, endpoint: endpoint.ref, credential: credential.ref, tls: ready.tls, auth: ready.authMethod,
    ms: Math.round(performance.now() - started),
  });
  session.start(early);
}

/** A CancelRequest: our fake key back to its session, and the real key to the upstream on this flow's own connection. */
async function forwardCancel(ctx: FlowContext, registry: CancelRegistry, m: CancelRequest, endpoint: PostgresEndpoint): Promise<void> {
  ctx.counters.inc('pg.cancel.requests');
  const session = registry.lookup(m.processId, m.secretKey, ctx.peer.name);
  const real = session?.cancel();
  // The agent gets no answer either way (the server sends none), so a wrong key learns nothing.
  ctx.agent.end();
  if (!real) {
    ctx.counters.inc(session ? 'pg.cancel.local' : 'pg.cancel.unknown_key');
    ctx.upstream.destroy();
    return;
  }
  try {
    const { stream } = await negotiateTls(ctx.upstream, {
      sslmode: endpoint.sslmode, caCert: endpoint.caCert, host: hostOf(endpoint.upstream), baseDir: configFiles(ctx.policy.config.source).baseDir,
    }, AbortSignal.timeout(5000));
    stream.end(encodeCancelRequest(real.processId, real.secretKey));
    stream.on('error', () => undefined);
    setTimeout(() => stream.destroy(), 5000).unref();
    ctx.counters.inc('pg.cancel.forwarded');
  } catch (error) {
    ctx.logger.warn('postgres cancel could not reach the upstream', { flow: ctx.id, error: (error as Error).message });
    ctx.upstream.destroy();
  }
}
