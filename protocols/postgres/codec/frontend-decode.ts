/**
 * Frontend (client -> server) message bodies, PostgreSQL docs "Protocol Message Formats".
 * Each decoder gets one framed message whose type and length the framer already checked, and
 * throws PgCodecError when the body does not match its format.
 */
import {
  CANCEL_KEY_MAX_LENGTH,
  CANCEL_KEY_MIN_LENGTH,
  CANCEL_REQUEST_CODE,
  FE,
  GSSENC_REQUEST_CODE,
  LENGTH_SIZE,
  PROTOCOL_MAJOR_3,
  SSL_REQUEST_CODE,
  STARTUP_HEADER_SIZE,
  TARGET_PORTAL,
  TARGET_STATEMENT,
  TYPED_HEADER_SIZE,
} from './constants.js';
import { PgCodecError } from './errors.js';
import { checkFormatCount, readFormat, readFormats, readNullableValues } from './formats.js';
import type { DescribeTarget, FrontendMessage } from './messages.js';
import { BodyReader } from './reader.js';

/** An untyped startup-phase packet: SSLRequest, GSSENCRequest, CancelRequest or StartupMessage. */
export function decodeStartupPacket(raw: Uint8Array): FrontendMessage {
  const r = new BodyReader(raw, LENGTH_SIZE);
  const code = r.int32('protocol version');
  if (code === SSL_REQUEST_CODE || code === GSSENC_REQUEST_CODE) {
    if (raw.length !== STARTUP_HEADER_SIZE) throw new PgCodecError('PG_BAD_LENGTH', `encryption request of ${raw.length} bytes`);
    return code === SSL_REQUEST_CODE ? { type: 'SSLRequest', raw } : { type: 'GSSENCRequest', raw };
  }
  if (code === CANCEL_REQUEST_CODE) {
    const processId = r.int32('process id');
    const keyLength = r.remaining;
    // 3.0 keys are 4 bytes, 3.2 keys up to 256; the request does not say which version made it.
    if (keyLength < CANCEL_KEY_MIN_LENGTH || keyLength > CANCEL_KEY_MAX_LENGTH) {
      throw new PgCodecError('PG_BAD_LENGTH', `cancel key of ${keyLength} bytes`);
    }
    return { type: 'CancelRequest', raw, processId, secretKey: r.rest() };
  }
  const majorVersion = code >>> 16;
  const minorVersion = code & 0xffff;
  if (majorVersion !== PROTOCOL_MAJOR_3) {
    throw new PgCodecError(majorVersion === 1234 ? 'PG_UNKNOWN_MESSAGE' : 'PG_UNSUPPORTED_PROTOCOL', `startup code ${majorVersion}.${minorVersion}`);
  }
  const parameters = new Map<string, string>();
  for (;;) {
    const name = r.cstring('parameter name');
    if (name === '') break;
    const value = r.cstring(`value of ${name}`);
    // The server keeps the last of two equal names; a policy reading the first would be fooled.
    if (parameters.has(name)) throw new PgCodecError('PG_DUPLICATE_PARAMETER', name);
    parameters.set(name, value);
  }
  r.done('StartupMessage');
  return { type: 'StartupMessage', raw, protocolVersion: code, majorVersion, minorVersion, parameters };
}

function target(r: BodyReader): DescribeTarget {
  const t = r.byte('target');
  if (t === TARGET_STATEMENT) return 'statement';
  if (t === TARGET_PORTAL) return 'portal';
  throw new PgCodecError('PG_BAD_FIELD', `target 0x${t.toString(16)}`);
}

export function decodeFrontendTyped(raw: Uint8Array, typeByte: number): FrontendMessage {
  const r = new BodyReader(raw, TYPED_HEADER_SIZE);
  switch (typeByte) {
    case FE.Query: {
      const query = r.cstring('query');
      r.done('Query');
      return { type: 'Query', raw, query };
    }
    case FE.Parse: {
      const statement = r.cstring('statement name');
      const query = r.cstring('query');
      const n = r.count16('parameter type count');
      const parameterTypes = new Array<number>(n);
      for (let i = 0; i < n; i++) parameterTypes[i] = r.uint32('parameter type');
      r.done('Parse');
      return { type: 'Parse', raw, statement, query, parameterTypes };
    }
    case FE.Bind: {
      const portal = r.cstring('portal name');
      const statement = r.cstring('statement name');
      const parameterFormats = readFormats(r, 'parameter format');
      const parameters = readNullableValues(r, 'parameter');
      checkFormatCount(parameterFormats.length, parameters.length, 'parameter');
      const resultFormats = readFormats(r, 'result format');
      r.done('Bind');
      return { type: 'Bind', raw, portal, statement, parameterFormats, parameters, resultFormats };
    }
    case FE.Describe:
    case FE.Close: {
      const t = target(r);
      const name = r.cstring('name');
      r.done(typeByte === FE.Close ? 'Close' : 'Describe');
      return { type: typeByte === FE.Close ? 'Close' : 'Describe', raw, target: t, name };
    }
    case FE.Execute: {
      const portal = r.cstring('portal name');
      const maxRows = r.int32('row limit');
      if (maxRows < 0) throw new PgCodecError('PG_BAD_FIELD', `row limit ${maxRows}`);
      r.done('Execute');
      return { type: 'Execute', raw, portal, maxRows };
    }
    case FE.Sync:
      return { type: 'Sync', raw };
    case FE.Flush:
      return { type: 'Flush', raw };
    case FE.Terminate:
      return { type: 'Terminate', raw };
    case FE.CopyDone:
      return { type: 'CopyDone', raw };
    case FE.CopyData:
      return { type: 'CopyData', raw, data: r.rest() };
    case FE.CopyFail: {
      const message = r.cstring('error message');
      r.done('CopyFail');
      return { type: 'CopyFail', raw, message };
    }
    case FE.FunctionCall: {
      const functionOid = r.uint32('function oid');
      const argumentFormats = readFormats(r, 'argument format');
      const args = readNullableValues(r, 'argument');
      checkFormatCount(argumentFormats.length, args.length, 'argument');
      const resultFormat = readFormat(r, 'result format');
      r.done('FunctionCall');
      return { type: 'FunctionCall', raw, functionOid, argumentFormats, arguments: args, resultFormat };
    }
    case FE.PasswordMessage:
      return { type: 'PasswordMessage', raw, body: r.rest() };
    default:
      // The framer's length table only admits the types above.
      throw new PgCodecError('PG_UNKNOWN_MESSAGE', `type byte 0x${typeByte.toString(16)}`);
  }
}
