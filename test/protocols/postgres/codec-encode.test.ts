/**
 * Encoders for answering the agent ourselves: compared with the bytes a real server sent in the
 * captures, parsed back, and finally spoken to a real psql (our messages play the server).
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { promisify } from 'node:util';
import {
  BackendParser,
  FrontendParser,
  encodeAuthenticationCleartextPassword,
  encodeAuthenticationMD5Password,
  encodeAuthenticationOk,
  encodeAuthenticationSASL,
  encodeAuthenticationSASLContinue,
  encodeAuthenticationSASLFinal,
  encodeBackendKeyData,
  encodeCommandComplete,
  encodeEmptyQueryResponse,
  encodeEncryptionResponse,
  encodeErrorResponse,
  encodeNoticeResponse,
  encodeParameterStatus,
  encodeReadyForQuery,
  encodeSSLRequest,
  encodeStartupMessage,
  decodePassword,
  noticeFields,
  type FrontendEvent,
} from '../../../protocols/postgres/codec/index.js';
import { parseWhole, session } from './fixtures/sessions.js';

const execFileP = promisify(execFile);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

test('encoders reproduce what the real server and psql sent', () => {
  const s = session('psql-scram');
  const be = parseWhole(s, 'backend');
  const fe = parseWhole(s, 'frontend');
  const raw = (type: string, pred: (m: never) => boolean = () => true) => {
    const m = [...be, ...fe].find((x) => x.type === type && pred(x as never));
    assert.ok(m, type);
    return hex(m.raw);
  };
  assert.equal(hex(encodeEncryptionResponse('ssl', false)), raw('EncryptionResponse'));
  assert.equal(hex(encodeSSLRequest()), raw('SSLRequest'));
  assert.equal(hex(encodeStartupMessage({ user: 'agent', database: 'app', application_name: 'psql' })), raw('StartupMessage'));
  assert.equal(hex(encodeAuthenticationSASL(['SCRAM-SHA-256'])), raw('AuthenticationSASL'));
  assert.equal(hex(encodeAuthenticationOk()), raw('AuthenticationOk'));
  assert.equal(hex(encodeParameterStatus('client_encoding', 'UTF8')), raw('ParameterStatus', (m: { name: string }) => m.name === 'client_encoding'));
  assert.equal(hex(encodeReadyForQuery('I')), raw('ReadyForQuery', (m: { status: string }) => m.status === 'I'));
  assert.equal(hex(encodeReadyForQuery('T')), raw('ReadyForQuery', (m: { status: string }) => m.status === 'T'));
  assert.equal(hex(encodeEmptyQueryResponse()), raw('EmptyQueryResponse'));
  assert.equal(hex(encodeCommandComplete('CREATE TABLE')), raw('CommandComplete', (m: { tag: string }) => m.tag === 'CREATE TABLE'));
  const key = be.find((m) => m.type === 'BackendKeyData');
  assert.ok(key?.type === 'BackendKeyData');
  const keyInt = Buffer.from(key.secretKey).readInt32BE(0);
  assert.equal(hex(encodeBackendKeyData(key.processId, keyInt)), hex(key.raw), 'a 3.0 key given as an Int32');
  assert.equal(hex(encodeBackendKeyData(key.processId, key.secretKey)), hex(key.raw), 'the same key given as bytes');
  const err = be.find((m) => m.type === 'ErrorResponse');
  assert.ok(err?.type === 'ErrorResponse');
  assert.equal(hex(encodeErrorResponse(noticeFields(err.fields))), hex(err.raw));
  const md5 = parseWhole(session('psql-md5'), 'backend').find((m) => m.type === 'AuthenticationMD5Password');
  assert.ok(md5?.type === 'AuthenticationMD5Password');
  assert.equal(hex(encodeAuthenticationMD5Password(md5.salt)), hex(md5.raw));
});

test('a policy denial parses back with its fields, and V defaults to S', () => {
  const deny = encodeErrorResponse({ severity: 'ERROR', code: '42501', message: 'denied by policy: rule "no-drops"', detail: 'DROP on public.users', hint: 'ask for approval' });
  const [m] = new BackendParser().push(deny);
  assert.ok(m?.type === 'ErrorResponse');
  assert.deepEqual([...m.fields], [['S', 'ERROR'], ['V', 'ERROR'], ['C', '42501'], ['M', 'denied by policy: rule "no-drops"'], ['D', 'DROP on public.users'], ['H', 'ask for approval']]);
  const notice = encodeNoticeResponse({ severity: 'WARNING', code: '01000', message: 'approved by a human', other: new Map([['X', 'future field']]) });
  const [n] = new BackendParser().push(notice);
  assert.ok(n?.type === 'NoticeResponse');
  assert.equal(n.fields.get('X'), 'future field');
  assert.equal(noticeFields(n.fields).other?.get('X'), 'future field');
  for (const b of [encodeAuthenticationSASLContinue(Buffer.from('r=x,s=y,i=1')), encodeAuthenticationSASLFinal(Buffer.from('v=abc')), encodeAuthenticationCleartextPassword()]) {
    const [a] = new BackendParser().push(b);
    assert.ok(a && a.type.startsWith('Authentication'));
    assert.equal(hex(a.raw), hex(b));
  }
  const key = Uint8Array.from({ length: 32 }, (_, i) => i);
  const [k] = new BackendParser().push(encodeBackendKeyData(42, key));
  assert.ok(k?.type === 'BackendKeyData' && hex(k.secretKey) === hex(key));
});

test('real psql accepts our encoded server side: cleartext auth, session, a denial, then a working session', async () => {
  const seen: FrontendEvent[] = [];
  const server = createServer((sock: Socket) => {
    const parser = new FrontendParser();
    sock.on('error', () => {});
    sock.on('data', (d: Buffer) => {
      for (const m of parser.push(d)) {
        seen.push(m);
        if (m.type === 'SSLRequest') sock.write(encodeEncryptionResponse('ssl', false));
        else if (m.type === 'StartupMessage') sock.write(encodeAuthenticationCleartextPassword());
        else if (m.type === 'PasswordMessage') {
          assert.equal(decodePassword(m), 'agent-typed-this');
          sock.write(
            Buffer.concat([
              encodeAuthenticationOk(),
              encodeParameterStatus('server_version', '15.0 (bailiff)'),
              encodeParameterStatus('client_encoding', 'UTF8'),
              encodeParameterStatus('standard_conforming_strings', 'on'),
              encodeBackendKeyData(1, 2),
              encodeReadyForQuery('I'),
            ]),
          );
        } else if (m.type === 'Query') {
          const denied = /drop/i.test(m.query);
          sock.write(
            denied
              ? Buffer.concat([encodeErrorResponse({ severity: 'ERROR', code: '42501', message: 'denied by policy: rule "no-drops"', hint: 'ask a human' }), encodeReadyForQuery('I')])
              : Buffer.concat([encodeCommandComplete('SET'), encodeReadyForQuery('I')]),
          );
        } else if (m.type === 'Terminate') sock.end();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  try {
    const r = await execFileP('psql', ['-X', '-h', '127.0.0.1', '-p', String(port), '-U', 'agent', '-d', 'app', '-c', 'DROP TABLE users', '-c', 'SET x.y = 1'], {
      env: { ...process.env, PGPASSWORD: 'agent-typed-this', PGGSSENCMODE: 'disable' },
      timeout: 20_000,
    }).catch((e: { stdout: string; stderr: string; code: number }) => e);
    assert.match(r.stderr, /ERROR:\s+denied by policy: rule "no-drops"/);
    assert.match(r.stderr, /HINT:\s+ask a human/);
    assert.match(r.stdout, /^SET$/m, 'the session stays usable after the denial');
    assert.deepEqual(seen.map((m) => m.type), ['SSLRequest', 'StartupMessage', 'PasswordMessage', 'Query', 'Query', 'Terminate']);
  } finally {
    await new Promise((r) => server.close(r));
  }
});
