/**
 * CompiledPolicy: what is worked out once per policy (profile reach, rule lists and their memos)
 * must not leak between policies or between requests.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfigTexts } from '../../policy/config/load.js';
import { CompiledPolicy, type PolicyRequest } from '../../policy/engine.js';
import { memoStats } from '../../policy/rules/decide.js';

async function policy(rules: string, extra = ''): Promise<CompiledPolicy> {
  const text = `gateway {
  state_dir        = "./state"
  dashboard_listen = "127.0.0.1:8080"
  wireguard {
    listen_port = 51820
    subnet_cidr = "100.64.0.0/24"
  }
}
endpoint "postgres" "prod" {
  host    = "db.internal:5432"
  sslmode = "disable"
}
endpoint "postgres" "other" {
  host    = "other.internal:5432"
  sslmode = "disable"
}
credential "postgres_credential" "ro" {
  endpoint = postgres.prod
  user     = "agent"
  password = env("UNUSED_TEST_PASSWORD")
}
credential "postgres_credential" "rw" {
  endpoint = postgres.prod
  user     = "writer"
  password = env("UNUSED_TEST_PASSWORD")
}
profile "platform" {
  credentials = [postgres_credential.ro, postgres_credential.rw]
}
profile "readers" {
  credentials = [postgres_credential.ro]
}
${extra}
${rules}`;
  const loaded = await loadConfigTexts([{ file: 'policy.hcl', text }], { source: 'policy.hcl', baseDir: '.' });
  assert.deepEqual(loaded.diagnostics, []);
  return new CompiledPolicy(loaded.config!);
}

function rule(name: string, condition: string, verdict: 'allow' | 'deny'): string {
  return `rule "${name}" {\n  endpoint  = postgres.prod\n  condition = ${JSON.stringify(condition)}\n  verdict   = "${verdict}"\n}\n`;
}

function request(verb: string, tables: string[], extra: Partial<PolicyRequest> = {}): PolicyRequest {
  return {
    peer: { name: 'agent', address: '100.64.0.2', profile: 'platform' },
    endpoint: 'postgres.prod',
    credential: 'postgres_credential.ro',
    facts: { sql: { verb, tables, statement: `${verb} something` } },
    unknown: [],
    now: new Date('2026-03-02T10:00:00Z'),
    ...extra,
  };
}

describe('CompiledPolicy', () => {
  it('a reloaded policy does not reuse the outcomes of the one it replaces', async () => {
    const before = await policy(rule('no-select', "sql.verb == 'select'", 'deny') + rule('rest', 'true', 'allow'));
    assert.equal(before.decide(request('select', ['t'])).rule, 'no-select');
    assert.ok(memoStats(before.rulesFor('postgres.prod'))!.entries > 0);
    const after = await policy(rule('no-drop', "sql.verb == 'drop'", 'deny') + rule('rest', 'true', 'allow'));
    assert.equal(memoStats(after.rulesFor('postgres.prod'))!.entries, 0);
    assert.equal(after.decide(request('select', ['t'])).rule, 'rest');
    assert.equal(after.decide(request('drop', ['t'])).rule, 'no-drop');
    assert.equal(before.decide(request('select', ['t'])).rule, 'no-select');
  });

  it('same verb, different tables, through the whole decide path', async () => {
    const p = await policy(rule('no-secrets', "sql.verb == 'select' && 'secrets' in sql.tables", 'deny') + rule('reads', "sql.verb == 'select'", 'allow'));
    assert.equal(p.decide(request('select', ['orders'])).verdict, 'allow');
    assert.equal(p.decide(request('select', ['secrets'])).verdict, 'deny');
    assert.equal(p.decide(request('select', ['orders'])).verdict, 'allow');
    const unknown = p.decide(request('select', ['orders'], { unknown: ['sql.tables'], unknownCause: 'truncated' }));
    assert.deepEqual([unknown.verdict, unknown.code, unknown.rule], ['deny', 'POL_UNEVALUABLE', 'no-secrets']);
  });

  it('access and credential checks come before the rules, per request', async () => {
    const p = await policy(rule('rest', 'true', 'allow'));
    assert.equal(p.decide(request('select', [])).verdict, 'allow');
    const readers = { name: 'reader', address: '100.64.0.3', profile: 'readers' };
    assert.equal(p.decide(request('select', [], { peer: readers })).verdict, 'allow');
    assert.equal(p.decide(request('select', [], { peer: readers, credential: 'postgres_credential.rw' })).code, 'ACCESS_NO_CREDENTIAL');
    const nobody = { name: 'x', address: '100.64.0.4', profile: 'nobody' };
    const refused = p.decide(request('select', [], { peer: nobody }));
    assert.deepEqual([refused.code, refused.reason], ['ACCESS_NOT_IN_PROFILE', 'profile "nobody" does not reach postgres.prod']);
    assert.equal(p.decide(request('select', [], { endpoint: 'postgres.other' })).code, 'ACCESS_NOT_IN_PROFILE');
    assert.equal(p.decide(request('select', [], { endpoint: 'postgres.nope' })).code, 'ACCESS_UNKNOWN_ENDPOINT');
  });

  it('access() and decide() hand out objects the caller may change without effect on the policy', async () => {
    const p = await policy(rule('rest', 'true', 'allow'));
    const peer = { name: 'agent', address: '100.64.0.2', profile: 'platform' };
    const first = p.access(peer, 'postgres.prod');
    assert.ok(first.ok);
    assert.deepEqual(first.credentials.map((c) => c.credential.ref), ['postgres_credential.ro', 'postgres_credential.rw']);
    first.credentials.length = 0;
    const second = p.access(peer, 'postgres.prod');
    assert.ok(second.ok && second.credentials.length === 2);

    const d = p.decide(request('select', []));
    assert.deepEqual(Object.keys(d), ['verdict', 'effective', 'shadow', 'rule', 'reason', 'code', 'endpoint', 'family']);
    (d as { reason: string }).reason = 'changed';
    assert.equal(p.decide(request('select', [])).reason, 'allowed by policy rule "rest"');
  });

  it('facts given for common names are replaced by the request\'s own', async () => {
    const p = await policy(rule('platform-only', "profile == 'platform' && credential == 'postgres_credential.ro'", 'allow'));
    const forged = request('select', [], { facts: { sql: { verb: 'select' }, profile: 'readers', credential: 'x' } });
    assert.equal(p.decide(forged).rule, 'platform-only');
  });
});
