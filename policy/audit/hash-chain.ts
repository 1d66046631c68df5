/**
 * The hash chain: hash = SHA-256(canonical JSON of the record without `hash`, with `prevHash`).
 * Editing any field changes the record's hash; deleting or reordering records breaks either the
 * sequence or the prevHash link of the next record.
 */
import { createHash, hash } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';
import type { JsonObject } from './record.js';

/** The record before seq 1 "has" this hash. Domain-separated so it cannot collide with a record. */
export const GENESIS_HASH = createHash('sha256').update('bailiff audit log genesis v1').digest('hex');

export const HASH_PATTERN = /^[0-9a-f]{64}$/;

/** SHA-256 (hex) of an already canonical JSON text. */
export function hashCanonical(text: string): string {
  return hash('sha256', text, 'hex');
}

/** Hash of a record; any `hash` field in it is ignored (that is the value being computed). */
export function hashRecord(record: JsonObject): string {
  const { hash: _ignored, ...body } = record;
  return hashCanonical(canonicalJson(body));
}
