/**
 * Backend (server -> client) message bodies, PostgreSQL docs "Protocol Message Formats".
 * Each decoder gets one framed message whose type and length the framer already checked, and
 * throws PgCodecError when the body does not match its format.
 */
import {
  AUTH,
  BE,
  CANCEL_KEY_MAX_LENGTH,
  CANCEL_KEY_MIN_LENGTH,
  MD5_SALT_LENGTH,
  TX_FAILED,
  TX_IDLE,
  TX_IN_TRANSACTION,
  TYPED_HEADER_SIZE,
} from './constants.js';
import { PgCodecError } from './errors.js';
import { readFormat, readFormats } from './formats.js';
import type { BackendMessage, FieldDescription, TransactionStatus } from './messages.js';
import { BodyReader } from './reader.js';

function decodeAuthentication(raw: Uint8Array, r: BodyReader): BackendMessage {
  const code = r.int32('authentication code');
  switch (code) {
    case AUTH.Ok:
      r.done('AuthenticationOk');
      return { type: 'AuthenticationOk', raw };
    case AUTH.CleartextPassword:
      r.done('AuthenticationCleartextPassword');
      return { type: 'AuthenticationCleartextPassword', raw };
    case AUTH.MD5Password: {
      const salt = r.bytes(MD5_SALT_LENGTH, 'salt');
      r.done('AuthenticationMD5Password');
      return { type: 'AuthenticationMD5Password', raw, salt };
    }
    case AUTH.SASL: {
      const mechanisms: string[] = [];
      for (;;) {
        const m = r.cstring('SASL mechanism');
        if (m === '') break;
        mechanisms.push(m);
      }
      r.done('AuthenticationSASL');
      return { type: 'AuthenticationSASL', raw, mechanisms };
    }
    case AUTH.SASLContinue:
      return { type: 'AuthenticationSASLContinue', raw, data: r.rest() };
    case AUTH.SASLFinal:
      return { type: 'AuthenticationSASLFinal', raw, data: r.rest() };
    default:
      return { type: 'AuthenticationOther', raw, code, data: r.rest() };
  }
}

function decodeFields(r: BodyReader): Map<string, string> {
  const fields = new Map<string, string>();
  for (;;) {
    const code = r.byte('field code');
    if (code === 0) break;
    const key = String.fromCharCode(code);
    fields.set(key, r.cstring(`field ${key}`));
  }
  return fields;
}

function decodeCopyResponse(raw: Uint8Array, r: BodyReader, type: 'CopyInResponse' | 'CopyOutResponse' | 'CopyBothResponse'): BackendMessage {
  const format = r.byte('copy format');
  if (format > 1) throw new PgCodecError('PG_BAD_FIELD', `copy format ${format}`);
  const columnFormats = readFormats(r, 'column format');
  r.done(type);
  return { type, raw, format, columnFormats };
}

function transactionStatus(b: number): TransactionStatus {
  const s = String.fromCharCode(b);
  if (s === TX_IDLE || s === TX_IN_TRANSACTION || s === TX_FAILED) return s;
  throw new PgCodecError('PG_BAD_FIELD', `transaction status 0x${b.toString(16)}`);
}

export function decodeBackendTyped(raw: Uint8Array, typeByte: number): BackendMessage {
  const r = new BodyReader(raw, TYPED_HEADER_SIZE);
  switch (typeByte) {
    case BE.Authentication:
      return decodeAuthentication(raw, r);
    case BE.ParameterStatus: {
      const name = r.cstring('parameter name');
      const value = r.cstring('parameter value');
      r.done('ParameterStatus');
      return { type: 'ParameterStatus', raw, name, value };
    }
    case BE.BackendKeyData: {
      const processId = r.int32('process id');
      const n = r.remaining;
      if (n < CANCEL_KEY_MIN_LENGTH || n > CANCEL_KEY_MAX_LENGTH) throw new PgCodecError('PG_BAD_LENGTH', `cancel key of ${n} bytes`);
      return { type: 'BackendKeyData', raw, processId, secretKey: r.rest() };
    }
    case BE.ReadyForQuery:
      return { type: 'ReadyForQuery', raw, status: transactionStatus(r.byte('status')) };
    case BE.RowDescription: {
      const n = r.count16('field count');
      const fields = new Array<FieldDescription>(n);
      for (let i = 0; i < n; i++) {
        fields[i] = {
          name: r.cstring('field name'),
          tableOid: r.uint32('table oid'),
          columnAttribute: r.int16('column number'),
          typeOid: r.uint32('type oid'),
          typeSize: r.int16('type size'),
          typeModifier: r.int32('type modifier'),
          format: readFormat(r, 'format'),
        };
      }
      r.done('RowDescription');
      return { type: 'RowDescription', raw, fields };
    }
    case BE.DataRow: {
      const n = r.count16('column count');
      const values = new Array<Uint8Array | null>(n);
      for (let i = 0; i < n; i++) values[i] = r.nullableBytes('column value');
      r.done('DataRow');
      return { type: 'DataRow', raw, values };
    }
    case BE.CommandComplete: {
      const tag = r.cstring('command tag');
      r.done('CommandComplete');
      return { type: 'CommandComplete', raw, tag };
    }
    case BE.EmptyQueryResponse:
      return { type: 'EmptyQueryResponse', raw };
    case BE.ErrorResponse:
    case BE.NoticeResponse: {
      const fields = decodeFields(r);
      const type = typeByte === BE.ErrorResponse ? 'ErrorResponse' : 'NoticeResponse';
      r.done(type);
      return { type, raw, fields };
    }
    case BE.ParseComplete:
      return { type: 'ParseComplete', raw };
    case BE.BindComplete:
      return { type: 'BindComplete', raw };
    case BE.CloseComplete:
      return { type: 'CloseComplete', raw };
    case BE.NoData:
      return { type: 'NoData', raw };
    case BE.PortalSuspended:
      return { type: 'PortalSuspended', raw };
    case BE.ParameterDescription: {
      const n = r.count16('parameter count');
      const typeOids = new Array<number>(n);
      for (let i = 0; i < n; i++) typeOids[i] = r.uint32('parameter type');
      r.done('ParameterDescription');
      return { type: 'ParameterDescription', raw, typeOids };
    }
    case BE.CopyInResponse:
      return decodeCopyResponse(raw, r, 'CopyInResponse');
    case BE.CopyOutResponse:
      return decodeCopyResponse(raw, r, 'CopyOutResponse');
    case BE.CopyBothResponse:
      return decodeCopyResponse(raw, r, 'CopyBothResponse');
    case BE.CopyData:
      return { type: 'CopyData', raw, data: r.rest() };
    case BE.CopyDone:
      return { type: 'CopyDone', raw };
    case BE.NotificationResponse: {
      const processId = r.int32('process id');
      const channel = r.cstring('channel');
      const payload = r.cstring('payload');
      r.done('NotificationResponse');
      return { type: 'NotificationResponse', raw, processId, channel, payload };
    }
    case BE.NegotiateProtocolVersion: {
      const newestMinorVersion = r.int32('newest minor version');
      const n = r.int32('option count');
      if (n < 0) throw new PgCodecError('PG_BAD_FIELD', `option count ${n}`);
      const unrecognizedOptions: string[] = [];
      for (let i = 0; i < n; i++) unrecognizedOptions.push(r.cstring('option name'));
      r.done('NegotiateProtocolVersion');
      return { type: 'NegotiateProtocolVersion', raw, newestMinorVersion, unrecognizedOptions };
    }
    case BE.FunctionCallResponse: {
      const result = r.nullableBytes('function result');
      r.done('FunctionCallResponse');
      return { type: 'FunctionCallResponse', raw, result };
    }
    default:
      throw new PgCodecError('PG_UNKNOWN_MESSAGE', `type byte 0x${typeByte.toString(16)}`);
  }
}
