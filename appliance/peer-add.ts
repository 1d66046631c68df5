/**
 * `bailiff peer add NAME`: a key pair for the agent host, a tunnel address, a `peer` block
 * appended to the policy (so a running appliance picks it up on reload), and a wg-quick file.
 * The appliance keeps only the public key; the private key exists only in the client file.
 */
import { appendFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { addressEquals, formatAddress } from '../netstack/wire/ip-address.js';
import { generatePrivateKey, publicKeyFromPrivate } from '../netstack/wireguard/keys.js';
import { loadConfig } from '../policy/config/load.js';
import { NAME } from '../policy/config/names.js';
import { ConfigError } from '../policy/config/diagnostics.js';
import type { Config } from '../policy/config/model.js';
import { applianceAddresses, firstFree, resolvePeerAddresses, tunnelSubnets, v6For } from './addresses.js';
import {
  DEFAULT_VIP6_RANGE, DEFAULT_VIP_RANGE, defaultEndpointHost, renderClientConfig,
} from './client-config.js';
import { loadOrCreateServerKey } from './server-key.js';


export class PeerAddError extends Error {
  constructor(message: string, readonly code: string) {
    super(message);
  }
}

export interface PeerAddResult {
  name: string;
  address: string;
  address6: string;
  publicKey: string;
  clientConfig: string;
  configFile: string; // where the peer block was written
}

export async function addPeer(configPath: string, name: string, options: { profile?: string } = {}): Promise<PeerAddResult> {
  if (!NAME.test(name)) {
    throw new PeerAddError(`peer name "${name}" must be 1-63 letters, digits, "-", "_" or "."`, 'PEER_BAD_NAME');
  }
  const loaded = await loadConfig(configPath);
  if (!loaded.config) throw new ConfigError(loaded.diagnostics);
  const config = loaded.config;
  if (config.peers.some((p) => p.name === name)) {
    throw new PeerAddError(`peer "${name}" already exists in the configuration`, 'PEER_EXISTS');
  }
  if (options.profile && !config.profiles.some((p) => p.name === options.profile)) {
    throw new PeerAddError(`profile "${options.profile}" is not declared`, 'PEER_BAD_PROFILE');
  }
  const { gateway } = config;
  const server = loadOrCreateServerKey(gateway.stateDir);
  const privateKey = generatePrivateKey();
  const publicKey = publicKeyFromPrivate(privateKey);
  const address = allocate(config);
  const address6 = v6For(gateway, address);

  const target = peerFileFor(config);
  const block = [
    '',
    `peer "${name}" {`,
    `  public_key = "${Buffer.from(publicKey).toString('base64')}"`,
    `  address    = "${formatAddress(address)}"`,
    ...(options.profile ? [`  profile    = profile.${options.profile}`] : []),
    '}',
    '',
  ].join('\n');
  const before = existsSync(target) ? readFileSync(target) : undefined;
  appendFileSync(target, block, { mode: 0o644 });
  // The file must still load; if not (a concurrent edit, say), put it back as it was.
  const check = await loadConfig(configPath);
  if (!check.config) {
    if (before) writeFileSync(target, before);
    throw new ConfigError(check.diagnostics);
  }

  const appliance = applianceAddresses(gateway);
  const endpointHost = gateway.publicHost ? (gateway.publicHost.includes(':') ? `[${gateway.publicHost}]` : gateway.publicHost) : defaultEndpointHost();
  const endpoint = gateway.wireguard.endpoint ?? `${endpointHost}:${gateway.wireguard.listenPort}`;
  const clientConfig = renderClientConfig({
    peerName: name,
    privateKey,
    address,
    address6,
    applianceAddress: appliance.v4,
    applianceAddress6: appliance.v6,
    serverPublicKey: server.publicKey,
    endpoint,
    allowedIps: [gateway.wireguard.subnet, gateway.wireguard.subnet6, DEFAULT_VIP_RANGE, DEFAULT_VIP6_RANGE],
    mtu: gateway.wireguard.mtu,
  });
  privateKey.fill(0);
  return {
    name,
    address: formatAddress(address),
    address6: formatAddress(address6),
    publicKey: Buffer.from(publicKey).toString('base64'),
    clientConfig,
    configFile: target,
  };
}

/** A folder policy gets its peers in peers.hcl; a single-file policy gets them appended. */
function peerFileFor(config: Config): string {
  return statSync(config.source).isDirectory() ? join(config.source, 'peers.hcl') : config.source;
}

function allocate(config: Config): Uint8Array {
  const { gateway } = config;
  const used: Uint8Array[] = [...resolvePeerAddresses(gateway, config.peers).values()].map((a) => a.v4);
  const found = firstFree(tunnelSubnets(gateway).v4, (a) => used.some((u) => addressEquals(u, a)));
  if (!found) throw new PeerAddError('no free tunnel address left in subnet_cidr', 'PEER_NO_ADDRESS');
  return found;
}
