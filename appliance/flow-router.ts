/**
 * Where an agent's new TCP flow goes, decided at SYN time from what the agent dialed:
 *   a VIP (an endpoint name the appliance resolved) or an endpoint's IP literal -> that endpoint,
 *   if the peer's profile reaches it and the port is the endpoint's;
 *   anything else -> `defaults.unknown_host`: refused, or relayed to where it was going.
 * Injection and policy are bound to the endpoint found here (the address the agent dialed),
 * never to a name the agent sends later (Host header, SNI, startup user).
 */
import { isIP } from 'node:net';
import { addressEquals, cidrContains, formatAddress, parseAddress, type Cidr } from '../netstack/wire/ip-address.js';
import type { EndpointDecl } from '../policy/config/model.js';
import type { CompiledPolicy, CredentialChoice, PeerIdentity } from '../policy/engine.js';
import { endpointsForName, splitHostPort, type EndpointNames, type VipTable } from './vip-table.js';

export const RouteCode = Object.freeze({
  UNKNOWN_HOST: 'ROUTE_UNKNOWN_HOST',
  WRONG_PORT: 'ROUTE_WRONG_PORT',
  NOT_IN_PROFILE: 'ACCESS_NOT_IN_PROFILE',
  AMBIGUOUS: 'ROUTE_AMBIGUOUS',
  APPLIANCE: 'ROUTE_APPLIANCE_ADDRESS',
  FORBIDDEN: 'ROUTE_FORBIDDEN_DESTINATION',
});

export interface Upstream {
  host: string;
  port: number;
}

export type FlowRoute =
  | { kind: 'endpoint'; endpoint: EndpointDecl; credentials: CredentialChoice[]; upstream: Upstream; dialedName: string }
  | { kind: 'passthrough'; upstream: Upstream }
  | { kind: 'refuse'; code: string; reason: string; endpoint?: string };

/** The ports an endpoint answers on for `name` (a host it lists), and where the appliance dials. */
export function endpointTarget(endpoint: EndpointDecl, name: string): { ports: number[]; upstream: (port: number) => Upstream } | undefined {
  const match = (entries: string[], defaultPort: number) => {
    const ports: number[] = [];
    for (const entry of entries) {
      const { host, port } = splitHostPort(entry);
      const h = host.toLowerCase();
      const hit = h === name || (h.startsWith('*.') && name.endsWith(h.slice(1)) && name.length > h.length - 1);
      if (hit) ports.push(port ?? defaultPort);
    }
    return ports;
  };
  switch (endpoint.type) {
    case 'postgres':
    case 'tcp': {
      const ports = match([endpoint.host], 0);
      const { host, port } = splitHostPort(endpoint.upstream);
      return ports.length ? { ports, upstream: () => ({ host, port: port! }) } : undefined;
    }
    case 'https': {
      const ports = match(endpoint.hosts, 443);
      return ports.length ? { ports, upstream: (port) => ({ host: name, port }) } : undefined;
    }
    case 'kubernetes': {
      const ports = match([endpoint.server, ...endpoint.hosts], 443);
      const { host, port } = splitHostPort(endpoint.server);
      return ports.length ? { ports, upstream: () => ({ host, port: port ?? 443 }) } : undefined;
    }
    case 'ssh': {
      const ports = match(endpoint.hosts, 22);
      return ports.length ? { ports, upstream: (port) => ({ host: name, port }) } : undefined;
    }
  }
}

/**
 * Destinations passthrough never relays to, whatever the agent dials: the appliance's own host
 * (loopback: its operator API listens there), link-local (169.254.169.254 is the cloud metadata
 * server and its credentials), unspecified, multicast, IPv4-mapped/compatible IPv6 (another
 * spelling of all of those), and the tunnel's own subnets and VIP ranges.
 */
export function forbiddenPassthrough(address: Uint8Array, own: readonly Cidr[]): string | undefined {
  if (own.some((c) => cidrContains(c, address))) return 'a tunnel or VIP address';
  if (address.length === 4) {
    const [a, b] = address as unknown as [number, number];
    if (a === 0 || a === 127) return 'a loopback or unspecified address';
    if (a === 169 && b === 254) return 'a link-local address (cloud metadata)';
    if (a >= 224) return 'a multicast or reserved address';
    return undefined;
  }
  const v6 = address;
  const zeros = (from: number, to: number) => v6.subarray(from, to).every((x) => x === 0);
  if (zeros(0, 10) && ((v6[10] === 0xff && v6[11] === 0xff) || (v6[10] === 0 && v6[11] === 0))) {
    return 'an IPv4-mapped or IPv4-compatible address (or ::, ::1)';
  }
  if (v6[0] === 0xfe && (v6[1]! & 0xc0) === 0x80) return 'a link-local address';
  if (v6[0] === 0xff) return 'a multicast address';
  if (v6[0] === 0xfd && v6[1] === 0x00 && v6[2] === 0x0e && v6[3] === 0xc2) return 'a cloud metadata address';
  return undefined;
}

export interface RouterContext {
  policy: CompiledPolicy;
  names: EndpointNames;
  vips: Pick<VipTable, 'lookup'>;
  applianceAddresses: Uint8Array[];
  /** The tunnel subnets and VIP ranges: never a passthrough destination. */
  ownRanges?: readonly Cidr[];
}

export function routeFlow(ctx: RouterContext, peer: PeerIdentity, dst: Uint8Array, dstPort: number): FlowRoute {
  if (ctx.applianceAddresses.some((a) => addressEquals(a, dst))) {
    return { kind: 'refuse', code: RouteCode.APPLIANCE, reason: 'the appliance serves no TCP on its tunnel address' };
  }
  const name = ctx.vips.lookup(dst);
  const candidates: { endpoint: EndpointDecl; name: string }[] = [];
  if (name !== undefined) {
    for (const ref of endpointsForName(ctx.names, name)) {
      const endpoint = ctx.policy.endpoint(ref);
      if (endpoint) candidates.push({ endpoint, name });
    }
  } else {
    for (const literal of ctx.names.ipLiterals) {
      if (isIP(literal.address) && addressEquals(parseAddress(literal.address), dst)) {
        const endpoint = ctx.policy.endpoint(literal.endpoint);
        if (endpoint) candidates.push({ endpoint, name: literal.address.toLowerCase() });
      }
    }
  }
  if (candidates.length === 0) {
    if (name === undefined && ctx.policy.config.defaults.unknownHost === 'passthrough') {
      const why = forbiddenPassthrough(dst, ctx.ownRanges ?? []);
      if (why) return { kind: 'refuse', code: RouteCode.FORBIDDEN, reason: `${formatAddress(dst)} is ${why}; passthrough never goes there` };
      return { kind: 'passthrough', upstream: { host: formatAddress(dst), port: dstPort } };
    }
    return { kind: 'refuse', code: RouteCode.UNKNOWN_HOST, reason: `${name ?? formatAddress(dst)} is not an endpoint` };
  }
  // The port picks among endpoints sharing a name (db:5432 postgres, db:22 ssh).
  const onPort = candidates
    .map((c) => ({ ...c, target: endpointTarget(c.endpoint, c.name) }))
    .filter((c) => c.target?.ports.includes(dstPort));
  if (onPort.length === 0) {
    return { kind: 'refuse', code: RouteCode.WRONG_PORT, reason: `${name ?? formatAddress(dst)} has no endpoint on port ${dstPort}` };
  }
  const reachable = onPort
    .map((c) => ({ ...c, access: ctx.policy.access(peer, c.endpoint.ref) }))
    .filter((c) => c.access.ok);
  if (reachable.length === 0) {
    return { kind: 'refuse', code: RouteCode.NOT_IN_PROFILE, reason: `profile "${peer.profile}" does not reach ${onPort[0]!.endpoint.ref}`, endpoint: onPort[0]!.endpoint.ref };
  }
  if (reachable.length > 1) {
    return { kind: 'refuse', code: RouteCode.AMBIGUOUS, reason: `${reachable.map((c) => c.endpoint.ref).join(' and ')} both claim port ${dstPort}` };
  }
  const chosen = reachable[0]!;
  const access = chosen.access as Extract<typeof chosen.access, { ok: true }>;
  return {
    kind: 'endpoint',
    endpoint: chosen.endpoint,
    credentials: access.credentials,
    upstream: chosen.target!.upstream(dstPort),
    dialedName: chosen.name,
  };
}
