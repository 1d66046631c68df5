/**
 * Typed errors of the audit log. Every failure carries a stable string code so the appliance can
 * turn it into a fail-closed deny with a reason code, and operators can filter logs by it.
 */
export type AuditErrorCode =
  /** A record given to append()/complete() is not a plain JSON-able value of the documented shape. */
  | 'AUDIT_BAD_RECORD'
  /** A record serialises to more than MAX_RECORD_BYTES. */
  | 'AUDIT_RECORD_TOO_LARGE'
  /** The write (or its fdatasync) failed: the records of that batch may not be in the log. */
  | 'AUDIT_WRITE_FAILED'
  /** A key that should be free already holds a record: the log was written behind our back. */
  | 'AUDIT_CONFLICT'
  /** complete() names a sequence number that is not in the log. */
  | 'AUDIT_UNKNOWN_SEQ'
  /** The log was closed; no further appends are accepted. */
  | 'AUDIT_CLOSED'
  /** A read-only open found no audit log in the directory. */
  | 'AUDIT_NOT_FOUND'
  /** The log was written by an incompatible format version. */
  | 'AUDIT_FORMAT'
  /** A write was attempted through a read-only handle. */
  | 'AUDIT_READ_ONLY'
  /** Bad options given to open() or query(). */
  | 'AUDIT_BAD_OPTION'
  /** Another process (or handle) already writes this log: two writers would fork the chain. */
  | 'AUDIT_LOCKED'
  /** An earlier flush failed: what reached the disk is unknown, so the log refuses appends until reopened. */
  | 'AUDIT_FAILED';

export class AuditError extends Error {
  readonly code: AuditErrorCode;

  constructor(code: AuditErrorCode, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.name = 'AuditError';
    this.code = code;
  }
}

export function isAuditError(value: unknown, code?: AuditErrorCode): value is AuditError {
  return value instanceof AuditError && (code === undefined || value.code === code);
}
