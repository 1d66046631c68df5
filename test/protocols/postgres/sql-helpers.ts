/** Shared helpers for the SQL facts tests. */
import assert from 'node:assert/strict';
import { analyzeSql } from '../../../protocols/postgres/sql-facts.js';
import type { SqlStatementFacts } from '../../../protocols/postgres/sql-types.js';

/** Analyses without the cache and asserts success. */
export function statements(sql: string): SqlStatementFacts[] {
  const r = analyzeSql(sql, { cache: false });
  assert.ok(r.ok, `${sql}: ${JSON.stringify(r)}`);
  return r.statements;
}

/** The single top-level statement of `sql` (its hidden statements are ignored). */
export function top(sql: string): SqlStatementFacts {
  const tops = statements(sql).filter((s) => !s.hidden);
  assert.equal(tops.length, 1, `${sql}: expected one top-level statement`);
  return tops[0]!;
}

export function includesAll(actual: string[], expected: string[], what: string): void {
  for (const e of expected) assert.ok(actual.includes(e), `${what}: missing ${e} in ${JSON.stringify(actual)}`);
}

export function includesNone(actual: string[], forbidden: string[], what: string): void {
  for (const e of forbidden) assert.ok(!actual.includes(e), `${what}: unexpected ${e} in ${JSON.stringify(actual)}`);
}
