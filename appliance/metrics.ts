/**
 * Local operator HTTP endpoint (gateway.dashboard_listen): counters as Prometheus text at
 * /metrics and as JSON at /api/counters. Bound to loopback by default; never served inside the
 * tunnel. The approvals API (token-authenticated) is mounted here too; the dashboard will be.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Counters } from '../netstack/counters.js';
import { WRITE_BUCKETS_MS, type AuditLogStats } from '../policy/audit/index.js';

export interface StatusSource {
  counters: Counters;
  status(): Record<string, unknown>;
  /** The audit log's commit statistics, exported as bailiff_audit_* metrics. */
  audit?(): AuditLogStats;
}

export type RouteHandler = (req: http.IncomingMessage, res: http.ServerResponse) => boolean;

export async function startMetricsServer(
  listen: string,
  source: StatusSource,
  handlers: RouteHandler[] = [],
): Promise<{ url: string; close(): Promise<void> }> {
  const colon = listen.lastIndexOf(':');
  const host = listen.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = Number(listen.slice(colon + 1));
  const server = http.createServer((req, res) => {
    for (const handle of handlers) if (handle(req, res)) return;
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' }).end('method not allowed\n');
      return;
    }
    if (path === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(prometheus(source.counters, source.audit?.()));
    } else if (path === '/api/counters') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(source.counters.snapshot()));
    } else if (path === '/api/status') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(source.status()));
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}`,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

function prometheus(counters: Counters, audit?: AuditLogStats): string {
  const lines = ['# HELP bailiff_events_total Packets and events by stable reason name (drops included).', '# TYPE bailiff_events_total counter'];
  for (const [name, value] of Object.entries(counters.snapshot())) {
    lines.push(`bailiff_events_total{name="${name.replace(/["\\\n]/g, '_')}"} ${value}`);
  }
  if (audit) lines.push(...auditMetrics(audit));
  return `${lines.join('\n')}\n`;
}

/**
 * The audit log's side of request latency: every decided request waits for its record's durable
 * write before it goes upstream, so a slow disk shows here first (the write-time histogram), and
 * a backlog as pending records.
 */
function auditMetrics(audit: AuditLogStats): string[] {
  const metric = (name: string, type: string, help: string, value: number): string[] =>
    [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${value}`];
  const lines = [
    ...metric('bailiff_audit_records_total', 'counter', 'Audit records made durable.', audit.records),
    ...metric('bailiff_audit_commits_total', 'counter', 'Durable audit writes (each a group of records and one flush).', audit.commits),
    ...metric('bailiff_audit_failed_commits_total', 'counter', 'Audit writes that failed; the requests they held were refused.', audit.failedCommits),
    ...metric('bailiff_audit_pending', 'gauge', 'Audit records waiting for their durable write.', audit.pending),
    '# HELP bailiff_audit_write_seconds Time of each durable audit write; each decided request waits for one before going upstream.',
    '# TYPE bailiff_audit_write_seconds histogram',
  ];
  let cumulative = 0;
  WRITE_BUCKETS_MS.forEach((bound, i) => {
    cumulative += audit.writeBuckets[i] ?? 0;
    lines.push(`bailiff_audit_write_seconds_bucket{le="${bound / 1000}"} ${cumulative}`);
  });
  cumulative += audit.writeBuckets[WRITE_BUCKETS_MS.length] ?? 0;
  lines.push(`bailiff_audit_write_seconds_bucket{le="+Inf"} ${cumulative}`);
  lines.push(`bailiff_audit_write_seconds_sum ${audit.writeMs / 1000}`);
  lines.push(`bailiff_audit_write_seconds_count ${cumulative}`);
  return lines;
}
