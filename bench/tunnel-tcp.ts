/**
 * Bulk TCP through the appliance vs the kernel, same client, same run.
 *
 * One agent namespace runs wireguard-go (configured from `bailiff peer add`) with two peers:
 *   - the appliance: iperf3 dials `bulk.internal` (a tcp endpoint), terminated by the
 *     appliance's userspace TCP and relayed to iperf3 -s on 127.0.0.1;
 *   - an anchor: a second wireguard-go in another namespace, whose kernel TCP terminates the
 *     flow at its own iperf3 -s.
 * Both directions (-R), interleaved rounds, medians, printed as ratios (target >= 0.5x).
 * Then the appliance's RSS with 1,000 idle connections through the tunnel (target <= 200 MB).
 *
 * Needs root, wireguard-go, wireguard-tools, iproute2, iperf3 (`.ci/run` installs them).
 * Addresses: veths in 198.18.0.0/15, tunnels in 100.64.0.0/10; everything torn down by PID.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { AgentNetns } from '../test/e2e/harness/agent-netns.js';
import { bailiff, counters, freeTcpPort, startAppliance, testGatewayBlock } from '../test/e2e/harness/appliance.js';
import { sleep, start, type Running } from '../test/e2e/harness/processes.js';
import { requireTools } from '../test/e2e/harness/requirements.js';
import { startAnchorPeer } from '../test/e2e/harness/anchor-peer.js';
import { median } from './stats.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const IDLE_CONNECTIONS = 1000;

async function iperf(ns: AgentNetns, host: string, port: number, reverse: boolean): Promise<number> {
  const args = ['-c', host, '-p', String(port), '-t', String(SECONDS), '-J', ...(reverse ? ['-R'] : [])];
  const r = await ns.exec('timeout', [String(SECONDS + 20), 'iperf3', ...args], { timeoutMs: (SECONDS + 30) * 1000, allowFail: true });
  if (r.code !== 0) throw new Error(`iperf3 ${args.join(' ')} failed: ${r.stdout.slice(-400)} ${r.stderr}`);
  const json = JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number } } };
  return json.end.sum_received.bits_per_second / 1e9;
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

/** The PID of the node process behind the appliance (startAppliance spawns node directly). */
export async function main(): Promise<{ upload: number; download: number; rssIdleMb: number }> {
  requireTools(['wireguard-go', 'wg', 'wg-quick', 'ip', 'iperf3']);
  const work = mkdtempSync(join(tmpdir(), 'bailiff-bench-tcp-'));
  const net8 = 16 + (process.pid % 180);
  const tag = String(process.pid % 10000);
  const cleanups: (() => Promise<void>)[] = [];
  try {
    // Upstream iperf3 for the appliance path, and an idle-connection sink.
    const iperfPort = await freeTcpPort();
    const upstreamIperf = start('iperf3', ['-s', '-B', '127.0.0.1', '-p', String(iperfPort)]);
    cleanups.push(() => upstreamIperf.stop());
    const sink = net.createServer((s) => s.on('error', () => undefined));
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => sink.close(() => r())));
    const sinkPort = (sink.address() as net.AddressInfo).port;

    const config = join(work, 'policy.hcl');
    writeFileSync(config, `${await testGatewayBlock(net8)}
endpoint "tcp" "bulk" {
  host     = "bulk.internal:5201"
  upstream = "127.0.0.1:${iperfPort}"
}
endpoint "tcp" "idle" {
  host     = "idle.internal:7000"
  upstream = "127.0.0.1:${sinkPort}"
}
credential "passthrough" "open" {
  endpoints = [tcp.bulk, tcp.idle]
}
profile "default" {
  credentials = [passthrough.open]
}
rule "open" {
  endpoints = [tcp.bulk, tcp.idle]
  verdict   = "allow"
}
`);
    await bailiff(['peer', 'add', 'bench', '--config', config, '--out', join(work, 'bench.conf')]);
    const appliance = await startAppliance(config, process.env.BENCH_PCAP ? ['--pcap', process.env.BENCH_PCAP] : []);
    cleanups.push(() => appliance.stop());

    const agent = new AgentNetns({ tag: `b${tag}`, rootAddress: `198.18.${net8}.1`, nsAddress: `198.18.${net8}.2`, workDir: work });
    cleanups.push(() => agent.destroy());
    await agent.create();
    await agent.startWireguard(join(work, 'bench.conf'));

    // The anchor: a second wireguard-go peer in its own namespace, joined to the agent by a veth.
    const anchor = await startAnchorPeer(agent, { tag, letter: 'k', net: net8, agentConf: join(work, 'bench.conf'), workDir: work, listenPort: 51999 });
    cleanups.push(() => anchor.stop());
    const anchorNs = anchor.ns;
    const anchorIperf = start('ip', ['netns', 'exec', anchorNs, 'iperf3', '-s', '-B', `100.96.${net8}.1`, '-p', '5201']);
    cleanups.push(() => anchorIperf.stop());
    await sleep(500);

    const results = { viaUp: [] as number[], viaDown: [] as number[], anchorUp: [] as number[], anchorDown: [] as number[] };
    if (process.env.BENCH_ONLY === 'upload') {
      // Profiling aid: only the appliance upload path.
      console.log(`upload via appliance: ${(await iperf(agent, 'bulk.internal', 5201, false)).toFixed(3)} Gbit/s`);
      return { upload: 0, download: 0, rssIdleMb: 0 };
    }
    for (let round = 0; round < ROUNDS; round++) {
      results.anchorUp.push(await iperf(agent, `100.96.${net8}.1`, 5201, false));
      results.viaUp.push(await iperf(agent, 'bulk.internal', 5201, false));
      results.anchorDown.push(await iperf(agent, `100.96.${net8}.1`, 5201, true));
      results.viaDown.push(await iperf(agent, 'bulk.internal', 5201, true));
    }
    const up = median(results.viaUp) / median(results.anchorUp);
    const down = median(results.viaDown) / median(results.anchorDown);
    const fmt = (v: number[]) => `${median(v).toFixed(3)} Gbit/s (${v.map((x) => x.toFixed(3)).join(', ')})`;
    console.log(`agent -> upstream (upload)   appliance: ${fmt(results.viaUp)}`);
    console.log(`                             kernel anchor via wireguard-go: ${fmt(results.anchorUp)}`);
    console.log(`upstream -> agent (download) appliance: ${fmt(results.viaDown)}`);
    console.log(`                             kernel anchor via wireguard-go: ${fmt(results.anchorDown)}`);
    console.log(`ratio appliance/kernel: upload ${up.toFixed(2)}x, download ${down.toFixed(2)}x (target >= 0.5x, goal >= 1.0x)`);
    if (process.env.BENCH_VERBOSE) {
      const c = await counters(appliance.metricsUrl);
      console.log(Object.entries(c).filter(([k]) => /^(tcp|wg|udp|ip)\./.test(k)).map(([k, v]) => `${k}=${v}`).join(' '));
    }

    // RSS with 1,000 idle connections through the tunnel.
    const pid = appliance.pid;
    const before = rssMb(pid);
    const holder = join(work, 'idle.cjs');
    writeFileSync(holder, `
const net = require('net');
let open = 0;
const sockets = [];
for (let i = 0; i < ${IDLE_CONNECTIONS}; i++) {
  const s = net.connect(7000, 'idle.internal', () => { if (++open === ${IDLE_CONNECTIONS}) console.log('open'); });
  s.on('error', (e) => { console.error(String(e)); process.exit(1); });
  sockets.push(s);
}
setTimeout(() => process.exit(2), 60000);
process.stdin.on('data', () => process.exit(0));
`);
    const idle: Running = agent.spawn(process.execPath, [holder]);
    cleanups.push(() => idle.stop());
    await idle.waitFor(/open/, 60_000);
    await sleep(2000);
    const during = rssMb(pid);
    console.log(`appliance RSS: ${before.toFixed(0)} MB idle, ${during.toFixed(0)} MB with ${IDLE_CONNECTIONS} idle connections open (target <= 200 MB)`);
    return { upload: up, download: down, rssIdleMb: during };
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
