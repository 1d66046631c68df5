/**
 * The shape of an audit record: what callers give to append() and what the log stores.
 * A stored entry is the input (redacted, JSON-normalised) plus the fields the log owns:
 * format version, sequence number, time and the two chain hashes.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export const AUDIT_KINDS = ['decision', 'connection', 'approval', 'system'] as const;
export type AuditKind = (typeof AUDIT_KINDS)[number];

export const AUDIT_VERDICTS = ['allow', 'deny'] as const;
export type AuditVerdict = (typeof AUDIT_VERDICTS)[number];

/** One stage of an approve chain, as it was decided. */
export interface AuditApprover {
  /** Typed reference as written in the policy, e.g. `human_approver.ops`. */
  name: string;
  /** allow | deny, or how the stage ended without a decision. */
  verdict?: 'allow' | 'deny' | 'timeout' | 'cancelled' | 'error';
  /** Who decided: Slack user id, dashboard user, model name. */
  decidedBy?: string;
  reason?: string;
  latencyMs?: number;
}

/** What happened upstream as far as it is known when the decision is logged. */
export interface AuditUpstream {
  /** e.g. `forwarded`, `not_forwarded`, `dial_failed`, `shadow_forwarded`. */
  outcome: string;
  address?: string;
  error?: string;
}

/** Results known only after forwarding; logged by complete() as a record of its own. */
export interface AuditOutcome {
  /** Postgres CommandComplete tag, HTTP status line, SSH exit status... */
  commandTag?: string;
  status?: number;
  rows?: number;
  bytesIn?: number;
  bytesOut?: number;
  durationMs?: number;
  closeReason?: string;
  error?: string;
}

export interface AuditRecordInput {
  kind: AuditKind;
  /** Correlates the records of one agent connection. */
  connectionId?: string;
  peer?: string;
  peerAddress?: string;
  profile?: string;
  /** `<type>.<name>`, e.g. `postgres.prod-db`. */
  endpoint?: string;
  credential?: string;
  /** The facts the rules saw (the CEL variables), as JSON. */
  facts?: JsonObject;
  rule?: string;
  verdict?: AuditVerdict;
  reason?: string;
  /** Stable reason code, e.g. `POL_NO_MATCH`, `POL_EVAL_ERROR`. */
  reasonCode?: string;
  mode?: 'enforce' | 'shadow';
  approvers?: AuditApprover[];
  /** Phase durations in milliseconds (parse, eval, approval, ...). */
  timings?: Record<string, number>;
  upstream?: AuditUpstream;
  /** Free text for `system` records (start, stop, config reload). */
  message?: string;
  detail?: JsonObject;
}

/** Current record format; part of every hashed record so a format change cannot be replayed. */
export const AUDIT_FORMAT_VERSION = 1;

/** A record as stored and returned by query()/follow(). */
export interface AuditEntry extends AuditRecordInput {
  v: typeof AUDIT_FORMAT_VERSION;
  seq: number;
  /** ISO 8601 UTC time of the append() call. */
  time: string;
  /** For complete() records: the sequence number of the record this one completes. */
  completes?: number;
  outcome?: AuditOutcome;
  prevHash: string;
  hash: string;
}

/** What the committer needs before the log assigns seq and hashes under the write lock. */
export type AuditDraft = Omit<AuditEntry, 'seq' | 'prevHash' | 'hash'>;

/** Fields the log owns; callers may not set them through append(). */
export const LOG_OWNED_FIELDS = ['v', 'seq', 'time', 'completes', 'outcome', 'prevHash', 'hash'] as const;

/** Every field a caller may give, checked at run time so a typo or a smuggled `hash` is refused. */
export const INPUT_FIELDS: ReadonlySet<string> = new Set<keyof AuditRecordInput>([
  'kind', 'connectionId', 'peer', 'peerAddress', 'profile', 'endpoint', 'credential', 'facts', 'rule',
  'verdict', 'reason', 'reasonCode', 'mode', 'approvers', 'timings', 'upstream', 'message', 'detail',
]);

export const OUTCOME_FIELDS: ReadonlySet<string> = new Set<keyof AuditOutcome>([
  'commandTag', 'status', 'rows', 'bytesIn', 'bytesOut', 'durationMs', 'closeReason', 'error',
]);
