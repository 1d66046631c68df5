import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isCelFacts, toCelFacts } from '../../../policy/rules/index.js';

const field = (facts: ReturnType<typeof toCelFacts>, root: string, name?: string) => {
  const v = facts.context[root] as Record<string, unknown>;
  return name === undefined ? v : v[name];
};

describe('toCelFacts', () => {
  it('fills missing facts with zero values of their type', () => {
    const f = toCelFacts('ssh', {});
    assert.equal(field(f, 'ssh', 'verb'), '');
    assert.equal(field(f, 'ssh', 'forward_port'), 0n);
    assert.equal(field(f, 'peer', 'name'), '');
    assert.equal(f.context.profile, '');
    assert.ok(f.context.now instanceof Date);
    assert.equal(f.invalid.size, 0);
    const s = toCelFacts('sql', { sql: {} });
    assert.deepEqual(field(s, 'sql', 'columns'), []);
    const h = toCelFacts('http', undefined);
    assert.ok(field(h, 'http', 'query') instanceof Map);
    assert.ok(field(h, 'http', 'body_json') instanceof Map);
  });

  it('converts ints to BigInt, dates to Date, maps to Maps, lowercases lowercase facts', () => {
    const f = toCelFacts('k8s', {
      now: 1_700_000_000_000,
      http: { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, query: new Map([['a', ['1', '2']]]) },
      k8s: { verb: 'PATCH', params: { command: ['ls'] } },
    });
    assert.equal((f.context.now as Date).getTime(), 1_700_000_000_000);
    assert.equal(field(f, 'http', 'method'), 'patch');
    assert.equal(field(f, 'k8s', 'verb'), 'patch');
    assert.deepEqual(field(f, 'http', 'headers'), new Map([['content-type', ['application/json']]]));
    assert.deepEqual(field(f, 'http', 'query'), new Map([['a', ['1', '2']]]));
    assert.deepEqual(field(f, 'k8s', 'params'), new Map([['command', ['ls']]]));
    const s = toCelFacts('ssh', { ssh: { forward_port: 8080 } });
    assert.equal(field(s, 'ssh', 'forward_port'), 8080n);
    const q = toCelFacts('sql', { sql: { functions: ['PG_SLEEP', 'now'], tables: ['Users'] } });
    assert.deepEqual(field(q, 'sql', 'functions'), ['pg_sleep', 'now']);
    assert.deepEqual(field(q, 'sql', 'tables'), ['Users']);
  });

  it('records wrong-typed values as invalid instead of coercing them', () => {
    const f = toCelFacts('ssh', { ssh: { verb: 5, forward_port: 1.5, command: ['x'] }, now: 'yesterday', peer: 'x' });
    assert.deepEqual([...f.invalid].sort(), ['now', 'peer.address', 'peer.name', 'ssh.command', 'ssh.forward_port', 'ssh.verb']);
    const s = toCelFacts('sql', { sql: { tables: ['a', 1] } });
    assert.deepEqual([...s.invalid], ['sql.tables']);
    assert.deepEqual([...toCelFacts('tcp', 'not an object').invalid].sort(), ['credential', 'endpoint', 'now', 'peer.address', 'peer.name', 'profile']);
    assert.deepEqual([...toCelFacts('ssh', { ssh: { forward_port: 2n ** 64n } }).invalid], ['ssh.forward_port']);
  });

  it('body_json: JSON-shaped values only, bounded depth', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = { d: deep };
    assert.deepEqual([...toCelFacts('http', { http: { body_json: deep } }).invalid], ['http.body_json']);
    assert.deepEqual([...toCelFacts('http', { http: { body_json: { f: () => 1 } } }).invalid], ['http.body_json']);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.deepEqual([...toCelFacts('http', { http: { body_json: cyclic } }).invalid], ['http.body_json']);
  });

  it('a throwing getter is an invalid value, not an exception', () => {
    const evil = {
      get verb(): string {
        throw new Error('boom');
      },
    };
    assert.deepEqual([...toCelFacts('sql', { sql: evil }).invalid], ['sql.verb']);
  });

  it('reads own properties only', () => {
    const proto = { verb: 'drop' };
    const sql = Object.create(proto) as Record<string, unknown>;
    assert.equal(field(toCelFacts('sql', { sql }), 'sql', 'verb'), '');
  });

  it('marks its output so decide() can trust it', () => {
    assert.ok(isCelFacts(toCelFacts('tcp', {})));
    assert.ok(!isCelFacts({ family: 'tcp', context: {}, invalid: new Set() }));
  });
});
