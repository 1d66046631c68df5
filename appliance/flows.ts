/**
 * Every TCP flow an agent opens through the tunnel, from SYN to close:
 *   1. offer (SYN): who is the peer, where does the flow go (flow-router), may it connect
 *      (profile access, connection-level rules for `tcp` endpoints);
 *   2. dial the upstream; only once it is up does the agent get its SYN-ACK (refused flows get
 *      RST), and only once the decision's audit record is durable;
 *   3. hand the flow to the endpoint's protocol handler (Postgres...) or relay bytes (tcp,
 *      passthrough) with backpressure both ways;
 *   4. on close, complete the audit record with bytes each way, duration and close reason.
 */
import net from 'node:net';
import type { Counters } from '../netstack/counters.js';
import { TcpFlowStream } from '../netstack/io/tcp-stream.js';
import type { NetStack } from '../netstack/stack/net-stack.js';
import { formatAddress } from '../netstack/wire/ip-address.js';
import type { TcpConnection, TcpEvent } from '../netstack/tcp/tcp-stack.js';
import type { AuditLog } from '../policy/audit/index.js';
import type { ApproverSet } from '../policy/approvers/index.js';
import type { CompiledPolicy, PeerIdentity, PolicyDecision } from '../policy/engine.js';
import type { EndpointDecl } from '../policy/config/model.js';
import { routeFlow, type FlowRoute, type RouterContext, type Upstream } from './flow-router.js';
import type { Logger } from './logger.js';

export const UPSTREAM_DIAL_TIMEOUT_MS = 8_000;

/** What a protocol handler gets for an accepted flow of its endpoint type. */
export interface FlowContext {
  id: string;
  peer: PeerIdentity;
  endpoint: EndpointDecl;
  route: Extract<FlowRoute, { kind: 'endpoint' }>;
  /** The agent side, as a stream. */
  agent: TcpFlowStream;
  /** The upstream TCP connection, already connected. */
  upstream: net.Socket;
  policy: CompiledPolicy;
  audit: AuditLog;
  /** Approver chains for `approve` rules (the set in force when the flow started). */
  approvers: ApproverSet;
  logger: Logger;
  counters: Counters;
}

export type FlowHandler = (ctx: FlowContext) => void;

export interface FlowManagerDeps {
  stack: NetStack;
  counters: Counters;
  logger: Logger;
  now: () => number;
  /** Schedule the stack's timers after activity outside a datagram (stream writes). */
  afterActivity: () => void;
  policy: () => CompiledPolicy;
  audit: () => AuditLog;
  approvers: () => ApproverSet;
  router: () => RouterContext;
  /** Peer identity from a TCP connection's peer key (base64 public key). */
  peer: (key: string) => PeerIdentity | undefined;
  /** Protocol handlers by endpoint type; types without one are relayed byte for byte if `tcp`. */
  handlers: Partial<Record<EndpointDecl['type'], FlowHandler>>;
  dial?: (upstream: Upstream) => net.Socket;
}

interface Flow {
  id: string;
  conn: TcpConnection;
  stream?: TcpFlowStream;
  startedAt: number;
  auditSeq?: number;
  closed: boolean;
}

let flowCounter = 0;

export class FlowManager {
  readonly #deps: FlowManagerDeps;
  readonly #flows = new Map<number, Flow>();

  constructor(deps: FlowManagerDeps) {
    this.#deps = deps;
  }

  get size(): number {
    return this.#flows.size;
  }

  onTcpEvent(event: TcpEvent): void {
    if (event.kind === 'transmit') return;
    if (event.kind === 'offer') {
      this.#offer(event.conn);
      return;
    }
    const flow = this.#flows.get(event.conn.id);
    if (!flow) return;
    switch (event.kind) {
      case 'established':
        return;
      case 'readable':
        flow.stream?.onReadable();
        return;
      case 'writable':
        flow.stream?.onWritable();
        return;
      case 'peer-fin':
        flow.stream?.onPeerFin();
        return;
      case 'closed':
        flow.stream?.onClosed(event.reason);
        this.#finish(flow, event.reason);
        return;
    }
  }

  /** Abort every flow (shutdown). */
  closeAll(): void {
    for (const flow of this.#flows.values()) {
      if (flow.stream) flow.stream.destroy();
      else flow.conn.abort(this.#deps.now());
    }
    this.#deps.stack.flush(this.#deps.now());
  }

  #offer(conn: TcpConnection): void {
    const d = this.#deps;
    const id = `f${(++flowCounter).toString(36)}-${conn.id}`;
    const flow: Flow = { id, conn, startedAt: Date.now(), closed: false };
    this.#flows.set(conn.id, flow);
    const peer = d.peer(conn.peer);
    const dst = formatAddress(conn.localAddress);
    const base = {
      kind: 'connection' as const,
      connectionId: id,
      peer: peer?.name ?? '(unknown)',
      peerAddress: formatAddress(conn.remoteAddress),
      ...(peer ? { profile: peer.profile } : {}),
      detail: { destination: `${dst}:${conn.localPort}`, sourcePort: conn.remotePort },
    };
    if (!peer) {
      this.#refuse(flow, base, 'ACCESS_UNKNOWN_PEER', 'unknown peer');
      return;
    }
    const route = routeFlow(d.router(), peer, conn.localAddress, conn.localPort);
    if (route.kind === 'refuse') {
      this.#refuse(flow, { ...base, ...(route.endpoint ? { endpoint: route.endpoint } : {}) }, route.code, route.reason);
      return;
    }
    let decision: PolicyDecision | undefined;
    if (route.kind === 'endpoint') {
      const handler = d.handlers[route.endpoint.type];
      if (!handler && route.endpoint.type !== 'tcp') {
        this.#refuse(flow, { ...base, endpoint: route.endpoint.ref }, 'ROUTE_NOT_TERMINATED', `${route.endpoint.type} endpoints are not terminated by this version`);
        return;
      }
      if (route.endpoint.type === 'tcp') {
        // Connection-level rules: the only requests a tcp endpoint has.
        decision = d.policy().decide({
          peer,
          endpoint: route.endpoint.ref,
          credential: route.credentials[0]!.credential.ref,
          now: new Date(),
        });
        if (decision.effective !== 'allow') {
          const reason = decision.effective === 'approve' ? 'connection approvals are not supported; use verdict rules on tcp endpoints' : decision.reason;
          this.#refuse(flow, { ...base, endpoint: route.endpoint.ref, credential: route.credentials[0]!.credential.ref, ...(decision.rule ? { rule: decision.rule } : {}) }, decision.code, reason);
          return;
        }
      }
    }
    const upstream = route.upstream;
    const socket = (d.dial ?? ((u: Upstream) => net.connect({ host: u.host, port: u.port })))(upstream);
    socket.setNoDelay(true);
    const dialTimer = setTimeout(() => socket.destroy(new Error('upstream connect timeout')), UPSTREAM_DIAL_TIMEOUT_MS);
    socket.once('error', (error) => {
      if (flow.stream) return; // after accept, the relay owns errors
      clearTimeout(dialTimer);
      this.#refuse(flow, {
        ...base,
        ...(route.kind === 'endpoint' ? { endpoint: route.endpoint.ref } : {}),
        upstream: { outcome: 'dial_failed', address: `${upstream.host}:${upstream.port}`, error: error.message },
      }, 'UPSTREAM_UNREACHABLE', 'the upstream could not be reached');
    });
    socket.once('connect', () => {
      clearTimeout(dialTimer);
      void this.#accept(flow, socket, route, peer, decision, base);
    });
  }

  async #accept(
    flow: Flow,
    socket: net.Socket,
    route: Routed,
    peer: PeerIdentity,
    decision: PolicyDecision | undefined,
    base: Record<string, unknown>,
  ): Promise<void> {
    const d = this.#deps;
    const endpoint = route.kind === 'endpoint' ? route.endpoint : undefined;
    try {
      // The decision is durable before the agent's SYN is answered.
      const entry = await d.audit().append({
        ...(base as { kind: 'connection' }),
        ...(endpoint ? { endpoint: endpoint.ref } : {}),
        ...(route.kind === 'endpoint' ? { credential: route.credentials[0]!.credential.ref } : {}),
        verdict: 'allow',
        ...(decision?.rule ? { rule: decision.rule } : {}),
        reason: route.kind === 'passthrough' ? 'unknown host relayed (defaults.unknown_host = "passthrough")' : decision?.reason ?? 'profile reaches the endpoint',
        reasonCode: route.kind === 'passthrough' ? 'ROUTE_PASSTHROUGH' : decision?.code ?? 'ACCESS_OK',
        mode: d.policy().config.gateway.mode,
        upstream: { outcome: 'connected', address: `${route.upstream.host}:${route.upstream.port}` },
      });
      flow.auditSeq = entry.seq;
    } catch (error) {
      d.logger.error('audit append failed; refusing the flow', { error: (error as Error).message });
      socket.destroy();
      flow.conn.refuse(d.now());
      d.stack.flush(d.now());
      return;
    }
    if (flow.closed || flow.conn.state === 'CLOSED') {
      socket.destroy();
      return;
    }
    flow.conn.accept(d.now());
    const stream = new TcpFlowStream(flow.conn, {
      now: d.now,
      flush: () => {
        d.stack.flush(d.now());
        d.afterActivity();
      },
    });
    flow.stream = stream;
    d.stack.flush(d.now());
    d.afterActivity();
    d.counters.inc('flow.accepted');

    const handler = endpoint ? d.handlers[endpoint.type] : undefined;
    if (handler && route.kind === 'endpoint') {
      handler({
        id: flow.id, peer, endpoint: route.endpoint, route, agent: stream, upstream: socket,
        policy: d.policy(), audit: d.audit(), approvers: d.approvers(), logger: d.logger, counters: d.counters,
      });
      return;
    }
    relay(stream, socket);
  }

  #refuse(flow: Flow, record: Record<string, unknown>, code: string, reason: string): void {
    const d = this.#deps;
    d.counters.inc('flow.refused');
    flow.conn.refuse(d.now());
    d.stack.flush(d.now());
    d.afterActivity();
    void d.audit().append({
      ...(record as { kind: 'connection' }),
      verdict: 'deny',
      reason,
      reasonCode: code,
      mode: d.policy().config.gateway.mode,
    }).catch((error: Error) => d.logger.error('audit append failed', { error: error.message }));
  }

  #finish(flow: Flow, reason: string): void {
    if (flow.closed) return;
    flow.closed = true;
    this.#flows.delete(flow.conn.id);
    if (flow.auditSeq === undefined) return;
    void this.#deps.audit().complete(flow.auditSeq, {
      bytesIn: flow.conn.bytesIn,
      bytesOut: flow.conn.bytesOut,
      durationMs: Date.now() - flow.startedAt,
      closeReason: reason,
    }).catch((error: Error) => this.#deps.logger.error('audit completion failed', { error: error.message }));
  }
}

type Routed = Exclude<FlowRoute, { kind: 'refuse' }>;

/** Bytes both ways with backpressure and half-close; an error on either side aborts the other. */
export function relay(agent: TcpFlowStream, upstream: net.Socket): void {
  agent.pipe(upstream);
  upstream.pipe(agent);
  agent.on('error', () => upstream.destroy());
  upstream.on('error', () => agent.destroy());
  // The agent side gone without its FIN (reset, abort, shutdown): drop the upstream too. After a
  // clean FIN the pipe has already ended the upstream, which then closes on its own.
  agent.on('close', () => {
    if (!upstream.writableEnded) upstream.destroy();
  });
  upstream.on('close', (hadError) => {
    if (hadError) agent.destroy();
  });
}
