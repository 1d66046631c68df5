/**
 * Stage outcomes as audit records' `approvers`. The audit's AuditApprover has name, verdict,
 * decidedBy, reason and latency; the code, model and cache hit go along as extra fields
 * (the log stores them as given), so a denial by LLM_TIMEOUT is filterable.
 */
import type { AuditApprover } from '../audit/record.js';
import type { ApproverOutcome } from './types.js';

export function toAuditApprovers(outcomes: readonly ApproverOutcome[]): AuditApprover[] {
  return outcomes.map((o) => ({
    name: o.name,
    verdict: o.verdict,
    ...(o.decidedBy ? { decidedBy: o.decidedBy } : {}),
    reason: o.reason,
    latencyMs: Math.round(o.latencyMs),
    code: o.code,
    ...(o.model ? { model: o.model } : {}),
    ...(o.cacheHit !== undefined ? { cacheHit: o.cacheHit } : {}),
  } as AuditApprover));
}
