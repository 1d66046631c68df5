/**
 * SQL facts throughput: analyses per second of a typical ~200-character join query, cold
 * (cache off: parse + walk) and warm (cache hit), against a baseline measured in the same run:
 * bare libpg-query `parseSync` of the same text. Cold/parse says what the walk adds to the
 * parse; warm/parse says what the cache saves.
 *
 *   node --import tsx bench/sql-facts.ts
 */
import { parseSync } from 'libpg-query';
import { analyzeSql, loadSqlParser, SqlCache } from '../protocols/postgres/sql-facts.js';

const QUERY =
  'SELECT u.id, u.name, o.total, p.method FROM users u JOIN orders o ON o.user_id = u.id ' +
  "LEFT JOIN payments p ON p.order_id = o.id WHERE o.created_at > now() - interval '7 days' " +
  'AND u.active ORDER BY o.total DESC LIMIT 50';

/** Runs `fn` for about `ms` milliseconds after a warm-up; returns calls per second. */
function rate(fn: () => unknown, ms = 1500): number {
  for (let i = 0; i < 500; i++) fn();
  let n = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < 100; i++) fn();
    n += 100;
    now = performance.now();
  }
  return (n * 1000) / (now - start);
}

export async function main(): Promise<{ parse: number; cold: number; warm: number }> {
  await loadSqlParser();
  const check = analyzeSql(QUERY, { cache: false });
  if (!check.ok || check.statements[0]?.tables.length !== 3) throw new Error(`bench query analysed wrongly: ${JSON.stringify(check)}`);
  const cache = new SqlCache();
  const parse = rate(() => parseSync(QUERY));
  const cold = rate(() => analyzeSql(QUERY, { cache: false }));
  const warm = rate(() => analyzeSql(QUERY, { cache }));
  const f = (x: number): string => `${Math.round(x).toLocaleString('en-US')}/s (${(1e6 / x).toFixed(2)} µs)`;
  console.log(`query: ${QUERY.length} chars, 3 tables`);
  console.log(`baseline parseSync: ${f(parse)}`);
  console.log(`analyzeSql cold:    ${f(cold)}  = ${(cold / parse).toFixed(2)}x parse`);
  console.log(`analyzeSql warm:    ${f(warm)}  = ${(warm / parse).toFixed(1)}x parse`);
  return { parse, cold, warm };
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
