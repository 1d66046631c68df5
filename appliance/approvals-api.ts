/**
 * The local approvals API, mounted on the operator HTTP server (dashboard_listen) at
 * /api/approvals. The CLI (approval-commands.ts) and the dashboard decide pending approvals
 * through it; Slack decides through the same store, so the first decision wins everywhere.
 *
 *   GET  /api/approvals               pending approvals, oldest first
 *   GET  /api/approvals/:id           one approval, pending or recently decided
 *   POST /api/approvals/:id/approve   body (optional) {"reason": "...", "by": "cli:alice"}
 *   POST /api/approvals/:id/deny      same body
 *
 * Every request needs `Authorization: Bearer <token>`, the token kept in <state_dir>/api-token
 * (0600). A bearer header, unlike a cookie, is never attached by a browser on its own, so a
 * page the operator visits cannot make decisions through a CSRF.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { DecideResult, PendingApprovals, PendingView } from '../policy/approvers/index.js';
import { decidedByText } from '../policy/approvers/index.js';

export const API_TOKEN_FILE = 'api-token';
export const APPROVALS_PATH = '/api/approvals';
const MAX_BODY_BYTES = 16 * 1024;
const MAX_REASON_CHARS = 1000;

export interface ApprovalsHandlerOptions {
  token: string;
  /** Where the handler is mounted; default /api/approvals. */
  basePath?: string;
}

/** Returns true when the request was under basePath (and is answered, possibly asynchronously). */
export function createApprovalsHandler(store: PendingApprovals, options: ApprovalsHandlerOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const base = (options.basePath ?? APPROVALS_PATH).replace(/\/+$/, '');
  const expected = digest(options.token);
  return (req, res) => {
    const path = new URL(req.url ?? '/', 'http://local').pathname;
    if (path !== base && !path.startsWith(`${base}/`)) return false;
    if (!authorized(req, expected)) {
      send(res, 401, { error: 'missing or wrong API token', code: 'API_UNAUTHORIZED' }, { 'www-authenticate': 'Bearer realm="bailiff"' });
      req.resume();
      return true;
    }
    let parts: string[];
    try {
      parts = path.slice(base.length).split('/').filter(Boolean).map(decodeURIComponent);
    } catch {
      req.resume();
      send(res, 400, { error: 'malformed path', code: 'API_BAD_REQUEST' });
      return true;
    }
    route(store, req, res, parts).catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, { error: 'internal error', code: 'API_ERROR', detail: String((error as Error)?.message ?? error) });
      else res.destroy();
    });
    return true;
  };
}

async function route(store: PendingApprovals, req: IncomingMessage, res: ServerResponse, parts: string[]): Promise<void> {
  const method = req.method ?? 'GET';
  if (parts.length === 0) {
    if (method !== 'GET') return methodNotAllowed(req, res, 'GET');
    req.resume();
    return send(res, 200, { pending: store.list().map(approvalJson) });
  }
  const id = (parts[0] ?? '').toLowerCase();
  if (parts.length === 1) {
    if (method !== 'GET') return methodNotAllowed(req, res, 'GET');
    req.resume();
    const view = store.get(id);
    return view ? send(res, 200, approvalJson(view)) : unknown(res, id);
  }
  const action = parts[1];
  if (parts.length !== 2 || (action !== 'approve' && action !== 'deny')) {
    req.resume();
    return send(res, 404, { error: 'no such route', code: 'API_NOT_FOUND' });
  }
  if (method !== 'POST') return methodNotAllowed(req, res, 'POST');
  const body = await readJsonBody(req);
  if (!body.ok) return send(res, body.status, { error: body.error, code: 'API_BAD_REQUEST' });
  const reason = typeof body.value.reason === 'string' ? cleanReason(body.value.reason) : undefined;
  const by = typeof body.value.by === 'string' && /^[A-Za-z0-9._@:-]{1,64}$/.test(body.value.by) ? body.value.by : 'api';
  const result = store.decide(id, { by, verdict: action, ...(reason ? { reason } : {}) });
  return answerDecision(res, id, result);
}

function answerDecision(res: ServerResponse, id: string, result: DecideResult): void {
  switch (result.kind) {
    case 'decided':
      return send(res, 200, { id, state: result.view.state, decidedBy: decidedByText(result.view) });
    case 'already_decided':
      return send(res, 409, {
        error: 'already decided', code: 'APPROVAL_ALREADY_DECIDED', id,
        state: result.view.state, decidedBy: decidedByText(result.view),
      });
    default:
      return unknown(res, id);
  }
}

/** The JSON form of an approval (times as ISO strings). */
export function approvalJson(view: PendingView): Record<string, unknown> {
  const r = view.request;
  return {
    id: view.id,
    requestId: view.requestId,
    approver: view.approver,
    state: view.state,
    peer: r.peer,
    profile: r.profile,
    endpoint: r.endpoint,
    rule: r.rule,
    reason: r.reason,
    family: r.family,
    credential: r.credential ?? null,
    summary: r.summary,
    facts: r.facts,
    earlier: view.earlier.map((o) => ({ name: o.name, verdict: o.verdict, code: o.code, reason: o.reason, decidedBy: o.decidedBy ?? null })),
    requireApprovers: view.requireApprovers,
    approvers: view.allowedVoters,
    approvals: view.approvals.map((v) => ({ by: v.by, at: new Date(v.at).toISOString() })),
    createdAt: new Date(view.createdAt).toISOString(),
    expiresAt: new Date(view.expiresAt).toISOString(),
    ...(view.state !== 'pending' ? {
      decidedBy: decidedByText(view),
      decidedAt: view.decidedAt !== undefined ? new Date(view.decidedAt).toISOString() : null,
      decisionReason: view.reason ?? null,
    } : {}),
  };
}

function unknown(res: ServerResponse, id: string): void {
  send(res, 404, { error: 'unknown approval id', code: 'APPROVAL_UNKNOWN', id });
}

function methodNotAllowed(req: IncomingMessage, res: ServerResponse, allow: string): void {
  req.resume();
  send(res, 405, { error: 'method not allowed', code: 'API_METHOD' }, { allow });
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/** Compare digests, not the strings: equal length always, so timing says nothing about the token. */
function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function authorized(req: IncomingMessage, expected: Buffer): boolean {
  const header = req.headers.authorization ?? '';
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) return false;
  return timingSafeEqual(digest(match[1]!), expected);
}

type BodyResult = { ok: true; value: Record<string, unknown> } | { ok: false; status: number; error: string };

async function readJsonBody(req: IncomingMessage): Promise<BodyResult> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return { ok: false, status: 413, error: `the body is larger than ${MAX_BODY_BYTES} bytes` };
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return { ok: true, value: {} };
  try {
    const value: unknown = JSON.parse(text);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return { ok: false, status: 400, error: 'the body must be a JSON object' };
    return { ok: true, value: value as Record<string, unknown> };
  } catch {
    return { ok: false, status: 400, error: 'the body is not valid JSON' };
  }
}

function cleanReason(text: string): string | undefined {
  const clean = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim().slice(0, MAX_REASON_CHARS);
  return clean || undefined;
}

/**
 * The API token: 32 random bytes as hex in <state_dir>/api-token, created 0600 if missing.
 * Created through a temporary file and link(), so two processes starting together agree on one
 * token and nobody ever reads a half-written file.
 */
export function loadOrCreateApiToken(stateDir: string): string {
  const path = join(stateDir, API_TOKEN_FILE);
  const existing = readToken(path);
  if (existing) return existing;
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const temp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  writeFileSync(temp, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(temp, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    unlinkSync(temp);
  }
  const token = readToken(path);
  if (!token) throw new Error(`${path} is empty`);
  return token;
}

/** The token of an existing file (the CLI must not create one the appliance does not know). */
export function readToken(path: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  // A token file others can read is a token others have: tighten it, as the state dir does.
  if (statSync(path).mode & 0o077) chmodSync(path, 0o600);
  const token = text.trim();
  return token || undefined;
}
