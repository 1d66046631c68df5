/**
 * Local operator HTTP endpoint (gateway.dashboard_listen): counters as Prometheus text at
 * /metrics and as JSON at /api/counters. Bound to loopback by default; never served inside the
 * tunnel. The approvals API (token-authenticated) is mounted here too; the dashboard will be.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Counters } from '../netstack/counters.js';

export interface StatusSource {
  counters: Counters;
  status(): Record<string, unknown>;
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
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(prometheus(source.counters));
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

function prometheus(counters: Counters): string {
  const lines = ['# HELP bailiff_events_total Packets and events by stable reason name (drops included).', '# TYPE bailiff_events_total counter'];
  for (const [name, value] of Object.entries(counters.snapshot())) {
    lines.push(`bailiff_events_total{name="${name.replace(/["\\\n]/g, '_')}"} ${value}`);
  }
  return `${lines.join('\n')}\n`;
}
