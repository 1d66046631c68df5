/**
 * The benchmarks' anchor: a second wireguard-go peer in its own namespace, joined to the agent's
 * namespace by a veth, so the same agent can reach a kernel TCP stack through plain wireguard-go
 * (the baseline the appliance is measured against in the same run).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { publicKeyFromPrivate } from '../../../netstack/wireguard/keys.js';
import { claimNamespace, releaseNamespace, type AgentNetns } from './agent-netns.js';
import { bailiff } from './appliance.js';
import { run, sleep, start } from './processes.js';

export interface AnchorPeer {
  ns: string;
  /** The anchor's tunnel address, reachable from the agent namespace. */
  address: string;
  stop(): Promise<void>;
}

/** `letter` keeps interface names apart between benchmarks; `net` picks 198.19.<net>.0/30. */
export async function startAnchorPeer(agent: AgentNetns, options: { tag: string; letter: string; net: number; agentConf: string; workDir: string; listenPort: number }): Promise<AnchorPeer> {
  const { tag, letter, net } = options;
  const ns = `bf-${letter}${tag}`;
  const vethA = `bf${letter}a${tag}`;
  const vethK = `bf${letter}k${tag}`;
  const wg = `bfwg${letter}${tag}`;
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  };
  try {
    await run('ip', ['netns', 'add', ns]);
    claimNamespace(ns);
    stops.push(async () => {
      await run('ip', ['netns', 'del', ns], { allowFail: true });
      releaseNamespace(ns);
    });
    await run('ip', ['link', 'add', vethA, 'netns', agent.ns, 'type', 'veth', 'peer', 'name', vethK, 'netns', ns]);
    await run('ip', ['-n', agent.ns, 'addr', 'add', `198.19.${net}.1/30`, 'dev', vethA]);
    await run('ip', ['-n', ns, 'addr', 'add', `198.19.${net}.2/30`, 'dev', vethK]);
    await run('ip', ['-n', agent.ns, 'link', 'set', vethA, 'up']);
    await run('ip', ['-n', ns, 'link', 'set', vethK, 'up']);
    await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const wireguard = start('ip', ['netns', 'exec', ns, 'wireguard-go', '-f', wg], { env: { ...process.env, LOG_LEVEL: 'error' } });
    stops.push(() => wireguard.stop());
    for (let i = 0; i < 100; i++) {
      if ((await run('test', ['-S', `/var/run/wireguard/${wg}.sock`], { allowFail: true })).code === 0) break;
      await sleep(50);
    }
    const keys = (await bailiff(['keygen'])).stdout;
    const anchorPriv = /PrivateKey = (\S+)/.exec(keys)![1]!;
    const anchorPub = /PublicKey {2}= (\S+)/.exec(keys)![1]!;
    const conf = readFileSync(options.agentConf, 'utf8');
    const agentPriv = /PrivateKey = (\S+)/.exec(conf)![1]!;
    const agentAddress = /^Address = ([0-9.]+)\//m.exec(conf)![1]!;
    const agentPub = Buffer.from(publicKeyFromPrivate(Buffer.from(agentPriv, 'base64'))).toString('base64');
    const keyFile = join(options.workDir, `anchor-${letter}.key`);
    writeFileSync(keyFile, `${anchorPriv}\n`, { mode: 0o600 });
    await run('ip', ['netns', 'exec', ns, 'wg', 'set', wg, 'listen-port', String(options.listenPort), 'private-key', keyFile,
      'peer', agentPub, 'allowed-ips', `${agentAddress}/32`]);
    const address = `100.96.${net}.1`;
    await run('ip', ['-n', ns, 'addr', 'add', `${address}/32`, 'dev', wg]);
    await run('ip', ['-n', ns, 'link', 'set', wg, 'mtu', '1420', 'up']);
    await run('ip', ['-n', ns, 'route', 'add', `${agentAddress}/32`, 'dev', wg]);
    await run('ip', ['netns', 'exec', agent.ns, 'wg', 'set', agent.wgInterface, 'peer', anchorPub,
      'endpoint', `198.19.${net}.2:${options.listenPort}`, 'allowed-ips', `${address}/32`]);
    await run('ip', ['-n', agent.ns, 'route', 'add', `${address}/32`, 'dev', agent.wgInterface]);
    return { ns, address, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
