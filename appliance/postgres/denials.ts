/**
 * What the agent is told when the appliance refuses something: Postgres ErrorResponses with the
 * SQLSTATEs a client already knows how to handle (PostgreSQL docs, Appendix A "Error Codes").
 * The text names the rule and its reason (operator-written, safe to show), never a fact the rule
 * read, a credential, or anything the upstream said during authentication.
 */
import { encodeErrorResponse } from '../../protocols/postgres/codec/index.js';
import type { PolicyDecision } from '../../policy/engine.js';

export const SQLSTATE = Object.freeze({
  INSUFFICIENT_PRIVILEGE: '42501',
  INVALID_AUTHORIZATION: '28000',
  PROTOCOL_VIOLATION: '08P01',
  CONNECTION_FAILURE: '08006',
  QUERY_CANCELED: '57014',
  PROGRAM_LIMIT_EXCEEDED: '54000',
  INVALID_SQL_STATEMENT_NAME: '26000',
  DUPLICATE_PREPARED_STATEMENT: '42P05',
  INVALID_CURSOR_NAME: '34000',
  ADMIN_SHUTDOWN: '57P01',
});

/** `denied by rule "<name>": <reason>`, or `denied by policy: <reason>` when no rule matched. */
export function denialText(rule: string | null, reason: string): string {
  return rule ? `denied by rule "${rule}": ${reason}` : `denied by policy: ${reason}`;
}

export function decisionDenialText(decision: Pick<PolicyDecision, 'rule' | 'reason'>): string {
  return denialText(decision.rule, decision.reason);
}

export function pgError(code: string, message: string, options: { severity?: 'ERROR' | 'FATAL'; detail?: string; hint?: string } = {}): Uint8Array {
  const severity = options.severity ?? 'ERROR';
  return encodeErrorResponse({
    severity,
    severityNonLocalized: severity,
    code,
    message,
    ...(options.detail ? { detail: options.detail } : {}),
    ...(options.hint ? { hint: options.hint } : {}),
  });
}

export const pgFatal = (code: string, message: string): Uint8Array => pgError(code, message, { severity: 'FATAL' });

/** The one message for every upstream authentication problem: details go to the log and audit only. */
export const UPSTREAM_AUTH_FAILED = 'upstream authentication failed';
