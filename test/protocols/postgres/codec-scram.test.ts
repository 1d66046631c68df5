/**
 * SCRAM-SHA-256 client, SASLprep and MD5 as pure functions: RFC 7677's test vector, RFC 4013's
 * examples, and the refusals (channel binding only, foreign nonce, absurd iteration counts).
 * The exchange with a real server is in codec-live.test.ts, and libpq's own answers are
 * reproduced byte for byte in codec-capture.test.ts.
 */
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import {
  PgCodecError,
  chooseSaslMechanism,
  md5Password,
  saslprep,
  scramClientFinal,
  scramClientFirst,
  scramNonce,
  scramPasswordBytes,
  verifyScramServerFinal,
  type PgCodecErrorCode,
} from '../../../protocols/postgres/codec/index.js';

const throwsCode = (fn: () => unknown, code: PgCodecErrorCode) =>
  assert.throws(fn, (e: unknown) => e instanceof PgCodecError && e.code === code, `expected ${code}`);

// RFC 7677 §3 (user "user", password "pencil").
const RFC_NONCE = 'rOprNGfwEbeRWgbNEkqO';
const RFC_SERVER_FIRST = 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';
const RFC_CLIENT_FINAL = 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=';
const RFC_SERVER_FINAL = 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=';

test('RFC 7677 test vector', () => {
  const first = scramClientFirst(RFC_NONCE, 'user');
  assert.equal(first.message, 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
  const final = scramClientFinal(first, Buffer.from(RFC_SERVER_FIRST), 'pencil');
  assert.equal(final.message, RFC_CLIENT_FINAL);
  assert.deepEqual(verifyScramServerFinal(RFC_SERVER_FINAL, final), { ok: true });
  assert.deepEqual(verifyScramServerFinal(Buffer.from(RFC_SERVER_FINAL), final), { ok: true });
});

test('server-final: wrong signature, server error and garbage are refused', () => {
  const final = scramClientFinal(scramClientFirst(RFC_NONCE, 'user'), RFC_SERVER_FIRST, 'pencil');
  assert.equal(verifyScramServerFinal('v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=', final).ok, false);
  const bad = verifyScramServerFinal('v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=', final);
  assert.ok(!bad.ok && bad.code === 'PG_SCRAM_BAD_SIGNATURE');
  const err = verifyScramServerFinal('e=invalid-proof', final);
  assert.ok(!err.ok && err.code === 'PG_SCRAM_SERVER_ERROR' && err.detail === 'invalid-proof');
  const junk = verifyScramServerFinal(Uint8Array.of(0x76, 0x3d, 0x00), final);
  assert.ok(!junk.ok && junk.code === 'PG_SCRAM_BAD_MESSAGE');
  const short = verifyScramServerFinal('v=AAAA', final);
  assert.ok(!short.ok && short.code === 'PG_SCRAM_BAD_SIGNATURE');
});

test('server-first: foreign nonce, bad salt, iteration limits, mandatory extensions', () => {
  const first = scramClientFirst(RFC_NONCE);
  throwsCode(() => scramClientFinal(first, 'r=someoneElsesNonce,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096', 'pw'), 'PG_SCRAM_NONCE');
  throwsCode(() => scramClientFinal(first, `r=${RFC_NONCE},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096`, 'pw'), 'PG_SCRAM_NONCE'); // must extend, not equal
  throwsCode(() => scramClientFinal(first, `r=${RFC_NONCE}x,s=not base64!,i=4096`, 'pw'), 'PG_SCRAM_BAD_MESSAGE');
  throwsCode(() => scramClientFinal(first, `r=${RFC_NONCE}x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0`, 'pw'), 'PG_SCRAM_ITERATIONS');
  throwsCode(() => scramClientFinal(first, `r=${RFC_NONCE}x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4000000000`, 'pw'), 'PG_SCRAM_ITERATIONS');
  throwsCode(() => scramClientFinal(first, `r=${RFC_NONCE}x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=5000`, 'pw', { maxIterations: 4096 }), 'PG_SCRAM_ITERATIONS');
  throwsCode(() => scramClientFinal(first, `m=ext,r=${RFC_NONCE}x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096`, 'pw'), 'PG_SCRAM_BAD_MESSAGE');
  throwsCode(() => scramClientFinal(first, 'i=4096,r=x,s=y', 'pw'), 'PG_SCRAM_BAD_MESSAGE');
  throwsCode(() => scramClientFinal(first, Uint8Array.of(0x72, 0x3d, 0xff), 'pw'), 'PG_SCRAM_BAD_MESSAGE');
});

test('mechanism choice: SCRAM-SHA-256 preferred, channel binding only is refused cleanly', () => {
  assert.equal(chooseSaslMechanism(['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256']), 'SCRAM-SHA-256');
  throwsCode(() => chooseSaslMechanism(['SCRAM-SHA-256-PLUS']), 'PG_SASL_MECHANISM');
  throwsCode(() => chooseSaslMechanism(['OAUTHBEARER']), 'PG_SASL_MECHANISM');
  throwsCode(() => chooseSaslMechanism([]), 'PG_SASL_MECHANISM');
});

test('nonces and user names on the client-first message', () => {
  const n = scramNonce(new Uint8Array(18).fill(0xfb));
  assert.match(n, /^[\x21-\x2b\x2d-\x7e]+$/);
  throwsCode(() => scramNonce(new Uint8Array(8)), 'PG_BAD_VALUE');
  throwsCode(() => scramClientFirst('has,comma'), 'PG_BAD_VALUE');
  throwsCode(() => scramClientFirst(''), 'PG_BAD_VALUE');
  assert.equal(scramClientFirst('abc', 'a=b,c').message, 'n,,n=a=3Db=2Cc,r=abc');
  assert.equal(scramClientFirst('abc').message, 'n,,n=,r=abc', 'PostgreSQL takes the user from the StartupMessage');
});

test('SASLprep: RFC 4013 §3 examples and the server-compatible fallback', () => {
  assert.deepEqual(saslprep('I\u00adX'), { ok: true, value: 'IX' }); // soft hyphen mapped to nothing
  assert.deepEqual(saslprep('user'), { ok: true, value: 'user' });
  assert.deepEqual(saslprep('USER'), { ok: true, value: 'USER' });
  assert.deepEqual(saslprep('\u00aa'), { ok: true, value: 'a' }); // NFKC
  assert.deepEqual(saslprep('\u2168'), { ok: true, value: 'IX' });
  assert.deepEqual(saslprep('\u0007'), { ok: false, reason: 'prohibited' });
  assert.deepEqual(saslprep('\u0627\u0031'), { ok: false, reason: 'bidi' });
  assert.deepEqual(saslprep('a\u00a0b'), { ok: true, value: 'a b' }); // non-ASCII space
  assert.deepEqual(saslprep('a\ue000'), { ok: false, reason: 'prohibited' }); // private use
  assert.deepEqual(saslprep('\u05d0\u05d1'), { ok: true, value: '\u05d0\u05d1' }); // RTL only is fine
  assert.deepEqual(saslprep('\u05d0a\u05d1'), { ok: false, reason: 'bidi' });
  assert.deepEqual(saslprep('x\u{10ffff}'), { ok: false, reason: 'prohibited' }); // non-character
  // Refused input is hashed raw, as the server does when it stores the verifier.
  assert.deepEqual(Buffer.from(scramPasswordBytes('a\u0007b')), Buffer.from('a\u0007b'));
  assert.deepEqual(Buffer.from(scramPasswordBytes('\u0627\u0031')), Buffer.from('\u0627\u0031'));
  assert.deepEqual(Buffer.from(scramPasswordBytes('pa\u00ads\ufb01\u00a0w\u2168rd')), Buffer.from('pasfi wIXrd'));
});

test('md5Password matches the definition in the protocol docs', () => {
  const salt = Uint8Array.of(1, 2, 3, 4);
  const inner = createHash('md5').update('secretalice').digest('hex');
  const outer = createHash('md5').update(Buffer.concat([Buffer.from(inner), Buffer.from(salt)])).digest('hex');
  assert.equal(md5Password('alice', 'secret', salt), `md5${outer}`);
  assert.match(md5Password('alice', 'secret', salt), /^md5[0-9a-f]{32}$/);
  throwsCode(() => md5Password('alice', 'secret', Uint8Array.of(1, 2, 3)), 'PG_BAD_VALUE');
});
