/**
 * The Postgres handler behind a plain TCP listener on 127.0.0.1, without the tunnel: what the
 * flow manager would hand it (peer, endpoint, route, a connected upstream socket, policy, audit,
 * approvers), so real psql, pgbench and node-postgres can talk to it in-process and fast.
 * The end-to-end tests (test/e2e/postgres.test.ts) do the same through WireGuard.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { Counters } from '../../../netstack/counters.js';
import { ApproverSet, PendingApprovals } from '../../../policy/approvers/index.js';
import { AuditLog, type AuditEntry } from '../../../policy/audit/index.js';
import { loadConfig } from '../../../policy/config/load.js';
import { CompiledPolicy, type PeerIdentity } from '../../../policy/engine.js';
import type { FlowContext } from '../../../appliance/flows.js';
import { postgresHandler, type PostgresHandlerOptions } from '../../../appliance/postgres/index.js';

export interface PgProxy {
  port: number;
  audit: AuditLog;
  pending: PendingApprovals;
  counters: Counters;
  policy: CompiledPolicy;
  records(): Promise<AuditEntry[]>;
  /** Bytes the proxy sent to agents, all connections, in order. */
  toAgents(): Buffer;
  close(): Promise<void>;
}

export const quietLogger = { info() {}, warn() {}, error() {} };

export async function startPgProxy(options: {
  dir: string;
  policy: string;
  peer?: PeerIdentity;
  handler?: PostgresHandlerOptions;
  /** Replace the audit log's durability with an in-memory list (benchmarks of the relay alone). */
  memoryAudit?: boolean;
  logger?: { info(m: string, f?: Record<string, unknown>): void; warn(m: string, f?: Record<string, unknown>): void; error(m: string, f?: Record<string, unknown>): void };
}): Promise<PgProxy> {
  mkdirSync(options.dir, { recursive: true });
  const path = join(options.dir, 'policy.hcl');
  writeFileSync(path, options.policy);
  const loaded = await loadConfig(path);
  if (!loaded.config) throw new Error(`policy does not load: ${JSON.stringify(loaded.diagnostics)}`);
  const config = loaded.config;
  const policy = new CompiledPolicy(config);
  const audit = await AuditLog.open({ dir: join(options.dir, 'audit') });
  const pending = new PendingApprovals();
  const approvers = ApproverSet.fromConfig(config, { store: pending, baseDir: options.dir });
  const counters = new Counters();
  const peer = options.peer ?? { name: 'agent', address: '100.64.0.2', profile: 'default' };
  const endpoint = config.endpoints.find((e) => e.type === 'postgres');
  if (!endpoint || endpoint.type !== 'postgres') throw new Error('the policy needs a postgres endpoint');
  const handler = postgresHandler(options.handler ?? {});
  const sent: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  let flows = 0;
  const server = net.createServer((agent) => {
    sockets.add(agent);
    agent.on('close', () => sockets.delete(agent));
    const write = agent.write.bind(agent) as (chunk: unknown, ...rest: unknown[]) => boolean;
    agent.write = ((chunk: unknown, ...rest: unknown[]) => {
      if (chunk instanceof Uint8Array) sent.push(Buffer.from(chunk));
      return write(chunk, ...rest);
    }) as typeof agent.write;
    const end = agent.end.bind(agent) as (chunk?: unknown, ...rest: unknown[]) => net.Socket;
    agent.end = ((chunk?: unknown, ...rest: unknown[]) => {
      if (chunk instanceof Uint8Array) sent.push(Buffer.from(chunk));
      return end(chunk, ...rest);
    }) as typeof agent.end;
    const access = policy.access(peer, endpoint.ref);
    if (!access.ok) {
      agent.destroy();
      return;
    }
    const [host, port] = [endpoint.upstream.slice(0, endpoint.upstream.lastIndexOf(':')), Number(endpoint.upstream.slice(endpoint.upstream.lastIndexOf(':') + 1))];
    const upstream = net.connect({ host, port });
    upstream.setNoDelay(true);
    agent.setNoDelay(true);
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.once('error', () => agent.destroy());
    upstream.once('connect', () => {
      const auditFor = options.memoryAudit ? memoryAudit(audit) : audit;
      const ctx = {
        id: `t${++flows}`,
        peer,
        endpoint,
        route: { kind: 'endpoint', endpoint, credentials: access.credentials, upstream: { host, port }, dialedName: endpoint.host },
        agent,
        upstream,
        policy,
        audit: auditFor,
        approvers,
        logger: options.logger ?? quietLogger,
        counters,
      } as unknown as FlowContext;
      handler(ctx);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    audit,
    pending,
    counters,
    policy,
    async records() {
      const out: AuditEntry[] = [];
      for await (const e of audit.query({})) out.push(e);
      return out;
    },
    toAgents: () => Buffer.concat(sent),
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      pending.cancelAll('test over');
      await approvers.stop();
      await audit.close();
    },
  };
}

/** Appends resolve at once (no fsync); records are kept in memory. */
function memoryAudit(real: AuditLog): AuditLog {
  let seq = 0;
  return {
    append: async () => ({ seq: ++seq }),
    complete: async () => ({}),
    addSecrets: (s: Iterable<string>) => real.addSecrets(s),
  } as unknown as AuditLog;
}
