/**
 * The demo's database: PGlite (Postgres compiled to WASM) behind its socket server on loopback,
 * so `bailiff run` with no configuration gives a new user a real Postgres to point psql at through
 * the tunnel, with no database installed. Data persists in the state dir. Demo only: PGlite
 * accepts any password and serialises sessions, which is fine for trying the policy out.
 */
import { join } from 'node:path';

export const DEMO_DB_PORT = 54329;
export const DEMO_DB_HOST = '127.0.0.1';

const SEED = `
CREATE TABLE IF NOT EXISTS env_vars (id serial PRIMARY KEY, name text NOT NULL, secret text NOT NULL);
CREATE TABLE IF NOT EXISTS orders (id serial PRIMARY KEY, customer text NOT NULL, total numeric NOT NULL, created_at timestamptz DEFAULT now());
INSERT INTO env_vars (name, secret)
  SELECT * FROM (VALUES ('STRIPE_KEY', 'sk_live_demo_do_not_leak'), ('DATABASE_URL', 'postgres://app:hunter2@db/app')) v
  WHERE NOT EXISTS (SELECT 1 FROM env_vars);
INSERT INTO orders (customer, total)
  SELECT 'customer-' || g, (g * 7) % 100 + 0.99 FROM generate_series(1, 20) g
  WHERE NOT EXISTS (SELECT 1 FROM orders);
`;

export interface DemoDatabase {
  address: string;
  stop(): Promise<void>;
}

export async function startDemoDatabase(stateDir: string, port = DEMO_DB_PORT): Promise<DemoDatabase> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  const dataDir = join(stateDir, 'demo-db');
  const db = await PGlite.create(dataDir);
  await db.exec(SEED);
  const server = new PGLiteSocketServer({ db, host: DEMO_DB_HOST, port });
  await server.start();
  return {
    address: `${DEMO_DB_HOST}:${port}`,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}
