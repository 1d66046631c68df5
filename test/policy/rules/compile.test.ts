import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CompileCode, compileCondition, familySchema } from '../../../policy/rules/index.js';
import { compiled, diagnostics } from './helpers.js';

const file = 'policy.hcl';

describe('compileCondition: type checking against the family facts', () => {
  it('accepts a well-typed bool condition and records the facts it reads', () => {
    const c = compiled('sql', "sql.verb in ['drop', 'truncate'] && sets.intersects(sql.tables, ['users']) && peer.name != ''");
    assert.deepEqual([...c.reads].sort(), ['peer.name', 'sql.tables', 'sql.verb']);
    assert.equal(c.family, 'sql');
  });

  it('refuses an unknown fact field with the position of the field', () => {
    const [d] = diagnostics('sql', "sql.verbb == 'x'", { file, line: 7, column: 15 });
    assert.equal(d?.code, CompileCode.TYPE);
    assert.match(d?.message ?? '', /verbb/);
    assert.deepEqual([d?.file, d?.line, d?.column], [file, 7, 19]);
  });

  it('refuses a type error (string + int)', () => {
    const [d] = diagnostics('sql', 'sql.verb + 1');
    assert.equal(d?.code, CompileCode.TYPE);
    assert.match(d?.message ?? '', /string \+ int/);
  });

  it('refuses facts of another family and says what the family can read', () => {
    const [d] = diagnostics('sql', "http.method == 'get'");
    assert.equal(d?.code, CompileCode.TYPE);
    assert.match(d?.message ?? '', /Unknown variable: http/);
    assert.match(d?.message ?? '', /sql rules can read: .*peer.*sql/);
  });

  it('k8s rules read http.* too; tcp rules read only the common facts', () => {
    compiled('k8s', "k8s.verb == 'exec' && http.path.startsWith('/api')");
    compiled('tcp', "peer.address == '100.64.0.2' && profile == 'p' && credential == '' && endpoint == 'tcp.x'");
    assert.equal(diagnostics('tcp', "sql.verb == 'x'")[0]?.code, CompileCode.TYPE);
  });

  it('requires the condition to be a bool', () => {
    assert.equal(diagnostics('sql', 'sql.verb')[0]?.code, CompileCode.NOT_BOOL);
    assert.equal(diagnostics('sql', 'size(sql.tables)')[0]?.code, CompileCode.NOT_BOOL);
    const [d] = diagnostics('http', 'http.body_json.admin');
    assert.equal(d?.code, CompileCode.NOT_BOOL);
    assert.match(d?.message ?? '', /== true/);
    compiled('http', 'http.body_json.admin == true');
  });

  it('int facts are ints, timestamps are timestamps', () => {
    compiled('ssh', "ssh.verb == 'forward' && ssh.forward_port == 5432");
    assert.equal(diagnostics('ssh', "ssh.forward_port == '5432'")[0]?.code, CompileCode.TYPE);
    compiled('tcp', 'now.getHours() >= 9 && now.getDayOfWeek() < 6');
    compiled('tcp', "now > timestamp('2026-01-01T00:00:00Z')");
  });

  it('maps of lists: http.query, http.headers, k8s.params', () => {
    compiled('http', "'debug' in http.query && http.query['debug'][0] == '1'");
    compiled('k8s', "k8s.params['command'].exists(a, a == 'sh')");
    assert.equal(diagnostics('http', "http.query['x'] == 'y'")[0]?.code, CompileCode.TYPE);
  });

  it('reports syntax errors with their position', () => {
    const [d] = diagnostics('sql', "sql.verb == 'x' &&", { file, line: 3, column: 17 });
    assert.equal(d?.code, CompileCode.SYNTAX);
    assert.deepEqual([d?.line, d?.column], [3, 17 + 18]);
    assert.equal(diagnostics('sql', "sql.verb == 'unterminated")[0]?.code, CompileCode.SYNTAX);
  });

  it('refuses an empty condition, an unknown family, an oversized or over-deep one', () => {
    assert.equal(diagnostics('sql', '   ')[0]?.code, CompileCode.EMPTY);
    assert.equal(diagnostics('nope' as 'sql', 'true')[0]?.code, CompileCode.UNKNOWN_FAMILY);
    assert.equal(diagnostics('sql', `sql.verb == '${'x'.repeat(70_000)}'`)[0]?.code, CompileCode.TOO_LARGE);
    const deep = Array.from({ length: 300 }, () => "sql.verb == 'x'").join(' && ');
    assert.equal(diagnostics('sql', deep)[0]?.code, CompileCode.TOO_DEEP);
    const nested = `${'('.repeat(500)}true${')'.repeat(500)}`;
    assert.ok([CompileCode.TOO_LARGE, CompileCode.TOO_DEEP, CompileCode.SYNTAX].includes(diagnostics('sql', nested)[0]?.code as never));
  });

  it('exposes the fact paths of each family exactly as POLICY.md lists them', () => {
    assert.deepEqual(familySchema('sql').paths, [
      'peer.name', 'peer.address',
      'sql.verb', 'sql.tables', 'sql.columns', 'sql.functions', 'sql.statement', 'sql.database', 'sql.user',
      'profile', 'credential', 'endpoint', 'now',
    ]);
    assert.deepEqual(familySchema('k8s').paths.filter((p) => p.startsWith('k8s.')), [
      'k8s.verb', 'k8s.group', 'k8s.version', 'k8s.resource', 'k8s.subresource', 'k8s.namespace', 'k8s.name', 'k8s.params',
    ]);
    assert.deepEqual(familySchema('http').paths.filter((p) => p.startsWith('http.')), [
      'http.method', 'http.host', 'http.path', 'http.query', 'http.headers', 'http.body', 'http.body_json',
    ]);
    assert.deepEqual(familySchema('ssh').paths.filter((p) => p.startsWith('ssh.')), [
      'ssh.verb', 'ssh.command', 'ssh.subsystem', 'ssh.forward_host', 'ssh.forward_port', 'ssh.user',
    ]);
    assert.deepEqual(familySchema('tcp').paths, ['peer.name', 'peer.address', 'profile', 'credential', 'endpoint', 'now']);
  });

  it('a compiled condition is frozen', () => {
    const c = compiled('sql', "sql.verb == 'x'");
    assert.ok(Object.isFrozen(c));
    assert.throws(() => {
      (c as { source: string }).source = 'true';
    });
  });

  it('never throws on non-string input', () => {
    const r = compileCondition('sql', 42 as unknown as string);
    assert.equal(r.ok, false);
  });
});

describe('compileCondition: positions inside the policy file', () => {
  it('one-line quoted condition: column offset from the opening quote', () => {
    // condition = "sql.verb == 'x' && sql.tabels == []"   starts at line 4, column 17
    const [d] = diagnostics('sql', "sql.verb == 'x' && sql.tabels == []", { file, line: 4, column: 17 });
    assert.deepEqual([d?.file, d?.line, d?.column], [file, 4, 17 + 'sql.verb == \'x\' && sql.'.length]);
  });

  it('heredoc starting at line 10: an error on its 3rd line is reported at line 12, right column', () => {
    const body = ["sql.verb == 'select' &&", "  size(sql.tables) > 1 &&", "  sql.statement.size() + 'x' == 2"].join('\n');
    const [d] = diagnostics('sql', body, { file, line: 10, column: 1 });
    assert.equal(d?.code, CompileCode.TYPE);
    assert.deepEqual([d?.line, d?.column], [12, 3]);
  });

  it('<<- heredoc with stripped indentation: columns come from the raw text', () => {
    const raw = "    sql.verb == 'select' &&\n      sql.verbb == 'x'\n";
    const source = "sql.verb == 'select' &&\n  sql.verbb == 'x'\n";
    const [d] = diagnostics('sql', source, { file, line: 20, column: 1, raw });
    assert.deepEqual([d?.line, d?.column], [21, 7 + 'sql.'.length]);
  });

  it('quoted string with HCL escapes: columns come from the raw text', () => {
    const raw = String.raw`sql.verb == \"x\" && sql.verbb == \"y\"`;
    const source = `sql.verb == "x" && sql.verbb == "y"`;
    const [d] = diagnostics('sql', source, { file, line: 2, column: 15, raw });
    assert.deepEqual([d?.line, d?.column], [2, 15 + raw.indexOf('verbb')]);
  });

  it('CRLF line endings count as one line break', () => {
    const [d] = diagnostics('sql', "true &&\r\n  sql.verbb == 'x'", { file, line: 1, column: 1 });
    assert.deepEqual([d?.line, d?.column], [2, 7]);
  });

  it('several problems are all reported, in source order', () => {
    const ds = diagnostics('sql', "sql.statement.matches('a') || re.matches('(', sql.statement)");
    assert.deepEqual(ds.map((d) => d.code), [CompileCode.MATCHES_REFUSED, CompileCode.BAD_REGEX]);
  });
});

describe('compileCondition: matches() is refused, re.matches is RE2', () => {
  it('refuses text.matches(re) and matches(text, re)', () => {
    for (const src of ["sql.statement.matches('^select')", "matches(sql.statement, '^select')", "sql.tables.exists(t, t.matches('x'))"]) {
      const ds = diagnostics('sql', src);
      assert.ok(ds.some((d) => d.code === CompileCode.MATCHES_REFUSED), src);
      assert.match(ds.find((d) => d.code === CompileCode.MATCHES_REFUSED)?.message ?? '', /re\.matches\(pattern, text\)/);
    }
  });

  it('does not refuse a string literal that contains "matches("', () => {
    compiled('sql', "sql.statement == 'matches(x, y)' || sql.statement.contains('.matches(')");
  });

  it('refuses a macro variable that hides re, sets or a fact', () => {
    for (const src of ["sql.tables.exists(re, re.matches('x'))", "sql.tables.exists(sql, sql == 'x')", "sql.tables.all(sets, sets != '')"]) {
      assert.ok(diagnostics('sql', src).some((d) => d.code === CompileCode.SHADOWED), src);
    }
  });

  it('an invalid literal pattern is a load error at the pattern', () => {
    const [d] = diagnostics('sql', "re.matches('a(b', sql.statement)", { file, line: 1, column: 1 });
    assert.equal(d?.code, CompileCode.BAD_REGEX);
    assert.equal(d?.column, 12);
  });

  it('re.matches with a literal text and a computed pattern is refused as swapped arguments', () => {
    assert.equal(diagnostics('sql', "re.matches(sql.statement, '^drop')")[0]?.code, CompileCode.REGEX_ARGS);
    compiled('sql', 're.matches(sql.database, sql.statement)');
  });

  it('re.matches arguments are typed', () => {
    assert.equal(diagnostics('sql', 're.matches(1, sql.statement)')[0]?.code, CompileCode.TYPE);
  });
});

describe('compileCondition: lowercase literal normalisation', () => {
  it('lowercases literals compared with lowercase facts', () => {
    assert.deepEqual(compiled('sql', "sql.verb == 'DROP'").lowercased, ['DROP']);
    assert.deepEqual([...compiled('sql', "sql.verb in ['DROP', 'Truncate']").lowercased].sort(), ['DROP', 'Truncate']);
    assert.deepEqual(compiled('http', "'GET' != http.method").lowercased, ['GET']);
    assert.deepEqual(compiled('k8s', "k8s.verb.startsWith('DELETE')").lowercased, ['DELETE']);
    assert.deepEqual(compiled('ssh', "ssh.verb == 'EXEC'").lowercased, ['EXEC']);
    assert.deepEqual(compiled('sql', "'PG_SLEEP' in sql.functions").lowercased, ['PG_SLEEP']);
    assert.deepEqual(compiled('sql', "sets.intersects(sql.functions, ['LO_IMPORT'])").lowercased, ['LO_IMPORT']);
    assert.deepEqual(compiled('sql', "sql.functions.exists(f, f == 'DBLINK')").lowercased, ['DBLINK']);
    assert.deepEqual(compiled('http', "http.headers['X-Api-Key'].size() > 0").lowercased, ['X-Api-Key']);
  });

  it('leaves case-sensitive facts and regex patterns alone', () => {
    assert.deepEqual(compiled('sql', "sql.statement == 'DROP' || 'Users' in sql.tables").lowercased, []);
    assert.deepEqual(compiled('sql', "re.matches('^DROP', sql.verb)").lowercased, []);
    assert.deepEqual(compiled('sql', "sql.tables.exists(f, f == 'USERS')").lowercased, []);
  });
});
