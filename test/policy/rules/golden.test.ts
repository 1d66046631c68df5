/**
 * Golden cases: each folder under golden/ holds `case.json` = a family, rules (as the config
 * loader would hand them over, conditions as CEL text), decide options, and requests with the
 * expected decision. A new policy behaviour adds a folder, not test code.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { compileCondition, decide, prepareRules, type DecideOptions, type Family, type RuleForDecision } from '../../../policy/rules/index.js';

interface GoldenCase {
  family: Family;
  options?: DecideOptions;
  rules: (Omit<RuleForDecision, 'condition' | 'order' | 'priority'> & { condition?: string; priority?: number })[];
  requests: {
    name: string;
    facts: unknown;
    unknown?: string[];
    unknownCause?: 'truncated' | 'unparseable';
    credential?: string;
    expect: { verdict: string; effective?: string; code: string; rule: string | null; approve?: string[] };
  }[];
}

const root = join(fileURLToPath(new URL('.', import.meta.url)), 'golden');

for (const dir of readdirSync(root).sort()) {
  const file = join(root, dir, 'case.json');
  const golden = JSON.parse(readFileSync(file, 'utf8')) as GoldenCase;
  describe(`golden: ${dir}`, () => {
    const rules = prepareRules(
      golden.rules.map((r, order) => {
        const { condition: text, ...rest } = r;
        const base: RuleForDecision = { ...rest, priority: r.priority ?? 0, order };
        if (text === undefined) return base;
        const compiled = compileCondition(golden.family, text, { file, line: 1, column: 1 });
        if (!compiled.ok) assert.fail(`${dir}/${r.name}: ${JSON.stringify(compiled.diagnostics)}`);
        return { ...base, condition: compiled.condition };
      }),
    );
    for (const req of golden.requests) {
      it(req.name, () => {
        const d = decide(rules, { facts: req.facts, unknown: req.unknown, unknownCause: req.unknownCause, credential: req.credential }, golden.options);
        assert.deepEqual(
          { verdict: d.verdict, code: d.code, rule: d.rule, ...(req.expect.effective ? { effective: d.effective } : {}), ...(req.expect.approve ? { approve: d.approve } : {}) },
          req.expect,
          d.internalDetail,
        );
      });
    }
  });
}
