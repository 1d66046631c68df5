/**
 * Adversarial inputs to the rule engine: random facts never make decide() throw and always give
 * a well-formed decision; random CEL text never makes compileCondition() throw.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compileCondition, decide, DecisionCode, familySchema, FAMILIES, prepareRules, toCelFacts, type CompiledCondition, type Decision, type Family, type RuleForDecision } from '../../policy/rules/index.js';

const CODES = new Set<string>(Object.values(DecisionCode));

function mustCompile(family: Family, src: string): CompiledCondition {
  const r = compileCondition(family, src);
  if (!r.ok) throw new Error(`${src}: ${JSON.stringify(r.diagnostics)}`);
  return r.condition;
}

const RULE_SOURCES: Record<Family, string[]> = {
  sql: [
    "sql.verb in ['DROP', 'truncate', 'alter']",
    "sets.intersects(sql.tables, ['users', 'api_tokens']) && sql.verb != 'select'",
    "sql.columns.exists(c, c.startsWith('env_vars.'))",
    "re.matches('(a+)+$', sql.statement)",
    "'pg_sleep' in sql.functions || size(sql.statement) > 10000",
    "sql.database == 'prod' && sql.user != 'admin' && now.getHours() < 6",
  ],
  http: [
    "http.method == 'POST' && http.path.startsWith('/admin')",
    "http.query['debug'][0] == '1'",
    "has(http.body_json.user) && http.body_json.user.role == 'admin'",
    "'authorization' in http.headers && re.matches('^Bearer ', http.headers['authorization'][0])",
  ],
  k8s: ["k8s.verb == 'exec' || k8s.params['command'].exists(a, a == 'sh')", "k8s.namespace == 'kube-system' && http.method != 'get'"],
  ssh: ["ssh.verb == 'forward' && ssh.forward_port < 1024", "ssh.command.contains('rm -rf') || ssh.user == 'root'"],
  tcp: ["peer.name == 'agent' && profile == 'x'", "endpoint.startsWith('tcp.') && credential == ''"],
};

function rulesFor(family: Family): readonly RuleForDecision[] {
  return prepareRules(
    RULE_SOURCES[family].map((src, i) => ({
      name: `r${i}`,
      priority: i % 3,
      order: i,
      condition: mustCompile(family, src),
      ...(i % 4 === 3 ? { approve: ['llm_approver.j'] } : { verdict: i % 2 ? 'allow' : 'deny' }),
      ...(i === 1 ? { credential: 'c1' } : {}),
    })),
  );
}

function assertDecision(d: Decision): void {
  assert.ok(['allow', 'deny', 'approve'].includes(d.verdict));
  assert.ok(['allow', 'deny', 'approve'].includes(d.effective));
  assert.ok(CODES.has(d.code), d.code);
  assert.equal(typeof d.reason, 'string');
  assert.ok(d.rule === null || typeof d.rule === 'string');
}

/** Values of every shape, including the wrong ones for each fact. */
const anyValue = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.constantFrom('a'.repeat(200_000), 'DROP', '', '__proto__', 'constructor'),
  fc.integer(),
  fc.double(),
  fc.bigInt(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.date({ noInvalidDate: false }),
  fc.array(fc.oneof(fc.string(), fc.integer()), { maxLength: 20 }),
  fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.array(fc.string(), { maxLength: 5 }), fc.integer())),
  fc.anything({ maxDepth: 3 }),
);

function factsArbitrary(family: Family): fc.Arbitrary<unknown> {
  const schema = familySchema(family);
  const group = (fields: string[]) => fc.oneof(fc.record(Object.fromEntries(fields.map((f) => [f, anyValue])), { requiredKeys: [] }), anyValue);
  const shape: Record<string, fc.Arbitrary<unknown>> = {};
  for (const g of schema.groups) shape[g.root] = group(Object.keys(g.fields));
  for (const s of schema.scalars) shape[s.root] = anyValue;
  return fc.oneof({ weight: 8, arbitrary: fc.record(shape, { requiredKeys: [] }) }, { weight: 1, arbitrary: anyValue });
}

const unknownArbitrary = (family: Family) =>
  fc.array(fc.oneof(fc.constantFrom(...familySchema(family).paths, 'sql', 'http.body_json.x', 'bogus.path'), fc.string()), { maxLength: 4 });

describe('fuzz: decide() on random facts', () => {
  for (const family of FAMILIES) {
    it(`${family}: never throws, always a well-formed decision`, () => {
      const rules = rulesFor(family);
      fc.assert(
        fc.property(
          factsArbitrary(family),
          unknownArbitrary(family),
          fc.constantFrom(undefined, 'truncated', 'unparseable'),
          fc.constantFrom(undefined, '', 'c1', 'c2'),
          fc.constantFrom('enforce', 'shadow'),
          fc.boolean(),
          (facts, unknown, unknownCause, credential, mode, preconvert) => {
            const given = preconvert ? toCelFacts(family, facts) : facts;
            const d = decide(rules, { facts: given, unknown: new Set(unknown), unknownCause: unknownCause as 'truncated' | undefined, credential }, { mode: mode as 'enforce' });
            assertDecision(d);
            if (mode === 'shadow') assert.equal(d.effective, 'allow');
          },
        ),
        { numRuns: 300 },
      );
    });
  }

  it('garbage requests and rule lists still give a decision', () => {
    fc.assert(
      fc.property(fc.anything({ maxDepth: 2 }), fc.anything({ maxDepth: 2 }), (request, options) => {
        assertDecision(decide(rulesFor('sql'), request as never, options as never));
        assertDecision(decide(request as never, { facts: {} }));
      }),
      { numRuns: 300 },
    );
  });
});

describe('fuzz: compileCondition() on random text', () => {
  const tokens = fc.constantFrom(
    'sql', '.', 'verb', 'tables', '==', '!=', '&&', '||', '!', '(', ')', '[', ']', '{', '}', ',', ':', '?',
    "'DROP'", '"x"', '1', '2.5', 'true', 'null', 'in', 'matches', 're', 'sets', 'intersects', 'exists', 'all',
    't', 'size', 'has', '+', '-', '*', '/', '%', 'now', 'peer', 'name', 'b"x"', "r'\\d'", "'''", '\\', '\n', ' ',
  );
  const sources = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.array(tokens, { maxLength: 60 }).map((t) => t.join(' ')),
    fc.array(tokens, { maxLength: 60 }).map((t) => t.join('')),
  );

  it('never throws; failures are diagnostics with positions inside the text', () => {
    fc.assert(
      fc.property(fc.constantFrom(...FAMILIES), sources, fc.integer({ min: 1, max: 1000 }), (family, src, line) => {
        const r = compileCondition(family, src, { file: 'f.hcl', line, column: 3 });
        if (r.ok) return;
        assert.ok(r.diagnostics.length > 0);
        const lines = src.split(/\r\n|\r|\n/).length;
        for (const d of r.diagnostics) {
          assert.equal(typeof d.code, 'string');
          assert.equal(typeof d.message, 'string');
          assert.ok(d.line >= line && d.line < line + lines, `${d.line} outside ${line}..${line + lines - 1}`);
          assert.ok(d.column >= 1);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('whatever compiles evaluates without throwing out of decide()', () => {
    fc.assert(
      fc.property(fc.constantFrom(...FAMILIES), sources, factsArbitrary('sql'), (family, src, facts) => {
        const r = compileCondition(family, src);
        if (!r.ok) return;
        assertDecision(decide([{ name: 'x', priority: 0, order: 0, condition: r.condition, verdict: 'allow' }], { facts }));
      }),
      { numRuns: 1000 },
    );
  });
});
