/**
 * `bailiff test POLICY FIXTURES...`: replay request fixtures against a policy and compare each
 * decision with what the fixture expects. Exit 0 when all match, 1 on any mismatch or bad
 * fixture, 2 when the policy itself does not load.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { loadConfig } from '../policy/config/load.js';
import { formatDiagnostic } from '../policy/config/diagnostics.js';
import { CompiledPolicy } from '../policy/engine.js';
import { FixtureError, parseFixture, runFixture, type FactExtractor } from '../policy/fixtures.js';
import type { Family } from '../policy/config/model.js';
import { loadSqlParser } from '../protocols/postgres/sql-facts.js';
import { statementRequests } from './postgres/statement-facts.js';

export interface TestCommandIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  cwd: string;
}

export function fixtureFiles(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => join(path, f));
}

/** Fixtures with a raw SQL `statement` get their facts from the real parser, as live traffic does. */
export const sqlExtractor: FactExtractor = (raw) => {
  if (typeof raw.statement !== 'string') return undefined;
  const session = { database: typeof raw.database === 'string' ? raw.database : '', user: typeof raw.user === 'string' ? raw.user : '' };
  return statementRequests(raw.statement, session).map((r) => ({
    facts: r.facts,
    unknown: r.unknown,
    ...(r.unknown.length ? { note: `facts unknown for ${JSON.stringify(r.facts.sql.statement)}: ${r.unknownReason ?? 'unknown'}` } : {}),
  }));
};

export async function testCommand(args: string[], io: TestCommandIo, extractors: Partial<Record<Family, FactExtractor>> = { sql: sqlExtractor }): Promise<number> {
  if (args.length < 2) {
    io.stderr('usage: bailiff test POLICY FIXTURE.json|DIR...\n');
    return 2;
  }
  const show = (file: string) => relative(io.cwd, file) || file;
  const loaded = await loadConfig(resolve(io.cwd, args[0]!), { displayPath: show });
  if (!loaded.config) {
    io.stderr(`${loaded.diagnostics.map(formatDiagnostic).join('\n')}\n`);
    return 2;
  }
  if (extractors.sql) await loadSqlParser();
  const policy = new CompiledPolicy(loaded.config);
  let passed = 0;
  let failed = 0;
  for (const arg of args.slice(1)) {
    let files: string[];
    try {
      files = fixtureFiles(resolve(io.cwd, arg));
    } catch (error) {
      io.stderr(`${arg}: ${(error as Error).message}\n`);
      failed++;
      continue;
    }
    for (const file of files) {
      let values: unknown[];
      try {
        const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
        values = Array.isArray(parsed) ? parsed : [parsed];
      } catch (error) {
        io.stdout(`FAIL ${show(file)}: ${(error as Error).message}\n`);
        failed++;
        continue;
      }
      values.forEach((value, index) => {
        const where = values.length > 1 ? `${show(file)}[${index}]` : show(file);
        try {
          const { fixture, notes } = parseFixture(value, where, policy, extractors);
          for (const note of notes) io.stderr(`note: ${note}\n`);
          const { decision, mismatches } = runFixture(policy, fixture);
          if (mismatches.length === 0) {
            passed++;
            io.stdout(`ok   ${where}: ${fixture.name === where ? '' : `${fixture.name}: `}${decision.verdict}${decision.rule ? ` by "${decision.rule}"` : ''}\n`);
          } else {
            failed++;
            io.stdout(`FAIL ${where}${fixture.name === where ? '' : `: ${fixture.name}`}\n${mismatches.map((m) => `  ${m}`).join('\n')}\n`);
          }
        } catch (error) {
          if (!(error instanceof FixtureError)) throw error;
          failed++;
          io.stdout(`FAIL ${error.message}\n`);
        }
      });
    }
  }
  io.stdout(`${passed} passed, ${failed} failed\n`);
  return failed === 0 && passed > 0 ? 0 : 1;
}
