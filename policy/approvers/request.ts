/**
 * Building an ApprovalRequest from what the data path has: facts as the rules saw them (with
 * Dates, Sets...) become plain JSON, the request text is capped, and the request gets an
 * unguessable id. A held request lives in memory until decided, and up to maxPending of them
 * may wait, so the caps bound that memory whatever the agent sends.
 */
import type { JsonObject, JsonValue } from '../audit/record.js';
import { newApprovalId } from './ids.js';
import { capUtf8 } from './llm-prompt.js';
import type { ApprovalRequest } from './types.js';

/** The request text kept for people (Slack shows less; the judge gets 16 KiB). */
export const MAX_SUMMARY_BYTES = 64 * 1024;
/** Facts past this are replaced by a note; the summary still shows the request. */
export const MAX_FACTS_BYTES = 128 * 1024;

export interface ApprovalRequestInput extends Omit<ApprovalRequest, 'id' | 'facts'> {
  id?: string;
  facts: Record<string, unknown>;
}

export function approvalRequest(input: ApprovalRequestInput): ApprovalRequest {
  return capRequest({ ...input, id: input.id ?? newApprovalId(), facts: toJsonFacts(input.facts) });
}

/** Applies the caps; returns the same object when nothing needed cutting. */
export function capRequest(request: ApprovalRequest): ApprovalRequest {
  const summary = capUtf8(request.summary, MAX_SUMMARY_BYTES);
  const factsTooLarge = Buffer.byteLength(JSON.stringify(request.facts)) > MAX_FACTS_BYTES;
  if (summary === request.summary && !factsTooLarge) return request;
  return {
    ...request,
    summary,
    facts: factsTooLarge ? { omitted: `the facts were larger than ${MAX_FACTS_BYTES} bytes` } : request.facts,
  };
}

/** Facts as JSON: Dates as ISO strings, Sets and arrays as lists, Maps as objects, bigints as text. */
export function toJsonFacts(facts: Record<string, unknown>): JsonObject {
  const out = toJson(facts, 0);
  return out !== null && typeof out === 'object' && !Array.isArray(out) ? out : {};
}

function toJson(value: unknown, depth: number): JsonValue {
  if (depth > 16) return null;
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'bigint':
      return value.toString();
    case 'object':
      break;
    default:
      return null;
  }
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (Array.isArray(value) || value instanceof Set) return [...value].map((v) => toJson(v, depth + 1));
  const entries = value instanceof Map ? [...value.entries()] : Object.entries(value as Record<string, unknown>);
  const out: { [key: string]: JsonValue } = {};
  for (const [k, v] of entries) if (v !== undefined) out[String(k)] = toJson(v, depth + 1);
  return out;
}
