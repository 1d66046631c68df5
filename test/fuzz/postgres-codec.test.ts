/**
 * Fuzz for the Postgres wire codec: random and mutated streams (seeded from real captures), in
 * random chunkings, give only PgCodecError; parsing never holds more than one capped message,
 * accounts for every byte, and does not depend on where the chunks were cut. Values built by the
 * encoders parse back to themselves. SCRAM and 'p' helpers only throw PgCodecError on garbage.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  BackendParser,
  FrontendParser,
  PgCodecError,
  decodePassword,
  decodeSaslInitialResponse,
  encodeBackendMessage,
  encodeFrontendMessage,
  noticeFields,
  scramClientFinal,
  scramClientFirst,
  verifyScramServerFinal,
  type BackendEvent,
  type BackendMessage,
  type FrontendEvent,
  type FrontendMessage,
} from '../../protocols/postgres/codec/index.js';
import { canon, loadSessions } from '../protocols/postgres/fixtures/sessions.js';

const RUNS = 2000;
const SESSIONS = loadSessions();
const STREAMS = SESSIONS.flatMap((s) => [
  { name: `${s.name}.frontend`, dir: 'frontend' as const, bytes: s.frontend.subarray(0, 4096), ssl: false },
  { name: `${s.name}.backend`, dir: 'backend' as const, bytes: s.backend.subarray(0, 4096), ssl: s.sslRequested },
]).filter((s) => s.bytes.length > 0);

type Event = FrontendEvent | BackendEvent;
interface Parser {
  push(b: Uint8Array): Event[];
  end(): void;
  readonly bufferedBytes: number;
}

interface Config {
  dir: 'frontend' | 'backend';
  typed: boolean;
  ssl: boolean;
  stream: boolean;
  cap: number;
}

function makeParser(c: Config): Parser {
  if (c.dir === 'frontend') return new FrontendParser({ phase: c.typed ? 'typed' : 'startup', streamCopyData: c.stream, maxMessageLength: c.cap });
  const p = new BackendParser({ streamCopyData: c.stream, streamDataRows: c.stream, maxMessageLength: c.cap });
  if (c.ssl) p.expectEncryptionResponse('ssl');
  return p;
}

interface Outcome {
  events: string[];
  error: string | null;
}

/** Feeds `chunks`; checks byte accounting and the buffering bound after every push. */
function run(c: Config, chunks: readonly Uint8Array[]): Outcome {
  const p = makeParser(c);
  const events: string[] = [];
  let fed = 0;
  let emitted = 0;
  try {
    for (const chunk of chunks) {
      const out = p.push(chunk);
      fed += chunk.length;
      for (const e of out) {
        assert.ok(e.raw.length >= 1);
        emitted += e.raw.length;
        events.push(e.type === 'MessagePart' ? `part:${e.typeByte}` : canon(e));
      }
      assert.equal(emitted + p.bufferedBytes, fed, 'every byte is either emitted or held');
      // Held bytes: one message at most, and never beyond the caps (startup packets: 10000).
      assert.ok(p.bufferedBytes <= Math.max(c.cap, 65535, 10000) + 1, `holds ${p.bufferedBytes}`);
    }
    p.end();
    return { events, error: null };
  } catch (e) {
    if (!(e instanceof PgCodecError)) throw e;
    for (const x of e.before as Event[]) events.push(x.type === 'MessagePart' ? `part:${x.typeByte}` : canon(x));
    return { events, error: e.code };
  }
}

function split(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  out.push(bytes.subarray(prev));
  return out;
}

const config = fc.record({
  dir: fc.constantFrom('frontend' as const, 'backend' as const),
  typed: fc.boolean(),
  ssl: fc.boolean(),
  stream: fc.boolean(),
  cap: fc.constantFrom(64, 1024, 1024 * 1024),
});

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('length' as const), at: fc.nat(), value: fc.integer({ min: -2, max: 0x7fffffff }) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(src: Uint8Array, ms: readonly Mutation[]): Uint8Array {
  let b = Uint8Array.from(src);
  for (const m of ms) {
    if (b.length === 0) break;
    const at = m.at % b.length;
    switch (m.kind) {
      case 'flip':
        b[at]! ^= 1 << m.bit;
        break;
      case 'set':
        b[at] = m.value;
        break;
      case 'insert':
        b = Uint8Array.from([...b.subarray(0, at), ...m.bytes, ...b.subarray(at)]);
        break;
      case 'delete':
        b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + m.n)]);
        break;
      case 'length': // overwrite 4 bytes as if they were a length field
        for (let i = 0; i < 4 && at + i < b.length; i++) b[at + i] = (m.value >>> (24 - 8 * i)) & 0xff;
        break;
    }
  }
  return b;
}

describe('postgres codec fuzz', () => {
  it('random bytes in random chunks give only PgCodecError, and chunking does not change the outcome', () => {
    fc.assert(
      fc.property(config, fc.uint8Array({ maxLength: 600 }), fc.array(fc.nat(), { maxLength: 20 }), (c, bytes, cuts) => {
        const whole = run(c, [bytes]);
        const chunked = run(c, split(bytes, cuts));
        if (!c.stream) assert.deepEqual(chunked, whole);
        else assert.equal(chunked.error, whole.error);
      }),
      { numRuns: RUNS },
    );
  });

  it('mutated captured streams give only PgCodecError, the same at any chunking', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...STREAMS),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        fc.constantFrom(64, 1024 * 1024),
        (s, ms, cuts, cap) => {
          const bytes = mutate(s.bytes, ms);
          const c: Config = { dir: s.dir, typed: false, ssl: s.ssl, stream: false, cap };
          const whole = run(c, [bytes]);
          assert.deepEqual(run(c, split(bytes, cuts)), whole);
          run({ ...c, stream: true }, split(bytes, cuts));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('truncated captured streams end with PG_MSG_TRUNCATED or at a boundary', () => {
    fc.assert(
      fc.property(fc.constantFrom(...STREAMS), fc.nat(), (s, cut) => {
        const bytes = s.bytes.subarray(0, cut % (s.bytes.length + 1));
        const r = run({ dir: s.dir, typed: false, ssl: s.ssl, stream: false, cap: 1024 * 1024 }, [bytes]);
        assert.ok(r.error === null || r.error === 'PG_MSG_TRUNCATED', String(r.error));
      }),
      { numRuns: 500 },
    );
  });

  it("'p' helpers and SCRAM on garbage throw only PgCodecError; verify never throws", () => {
    const first = scramClientFirst('fuzzNonce');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.string({ maxLength: 80 }), (body, text) => {
        const [m] = new FrontendParser({ phase: 'typed' }).push(Uint8Array.from([0x70, ...[24, 16, 8, 0].map((s) => ((body.length + 4) >>> s) & 0xff), ...body]));
        assert.ok(m?.type === 'PasswordMessage');
        for (const fn of [() => decodePassword(m), () => decodeSaslInitialResponse(m), () => scramClientFinal(first, body, 'pw', { maxIterations: 16 }), () => scramClientFinal(first, `r=fuzzNonce${text}`, 'pw', { maxIterations: 16 })]) {
          try {
            fn();
          } catch (e) {
            if (!(e instanceof PgCodecError)) throw e;
          }
        }
        const v = verifyScramServerFinal(body, { expectedServerSignature: new Uint8Array(32) });
        assert.equal(v.ok, false);
        verifyScramServerFinal(text, { expectedServerSignature: new Uint8Array(32) });
      }),
      { numRuns: RUNS },
    );
  });
});

// ---- encoders: arbitrary values parse back to themselves, at any chunking ----

const name = fc.string({ maxLength: 12 }).filter((s) => !s.includes('\0'));
const value = fc.option(fc.uint8Array({ maxLength: 20 }), { nil: null });
const format = fc.constantFrom(0, 1);
const oid = fc.integer({ min: 0, max: 0xffffffff });
const int16s = fc.integer({ min: -0x8000, max: 0x7fff });
const int32s = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const noRaw = { raw: new Uint8Array(0) };

const frontendMessage: fc.Arbitrary<FrontendMessage> = fc.oneof(
  name.map((query) => ({ type: 'Query', query, ...noRaw }) as const),
  fc.record({ statement: name, query: name, parameterTypes: fc.array(oid, { maxLength: 4 }) }).map((r) => ({ type: 'Parse', ...r, ...noRaw }) as const),
  fc
    .record({ portal: name, statement: name, parameters: fc.array(value, { maxLength: 4 }), resultFormats: fc.array(format, { maxLength: 3 }), formatMode: fc.nat() })
    .chain((r) => {
      const n = r.parameters.length;
      const counts = [0, 1, n].filter((x) => x <= 1 || x === n);
      return fc.constantFrom(...counts).chain((k) => fc.array(format, { minLength: k, maxLength: k }).map((parameterFormats) => ({ type: 'Bind', portal: r.portal, statement: r.statement, parameterFormats, parameters: r.parameters, resultFormats: r.resultFormats, ...noRaw }) as const));
    }),
  fc.record({ target: fc.constantFrom('statement' as const, 'portal' as const), name }).map((r) => ({ type: 'Describe', ...r, ...noRaw }) as const),
  fc.record({ target: fc.constantFrom('statement' as const, 'portal' as const), name }).map((r) => ({ type: 'Close', ...r, ...noRaw }) as const),
  fc.record({ portal: name, maxRows: fc.integer({ min: 0, max: 0x7fffffff }) }).map((r) => ({ type: 'Execute', ...r, ...noRaw }) as const),
  fc.constantFrom('Sync' as const, 'Flush' as const, 'CopyDone' as const).map((type) => ({ type, ...noRaw })),
  fc.uint8Array({ maxLength: 40 }).map((data) => ({ type: 'CopyData', data, ...noRaw }) as const),
  name.map((message) => ({ type: 'CopyFail', message, ...noRaw }) as const),
  fc.record({ functionOid: oid, args: fc.array(value, { maxLength: 3 }), resultFormat: format }).map((r) => ({ type: 'FunctionCall', functionOid: r.functionOid, argumentFormats: [], arguments: r.args, resultFormat: r.resultFormat, ...noRaw }) as const),
  fc.uint8Array({ maxLength: 40 }).map((body) => ({ type: 'PasswordMessage', body, ...noRaw }) as const),
);

const backendMessage: fc.Arbitrary<BackendMessage> = fc.oneof(
  fc.record({ name: name.filter((s) => s !== ''), value: name }).map((r) => ({ type: 'ParameterStatus', ...r, ...noRaw }) as const),
  fc.constantFrom('I' as const, 'T' as const, 'E' as const).map((status) => ({ type: 'ReadyForQuery', status, ...noRaw }) as const),
  fc.array(value, { maxLength: 5 }).map((values) => ({ type: 'DataRow', values, ...noRaw }) as const),
  fc
    .array(fc.record({ name, tableOid: oid, columnAttribute: int16s, typeOid: oid, typeSize: int16s, typeModifier: int32s, format }), { maxLength: 4 })
    .map((fields) => ({ type: 'RowDescription', fields, ...noRaw }) as const),
  name.map((tag) => ({ type: 'CommandComplete', tag, ...noRaw }) as const),
  fc
    .record({ severity: name, code: name, message: name, detail: fc.option(name, { nil: undefined }) })
    .map((f) => ({ type: 'ErrorResponse', fields: new Map(Object.entries(f).filter(([, v]) => v !== undefined).map(([k, v]) => [{ severity: 'S', code: 'C', message: 'M', detail: 'D' }[k]!, v!])), ...noRaw }) as const),
  fc.record({ processId: int32s, channel: name, payload: name }).map((r) => ({ type: 'NotificationResponse', ...r, ...noRaw }) as const),
  fc.array(oid, { maxLength: 5 }).map((typeOids) => ({ type: 'ParameterDescription', typeOids, ...noRaw }) as const),
  fc.record({ kind: fc.constantFrom('CopyInResponse' as const, 'CopyOutResponse' as const, 'CopyBothResponse' as const), format, columnFormats: fc.array(format, { maxLength: 4 }) }).map((r) => ({ type: r.kind, format: r.format, columnFormats: r.columnFormats, ...noRaw }) as const),
  fc.record({ newestMinorVersion: fc.nat({ max: 0xffff }), unrecognizedOptions: fc.array(name.filter((s) => s !== ''), { maxLength: 3 }) }).map((r) => ({ type: 'NegotiateProtocolVersion', ...r, ...noRaw }) as const),
  value.map((result) => ({ type: 'FunctionCallResponse', result, ...noRaw }) as const),
  fc.uint8Array({ minLength: 4, maxLength: 4 }).map((salt) => ({ type: 'AuthenticationMD5Password', salt, ...noRaw }) as const),
  fc.array(name.filter((s) => s !== ''), { maxLength: 3 }).map((mechanisms) => ({ type: 'AuthenticationSASL', mechanisms, ...noRaw }) as const),
  fc.record({ processId: int32s, secretKey: fc.uint8Array({ minLength: 4, maxLength: 256 }) }).map((r) => ({ type: 'BackendKeyData', ...r, ...noRaw }) as const),
);

/** The decoded fields without `raw`, as a key-order-independent value for deepEqual. */
const withoutRaw = (e: Event): unknown => {
  const { raw: _raw, ...fields } = e;
  return JSON.parse(canon(fields as unknown as Event));
};

describe('postgres codec round trip', () => {
  it('frontend messages built from arbitrary values parse back to those values at any chunking', () => {
    fc.assert(
      fc.property(fc.array(frontendMessage, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 10 }), (msgs, cuts) => {
        const bytes = Buffer.concat(msgs.map(encodeFrontendMessage));
        const p = new FrontendParser({ phase: 'typed' });
        const out = split(bytes, cuts).flatMap((c) => p.push(c));
        p.end();
        assert.deepEqual(out.map(withoutRaw), msgs.map((m) => withoutRaw(m)));
      }),
      { numRuns: RUNS },
    );
  });

  it('backend messages built from arbitrary values parse back to those values at any chunking', () => {
    fc.assert(
      fc.property(fc.array(backendMessage, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 10 }), (msgs, cuts) => {
        const bytes = Buffer.concat(msgs.map(encodeBackendMessage));
        const p = new BackendParser();
        const out = split(bytes, cuts).flatMap((c) => p.push(c));
        p.end();
        assert.deepEqual(out.map(withoutRaw), msgs.map((m) => withoutRaw(m)));
        for (const m of out) if (m.type === 'ErrorResponse') noticeFields(m.fields);
      }),
      { numRuns: RUNS },
    );
  });
});
