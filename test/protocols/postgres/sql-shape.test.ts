/**
 * Reusing an analysis for a text that differs only in its numbers: the facts must be exactly
 * what a fresh parse of that text gives, or the text must not be reused at all.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { analyzeSql, loadSqlParser, SqlCache } from '../../../protocols/postgres/sql-facts.js';
import { shapeKey } from '../../../protocols/postgres/sql-shape.js';

/** Analyses `first` then `second` through one cache; `second` must equal its fresh analysis. */
function assertSameAsFresh(first: string, second: string): { reused: boolean } {
  const cache = new SqlCache();
  analyzeSql(first, { cache });
  const hits = cache.shapes.hits;
  const got = analyzeSql(second, { cache });
  assert.deepEqual(got, analyzeSql(second, { cache: false }), `${first} -> ${second}`);
  return { reused: cache.shapes.hits > hits };
}

describe('SQL shapes', () => {
  before(loadSqlParser);

  it('replaces whole plain numbers, never digits inside names', () => {
    assert.equal(shapeKey('SELECT c1 FROM t2 WHERE a = 10 AND b = .5 OR c >= 1.5e3 LIMIT 7;'),
      'SELECT c1 FROM t2 WHERE a = \0 AND b = \0 OR c >= \0 LIMIT \0;');
    assert.equal(shapeKey('SELECT a-1,b*2/3 FROM t'), 'SELECT a-\0,b*\0/\0 FROM t');
    assert.equal(shapeKey('SELECT é1, x_2, y$3 FROM t'), undefined); // `$` is never read
    assert.equal(shapeKey('SELECT é1, x_2 FROM t'), undefined); // no number at all
  });

  it('gives no shape where the lexer could read digits otherwise', () => {
    for (const text of [
      "SELECT 'a' || 1", 'SELECT "t 1".a FROM "t 1"', 'SELECT $$1$$', 'SELECT $1', 'SELECT 1 -- 2',
      'SELECT 1 /* 2 */', "SELECT E'\\1'", 'SELECT 0x1F', 'SELECT 1_000', 'SELECT 1e+5', 'SELECT t.1 FROM t',
      'SELECT 1..2', 'SELECT 123abc', 'SELECT 1\0', `SELECT ${'1 + '.repeat(2000)}1`,
    ]) assert.equal(shapeKey(text), undefined, text);
  });

  it('a pgbench statement with another number reuses the analysis and matches a fresh parse', () => {
    const { reused } = assertSameAsFresh('SELECT abalance FROM pgbench_accounts WHERE aid = 48213;', 'SELECT abalance FROM pgbench_accounts WHERE aid = 7;');
    assert.ok(reused);
    const again = assertSameAsFresh('  UPDATE pgbench_accounts SET abalance = abalance + -12 WHERE aid = 5 ;', '  UPDATE pgbench_accounts SET abalance = abalance + -4409 WHERE aid = 99812 ;');
    assert.ok(again.reused);
  });

  it('statements whose facts read a number are never reused', () => {
    // SET standard_conforming_strings = 0 makes everything after it unknown; = 1 does not.
    assert.equal(assertSameAsFresh('SET standard_conforming_strings = 1', 'SET standard_conforming_strings = 0').reused, false);
    assert.equal(assertSameAsFresh('SET client_encoding = 8', 'SET client_encoding = 6').reused, false);
    // EXPLAIN (ANALYZE 0) does not run its target; (ANALYZE 1) does.
    assert.equal(assertSameAsFresh('EXPLAIN (ANALYZE 0) DELETE FROM t WHERE id = 1', 'EXPLAIN (ANALYZE 1) DELETE FROM t WHERE id = 1').reused, false);
    // Several statements, hidden ones: their texts are sliced at positions the numbers move.
    assert.equal(assertSameAsFresh('SELECT 1; SELECT 2', 'SELECT 100; SELECT 2').reused, false);
    assert.equal(assertSameAsFresh('WITH d AS (DELETE FROM t WHERE id = 1 RETURNING *) SELECT 1', 'WITH d AS (DELETE FROM t WHERE id = 22 RETURNING *) SELECT 1').reused, false);
  });

  it('any two texts of one shape get the facts of a fresh parse (fuzz)', () => {
    const number = fc.oneof(fc.nat().map(String), fc.tuple(fc.nat(99), fc.nat(99)).map(([a, b]) => `${a}.${b}`),
      fc.nat(99).map((n) => `.${n}`), fc.tuple(fc.nat(9), fc.nat(20)).map(([a, e]) => `${a}e${e}`));
    const token = fc.oneof(
      fc.constantFrom('SELECT', 'FROM', 'WHERE', 'AND', 'OR', 'ORDER BY', 'GROUP BY', 'LIMIT', 'OFFSET', 'AS', 'JOIN', 'ON',
        'INSERT INTO', 'VALUES', 'UPDATE', 'SET', 'DELETE FROM', 'RETURNING', 'UNION', 'IN', 'NOT', 'NULL', 'count(*)',
        'pg_sleep', 'generate_series', 'EXPLAIN', 'ANALYZE', 'standard_conforming_strings', 'TABLE', 'WITH', 'DO'),
      fc.constantFrom('t', 't1', 'u2x', 'a', 'b9', 'pgbench_accounts', 'env_vars', 'secret', 's.t', 'x.y1'),
      fc.constantFrom('=', '<', '>=', '+', '-', '*', '/', '(', ')', ',', ';', '.', '[', ']', '::', '%', '#', '!'),
      number.map((n) => ({ n })),
    );
    let reused = 0;
    fc.assert(fc.property(fc.array(token, { minLength: 2, maxLength: 14 }), fc.array(number, { minLength: 14, maxLength: 14 }), (tokens, others) => {
      const render = (alt: boolean) => tokens.map((t, i) => (typeof t === 'string' ? t : alt ? others[i]! : t.n)).join(' ');
      const first = `SELECT ${render(false)}`;
      const second = `SELECT ${render(true)}`;
      if (shapeKey(first) !== shapeKey(second)) return;
      if (assertSameAsFresh(first, second).reused) reused += 1;
    }), { numRuns: 5000 }); // most soups do not parse: enough runs that dozens are reused
    assert.ok(reused >= 20, `only ${reused} fuzzed texts were reused`);
  });

  it('realistic statements with other numbers: reused, and equal to a fresh parse', () => {
    const templates: Array<(n: number[]) => string> = [
      (n) => `SELECT e.name, v.value FROM environments e JOIN env_vars v ON v.env_id = e.id WHERE e.id = ${n[0]} ORDER BY 2 LIMIT ${n[1]}`,
      (n) => `SELECT count(*) FROM orders o WHERE o.total > ${n[0]}.${n[1]} GROUP BY 1`,
      (n) => `SELECT * FROM t WHERE id IN (SELECT ref FROM u WHERE w < ${n[0]}) OFFSET ${n[1]}`,
      (n) => `INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (${n[0]}, ${n[1]}, 7, -${n[2]}, now())`,
      (n) => `DELETE FROM sessions WHERE expires < now() - ${n[0]} * interval_unit() AND id > ${n[1]}`,
      (n) => `SELECT a[${n[0]}], pg_sleep(${n[1]}) FROM arrays`,
    ];
    fc.assert(fc.property(fc.constantFrom(...templates.keys()), fc.array(fc.nat(100000), { minLength: 3, maxLength: 3 }), fc.array(fc.nat(100000), { minLength: 3, maxLength: 3 }), (k, a, b) => {
      const t = templates[k]!;
      assert.ok(assertSameAsFresh(t(a), t(b)).reused, t(a));
    }), { numRuns: 200 });
  });
});
