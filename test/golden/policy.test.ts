/**
 * Golden policy cases: each folder under test/golden/policy/ holds a policy (`policy.hcl` or a
 * `policy/` folder) and either `decisions.json` (request fixtures with expected decisions, the
 * format `bailiff test` replays) or `diagnostics.txt` (the exact load diagnostics, one per line,
 * paths relative to the case folder). A new policy feature adds a folder, not test code.
 */
import { strict as assert } from 'node:assert';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { formatDiagnostic } from '../../policy/config/diagnostics.js';
import { loadConfig } from '../../policy/config/load.js';
import { CompiledPolicy } from '../../policy/engine.js';
import { parseFixture, runFixture } from '../../policy/fixtures.js';
import { sqlExtractor } from '../../appliance/test-command.js';
import { loadSqlParser } from '../../protocols/postgres/sql-facts.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), 'policy');
const cases = readdirSync(ROOT, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();

test('golden cases exist', () => {
  assert.ok(cases.length >= 10, `only ${cases.length} golden cases`);
});

for (const name of cases) {
  const dir = join(ROOT, name);
  test(`golden policy: ${name}`, async () => {
    const policyPath = existsSync(join(dir, 'policy')) ? join(dir, 'policy') : join(dir, 'policy.hcl');
    const loaded = await loadConfig(policyPath, { displayPath: (f) => relative(dir, f) });
    const diagnosticsFile = join(dir, 'diagnostics.txt');
    const decisionsFile = join(dir, 'decisions.json');
    if (existsSync(diagnosticsFile)) {
      const expected = readFileSync(diagnosticsFile, 'utf8').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
      assert.deepEqual(loaded.diagnostics.map(formatDiagnostic), expected);
      assert.equal(loaded.config, undefined);
      return;
    }
    assert.ok(existsSync(decisionsFile), `${name}: needs diagnostics.txt or decisions.json`);
    assert.deepEqual(loaded.diagnostics.map(formatDiagnostic), [], `${name}: policy does not load`);
    await loadSqlParser();
    const policy = new CompiledPolicy(loaded.config!);
    const fixtures = JSON.parse(readFileSync(decisionsFile, 'utf8')) as unknown[];
    assert.ok(fixtures.length > 0);
    const failures: string[] = [];
    fixtures.forEach((value, i) => {
      const { fixture } = parseFixture(value, `decisions.json[${i}]`, policy, { sql: sqlExtractor });
      const { decision, mismatches } = runFixture(policy, fixture);
      if (mismatches.length) failures.push(`${fixture.name}\n  ${mismatches.join('\n  ')}`);
      const expectReason = (value as { expect: { reason?: string } }).expect.reason;
      if (expectReason !== undefined && decision.reason !== expectReason) {
        failures.push(`${fixture.name}\n  reason: expected ${JSON.stringify(expectReason)}, got ${JSON.stringify(decision.reason)}`);
      }
      if (typeof (value as { expect: { effective?: string } }).expect.effective === 'string'
        && decision.effective !== (value as { expect: { effective: string } }).expect.effective) {
        failures.push(`${fixture.name}\n  effective: expected ${(value as { expect: { effective: string } }).expect.effective}, got ${decision.effective}`);
      }
    });
    assert.deepEqual(failures, []);
  });
}
