import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decide, DecisionCode, prepareRules, toCelFacts, type RuleForDecision } from '../../../policy/rules/index.js';
import { compiled } from './helpers.js';

const sqlFacts = (sql: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  peer: { name: 'agent', address: '100.64.0.2' },
  profile: 'platform',
  credential: 'pg-rw',
  endpoint: 'postgres.prod',
  now: new Date('2026-03-02T10:00:00Z'),
  sql,
  ...extra,
});

function rule(name: string, order: number, fields: Partial<RuleForDecision> = {}): RuleForDecision {
  return { name, order, priority: 0, verdict: 'deny', ...fields };
}

describe('decide: ordering, first match, defaults', () => {
  it('first matching rule wins; higher priority first; ties keep file order', () => {
    const rules = prepareRules([
      rule('late-allow', 2, { verdict: 'allow' }),
      rule('early-deny', 1),
      rule('high', 3, { priority: 10, condition: compiled('sql', "sql.verb == 'select'"), verdict: 'allow' }),
    ]);
    assert.deepEqual(rules.map((r) => r.name), ['high', 'early-deny', 'late-allow']);
    assert.equal(decide(rules, { facts: sqlFacts({ verb: 'select' }) }).rule, 'high');
    const d = decide(rules, { facts: sqlFacts({ verb: 'insert' }) });
    assert.deepEqual([d.rule, d.verdict, d.code], ['early-deny', 'deny', DecisionCode.RULE_DENY]);
  });

  it('ties on priority and order fall back to input position (stable)', () => {
    const rules = prepareRules([rule('a', 5, { verdict: 'allow' }), rule('b', 5)]);
    assert.equal(decide(rules, { facts: {} }).rule, 'a');
  });

  it('unprepared lists are sorted too', () => {
    const rules = [rule('low', 0, { verdict: 'allow' }), rule('high', 1, { priority: 5 })];
    assert.equal(decide(rules, { facts: {} }).rule, 'high');
  });

  it('prepareRules returns a frozen list of frozen rules', () => {
    const rules = prepareRules([rule('a', 0)]);
    assert.ok(Object.isFrozen(rules));
    assert.ok(Object.isFrozen(rules[0]));
  });

  it('no match: deny by default with a stable code, allow when configured', () => {
    const rules = prepareRules([rule('drops', 0, { condition: compiled('sql', "sql.verb == 'drop'") })]);
    const denied = decide(rules, { facts: sqlFacts({ verb: 'select' }) });
    assert.deepEqual([denied.verdict, denied.rule, denied.code], ['deny', null, DecisionCode.NO_MATCH_DENY]);
    const allowed = decide(rules, { facts: sqlFacts({ verb: 'select' }) }, { noMatch: 'allow' });
    assert.deepEqual([allowed.verdict, allowed.code], ['allow', DecisionCode.NO_MATCH_ALLOW]);
    assert.equal(decide([], { facts: {} }).code, DecisionCode.NO_MATCH_DENY);
  });

  it('disabled rules are skipped; a rule without condition always matches', () => {
    const rules = prepareRules([rule('off', 0, { disabled: true }), rule('all', 1, { verdict: 'allow' })]);
    assert.equal(decide(rules, { facts: {} }).rule, 'all');
  });

  it('approve rules carry the approver chain; reasons come from the rule', () => {
    const rules = prepareRules([
      rule('secrets', 0, {
        verdict: undefined,
        approve: ['llm_approver.judge', 'human_approver.ops'],
        reason: 'secret columns need a look',
        condition: compiled('sql', "sets.intersects(sql.columns, ['env_vars.secret', 'env_vars.*'])"),
      }),
    ]);
    const d = decide(rules, { facts: sqlFacts({ verb: 'select', columns: ['env_vars.*'] }) });
    assert.deepEqual([d.verdict, d.effective, d.code, d.reason], ['approve', 'approve', DecisionCode.RULE_APPROVE, 'secret columns need a look']);
    assert.deepEqual(d.approve, ['llm_approver.judge', 'human_approver.ops']);
  });

  it('a malformed rule (no verdict, both verdict and approve, forged condition) denies', () => {
    assert.equal(decide([rule('x', 0, { verdict: undefined })], { facts: {} }).code, DecisionCode.INVALID_RULE);
    assert.equal(decide([rule('x', 0, { approve: ['llm_approver.a'] })], { facts: {} }).code, DecisionCode.INVALID_RULE);
    const forged = { ...compiled('sql', 'true') };
    const d = decide([rule('x', 0, { verdict: 'allow', condition: forged })], { facts: {} });
    assert.deepEqual([d.verdict, d.code], ['deny', DecisionCode.INVALID_RULE]);
  });
});

describe('decide: credential pins', () => {
  const rules = prepareRules([
    rule('rw-only-deny', 0, { credential: 'pg-rw', condition: compiled('sql', "sql.verb == 'delete'") }),
    rule('allow-rest', 1, { verdict: 'allow' }),
  ]);
  it('a pinned rule applies to requests with that credential', () => {
    assert.equal(decide(rules, { facts: sqlFacts({ verb: 'delete' }), credential: 'pg-rw' }).rule, 'rw-only-deny');
  });
  it('is skipped before its condition for any other credential', () => {
    assert.equal(decide(rules, { facts: sqlFacts({ verb: 'delete' }), credential: 'pg-ro' }).rule, 'allow-rest');
    assert.equal(decide(rules, { facts: sqlFacts({ verb: 'delete' }) }).rule, 'allow-rest');
  });
  it('a pinned rule whose condition is unevaluable does not deny other credentials', () => {
    const d = decide(rules, { facts: sqlFacts({}), unknown: new Set(['sql.verb']), credential: 'pg-ro' });
    assert.equal(d.rule, 'allow-rest');
  });
});

describe('decide: shadow mode', () => {
  it('records the decision and lets the request through', () => {
    const rules = prepareRules([rule('deny-all', 0)]);
    const d = decide(rules, { facts: {} }, { mode: 'shadow' });
    assert.deepEqual([d.verdict, d.effective, d.shadow, d.rule], ['deny', 'allow', true, 'deny-all']);
    const n = decide([], { facts: {} }, { mode: 'shadow' });
    assert.deepEqual([n.verdict, n.effective, n.code], ['deny', 'allow', DecisionCode.NO_MATCH_DENY]);
    const e = decide(rules, { facts: {} }, { mode: 'enforce' });
    assert.deepEqual([e.effective, e.shadow], ['deny', false]);
  });
  it('an approve verdict is not run in shadow mode', () => {
    const d = decide([rule('a', 0, { verdict: undefined, approve: ['human_approver.ops'] })], { facts: {} }, { mode: 'shadow' });
    assert.deepEqual([d.verdict, d.effective], ['approve', 'allow']);
  });
});

describe('decide: unknown facts and evaluation errors fail closed', () => {
  const denyTables = rule('guard', 0, { condition: compiled('sql', "sets.intersects(sql.tables, ['secrets'])") });

  it('a rule reading an unknown fact denies, and the reason names neither fact nor condition', () => {
    const d = decide(prepareRules([denyTables, rule('ok', 1, { verdict: 'allow' })]), {
      facts: sqlFacts({ verb: 'select' }),
      unknown: new Set(['sql.tables']),
      unknownCause: 'truncated',
    });
    assert.deepEqual([d.verdict, d.code, d.rule], ['deny', DecisionCode.UNEVALUABLE, 'guard']);
    assert.equal(d.reason, 'rule "guard" could not be evaluated against this request (truncated); failing closed');
    assert.doesNotMatch(d.reason, /tables|secrets|sql\./);
    assert.match(d.internalDetail ?? '', /sql\.tables/);
  });

  it('the cause defaults to unparseable', () => {
    const d = decide([denyTables], { facts: sqlFacts({}), unknown: ['sql.tables'] });
    assert.match(d.reason, /\(unparseable\)/);
  });

  it('false && unknown = false: the rule does not match and the next one decides', () => {
    const rules = prepareRules([
      rule('ddl', 0, { condition: compiled('sql', "sql.verb == 'drop' && 'users' in sql.tables") }),
      rule('ok', 1, { verdict: 'allow' }),
    ]);
    const d = decide(rules, { facts: sqlFacts({ verb: 'select' }), unknown: new Set(['sql.tables']) });
    assert.equal(d.rule, 'ok');
    // The unknown on the left: CEL's && is commutative over unknowns.
    const flipped = prepareRules([
      rule('ddl', 0, { condition: compiled('sql', "'users' in sql.tables && sql.verb == 'drop'") }),
      rule('ok', 1, { verdict: 'allow' }),
    ]);
    assert.equal(decide(flipped, { facts: sqlFacts({ verb: 'select' }), unknown: new Set(['sql.tables']) }).rule, 'ok');
  });

  it('true && unknown is unevaluable: deny', () => {
    const rules = [rule('ddl', 0, { condition: compiled('sql', "sql.verb == 'drop' && 'users' in sql.tables") })];
    const d = decide(rules, { facts: sqlFacts({ verb: 'drop' }), unknown: new Set(['sql.tables']) });
    assert.equal(d.code, DecisionCode.UNEVALUABLE);
  });

  it('true || unknown = true (either order); false || unknown is unevaluable', () => {
    const allowSelect = (src: string) => prepareRules([rule('r', 0, { verdict: 'allow', condition: compiled('sql', src) })]);
    const facts = sqlFacts({ verb: 'select' });
    const unknown = new Set(['sql.tables']);
    assert.equal(decide(allowSelect("sql.verb == 'select' || 'x' in sql.tables"), { facts, unknown }).code, DecisionCode.RULE_ALLOW);
    assert.equal(decide(allowSelect("'x' in sql.tables || sql.verb == 'select'"), { facts, unknown }).code, DecisionCode.RULE_ALLOW);
    assert.equal(decide(allowSelect("sql.verb == 'insert' || 'x' in sql.tables"), { facts, unknown }).code, DecisionCode.UNEVALUABLE);
  });

  it('negation, ternaries, has() and macros over an unknown are unevaluable', () => {
    for (const src of [
      "!('x' in sql.tables)",
      "sql.verb == 'select' ? 'x' in sql.tables : false",
      "'x' in sql.tables ? true : true",
      'has(sql.tables)',
      'size(sql.tables) >= 0',
      "sql.tables.all(t, t != 'x')",
      "sql.tables[0] == 'x'",
    ]) {
      const d = decide([rule('r', 0, { condition: compiled('sql', src) })], { facts: sqlFacts({ verb: 'select' }), unknown: new Set(['sql.tables']) });
      assert.equal(d.code, DecisionCode.UNEVALUABLE, src);
    }
  });

  it('an unknown that the condition does not read changes nothing', () => {
    const rules = [rule('sel', 0, { verdict: 'allow', condition: compiled('sql', "sql.verb == 'select'") })];
    assert.equal(decide(rules, { facts: sqlFacts({ verb: 'select' }), unknown: new Set(['sql.tables', 'sql.columns']) }).code, DecisionCode.RULE_ALLOW);
  });

  it('a whole root, a nested path, or a typo under a known root poisons conservatively', () => {
    const rules = [rule('r', 0, { verdict: 'allow', condition: compiled('sql', "sql.verb == 'select'") })];
    const facts = sqlFacts({ verb: 'select' });
    assert.equal(decide(rules, { facts, unknown: ['sql'] }).code, DecisionCode.UNEVALUABLE);
    assert.equal(decide(rules, { facts, unknown: ['sql.verbs'] }).code, DecisionCode.UNEVALUABLE);
    assert.equal(decide(rules, { facts, unknown: ['http.body'] }).code, DecisionCode.RULE_ALLOW);
    const json = [rule('j', 0, { verdict: 'allow', condition: compiled('http', "http.body_json.user == 'x'") })];
    assert.equal(decide(json, { facts: { http: { body_json: { user: 'x' } } }, unknown: ['http.body_json.user'] }).code, DecisionCode.UNEVALUABLE);
  });

  it('unknown common facts (now, peer.name)', () => {
    const rules = [rule('hours', 0, { verdict: 'allow', condition: compiled('sql', 'now.getHours() >= 9') })];
    assert.equal(decide(rules, { facts: sqlFacts({}), unknown: ['now'] }).code, DecisionCode.UNEVALUABLE);
    assert.equal(decide(rules, { facts: sqlFacts({}) }).code, DecisionCode.RULE_ALLOW);
  });

  it('evaluation errors deny with POL_EVAL_ERROR: missing map key, index out of range, bad run-time regex', () => {
    for (const [src, facts] of [
      ["http.query['page'][0] == '1'", { http: { query: {} } }],
      ["http.body_json.user.name == 'x'", { http: { body_json: { other: 1 } } }],
      ["re.matches(http.path, http.body)", { http: { path: '(', body: 'x' } }],
    ] as const) {
      const d = decide([rule('r', 0, { verdict: 'allow', condition: compiled('http', src) })], { facts });
      assert.deepEqual([d.verdict, d.code], ['deny', DecisionCode.EVAL_ERROR], src);
      assert.equal(d.reason, 'rule "r" could not be evaluated against this request (evaluation error); failing closed');
      assert.ok(d.internalDetail, src);
    }
  });

  it('a wrong-typed fact value denies a rule that reads it, not one that does not', () => {
    const reads = [rule('port', 0, { verdict: 'allow', condition: compiled('ssh', 'ssh.forward_port == 22') })];
    const other = [rule('verb', 0, { verdict: 'allow', condition: compiled('ssh', "ssh.verb == 'exec'") })];
    const facts = { ssh: { verb: 'exec', forward_port: '22' } };
    assert.equal(decide(reads, { facts }).code, DecisionCode.EVAL_ERROR);
    assert.equal(decide(other, { facts }).code, DecisionCode.RULE_ALLOW);
  });

  it('has() guards a missing key, as in CEL', () => {
    const rules = [rule('r', 0, { verdict: 'allow', condition: compiled('http', "has(http.body_json.user) && http.body_json.user == 'x'") })];
    assert.equal(decide(rules, { facts: { http: { body_json: {} } } }, { noMatch: 'deny' }).code, DecisionCode.NO_MATCH_DENY);
    assert.equal(decide(rules, { facts: { http: { body_json: { user: 'x' } } } }).code, DecisionCode.RULE_ALLOW);
  });
});

describe('decide: facts as given by callers', () => {
  it('accepts toCelFacts output or plain objects; k8s facts serve http rules', () => {
    const httpRule = [rule('get', 0, { verdict: 'allow', condition: compiled('http', "http.method == 'get'") })];
    const k8sFacts = toCelFacts('k8s', { http: { method: 'GET' }, k8s: { verb: 'get' } });
    assert.equal(decide(httpRule, { facts: k8sFacts }).code, DecisionCode.RULE_ALLOW);
    const sqlOnly = toCelFacts('sql', { http: { method: 'get' } });
    // sql facts carry no http.*: converted again from the original input for the http rule.
    assert.equal(decide(httpRule, { facts: sqlOnly }).code, DecisionCode.RULE_ALLOW);
  });

  it('lowercase facts match lowercased literals even if the mapper sent uppercase', () => {
    const rules = [rule('no-drop', 0, { condition: compiled('sql', "sql.verb == 'DROP' || 'PG_SLEEP' in sql.functions") })];
    assert.equal(decide(rules, { facts: sqlFacts({ verb: 'DROP' }) }).rule, 'no-drop');
    assert.equal(decide(rules, { facts: sqlFacts({ verb: 'drop' }) }).rule, 'no-drop');
    assert.equal(decide(rules, { facts: sqlFacts({ verb: 'select', functions: ['PG_SLEEP'] }) }).rule, 'no-drop');
    const headers = [rule('h', 0, { verdict: 'allow', condition: compiled('http', "'X-Api-Key' in http.headers") })];
    assert.equal(decide(headers, { facts: { http: { headers: { 'x-api-key': ['k'] } } } }).code, DecisionCode.RULE_ALLOW);
    assert.equal(decide(headers, { facts: { http: { headers: { 'X-API-KEY': 'k' } } } }).code, DecisionCode.RULE_ALLOW);
  });

  it('office hours from now, peer and profile facts', () => {
    const rules = [
      rule('office', 0, {
        verdict: 'allow',
        condition: compiled('tcp', "now.getHours('Europe/Berlin') >= 9 && now.getHours('Europe/Berlin') < 18 && profile == 'platform' && peer.name == 'agent'"),
      }),
    ];
    const at = (iso: string) => ({ peer: { name: 'agent' }, profile: 'platform', now: new Date(iso) });
    assert.equal(decide(rules, { facts: at('2026-03-02T10:00:00Z') }).code, DecisionCode.RULE_ALLOW);
    assert.equal(decide(rules, { facts: at('2026-03-02T20:00:00Z') }).code, DecisionCode.NO_MATCH_DENY);
  });
});
