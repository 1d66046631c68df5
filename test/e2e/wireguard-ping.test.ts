/**
 * End to end with a real agent: wireguard-go in a network namespace, configured from the file
 * `bailiff peer add` wrote, pings the appliance over IPv4 and IPv6. An unknown key gets no answer
 * at all; a captured data packet sent again is dropped and counted as a replay.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { AgentNetns, udpPayloadsFromPcap } from './harness/agent-netns.js';
import { bailiff, counters, startAppliance, testGatewayBlock } from './harness/appliance.js';
import { run, sleep, start, teardown, type Running } from './harness/processes.js';
import { requireTools } from './harness/requirements.js';

const TAG = String(process.pid % 100000);
const NET = 16 + (process.pid % 200); // 198.18.<NET>.0/30 and .4/30 for this run
const SUBNET = `100.64.${NET}.0/24`;
const APPLIANCE_V4 = `100.64.${NET}.1`;

let work: string;
let configPath: string;
let appliance: (Running & { metricsUrl: string }) | undefined;
let agent: AgentNetns | undefined;
let stranger: AgentNetns | undefined;
let applianceV6 = '';

before(async () => {
  requireTools(['wireguard-go', 'wg', 'wg-quick', 'ip', 'ping', 'tcpdump']);
  work = mkdtempSync(join(tmpdir(), 'bailiff-e2e-wg-'));
  configPath = join(work, 'policy.hcl');
  writeFileSync(configPath, await testGatewayBlock(NET));
  agent = new AgentNetns({ tag: `a${TAG}`.slice(0, 6), rootAddress: `198.18.${NET}.1`, nsAddress: `198.18.${NET}.2`, workDir: work });
  stranger = new AgentNetns({ tag: `s${TAG}`.slice(0, 6), rootAddress: `198.18.${NET}.5`, nsAddress: `198.18.${NET}.6`, workDir: work });
  await agent.create();
  await stranger.create();
});

after(() => teardown(
  () => appliance?.stop(),
  () => agent?.destroy(),
  () => stranger?.destroy(),
  () => {
    if (work && !process.env.BAILIFF_KEEP_TEST_DIR) rmSync(work, { recursive: true, force: true });
    else if (work) console.log(`kept ${work}`);
  },
));

test('peer add writes a client file that wireguard-go accepts; the appliance answers ping over v4 and v6', async () => {
  const added = await bailiff(['peer', 'add', 'agent', '--config', configPath, '--out', join(work, 'agent.conf')]);
  assert.match(added.stdout, new RegExp(`peer "agent" added: tunnel address 100\\.64\\.${NET}\\.2, `));
  appliance = await startAppliance(configPath, ['--pcap', join(work, 'tunnel.pcap')]);
  applianceV6 = (await (await fetch(`${appliance.metricsUrl}/api/status`)).json() as { addresses: string[] }).addresses[1]!;

  const { addresses } = await agent!.startWireguard(join(work, 'agent.conf'));
  assert.deepEqual(addresses.length, 2);
  const v4 = await agent!.exec('ping', ['-c', '3', '-i', '0.2', '-W', '3', APPLIANCE_V4], { timeoutMs: 20_000, allowFail: true });
  assert.equal(v4.code, 0, `ping ${APPLIANCE_V4} failed:\n${v4.stdout}${v4.stderr}\nappliance:\n${appliance.output()}`);
  assert.match(v4.stdout, /3 packets transmitted, 3 received/);
  const v6 = await agent!.exec('ping', ['-6', '-c', '3', '-i', '0.2', '-W', '3', applianceV6], { timeoutMs: 20_000, allowFail: true });
  assert.equal(v6.code, 0, `ping ${applianceV6} failed:\n${v6.stdout}${v6.stderr}`);
  assert.match(v6.stdout, /3 packets transmitted, 3 received/);

  // The tunnel tap shows the decrypted pings and the appliance's replies.
  await sleep(1300);
  const tap = await run('tcpdump', ['-r', join(work, 'tunnel.pcap'), '-n']);
  assert.match(tap.stdout, new RegExp(`IP 100\\.64\\.${NET}\\.2 > ${APPLIANCE_V4.replace(/\./g, '\\.')}: ICMP echo request`));
  assert.match(tap.stdout, new RegExp(`IP ${APPLIANCE_V4.replace(/\./g, '\\.')} > 100\\.64\\.${NET}\\.2: ICMP echo reply`));
  assert.match(tap.stdout, /IP6 .* ICMP6, echo reply/);
});

test('a peer added while the appliance runs is accepted without a restart', async () => {
  assert.ok(appliance, 'appliance not started by the previous test');
  const extra = new AgentNetns({ tag: `l${TAG}`.slice(0, 6), rootAddress: `198.18.${NET}.9`, nsAddress: `198.18.${NET}.10`, workDir: work });
  try {
    await extra.create();
    await bailiff(['peer', 'add', 'late', '--config', configPath, '--out', join(work, 'late.conf')]);
    await appliance.waitFor(/peer ready peer=late/, 10_000);
    await extra.startWireguard(join(work, 'late.conf'));
    const r = await extra.exec('ping', ['-c', '2', '-i', '0.2', '-W', '3', APPLIANCE_V4], { timeoutMs: 20_000, allowFail: true });
    assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
  } finally {
    await extra.destroy();
  }
});

test('an invalid policy change is rejected with its diagnostics; the running policy stays and the swap is audited', async () => {
  assert.ok(appliance);
  const good = readFileSync(configPath, 'utf8');
  writeFileSync(configPath, `${good}\nrule "broken" {\n  verdict = "perhaps"\n}\n`);
  await appliance.waitFor(/configuration change rejected; keeping the running policy[^\n]*\n[^\n]*policy\.hcl:\d+:\d+: rule "broken"/, 10_000);
  const r = await agent!.exec('ping', ['-c', '1', '-W', '3', APPLIANCE_V4], { timeoutMs: 10_000, allowFail: true });
  assert.equal(r.code, 0, 'the appliance stopped serving after a bad policy change');
  const reloads = (appliance.output().match(/configuration reloaded/g) ?? []).length;
  writeFileSync(configPath, good);
  for (let i = 0; i < 100 && (appliance.output().match(/configuration reloaded/g) ?? []).length === reloads; i++) await sleep(100);
  assert.ok((appliance.output().match(/configuration reloaded/g) ?? []).length > reloads, 'the fixed policy was not reloaded');

  const audit = await bailiff(['audit', '--config', configPath, '--json', '--kind', 'system']);
  const records = audit.stdout.trim().split('\n').map((l) => JSON.parse(l) as { message: string; detail?: { policy?: string } });
  assert.equal(records[0]!.message, 'appliance started');
  assert.ok(records.some((r) => r.message === 'policy reloaded' && /^sha256:/.test(r.detail?.policy ?? '')), audit.stdout);
  const verify = await bailiff(['audit', 'verify', '--config', configPath]);
  assert.match(verify.stdout, /audit log OK: \d+ records, chain verified/);
});

test('an unknown key gets no answer at all, and is counted', async () => {
  assert.ok(appliance);
  const keys = await bailiff(['keygen']);
  const privateKey = keys.stdout.match(/PrivateKey = (\S+)/)![1]!;
  const server = (await (await fetch(`${appliance.metricsUrl}/api/status`)).json() as { publicKey: string; listenPort: number });
  const conf = join(work, 'stranger.conf');
  writeFileSync(conf, `[Interface]\nPrivateKey = ${privateKey}\nAddress = 100.64.${NET}.77/32\n\n[Peer]\nPublicKey = ${server.publicKey}\nEndpoint = 198.18.${NET}.5:${server.listenPort}\nAllowedIPs = ${SUBNET}\n`, { mode: 0o600 });
  const before = await counters(appliance.metricsUrl);
  const pcap = join(work, 'stranger.pcap');
  const capture = stranger!.spawn('tcpdump', ['-i', stranger!.vethNs, '-n', '-U', '--immediate-mode', '-w', pcap, 'udp']);
  await capture.waitFor(/listening on/, 10_000);
  try {
    await stranger!.startWireguard(conf);
    const r = await stranger!.exec('ping', ['-c', '3', '-i', '0.5', '-W', '2', APPLIANCE_V4], { timeoutMs: 20_000, allowFail: true });
    assert.notEqual(r.code, 0, 'an unknown peer must not get ping replies');
    assert.match(r.stdout, /3 packets transmitted, 0 received/);
  } finally {
    await sleep(300);
    await capture.stop('SIGINT');
  }
  const seen = udpPayloadsFromPcap(pcap);
  const initiations = seen.filter((p) => p.src === `198.18.${NET}.6` && p.payload[0] === 1 && p.payload.length === 148);
  assert.ok(initiations.length >= 1, 'the stranger sent no handshake initiation: the capture proves nothing');
  assert.deepEqual(seen.filter((p) => p.src === `198.18.${NET}.5`), [], 'the appliance sent something to an unknown peer');
  const afterCounts = await counters(appliance.metricsUrl);
  const dropped = (name: string) => (afterCounts[name] ?? 0) - (before[name] ?? 0);
  assert.ok(dropped('wg.unknown_peer') >= 1, `expected wg.unknown_peer drops, got ${JSON.stringify(afterCounts)}`);
});

test('a replayed data packet is dropped and counted', async () => {
  assert.ok(appliance);
  const server = (await (await fetch(`${appliance.metricsUrl}/api/status`)).json() as { listenPort: number });
  const pcap = join(work, 'agent.pcap');
  const capture: Running = start('tcpdump', ['-i', agent!.vethRoot, '-n', '-U', '--immediate-mode', '-w', pcap, `udp and dst port ${server.listenPort} and src host 198.18.${NET}.2`]);
  await capture.waitFor(/listening on/, 10_000);
  try {
    const r = await agent!.exec('ping', ['-c', '2', '-i', '0.2', '-W', '3', APPLIANCE_V4], { timeoutMs: 20_000, allowFail: true });
    assert.equal(r.code, 0, r.stdout + r.stderr);
  } finally {
    await sleep(300);
    await capture.stop('SIGINT');
  }
  // A transport data message (type 4) big enough to hold a ping: not a keepalive.
  const data = udpPayloadsFromPcap(pcap).filter((p) => p.payload[0] === 4 && p.payload.length > 32 + 16);
  assert.ok(data.length > 0, `captured no data packet; tcpdump said:\n${capture.output()}`);
  const packet = data[0]!.payload;

  const before = await counters(appliance.metricsUrl);
  const script = `const s=require('dgram').createSocket('udp4');s.send(Buffer.from('${packet.toString('hex')}','hex'),${server.listenPort},'198.18.${NET}.1',()=>s.close());`;
  await agent!.exec(process.execPath, ['-e', script], { timeoutMs: 10_000 });
  let afterCounts = before;
  for (let i = 0; i < 40 && (afterCounts['wg.replay'] ?? 0) === (before['wg.replay'] ?? 0); i++) {
    await sleep(50);
    afterCounts = await counters(appliance.metricsUrl);
  }
  assert.equal((afterCounts['wg.replay'] ?? 0) - (before['wg.replay'] ?? 0), 1, JSON.stringify(afterCounts));
  assert.equal(afterCounts['icmp.echo_replied'] ?? 0, before['icmp.echo_replied'] ?? 0, 'the replayed ping was answered');
  assert.ok((before['icmp.echo_replied'] ?? 0) >= 2, `echo replies are not counted as expected: ${JSON.stringify(before)}`);
});
