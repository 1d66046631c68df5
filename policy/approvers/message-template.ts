/**
 * The `message` of a human_approver: a template with `{{name}}` variables (Claw Patrol's syntax,
 * REFERENCE §4.2): peer, profile, endpoint, rule, reason, request, credential, and any fact by
 * path (`{{sql.verb}}`, `{{http.path}}`). Values are escaped for mrkdwn; the template itself is
 * operator text and keeps its formatting. Unknown variables stay as written.
 */
import type { JsonValue } from '../audit/record.js';
import type { ApprovalRequest } from './types.js';
import { escapeTruncated } from './slack-text.js';

const MAX_VALUE_CHARS = 500;

export function renderMessage(template: string, request: ApprovalRequest): string {
  const named: Record<string, string> = {
    peer: request.peer.name,
    'peer.name': request.peer.name,
    'peer.address': request.peer.address,
    profile: request.profile,
    endpoint: request.endpoint,
    rule: request.rule,
    reason: request.reason,
    request: request.summary,
    credential: request.credential ?? '',
  };
  return template.replace(/\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g, (whole, name: string) => {
    const value = name in named ? named[name] : factText(request.facts, name);
    return value === undefined ? whole : escapeTruncated(value, MAX_VALUE_CHARS).text;
  });
}

function factText(facts: JsonValue, path: string): string | undefined {
  let value: JsonValue | undefined = facts;
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
    value = value[part];
  }
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value.join(', ');
  return JSON.stringify(value);
}
