/**
 * Format-code lists shared by Bind, FunctionCall and the Copy responses. The server refuses
 * codes other than text (0) and binary (1), and a format list whose length is neither 0, 1 nor
 * the value count; we refuse them at the codec so policy never sees such a message as valid.
 */
import { FORMAT_BINARY, FORMAT_TEXT } from './constants.js';
import { PgCodecError } from './errors.js';
import type { BodyReader } from './reader.js';

export function readFormat(r: BodyReader, what: string): number {
  const f = r.int16(what);
  if (f !== FORMAT_TEXT && f !== FORMAT_BINARY) throw new PgCodecError('PG_BAD_FIELD', `${what} ${f}`);
  return f;
}

export function readFormats(r: BodyReader, what: string): number[] {
  const n = r.count16(`${what} count`);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = readFormat(r, what);
  return out;
}

/** 0 formats: all text; 1: applies to all; otherwise one per value. */
export function checkFormatCount(formats: number, values: number, what: string): void {
  if (formats > 1 && formats !== values) {
    throw new PgCodecError('PG_BAD_FIELD', `${formats} ${what} formats for ${values} values`);
  }
}

export function readNullableValues(r: BodyReader, what: string): (Uint8Array | null)[] {
  const n = r.count16(`${what} count`);
  const out = new Array<Uint8Array | null>(n);
  for (let i = 0; i < n; i++) out[i] = r.nullableBytes(what);
  return out;
}
