/** Shared fixtures for approver tests: local recording HTTP servers, a request, a manual clock. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ApprovalRequest } from '../../../policy/approvers/index.js';

export interface Recorded {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  text: string;
  json: unknown;
}

export interface MockServer {
  url: string;
  port: number;
  requests: Recorded[];
  close(): Promise<void>;
}

export type MockHandler = (request: Recorded, res: ServerResponse) => void | Promise<void>;

/** An HTTP server on 127.0.0.1 that records every request and lets the test answer it. */
export async function mockServer(handler: MockHandler): Promise<MockServer> {
  const requests: Recorded[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      const recorded: Recorded = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, text, json };
      requests.push(recorded);
      Promise.resolve(handler(recorded, res)).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500);
        res.end(String(error));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function sampleRequest(overrides: Partial<ApprovalRequest> = {}): ApprovalRequest {
  const statement = overrides.summary ?? 'SELECT name, secret FROM env_vars WHERE app = \'billing\'';
  return {
    id: 'req-1',
    peer: { name: 'oncall-agent', address: '100.64.0.2' },
    profile: 'platform',
    endpoint: 'postgres.prod-db',
    rule: 'pg-secrets',
    reason: 'Reading secrets needs a second look',
    family: 'sql',
    facts: {
      sql: { verb: 'select', tables: ['env_vars'], columns: ['env_vars.name', 'env_vars.secret'], statement },
      now: '2026-01-02T03:04:05.000Z',
    },
    summary: statement,
    credential: 'postgres_credential.pg-ro',
    ...overrides,
  };
}

export class ManualClock {
  constructor(public t = 1_000_000) {}
  now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

export async function waitFor<T>(check: () => T | undefined | false, what: string, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
