/**
 * Turns what a caller gives to append()/complete() into the exact JSON that will be hashed and
 * stored: every string redacted, undefined fields dropped, Dates as ISO strings, bigints as
 * decimal strings. Anything that has no faithful JSON form (NaN, functions, class instances,
 * cycles) is refused with AUDIT_BAD_RECORD rather than silently changed, because the stored
 * record must say exactly what the caller meant.
 */
import { AuditError } from './errors.js';
import {
  AUDIT_KINDS, AUDIT_VERDICTS, INPUT_FIELDS, OUTCOME_FIELDS,
  type AuditOutcome, type AuditRecordInput, type JsonObject, type JsonValue,
} from './record.js';

/** Deep enough for any facts object; stops runaway or cyclic structures. */
const MAX_DEPTH = 32;

type StringMapper = (value: string) => string;

/**
 * One normalisation: how strings are mapped (redaction), and whether an object key that is an
 * array index ("0", "17") was met. JavaScript lists such keys first, in numeric order, whatever
 * the insertion order, so an object holding one is not written in canonical order by
 * JSON.stringify (canonical-json.ts then takes its slow path).
 */
export interface Normalizing {
  mapString: StringMapper;
  indexKeys: boolean;
}

/** "0".."4294967294" without leading zeros: the keys JavaScript orders numerically. */
function isIndexKey(key: string): boolean {
  const c = key.charCodeAt(0);
  return c >= 48 && c <= 57 && /^(?:0|[1-9]\d{0,9})$/.test(key) && Number(key) < 4294967295;
}

function bad(path: string, message: string): AuditError {
  return new AuditError('AUDIT_BAD_RECORD', `${path}: ${message}`);
}

/** Where in the record a value is, built only for an error message. */
type Trail = Array<string | number>;

function pathOf(trail: Trail): string {
  return trail.reduce<string>((path, step) => (typeof step === 'number' ? `${path}[${step}]` : `${path}.${step}`), '$');
}

/** `target[key] = value`, except that a key named `__proto__` is stored, not taken as the prototype. */
export function setOwn(target: JsonObject, key: string, value: JsonValue): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

export function toJson(value: unknown, n: Normalizing, trail: Trail = []): JsonValue {
  if (trail.length > MAX_DEPTH) throw bad(pathOf(trail), `nested deeper than ${MAX_DEPTH}`);
  switch (typeof value) {
    case 'string':
      return n.mapString(value);
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw bad(pathOf(trail), `number ${value} has no JSON form`);
      return value;
    case 'bigint':
      return value.toString();
    case 'object': {
      if (value === null) return null;
      if (value instanceof Date) {
        if (Number.isNaN(value.getTime())) throw bad(pathOf(trail), 'invalid Date');
        return value.toISOString();
      }
      if (Array.isArray(value)) {
        const out: JsonValue[] = new Array<JsonValue>(value.length);
        for (let i = 0; i < value.length; i++) {
          trail.push(i);
          if (value[i] === undefined) throw bad(pathOf(trail), 'undefined in an array');
          out[i] = toJson(value[i], n, trail);
          trail.pop();
        }
        return out;
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) throw bad(pathOf(trail), 'not a plain object');
      // Keys inserted in sorted order, so canonicalJson can take its native fast path.
      const out: JsonObject = {};
      const source = value as Record<string, unknown>;
      for (const key of Object.keys(source).sort()) {
        const item = source[key];
        if (item === undefined) continue;
        trail.push(key);
        const mapped = n.mapString(key);
        if (isIndexKey(mapped)) n.indexKeys = true;
        setOwn(out, mapped, toJson(item, n, trail));
        trail.pop();
      }
      return out;
    }
    default:
      throw bad(pathOf(trail), `${typeof value} has no JSON form`);
  }
}

function checkString(record: JsonObject, field: string): void {
  const value = record[field];
  if (value !== undefined && typeof value !== 'string') throw bad(`$.${field}`, 'must be a string');
}

/** Validates and normalises an append() input; returns the JSON body without log-owned fields. */
export function normalizeInput(input: AuditRecordInput, n: Normalizing): JsonObject {
  if (typeof input !== 'object' || input === null) throw bad('$', 'record must be an object');
  for (const key of Object.keys(input)) {
    if (!INPUT_FIELDS.has(key)) throw bad(`$.${key}`, 'unknown or log-owned field');
  }
  if (!(AUDIT_KINDS as readonly string[]).includes(input.kind)) {
    throw bad('$.kind', `must be one of ${AUDIT_KINDS.join(', ')}`);
  }
  if (input.verdict !== undefined && !(AUDIT_VERDICTS as readonly string[]).includes(input.verdict)) {
    throw bad('$.verdict', `must be one of ${AUDIT_VERDICTS.join(', ')}`);
  }
  const record = toJson(input, n) as JsonObject;
  for (const field of ['connectionId', 'peer', 'peerAddress', 'profile', 'endpoint', 'credential',
    'rule', 'reason', 'reasonCode', 'message']) {
    checkString(record, field);
  }
  for (const field of ['facts', 'detail', 'timings', 'upstream']) {
    const value = record[field];
    if (value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value))) {
      throw bad(`$.${field}`, 'must be an object');
    }
  }
  if (record.approvers !== undefined && !Array.isArray(record.approvers)) throw bad('$.approvers', 'must be an array');
  return record;
}

/** Validates and normalises a complete() outcome. */
export function normalizeOutcome(outcome: AuditOutcome, n: Normalizing): JsonObject {
  if (typeof outcome !== 'object' || outcome === null) throw bad('$.outcome', 'must be an object');
  for (const key of Object.keys(outcome)) {
    if (!OUTCOME_FIELDS.has(key)) throw bad(`$.outcome.${key}`, 'unknown field');
  }
  const out = toJson(outcome, n, ['outcome']) as JsonObject;
  for (const field of ['status', 'rows', 'bytesIn', 'bytesOut', 'durationMs']) {
    const value = out[field];
    if (value !== undefined && typeof value !== 'number') throw bad(`$.outcome.${field}`, 'must be a number');
  }
  return out;
}
