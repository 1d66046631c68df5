import assert from 'node:assert/strict';
import { compileCondition, type CompiledCondition, type ConditionOrigin, type Diagnostic, type Family } from '../../../policy/rules/index.js';

export function compiled(family: Family, source: string, origin?: ConditionOrigin): CompiledCondition {
  const r = compileCondition(family, source, origin);
  if (!r.ok) assert.fail(`expected ${JSON.stringify(source)} to compile: ${JSON.stringify(r.diagnostics)}`);
  return r.condition;
}

export function diagnostics(family: Family, source: string, origin?: ConditionOrigin): Diagnostic[] {
  const r = compileCondition(family, source, origin);
  if (r.ok) assert.fail(`expected ${JSON.stringify(source)} to be refused`);
  return r.diagnostics;
}
