/**
 * Backend (server -> client) encoders: what the appliance needs to answer the agent itself
 * (authentication, session parameters, a policy denial as ErrorResponse + ReadyForQuery), and
 * `encodeBackendMessage` to rebuild any parsed message (round-trip tests on captured bytes).
 */
import {
  AUTH,
  BE,
  CANCEL_KEY_MAX_LENGTH,
  CANCEL_KEY_MIN_LENGTH,
  ENCRYPTION_ACCEPTED_GSS,
  ENCRYPTION_ACCEPTED_SSL,
  ENCRYPTION_REFUSED,
  MD5_SALT_LENGTH,
} from './constants.js';
import { PgCodecError } from './errors.js';
import type { BackendMessage, FieldDescription, FormatCode, TransactionStatus } from './messages.js';
import { noticeFieldMap, type NoticeFields } from './notice-fields.js';
import { message } from './writer.js';

const auth = (code: number, data?: Uint8Array): Uint8Array =>
  message(BE.Authentication, (w) => {
    w.int32(code);
    if (data) w.bytes(data);
  });

export const encodeAuthenticationOk = (): Uint8Array => auth(AUTH.Ok);
export const encodeAuthenticationCleartextPassword = (): Uint8Array => auth(AUTH.CleartextPassword);

export function encodeAuthenticationMD5Password(salt: Uint8Array): Uint8Array {
  if (salt.length !== MD5_SALT_LENGTH) throw new PgCodecError('PG_BAD_VALUE', `MD5 salt of ${salt.length} bytes`);
  return auth(AUTH.MD5Password, salt);
}

export function encodeAuthenticationSASL(mechanisms: readonly string[]): Uint8Array {
  return message(BE.Authentication, (w) => {
    w.int32(AUTH.SASL);
    for (const m of mechanisms) {
      if (m === '') throw new PgCodecError('PG_BAD_VALUE', 'empty SASL mechanism name ends the list');
      w.cstring(m);
    }
    w.byte(0);
  });
}

export const encodeAuthenticationSASLContinue = (data: Uint8Array): Uint8Array => auth(AUTH.SASLContinue, data);
export const encodeAuthenticationSASLFinal = (data: Uint8Array): Uint8Array => auth(AUTH.SASLFinal, data);
/** Any other request code with its raw data (GSS, SSPI ...). */
export const encodeAuthenticationOther = (code: number, data: Uint8Array): Uint8Array => auth(code, data);

export const encodeParameterStatus = (name: string, value: string): Uint8Array => message(BE.ParameterStatus, (w) => w.cstring(name).cstring(value));

/** `secretKey`: a number is a 3.0 Int32 key; bytes may be 4..256 long (3.2). */
export function encodeBackendKeyData(processId: number, secretKey: number | Uint8Array): Uint8Array {
  if (typeof secretKey !== 'number' && (secretKey.length < CANCEL_KEY_MIN_LENGTH || secretKey.length > CANCEL_KEY_MAX_LENGTH)) {
    throw new PgCodecError('PG_BAD_VALUE', `cancel key of ${secretKey.length} bytes`);
  }
  return message(BE.BackendKeyData, (w) => {
    w.int32(processId);
    if (typeof secretKey === 'number') w.int32(secretKey);
    else w.bytes(secretKey);
  });
}

export const encodeReadyForQuery = (status: TransactionStatus): Uint8Array => message(BE.ReadyForQuery, (w) => w.byte(status.charCodeAt(0)));

function fieldsMessage(type: number, fields: NoticeFields | ReadonlyMap<string, string>): Uint8Array {
  const map = fields instanceof Map ? (fields as ReadonlyMap<string, string>) : noticeFieldMap(fields as NoticeFields);
  return message(type, (w) => {
    for (const [code, value] of map) {
      if (code.length !== 1 || code === '\0') throw new PgCodecError('PG_BAD_VALUE', `field code ${JSON.stringify(code)}`);
      w.byte(code.charCodeAt(0)).cstring(value);
    }
    w.byte(0);
  });
}

/** Named fields, or a field map as decoded (written in its order). */
export const encodeErrorResponse = (fields: NoticeFields | ReadonlyMap<string, string>): Uint8Array => fieldsMessage(BE.ErrorResponse, fields);
export const encodeNoticeResponse = (fields: NoticeFields | ReadonlyMap<string, string>): Uint8Array => fieldsMessage(BE.NoticeResponse, fields);

export const encodeCommandComplete = (tag: string): Uint8Array => message(BE.CommandComplete, (w) => w.cstring(tag));
export const encodeEmptyQueryResponse = (): Uint8Array => message(BE.EmptyQueryResponse, () => {});
export const encodeParseComplete = (): Uint8Array => message(BE.ParseComplete, () => {});
export const encodeBindComplete = (): Uint8Array => message(BE.BindComplete, () => {});
export const encodeCloseComplete = (): Uint8Array => message(BE.CloseComplete, () => {});
export const encodeNoData = (): Uint8Array => message(BE.NoData, () => {});
export const encodePortalSuspended = (): Uint8Array => message(BE.PortalSuspended, () => {});
export const encodeCopyDoneBackend = (): Uint8Array => message(BE.CopyDone, () => {});
export const encodeCopyDataBackend = (data: Uint8Array): Uint8Array => message(BE.CopyData, (w) => w.bytes(data));

export function encodeRowDescription(fields: readonly FieldDescription[]): Uint8Array {
  return message(BE.RowDescription, (w) => {
    w.count16(fields.length);
    for (const f of fields) {
      w.cstring(f.name).int32(f.tableOid).int16(f.columnAttribute).int32(f.typeOid).int16(f.typeSize).int32(f.typeModifier).int16(f.format);
    }
  });
}

export function encodeDataRow(values: readonly (Uint8Array | null)[]): Uint8Array {
  return message(BE.DataRow, (w) => {
    w.count16(values.length);
    for (const v of values) w.nullableBytes(v);
  });
}

export function encodeParameterDescription(typeOids: readonly number[]): Uint8Array {
  return message(BE.ParameterDescription, (w) => {
    w.count16(typeOids.length);
    for (const t of typeOids) w.int32(t);
  });
}

const COPY_RESPONSE = { CopyInResponse: BE.CopyInResponse, CopyOutResponse: BE.CopyOutResponse, CopyBothResponse: BE.CopyBothResponse } as const;

export function encodeCopyResponse(kind: keyof typeof COPY_RESPONSE, format: FormatCode, columnFormats: readonly FormatCode[]): Uint8Array {
  return message(COPY_RESPONSE[kind], (w) => {
    w.byte(format).count16(columnFormats.length);
    for (const f of columnFormats) w.int16(f);
  });
}

export function encodeNotificationResponse(processId: number, channel: string, payload: string): Uint8Array {
  return message(BE.NotificationResponse, (w) => w.int32(processId).cstring(channel).cstring(payload));
}

export function encodeNegotiateProtocolVersion(newestMinorVersion: number, unrecognizedOptions: readonly string[]): Uint8Array {
  return message(BE.NegotiateProtocolVersion, (w) => {
    w.int32(newestMinorVersion).int32(unrecognizedOptions.length);
    for (const o of unrecognizedOptions) w.cstring(o);
  });
}

export const encodeFunctionCallResponse = (result: Uint8Array | null): Uint8Array => message(BE.FunctionCallResponse, (w) => w.nullableBytes(result));

/** The unframed answer to SSLRequest ('S' accept / 'N' refuse) or GSSENCRequest ('G' / 'N'). */
export function encodeEncryptionResponse(request: 'ssl' | 'gss', accepted: boolean): Uint8Array {
  return Uint8Array.of(accepted ? (request === 'ssl' ? ENCRYPTION_ACCEPTED_SSL : ENCRYPTION_ACCEPTED_GSS) : ENCRYPTION_REFUSED);
}

/** Rebuild a parsed message from its fields (not from `raw`). */
export function encodeBackendMessage(m: BackendMessage): Uint8Array {
  switch (m.type) {
    case 'AuthenticationOk':
      return encodeAuthenticationOk();
    case 'AuthenticationCleartextPassword':
      return encodeAuthenticationCleartextPassword();
    case 'AuthenticationMD5Password':
      return encodeAuthenticationMD5Password(m.salt);
    case 'AuthenticationSASL':
      return encodeAuthenticationSASL(m.mechanisms);
    case 'AuthenticationSASLContinue':
      return encodeAuthenticationSASLContinue(m.data);
    case 'AuthenticationSASLFinal':
      return encodeAuthenticationSASLFinal(m.data);
    case 'AuthenticationOther':
      return encodeAuthenticationOther(m.code, m.data);
    case 'ParameterStatus':
      return encodeParameterStatus(m.name, m.value);
    case 'BackendKeyData':
      return encodeBackendKeyData(m.processId, m.secretKey);
    case 'ReadyForQuery':
      return encodeReadyForQuery(m.status);
    case 'RowDescription':
      return encodeRowDescription(m.fields);
    case 'DataRow':
      return encodeDataRow(m.values);
    case 'CommandComplete':
      return encodeCommandComplete(m.tag);
    case 'EmptyQueryResponse':
      return encodeEmptyQueryResponse();
    case 'ErrorResponse':
      return encodeErrorResponse(m.fields);
    case 'NoticeResponse':
      return encodeNoticeResponse(m.fields);
    case 'ParseComplete':
      return encodeParseComplete();
    case 'BindComplete':
      return encodeBindComplete();
    case 'CloseComplete':
      return encodeCloseComplete();
    case 'NoData':
      return encodeNoData();
    case 'PortalSuspended':
      return encodePortalSuspended();
    case 'ParameterDescription':
      return encodeParameterDescription(m.typeOids);
    case 'CopyInResponse':
    case 'CopyOutResponse':
    case 'CopyBothResponse':
      return encodeCopyResponse(m.type, m.format, m.columnFormats);
    case 'CopyData':
      return encodeCopyDataBackend(m.data);
    case 'CopyDone':
      return encodeCopyDoneBackend();
    case 'NotificationResponse':
      return encodeNotificationResponse(m.processId, m.channel, m.payload);
    case 'NegotiateProtocolVersion':
      return encodeNegotiateProtocolVersion(m.newestMinorVersion, m.unrecognizedOptions);
    case 'FunctionCallResponse':
      return encodeFunctionCallResponse(m.result);
    case 'EncryptionResponse':
      return encodeEncryptionResponse(m.request, m.accepted);
  }
}
