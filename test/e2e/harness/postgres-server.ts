/**
 * A real PostgreSQL server for end-to-end tests: a private data dir and port on 127.0.0.1,
 * SCRAM-SHA-256 passwords required for TCP clients, started and stopped by PID (never by name).
 * Runs as the `postgres` system user (the Debian package creates it), since initdb refuses root.
 */
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { run, sleep } from './processes.js';
import { freeTcpPort } from './appliance.js';

export const PG_BIN = '/usr/lib/postgresql/15/bin';

export interface PostgresServer {
  port: number;
  host: string;
  dataDir: string;
  superPassword: string;
  psql(sql: string, options?: { user?: string; password?: string; database?: string }): Promise<string>;
  stop(): Promise<void>;
}

function postgresIds(): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

export async function startPostgres(options: { settings?: Record<string, string>; hba?: string[] } = {}): Promise<PostgresServer> {
  const { uid, gid } = postgresIds();
  const base = mkdtempSync(join(tmpdir(), 'bailiff-pg-'));
  chmodSync(base, 0o755);
  const dataDir = join(base, 'data');
  const socketDir = join(base, 'sock');
  execFileSync('mkdir', ['-p', dataDir, socketDir]);
  chownSync(dataDir, uid, gid);
  chownSync(socketDir, uid, gid);
  const superPassword = `su-${Math.random().toString(36).slice(2)}`;
  const pwFile = join(base, 'pw');
  writeFileSync(pwFile, `${superPassword}\n`, { mode: 0o600 });
  chownSync(pwFile, uid, gid);
  const asPostgres = { uid, gid, env: { ...process.env, LC_ALL: 'C.UTF-8' }, stdio: 'pipe' as const };
  execFileSync(`${PG_BIN}/initdb`, ['-D', dataDir, '-U', 'postgres', '--auth-local=trust', '--auth-host=scram-sha-256', `--pwfile=${pwFile}`, '-E', 'UTF8', '--no-locale'], asPostgres);
  const port = await freeTcpPort();
  const settings = {
    port: String(port),
    listen_addresses: "'127.0.0.1'",
    unix_socket_directories: `'${socketDir}'`,
    password_encryption: "'scram-sha-256'",
    fsync: 'off',
    max_connections: '200',
    ...options.settings,
  };
  writeFileSync(join(dataDir, 'postgresql.conf'), `${readFileSync(join(dataDir, 'postgresql.conf'), 'utf8')}\n${Object.entries(settings).map(([k, v]) => `${k} = ${v}`).join('\n')}\n`);
  if (options.hba?.length) {
    // First matching line wins: the test's lines go before initdb's defaults.
    const hba = join(dataDir, 'pg_hba.conf');
    writeFileSync(hba, `${options.hba.join('\n')}\n${readFileSync(hba, 'utf8')}`);
  }
  execFileSync(`${PG_BIN}/pg_ctl`, ['-D', dataDir, '-l', join(dataDir, 'server.log'), '-w', '-t', '30', 'start'], asPostgres);
  const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);

  const server: PostgresServer = {
    port,
    host: '127.0.0.1',
    dataDir,
    superPassword,
    async psql(sql, o = {}) {
      const r = await run('env', [
        `PGPASSWORD=${o.password ?? superPassword}`,
        'psql', '-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1',
        '-h', '127.0.0.1', '-p', String(port), '-U', o.user ?? 'postgres', '-d', o.database ?? 'postgres', '-c', sql,
      ], { timeoutMs: 30_000 });
      return r.stdout.trim();
    },
    async stop() {
      try {
        process.kill(pid, 'SIGINT'); // fast shutdown
      } catch {
        // already gone
      }
      for (let i = 0; i < 100; i++) {
        try {
          process.kill(pid, 0);
        } catch {
          break;
        }
        await sleep(50);
      }
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // stopped
      }
      rmSync(base, { recursive: true, force: true });
    },
  };
  return server;
}
