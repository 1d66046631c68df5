/**
 * The README's first command, as a new user runs it: `bailiff run` with no configuration starts
 * the embedded demo (policy, peer file, PGlite database). A real agent (wireguard-go from the demo
 * peer file) runs real psql against `demo.db` and sees allow and deny within seconds.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { AgentNetns } from './harness/agent-netns.js';
import { bailiffArgs, ROOT } from './harness/appliance.js';
import { start, teardown, type Running } from './harness/processes.js';
import { requireTools } from './harness/requirements.js';

const TAG = String(process.pid % 100000);
const NET = 16 + ((process.pid + 131) % 200);

let work: string;
let appliance: Running | undefined;
let agent: AgentNetns | undefined;

before(async () => {
  requireTools(['wireguard-go', 'wg', 'wg-quick', 'ip', 'psql']);
  work = mkdtempSync(join(tmpdir(), 'bailiff-e2e-demo-'));
  appliance = start(process.execPath, bailiffArgs(['run']), { cwd: work });
  await appliance.waitFor(/demo: agent peer file (\S+)/, 60_000);
  const peerFile = join(work, 'bailiff-state', 'demo-agent.conf');
  // The demo's client file dials this host's address; the test agent reaches it on its veth.
  const conf = readFileSync(peerFile, 'utf8').replace(/^Endpoint = .*$/m, `Endpoint = 198.18.${NET}.1:51820`);
  writeFileSync(join(work, 'agent.conf'), conf, { mode: 0o600 });
  agent = new AgentNetns({ tag: `d${TAG}`.slice(0, 6), rootAddress: `198.18.${NET}.1`, nsAddress: `198.18.${NET}.2`, workDir: work });
  await agent.create();
  await agent.startWireguard(join(work, 'agent.conf'));
});

after(() => teardown(
  () => appliance?.stop(),
  () => agent?.destroy(),
  () => work && rmSync(work, { recursive: true, force: true }),
));

async function psql(sql: string) {
  return agent!.exec('psql', ['-X', '-A', '-t', 'host=demo.db user=postgres dbname=postgres connect_timeout=10', '-c', sql], { timeoutMs: 30_000, allowFail: true });
}

test('the demo answers psql through the tunnel: reads run, DDL and secrets are denied with the rule named', async () => {
  const count = await psql('SELECT count(*) FROM orders');
  assert.equal(count.code, 0, `${count.stderr}\n${appliance!.output().slice(-3000)}`);
  assert.equal(count.stdout.trim(), '20');

  const drop = await psql('DROP TABLE orders');
  assert.notEqual(drop.code, 0);
  assert.match(drop.stderr, /denied by rule "no-ddl"/);

  const secrets = await psql('SELECT * FROM env_vars');
  assert.match(secrets.stderr, /denied by rule "no-secrets"/);
  assert.doesNotMatch(secrets.stdout, /sk_live/);

  const names = await psql('SELECT name FROM env_vars ORDER BY name');
  assert.equal(names.code, 0, names.stderr);
  assert.deepEqual(names.stdout.trim().split('\n'), ['DATABASE_URL', 'STRIPE_KEY']);

  const still = await psql('SELECT count(*) FROM orders');
  assert.equal(still.stdout.trim(), '20', 'the table survived');
  void ROOT;
});
