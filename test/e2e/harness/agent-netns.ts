/**
 * A real agent host for end-to-end tests: a network namespace joined to the root namespace by a
 * veth pair (198.18.0.0/15), running the Debian `wireguard-go` configured from a wg-quick file
 * exactly as `bailiff peer add` wrote it. Torn down by PID and by the names it created.
 */
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, sleep, start, type Running } from './processes.js';

export interface AgentNetnsOptions {
  /** Unique short tag (<= 6 chars) used in namespace and interface names. */
  tag: string;
  /** Root-side veth address and the namespace's, both in 198.18.0.0/15, as a /30. */
  rootAddress: string;
  nsAddress: string;
  workDir: string;
}

export class AgentNetns {
  readonly ns: string;
  readonly vethRoot: string;
  readonly vethNs: string;
  readonly wgInterface: string;
  wireguard?: Running;
  readonly #opts: AgentNetnsOptions;
  #created = false;

  constructor(options: AgentNetnsOptions) {
    this.#opts = options;
    this.ns = `bf-${options.tag}`;
    this.vethRoot = `bfr${options.tag}`;
    this.vethNs = `bfn${options.tag}`;
    this.wgInterface = `bfwg${options.tag}`;
  }

  async create(): Promise<void> {
    await sweepStaleNamespaces();
    await run('ip', ['netns', 'add', this.ns]);
    this.#created = true;
    claimNamespace(this.ns);
    // `ip netns exec` mounts /etc/netns/<name>/resolv.conf over /etc/resolv.conf: the agent's
    // resolver is then the appliance (set by useDns), as wg-quick's DNS= line would make it.
    mkdirSync(`/etc/netns/${this.ns}`, { recursive: true });
    writeFileSync(`/etc/netns/${this.ns}/resolv.conf`, '# no resolver until the tunnel is up\n');
    await run('ip', ['link', 'add', this.vethRoot, 'type', 'veth', 'peer', 'name', this.vethNs]);
    await run('ip', ['link', 'set', this.vethNs, 'netns', this.ns]);
    await run('ip', ['addr', 'add', `${this.#opts.rootAddress}/30`, 'dev', this.vethRoot]);
    await run('ip', ['link', 'set', this.vethRoot, 'up']);
    await run('ip', ['-n', this.ns, 'addr', 'add', `${this.#opts.nsAddress}/30`, 'dev', this.vethNs]);
    await run('ip', ['-n', this.ns, 'link', 'set', this.vethNs, 'up']);
    await run('ip', ['-n', this.ns, 'link', 'set', 'lo', 'up']);
    // Reach the other test addresses (the appliance's veth ends) through the root namespace.
    await run('ip', ['-n', this.ns, 'route', 'add', '198.18.0.0/15', 'via', this.#opts.rootAddress]);
  }

  exec(command: string, args: string[], options: { timeoutMs?: number; allowFail?: boolean; input?: string } = {}) {
    return run('ip', ['netns', 'exec', this.ns, command, ...args], options);
  }

  spawn(command: string, args: string[]): Running {
    return start('ip', ['netns', 'exec', this.ns, command, ...args]);
  }

  /**
   * Bring up wireguard-go from a wg-quick file: `wg-quick strip` gives what `wg setconf` takes;
   * Address, MTU and AllowedIPs routes are applied with ip(8), as wg-quick itself would.
   */
  async startWireguard(clientConfigPath: string): Promise<{ addresses: string[] }> {
    const text = readFileSync(clientConfigPath, 'utf8');
    const field = (name: string) => text.match(new RegExp(`^${name}\\s*=\\s*(.+)$`, 'm'))?.[1]?.trim();
    const addresses = (field('Address') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    const allowed = (field('AllowedIPs') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    const mtu = field('MTU') ?? '1420';
    const dns = (field('DNS') ?? '').split(',').map((x) => x.trim()).filter(Boolean);
    if (dns.length) this.useDns(dns);

    this.wireguard = start('ip', ['netns', 'exec', this.ns, 'wireguard-go', '-f', this.wgInterface], {
      env: { ...process.env, LOG_LEVEL: 'error' },
    });
    const sock = `/var/run/wireguard/${this.wgInterface}.sock`;
    for (let i = 0; i < 100; i++) {
      const probe = await run('test', ['-S', sock], { allowFail: true });
      if (probe.code === 0) break;
      await sleep(50);
    }
    const stripped = await run('wg-quick', ['strip', clientConfigPath]);
    const strippedPath = join(this.#opts.workDir, `${this.wgInterface}.stripped.conf`);
    writeFileSync(strippedPath, stripped.stdout, { mode: 0o600 });
    await this.exec('wg', ['setconf', this.wgInterface, strippedPath]);
    for (const address of addresses) await run('ip', ['-n', this.ns, 'addr', 'add', address, 'dev', this.wgInterface]);
    await run('ip', ['-n', this.ns, 'link', 'set', this.wgInterface, 'mtu', mtu, 'up']);
    for (const cidr of allowed) {
      await run('ip', ['-n', this.ns, ...(cidr.includes(':') ? ['-6'] : []), 'route', 'replace', cidr, 'dev', this.wgInterface]);
    }
    return { addresses };
  }

  /** Point the namespace's resolver at the DNS servers of the client file. */
  useDns(servers: string[]): void {
    writeFileSync(`/etc/netns/${this.ns}/resolv.conf`, `${servers.map((s) => `nameserver ${s}`).join('\n')}\noptions timeout:2 attempts:3\n`);
  }

  async destroy(): Promise<void> {
    await this.wireguard?.stop('SIGTERM', 3000).catch(() => undefined);
    if (this.#created) {
      await run('ip', ['link', 'del', this.vethRoot], { allowFail: true });
      await run('ip', ['netns', 'del', this.ns], { allowFail: true });
      rmSync(`/etc/netns/${this.ns}`, { recursive: true, force: true });
      releaseNamespace(this.ns);
    }
  }
}

/**
 * Who made each test namespace: OWNERS/<ns> holds the PID. Not under /etc/netns/<ns>, whose
 * every file `ip netns exec` would try to mount over /etc.
 */
const OWNERS = '/run/bailiff-test-netns';

/** Marks a namespace as made by this process. */
export function claimNamespace(ns: string): void {
  mkdirSync(OWNERS, { recursive: true });
  writeFileSync(join(OWNERS, ns), `${process.pid}\n`);
}

/** Forgets a namespace's owner once the namespace is gone. */
export function releaseNamespace(ns: string): void {
  rmSync(join(OWNERS, ns), { force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the namespaces of test runs that were killed before their teardown ran: only ones
 * claimed by claimNamespace whose owner PID is gone. Processes still inside (an orphaned
 * wireguard-go) are stopped by PID first; deleting the namespace removes its veth pairs.
 */
export async function sweepStaleNamespaces(): Promise<void> {
  let names: string[];
  try {
    names = readdirSync(OWNERS);
  } catch {
    return; // nothing was ever claimed
  }
  for (const ns of names) {
    let owner: number;
    try {
      owner = Number(readFileSync(join(OWNERS, ns), 'utf8').trim());
    } catch {
      continue;
    }
    if (!Number.isSafeInteger(owner) || owner <= 0 || alive(owner)) continue;
    const pids = (await run('ip', ['netns', 'pids', ns], { allowFail: true })).stdout.split(/\s+/).filter(Boolean).map(Number);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await run('ip', ['netns', 'del', ns], { allowFail: true });
    rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
    releaseNamespace(ns);
  }
}

/** Raw UDP payloads from a pcap file (Ethernet or Linux cooked captures, IPv4 only). */
export function udpPayloadsFromPcap(path: string): { src: string; srcPort: number; dst: string; dstPort: number; payload: Buffer }[] {
  const data = readFileSync(path);
  if (data.length < 24) return [];
  const magic = data.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const u32 = (o: number) => (le ? data.readUInt32LE(o) : data.readUInt32BE(o));
  const linkType = u32(20);
  const linkHeader = linkType === 1 ? 14 : linkType === 113 ? 16 : linkType === 101 ? 0 : -1;
  if (linkHeader < 0) throw new Error(`unsupported pcap link type ${linkType}`);
  const out: ReturnType<typeof udpPayloadsFromPcap> = [];
  for (let o = 24; o + 16 <= data.length;) {
    const captured = u32(o + 8);
    const frame = data.subarray(o + 16, o + 16 + captured);
    o += 16 + captured;
    const ip = frame.subarray(linkHeader);
    if (ip.length < 28 || ip[0]! >> 4 !== 4 || ip[9] !== 17) continue;
    const ihl = (ip[0]! & 0x0f) * 4;
    const udp = ip.subarray(ihl);
    out.push({
      src: [...ip.subarray(12, 16)].join('.'),
      dst: [...ip.subarray(16, 20)].join('.'),
      srcPort: udp.readUInt16BE(0),
      dstPort: udp.readUInt16BE(2),
      payload: Buffer.from(udp.subarray(8, udp.readUInt16BE(4))),
    });
  }
  return out;
}
