/**
 * The wg-quick client file handed to an agent host. Only keys that every official client accepts
 * (wg-quick, wireguard-go via `wg-quick strip` + `wg setconf`, the phone apps) are written.
 */
import { networkInterfaces } from 'node:os';
import { formatAddress, formatCidr, type Cidr } from '../netstack/wire/ip-address.js';

export const DEFAULT_VIP_RANGE = '100.127.0.0/16';
export const DEFAULT_VIP6_RANGE = 'fd62:6169:6c69:7669::/64';
export const PERSISTENT_KEEPALIVE_SECONDS = 25;

export interface ClientConfigInput {
  peerName: string;
  privateKey: Uint8Array;
  address: Uint8Array;
  address6: Uint8Array;
  applianceAddress: Uint8Array;
  applianceAddress6: Uint8Array;
  serverPublicKey: Uint8Array;
  endpoint: string;
  allowedIps: (Cidr | string)[];
  mtu: number;
}

export function renderClientConfig(input: ClientConfigInput): string {
  const b64 = (k: Uint8Array) => Buffer.from(k).toString('base64');
  const allowed = input.allowedIps.map((c) => (typeof c === 'string' ? c : formatCidr(c)));
  return [
    `# Bailiff agent tunnel for peer "${input.peerName}".`,
    '# Everything this host sends to these addresses goes through the appliance and its policy.',
    '[Interface]',
    `PrivateKey = ${b64(input.privateKey)}`,
    `Address = ${formatAddress(input.address)}/32, ${formatAddress(input.address6)}/128`,
    `DNS = ${formatAddress(input.applianceAddress)}, ${formatAddress(input.applianceAddress6)}`,
    `MTU = ${input.mtu}`,
    '',
    '[Peer]',
    `PublicKey = ${b64(input.serverPublicKey)}`,
    `Endpoint = ${input.endpoint}`,
    `AllowedIPs = ${allowed.join(', ')}`,
    `PersistentKeepalive = ${PERSISTENT_KEEPALIVE_SECONDS}`,
    '',
  ].join('\n');
}

/** The address clients dial when the config names no endpoint: this host's first public-ish IPv4. */
export function defaultEndpointHost(): string {
  const candidates: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const info of list ?? []) {
      if (info.family === 'IPv4' && !info.internal) candidates.push(info.address);
    }
  }
  return candidates[0] ?? '127.0.0.1';
}
