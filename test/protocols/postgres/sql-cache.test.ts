/** The analysis cache: hits, LRU order, both bounds, frozen shared results. */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { analyzeSql, loadSqlParser, SqlCache } from '../../../protocols/postgres/sql-facts.js';

describe('SqlCache', () => {
  before(loadSqlParser);

  it('a repeated text is a hit and returns the same frozen analysis', () => {
    const cache = new SqlCache();
    const a = analyzeSql('SELECT a FROM t', { cache });
    const b = analyzeSql('SELECT a FROM t', { cache });
    assert.equal(a, b);
    assert.equal(cache.hits, 1);
    assert.equal(cache.misses, 1);
    assert.ok(Object.isFrozen(a) && a.ok && Object.isFrozen(a.statements[0]) && Object.isFrozen(a.statements[0]!.tables));
    assert.throws(() => (a.ok ? (a.statements[0]!.tables as string[]).push('x') : 0));
  });

  it('errors are cached too; texts over the cap never reach it', () => {
    const cache = new SqlCache();
    analyzeSql('SELEC 1', { cache });
    const r = analyzeSql('SELEC 1', { cache });
    assert.ok(!r.ok && cache.hits === 1);
    analyzeSql('SELECT 1', { cache, maxLength: 3 });
    assert.equal(cache.size, 1);
  });

  it('evicts the least recently used entry beyond maxEntries', () => {
    const cache = new SqlCache({ maxEntries: 2 });
    analyzeSql('SELECT a', { cache });
    analyzeSql('SELECT b', { cache });
    analyzeSql('SELECT a', { cache }); // a is now the most recent
    analyzeSql('SELECT c', { cache }); // evicts b
    assert.equal(cache.size, 2);
    const hits = cache.hits;
    analyzeSql('SELECT a', { cache });
    assert.equal(cache.hits, hits + 1);
    analyzeSql('SELECT b', { cache });
    assert.equal(cache.hits, hits + 1);
  });

  it('stays under its character budget', () => {
    const cache = new SqlCache({ maxChars: 2000 });
    for (let i = 0; i < 100; i++) analyzeSql(`SELECT c${i} FROM t${i} WHERE ${'x'.repeat(50)} = ${i}`, { cache });
    assert.ok(cache.size > 0 && cache.size < 20, String(cache.size));
  });

  it('cache: false analyses every time', () => {
    const a = analyzeSql('SELECT 1', { cache: false });
    const b = analyzeSql('SELECT 1', { cache: false });
    assert.notEqual(a, b);
    assert.deepEqual(a, b);
  });
});
