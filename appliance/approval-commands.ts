/**
 * `bailiff pending [--json]`, `bailiff approve ID [--reason R]`, `bailiff deny ID [--reason R]`:
 * decide a running appliance's pending approvals through its local approvals API
 * (approvals-api.ts), with the token from <state_dir>/api-token. An ID may be shortened to a
 * unique prefix of a pending approval's id.
 *
 * Exit codes: 0 done, 1 refused or failed (already decided, unknown id, appliance unreachable),
 * 2 usage error.
 */
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { API_TOKEN_FILE, APPROVALS_PATH, readToken } from './approvals-api.js';

export interface ApprovalCommandIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** The gateway's state_dir (holds api-token). */
  stateDir: string;
  /** http://host:port of dashboard_listen. */
  apiUrl: string;
  fetch?: typeof fetch;
  /** Recorded as the decider (`cli:<user>`); default: the OS user name. */
  user?: string;
  now?: () => number;
}

const REQUEST_TIMEOUT_MS = 10_000;

export const APPROVAL_USAGE = `usage: bailiff pending [--json]
       bailiff approve ID [--reason TEXT]
       bailiff deny ID [--reason TEXT]
`;

interface PendingJson {
  id: string;
  approver: string;
  peer: { name: string; address: string };
  endpoint: string;
  rule: string;
  summary: string;
  requireApprovers: number;
  approvals: Array<{ by: string }>;
  createdAt: string;
  expiresAt: string;
  earlier?: Array<{ name: string; verdict: string; reason: string }>;
}

class CommandError extends Error {}

export async function pendingCommand(argv: string[], io: ApprovalCommandIo): Promise<number> {
  let json: boolean;
  try {
    const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean' } }, allowPositionals: false });
    json = values.json === true;
  } catch (error) {
    return usage(io, 'pending', (error as Error).message);
  }
  return run(io, 'pending', async (api) => {
    const list = await api.list();
    if (json) {
      io.stdout(`${JSON.stringify(list, null, 2)}\n`);
      return 0;
    }
    if (list.length === 0) {
      io.stdout('No pending approvals.\n');
      return 0;
    }
    const now = io.now?.() ?? Date.now();
    for (const p of list) {
      const age = since(now - Date.parse(p.createdAt));
      const left = since(Date.parse(p.expiresAt) - now);
      io.stdout(`${p.id}  ${p.approver}  ${p.peer.name} -> ${p.endpoint}  rule ${p.rule}  waiting ${age}, expires in ${left}  approvals ${p.approvals.length}/${p.requireApprovers}\n`);
      io.stdout(`    ${oneLine(p.summary, 160)}\n`);
      for (const o of p.earlier ?? []) io.stdout(`    ${o.name}: ${o.verdict} (${oneLine(o.reason, 120)})\n`);
    }
    io.stdout(`${list.length} pending. Decide with: bailiff approve ID | bailiff deny ID [--reason TEXT]\n`);
    return 0;
  });
}

export function approveCommand(argv: string[], io: ApprovalCommandIo): Promise<number> {
  return decideCommand('approve', argv, io);
}

export function denyCommand(argv: string[], io: ApprovalCommandIo): Promise<number> {
  return decideCommand('deny', argv, io);
}

async function decideCommand(verb: 'approve' | 'deny', argv: string[], io: ApprovalCommandIo): Promise<number> {
  let id: string;
  let reason: string | undefined;
  try {
    const { values, positionals } = parseArgs({ args: argv, options: { reason: { type: 'string', short: 'r' } }, allowPositionals: true });
    if (positionals.length !== 1) return usage(io, verb, 'give exactly one approval ID');
    id = positionals[0]!.trim().toLowerCase();
    reason = values.reason;
  } catch (error) {
    return usage(io, verb, (error as Error).message);
  }
  // A prefix of at least 8 characters (40 bits): if the request the operator looked at is gone,
  // an agent flooding new ones has no practical chance that one of them matches the prefix.
  if (!/^[a-z2-7]{8,26}$/.test(id)) {
    io.stderr(`bailiff ${verb}: ${JSON.stringify(id)} is not an approval id (26 letters and digits 2-7, or a unique prefix of at least 8)\n`);
    return 1;
  }
  return run(io, verb, async (api) => {
    const full = id.length === 26 ? id : await api.resolvePrefix(id);
    const by = `cli:${(io.user ?? safeUser()).replace(/[^A-Za-z0-9._@-]/g, '_').slice(0, 59) || 'unknown'}`;
    const response = await api.post(`${encodeURIComponent(full)}/${verb}`, { ...(reason !== undefined ? { reason } : {}), by });
    const body = response.body as { state?: string; decidedBy?: string; error?: string };
    if (response.status === 200) {
      io.stdout(`${verb === 'approve' ? 'Approved' : 'Denied'} ${full}${body.decidedBy ? ` (as ${body.decidedBy})` : ''}.\n`);
      return 0;
    }
    if (response.status === 409) {
      io.stderr(`bailiff ${verb}: ${full} was already decided (${body.state ?? 'decided'}${body.decidedBy ? ` by ${body.decidedBy}` : ''})\n`);
      return 1;
    }
    if (response.status === 404) throw new CommandError(`unknown approval id ${full} (not pending, or decided long ago)`);
    throw apiError(response);
  });
}

interface ApiResponse {
  status: number;
  body: unknown;
}

class ApprovalsClient {
  constructor(readonly base: string, readonly token: string, readonly fetchImpl: typeof fetch) {}

  async list(): Promise<PendingJson[]> {
    const response = await this.request('GET', '');
    if (response.status !== 200) throw apiError(response);
    const pending = (response.body as { pending?: unknown }).pending;
    if (!Array.isArray(pending)) throw new CommandError('the appliance answered without a pending list');
    return pending as PendingJson[];
  }

  async resolvePrefix(prefix: string): Promise<string> {
    const matches = (await this.list()).filter((p) => p.id.startsWith(prefix));
    if (matches.length === 1) return matches[0]!.id;
    if (matches.length === 0) throw new CommandError(`no pending approval id starts with ${prefix}`);
    throw new CommandError(`${prefix} is ambiguous: ${matches.map((m) => m.id).join(', ')}`);
  }

  post(path: string, body: unknown): Promise<ApiResponse> {
    return this.request('POST', path, body);
  }

  async request(method: string, path: string, body?: unknown): Promise<ApiResponse> {
    const url = `${this.base}${APPROVALS_PATH}${path ? `/${path}` : ''}`;
    let response: Response;
    try {
      response = await this.fetchImpl(url, {
        method,
        headers: { authorization: `Bearer ${this.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
      throw new CommandError(`cannot reach the appliance at ${this.base} (${cause}); is it running?`);
    }
    const text = await response.text();
    let parsed: unknown = {};
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      parsed = { error: text.slice(0, 200) };
    }
    if (response.status === 401) {
      throw new CommandError('the appliance refused the API token: is the state dir the running appliance\'s?');
    }
    return { status: response.status, body: parsed };
  }
}

async function run(io: ApprovalCommandIo, command: string, body: (api: ApprovalsClient) => Promise<number>): Promise<number> {
  const tokenPath = join(io.stateDir, API_TOKEN_FILE);
  let token: string | undefined;
  try {
    token = readToken(tokenPath);
  } catch (error) {
    io.stderr(`bailiff ${command}: cannot read ${tokenPath}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}\n`);
    return 1;
  }
  if (!token) {
    io.stderr(`bailiff ${command}: no API token at ${tokenPath}; the appliance creates it when it starts\n`);
    return 1;
  }
  try {
    return await body(new ApprovalsClient(apiBase(io.apiUrl), token, io.fetch ?? fetch));
  } catch (error) {
    if (error instanceof CommandError) {
      io.stderr(`bailiff ${command}: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

/** dashboard_listen may be a wildcard bind address: dial loopback instead. */
export function apiBase(url: string): string {
  const withScheme = /^https?:\/\//.test(url) ? url : `http://${url}`;
  const parsed = new URL(withScheme);
  if (parsed.hostname === '0.0.0.0') parsed.hostname = '127.0.0.1';
  if (parsed.hostname === '[::]') parsed.hostname = '[::1]';
  return parsed.origin;
}

function apiError(response: ApiResponse): CommandError {
  const message = (response.body as { error?: unknown })?.error;
  return new CommandError(`the appliance answered HTTP ${response.status}${typeof message === 'string' ? `: ${message}` : ''}`);
}

function usage(io: ApprovalCommandIo, command: string, message: string): number {
  io.stderr(`bailiff ${command}: ${message}\n${APPROVAL_USAGE}`);
  return 2;
}

function since(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ''}`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}

/** A statement on one terminal line: control characters (escape sequences!) shown, not run. */
function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`).trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}
