/**
 * The codec against a real PostgreSQL 15 (started here, stopped by PID, data dir deleted):
 * our SCRAM-SHA-256 client (with SASLprep) and MD5 authenticate real connections, and messages
 * built by our encoders run the extended protocol, COPY and a cancel.
 */
import { strict as assert } from 'node:assert';
import { after, before, test } from 'node:test';
import {
  encodeBind,
  encodeCancelRequest,
  encodeClose,
  encodeCopyData,
  encodeCopyDone,
  encodeCopyFail,
  encodeDescribe,
  encodeExecute,
  encodeParse,
  encodeQuery,
  encodeSync,
  encodeTerminate,
  noticeFields,
  type BackendEvent,
} from '../../../protocols/postgres/codec/index.js';
import { AGENT_PASSWORD, MD5_PASSWORD, UNICODE_PASSWORD, pgServerUnavailable, startPgServer, type PgServer } from './fixtures/pg-server.js';
import { WireClient } from './fixtures/wire-client.js';

let server: PgServer | undefined;

before(async () => {
  const why = pgServerUnavailable();
  if (why) throw new Error(why);
  server = await startPgServer();
});

after(async () => {
  await server?.stop();
});

const text = (v: Uint8Array | null | undefined): string | null => (v == null ? null : Buffer.from(v).toString());
const types = (ms: BackendEvent[]): string[] => ms.map((m) => m.type);

test('SSLRequest is answered N; SCRAM-SHA-256 by our client authenticates, the server proves itself', async () => {
  const c = await WireClient.connect(server!.port);
  try {
    c.sslRequest();
    const n = await c.next();
    assert.ok(n.type === 'EncryptionResponse' && !n.accepted);
    const seen = await c.login('agent', AGENT_PASSWORD);
    assert.deepEqual(types(seen).slice(0, 4), ['AuthenticationSASL', 'AuthenticationSASLContinue', 'AuthenticationSASLFinal', 'AuthenticationOk']);
    assert.equal(seen.at(-1)?.type, 'ReadyForQuery');
    assert.ok(seen.some((m) => m.type === 'ParameterStatus' && m.name === 'session_authorization' && m.value === 'agent'));
  } finally {
    c.close();
  }
});

test('SASLprep: a password with ligature, no-break space, soft hyphen and a roman numeral authenticates', async () => {
  const c = await WireClient.connect(server!.port);
  try {
    const seen = await c.login('unicode', UNICODE_PASSWORD, 'postgres');
    assert.equal(seen.at(-1)?.type, 'ReadyForQuery', JSON.stringify(types(seen)));
  } finally {
    c.close();
  }
});

test('MD5 authenticates; a wrong password gets 28P01', async () => {
  const md5 = await WireClient.connect(server!.port);
  const bad = await WireClient.connect(server!.port);
  try {
    const ok = await md5.login('md5user', MD5_PASSWORD, 'postgres');
    assert.ok(ok.some((m) => m.type === 'AuthenticationMD5Password'));
    assert.equal(ok.at(-1)?.type, 'ReadyForQuery');
    const no = await bad.login('agent', 'not-the-password');
    const err = no.at(-1);
    assert.ok(err?.type === 'ErrorResponse');
    assert.equal(noticeFields(err.fields).code, '28P01');
  } finally {
    md5.close();
    bad.close();
  }
});

test('extended protocol from our encoders: parameters (NULL, binary), describe, portal row limit, close', async () => {
  const c = await WireClient.connect(server!.port);
  try {
    await c.login('agent', AGENT_PASSWORD);
    c.send(
      encodeParse('s1', 'SELECT $1::int4 + 1 AS next, $2::text IS NULL AS was_null, g FROM generate_series(1, 3) g', [23, 25]),
      encodeDescribe('statement', 's1'),
      encodeBind({ portal: 'p1', statement: 's1', parameterFormats: [1, 0], parameters: [Uint8Array.of(0, 0, 0, 41), null], resultFormats: [1, 0, 0] }),
      encodeExecute('p1', 2),
      encodeExecute('p1', 0),
      encodeClose('portal', 'p1'),
      encodeClose('statement', 's1'),
      encodeSync(),
    );
    const { seen } = await c.until('ReadyForQuery');
    assert.deepEqual(types(seen), [
      'ParseComplete', 'ParameterDescription', 'RowDescription', 'BindComplete', 'DataRow', 'DataRow', 'PortalSuspended', 'DataRow', 'CommandComplete', 'CloseComplete', 'CloseComplete', 'ReadyForQuery',
    ]);
    const pd = seen[1];
    assert.ok(pd?.type === 'ParameterDescription');
    assert.deepEqual(pd.typeOids, [23, 25]);
    const row = seen[4];
    assert.ok(row?.type === 'DataRow');
    assert.deepEqual([...row.values[0]!], [0, 0, 0, 42], 'binary int4');
    assert.deepEqual([text(row.values[1]), text(row.values[2])], ['t', '1']);
  } finally {
    c.close();
  }
});

test('COPY FROM STDIN with CopyData/CopyDone, and CopyFail aborts', async () => {
  const c = await WireClient.connect(server!.port);
  try {
    await c.login('agent', AGENT_PASSWORD);
    c.send(encodeQuery('CREATE TEMP TABLE t (a int, b text); COPY t FROM STDIN'));
    await c.until('CopyInResponse');
    c.send(encodeCopyData(Buffer.from('1\tone\n2\t\\N\n')), encodeCopyDone());
    const done = await c.until('ReadyForQuery');
    assert.ok(done.seen.some((m) => m.type === 'CommandComplete' && m.tag === 'COPY 2'));
    c.send(encodeQuery('COPY t FROM STDIN'));
    await c.until('CopyInResponse');
    c.send(encodeCopyFail('stopped by the client'));
    const failed = await c.until('ReadyForQuery');
    const err = failed.seen.find((m) => m.type === 'ErrorResponse');
    assert.ok(err?.type === 'ErrorResponse' && /stopped by the client/.test(err.fields.get('M') ?? ''));
    c.send(encodeQuery('SELECT count(*) FROM t'));
    const count = await c.until('ReadyForQuery');
    assert.ok(count.seen.some((m) => m.type === 'DataRow' && text(m.values[0]) === '2'));
    c.send(encodeTerminate());
    await c.waitClosed();
  } finally {
    c.close();
  }
});

test('CancelRequest built from BackendKeyData cancels a running statement', async () => {
  const c = await WireClient.connect(server!.port);
  try {
    const seen = await c.login('agent', AGENT_PASSWORD);
    const key = seen.find((m) => m.type === 'BackendKeyData');
    assert.ok(key?.type === 'BackendKeyData');
    c.send(encodeQuery('SELECT pg_sleep(30)'));
    await new Promise((r) => setTimeout(r, 300));
    const canceller = await WireClient.connect(server!.port);
    canceller.send(encodeCancelRequest(key.processId, key.secretKey));
    await canceller.waitClosed();
    canceller.close();
    const { seen: after } = await c.until('ReadyForQuery');
    const err = after.find((m) => m.type === 'ErrorResponse');
    assert.ok(err?.type === 'ErrorResponse');
    assert.equal(err.fields.get('C'), '57014');
  } finally {
    c.close();
  }
});
