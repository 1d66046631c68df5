/**
 * The shapes shared by every approver and the chain that runs them (POLICY.md "approver",
 * `approve = [llm_approver.x, human_approver.y]`).
 */
import type { AuditApprover, JsonObject } from '../audit/record.js';
import type { Family } from '../config/model.js';

/** One request held for approval: what the judge reads and the human sees. */
export interface ApprovalRequest {
  /** Correlates the chain's stages and the audit record; newApprovalId(). Not shown to models. */
  id: string;
  peer: { name: string; address: string };
  profile: string;
  /** `<type>.<name>` of the endpoint. */
  endpoint: string;
  /** The rule whose `approve` list holds the request. */
  rule: string;
  /** The rule's `reason` (operator text). */
  reason: string;
  family: Family;
  /** The facts the rules saw, as JSON (dates as ISO strings). */
  facts: JsonObject;
  /** The request itself: SQL statement, ssh command, HTTP request line and body. */
  summary: string;
  /** `<type>.<name>` of the credential the request was dispatched to. */
  credential?: string;
}

export type StageVerdict = 'allow' | 'deny' | 'timeout' | 'cancelled' | 'error';

/** How one stage ended; a superset of the audit log's AuditApprover. */
export interface ApproverOutcome extends AuditApprover {
  name: string;
  verdict: StageVerdict;
  /** Stable reason code (codes.ts). */
  code: string;
  reason: string;
  latencyMs: number;
  /** The model that answered (llm_approver). */
  model?: string;
  /** The verdict came from the cache, not from a call. */
  cacheHit?: boolean;
}

/** What an approver returns; the chain adds name and latency. */
export type StageDecision = Omit<ApproverOutcome, 'name' | 'latencyMs'>;

export interface StageContext {
  /** Aborted when the agent disconnects or the request is cancelled. */
  signal: AbortSignal;
  /** Outcomes of the stages before this one (a human sees the judge's opinion). */
  earlier: readonly ApproverOutcome[];
}

export interface Approver {
  /** Typed reference, e.g. `llm_approver.pii-judge`. */
  readonly name: string;
  readonly kind: 'llm_approver' | 'human_approver';
  /**
   * Never rejects for expected failures (timeouts, HTTP errors, bad answers): those are
   * decisions with a code. A rejection is treated as a bug and denies with APPROVER_ERROR.
   */
  decide(request: ApprovalRequest, context: StageContext): Promise<StageDecision>;
}

export interface ChainResult {
  /** `cancelled`: the agent went away; nothing may be sent upstream, nothing is answered. */
  verdict: 'allow' | 'deny' | 'cancelled';
  code: string;
  /** Safe to show to the agent. */
  reason: string;
  /** Every stage that ran, in order; stages after a non-allow never run and are absent. */
  stages: ApproverOutcome[];
  latencyMs: number;
}

/** Minimal structured logger (appliance/logger.ts has this shape). */
export interface ApproverLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export const silentLogger: ApproverLogger = { info() {}, warn() {}, error() {} };
