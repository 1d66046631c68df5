/**
 * The codec on real bytes: sessions captured between psql / pgbench and PostgreSQL 15
 * (fixtures/README.md). Every stream is parsed whole, split at every offset, in random and in
 * the recorded chunkings, streamed in parts; every message is re-encoded from its fields and
 * compared with the captured bytes.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import {
  BackendParser,
  FrontendParser,
  decodePassword,
  decodeSaslInitialResponse,
  decodeSaslResponse,
  encodeBackendMessage,
  encodeFrontendMessage,
  encodePasswordMessage,
  encodeSASLInitialResponse,
  encodeSASLResponse,
  md5Password,
  noticeFields,
  encodeErrorResponse,
  encodeNoticeResponse,
  scramClientFinal,
  scramClientFirst,
  verifyScramServerFinal,
  type BackendEvent,
  type FrontendEvent,
  type MessagePart,
} from '../../../protocols/postgres/codec/index.js';
import { AGENT_PASSWORD, MD5_PASSWORD } from './fixtures/pg-server.js';
import { backendParserFor, canon, chunked, loadSessions, parseWhole, session, type Session } from './fixtures/sessions.js';

type Dir = 'frontend' | 'backend';
type Event = FrontendEvent | BackendEvent;
const SESSIONS = loadSessions();
const DIRS: Dir[] = ['frontend', 'backend'];
const STARTUP_TYPES = new Set(['SSLRequest', 'GSSENCRequest', 'CancelRequest', 'StartupMessage']);

const bytesOf = (s: Session, d: Dir): Uint8Array => (d === 'frontend' ? s.frontend : s.backend);

/** A parser positioned at message `index` of a session's stream. */
function parserAt(s: Session, d: Dir, ref: readonly Event[], index: number, opts: { copy?: boolean; stream?: boolean } = {}): { push(b: Uint8Array): Event[]; end(): void } {
  if (d === 'frontend') {
    const startup = index === 0 || (index < ref.length && STARTUP_TYPES.has(ref[index]!.type));
    return new FrontendParser({ phase: startup ? 'startup' : 'typed', copy: opts.copy ?? false, streamCopyData: opts.stream ?? false });
  }
  const p = new BackendParser({ copy: opts.copy ?? false, streamCopyData: opts.stream ?? false, streamDataRows: opts.stream ?? false });
  if (index === 0 && s.sslRequested) p.expectEncryptionResponse('ssl');
  return p;
}

function parseChunks(s: Session, d: Dir, chunks: readonly Uint8Array[], opts: { copy?: boolean; stream?: boolean } = {}): Event[] {
  const p = parserAt(s, d, [], 0, opts);
  const out: Event[] = [];
  for (const c of chunks) out.push(...p.push(c));
  p.end();
  return out;
}

/** Same type and same bytes (decoding is a function of both, so this is cheap equality). */
function sameFrame(a: Event, b: Event): boolean {
  return a.type === b.type && Buffer.compare(a.raw, b.raw) === 0;
}

/** Deterministic PRNG so a failing chunking can be replayed. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('every captured stream parses whole, with no malformed message and nothing left over', () => {
  const seen = { frontend: new Set<string>(), backend: new Set<string>() };
  for (const s of SESSIONS) {
    for (const d of DIRS) {
      const msgs = parseWhole(s, d);
      const total = msgs.reduce((n, m) => n + m.raw.length, 0);
      assert.equal(total, bytesOf(s, d).length, `${s.name} ${d}: raws cover the stream`);
      for (const m of msgs) {
        assert.notEqual(m.type, 'Malformed', `${s.name} ${d}: ${canon(m).slice(0, 200)}`);
        seen[d].add(m.type);
      }
    }
  }
  // The captures exercise these (the rest is covered by unit tests on built bytes).
  for (const t of ['SSLRequest', 'StartupMessage', 'CancelRequest', 'PasswordMessage', 'Query', 'Parse', 'Bind', 'Describe', 'Execute', 'Sync', 'CopyData', 'CopyDone', 'FunctionCall', 'Terminate']) {
    assert.ok(seen.frontend.has(t), `frontend capture has ${t}`);
  }
  for (const t of [
    'EncryptionResponse', 'AuthenticationSASL', 'AuthenticationSASLContinue', 'AuthenticationSASLFinal', 'AuthenticationMD5Password', 'AuthenticationOk',
    'ParameterStatus', 'BackendKeyData', 'ReadyForQuery', 'RowDescription', 'DataRow', 'CommandComplete', 'EmptyQueryResponse', 'ErrorResponse',
    'NoticeResponse', 'ParseComplete', 'BindComplete', 'NoData', 'ParameterDescription', 'CopyInResponse', 'CopyOutResponse', 'CopyData', 'CopyDone',
    'NotificationResponse', 'NegotiateProtocolVersion', 'FunctionCallResponse',
  ]) {
    assert.ok(seen.backend.has(t), `backend capture has ${t}`);
  }
});

test('captured messages carry the values the clients and server sent', () => {
  const psql = session('psql-scram');
  const fe = parseWhole(psql, 'frontend');
  const startup = fe.find((m) => m.type === 'StartupMessage');
  assert.ok(startup?.type === 'StartupMessage');
  assert.equal(startup.protocolVersion, 196608);
  assert.deepEqual([...startup.parameters], [['user', 'agent'], ['database', 'app'], ['application_name', 'psql']]);
  assert.ok(fe.some((m) => m.type === 'Query' && m.query === "SELECT 'ünïcode ✓' AS text, repeat('x', 3000) AS long;"));
  const copy = fe.find((m) => m.type === 'CopyData');
  assert.ok(copy?.type === 'CopyData');
  assert.equal(Buffer.from(copy.data).toString(), '1\tapple\t1.50\n2\tpear\t\\N\n3\tfig\t0.25\n\\.\n');

  const be = parseWhole(psql, 'backend');
  const err = be.find((m) => m.type === 'ErrorResponse');
  assert.ok(err?.type === 'ErrorResponse');
  const f = noticeFields(err.fields);
  assert.equal(f.code, '42P01');
  assert.equal(f.severity, 'ERROR');
  assert.equal(f.message, 'relation "no_such_table" does not exist');
  assert.equal(f.position, '15');
  const notify = be.find((m) => m.type === 'NotificationResponse');
  assert.ok(notify?.type === 'NotificationResponse');
  assert.deepEqual([notify.channel, notify.payload], ['bailiff_channel', 'hello']);
  assert.ok(be.some((m) => m.type === 'DataRow' && m.values.length === 2 && m.values[1]?.length === 3000));

  const cancelled = parseWhole(session('psql-cancelled'), 'backend');
  const key = cancelled.find((m) => m.type === 'BackendKeyData');
  const [cancel] = parseWhole(session('cancel-request'), 'frontend');
  assert.ok(key?.type === 'BackendKeyData' && cancel?.type === 'CancelRequest');
  assert.equal(cancel.processId, key.processId, 'libpq cancels the backend it was told about');
  assert.deepEqual(cancel.secretKey, key.secretKey);
  assert.equal(cancel.secretKey.length, 4);
  assert.ok(cancelled.some((m) => m.type === 'ErrorResponse' && m.fields.get('C') === '57014'));

  const nego = parseWhole(session('negotiate-3.2'), 'backend')[0];
  assert.ok(nego?.type === 'NegotiateProtocolVersion');
  assert.equal(nego.newestMinorVersion, 196608, 'PG 15 offers 3.0 back');
  assert.deepEqual(nego.unrecognizedOptions, ['_pq_.bailiff_test']);

  const bench = parseWhole(session('pgbench-extended'), 'frontend');
  const bind = bench.find((m) => m.type === 'Bind' && m.parameters.length === 2);
  assert.ok(bind?.type === 'Bind');
  assert.deepEqual(bind.resultFormats, [0]);
  assert.equal(bench.filter((m) => m.type === 'Sync').length, 200 * 7);
});

test('every split point gives the same messages (each offset, a window of three messages around it)', () => {
  for (const s of SESSIONS) {
    for (const d of DIRS) {
      const bytes = bytesOf(s, d);
      const ref = parseWhole(s, d);
      const refCanon = ref.map(canon);
      const bounds = [0];
      for (const m of ref) bounds.push(bounds[bounds.length - 1]! + m.raw.length);
      let j = 0;
      for (let k = 1; k < bytes.length; k++) {
        while (bounds[j + 1]! <= k) j++;
        const i0 = Math.max(0, j - 1);
        const i1 = Math.min(ref.length, j + 2);
        const window = bytes.subarray(bounds[i0]!, bounds[i1]!);
        const cut = k - bounds[i0]!;
        const p = parserAt(s, d, ref, i0);
        const out = [...p.push(window.subarray(0, cut)), ...p.push(window.subarray(cut))];
        p.end();
        // Type and bytes for the window; full decoded equality for the message cut in two.
        const same = out.length === i1 - i0 && out.every((m, x) => sameFrame(m, ref[i0 + x]!)) && canon(out[j - i0]!) === refCanon[j];
        if (!same) assert.deepEqual(out.map(canon), refCanon.slice(i0, i1), `${s.name} ${d} split at ${k}`);
      }
    }
  }
});

test('small sessions: every split point of the whole stream gives the same message list (phase changes included)', () => {
  for (const s of SESSIONS) {
    for (const d of DIRS) {
      const bytes = bytesOf(s, d);
      if (bytes.length > 10_000) continue;
      const ref = parseWhole(s, d);
      for (let k = 0; k <= bytes.length; k++) {
        const got = parseChunks(s, d, [bytes.subarray(0, k), bytes.subarray(k)]);
        if (got.length !== ref.length || !got.every((m, x) => sameFrame(m, ref[x]!))) {
          assert.deepEqual(got.map(canon), ref.map(canon), `${s.name} ${d} split at ${k}`);
        }
      }
    }
  }
});

test('random chunkings, one byte at a time and the recorded chunking give the same messages', () => {
  const rand = mulberry32(0x5eed);
  for (const s of SESSIONS) {
    for (const d of DIRS) {
      const bytes = bytesOf(s, d);
      const ref = parseWhole(s, d).map(canon);
      const recorded = chunked(bytes, d === 'frontend' ? s.frontendChunks : s.backendChunks);
      assert.deepEqual(parseChunks(s, d, recorded).map(canon), ref, `${s.name} ${d} recorded chunks`);
      const ones = Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1));
      assert.deepEqual(parseChunks(s, d, ones).map(canon), ref, `${s.name} ${d} 1-byte chunks`);
      for (let round = 0; round < 10; round++) {
        const max = round % 2 ? 64 : 4096;
        const sizes = Array.from({ length: bytes.length }, () => 1 + Math.floor(rand() * max));
        const got = parseChunks(s, d, chunked(bytes, sizes), { copy: round % 3 === 0 }).map(canon);
        assert.deepEqual(got, ref, `${s.name} ${d} random chunking round ${round}`);
      }
    }
  }
});

test('copy: true gives messages that do not alias the pushed chunk', () => {
  const s = session('pgbench-prepared');
  const chunk = new Uint8Array(s.frontend);
  const p = new FrontendParser({ copy: true });
  const msgs = p.push(chunk);
  const before = msgs.map(canon);
  chunk.fill(0xee);
  assert.deepEqual(msgs.map(canon), before);
});

test('streamed CopyData and DataRow: parts concatenate to the captured bytes, other messages unchanged', () => {
  const rand = mulberry32(7);
  for (const s of SESSIONS) {
    for (const d of DIRS) {
      const bytes = bytesOf(s, d);
      const ref = parseWhole(s, d);
      for (let round = 0; round < 4; round++) {
        const sizes = Array.from({ length: bytes.length }, () => 1 + Math.floor(rand() * (round < 2 ? 7 : 300)));
        const events = parseChunks(s, d, chunked(bytes, sizes), { stream: true });
        const raws: string[] = [];
        let open: MessagePart[] = [];
        for (const e of events) {
          if (e.type === 'MessagePart') {
            const expectOffset = open.reduce((n, p) => n + p.payload.length, 0);
            assert.equal(e.offset, expectOffset, 'parts are contiguous');
            assert.equal(e.first, open.length === 0 && e.raw.length > e.payload.length);
            open.push(e);
            if (e.last) {
              raws.push(Buffer.concat(open.map((p) => p.raw)).toString('hex'));
              assert.equal(open[0]!.first, true);
              open = [];
            }
          } else {
            assert.equal(open.length, 0, 'no message inside a streamed one');
            raws.push(Buffer.from(e.raw).toString('hex'));
          }
        }
        assert.deepEqual(raws, ref.map((m) => Buffer.from(m.raw).toString('hex')), `${s.name} ${d} round ${round}`);
      }
    }
  }
});

test('every captured message re-encodes from its fields to the captured bytes', () => {
  let n = 0;
  for (const s of SESSIONS) {
    for (const m of parseWhole(s, 'frontend') as FrontendEvent[]) {
      assert.ok(m.type !== 'Malformed' && m.type !== 'MessagePart');
      assert.deepEqual(Buffer.from(encodeFrontendMessage(m)), Buffer.from(m.raw), `${s.name} ${m.type}`);
      n++;
    }
    for (const m of parseWhole(s, 'backend') as BackendEvent[]) {
      assert.ok(m.type !== 'Malformed' && m.type !== 'MessagePart');
      assert.deepEqual(Buffer.from(encodeBackendMessage(m)), Buffer.from(m.raw), `${s.name} ${m.type}`);
      if (m.type === 'ErrorResponse') assert.deepEqual(Buffer.from(encodeErrorResponse(noticeFields(m.fields))), Buffer.from(m.raw), 'named fields in server order');
      if (m.type === 'NoticeResponse') assert.deepEqual(Buffer.from(encodeNoticeResponse(noticeFields(m.fields))), Buffer.from(m.raw));
      n++;
    }
  }
  assert.ok(n > 15_000, `${n} messages`);
});

test("'p' messages decode by authentication state and re-encode; libpq's SCRAM and MD5 answers match ours", () => {
  for (const name of ['psql-scram', 'psql-cancelled', 'pgbench-extended', 'pgbench-prepared']) {
    const s = session(name);
    const fe = parseWhole(s, 'frontend').filter((m) => m.type === 'PasswordMessage');
    const be = parseWhole(s, 'backend');
    assert.equal(fe.length, 2, name);
    const [initial, response] = fe;
    assert.ok(initial?.type === 'PasswordMessage' && response?.type === 'PasswordMessage');
    const init = decodeSaslInitialResponse(initial);
    assert.equal(init.mechanism, 'SCRAM-SHA-256');
    assert.deepEqual(Buffer.from(encodeSASLInitialResponse(init.mechanism, init.data)), Buffer.from(initial.raw));
    const clientFirst = Buffer.from(init.data!).toString();
    const nonce = /^n,,n=,r=(.+)$/.exec(clientFirst)?.[1];
    assert.ok(nonce, clientFirst);
    const cont = be.find((m) => m.type === 'AuthenticationSASLContinue');
    const fin = be.find((m) => m.type === 'AuthenticationSASLFinal');
    assert.ok(cont?.type === 'AuthenticationSASLContinue' && fin?.type === 'AuthenticationSASLFinal');
    // Given libpq's nonce, our client must produce libpq's exact client-final-message.
    const first = scramClientFirst(nonce);
    assert.equal(first.message, clientFirst);
    const final = scramClientFinal(first, cont.data, AGENT_PASSWORD);
    assert.equal(final.message, Buffer.from(decodeSaslResponse(response)).toString(), name);
    assert.deepEqual(Buffer.from(encodeSASLResponse(Buffer.from(final.message))), Buffer.from(response.raw));
    assert.deepEqual(verifyScramServerFinal(fin.data, final), { ok: true });
    assert.equal(verifyScramServerFinal(fin.data, scramClientFinal(first, cont.data, 'wrong')).ok, false);
  }
  const md5 = session('psql-md5');
  const pw = parseWhole(md5, 'frontend').find((m) => m.type === 'PasswordMessage');
  const req = parseWhole(md5, 'backend').find((m) => m.type === 'AuthenticationMD5Password');
  assert.ok(pw?.type === 'PasswordMessage' && req?.type === 'AuthenticationMD5Password');
  const sent = decodePassword(pw);
  assert.equal(sent, md5Password('md5user', MD5_PASSWORD, req.salt));
  assert.deepEqual(Buffer.from(encodePasswordMessage(sent)), Buffer.from(pw.raw));
});
