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
import { ConditionMemo, type MemoSlot } from './condition-memo.js';
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
  /** Where its outcomes are remembered; undefined: evaluated every time. */
  readonly slot: MemoSlot | undefined;
  /** The decision when it matches, enforce and shadow (frozen, so one object serves every request). */
  readonly matched: readonly [Decision, Decision] | undefined;
}

interface PreparedEntries {
  readonly entries: readonly Entry[];
  readonly memo: ConditionMemo;
}

/** Lists made by prepareRules: already sorted and resolved, so decide() does neither again. */
const prepared = new WeakMap<object, PreparedEntries>();

function entryOf(rule: Readonly<RuleForDecision>, slot: MemoSlot | undefined): Entry {
  const ok = typeof rule === 'object' && rule !== null;
  const condition = ok ? rule.condition : undefined;
  const name = ok && typeof rule.name === 'string' ? rule.name : '<unnamed>';
  const skip = !ok || rule.disabled === true;
  let matched: readonly [Decision, Decision] | undefined;
  try {
    if (!skip) {
      const outcome = ruleVerdict(rule, name);
      matched = Object.freeze([finish(outcome, ENFORCE), finish(outcome, SHADOW)] as const);
    }
  } catch {
    // An exotic approve list (a throwing proxy): decided at request time, as before, and denied there.
  }
  return {
    rule,
    name,
    skip,
    pin: ok && rule.credential !== undefined && rule.credential !== null ? String(rule.credential) : undefined,
    program: condition === undefined || condition === null ? null : programOf(condition),
    slot,
    matched,
  };
}

/** The conditions a memo may remember: only those compileCondition made (reads are trusted). */
function memoCandidate(rule: Readonly<RuleForDecision>): CompiledCondition | undefined {
  if (typeof rule !== 'object' || rule === null || rule.disabled === true) return undefined;
  const condition = rule.condition;
  return condition !== undefined && condition !== null && programOf(condition) !== undefined ? condition : undefined;
}

function rank(n: unknown, fallback: number): number {
  return typeof n === 'number' && !Number.isNaN(n) ? n : fallback;
}

export interface PrepareOptions {
  /** Remember condition outcomes per list (condition-memo.ts); default true. Off: evaluate every time. */
  readonly memo?: boolean | undefined;
}

/**
 * Sort once at load: priority desc, then `order` asc, then input position (stable). The result
 * and its rules are frozen, so a reload swaps the whole list instead of mutating it. Each list
 * gets a condition memo of its own, so a reload never sees the outcomes of the list it replaces.
 */
export function prepareRules(rules: readonly RuleForDecision[], options?: PrepareOptions): PreparedList {
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
  const { memo, slots } = ConditionMemo.build(options?.memo === false ? [] : list.map(memoCandidate));
  prepared.set(list, { entries: Object.freeze(list.map((rule, i) => entryOf(rule, slots[i]))), memo });
  return list;
}

/** What the condition memo of a prepared list holds (for tests and diagnostics). */
export function memoStats(rules: readonly RuleForDecision[]): ReturnType<ConditionMemo['stats']> | undefined {
  return prepared.get(rules)?.memo.stats();
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

const ENFORCE: DecideOptions = Object.freeze({ mode: 'enforce' });
const SHADOW: DecideOptions = Object.freeze({ mode: 'shadow' });

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

interface Activation {
  /** What the program reads: the converted facts, or a copy whose unknown facts throw. */
  readonly context: Readonly<Record<string, unknown>>;
  readonly poisoned: ReadonlyMap<string, UnknownCause>;
  /** The converted facts themselves (memo keys are made from these). */
  readonly facts: Readonly<Record<string, unknown>>;
}

/** Per-request activations, one per family actually needed (k8s facts also serve http rules). */
class Activations {
  readonly #byFamily = new Map<Family, Activation>();
  /** An endpoint's rules are nearly always of one family: skip the map for a repeat. */
  #lastFamily: Family | undefined;
  #last: Activation | undefined;
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
    if (family === this.#lastFamily && this.#last !== undefined) return this.#last;
    let a = this.#byFamily.get(family);
    if (!a) {
      const facts = this.#facts(family);
      const { context, poisoned } = contextWithUnknowns(facts, this.#unknown, this.#cause);
      a = { context, poisoned, facts: facts.context };
      this.#byFamily.set(family, a);
    }
    this.#lastFamily = family;
    this.#last = a;
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
  const list = prepared.get(rules) ?? prepared.get(prepareRules(rules));
  const entries = list?.entries ?? [];
  const req: DecisionRequest = typeof request === 'object' && request !== null ? request : { facts: undefined };
  const credential = typeof req.credential === 'string' ? req.credential : '';
  const activations = new Activations(req);
  const memo = list && list.memo.groupCount > 0 ? list.memo.lookup() : undefined;

  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
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
      outcome =
        memo !== undefined && entry.slot !== undefined
          ? memo.outcome(entry.slot, condition, program, activation)
          : runProgram(condition, program, activation.context, activation.poisoned);
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
    return entry.matched?.[options?.mode === 'shadow' ? 1 : 0] ?? finish(ruleVerdict(rule, name), options);
  }

  return (options?.noMatch === 'allow' ? NO_MATCH_ALLOW : NO_MATCH_DENY)[options?.mode === 'shadow' ? 1 : 0];
}

const NO_MATCH_ALLOW_OUTCOME: Outcome = { verdict: 'allow', rule: null, reason: NO_MATCH_ALLOW_REASON, code: DecisionCode.NO_MATCH_ALLOW };
const NO_MATCH_DENY_OUTCOME: Outcome = { verdict: 'deny', rule: null, reason: NO_MATCH_DENY_REASON, code: DecisionCode.NO_MATCH_DENY };
const NO_MATCH_ALLOW = [finish(NO_MATCH_ALLOW_OUTCOME, ENFORCE), finish(NO_MATCH_ALLOW_OUTCOME, SHADOW)] as const;
const NO_MATCH_DENY = [finish(NO_MATCH_DENY_OUTCOME, ENFORCE), finish(NO_MATCH_DENY_OUTCOME, SHADOW)] as const;

const MATCHED: ConditionOutcome = Object.freeze({ kind: 'match' });
