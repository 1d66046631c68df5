/**
 * sql.tables / sql.columns / sql.functions of one statement, table-driven. Tables are compared
 * exactly; columns must include what is listed (over-reporting is allowed by design) and must
 * not include what `notColumns` lists.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { loadSqlParser } from '../../../protocols/postgres/sql-facts.js';
import { includesAll, includesNone, top } from './sql-helpers.js';

interface Case {
  sql: string;
  tables?: string[];
  columns?: string[];
  notColumns?: string[];
  functions?: string[];
  notFunctions?: string[];
}

const CASES: Case[] = [
  // plain reads, aliases, joins
  { sql: 'SELECT a, b FROM t', tables: ['t'], columns: ['t.a', 't.b'] },
  { sql: 'SELECT * FROM env_vars', tables: ['env_vars'], columns: ['env_vars.*'] },
  { sql: 'SELECT e.secret FROM env_vars e', tables: ['env_vars'], columns: ['env_vars.secret'], notColumns: ['e.secret'] },
  { sql: 'SELECT e.* FROM env_vars AS e', tables: ['env_vars'], columns: ['env_vars.*'] },
  { sql: 'SELECT u.name, o.total FROM users u JOIN orders o ON o.user_id = u.id WHERE o.total > 10 ORDER BY u.name',
    tables: ['orders', 'users'], columns: ['users.name', 'orders.total', 'orders.user_id', 'users.id'] },
  { sql: 'SELECT id FROM a JOIN b USING (id)', tables: ['a', 'b'], columns: ['a.id', 'b.id'] },
  { sql: 'SELECT name FROM a, b', tables: ['a', 'b'], columns: ['a.name', 'b.name'] },
  { sql: 'SELECT * FROM a LEFT JOIN b ON a.x = b.y', tables: ['a', 'b'], columns: ['a.*', 'b.*', 'a.x', 'b.y'] },
  { sql: 'SELECT j.secret FROM (a JOIN env_vars e ON true) AS j', tables: ['a', 'env_vars'], columns: ['env_vars.secret', 'a.secret'] },
  { sql: 'SELECT 1 FROM a NATURAL JOIN env_vars', tables: ['a', 'env_vars'], columns: ['env_vars.*'] },
  // schema-qualified and quoted
  { sql: 'SELECT s.secret FROM public.env_vars s', tables: ['public.env_vars', 'env_vars'], columns: ['env_vars.secret', 'public.env_vars.secret'] },
  { sql: 'SELECT public.env_vars.secret FROM public.env_vars', tables: ['public.env_vars', 'env_vars'], columns: ['env_vars.secret'] },
  { sql: 'SELECT "Secret" FROM "Env"', tables: ['Env'], columns: ['Env.Secret'] },
  { sql: 'SELECT Secret FROM Env', tables: ['env'], columns: ['env.secret'] },
  { sql: 'SELECT x FROM db.s.t', tables: ['db.s.t', 's.t', 't'], columns: ['t.x'] },
  { sql: 'SELECT U&"\\0073ecret" FROM U&"env\\005fvars"', tables: ['env_vars'], columns: ['env_vars.secret'] },
  // subqueries and derived tables
  { sql: 'SELECT x.s FROM (SELECT secret AS s FROM env_vars) x', tables: ['env_vars'], columns: ['env_vars.secret'], notColumns: ['x.s'] },
  { sql: 'SELECT x.secret FROM (SELECT * FROM env_vars) x', tables: ['env_vars'], columns: ['env_vars.secret', 'env_vars.*'] },
  { sql: 'SELECT x.c FROM (SELECT 1 AS c) x', tables: [], columns: ['x.c'] },
  { sql: 'SELECT x.a FROM (SELECT secret, name FROM env_vars) AS x(a, b)', tables: ['env_vars'], columns: ['env_vars.secret'] },
  { sql: 'SELECT * FROM orders WHERE user_id IN (SELECT id FROM users WHERE banned)', tables: ['orders', 'users'],
    columns: ['orders.*', 'orders.user_id', 'users.id', 'users.banned'] },
  { sql: 'SELECT (SELECT secret FROM pg_class LIMIT 1) FROM env_vars', tables: ['pg_class', 'env_vars'], columns: ['env_vars.secret'] },
  { sql: 'SELECT * FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.id = t.id)', tables: ['t', 'u'], columns: ['u.id', 't.id'] },
  { sql: 'SELECT a FROM env_vars AS x(a)', tables: ['env_vars'], columns: ['env_vars.*'] },
  // whole-row references
  { sql: 'SELECT row_to_json(e) FROM env_vars e', tables: ['env_vars'], columns: ['env_vars.*'], functions: ['row_to_json'] },
  { sql: 'SELECT to_jsonb(env_vars) FROM env_vars', columns: ['env_vars.*'], functions: ['to_jsonb'] },
  { sql: 'SELECT (e).* FROM env_vars e', columns: ['env_vars.*'] },
  { sql: 'SELECT (e).secret FROM env_vars e', columns: ['env_vars.secret'] },
  { sql: 'SELECT e FROM env_vars e', columns: ['env_vars.*'] },
  { sql: 'SELECT x FROM (SELECT secret FROM env_vars) x', columns: ['env_vars.secret'] },
  // CTEs and shadowing
  { sql: 'WITH r AS (SELECT secret FROM env_vars) SELECT r.secret FROM r', tables: ['env_vars'], columns: ['env_vars.secret'] },
  { sql: 'WITH r AS (SELECT * FROM env_vars) SELECT secret FROM r', tables: ['env_vars'], columns: ['env_vars.secret'] },
  { sql: 'WITH users AS (SELECT 1 AS id) SELECT * FROM users', tables: [] },
  { sql: 'WITH users AS (SELECT * FROM users) SELECT * FROM users', tables: ['users'] },
  { sql: 'SELECT * FROM (WITH users AS (SELECT 1) SELECT * FROM users) x, users', tables: ['users'] },
  { sql: 'WITH a AS (SELECT 1), b AS (SELECT * FROM a) SELECT * FROM b', tables: [] },
  { sql: 'WITH RECURSIVE r(n) AS (SELECT secret FROM env_vars UNION ALL SELECT n FROM r) SELECT n FROM r',
    tables: ['env_vars'], columns: ['env_vars.secret'] },
  { sql: 'WITH x AS (SELECT 1) SELECT * FROM public.x', tables: ['public.x', 'x'] },
  // set operations
  { sql: 'SELECT secret FROM env_vars UNION SELECT 1', tables: ['env_vars'], columns: ['env_vars.secret'] },
  { sql: 'SELECT a FROM t UNION ALL SELECT b FROM u EXCEPT SELECT c FROM v', tables: ['t', 'u', 'v'], columns: ['t.a', 'u.b', 'v.c'] },
  { sql: 'SELECT x.a FROM (SELECT a FROM t UNION SELECT secret FROM env_vars) x', columns: ['t.a', 'env_vars.secret'] },
  // LATERAL, functions in FROM, TABLESAMPLE
  { sql: 'SELECT * FROM t, LATERAL (SELECT secret FROM env_vars WHERE env_vars.id = t.id) s', tables: ['t', 'env_vars'],
    columns: ['env_vars.secret', 't.id', 'env_vars.id'] },
  { sql: 'SELECT g FROM generate_series(1, 3) g', tables: [], functions: ['generate_series'] },
  { sql: 'SELECT * FROM t, LATERAL unnest(t.arr) AS u(x)', tables: ['t'], columns: ['t.arr'], functions: ['unnest'] },
  { sql: 'SELECT * FROM env_vars TABLESAMPLE SYSTEM (10)', tables: ['env_vars'], columns: ['env_vars.*'] },
  // DML
  { sql: 'INSERT INTO t (a, b) VALUES (1, 2)', tables: ['t'], columns: ['t.a', 't.b'] },
  { sql: 'INSERT INTO t VALUES (1)', tables: ['t'], columns: ['t.*'] },
  { sql: 'INSERT INTO archive SELECT * FROM env_vars', tables: ['archive', 'env_vars'], columns: ['env_vars.*', 'archive.*'] },
  { sql: 'INSERT INTO t AS x (a) VALUES (1) ON CONFLICT (a) DO UPDATE SET b = excluded.b WHERE x.c > 0 RETURNING old.a, new.*',
    tables: ['t'], columns: ['t.a', 't.b', 't.c', 't.*'] },
  { sql: 'UPDATE t SET a = u.b FROM u WHERE t.id = u.id RETURNING t.secret', tables: ['t', 'u'], columns: ['t.a', 'u.b', 't.id', 'u.id', 't.secret'] },
  { sql: 'UPDATE public.users SET name = 1', tables: ['public.users', 'users'], columns: ['users.name'] },
  { sql: 'UPDATE t SET (a, b) = (SELECT x, y FROM u)', tables: ['t', 'u'], columns: ['t.a', 't.b', 'u.x', 'u.y'] },
  { sql: 'DELETE FROM t USING u WHERE t.id = u.id AND u.flag RETURNING *', tables: ['t', 'u'], columns: ['t.id', 'u.id', 'u.flag', 't.*', 'u.*'] },
  { sql: 'DELETE FROM t x WHERE x.a = 1', tables: ['t'], columns: ['t.a'] },
  { sql: 'MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET v = s.v WHEN NOT MATCHED THEN INSERT (id, v) VALUES (s.id, s.v)',
    tables: ['t', 's'], columns: ['t.id', 's.id', 't.v', 's.v'] },
  { sql: 'MERGE INTO t USING (SELECT secret FROM env_vars) s ON true WHEN NOT MATCHED THEN INSERT VALUES (s.secret)',
    tables: ['t', 'env_vars'], columns: ['env_vars.secret', 't.*'] },
  // window functions, aggregates, grouping
  { sql: 'SELECT dept, rank() OVER (PARTITION BY dept ORDER BY salary DESC) FROM emp', tables: ['emp'],
    columns: ['emp.dept', 'emp.salary'], functions: ['rank'] },
  { sql: 'SELECT dept, count(*) FROM emp GROUP BY dept HAVING sum(salary) > 10', columns: ['emp.dept', 'emp.salary'],
    functions: ['count', 'sum'], notColumns: ['emp.*'] },
  { sql: 'SELECT max(x) FILTER (WHERE y > 0) FROM t', columns: ['t.x', 't.y'], functions: ['max'] },
  // functions
  { sql: "SELECT pg_read_file('/etc/passwd')", functions: ['pg_read_file'] },
  { sql: "SELECT pg_catalog.set_config('search_path', 'x', false)", functions: ['pg_catalog.set_config', 'set_config'] },
  { sql: 'SELECT "Upper"(1)', functions: ['upper'] },
  { sql: "SELECT 'env_vars'::regclass, 1 + 2", functions: [], notFunctions: ['regclass'] },
  { sql: 'SELECT lower(name) FROM t WHERE length(name) > coalesce(3, 4)', functions: ['lower', 'length'] },
  { sql: 'CALL s.p(1)', functions: ['s.p', 'p'] },
  // DDL and utility targets
  { sql: 'CREATE TABLE t2 AS SELECT * FROM env_vars', tables: ['t2', 'env_vars'], columns: ['env_vars.*'] },
  { sql: 'SELECT secret INTO t2 FROM env_vars', tables: ['t2', 'env_vars'], columns: ['env_vars.secret'] },
  { sql: 'CREATE VIEW v AS SELECT secret FROM env_vars', tables: ['v', 'env_vars'], columns: ['env_vars.secret'] },
  { sql: 'DROP TABLE a, s.b', tables: ['a', 's.b', 'b'] },
  { sql: 'DROP VIEW IF EXISTS v', tables: ['v'] },
  { sql: 'DROP TRIGGER tr ON t', tables: ['t'] },
  { sql: 'DROP FUNCTION f(int)', tables: [], functions: [] },
  { sql: 'TRUNCATE a, s.b', tables: ['a', 's.b', 'b'] },
  { sql: 'LOCK TABLE t IN ACCESS EXCLUSIVE MODE', tables: ['t'] },
  { sql: 'ALTER TABLE s.t DROP COLUMN secret', tables: ['s.t', 't'], columns: ['t.secret'] },
  { sql: 'ALTER TABLE t ALTER COLUMN a TYPE int USING secret::int', tables: ['t'], columns: ['t.a', 't.secret'] },
  { sql: 'ALTER TABLE t RENAME COLUMN secret TO s', tables: ['t'], columns: ['t.secret'] },
  { sql: 'CREATE INDEX i ON t (a, lower(b))', tables: ['t'], columns: ['t.a', 't.b'], functions: ['lower'] },
  { sql: 'GRANT SELECT (a, b) ON t, s.u TO bob', tables: ['t', 's.u', 'u'], columns: ['t.a', 'u.b'] },
  { sql: 'REVOKE ALL ON env_vars FROM bob', tables: ['env_vars'] },
  { sql: 'COPY env_vars TO STDOUT', tables: ['env_vars'], columns: ['env_vars.*'] },
  { sql: 'COPY env_vars (secret) TO STDOUT', tables: ['env_vars'], columns: ['env_vars.secret'] },
  { sql: 'COPY (SELECT secret FROM env_vars) TO STDOUT', tables: ['env_vars'], columns: ['env_vars.secret'] },
  { sql: 'VACUUM ANALYZE t (a)', tables: ['t'], columns: ['t.a'] },
  { sql: "COMMENT ON COLUMN s.t.c IS 'x'", tables: ['s.t', 't'], columns: ['t.c'] },
  { sql: 'CREATE POLICY p ON t USING (owner = current_user)', tables: ['t'], columns: ['t.owner'] },
  { sql: 'CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION audit.log_row()', tables: ['t'],
    functions: ['audit.log_row', 'log_row'] },
  { sql: 'REFRESH MATERIALIZED VIEW mv', tables: ['mv'] },
  { sql: 'DECLARE c CURSOR FOR SELECT secret FROM env_vars', tables: ['env_vars'], columns: ['env_vars.secret'] },
];

describe('sql facts of one statement', () => {
  before(loadSqlParser);
  for (const c of CASES) {
    it(c.sql, () => {
      const s = top(c.sql);
      if (c.tables) assert.deepEqual([...s.tables].sort(), [...c.tables].sort(), `tables of ${c.sql}`);
      if (c.columns) includesAll(s.columns, c.columns, 'columns');
      if (c.notColumns) includesNone(s.columns, c.notColumns, 'columns');
      if (c.functions) {
        if (c.functions.length === 0) assert.deepEqual(s.functions, []);
        includesAll(s.functions, c.functions, 'functions');
      }
      if (c.notFunctions) includesNone(s.functions, c.notFunctions, 'functions');
      assert.equal(s.unknownFacts, undefined);
    });
  }
});
