/**
 * PostgreSQL frontend/backend protocol 3.x constants (PostgreSQL docs, "Protocol Message Formats"
 * and "Message Flow"). Names follow the docs; limits follow what the server and libpq enforce so
 * that we refuse what they would refuse, before we buffer it.
 */

/** Every typed message starts with a type byte and an Int32 length that counts itself. */
export const TYPE_SIZE = 1;
export const LENGTH_SIZE = 4;
export const TYPED_HEADER_SIZE = TYPE_SIZE + LENGTH_SIZE;
/** The untyped startup-phase messages: Int32 length, Int32 code/version. */
export const STARTUP_HEADER_SIZE = 8;

/** Protocol version numbers: major in the high 16 bits, minor in the low 16 bits. */
export const PROTOCOL_MAJOR_3 = 3;
export const PROTOCOL_3_0 = (3 << 16) | 0; // 196608
export const PROTOCOL_3_2 = (3 << 16) | 2; // 196610: variable-length cancel keys
/** Request codes sent in place of a protocol version (major 1234). */
export const CANCEL_REQUEST_CODE = 80877102; // (1234 << 16) | 5678
export const SSL_REQUEST_CODE = 80877103; // (1234 << 16) | 5679
export const GSSENC_REQUEST_CODE = 80877104; // (1234 << 16) | 5680

/** Cancel keys: exactly 4 bytes in 3.0; 4..256 bytes from 3.2 (protocol.sgml, BackendKeyData). */
export const CANCEL_KEY_LENGTH_3_0 = 4;
export const CANCEL_KEY_MIN_LENGTH = 4;
export const CANCEL_KEY_MAX_LENGTH = 256;

/** Default cap for one message (STYLE.md §6). */
export const DEFAULT_MAX_MESSAGE_LENGTH = 1024 * 1024;
/** The server refuses startup packets above this (MAX_STARTUP_PACKET_LENGTH in pqcomm.h). */
export const MAX_STARTUP_PACKET_LENGTH = 10000;
/** The server's cap for frontend messages that are small by nature (PQ_SMALL_MESSAGE_LIMIT). */
export const SMALL_FRONTEND_MESSAGE_LIMIT = 10000;
/** The server's cap for 'p' messages (PG_MAX_AUTH_TOKEN_LENGTH). */
export const MAX_AUTH_TOKEN_LENGTH = 65535;
/** libpq treats a backend message above this as lost sync unless its type may be long. */
export const SMALL_BACKEND_MESSAGE_LIMIT = 30000;
/** The server never sends or accepts more than MaxAllocSize - 1 in one message. */
export const MAX_STREAMED_MESSAGE_LENGTH = 0x3fffffff;

/** First byte of a TLS handshake record: a client trying direct SSL (PG 17 sslnegotiation=direct). */
export const TLS_HANDSHAKE_RECORD = 0x16;

const c = (s: string): number => s.charCodeAt(0);

/** Frontend (client -> server) type bytes. */
export const FE = {
  Bind: c('B'),
  Close: c('C'),
  CopyData: c('d'),
  CopyDone: c('c'),
  CopyFail: c('f'),
  Describe: c('D'),
  Execute: c('E'),
  Flush: c('H'),
  FunctionCall: c('F'),
  Parse: c('P'),
  PasswordMessage: c('p'), // also SASLInitialResponse, SASLResponse, GSSResponse
  Query: c('Q'),
  Sync: c('S'),
  Terminate: c('X'),
} as const;

/** Backend (server -> client) type bytes. */
export const BE = {
  Authentication: c('R'),
  BackendKeyData: c('K'),
  BindComplete: c('2'),
  CloseComplete: c('3'),
  CommandComplete: c('C'),
  CopyBothResponse: c('W'),
  CopyData: c('d'),
  CopyDone: c('c'),
  CopyInResponse: c('G'),
  CopyOutResponse: c('H'),
  DataRow: c('D'),
  EmptyQueryResponse: c('I'),
  ErrorResponse: c('E'),
  FunctionCallResponse: c('V'),
  NegotiateProtocolVersion: c('v'),
  NoData: c('n'),
  NoticeResponse: c('N'),
  NotificationResponse: c('A'),
  ParameterDescription: c('t'),
  ParameterStatus: c('S'),
  ParseComplete: c('1'),
  PortalSuspended: c('s'),
  ReadyForQuery: c('Z'),
  RowDescription: c('T'),
} as const;

/** Single-byte answers to SSLRequest / GSSENCRequest (not framed). */
export const ENCRYPTION_ACCEPTED_SSL = c('S');
export const ENCRYPTION_ACCEPTED_GSS = c('G');
export const ENCRYPTION_REFUSED = c('N');

/** Authentication request codes (the Int32 after 'R'). */
export const AUTH = {
  Ok: 0,
  KerberosV5: 2,
  CleartextPassword: 3,
  MD5Password: 5,
  GSS: 7,
  GSSContinue: 8,
  SSPI: 9,
  SASL: 10,
  SASLContinue: 11,
  SASLFinal: 12,
} as const;
export const MD5_SALT_LENGTH = 4;

/** ReadyForQuery transaction status. */
export const TX_IDLE = 'I';
export const TX_IN_TRANSACTION = 'T';
export const TX_FAILED = 'E';

/** Describe / Close targets. */
export const TARGET_STATEMENT = c('S');
export const TARGET_PORTAL = c('P');

/** Format codes for parameters and results. */
export const FORMAT_TEXT = 0;
export const FORMAT_BINARY = 1;

/** A NULL parameter / column value is sent as length -1. */
export const NULL_LENGTH = -1;

/** ErrorResponse / NoticeResponse field codes ("Error and Notice Message Fields"). */
export const FIELD = {
  severity: c('S'),
  severityNonLocalized: c('V'),
  code: c('C'),
  message: c('M'),
  detail: c('D'),
  hint: c('H'),
  position: c('P'),
  internalPosition: c('p'),
  internalQuery: c('q'),
  where: c('W'),
  schema: c('s'),
  table: c('t'),
  column: c('c'),
  dataType: c('d'),
  constraint: c('n'),
  file: c('F'),
  line: c('L'),
  routine: c('R'),
} as const;
