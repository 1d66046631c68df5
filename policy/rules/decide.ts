/**
 * decide(): one request against an endpoint's rules (POLICY.md "rule", REFERENCE §2.2).
 *
 * Rules are ordered by priority (higher first), ties by global file order; a credential pin is
 * checked before the condition; the first matching rule decides. A rule that cannot be
 * evaluated (unknown fact, evaluation error) denies at its place in the order, with a reason
 * that never says which facts it reads (an agent could otherwise probe the policy); the detail
 * goes to `internalDetail` for the operator's log. No match: `noMatch`, deny unless set.
 * Shadow mode computes and reports the decision but lets the request through.
 * decide() never throws: anything unexpected is a deny with a stable code.
 */
import { DecisionCode } from './codes.js';
import { programOf, type CompiledCondition } from './compile.js';
import type { ParseResult } from '@marcbachmann/cel-js';
import { runProgram, type ConditionOutcome, type UnevaluableCause } from './evaluate.js';
import { isCelFacts, rawFactsOf, toCelFacts, type CelFacts } from './fact-values.js';
import { familySchema, type Family } from './facts.js';
import { contextWithUnknowns, type UnknownCause } from './unknown-facts.js';

export type Verdict = 'allow' | 'deny' | 'approve';

export interface RuleForDecision {
  readonly name: string;
  readonly priority: number;
  /** Global declaration order (files in name order, then position): breaks priority ties. */
  readonly order: number;
  /** Credential pin: the rule applies only to requests dispatched to this credential name. */
  readonly credential?: string | undefined;
  /** Absent: the rule matches every request (that passes the pin). */
  readonly condition?: CompiledCondition | undefined;
  readonly verdict?: 'allow' | 'deny' | undefined;
  /** Approver references (`llm_approver.x`, `human_approver.y`), run in order by the caller. */
  readonly approve?: readonly string[] | undefined;
  readonly reason?: string | undefined;
  readonly disabled?: boolean | undefined;
}

export interface DecisionRequest {
  /** Facts from toCelFacts(), or a plain object converted here per condition family. */
  readonly facts: CelFacts | unknown;
  /** Fact paths the dissector could not produce (`sql.verb`, `sql.tables`, ...). */
  readonly unknown?: Iterable<string> | undefined;
  /** Why they are unknown; reported in the unevaluable reason. Default `unparseable`. */
  readonly unknownCause?: 'truncated' | 'unparseable' | undefined;
  /** The credential name the request was dispatched to ('' or undefined: none). */
  readonly credential?: string | undefined;
}

export interface DecideOptions {
  readonly noMatch?: 'allow' | 'deny' | undefined;
  readonly mode?: 'enforce' | 'shadow' | undefined;
}

export interface Decision {
  /** What the policy says. */
  readonly verdict: Verdict;
  /** What the appliance does: `allow` in shadow mode, else the verdict. */
  readonly effective: Verdict;
  readonly shadow: boolean;
  /** Approver chain, for `approve`. */
  readonly approve?: readonly string[];
  /** The deciding rule, null when no rule matched. */
  readonly rule: string | null;
  /** Safe to show to the agent. */
  readonly reason: string;
  readonly code: DecisionCode;
  /** For the operator's log only: which fact was unknown, the evaluation error. */
  readonly internalDetail?: string;
}

type PreparedList = readonly Readonly<RuleForDecision>[];

/** What decide() needs per rule, resolved once per list instead of once per request. */
interface Entry {
  readonly rule: Readonly<RuleForDecision>;
  readonly name: string;
  readonly skip: boolean;
  /** undefined: no pin. */
  readonly pin: string | undefined;
  /** null: the rule has no condition; undefined: it has one that compileCondition did not make. */
  readonly program: ParseResult | null | undefined;
}

/** Lists made by prepareRules: already sorted and resolved, so decide() does neither again. */
const prepared = new WeakMap<object, readonly Entry[]>();

function entryOf(rule: Readonly<RuleForDecision>): Entry {
  const ok = typeof rule === 'object' && rule !== null;
  const condition = ok ? rule.condition : undefined;
  return {
    rule,
    name: ok && typeof rule.name === 'string' ? rule.name : '<unnamed>',
    skip: !ok || rule.disabled === true,
    pin: ok && rule.credential !== undefined && rule.credential !== null ? String(rule.credential) : undefined,
    program: condition === undefined || condition === null ? null : programOf(condition),
  };
}

function rank(n: unknown, fallback: number): number {
  return typeof n === 'number' && !Number.isNaN(n) ? n : fallback;
}

/**
 * Sort once at load: priority desc, then `order` asc, then input position (stable). The result
 * and its rules are frozen, so a reload swaps the whole list instead of mutating it.
 */
export function prepareRules(rules: readonly RuleForDecision[]): PreparedList {
  const items = Array.isArray(rules) ? rules : [];
  const indexed = items.map((rule, index) => ({ rule, index }));
  indexed.sort(
    (a, b) =>
      rank(b.rule?.priority, 0) - rank(a.rule?.priority, 0) ||
      rank(a.rule?.order, Number.MAX_SAFE_INTEGER) - rank(b.rule?.order, Number.MAX_SAFE_INTEGER) ||
      a.index - b.index,
  );
  const list = Object.freeze(
    indexed.map(({ rule }) => (typeof rule === 'object' && rule !== null ? Object.freeze({ ...rule }) : rule)),
  );
  prepared.set(list, Object.freeze(list.map(entryOf)));
  return list;
}

const NO_MATCH_DENY_REASON = 'no policy rule matched this request; denied by default';
const NO_MATCH_ALLOW_REASON = 'no policy rule matched this request; allowed by defaults.no_match';

function unevaluableReason(name: string, cause: UnevaluableCause): string {
  return `rule "${name}" could not be evaluated against this request (${cause}); failing closed`;
}

interface Outcome {
  verdict: Verdict;
  approve?: readonly string[];
  rule: string | null;
  reason: string;
  code: DecisionCode;
  internalDetail?: string;
}

function finish(outcome: Outcome, options: DecideOptions | undefined): Decision {
  const shadow = options?.mode === 'shadow';
  const decision: Decision = {
    verdict: outcome.verdict,
    effective: shadow ? 'allow' : outcome.verdict,
    shadow,
    rule: outcome.rule,
    reason: outcome.reason,
    code: outcome.code,
    ...(outcome.approve ? { approve: outcome.approve } : {}),
    ...(outcome.internalDetail !== undefined ? { internalDetail: outcome.internalDetail } : {}),
  };
  return Object.freeze(decision);
}

function ruleVerdict(rule: Readonly<RuleForDecision>, name: string): Outcome {
  const approve = rule.approve;
  const hasApprove = Array.isArray(approve) && approve.length > 0;
  if (hasApprove && rule.verdict === undefined && approve.every((a) => typeof a === 'string')) {
    return {
      verdict: 'approve',
      approve: Object.freeze([...approve]),
      rule: name,
      reason: rule.reason || `approval required by policy rule "${name}"`,
      code: DecisionCode.RULE_APPROVE,
    };
  }
  if (!hasApprove && rule.verdict === 'allow') {
    return { verdict: 'allow', rule: name, reason: rule.reason || `allowed by policy rule "${name}"`, code: DecisionCode.RULE_ALLOW };
  }
  if (!hasApprove && rule.verdict === 'deny') {
    return { verdict: 'deny', rule: name, reason: rule.reason || `denied by policy rule "${name}"`, code: DecisionCode.RULE_DENY };
  }
  return {
    verdict: 'deny',
    rule: name,
    reason: `rule "${name}" is not well formed; failing closed`,
    code: DecisionCode.INVALID_RULE,
    internalDetail: 'a rule needs exactly one of verdict ("allow" | "deny") or a non-empty approve list',
  };
}

type Activation = { context: Readonly<Record<string, unknown>>; poisoned: ReadonlyMap<string, UnknownCause> };

/** Per-request activations, one per family actually needed (k8s facts also serve http rules). */
class Activations {
  readonly #byFamily = new Map<Family, Activation>();
  readonly #unknown: readonly string[];
  readonly #cause: 'truncated' | 'unparseable';

  constructor(private readonly request: DecisionRequest) {
    const unknown: string[] = [];
    if (request.unknown !== undefined && request.unknown !== null) {
      for (const p of request.unknown as Iterable<unknown>) if (typeof p === 'string') unknown.push(p);
    }
    this.#unknown = unknown;
    this.#cause = request.unknownCause === 'truncated' ? 'truncated' : 'unparseable';
  }

  for(family: Family): Activation {
    let a = this.#byFamily.get(family);
    if (!a) {
      a = contextWithUnknowns(this.#facts(family), this.#unknown, this.#cause);
      this.#byFamily.set(family, a);
    }
    return a;
  }

  #facts(family: Family): CelFacts {
    const given = this.request.facts;
    if (isCelFacts(given)) {
      if (given.family === family) return given;
      const have = familySchema(given.family).roots;
      if ([...familySchema(family).roots].every((r) => have.has(r))) return given;
      return toCelFacts(family, rawFactsOf(given));
    }
    return toCelFacts(family, given);
  }
}

export function decide(rules: readonly RuleForDecision[], request: DecisionRequest, options?: DecideOptions): Decision {
  try {
    return decideUnchecked(rules, request, options);
  } catch (error) {
    return finish(
      {
        verdict: 'deny',
        rule: null,
        reason: 'the request could not be evaluated against the policy; failing closed',
        code: DecisionCode.EVAL_ERROR,
        internalDetail: `decide failed: ${error instanceof Error ? error.message : String(error)}`.slice(0, 500),
      },
      options,
    );
  }
}

function decideUnchecked(rules: readonly RuleForDecision[], request: DecisionRequest, options?: DecideOptions): Decision {
  const entries = prepared.get(rules) ?? prepared.get(prepareRules(rules)) ?? [];
  const req: DecisionRequest = typeof request === 'object' && request !== null ? request : { facts: undefined };
  const credential = typeof req.credential === 'string' ? req.credential : '';
  const activations = new Activations(req);

  for (const entry of entries) {
    if (entry.skip) continue;
    if (entry.pin !== undefined && entry.pin !== credential) continue;
    const { rule, name, program } = entry;

    let outcome: ConditionOutcome = MATCHED;
    if (program === undefined) {
      return finish(
        {
          verdict: 'deny',
          rule: name,
          reason: `rule "${name}" is not well formed; failing closed`,
          code: DecisionCode.INVALID_RULE,
          internalDetail: 'condition was not produced by compileCondition',
        },
        options,
      );
    }
    if (program !== null) {
      const condition = rule.condition as CompiledCondition;
      const activation = activations.for(condition.family);
      outcome = runProgram(condition, program, activation.context, activation.poisoned);
    }
    if (outcome.kind === 'no-match') continue;
    if (outcome.kind === 'unevaluable') {
      return finish(
        {
          verdict: 'deny',
          rule: name,
          reason: unevaluableReason(name, outcome.cause),
          code: outcome.cause === 'evaluation error' ? DecisionCode.EVAL_ERROR : DecisionCode.UNEVALUABLE,
          internalDetail: `rule "${name}": ${outcome.detail}`,
        },
        options,
      );
    }
    return finish(ruleVerdict(rule, name), options);
  }

  return finish(
    options?.noMatch === 'allow'
      ? { verdict: 'allow', rule: null, reason: NO_MATCH_ALLOW_REASON, code: DecisionCode.NO_MATCH_ALLOW }
      : { verdict: 'deny', rule: null, reason: NO_MATCH_DENY_REASON, code: DecisionCode.NO_MATCH_DENY },
    options,
  );
}

const MATCHED: ConditionOutcome = Object.freeze({ kind: 'match' });
