/**
 * Parsed message values (PostgreSQL docs, "Protocol Message Formats"). Every parsed message
 * carries `raw`: its exact bytes including type byte and length, so an allowed message can be
 * forwarded byte-exact without re-encoding. Byte fields (`raw`, parameter values, CopyData ...)
 * are views of the bytes given to `push()` unless the parser was built with `copy: true`.
 */
import type { PgCodecError } from './errors.js';

interface Framed {
  readonly raw: Uint8Array;
}

export type FormatCode = number; // 0 text, 1 binary; checked by the decoders

/** A well-framed message whose body could not be decoded; deny it, the stream goes on. */
export interface Malformed extends Framed {
  readonly type: 'Malformed';
  /** The type byte, or 0 for an untyped startup-phase packet. */
  readonly typeByte: number;
  readonly error: PgCodecError;
}

/**
 * A piece of a message the caller asked to stream (CopyData, DataRow) rather than buffer.
 * The raws of the parts of one message, concatenated, are its exact bytes; the first part
 * starts with the header. `payload` is the part of `raw` after the header.
 */
export interface MessagePart extends Framed {
  readonly type: 'MessagePart';
  readonly typeByte: number;
  readonly payload: Uint8Array;
  /** Offset of `payload` within the message body (after the 5-byte header). */
  readonly offset: number;
  /** Body length (the length field minus 4). */
  readonly bodyLength: number;
  readonly first: boolean;
  readonly last: boolean;
}

// ---- frontend (client -> server) ----

export interface StartupMessage extends Framed {
  readonly type: 'StartupMessage';
  readonly protocolVersion: number;
  readonly majorVersion: number;
  readonly minorVersion: number;
  /** In wire order; names are unique (duplicates are refused). */
  readonly parameters: ReadonlyMap<string, string>;
}
export interface SSLRequest extends Framed {
  readonly type: 'SSLRequest';
}
export interface GSSENCRequest extends Framed {
  readonly type: 'GSSENCRequest';
}
export interface CancelRequest extends Framed {
  readonly type: 'CancelRequest';
  readonly processId: number;
  /** 4 bytes in protocol 3.0, 4..256 from 3.2. */
  readonly secretKey: Uint8Array;
}
export interface Query extends Framed {
  readonly type: 'Query';
  readonly query: string;
}
export interface Parse extends Framed {
  readonly type: 'Parse';
  readonly statement: string;
  readonly query: string;
  readonly parameterTypes: readonly number[];
}
export interface Bind extends Framed {
  readonly type: 'Bind';
  readonly portal: string;
  readonly statement: string;
  readonly parameterFormats: readonly FormatCode[];
  /** null is SQL NULL (length -1). */
  readonly parameters: readonly (Uint8Array | null)[];
  readonly resultFormats: readonly FormatCode[];
}
export type DescribeTarget = 'statement' | 'portal';
export interface Describe extends Framed {
  readonly type: 'Describe';
  readonly target: DescribeTarget;
  readonly name: string;
}
export interface Execute extends Framed {
  readonly type: 'Execute';
  readonly portal: string;
  /** 0 means no limit. */
  readonly maxRows: number;
}
export interface Close extends Framed {
  readonly type: 'Close';
  readonly target: DescribeTarget;
  readonly name: string;
}
export interface Sync extends Framed {
  readonly type: 'Sync';
}
export interface Flush extends Framed {
  readonly type: 'Flush';
}
export interface Terminate extends Framed {
  readonly type: 'Terminate';
}
export interface CopyData extends Framed {
  readonly type: 'CopyData';
  readonly data: Uint8Array;
}
export interface CopyDone extends Framed {
  readonly type: 'CopyDone';
}
export interface CopyFail extends Framed {
  readonly type: 'CopyFail';
  readonly message: string;
}
export interface FunctionCall extends Framed {
  readonly type: 'FunctionCall';
  readonly functionOid: number;
  readonly argumentFormats: readonly FormatCode[];
  readonly arguments: readonly (Uint8Array | null)[];
  readonly resultFormat: FormatCode;
}
/**
 * 'p': PasswordMessage, SASLInitialResponse, SASLResponse or GSSResponse. Which one depends on
 * the authentication request the server sent last; decode with the helpers in password-message.ts.
 */
export interface PasswordMessage extends Framed {
  readonly type: 'PasswordMessage';
  readonly body: Uint8Array;
}

export type FrontendMessage =
  | StartupMessage
  | SSLRequest
  | GSSENCRequest
  | CancelRequest
  | Query
  | Parse
  | Bind
  | Describe
  | Execute
  | Close
  | Sync
  | Flush
  | Terminate
  | CopyData
  | CopyDone
  | CopyFail
  | FunctionCall
  | PasswordMessage;

// ---- backend (server -> client) ----

export interface AuthenticationOk extends Framed {
  readonly type: 'AuthenticationOk';
}
export interface AuthenticationCleartextPassword extends Framed {
  readonly type: 'AuthenticationCleartextPassword';
}
export interface AuthenticationMD5Password extends Framed {
  readonly type: 'AuthenticationMD5Password';
  readonly salt: Uint8Array;
}
export interface AuthenticationSASL extends Framed {
  readonly type: 'AuthenticationSASL';
  readonly mechanisms: readonly string[];
}
export interface AuthenticationSASLContinue extends Framed {
  readonly type: 'AuthenticationSASLContinue';
  readonly data: Uint8Array;
}
export interface AuthenticationSASLFinal extends Framed {
  readonly type: 'AuthenticationSASLFinal';
  readonly data: Uint8Array;
}
/** KerberosV5 (2), GSS (7), GSSContinue (8), SSPI (9) and codes unknown to us, kept raw. */
export interface AuthenticationOther extends Framed {
  readonly type: 'AuthenticationOther';
  readonly code: number;
  readonly data: Uint8Array;
}
export interface ParameterStatus extends Framed {
  readonly type: 'ParameterStatus';
  readonly name: string;
  readonly value: string;
}
export interface BackendKeyData extends Framed {
  readonly type: 'BackendKeyData';
  readonly processId: number;
  readonly secretKey: Uint8Array;
}
export type TransactionStatus = 'I' | 'T' | 'E';
export interface ReadyForQuery extends Framed {
  readonly type: 'ReadyForQuery';
  readonly status: TransactionStatus;
}
export interface FieldDescription {
  readonly name: string;
  readonly tableOid: number;
  readonly columnAttribute: number;
  readonly typeOid: number;
  readonly typeSize: number;
  readonly typeModifier: number;
  readonly format: FormatCode;
}
export interface RowDescription extends Framed {
  readonly type: 'RowDescription';
  readonly fields: readonly FieldDescription[];
}
export interface DataRow extends Framed {
  readonly type: 'DataRow';
  readonly values: readonly (Uint8Array | null)[];
}
export interface CommandComplete extends Framed {
  readonly type: 'CommandComplete';
  readonly tag: string;
}
export interface EmptyQueryResponse extends Framed {
  readonly type: 'EmptyQueryResponse';
}
/** Fields keyed by their one-letter code (FIELD in constants.ts), in wire order. */
export interface ErrorResponse extends Framed {
  readonly type: 'ErrorResponse';
  readonly fields: ReadonlyMap<string, string>;
}
export interface NoticeResponse extends Framed {
  readonly type: 'NoticeResponse';
  readonly fields: ReadonlyMap<string, string>;
}
export interface ParseComplete extends Framed {
  readonly type: 'ParseComplete';
}
export interface BindComplete extends Framed {
  readonly type: 'BindComplete';
}
export interface CloseComplete extends Framed {
  readonly type: 'CloseComplete';
}
export interface NoData extends Framed {
  readonly type: 'NoData';
}
export interface PortalSuspended extends Framed {
  readonly type: 'PortalSuspended';
}
export interface ParameterDescription extends Framed {
  readonly type: 'ParameterDescription';
  readonly typeOids: readonly number[];
}
export interface CopyResponse extends Framed {
  readonly type: 'CopyInResponse' | 'CopyOutResponse' | 'CopyBothResponse';
  /** 0 textual (all columns text), 1 binary. */
  readonly format: FormatCode;
  readonly columnFormats: readonly FormatCode[];
}
export interface NotificationResponse extends Framed {
  readonly type: 'NotificationResponse';
  readonly processId: number;
  readonly channel: string;
  readonly payload: string;
}
export interface NegotiateProtocolVersion extends Framed {
  readonly type: 'NegotiateProtocolVersion';
  readonly newestMinorVersion: number;
  readonly unrecognizedOptions: readonly string[];
}
export interface FunctionCallResponse extends Framed {
  readonly type: 'FunctionCallResponse';
  readonly result: Uint8Array | null;
}
/** The single unframed byte answering SSLRequest ('S'/'N') or GSSENCRequest ('G'/'N'). */
export interface EncryptionResponse extends Framed {
  readonly type: 'EncryptionResponse';
  readonly request: 'ssl' | 'gss';
  readonly accepted: boolean;
}

export type BackendMessage =
  | AuthenticationOk
  | AuthenticationCleartextPassword
  | AuthenticationMD5Password
  | AuthenticationSASL
  | AuthenticationSASLContinue
  | AuthenticationSASLFinal
  | AuthenticationOther
  | ParameterStatus
  | BackendKeyData
  | ReadyForQuery
  | RowDescription
  | DataRow
  | CommandComplete
  | EmptyQueryResponse
  | ErrorResponse
  | NoticeResponse
  | ParseComplete
  | BindComplete
  | CloseComplete
  | NoData
  | PortalSuspended
  | ParameterDescription
  | CopyResponse
  | CopyData
  | CopyDone
  | NotificationResponse
  | NegotiateProtocolVersion
  | FunctionCallResponse
  | EncryptionResponse;

/** What `push()` returns for each direction. */
export type FrontendEvent = FrontendMessage | Malformed | MessagePart;
export type BackendEvent = BackendMessage | Malformed | MessagePart;
