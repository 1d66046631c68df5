/**
 * Frontend (client -> server) encoders: what the appliance needs to talk to the upstream as a
 * client, and `encodeFrontendMessage` to rebuild any parsed message (used by the round-trip
 * tests against captured bytes).
 */
import {
  CANCEL_KEY_MAX_LENGTH,
  CANCEL_KEY_MIN_LENGTH,
  CANCEL_REQUEST_CODE,
  FE,
  GSSENC_REQUEST_CODE,
  PROTOCOL_3_0,
  SSL_REQUEST_CODE,
  TARGET_PORTAL,
  TARGET_STATEMENT,
} from './constants.js';
import { PgCodecError } from './errors.js';
import type { DescribeTarget, FormatCode, FrontendMessage } from './messages.js';
import { message, type MessageWriter } from './writer.js';

export function encodeStartupMessage(parameters: Iterable<readonly [string, string]> | Record<string, string>, protocolVersion = PROTOCOL_3_0): Uint8Array {
  const entries = Symbol.iterator in parameters ? parameters : Object.entries(parameters);
  return message(null, (w) => {
    w.int32(protocolVersion);
    for (const [k, v] of entries) {
      if (k === '') throw new PgCodecError('PG_BAD_VALUE', 'empty startup parameter name ends the list');
      w.cstring(k).cstring(v);
    }
    w.byte(0);
  });
}

export const encodeSSLRequest = (): Uint8Array => message(null, (w) => w.int32(SSL_REQUEST_CODE));
export const encodeGSSENCRequest = (): Uint8Array => message(null, (w) => w.int32(GSSENC_REQUEST_CODE));

/** `secretKey` as BackendKeyData gave it (4 bytes in 3.0, up to 256 in 3.2). */
export function encodeCancelRequest(processId: number, secretKey: Uint8Array): Uint8Array {
  if (secretKey.length < CANCEL_KEY_MIN_LENGTH || secretKey.length > CANCEL_KEY_MAX_LENGTH) {
    throw new PgCodecError('PG_BAD_VALUE', `cancel key of ${secretKey.length} bytes`);
  }
  return message(null, (w) => w.int32(CANCEL_REQUEST_CODE).int32(processId).bytes(secretKey));
}

export const encodePasswordMessage = (password: string): Uint8Array => message(FE.PasswordMessage, (w) => w.cstring(password));

export function encodeSASLInitialResponse(mechanism: string, data: Uint8Array | null): Uint8Array {
  return message(FE.PasswordMessage, (w) => w.cstring(mechanism).nullableBytes(data));
}

export const encodeSASLResponse = (data: Uint8Array): Uint8Array => message(FE.PasswordMessage, (w) => w.bytes(data));
export const encodeGSSResponse = encodeSASLResponse;

export const encodeQuery = (query: string): Uint8Array => message(FE.Query, (w) => w.cstring(query));

export function encodeParse(statement: string, query: string, parameterTypes: readonly number[] = []): Uint8Array {
  return message(FE.Parse, (w) => {
    w.cstring(statement).cstring(query).count16(parameterTypes.length);
    for (const t of parameterTypes) w.int32(t);
  });
}

function formats(w: MessageWriter, list: readonly FormatCode[]): void {
  w.count16(list.length);
  for (const f of list) w.int16(f);
}

function values(w: MessageWriter, list: readonly (Uint8Array | null)[]): void {
  w.count16(list.length);
  for (const v of list) w.nullableBytes(v);
}

export interface BindFields {
  readonly portal?: string;
  readonly statement?: string;
  readonly parameterFormats?: readonly FormatCode[];
  readonly parameters?: readonly (Uint8Array | null)[];
  readonly resultFormats?: readonly FormatCode[];
}

export function encodeBind(b: BindFields): Uint8Array {
  return message(FE.Bind, (w) => {
    w.cstring(b.portal ?? '').cstring(b.statement ?? '');
    formats(w, b.parameterFormats ?? []);
    values(w, b.parameters ?? []);
    formats(w, b.resultFormats ?? []);
  });
}

const targetByte = (t: DescribeTarget): number => (t === 'statement' ? TARGET_STATEMENT : TARGET_PORTAL);

export const encodeDescribe = (target: DescribeTarget, name = ''): Uint8Array => message(FE.Describe, (w) => w.byte(targetByte(target)).cstring(name));
export const encodeClose = (target: DescribeTarget, name = ''): Uint8Array => message(FE.Close, (w) => w.byte(targetByte(target)).cstring(name));
export const encodeExecute = (portal = '', maxRows = 0): Uint8Array => message(FE.Execute, (w) => w.cstring(portal).int32(maxRows));
export const encodeSync = (): Uint8Array => message(FE.Sync, () => {});
export const encodeFlush = (): Uint8Array => message(FE.Flush, () => {});
export const encodeTerminate = (): Uint8Array => message(FE.Terminate, () => {});
export const encodeCopyData = (data: Uint8Array): Uint8Array => message(FE.CopyData, (w) => w.bytes(data));
export const encodeCopyDone = (): Uint8Array => message(FE.CopyDone, () => {});
export const encodeCopyFail = (reason: string): Uint8Array => message(FE.CopyFail, (w) => w.cstring(reason));

export function encodeFunctionCall(functionOid: number, args: readonly (Uint8Array | null)[], argumentFormats: readonly FormatCode[] = [], resultFormat: FormatCode = 0): Uint8Array {
  return message(FE.FunctionCall, (w) => {
    w.int32(functionOid);
    formats(w, argumentFormats);
    values(w, args);
    w.int16(resultFormat);
  });
}

/** Rebuild a parsed message from its fields (not from `raw`). */
export function encodeFrontendMessage(m: FrontendMessage): Uint8Array {
  switch (m.type) {
    case 'StartupMessage':
      return encodeStartupMessage(m.parameters, m.protocolVersion);
    case 'SSLRequest':
      return encodeSSLRequest();
    case 'GSSENCRequest':
      return encodeGSSENCRequest();
    case 'CancelRequest':
      return encodeCancelRequest(m.processId, m.secretKey);
    case 'Query':
      return encodeQuery(m.query);
    case 'Parse':
      return encodeParse(m.statement, m.query, m.parameterTypes);
    case 'Bind':
      return encodeBind(m);
    case 'Describe':
      return encodeDescribe(m.target, m.name);
    case 'Execute':
      return encodeExecute(m.portal, m.maxRows);
    case 'Close':
      return encodeClose(m.target, m.name);
    case 'Sync':
      return encodeSync();
    case 'Flush':
      return encodeFlush();
    case 'Terminate':
      return encodeTerminate();
    case 'CopyData':
      return encodeCopyData(m.data);
    case 'CopyDone':
      return encodeCopyDone();
    case 'CopyFail':
      return encodeCopyFail(m.message);
    case 'FunctionCall':
      return encodeFunctionCall(m.functionOid, m.arguments, m.argumentFormats, m.resultFormat);
    case 'PasswordMessage':
      return encodeSASLResponse(m.body);
  }
}
