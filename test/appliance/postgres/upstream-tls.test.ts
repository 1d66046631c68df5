/**
 * Upstream TLS with real certificate checks: a PostgreSQL 15 server with ssl = on and a
 * certificate from a throwaway CA, real psql in front of the Postgres handler. verify-full
 * connects with the right CA and host name, and refuses (with a generic error to the agent) a
 * wrong CA or a name the certificate does not carry; require encrypts without checking.
 */
import { strict as assert } from 'node:assert';
import { execFileSync, execFile } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
const PASSWORD = `tls-${Math.random().toString(36).slice(2)}`;

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

before(async () => {
  requireTools(['psql', 'openssl']);
  dir = mkdtempSync(join(tmpdir(), 'bailiff-pg-tls-'));
  // A CA and a server certificate for the name "localhost" only, and an unrelated CA.
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=bailiff test CA']);
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'other.key', '-out', 'other.pem', '-days', '2', '-subj', '/CN=other CA']);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=DNS:localhost\n');
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext']);
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }));
  for (const f of ['server.pem', 'server.key']) chownSync(join(dir, f), uid, gid);
  execFileSync('chmod', ['0600', join(dir, 'server.key')]);
  execFileSync('chmod', ['0755', dir]);
  pg = await startPostgres({ settings: { ssl: 'on', ssl_cert_file: `'${join(dir, 'server.pem')}'`, ssl_key_file: `'${join(dir, 'server.key')}'` } });
  await pg.psql(`CREATE ROLE app LOGIN PASSWORD '${PASSWORD}'`);
  await pg.psql('CREATE DATABASE app OWNER app');
  writeFileSync(join(dir, 'pgpass'), `${PASSWORD}\n`, { mode: 0o600 });
});

after(async () => {
  await pg?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function policy(upstreamHost: string, sslmode: string, ca?: string): string {
  return `gateway {
  state_dir = "./state"
  wireguard { subnet_cidr = "100.64.0.0/24" }
}
endpoint "postgres" "db" {
  host     = "db.internal:5432"
  upstream = "${upstreamHost}:${pg!.port}"
  sslmode  = "${sslmode}"
  ${ca ? `ca_cert = "${ca}"` : ''}
}
credential "postgres_credential" "app" {
  endpoint = postgres.db
  user     = "app"
  database = "app"
  password = file("${join(dir, 'pgpass')}")
}
profile "default" {
  credentials = [postgres_credential.app]
}
rule "reads" {
  endpoint  = postgres.db
  condition = "sql.verb in ['select', 'set', 'show']"
  verdict   = "allow"
}
`;
}

async function psqlVia(proxyPort: number, sql: string) {
  return exec('psql', ['-X', '-A', '-t', `host=127.0.0.1 port=${proxyPort} user=app dbname=app sslmode=disable connect_timeout=10`, '-c', sql], { timeout: 20_000 })
    .then((r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }), (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }));
}

async function withProxy<T>(text: string, run: (port: number) => Promise<T>): Promise<T> {
  const proxy = await startPgProxy({ dir: mkdtempSync(join(dir, 'proxy-')), policy: text });
  try {
    return await run(proxy.port);
  } finally {
    await proxy.close();
  }
}

test('verify-full with the right CA and host name: the upstream session is encrypted', async () => {
  await withProxy(policy('localhost', 'verify-full', join(dir, 'ca.pem')), async (port) => {
    const r = await psqlVia(port, 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 't');
  });
});

test('verify-full refuses a certificate from another CA, with a generic error to the agent', async () => {
  await withProxy(policy('localhost', 'verify-full', join(dir, 'other.pem')), async (port) => {
    const r = await psqlVia(port, 'SELECT 1');
    assert.notEqual(r.code, 0);
    const fatal = /FATAL:\s*(.*)/.exec(r.stderr)?.[1] ?? '';
    assert.equal(fatal.trim(), 'upstream authentication failed', 'the agent gets a generic error, no upstream details');
  });
});

test('verify-full refuses a host name the certificate does not carry', async () => {
  // Same server, same CA, dialled as 127.0.0.1: the certificate names only "localhost".
  await withProxy(policy('127.0.0.1', 'verify-full', join(dir, 'ca.pem')), async (port) => {
    const r = await psqlVia(port, 'SELECT 1');
    assert.notEqual(r.code, 0, 'a certificate for localhost must not pass for 127.0.0.1');
    assert.match(r.stderr, /FATAL:\s*upstream authentication failed/);
  });
});

test('require encrypts without checking the chain', async () => {
  await withProxy(policy('127.0.0.1', 'require'), async (port) => {
    const r = await psqlVia(port, 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 't');
  });
});
