/**
 * The condition memo must never change a decision: each case primes the memo with one request,
 * then sends one that differs in exactly the way a wrong hit would hide, and checks the memo was
 * in use (so the test cannot pass by the memo being off). A differential property compares a
 * long-lived prepared list against one prepared without a memo, on random requests.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MEMO_LIMITS } from '../../../policy/rules/condition-memo.js';
import { memoStats } from '../../../policy/rules/decide.js';
import { decide, DecisionCode, prepareRules, toCelFacts, type DecideOptions, type DecisionRequest, type RuleForDecision } from '../../../policy/rules/index.js';
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

function deny(name: string, order: number, condition: string, family: 'sql' | 'http' | 'ssh' = 'sql'): RuleForDecision {
  return { name, order, priority: 0, verdict: 'deny', condition: compiled(family, condition) };
}

const allowRest: RuleForDecision = { name: 'allow-rest', order: 1000, priority: -1, verdict: 'allow' };

function entries(rules: readonly RuleForDecision[]): number {
  const stats = memoStats(rules);
  assert.ok(stats, 'a prepared list has a memo');
  return stats.entries;
}

describe('condition memo: a remembered outcome is used only for the same values', () => {
  it('same verb, different tables', () => {
    const rules = prepareRules([
      deny('no-secrets', 0, "sql.verb == 'select' && 'secrets' in sql.tables"),
      deny('no-delete', 1, "sql.verb == 'delete' && !('jobs' in sql.tables)"),
      allowRest,
    ]);
    const at = (verb: string, tables: string[]) => decide(rules, { facts: sqlFacts({ verb, tables }) }).rule;
    assert.equal(at('select', ['orders']), 'allow-rest');
    assert.ok(entries(rules) > 0, 'the memo is in use');
    assert.equal(at('select', ['secrets']), 'no-secrets');
    assert.equal(at('select', ['orders']), 'allow-rest');
    assert.equal(at('select', ['orders', 'secrets']), 'no-secrets');
    assert.equal(at('select', ['secrets', 'orders']), 'no-secrets');
    assert.equal(at('select', ['orders', 'secret']), 'allow-rest');
    assert.equal(at('select', []), 'allow-rest');
    assert.equal(at('delete', ['jobs']), 'allow-rest');
    assert.equal(at('delete', ['users']), 'no-delete');
    assert.equal(at('delete', ['jobs', 'users']), 'allow-rest');
    assert.equal(at('delete', ['users']), 'no-delete');
    // Lists whose joined text would be equal under a naive encoding.
    assert.equal(at('delete', ['jo', 'bs']), 'no-delete');
    assert.equal(at('delete', ['jobs', '']), 'allow-rest');
  });

  it('strings that a naive join would confuse', () => {
    const rules = prepareRules([deny('pair', 0, "sql.database == 'a,b' && sql.user == 'c'"), allowRest]);
    const at = (database: string, user: string) => decide(rules, { facts: sqlFacts({ database, user }) }).rule;
    assert.equal(at('a,b', 'c'), 'pair');
    assert.equal(at('a', 'b,c'), 'allow-rest');
    assert.equal(at('a,b', 'c'), 'pair');
    assert.equal(at('a,b,c', ''), 'allow-rest');
  });

  it('ints and maps are compared by value (ssh port, http headers)', () => {
    const port = prepareRules([deny('ssh-port', 0, 'ssh.forward_port == 22', 'ssh'), allowRest]);
    const p = (forward_port: number) => decide(port, { facts: { ssh: { verb: 'forward', forward_port } } }).rule;
    assert.equal(p(22), 'ssh-port');
    assert.equal(p(2222), 'allow-rest');
    assert.equal(p(22), 'ssh-port');
    assert.ok(entries(port) > 0);

    const headers = prepareRules([deny('admin', 0, "'x-admin' in http.headers && http.headers['x-admin'][0] == 'yes'", 'http'), allowRest]);
    const h = (hs: Record<string, string[]>) => decide(headers, { facts: { http: { headers: hs } } }).rule;
    assert.equal(h({ 'x-admin': ['no'] }), 'allow-rest');
    assert.equal(h({ 'x-admin': ['yes'] }), 'admin');
    assert.equal(h({ 'x-admin': ['no'] }), 'allow-rest');
    assert.equal(h({ accept: ['*/*'], 'x-admin': ['yes'] }), 'admin');
    assert.equal(h({ 'x-admin': ['yes'], accept: ['*/*'] }), 'admin');
    assert.equal(h({ 'x-admin': ['no', 'yes'] }), 'allow-rest');
    assert.ok(entries(headers) > 0);
  });

  it('a credential pin still applies per request when the outcome is remembered', () => {
    const rules = prepareRules([{ ...deny('rw-delete', 0, "sql.verb == 'delete'"), credential: 'pg-rw' }, allowRest]);
    assert.equal(decide(rules, { facts: sqlFacts({ verb: 'delete' }), credential: 'pg-rw' }).rule, 'rw-delete');
    assert.equal(decide(rules, { facts: sqlFacts({ verb: 'delete' }), credential: 'pg-ro' }).rule, 'allow-rest');
    assert.equal(decide(rules, { facts: sqlFacts({ verb: 'delete' }), credential: 'pg-rw' }).rule, 'rw-delete');
  });

  it('shadow mode and no-match defaults are per call, not remembered', () => {
    const rules = prepareRules([deny('drops', 0, "sql.verb == 'drop'")]);
    const facts = sqlFacts({ verb: 'drop' });
    const enforce = decide(rules, { facts });
    const shadow = decide(rules, { facts }, { mode: 'shadow' });
    assert.deepEqual([enforce.effective, shadow.effective, shadow.shadow], ['deny', 'allow', true]);
    const select = sqlFacts({ verb: 'select' });
    assert.equal(decide(rules, { facts: select }).code, DecisionCode.NO_MATCH_DENY);
    assert.equal(decide(rules, { facts: select }, { noMatch: 'allow' }).code, DecisionCode.NO_MATCH_ALLOW);
    assert.equal(decide(rules, { facts: select }, { noMatch: 'allow', mode: 'shadow' }).effective, 'allow');
    assert.ok(Object.isFrozen(decide(rules, { facts })));
  });
});

describe('condition memo: unknown and invalid facts', () => {
  const rules = prepareRules([
    deny('no-secrets', 0, "'secrets' in sql.tables"),
    deny('ddl', 1, "sql.verb == 'drop' && 'users' in sql.tables"),
    allowRest,
  ]);
  const known = sqlFacts({ verb: 'select', tables: ['orders'] });

  it('a known outcome is not used for a request where that fact is unknown', () => {
    assert.equal(decide(rules, { facts: known }).rule, 'allow-rest');
    assert.ok(entries(rules) > 0);
    for (const unknown of [['sql.tables'], ['sql'], ['sql.tablez'], ['sql.tables.x']]) {
      const d = decide(rules, { facts: known, unknown, unknownCause: 'truncated' });
      assert.deepEqual([d.rule, d.code], ['no-secrets', DecisionCode.UNEVALUABLE], unknown.join());
      assert.match(d.internalDetail ?? '', /unknown|sql/);
    }
    assert.equal(decide(rules, { facts: known }).rule, 'allow-rest');
  });

  it('an unknown the condition does not read keeps the remembered outcome, and partial evaluation holds', () => {
    assert.equal(decide(rules, { facts: known, unknown: ['sql.columns'] }).rule, 'allow-rest');
    // verb known and not 'drop': `false && unknown` is false, so 'ddl' does not match; 'no-secrets' denies.
    const d = decide(rules, { facts: sqlFacts({ verb: 'select' }), unknown: ['sql.tables'] });
    assert.deepEqual([d.rule, d.code], ['no-secrets', DecisionCode.UNEVALUABLE]);
    const only = prepareRules([deny('ddl', 0, "sql.verb == 'drop' && 'users' in sql.tables"), allowRest]);
    assert.equal(decide(only, { facts: sqlFacts({ verb: 'drop', tables: ['users'] }) }).rule, 'ddl');
    assert.equal(decide(only, { facts: sqlFacts({ verb: 'select', tables: ['users'] }), unknown: ['sql.tables'] }).rule, 'allow-rest');
    assert.equal(decide(only, { facts: sqlFacts({ verb: 'drop', tables: ['users'] }), unknown: ['sql.tables'] }).code, DecisionCode.UNEVALUABLE);
    assert.equal(decide(only, { facts: sqlFacts({ verb: 'drop', tables: ['orders'] }) }).rule, 'allow-rest');
  });

  it('requests with unknown facts never write outcomes, so a later known request computes its own', () => {
    const fresh = prepareRules([deny('no-secrets', 0, "'secrets' in sql.tables"), allowRest]);
    const secrets = sqlFacts({ tables: ['secrets'] });
    // The unknown sql.columns is not read by the rule: evaluated, but not stored.
    assert.equal(decide(fresh, { facts: secrets, unknown: ['sql.columns'] }).rule, 'no-secrets');
    assert.equal(entries(fresh), 0);
    assert.equal(decide(fresh, { facts: secrets }).rule, 'no-secrets');
    assert.ok(entries(fresh) > 0);
  });

  it('an invalid (wrong-typed) value is an evaluation error, never a remembered outcome', () => {
    assert.equal(decide(rules, { facts: sqlFacts({ tables: ['orders'] }) }).rule, 'allow-rest');
    const d = decide(rules, { facts: sqlFacts({ tables: ['orders', 7] }) });
    assert.deepEqual([d.rule, d.code], ['no-secrets', DecisionCode.EVAL_ERROR]);
    assert.equal(decide(rules, { facts: sqlFacts({ tables: ['orders'] }) }).rule, 'allow-rest');
  });

  it('unevaluable outcomes are not remembered: the same values decide again once known', () => {
    const regex = prepareRules([deny('re', 0, 're.matches(http.path, http.body)', 'http'), allowRest]);
    const bad = { http: { path: '(', body: 'x' } };
    assert.equal(decide(regex, { facts: bad }).code, DecisionCode.EVAL_ERROR);
    assert.equal(decide(regex, { facts: bad }).code, DecisionCode.EVAL_ERROR);
    assert.equal(decide(regex, { facts: { http: { path: 'x', body: 'x' } } }).rule, 're');
    assert.ok(entries(regex) > 0);
  });
});

describe('condition memo: what is never remembered', () => {
  it('rules reading now are evaluated every time', () => {
    const rules = prepareRules([deny('night', 0, "now.getHours() < 6 && sql.verb == 'select'"), allowRest]);
    const at = (iso: string) => decide(rules, { facts: sqlFacts({ verb: 'select' }, { now: new Date(iso) }) }).rule;
    assert.equal(at('2026-03-02T03:00:00Z'), 'night');
    assert.equal(at('2026-03-02T10:00:00Z'), 'allow-rest');
    assert.equal(at('2026-03-02T03:00:00Z'), 'night');
    assert.equal(at('2026-03-02T10:00:00Z'), 'allow-rest');
    assert.deepEqual(memoStats(rules), { groups: 0, leaves: 0, entries: 0, chars: 0, paused: 0 });
  });

  it('rules reading a whole root or a dyn value are evaluated every time', () => {
    const rules = prepareRules([
      deny('json', 0, "has(http.body_json.role) && http.body_json.role == 'admin'", 'http'),
      deny('root', 1, "dyn(http).method == 'delete'", 'http'),
      allowRest,
    ]);
    const d = (facts: unknown) => decide(rules, { facts }).rule;
    assert.equal(d({ http: { body_json: { role: 'user' } } }), 'allow-rest');
    assert.equal(d({ http: { body_json: { role: 'admin' } } }), 'json');
    assert.equal(d({ http: { method: 'DELETE' } }), 'root');
    assert.equal(d({ http: { method: 'GET' } }), 'allow-rest');
    assert.equal(memoStats(rules)?.groups, 0);
  });

  it('values longer than the bound are evaluated, not remembered', () => {
    const rules = prepareRules([deny('program', 0, "sql.statement.contains('PROGRAM')"), allowRest]);
    const long = 'x'.repeat(MEMO_LIMITS.maxValueLength + 1);
    assert.equal(decide(rules, { facts: sqlFacts({ statement: long }) }).rule, 'allow-rest');
    assert.equal(decide(rules, { facts: sqlFacts({ statement: `${long}PROGRAM` }) }).rule, 'program');
    assert.equal(decide(rules, { facts: sqlFacts({ statement: `${long}PROGRAM` }) }).rule, 'program');
    assert.equal(entries(rules), 0);
  });
});

describe('condition memo: lifetime and bounds', () => {
  it('a new prepared list (a reload) starts empty and never sees another list\'s outcomes', () => {
    const old = prepareRules([deny('deny-select', 0, "sql.verb == 'select'"), allowRest]);
    assert.equal(decide(old, { facts: sqlFacts({ verb: 'select' }) }).rule, 'deny-select');
    assert.ok(entries(old) > 0);
    // Same shape (one group reading sql.verb, slot 0), another condition.
    const reloaded = prepareRules([deny('deny-drop', 0, "sql.verb == 'drop'"), allowRest]);
    assert.equal(entries(reloaded), 0);
    assert.equal(decide(reloaded, { facts: sqlFacts({ verb: 'select' }) }).rule, 'allow-rest');
    assert.equal(decide(old, { facts: sqlFacts({ verb: 'select' }) }).rule, 'deny-select');
    // The very same rule objects prepared again: a memo of its own too.
    const again = prepareRules(old);
    assert.equal(entries(again), 0);
  });

  it('entries and characters stay within the bound; decisions stay right across clears', () => {
    const rules = prepareRules([deny('no-secrets', 0, "'secrets' in sql.tables"), allowRest]);
    const rounds = MEMO_LIMITS.maxEntries + 500;
    let max = 0;
    for (let i = 0; i < rounds; i++) {
      // Each value twice, so the group's hit rate keeps it from pausing: the bound does the work.
      const tables = i % 97 === 0 ? [`t${i}`, 'secrets'] : [`t${i}`];
      for (let k = 0; k < 2; k++) {
        const d = decide(rules, { facts: sqlFacts({ tables }) });
        assert.equal(d.rule, tables.includes('secrets') ? 'no-secrets' : 'allow-rest');
      }
      const stats = memoStats(rules)!;
      assert.ok(stats.entries <= MEMO_LIMITS.maxEntries, `entries ${stats.entries}`);
      assert.ok(stats.chars <= MEMO_LIMITS.maxChars, `chars ${stats.chars}`);
      max = Math.max(max, stats.entries);
    }
    assert.ok(max > MEMO_LIMITS.maxEntries / 2, 'the memo filled up before being cleared');
  });

  it('a group whose values rarely repeat pauses, and decides right meanwhile', () => {
    const rules = prepareRules([deny('program', 0, "sql.verb == 'copy' && sql.statement.contains('PROGRAM')"), allowRest]);
    for (let i = 0; i < MEMO_LIMITS.window * 3; i++) {
      const statement = i % 10 === 0 ? `COPY t TO PROGRAM 'x${i}'` : `COPY t TO '/tmp/${i}'`;
      assert.equal(decide(rules, { facts: sqlFacts({ verb: 'copy', statement }) }).rule, i % 10 === 0 ? 'program' : 'allow-rest');
    }
    const stats = memoStats(rules)!;
    assert.equal(stats.paused, 1);
    assert.ok(stats.entries < MEMO_LIMITS.window * 2, `paused group holds ${stats.entries} entries`);
  });
});

describe('condition memo: differential against evaluation without memory', () => {
  const conditions = [
    "sql.verb in ['drop', 'truncate', 'alter', 'create']",
    "sets.intersects(sql.columns, ['env_vars.secret', 'env_vars.*'])",
    "sql.verb == 'delete' && !('jobs' in sql.tables)",
    "'pg_shadow' in sql.tables || 'pg_authid' in sql.tables",
    "sql.functions.exists(f, f.startsWith('dblink'))",
    "sql.verb == 'copy' && sql.statement.contains('PROGRAM')",
    "'users' in sql.tables && sql.columns.exists(c, c.endsWith('.password'))",
    "sql.user == 'intern' && now.getHours() < 9",
    "profile == 'contractors' && sql.verb != 'select'",
    "size(sql.tables) > 2",
    "sql.tables[0] == 'audit'",
  ];
  const rules: RuleForDecision[] = conditions.map((c, i) => ({ ...deny(`r${i}`, i, c), ...(i === 4 ? { credential: 'pg-rw' } : {}) }));
  rules.push({ name: 'reads', order: 100, priority: -1, verdict: 'allow', condition: compiled('sql', "sql.verb in ['select', 'show']") });
  rules.push({ name: 'ask', order: 101, priority: -2, approve: ['human_approver.ops'], condition: compiled('sql', "sql.verb == 'update'") });
  const remembered = prepareRules(rules);
  const evaluated = prepareRules(rules, { memo: false });

  const word = (options: string[]) => fc.constantFrom(...options);
  const request = fc.record({
    verb: word(['select', 'delete', 'drop', 'copy', 'update', 'show', 'insert', '']),
    tables: fc.array(word(['jobs', 'users', 'pg_shadow', 'audit', 'orders', 'public.orders']), { maxLength: 4 }),
    columns: fc.array(word(['users.password', 'env_vars.secret', 'env_vars.*', 'orders.id']), { maxLength: 3 }),
    functions: fc.array(word(['dblink_exec', 'count', 'now']), { maxLength: 2 }),
    statement: word(['SELECT 1', 'COPY t TO PROGRAM x', 'copy t to program x']),
    user: word(['intern', 'agent']),
    profile: word(['platform', 'contractors']),
    hour: fc.integer({ min: 0, max: 23 }),
    credential: word(['pg-rw', 'pg-ro', '']),
    unknown: fc.subarray(['sql.verb', 'sql.tables', 'sql.columns', 'sql.statement', 'sql', 'now', 'profile', 'sql.bogus']),
    unknownCause: word(['truncated', 'unparseable']),
    invalidTables: fc.boolean(),
    shadow: fc.boolean(),
    celFacts: fc.boolean(),
  });

  it('every decision equals the one made without a memo', () => {
    fc.assert(
      fc.property(fc.array(request, { minLength: 1, maxLength: 40 }), (requests) => {
        for (const r of requests) {
          const raw = sqlFacts(
            { verb: r.verb, tables: r.invalidTables ? [...r.tables, 1] : r.tables, columns: r.columns, functions: r.functions, statement: r.statement, user: r.user },
            { profile: r.profile, now: new Date(Date.UTC(2026, 2, 2, r.hour)) },
          );
          const req: DecisionRequest = {
            facts: r.celFacts ? toCelFacts('sql', raw) : raw,
            ...(r.unknown.length > 0 ? { unknown: r.unknown, unknownCause: r.unknownCause as 'truncated' | 'unparseable' } : {}),
            credential: r.credential,
          };
          const options: DecideOptions = r.shadow ? { mode: 'shadow' } : {};
          assert.deepEqual(decide(remembered, req, options), decide(evaluated, req, options));
        }
      }),
      { numRuns: 300 },
    );
    assert.ok(entries(remembered) > 0, 'the memo was in use');
    assert.deepEqual(memoStats(evaluated), { groups: 0, leaves: 0, entries: 0, chars: 0, paused: 0 });
  });
});
