/**
 * Tunnel addresses. The appliance takes host 1 of the subnets; a peer takes an explicit
 * `address` or is allocated the lowest free host number, remembered in the state dir so that it
 * never changes across restarts. A peer's IPv6 address has the same host number in subnet6.
 */
import { join } from 'node:path';
import {
  addressEquals, cidrContains, formatAddress, hostOffset, nthAddress, parseAddress, parseCidr, type Cidr,
} from '../netstack/wire/ip-address.js';
import type { GatewayConfig, PeerDecl } from '../policy/config/model.js';
import { readJson, writeFileAtomic } from './state-dir.js';

const ALLOCATIONS_FILE = 'peer-addresses.json';

export interface PeerAddresses {
  v4: Uint8Array;
  v6: Uint8Array;
}

export function tunnelSubnets(gateway: GatewayConfig): { v4: Cidr; v6: Cidr } {
  return { v4: parseCidr(gateway.wireguard.subnet), v6: parseCidr(gateway.wireguard.subnet6) };
}

export function applianceAddresses(gateway: GatewayConfig): PeerAddresses {
  const subnets = tunnelSubnets(gateway);
  return { v4: nthAddress(subnets.v4, 1n)!, v6: nthAddress(subnets.v6, 1n)! };
}

function lastHost(cidr: Cidr): bigint {
  const bits = BigInt(cidr.address.length * 8 - cidr.prefixLength);
  return (1n << bits) - 2n; // exclude the v4 broadcast address
}

export function v6For(gateway: GatewayConfig, v4: Uint8Array): Uint8Array {
  const subnets = tunnelSubnets(gateway);
  return nthAddress(subnets.v6, hostOffset(subnets.v4, v4))!;
}

/**
 * Resolve every peer's addresses; allocate (and persist) for peers that have none.
 * `reserved` are explicit addresses written in the config, which always win.
 */
export function resolvePeerAddresses(gateway: GatewayConfig, peers: PeerDecl[]): Map<string, PeerAddresses> {
  const path = join(gateway.stateDir, ALLOCATIONS_FILE);
  const stored = readJson<Record<string, string>>(path, {});
  const subnet = tunnelSubnets(gateway).v4;
  const taken: Uint8Array[] = [nthAddress(subnet, 0n)!, nthAddress(subnet, 1n)!];
  for (const peer of peers) if (peer.address) taken.push(parseAddress(peer.address));
  const result = new Map<string, PeerAddresses>();
  let changed = false;
  const isTaken = (a: Uint8Array) => taken.some((t) => addressEquals(t, a));

  for (const peer of peers) {
    if (peer.address) {
      const v4 = parseAddress(peer.address);
      result.set(peer.name, { v4, v6: v6For(gateway, v4) });
    }
  }
  for (const peer of peers) {
    if (peer.address) continue;
    let v4: Uint8Array | undefined;
    const previous = stored[peer.publicKeyText];
    if (previous) {
      const candidate = parseAddress(previous);
      if (cidrContains(subnet, candidate) && !isTaken(candidate)) v4 = candidate;
    }
    v4 ??= firstFree(subnet, isTaken);
    if (!v4) throw new Error(`no free tunnel address left in ${gateway.wireguard.subnet}`);
    taken.push(v4);
    if (stored[peer.publicKeyText] !== formatAddress(v4)) {
      stored[peer.publicKeyText] = formatAddress(v4);
      changed = true;
    }
    result.set(peer.name, { v4, v6: v6For(gateway, v4) });
  }
  if (changed) writeFileAtomic(path, `${JSON.stringify(stored, null, 2)}\n`);
  return result;
}

export function firstFree(subnet: Cidr, isTaken: (a: Uint8Array) => boolean): Uint8Array | undefined {
  const last = lastHost(subnet);
  // Bounded: a /16 has 65k hosts; the scan stops at the first free one.
  for (let n = 2n; n <= last; n++) {
    const candidate = nthAddress(subnet, n)!;
    if (!isTaken(candidate)) return candidate;
  }
  return undefined;
}
