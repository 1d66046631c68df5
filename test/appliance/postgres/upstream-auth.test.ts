/**
 * The other password methods a real server may ask for: md5 and cleartext. The appliance answers
 * them with the credential's password; a wrong password gives the agent only a generic error.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { startPgProxy } from './proxy-harness.js';
import { startPostgres, type PostgresServer } from '../../e2e/harness/postgres-server.js';
import { requireTools } from '../../e2e/harness/requirements.js';

const exec = promisify(execFile);
let dir: string;
let pg: PostgresServer | undefined;
const PASSWORD = `auth-${Math.random().toString(36).slice(2)}`;

before(async () => {
  requireTools(['psql']);
  dir = mkdtempSync(join(tmpdir(), 'bailiff-pg-auth-'));
  pg = await startPostgres({
    settings: { password_encryption: "'md5'" },
    hba: ['host all md5user 127.0.0.1/32 md5', 'host all plainuser 127.0.0.1/32 password'],
  });
  for (const role of ['md5user', 'plainuser']) {
    await pg.psql(`CREATE ROLE ${role} LOGIN PASSWORD '${PASSWORD}'`);
  }
  writeFileSync(join(dir, 'good'), `${PASSWORD}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'bad'), 'not-the-password\n', { mode: 0o600 });
});

after(async () => {
  await pg?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function policy(user: string, passwordFile: string): string {
  return `gateway {
  state_dir = "./state"
  wireguard { subnet_cidr = "100.64.0.0/24" }
}
endpoint "postgres" "db" {
  host     = "db.internal:5432"
  upstream = "127.0.0.1:${pg!.port}"
  sslmode  = "disable"
}
credential "postgres_credential" "c" {
  endpoint = postgres.db
  user     = "${user}"
  database = "postgres"
  password = file("${join(dir, passwordFile)}")
}
profile "default" {
  credentials = [postgres_credential.c]
}
rule "reads" {
  endpoint  = postgres.db
  condition = "sql.verb == 'select'"
  verdict   = "allow"
}
`;
}

async function psqlAs(user: string, passwordFile: string) {
  const proxy = await startPgProxy({ dir: mkdtempSync(join(dir, 'proxy-')), policy: policy(user, passwordFile) });
  try {
    return await exec('psql', ['-X', '-A', '-t', `host=127.0.0.1 port=${proxy.port} user=${user} dbname=postgres sslmode=disable connect_timeout=10`, '-c', 'SELECT current_user'], { timeout: 20_000 })
      .then((r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }), (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }));
  } finally {
    await proxy.close();
  }
}

for (const [user, method] of [['md5user', 'md5'], ['plainuser', 'cleartext']] as const) {
  test(`${method}: the appliance logs in with the credential's password`, async () => {
    const r = await psqlAs(user, 'good');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), user);
  });

  test(`${method}: a wrong password reaches the agent as a generic error only`, async () => {
    const r = await psqlAs(user, 'bad');
    assert.notEqual(r.code, 0);
    assert.equal(/FATAL:\s*(.*)/.exec(r.stderr)?.[1]?.trim(), 'upstream authentication failed');
    assert.doesNotMatch(r.stderr, new RegExp(user === 'md5user' ? 'password authentication failed for user' : 'md5user'));
  });
}
