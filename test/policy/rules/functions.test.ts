import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decide, DecisionCode, type Family } from '../../../policy/rules/index.js';
import { compileRegex, reMatches } from '../../../policy/rules/re.js';
import { setsContains, setsEquivalent, setsIntersects } from '../../../policy/rules/sets.js';
import { compiled } from './helpers.js';

function matches(family: Family, src: string, facts: unknown): boolean {
  const d = decide([{ name: 'r', order: 0, priority: 0, verdict: 'allow', condition: compiled(family, src) }], { facts });
  assert.ok(d.code === DecisionCode.RULE_ALLOW || d.code === DecisionCode.NO_MATCH_DENY, `${src}: ${d.code} ${d.internalDetail ?? ''}`);
  return d.code === DecisionCode.RULE_ALLOW;
}

describe('sets.*', () => {
  const sql = (tables: string[], columns: string[] = []) => ({ sql: { tables, columns } });

  it('contains: every element of the second list is in the first', () => {
    assert.equal(matches('sql', "sets.contains(sql.tables, ['a', 'b'])", sql(['a', 'b', 'c'])), true);
    assert.equal(matches('sql', "sets.contains(sql.tables, ['a', 'z'])", sql(['a', 'b'])), false);
    assert.equal(matches('sql', 'sets.contains(sql.tables, [])', sql([])), true);
  });

  it('intersects: some element in both', () => {
    assert.equal(matches('sql', "sets.intersects(sql.tables, ['users', 'api_tokens'])", sql(['orders', 'api_tokens'])), true);
    assert.equal(matches('sql', "sets.intersects(sql.tables, ['users'])", sql(['orders'])), false);
    assert.equal(matches('sql', "sets.intersects(sql.tables, ['users'])", sql([])), false);
  });

  it('equivalent: same elements regardless of order and duplicates', () => {
    assert.equal(matches('sql', "sets.equivalent(sql.tables, ['b', 'a'])", sql(['a', 'b', 'a'])), true);
    assert.equal(matches('sql', "sets.equivalent(sql.tables, ['a'])", sql(['a', 'b'])), false);
  });

  it('works on two fact lists and on large lists', () => {
    const many = Array.from({ length: 50_000 }, (_, i) => `t${i}`);
    assert.equal(matches('sql', 'sets.intersects(sql.tables, sql.columns)', sql(many, [...many.slice(0, 10_000).map((x) => `${x}.c`), 't49999'])), true);
    assert.equal(matches('sql', 'sets.intersects(sql.tables, sql.columns)', sql(many, many.map((x) => `${x}.c`))), false);
  });

  it('element types are checked at load, and int/double compare as CEL numbers', () => {
    assert.equal(setsContains([1n, 2n], [1]), true);
    assert.equal(setsIntersects([1.5], [1n]), false);
    assert.equal(setsEquivalent([[1n], ['a']], [['a'], [1n]]), true);
    assert.equal(setsContains(new Set(['a']), ['a']), true);
  });
});

describe('re.matches', () => {
  it('is an unanchored RE2 search', () => {
    assert.equal(matches('sql', "re.matches('drop\\\\s+table', sql.statement)", { sql: { statement: 'x; drop  table y' } }), true);
    assert.equal(matches('sql', "re.matches('^drop', sql.statement)", { sql: { statement: 'x; drop table y' } }), false);
    assert.equal(matches('sql', "re.matches('(?i)^DROP', sql.statement)", { sql: { statement: 'drop table y' } }), true);
  });

  it('runs in linear time: (a+)+$ against 100k characters', () => {
    const text = `${'a'.repeat(100_000)}!`;
    const started = performance.now();
    assert.equal(matches('sql', "re.matches('(a+)+$', sql.statement)", { sql: { statement: text } }), false);
    const ms = performance.now() - started;
    assert.ok(ms < 2_000, `took ${ms.toFixed(0)} ms`);
  });

  it('compiles each pattern once', () => {
    const a = compileRegex('ab+c');
    const b = compileRegex('ab+c');
    assert.ok(a.ok && b.ok && a.re === b.re);
  });

  it('a bad or oversized pattern at run time is an evaluation error', () => {
    assert.throws(() => reMatches('(', 'x'), /invalid pattern/);
    assert.throws(() => reMatches('a'.repeat(5000), 'x'), /longer than/);
  });
});

describe('standard CEL library on facts', () => {
  it('in, exists, all, startsWith, endsWith, contains, size', () => {
    const facts = { http: { method: 'post', path: '/v1/admin/users', query: { tag: ['a', 'b'] }, headers: { 'content-type': ['application/json'] } } };
    assert.equal(matches('http', "http.method in ['post', 'put'] && http.path.startsWith('/v1/admin')", facts), true);
    assert.equal(matches('http', "http.path.endsWith('/users') && http.path.contains('admin')", facts), true);
    assert.equal(matches('http', "http.query['tag'].exists(t, t == 'b') && http.query['tag'].all(t, size(t) == 1)", facts), true);
    assert.equal(matches('http', "http.headers['content-type'][0].startsWith('application/json')", facts), true);
  });

  it('k8s.params keeps every command= argument', () => {
    const facts = { k8s: { verb: 'exec', resource: 'pods', subresource: 'exec', params: { command: ['sh', '-c', 'rm -rf /'] } } };
    assert.equal(matches('k8s', "k8s.verb == 'exec' && k8s.params['command'].exists(a, a.contains('rm -rf'))", facts), true);
  });

  it('ssh.forward_port is an int', () => {
    assert.equal(matches('ssh', "ssh.verb == 'forward' && ssh.forward_port == 5432 && ssh.forward_host == 'db'", { ssh: { verb: 'forward', forward_port: 5432, forward_host: 'db' } }), true);
    assert.equal(matches('ssh', 'ssh.forward_port > 1024', { ssh: { forward_port: 22n } }), false);
  });

  it('http.body_json is dyn: numbers compare with int literals', () => {
    const facts = { http: { body_json: { amount: 150, items: [{ sku: 'x' }], nested: { ok: true } } } };
    assert.equal(matches('http', 'http.body_json.amount > 100 && http.body_json.nested.ok == true', facts), true);
    assert.equal(matches('http', "http.body_json.items.exists(i, i.sku == 'x')", facts), true);
  });
});
