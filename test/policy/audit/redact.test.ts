/** Secrets never reach the stored bytes; connection-string passwords are removed even unregistered. */
import { strict as assert } from 'node:assert';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { AuditLog, REDACTED, Redactor, redact } from '../../../policy/audit/index.js';
import { decision, tempDir } from './helpers.js';

describe('redact()', () => {
  test('replaces registered secrets anywhere in the string', () => {
    assert.equal(redact('token abc123 and abc123!', ['abc123']), `token ${REDACTED} and ${REDACTED}!`);
    assert.equal(redact('nothing here', ['abc123']), 'nothing here');
    assert.equal(redact('x', ['']), 'x');
  });

  test('overlapping secrets leave no fragment of either', () => {
    assert.equal(redact('..abcdefgh..', ['abcdef', 'cdefgh']), `..${REDACTED}..`);
    assert.equal(redact('aaaa', ['aaa']), REDACTED);
  });

  test('connection-string passwords, registered or not', () => {
    const cases: Array<[string, string]> = [
      ['host=db user=app password=s3cret dbname=x', `host=db user=app password=${REDACTED} dbname=x`],
      ["password = 'it''s secret' sslmode=require", `password = ${REDACTED} sslmode=require`],
      ["ALTER ROLE app WITH PASSWORD 'it''s new'; SELECT 1", `ALTER ROLE app WITH PASSWORD ${REDACTED}; SELECT 1`],
      ["password='a b\\' c' host=x", `password=${REDACTED} host=x`],
      ['Server=x;Uid=u;Pwd=hunter2;', `Server=x;Uid=u;Pwd=${REDACTED};`],
      ['PGPASSWORD=hunter2 psql', `PGPASSWORD=${REDACTED} psql`],
      ['db_password="quoted value"', `db_password=${REDACTED}`],
      ['postgres://app:hunter2@db:5432/prod', `postgres://app:${REDACTED}@db:5432/prod`],
      ['see https://user:pa55@example.com/x and https://example.com/y', `see https://user:${REDACTED}@example.com/x and https://example.com/y`],
      ['https://example.com:8443/path@x', 'https://example.com:8443/path@x'],
      ['the password is in the vault', 'the password is in the vault'],
    ];
    for (const [input, expected] of cases) assert.equal(redact(input, []), expected, input);
  });

  test('Redactor adds URL-encoded forms and ignores empty secrets', () => {
    const r = new Redactor();
    r.add(['p@ss word', '']);
    assert.equal(r.apply('q=p%40ss%20word&x=1'), `q=${REDACTED}&x=1`);
    assert.equal(r.apply('raw p@ss word'), `raw ${REDACTED}`);
  });

  test('a string seen before a secret was registered is redacted after it is', () => {
    const r = new Redactor();
    assert.equal(r.apply('token tk-123'), 'token tk-123'); // remembered as clean
    r.add(['tk-123']);
    assert.equal(r.apply('token tk-123'), `token ${REDACTED}`);
    assert.equal(r.apply('token tk-123'), `token ${REDACTED}`);
  });

  test('stays linear on adversarial agent-controlled text', () => {
    const inputs = [
      `${'password='.repeat(100_000)}`,
      `password='${'\\'.repeat(500_000)}`,
      `${"password '".repeat(100_000)}`,
      `password '${"''".repeat(300_000)}`,
      `${'a.'.repeat(300_000)}://x`,
      `${'://x:'.repeat(200_000)}`,
      `${'pwd   '.repeat(150_000)}`,
    ];
    for (const input of inputs) {
      const started = performance.now();
      redact(input, ['secret-value']);
      const ms = performance.now() - started;
      assert.ok(ms < 1000, `${input.slice(0, 20)}... took ${ms.toFixed(0)} ms`);
    }
  });
});

describe('redaction in the log', () => {
  test('a registered secret never appears in the stored bytes', async () => {
    const { dir, cleanup } = tempDir();
    const secret = 'S3cr3t-Pa55w0rd-7f1e';
    const urlPassword = 'unregistered-pw-93af';
    const canary = 'canary-statement-5bd2';
    const log = await AuditLog.open({ dir, secrets: ['bearer-token-a1b2c3'] });
    try {
      log.addSecrets([secret]);
      const entry = await log.append(decision(1, {
        reason: `upstream rejected ${secret}`,
        facts: {
          'sql.statement': `select '${canary}', '${secret}'`,
          'http.headers': { authorization: ['Bearer bearer-token-a1b2c3'], [secret]: [`x${secret}x`] },
          'list': [[secret, { deep: encodeURIComponent(secret) }]],
        },
        detail: { dsn: `postgres://app:${urlPassword}@db/prod`, kv: `host=db password=${urlPassword}` },
        approvers: [{ name: 'llm_approver.judge', reason: `saw ${secret}` }],
      }));
      const text = JSON.stringify(entry);
      assert.ok(!text.includes(secret) && !text.includes(urlPassword) && !text.includes('bearer-token-a1b2c3'));
      assert.ok(text.includes(canary) && text.includes(REDACTED));
      await log.complete(entry.seq, { error: `auth failed for ${secret}` });
      assert.equal((await log.verify()).ok, true);
    } finally {
      await log.close();
    }
    try {
      // Read every file of the log directory as bytes: segments, head, lock file.
      const files = readdirSync(dir).map((name) => readFileSync(join(dir, name)));
      const all = Buffer.concat(files);
      assert.ok(all.includes(canary), 'the raw read must see record content, or the test proves nothing');
      for (const needle of [secret, encodeURIComponent(secret), urlPassword, 'bearer-token-a1b2c3']) {
        assert.equal(all.includes(needle), false, `${needle} found in the raw log files`);
      }
    } finally {
      cleanup();
    }
  });
});
