/** The appliance as a real process (the CLI), for end-to-end tests. */
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, start, type Running } from './processes.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const MAIN = join(ROOT, 'appliance/main.ts');

export function bailiffArgs(args: string[]): string[] {
  // BAILIFF_NODE_ARGS: extra node flags for profiling runs (e.g. --cpu-prof).
  const extra = process.env.BAILIFF_NODE_ARGS ? process.env.BAILIFF_NODE_ARGS.split(' ') : [];
  // BAILIFF_USE_DIST=1: run the compiled CLI (npm run build), as a deployment does; benchmarks use it.
  if (process.env.BAILIFF_USE_DIST === '1') return [...extra, join(ROOT, 'dist/appliance/main.js'), ...args];
  // tsx resolved here, so the CLI can run from any working directory (the demo runs in a temp dir).
  return [...extra, '--import', import.meta.resolve('tsx'), MAIN, ...args];
}

/** Run a bailiff CLI command to completion. */
export function bailiff(args: string[], options: { allowFail?: boolean; cwd?: string } = {}) {
  return run(process.execPath, bailiffArgs(args), { timeoutMs: 60_000, ...(options.allowFail ? { allowFail: true } : {}) });
}

export async function startAppliance(configPath: string, extraArgs: string[] = []): Promise<Running & { metricsUrl: string }> {
  const proc = start(process.execPath, bailiffArgs(['run', '--config', configPath, ...extraArgs]), { cwd: ROOT });
  const m = await proc.waitFor(/metrics (http:\/\/\S+)\/metrics/, 30_000);
  return Object.assign(proc, { metricsUrl: m[1]! });
}

export async function counters(metricsUrl: string): Promise<Record<string, number>> {
  const res = await fetch(`${metricsUrl}/api/counters`);
  return (await res.json()) as Record<string, number>;
}

export function freeTcpPort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolvePort(port));
    });
  });
}

export function freeUdpPort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, '0.0.0.0', () => {
      const port = socket.address().port;
      socket.close(() => resolvePort(port));
    });
  });
}

/**
 * The gateway block of a test policy: state in ./state, the operator endpoint and WireGuard on
 * free ports, the tunnel 100.64.<net>.0/24, and the endpoint agents dial on the root-side veth
 * 198.18.<net>.1.
 */
export async function testGatewayBlock(net: number): Promise<string> {
  const port = await freeUdpPort();
  const metricsPort = await freeTcpPort();
  return `gateway {
  state_dir        = "./state"
  dashboard_listen = "127.0.0.1:${metricsPort}"
  wireguard {
    listen_port = ${port}
    subnet_cidr = "100.64.${net}.0/24"
    endpoint    = "198.18.${net}.1:${port}"
  }
}
`;
}
