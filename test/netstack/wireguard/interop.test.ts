/**
 * Interop with the real thing: Debian's wireguard-go in a network namespace of our own, talking
 * over a veth pair to our Device behind a test-only UDP socket.
 *  1. wireguard-go initiates (we respond): `ping` from the namespace to an address we answer.
 *  2. We initiate (fresh Device, same key): we send an ICMP echo request into the tunnel and the
 *     namespace's kernel answers through wireguard-go.
 * Addresses: veth in 198.19.0.0/16 (inside 198.18.0.0/15), tunnel in 100.65.0.0/16 (inside
 * 100.64.0.0/10), both derived from the PID so concurrent runs do not collide. Everything started
 * here is stopped by PID / deleted by name in `after`.
 *
 * Set BAILIFF_WG_CAPTURE=<file> to also write the datagrams of step 2 as a fixture (see
 * capture.test.ts, which replays them offline).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Counters } from '../../../netstack/counters.js';
import { parseCidr } from '../../../netstack/wire/ip-address.js';
import { Device, type DeviceOutput, type UdpEndpoint } from '../../../netstack/wireguard/device.js';
import { decodeKey, encodeKey, publicKeyFromPrivate } from '../../../netstack/wireguard/keys.js';
import { echoReply, echoRequest } from './icmp.js';
import { seededRandom } from './helpers.js';

// Fixed keys so a capture can be replayed offline (capture.test.ts).
export const OUR_PRIVATE_KEY = 'gCVF6Xxd1tKmgLNVRNQJjd5e0qDH0rNXWcZwCjN320o=';
export const WG_GO_PRIVATE_KEY = 'IOa24Heb2FmgpI5GvwveiQEdzm/YicFlN8stLGqM+Xw=';
export const INITIATOR_SEED = 4242;
export const INITIATOR_WALL_CLOCK = 1_767_225_600_000;

const pid = process.pid;
const netns = `bfwgt${pid}`;
const ifname = `bfwg${pid}`.slice(0, 15);
const vethHost = `bfv${pid}a`.slice(0, 15);
const vethNs = `bfv${pid}b`.slice(0, 15);
const third = pid % 256;
const fourth = ((pid >> 8) % 64) * 4;
const hostVeth = `198.19.${third}.${fourth + 1}`;
const nsVeth = `198.19.${third}.${fourth + 2}`;
const ourTunnel = `100.65.${third}.${fourth + 1}`;
const wgTunnel = `100.65.${third}.${fourth + 2}`;
const WG_PORT = 51820;
const sock = `/var/run/wireguard/${ifname}.sock`;

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { timeout: 10_000, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}

function requireTools(): void {
  const missing = ['/usr/bin/wireguard-go', '/usr/bin/wg'].filter((p) => !existsSync(p));
  if (missing.length > 0) assert.fail(`missing ${missing.join(', ')}: apt-get install -y wireguard-go wireguard-tools iproute2`);
  if (process.getuid?.() !== 0) assert.fail('the interop test needs root (network namespaces)');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs a Device against a real UDP socket, with its timers on setTimeout. */
class Driver {
  readonly counters = new Counters();
  readonly device: Device;
  readonly tunnelPackets: Uint8Array[] = [];
  readonly log: { dir: 'in' | 'out'; bytes: string; at: number }[] = [];
  #timer: NodeJS.Timeout | undefined;
  onTunnel: (packet: Uint8Array) => void = () => {};

  constructor(readonly socket: Socket, options: { random?: (n: number) => Uint8Array; wallClock?: () => number; underLoad?: () => boolean } = {}) {
    this.device = new Device({ privateKey: decodeKey(OUR_PRIVATE_KEY), counters: this.counters, ...options });
    this.device.addPeer({
      publicKey: publicKeyFromPrivate(decodeKey(WG_GO_PRIVATE_KEY)),
      allowedIps: [parseCidr(`${wgTunnel}/32`)],
      endpoint: { address: nsVeth, port: WG_PORT },
      name: 'wireguard-go',
    });
  }

  now(): number {
    return performance.now();
  }

  receive(bytes: Uint8Array, from: UdpEndpoint): void {
    this.log.push({ dir: 'in', bytes: Buffer.from(bytes).toString('hex'), at: this.now() });
    this.handle(this.device.receive(this.now(), from, bytes));
  }

  send(packet: Uint8Array): void {
    this.handle(this.device.send(this.now(), packet));
  }

  handle(outputs: DeviceOutput[]): void {
    for (const o of outputs) {
      if (o.kind === 'toNetwork') {
        this.log.push({ dir: 'out', bytes: Buffer.from(o.bytes).toString('hex'), at: this.now() });
        this.socket.send(o.bytes, o.to.port, o.to.address);
      } else {
        this.tunnelPackets.push(Uint8Array.from(o.packet));
        this.onTunnel(o.packet);
      }
    }
    this.#schedule();
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    const deadline = this.device.nextDeadline();
    if (deadline === undefined) return;
    this.#timer = setTimeout(() => this.handle(this.device.poll(this.now())), Math.max(0, deadline - this.now()));
    this.#timer.unref();
  }

  stop(): void {
    clearTimeout(this.#timer);
  }
}

describe('interop with wireguard-go', { timeout: 60_000 }, () => {
  let wg: ChildProcess | undefined;
  let socket: Socket | undefined;
  let driver: Driver | undefined;
  let keyDir: string | undefined;
  const drivers: Driver[] = [];
  let wgGoInitiation: string | undefined;

  before(async () => {
    requireTools();
    run('ip', ['netns', 'add', netns]);
    run('ip', ['link', 'add', vethHost, 'type', 'veth', 'peer', 'name', vethNs]);
    run('ip', ['link', 'set', vethNs, 'netns', netns]);
    run('ip', ['addr', 'add', `${hostVeth}/30`, 'dev', vethHost]);
    run('ip', ['link', 'set', vethHost, 'up']);
    run('ip', ['-n', netns, 'addr', 'add', `${nsVeth}/30`, 'dev', vethNs]);
    run('ip', ['-n', netns, 'link', 'set', vethNs, 'up']);
    run('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    wg = spawn('ip', ['netns', 'exec', netns, '/usr/bin/wireguard-go', '-f', ifname], { stdio: 'ignore' });
    for (let i = 0; i < 100 && !existsSync(sock); i++) await sleep(50);
    assert.ok(existsSync(sock), 'wireguard-go did not create its UAPI socket');

    socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket!.once('error', reject);
      socket!.bind(0, hostVeth, () => resolve());
    });
    const ourPort = socket.address().port;
    const ourPublic = encodeKey(publicKeyFromPrivate(decodeKey(OUR_PRIVATE_KEY)));
    keyDir = mkdtempSync(join(tmpdir(), 'bfwg-'));
    const keyFile = join(keyDir, 'private.key');
    writeFileSync(keyFile, WG_GO_PRIVATE_KEY, { mode: 0o600 });
    run('ip', ['netns', 'exec', netns, 'wg', 'set', ifname, 'private-key', keyFile, 'listen-port', String(WG_PORT),
      'peer', ourPublic, 'endpoint', `${hostVeth}:${ourPort}`, 'allowed-ips', `${ourTunnel}/32`]);
    run('ip', ['-n', netns, 'addr', 'add', `${wgTunnel}/32`, 'dev', ifname]);
    run('ip', ['-n', netns, 'link', 'set', ifname, 'up']);
    run('ip', ['-n', netns, 'route', 'add', `${ourTunnel}/32`, 'dev', ifname]);
    socket.on('message', (msg, rinfo) => driver?.receive(new Uint8Array(msg), { address: rinfo.address, port: rinfo.port }));
  });

  after(() => {
    for (const d of drivers) d.stop();
    socket?.close();
    if (wg?.pid !== undefined && wg.exitCode === null) process.kill(wg.pid, 'SIGTERM');
    try { run('ip', ['netns', 'del', netns]); } catch { /* already gone */ }
    try { run('ip', ['link', 'del', vethHost]); } catch { /* removed with the namespace */ }
    if (keyDir !== undefined) rmSync(keyDir, { recursive: true, force: true });
  });

  function ping(count: number, waitSeconds: number): Promise<string> {
    return new Promise<string>((resolve) => {
      const child = spawn('ip', ['netns', 'exec', netns, 'ping', '-c', String(count), '-i', '0.3', '-W', String(waitSeconds), ourTunnel]);
      let text = '';
      child.stdout.on('data', (c: Buffer) => { text += c.toString(); });
      const kill = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.on('exit', () => { clearTimeout(kill); resolve(text); });
    });
  }

  it('answers a ping from wireguard-go (we are the responder)', async () => {
    driver = new Driver(socket!);
    drivers.push(driver);
    const d = driver;
    d.onTunnel = (packet) => {
      const reply = echoReply(packet);
      if (reply !== undefined) d.send(reply);
    };
    const output = await ping(3, 3);
    assert.match(output, /3 received/, `ping output:\n${output}\ncounters: ${JSON.stringify(d.counters.snapshot())}`);
    assert.equal(d.counters.get('wg.handshake_response_sent'), 1);
    assert.equal(d.device.peers()[0]!.endpoint?.address, nsVeth);
    const show = run('ip', ['netns', 'exec', netns, 'wg', 'show', ifname, 'latest-handshakes']);
    assert.match(show, /\t[1-9]\d*\n/);
    wgGoInitiation = d.log.find((l) => l.dir === 'in' && l.bytes.startsWith('01'))?.bytes;
    d.stop();
  });

  it('reaches wireguard-go as the initiator and decrypts its reply', async () => {
    driver = new Driver(socket!, { random: seededRandom(INITIATOR_SEED), wallClock: () => INITIATOR_WALL_CLOCK });
    drivers.push(driver);
    const d = driver;
    const request = echoRequest(ourTunnel, wgTunnel, 0x4242, 1);
    const got = new Promise<Uint8Array>((resolve) => { d.onTunnel = resolve; });
    d.send(request);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), 10_000); });
    const reply = await Promise.race([got, timeout]);
    clearTimeout(timer);
    assert.ok(reply !== undefined, `no echo reply; counters: ${JSON.stringify(d.counters.snapshot())}`);
    assert.equal(reply[20], 0, 'ICMP echo reply');
    assert.deepEqual([...reply.subarray(12, 16)], wgTunnel.split('.').map(Number));
    assert.equal(d.counters.get('wg.handshake_completed'), 1);
    const capture = process.env.BAILIFF_WG_CAPTURE;
    if (capture) {
      writeFileSync(capture, JSON.stringify({
        ourTunnel, wgTunnel, wgGoInitiation, request: Buffer.from(request).toString('hex'),
        datagrams: d.log.map(({ dir, bytes }) => ({ dir, bytes })),
      }, null, 2));
    }
    d.stop();
  });

  it('under load sends wireguard-go a cookie, and accepts its retry carrying mac2', async () => {
    // Forget the previous sessions on wireguard-go's side so that the ping needs a new handshake.
    const ourPublic = encodeKey(publicKeyFromPrivate(decodeKey(OUR_PRIVATE_KEY)));
    const ourPort = socket!.address().port;
    run('ip', ['netns', 'exec', netns, 'wg', 'set', ifname, 'peer', ourPublic, 'remove']);
    run('ip', ['netns', 'exec', netns, 'wg', 'set', ifname, 'peer', ourPublic, 'endpoint', `${hostVeth}:${ourPort}`, 'allowed-ips', `${ourTunnel}/32`]);
    driver = new Driver(socket!, { underLoad: () => true });
    drivers.push(driver);
    const d = driver;
    d.onTunnel = (packet) => {
      const reply = echoReply(packet);
      if (reply !== undefined) d.send(reply);
    };
    // wireguard-go retries the initiation REKEY_TIMEOUT after the cookie, so allow for that.
    const output = await ping(1, 12);
    assert.match(output, /1 received/, `ping output:\n${output}\ncounters: ${JSON.stringify(d.counters.snapshot())}`);
    assert.equal(d.counters.get('wg.cookie_sent'), 1);
    assert.equal(d.counters.get('wg.handshake_response_sent'), 1);
    d.stop();
  });
});
