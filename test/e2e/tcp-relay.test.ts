/**
 * End to end through the userspace TCP/IP stack: a real agent (wireguard-go in a namespace,
 * configured from `bailiff peer add`), the appliance's DNS resolving endpoint names to VIPs, and
 * real curl: 200 MB down and up with matching sha256, 200 concurrent 1 MB downloads intact, a
 * name the profile does not reach refused fast, and a connection audit record per flow.
 */
import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { AgentNetns } from './harness/agent-netns.js';
import { bailiff, counters, startAppliance, testGatewayBlock } from './harness/appliance.js';
import { teardown, type Running } from './harness/processes.js';
import { requireTools } from './harness/requirements.js';

const TAG = String(process.pid % 100000);
const NET = 16 + ((process.pid + 77) % 200);
const MB = 1024 * 1024;

let work: string;
let configPath: string;
let appliance: (Running & { metricsUrl: string }) | undefined;
let agent: AgentNetns | undefined;
let server: http.Server | undefined;
const sent = new Map<string, string>(); // download id -> sha256 of the bytes served

before(async () => {
  requireTools(['wireguard-go', 'wg', 'wg-quick', 'ip', 'curl', 'sha256sum']);
  work = mkdtempSync(join(tmpdir(), 'bailiff-e2e-tcp-'));
  server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'GET' && url.pathname === '/bytes') {
      const total = Number(url.searchParams.get('n'));
      const id = url.searchParams.get('id') ?? '';
      const hash = createHash('sha256');
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total) });
      let left = total;
      const pump = () => {
        while (left > 0) {
          const chunk = randomBytes(Math.min(left, 256 * 1024));
          left -= chunk.length;
          hash.update(chunk);
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        sent.set(id, hash.digest('hex'));
        res.end();
      };
      pump();
      return;
    }
    if (req.method === 'PUT' || req.method === 'POST') {
      const hash = createHash('sha256');
      let bytes = 0;
      req.on('data', (c: Buffer) => { hash.update(c); bytes += c.length; });
      req.on('end', () => res.end(`${hash.digest('hex')} ${bytes}\n`));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const httpPort = (server.address() as AddressInfo).port;
  configPath = join(work, 'policy.hcl');
  writeFileSync(configPath, `${await testGatewayBlock(NET)}
endpoint "tcp" "files" {
  host     = "files.internal:8080"
  upstream = "127.0.0.1:${httpPort}"
}

endpoint "tcp" "vault" {
  host     = "vault.internal:8200"
  upstream = "127.0.0.1:${httpPort}"
}

credential "passthrough" "files" {
  endpoint = tcp.files
}

credential "passthrough" "vault" {
  endpoint = tcp.vault
}

profile "default" {
  credentials = [passthrough.files]
}

rule "files-open" {
  endpoint = tcp.files
  verdict  = "allow"
}
`);
  await bailiff(['peer', 'add', 'agent', '--config', configPath, '--out', join(work, 'agent.conf')]);
  appliance = await startAppliance(configPath, process.env.BAILIFF_TEST_PCAP ? ['--pcap', process.env.BAILIFF_TEST_PCAP] : []);
  agent = new AgentNetns({ tag: `t${TAG}`.slice(0, 6), rootAddress: `198.18.${NET}.1`, nsAddress: `198.18.${NET}.2`, workDir: work });
  await agent.create();
  await agent.startWireguard(join(work, 'agent.conf'));
});

after(() => teardown(
  () => appliance?.stop(),
  () => agent?.destroy(),
  () => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())),
  () => work && rmSync(work, { recursive: true, force: true }),
));

async function sh(script: string, timeoutMs = 120_000) {
  return agent!.exec('sh', ['-c', script], { timeoutMs, allowFail: true });
}

test('curl by endpoint name downloads 200 MB intact (DNS -> VIP -> userspace TCP -> upstream)', async () => {
  const r = await sh(`curl -sS --max-time 100 -o - 'http://files.internal:8080/bytes?n=${200 * MB}&id=big' | sha256sum`);
  assert.equal(r.code, 0, r.stderr + appliance!.output().slice(-2000));
  assert.equal(r.stdout.split(' ')[0], sent.get('big'));
});

test('an upload of 200 MB arrives intact', async () => {
  const file = join(work, 'upload.bin');
  const made = await sh(`head -c ${200 * MB} /dev/urandom > ${file} && sha256sum ${file}`);
  assert.equal(made.code, 0, made.stderr);
  const local = made.stdout.split(' ')[0];
  const r = await sh(`curl -sS --max-time 100 -T ${file} http://files.internal:8080/upload`);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), `${local} ${200 * MB}`);
});

test('200 concurrent connections of 1 MB each all complete intact', async () => {
  const script = join(work, 'many.cjs');
  writeFileSync(script, `
const http = require('http');
const crypto = require('crypto');
const n = 200;
let done = 0, failed = 0;
const results = [];
for (let i = 0; i < n; i++) {
  http.get({ host: 'files.internal', port: 8080, path: '/bytes?n=${MB}&id=c' + i, agent: false }, (res) => {
    const h = crypto.createHash('sha256'); let len = 0;
    res.on('data', (c) => { h.update(c); len += c.length; });
    res.on('end', () => { results.push(['c' + i, h.digest('hex'), len]); if (++done + failed === n) finish(); });
  }).on('error', (e) => { failed++; console.error(String(e)); if (done + failed === n) finish(); });
}
function finish() { console.log(JSON.stringify({ done, failed, results })); }
`);
  const r = await agent!.exec(process.execPath, [script], { timeoutMs: 120_000, allowFail: true });
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { done: number; failed: number; results: [string, string, number][] };
  assert.equal(out.failed, 0, r.stderr);
  assert.equal(out.done, 200);
  for (const [id, hash, len] of out.results) {
    assert.equal(len, MB, id);
    assert.equal(hash, sent.get(id), `${id} differs`);
  }
});

test('a name the profile does not reach is refused fast; an unknown name does not resolve', async () => {
  const started = Date.now();
  const r = await sh('curl -sS --max-time 10 http://vault.internal:8200/x');
  const took = Date.now() - started;
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /Connection refused|Failed to connect/);
  assert.ok(took < 3000, `refusal took ${took} ms`);
  const unknown = await sh('curl -sS --max-time 10 http://nowhere.internal:8080/');
  assert.match(unknown.stderr, /Could not resolve host/);
  const c = await counters(appliance!.metricsUrl);
  assert.ok((c['flow.refused'] ?? 0) >= 1, JSON.stringify(c));
  assert.ok((c['dns.refused'] ?? 0) >= 1, JSON.stringify(c));
});

test('every flow has an audit record, completed with bytes and close reason', async () => {
  const audit = await bailiff(['audit', '--config', configPath, '--json', '--kind', 'connection']);
  const records = audit.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
  const denied = records.find((r) => r.verdict === 'deny' && r.reasonCode === 'ACCESS_NOT_IN_PROFILE');
  assert.ok(denied, 'no audit record for the refused flow');
  assert.equal(denied.endpoint, 'tcp.vault');
  const allowed = records.filter((r) => r.verdict === 'allow' && r.endpoint === 'tcp.files');
  assert.ok(allowed.length >= 202, `only ${allowed.length} allowed flows recorded`);
  const all = await bailiff(['audit', '--config', configPath, '--json']);
  const completions = all.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>).filter((r) => r.completes !== undefined || r.outcome);
  assert.ok(completions.some((c) => (c.outcome?.bytesOut ?? 0) >= 200 * MB), `no completion with 200 MB out: ${JSON.stringify(completions.slice(0, 3))}`);
});
