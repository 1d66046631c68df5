/**
 * Caps and malformed input. Bytes here are built by hand (not by the encoders under test).
 * Framing errors throw PgCodecError at once, before anything is buffered; bad bodies come back as
 * `Malformed` events with a stable code, and the stream goes on.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import {
  BackendParser,
  FrontendParser,
  PgCodecError,
  encodeBind,
  encodeQuery,
  encodeStartupMessage,
  type FrontendEvent,
  type BackendEvent,
  type PgCodecErrorCode,
} from '../../../protocols/postgres/codec/index.js';

const int32 = (v: number): number[] => [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
const int16 = (v: number): number[] => [(v >>> 8) & 0xff, v & 0xff];
const str = (s: string): number[] => [...Buffer.from(s, 'utf8'), 0];
/** A typed message with a correct length field. */
const msg = (type: string, ...body: number[][]): number[] => {
  const b = body.flat();
  return [type.charCodeAt(0), ...int32(b.length + 4), ...b];
};
/** An untyped startup-phase packet with a correct length field. */
const startupPacket = (...body: number[][]): number[] => {
  const b = body.flat();
  return [...int32(b.length + 4), ...b];
};
const u8 = (...parts: number[][]): Uint8Array => Uint8Array.from(parts.flat());
const STARTUP = startupPacket(int32(196608), str('user'), str('agent'), [0]);

function throwsCode(fn: () => unknown, code: PgCodecErrorCode): void {
  assert.throws(fn, (e: unknown) => e instanceof PgCodecError && e.code === code, `expected ${code}`);
}

function malformed(events: readonly (FrontendEvent | BackendEvent)[], code: PgCodecErrorCode): void {
  const m = events.find((e) => e.type === 'Malformed');
  assert.ok(m && m.type === 'Malformed', `expected a Malformed event, got ${events.map((e) => e.type).join(',')}`);
  assert.equal(m.error.code, code);
}

const typed = (): FrontendParser => new FrontendParser({ phase: 'typed' });

test('a header claiming 2 GiB fails on its fifth byte, with nothing allocated', () => {
  const before = process.memoryUsage().arrayBuffers;
  for (const [len, code] of [[0x80000000, 'PG_BAD_LENGTH'], [0xffffffff, 'PG_BAD_LENGTH'], [0x7fffffff, 'PG_MSG_TOO_LARGE']] as const) {
    const header = u8([0x51], int32(len)); // 'Q'
    const p = typed();
    for (let i = 0; i < 4; i++) {
      assert.deepEqual(p.push(header.subarray(i, i + 1)), []);
      assert.equal(p.bufferedBytes, i + 1, 'only the header bytes are held');
    }
    throwsCode(() => p.push(header.subarray(4)), code);
    throwsCode(() => p.push(u8(msg('S'))), 'PG_PARSER_FAILED');
    const whole = typed();
    throwsCode(() => whole.push(header), code);
  }
  const b = new BackendParser();
  throwsCode(() => b.push(u8([0x44], int32(0x7fffffff))), 'PG_MSG_TOO_LARGE'); // DataRow
  assert.ok(process.memoryUsage().arrayBuffers - before < 1024 * 1024, 'no large buffer was allocated');
});

test('the cap is 1 MiB by default, configurable, and checked on the length field', () => {
  const MiB = 1024 * 1024;
  const q = (bodyLen: number) => u8([0x51], int32(bodyLen + 4), new Array<number>(bodyLen - 1).fill(0x20), [0]);
  const ok = typed().push(q(MiB - 4));
  assert.equal(ok[0]?.type, 'Query');
  throwsCode(() => typed().push(u8([0x51], int32(MiB + 1))), 'PG_MSG_TOO_LARGE');
  const small = new FrontendParser({ phase: 'typed', maxMessageLength: 100 });
  assert.equal(small.push(q(96))[0]?.type, 'Query');
  throwsCode(() => small.push(u8([0x51], int32(101))), 'PG_MSG_TOO_LARGE');
  // A message split across chunks is held in one buffer of exactly its size, no more.
  const p = typed();
  const big = q(5000);
  p.push(big.subarray(0, 10));
  assert.equal(p.bufferedBytes, 10);
  p.push(big.subarray(10, 3000));
  assert.equal(p.bufferedBytes, 3000);
  assert.equal(p.push(big.subarray(3000))[0]?.type, 'Query');
  assert.equal(p.bufferedBytes, 0);
});

test('types small by nature have the server\'s small caps and fixed sizes', () => {
  throwsCode(() => typed().push(u8([0x44], int32(10001))), 'PG_MSG_TOO_LARGE'); // Describe
  throwsCode(() => typed().push(u8([0x70], int32(65536))), 'PG_MSG_TOO_LARGE'); // 'p' (auth token cap)
  throwsCode(() => typed().push(u8([0x53], int32(5))), 'PG_BAD_LENGTH'); // Sync is exactly 4
  throwsCode(() => typed().push(u8([0x58], int32(8))), 'PG_BAD_LENGTH'); // Terminate
  throwsCode(() => typed().push(u8([0x51], int32(3))), 'PG_BAD_LENGTH'); // below the length field
  throwsCode(() => typed().push(u8([0x51], int32(4))), 'PG_BAD_LENGTH'); // Query needs at least a NUL
  throwsCode(() => typed().push(u8([0x42], int32(-5))), 'PG_BAD_LENGTH'); // negative
  throwsCode(() => new BackendParser().push(u8([0x5a], int32(6))), 'PG_BAD_LENGTH'); // ReadyForQuery is 5
  throwsCode(() => new BackendParser().push(u8([0x43], int32(30001))), 'PG_MSG_TOO_LARGE'); // CommandComplete, libpq's limit
  throwsCode(() => new BackendParser().push(u8([0x4b], int32(4 + 4 + 257))), 'PG_MSG_TOO_LARGE'); // BackendKeyData, key > 256
});

test('unknown type bytes are refused in each direction', () => {
  throwsCode(() => typed().push(u8(msg('Z', [0x49]))), 'PG_UNKNOWN_MESSAGE'); // ReadyForQuery is backend-only
  throwsCode(() => typed().push(u8([0x00, 0, 0, 0, 4])), 'PG_UNKNOWN_MESSAGE');
  throwsCode(() => new BackendParser().push(u8(msg('Q', str('x')))), 'PG_UNKNOWN_MESSAGE');
  throwsCode(() => new BackendParser().push(u8(msg('P', str('x')))), 'PG_UNKNOWN_MESSAGE');
});

test('startup packets: lengths, TLS, versions, duplicate parameters', () => {
  throwsCode(() => new FrontendParser().push(u8(int32(7))), 'PG_BAD_LENGTH');
  throwsCode(() => new FrontendParser().push(u8(int32(10001))), 'PG_MSG_TOO_LARGE');
  throwsCode(() => new FrontendParser({ maxStartupLength: 20 }).push(u8(int32(21))), 'PG_MSG_TOO_LARGE');
  // A TLS ClientHello (direct SSL) where a startup packet belongs.
  throwsCode(() => new FrontendParser().push(u8([0x16, 0x03, 0x01, 0x02, 0x00, 0x01])), 'PG_TLS_HANDSHAKE');
  malformed(new FrontendParser().push(u8(startupPacket(int32(2 << 16), [0]))), 'PG_UNSUPPORTED_PROTOCOL');
  malformed(new FrontendParser().push(u8(startupPacket(int32((1234 << 16) | 9999)))), 'PG_UNKNOWN_MESSAGE');
  malformed(new FrontendParser().push(u8(startupPacket(int32(80877103), int32(0)))), 'PG_BAD_LENGTH'); // SSLRequest is 8 bytes
  malformed(new FrontendParser().push(u8(startupPacket(int32(196608), str('user'), str('a'), str('user'), str('b'), [0]))), 'PG_DUPLICATE_PARAMETER');
  malformed(new FrontendParser().push(u8(startupPacket(int32(196608), str('user'), str('a')))), 'PG_BAD_STRING'); // no list terminator
  malformed(new FrontendParser().push(u8(startupPacket(int32(196608), str('user'), str('a'), [0], [7]))), 'PG_TRAILING_BYTES');

  const v32 = new FrontendParser().push(u8(startupPacket(int32(196610), str('user'), str('a'), str('_pq_.x'), str('1'), [0])));
  assert.ok(v32[0]?.type === 'StartupMessage');
  assert.deepEqual([v32[0].majorVersion, v32[0].minorVersion, v32[0].parameters.get('_pq_.x')], [3, 2, '1']);
});

test('SSLRequest and GSSENCRequest keep the parser in the startup phase; StartupMessage leaves it', () => {
  const p = new FrontendParser();
  const out = p.push(u8(startupPacket(int32(80877104)), startupPacket(int32(80877103)), STARTUP, msg('Q', str('SELECT 1'))));
  assert.deepEqual(out.map((m) => m.type), ['GSSENCRequest', 'SSLRequest', 'StartupMessage', 'Query']);
  assert.equal(p.phase, 'typed');
});

test('CancelRequest: 4-byte keys (3.0), longer keys (3.2), nothing after it', () => {
  const key32 = Array.from({ length: 32 }, (_, i) => i);
  const long = new FrontendParser().push(u8(startupPacket(int32(80877102), int32(1234), key32)));
  assert.ok(long[0]?.type === 'CancelRequest');
  assert.equal(long[0].processId, 1234);
  assert.deepEqual([...long[0].secretKey], key32);
  malformed(new FrontendParser().push(u8(startupPacket(int32(80877102), int32(1), [1, 2, 3]))), 'PG_BAD_LENGTH');
  malformed(new FrontendParser().push(u8(startupPacket(int32(80877102), int32(1), new Array<number>(257).fill(1)))), 'PG_BAD_LENGTH');
  const p = new FrontendParser();
  p.push(u8(startupPacket(int32(80877102), int32(1), int32(2))));
  assert.equal(p.phase, 'closed');
  throwsCode(() => p.push(u8([0x51])), 'PG_UNEXPECTED_DATA');
});

test('nothing may follow Terminate', () => {
  const p = typed();
  assert.equal(p.push(u8(msg('X')))[0]?.type, 'Terminate');
  throwsCode(() => p.push(u8(msg('Q', str('DROP TABLE x')))), 'PG_UNEXPECTED_DATA');
});

test('a stream that ends inside a message is truncated', () => {
  const q = u8(msg('Q', str('SELECT 1')));
  for (const cut of [1, 4, 5, 9, q.length - 1]) {
    const p = typed();
    p.push(q.subarray(0, cut));
    throwsCode(() => p.end(), 'PG_MSG_TRUNCATED');
  }
  const p = typed();
  p.push(q);
  p.end();
  const startup = new FrontendParser();
  startup.push(u8(STARTUP).subarray(0, 6));
  throwsCode(() => startup.end(), 'PG_MSG_TRUNCATED');
});

test('bad bodies are Malformed with a stable code, and the next message still parses', () => {
  const cases: [number[], PgCodecErrorCode][] = [
    [msg('Q', [...Buffer.from('SELECT 1')]), 'PG_BAD_STRING'], // missing NUL
    [msg('Q', str('SELECT 1'), [0x41]), 'PG_TRAILING_BYTES'],
    [msg('Q', [0x53, 0xff, 0xfe, 0]), 'PG_BAD_UTF8'],
    [msg('Q', [0x27, 0xc0, 0xa7, 0x27, 0]), 'PG_BAD_UTF8'], // overlong quote: must not become '
    [msg('P', str(''), str('SELECT $1'), int16(-1)), 'PG_BAD_FIELD'],
    [msg('P', str(''), str('SELECT $1'), int16(2), int32(23)), 'PG_MSG_TRUNCATED'],
    [msg('B', str(''), str(''), int16(0), int16(-1), int16(0)), 'PG_BAD_FIELD'], // negative parameter count
    [msg('B', str(''), str(''), int16(0), int16(1), int32(-2), int16(0)), 'PG_BAD_FIELD'], // length below -1
    [msg('B', str(''), str(''), int16(0), int16(1), int32(100), [1, 2], int16(0)), 'PG_MSG_TRUNCATED'],
    [msg('B', str(''), str(''), int16(2), int16(0), int16(0), int16(3), int32(-1), int32(-1), int32(-1), int16(0)), 'PG_BAD_FIELD'], // 2 formats, 3 params
    [msg('B', str(''), str(''), int16(1), int16(2), int16(0), int16(0)), 'PG_BAD_FIELD'], // format code 2
    [msg('D', [0x58], str('')), 'PG_BAD_FIELD'], // Describe target must be S or P
    [msg('E', str(''), int32(-1)), 'PG_BAD_FIELD'],
    [msg('F', int32(1), int16(0), int16(1), int32(-7), int16(0)), 'PG_BAD_FIELD'],
  ];
  for (const [bytes, code] of cases) {
    const p = typed();
    const out = p.push(u8(bytes, msg('S')));
    malformed(out, code);
    assert.equal(out[0]?.raw.length, bytes.length, 'the malformed message keeps its exact bytes');
    assert.equal(out[1]?.type, 'Sync', `${code}: the stream goes on`);
  }
});

test("'p' helpers refuse bodies that do not match the authentication state", async () => {
  const { decodePassword, decodeSaslInitialResponse, passwordMessageKind } = await import('../../../protocols/postgres/codec/index.js');
  const [pw] = typed().push(u8(msg('p', [0x61, 0x62]))); // no NUL
  assert.ok(pw?.type === 'PasswordMessage');
  throwsCode(() => decodePassword(pw), 'PG_BAD_STRING');
  throwsCode(() => decodeSaslInitialResponse(pw), 'PG_BAD_STRING');
  const [sasl] = typed().push(u8(msg('p', str('SCRAM-SHA-256'), int32(-1))));
  assert.ok(sasl?.type === 'PasswordMessage');
  assert.deepEqual(decodeSaslInitialResponse(sasl), { mechanism: 'SCRAM-SHA-256', data: null });
  assert.equal(passwordMessageKind(10), 'sasl-initial');
  assert.equal(passwordMessageKind(5), 'password');
  throwsCode(() => passwordMessageKind(0), 'PG_UNKNOWN_MESSAGE');
});

test('backend: the 1-byte encryption answers only where expected', () => {
  const ssl = new BackendParser();
  ssl.expectEncryptionResponse('ssl');
  assert.deepEqual(ssl.push(u8([0x53])).map((m) => m.type === 'EncryptionResponse' && m.accepted), [true]);
  const gss = new BackendParser();
  gss.expectEncryptionResponse('gss');
  const g = gss.push(u8([0x47]));
  assert.ok(g[0]?.type === 'EncryptionResponse' && g[0].request === 'gss' && g[0].accepted);
  // An old server answering with an ErrorResponse.
  const old = new BackendParser();
  old.expectEncryptionResponse('ssl');
  const e = old.push(u8(msg('E', [0x53], str('FATAL'), [0x43], str('08P01'), [0x4d], str('unsupported'), [0])));
  assert.equal(e[0]?.type, 'ErrorResponse');
  // Unexpected, an 'N' is the start of a NoticeResponse.
  const plain = new BackendParser();
  assert.deepEqual(plain.push(u8([0x4e])), []);
  assert.equal(plain.bufferedBytes, 1);
  // Split: the expectation holds until the byte arrives.
  const split = new BackendParser();
  split.expectEncryptionResponse('ssl');
  assert.deepEqual(split.push(new Uint8Array(0)), []);
  assert.equal(split.push(u8([0x4e], msg('R', int32(0))))[1]?.type, 'AuthenticationOk');
});

test('backend bodies: keys, status, auth codes, notices', () => {
  const key32 = new Array<number>(32).fill(9);
  const k = new BackendParser().push(u8(msg('K', int32(7), key32)));
  assert.ok(k[0]?.type === 'BackendKeyData' && k[0].secretKey.length === 32);
  malformed(new BackendParser().push(u8(msg('Z', [0x58]))), 'PG_BAD_FIELD');
  malformed(new BackendParser().push(u8(msg('R', int32(5), [1, 2, 3]))), 'PG_MSG_TRUNCATED'); // MD5 salt is 4 bytes
  malformed(new BackendParser().push(u8(msg('R', int32(0), [1]))), 'PG_TRAILING_BYTES');
  malformed(new BackendParser().push(u8(msg('R', int32(10), str('SCRAM-SHA-256')))), 'PG_BAD_STRING'); // list not terminated
  malformed(new BackendParser().push(u8(msg('E', [0x53], str('ERROR')))), 'PG_MSG_TRUNCATED'); // no final 0
  malformed(new BackendParser().push(u8(msg('T', int16(1), str('a'), int32(0), int16(0), int32(23), int16(4), int32(-1), int16(7)))), 'PG_BAD_FIELD');
  malformed(new BackendParser().push(u8(msg('v', int32(0), int32(-1)))), 'PG_BAD_FIELD');
  const other = new BackendParser().push(u8(msg('R', int32(8), [1, 2, 3])));
  assert.ok(other[0]?.type === 'AuthenticationOther' && other[0].code === 8 && other[0].data.length === 3);
});

test('CopyData above the cap streams in parts when asked, and is refused otherwise', () => {
  const body = new Uint8Array(3000).fill(0x61);
  const copy = u8([0x64], int32(3004), [...body]);
  throwsCode(() => new FrontendParser({ phase: 'typed', maxMessageLength: 1000 }).push(copy), 'PG_MSG_TOO_LARGE');
  const p = new FrontendParser({ phase: 'typed', maxMessageLength: 1000, streamCopyData: true });
  const parts = [...p.push(copy.subarray(0, 3)), ...p.push(copy.subarray(3, 1500)), ...p.push(copy.subarray(1500)), ...p.push(u8(msg('c')))];
  assert.deepEqual(parts.map((e) => e.type), ['MessagePart', 'MessagePart', 'CopyDone']);
  assert.equal(p.bufferedBytes, 0);
  assert.deepEqual(Buffer.concat(parts.slice(0, 2).map((e) => e.raw)), Buffer.from(copy));
  throwsCode(() => new FrontendParser({ phase: 'typed', streamCopyData: true, maxStreamedLength: 2000 }).push(copy), 'PG_MSG_TOO_LARGE');
  // Only CopyData streams: a Query above the cap is still refused.
  throwsCode(() => new FrontendParser({ phase: 'typed', maxMessageLength: 1000, streamCopyData: true }).push(u8([0x51], int32(3004))), 'PG_MSG_TOO_LARGE');
});

test('encoders refuse values the wire cannot carry', () => {
  throwsCode(() => encodeQuery('SELECT 1\0; DROP TABLE x'), 'PG_BAD_VALUE');
  throwsCode(() => encodeStartupMessage({ user: 'a\0b' }), 'PG_BAD_VALUE');
  throwsCode(() => encodeStartupMessage({ '': 'x' }), 'PG_BAD_VALUE');
  throwsCode(() => encodeBind({ parameters: new Array<null>(65536).fill(null) }), 'PG_BAD_VALUE');
  throwsCode(() => encodeBind({ resultFormats: [70000] }), 'PG_BAD_VALUE');
});
