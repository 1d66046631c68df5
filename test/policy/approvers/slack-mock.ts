/**
 * An offline Slack: a local mock of the Web API (`slackApiUrl`) and of response_url, plus
 * signed interactive `block_actions` POSTs to a Bolt app in HTTP mode (DEPENDENCY-NOTES §9).
 */
import { createHmac } from 'node:crypto';
import { mockServer, sendJson, type MockServer, type Recorded } from './helpers.js';

export interface SlackCall {
  method: string;
  args: Record<string, unknown>;
  authorization: string | undefined;
}

export interface SlackMock {
  server: MockServer;
  apiUrl: string;
  calls: SlackCall[];
  /** Ephemeral replies posted to response_url. */
  responses: Array<Record<string, unknown>>;
  responseUrl: string;
  posted(): SlackCall[];
  updates(): SlackCall[];
  close(): Promise<void>;
}

export async function slackMock(): Promise<SlackMock> {
  const calls: SlackCall[] = [];
  const responses: Array<Record<string, unknown>> = [];
  let ts = 1_700_000_000;
  const server = await mockServer((req: Recorded, res) => {
    if (req.path.startsWith('/respond')) {
      responses.push(req.json as Record<string, unknown>);
      sendJson(res, 200, { ok: true });
      return;
    }
    const method = req.path.replace(/^\/api\//, '').split('?')[0]!;
    const args: Record<string, unknown> = {};
    if (String(req.headers['content-type']).includes('json')) Object.assign(args, req.json);
    else {
      for (const [k, v] of new URLSearchParams(req.text)) {
        try {
          args[k] = k === 'blocks' || k === 'attachments' ? JSON.parse(v) : v;
        } catch {
          args[k] = v;
        }
      }
    }
    calls.push({ method, args, authorization: req.headers.authorization });
    switch (method) {
      case 'auth.test':
        return sendJson(res, 200, { ok: true, user_id: 'UBOT', bot_id: 'BBOT', team_id: 'T1' });
      case 'chat.postMessage':
        ts++;
        return sendJson(res, 200, { ok: true, channel: 'C0AGENTOPS', ts: `${ts}.000100`, message: {} });
      case 'chat.update':
        return sendJson(res, 200, { ok: true, channel: args.channel, ts: args.ts });
      default:
        return sendJson(res, 200, { ok: false, error: 'unknown_method' });
    }
  });
  return {
    server,
    apiUrl: `${server.url}/api/`,
    calls,
    responses,
    responseUrl: `${server.url}/respond/1`,
    posted: () => calls.filter((c) => c.method === 'chat.postMessage'),
    updates: () => calls.filter((c) => c.method === 'chat.update'),
    close: () => server.close(),
  };
}

export function blockActionPayload(options: { actionId: string; approvalId: string; user: string; responseUrl: string }): Record<string, unknown> {
  return {
    type: 'block_actions',
    team: { id: 'T1', domain: 'acme' },
    user: { id: options.user, username: options.user.toLowerCase(), team_id: 'T1' },
    api_app_id: 'A1',
    token: 'legacy-verification-token',
    container: { type: 'message', message_ts: '1700000001.000100', channel_id: 'C0AGENTOPS', is_ephemeral: false },
    trigger_id: '1.2.3',
    channel: { id: 'C0AGENTOPS', name: 'agent-ops' },
    message: { type: 'message', ts: '1700000001.000100', text: 'Approval needed' },
    response_url: options.responseUrl,
    actions: [{
      type: 'button', action_id: options.actionId, block_id: 'bailiff_approval_actions', value: options.approvalId,
      text: { type: 'plain_text', text: 'Approve' }, action_ts: '1700000002.000000',
    }],
  };
}

/** POSTs an interactive payload the way Slack does, signed with `secret` (v0 HMAC-SHA256). */
export async function postSigned(url: string, secret: string, payload: unknown, options: { timestamp?: number; badSignature?: boolean } = {}): Promise<number> {
  const body = `payload=${encodeURIComponent(JSON.stringify(payload))}`;
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  let signature = `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
  if (options.badSignature) signature = `v0=${'0'.repeat(64)}`;
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': String(timestamp),
      'x-slack-signature': signature,
    },
    body,
  });
  await response.arrayBuffer();
  return response.status;
}
