/**
 * policy/rules: the pure rule engine. Compile CEL conditions once at load (compileCondition),
 * sort an endpoint's rules once (prepareRules), decide each request (decide). No I/O, no clock:
 * `now` arrives in the facts.
 */
export { CompileCode, DecisionCode } from './codes.js';
export { compileCondition, MAX_CONDITION_LENGTH, type CompiledCondition, type CompileResult } from './compile.js';
export { decide, prepareRules, type DecideOptions, type Decision, type DecisionRequest, type PrepareOptions, type RuleForDecision, type Verdict } from './decide.js';
export { runCondition, type ConditionOutcome, type UnevaluableCause } from './evaluate.js';
export { isCelFacts, toCelFacts, type CelFacts } from './fact-values.js';
export {
  familySchema,
  FAMILIES,
  isFamily,
  LOWERCASE_KEY_FACTS,
  LOWERCASE_LIST_FACTS,
  LOWERCASE_STRING_FACTS,
  type Family,
  type FactType,
  type FamilySchema,
} from './facts.js';
export { locate, type ConditionOrigin, type Diagnostic } from './positions.js';
export { contextWithUnknowns, type UnknownCause } from './unknown-facts.js';
