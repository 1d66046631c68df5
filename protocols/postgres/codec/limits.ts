/**
 * Per-type length rules, checked on the 5-byte header before a byte of the body is buffered.
 * Lengths here are values of the length field (which counts itself, not the type byte).
 * Minimums are the smallest well-formed body; small types get the server's / libpq's lower cap
 * (a 900 KiB Sync is an attack, not a Sync).
 */
import {
  BE,
  CANCEL_KEY_MAX_LENGTH,
  FE,
  MAX_AUTH_TOKEN_LENGTH,
  SMALL_BACKEND_MESSAGE_LIMIT,
  SMALL_FRONTEND_MESSAGE_LIMIT,
} from './constants.js';

/** 'large': the configured cap; a number: min(that, cap); 'exact': min is also the max. */
export interface TypeRule {
  readonly min: number;
  readonly max: 'large' | 'exact' | number;
}

const L = 4; // the length field alone

export const FRONTEND_RULES: ReadonlyMap<number, TypeRule> = new Map<number, TypeRule>([
  [FE.Query, { min: L + 1, max: 'large' }],
  [FE.Parse, { min: L + 1 + 1 + 2, max: 'large' }],
  [FE.Bind, { min: L + 1 + 1 + 2 + 2 + 2, max: 'large' }],
  [FE.Describe, { min: L + 1 + 1, max: SMALL_FRONTEND_MESSAGE_LIMIT }],
  [FE.Execute, { min: L + 1 + 4, max: SMALL_FRONTEND_MESSAGE_LIMIT }],
  [FE.Close, { min: L + 1 + 1, max: SMALL_FRONTEND_MESSAGE_LIMIT }],
  [FE.Sync, { min: L, max: 'exact' }],
  [FE.Flush, { min: L, max: 'exact' }],
  [FE.Terminate, { min: L, max: 'exact' }],
  [FE.CopyData, { min: L, max: 'large' }],
  [FE.CopyDone, { min: L, max: 'exact' }],
  [FE.CopyFail, { min: L + 1, max: SMALL_FRONTEND_MESSAGE_LIMIT }],
  [FE.FunctionCall, { min: L + 4 + 2 + 2 + 2, max: 'large' }],
  [FE.PasswordMessage, { min: L, max: MAX_AUTH_TOKEN_LENGTH }],
]);

export const BACKEND_RULES: ReadonlyMap<number, TypeRule> = new Map<number, TypeRule>([
  [BE.Authentication, { min: L + 4, max: SMALL_BACKEND_MESSAGE_LIMIT }],
  [BE.ParameterStatus, { min: L + 1 + 1, max: SMALL_BACKEND_MESSAGE_LIMIT }],
  [BE.BackendKeyData, { min: L + 4 + 4, max: L + 4 + CANCEL_KEY_MAX_LENGTH }],
  [BE.ReadyForQuery, { min: L + 1, max: 'exact' }],
  [BE.RowDescription, { min: L + 2, max: 'large' }],
  [BE.DataRow, { min: L + 2, max: 'large' }],
  [BE.CommandComplete, { min: L + 1, max: SMALL_BACKEND_MESSAGE_LIMIT }],
  [BE.EmptyQueryResponse, { min: L, max: 'exact' }],
  [BE.ErrorResponse, { min: L + 1, max: 'large' }],
  [BE.NoticeResponse, { min: L + 1, max: 'large' }],
  [BE.ParseComplete, { min: L, max: 'exact' }],
  [BE.BindComplete, { min: L, max: 'exact' }],
  [BE.CloseComplete, { min: L, max: 'exact' }],
  [BE.NoData, { min: L, max: 'exact' }],
  [BE.PortalSuspended, { min: L, max: 'exact' }],
  // Up to 65535 parameters of 4 bytes: longer than libpq's small limit, so 'large'.
  [BE.ParameterDescription, { min: L + 2, max: 'large' }],
  [BE.CopyInResponse, { min: L + 1 + 2, max: SMALL_BACKEND_MESSAGE_LIMIT }],
  [BE.CopyOutResponse, { min: L + 1 + 2, max: SMALL_BACKEND_MESSAGE_LIMIT }],
  [BE.CopyBothResponse, { min: L + 1 + 2, max: SMALL_BACKEND_MESSAGE_LIMIT }],
  [BE.CopyData, { min: L, max: 'large' }],
  [BE.CopyDone, { min: L, max: 'exact' }],
  [BE.NotificationResponse, { min: L + 4 + 1 + 1, max: 'large' }],
  [BE.NegotiateProtocolVersion, { min: L + 4 + 4, max: SMALL_BACKEND_MESSAGE_LIMIT }],
  [BE.FunctionCallResponse, { min: L + 4, max: 'large' }],
]);

/** Flat tables indexed by type byte; max 0 marks a type that does not exist in this direction. */
export interface LengthTable {
  readonly min: Int32Array;
  readonly max: Int32Array;
}

const built = new WeakMap<ReadonlyMap<number, TypeRule>, Map<number, LengthTable>>();

/** Tables are immutable once built, so parsers with the same cap share one. */
export function buildLengthTable(rules: ReadonlyMap<number, TypeRule>, cap: number): LengthTable {
  let byCap = built.get(rules);
  if (!byCap) built.set(rules, (byCap = new Map()));
  const cached = byCap.get(cap);
  if (cached) return cached;
  const table = makeLengthTable(rules, cap);
  byCap.set(cap, table);
  return table;
}

function makeLengthTable(rules: ReadonlyMap<number, TypeRule>, cap: number): LengthTable {
  if (!Number.isInteger(cap) || cap < 4) throw new RangeError(`message cap ${cap}`);
  const min = new Int32Array(256);
  const max = new Int32Array(256);
  for (const [type, rule] of rules) {
    min[type] = rule.min;
    max[type] = rule.max === 'large' ? cap : rule.max === 'exact' ? rule.min : Math.min(rule.max, cap);
    // A cap below a type's minimum would make the type unusable: keep it at least well-formed.
    if (max[type]! < rule.min) max[type] = rule.min;
  }
  return { min, max };
}
