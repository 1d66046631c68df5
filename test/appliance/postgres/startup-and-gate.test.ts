/**
 * The oversize gate fed at every split point (same events as the parser alone, oversized
 * messages reported in place), the startup parameters that never reach the upstream, and the
 * credential picked by the startup user.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { encodeBind, encodeCopyData, encodeExecute, encodeParse, encodeQuery, encodeSync, FrontendParser } from '../../../protocols/postgres/codec/index.js';
import { OversizeGate, type GateEvent } from '../../../appliance/postgres/oversize-gate.js';
import { pickCredential } from '../../../appliance/postgres/flow.js';
import { upstreamParameters } from '../../../appliance/postgres/startup-parameters.js';
import type { CredentialChoice } from '../../../policy/engine.js';

const CAP = 200;
const describe = (events: GateEvent[]): string[] => events.map((e) => (e.type === 'Oversized' ? `Oversized(${String.fromCharCode(e.typeByte)},${e.length})` : e.type === 'Query' ? `Query(${e.query.length})` : e.type));

function run(chunks: Uint8Array[]): string[] {
  const gate = new OversizeGate(new FrontendParser({ phase: 'typed', maxMessageLength: CAP, streamCopyData: true }), CAP);
  const out: GateEvent[] = [];
  for (const c of chunks) out.push(...gate.push(c));
  // CopyData is whole when it fits a chunk, else streamed in parts: fold them into one.
  return describe(out).map((e) => (e === 'MessagePart' ? 'CopyData' : e)).reduce<string[]>((acc, e) => {
    if (e === 'CopyData' && acc[acc.length - 1] === 'CopyData') return acc;
    acc.push(e);
    return acc;
  }, []);
}

test('oversize gate: any split point gives the same events; oversized Query/Parse/Bind are skipped in place', () => {
  const stream = Buffer.concat([
    encodeQuery('SELECT 1'),
    encodeQuery(`SELECT '${'x'.repeat(500)}'`),
    encodeParse('', `SELECT '${'y'.repeat(300)}'`),
    encodeBind({ parameters: [Buffer.alloc(400)] }),
    encodeCopyData(Buffer.alloc(1000)), // streamed, never oversized
    encodeExecute(),
    encodeSync(),
    encodeQuery('SELECT 2'),
  ]);
  const whole = run([stream]);
  assert.deepEqual(whole, ['Query(8)', 'Oversized(Q,514)', 'Oversized(P,317)', 'Oversized(B,416)', 'CopyData', 'Execute', 'Sync', 'Query(8)']);
  for (let i = 1; i < stream.length; i++) {
    assert.deepEqual(run([stream.subarray(0, i), stream.subarray(i)]), whole, `split at ${i}`);
  }
  for (let step = 1; step <= 7; step++) {
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < stream.length; i += step) chunks.push(stream.subarray(i, i + step));
    assert.deepEqual(run(chunks), whole, `chunks of ${step}`);
  }
});

test('startup parameters: identity and parsing settings never reach the upstream; client_encoding is UTF8', () => {
  const agent = new Map([
    ['user', 'app'], ['database', 'prod'], ['application_name', 'psql'], ['options', '-c role=admin'],
    ['Role', 'admin'], ['search_path', 'evil'], ['standard_conforming_strings', 'off'], ['client_encoding', 'SQL_ASCII'],
    ['replication', 'database'], ['pgaudit.log', 'none'], ['_pq_.compression', 'on'], ['DateStyle', 'ISO'],
  ]);
  const r = upstreamParameters(agent, 'app_rw', 'appdb');
  assert.deepEqual(r.parameters, [['user', 'app_rw'], ['database', 'appdb'], ['application_name', 'psql'], ['DateStyle', 'ISO'], ['client_encoding', 'UTF8']]);
  assert.deepEqual(r.protocolOptions, ['_pq_.compression']);
  assert.ok(r.dropped.includes('options') && r.dropped.includes('Role') && r.dropped.includes('pgaudit.log'));
});

test('credential by the startup user: the profile entry\'s user first, then the credential\'s', () => {
  const cred = (name: string, user: string) => ({ type: 'postgres_credential', name, ref: `postgres_credential.${name}`, user, endpoints: ['postgres.prod'] });
  const choices = [
    { credential: cred('ro', 'app_ro'), entry: { credential: 'postgres_credential.ro' } },
    { credential: cred('rw', 'app_rw'), entry: { credential: 'postgres_credential.rw', user: 'writer' } },
    { credential: { type: 'passthrough', name: 'p', ref: 'passthrough.p', endpoints: ['postgres.prod'] }, entry: { credential: 'passthrough.p' } },
  ] as unknown as CredentialChoice[];
  assert.equal(pickCredential(choices, 'app_ro')?.credential.name, 'ro');
  assert.equal(pickCredential(choices, 'writer')?.credential.name, 'rw');
  assert.equal(pickCredential(choices, 'app_rw'), undefined, 'the profile renamed it');
  assert.equal(pickCredential(choices, 'postgres'), undefined);
});
