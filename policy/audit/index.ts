/** policy/audit: the durable, hash-chained, redacted audit log (see audit-log.ts). */
export { AuditLog, MAX_RECORD_BYTES } from './audit-log.js';
export type { AuditLogOptions, AuditLogStats, AuditRetention, FollowOptions } from './audit-log.js';
export { AuditError, isAuditError } from './errors.js';
export type { AuditErrorCode } from './errors.js';
export { canonicalJson } from './canonical-json.js';
export { GENESIS_HASH, hashRecord } from './hash-chain.js';
export { REDACTED, Redactor, redact } from './redact.js';
export { auditDir } from './store.js';
export { WRITE_BUCKETS_MS } from './group-commit.js';
export type { ChainPoint } from './store.js';
export type { AuditQuery } from './query.js';
export type { VerifyOptions, VerifyProblem, VerifyProblemCode, VerifyResult } from './verify.js';
export { AUDIT_FORMAT_VERSION, AUDIT_KINDS, AUDIT_VERDICTS } from './record.js';
export type {
  AuditApprover, AuditEntry, AuditKind, AuditOutcome, AuditRecordInput, AuditUpstream, AuditVerdict,
  JsonObject, JsonValue,
} from './record.js';
