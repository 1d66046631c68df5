/** `endpoint "<type>" "<name>"` blocks (POLICY.md "endpoint"). */
import { BodyReader } from './body-reader.js';
import type { Diagnostics } from './diagnostics.js';
import type { HclBlock } from './hcl.js';
import type { EndpointDecl, EndpointType, Family } from './model.js';
import { claimName, isHostPort, typedBlockLabels } from './names.js';

export const ENDPOINT_FAMILY: Readonly<Record<EndpointType, Family>> = {
  postgres: 'sql',
  https: 'http',
  kubernetes: 'k8s',
  ssh: 'ssh',
  tcp: 'tcp',
};
export const ENDPOINT_TYPES = Object.keys(ENDPOINT_FAMILY) as EndpointType[];

/** Claw Patrol endpoint types we do not terminate, with what to do instead. */
const NOT_SUPPORTED: Record<string, string> = {
  clickhouse_native: 'ClickHouse is not terminated yet; use a tcp endpoint for connection-level rules',
  clickhouse_https: 'ClickHouse over HTTPS is not terminated yet; use an https endpoint',
  openai_codex_https: 'use an https endpoint for chatgpt.com',
};

export function decodeEndpoints(blocks: HclBlock[], diagnostics: Diagnostics, declared: Set<string> = new Set()): EndpointDecl[] {
  const out: EndpointDecl[] = [];
  const seen = new Map<string, HclBlock>();
  for (const block of blocks) {
    const labels = typedBlockLabels(block, diagnostics, ENDPOINT_TYPES, NOT_SUPPORTED);
    if (!labels) continue;
    const type = labels.type as EndpointType;
    const ref = `${type}.${labels.name}`;
    if (!claimName(seen, declared, ref, block, 'endpoint', diagnostics)) continue;
    const r = new BodyReader(block.body, diagnostics, `endpoint ${ref}`, block.pos);
    const description = r.string('description');
    const tunnel = r.reference('tunnel', ['ssh_tunnel', 'tailscale', 'ssh_port_forward']);
    if (tunnel) diagnostics.error(tunnel.pos, `endpoint ${ref}: tunnels are not supported yet by this version of Bailiff`);
    r.durationOrSeconds('retention'); // accepted for Claw Patrol files; the audit log's retention applies
    const base = { name: labels.name, ref, family: ENDPOINT_FAMILY[type], pos: block.pos, ...(description ? { description } : {}) };
    const decoded = decodeFields(type, r, base);
    r.finish();
    if (decoded) out.push(decoded);
  }
  return out;
}

type Base = { name: string; ref: string; family: Family; pos: EndpointDecl['pos']; description?: string };

function hostPort(r: BodyReader, name: string, required: boolean): string | undefined {
  const found = r.stringValue(name);
  if (!found) {
    if (required) r.diagnostics.error(r.pos, `${r.what}: missing required field "${name}"`);
    return undefined;
  }
  if (!isHostPort(found.value, { portRequired: true })) {
    r.diagnostics.error(found.attribute.value.pos, `${r.what}: "${name}" must be host:port (for example db.internal:5432)`);
    return undefined;
  }
  return found.value;
}

function hostList(r: BodyReader, name: string, options: { required: boolean; portRequired: boolean; wildcard: boolean }): string[] | undefined {
  const attribute = r.body.attributes.find((a) => a.name === name);
  const hosts = r.stringList(name);
  if (!attribute) {
    if (options.required) r.diagnostics.error(r.pos, `${r.what}: missing required field "${name}"`);
    return undefined;
  }
  if (!hosts) return undefined;
  if (options.required && hosts.length === 0) {
    r.diagnostics.error(attribute.value.pos, `${r.what}: "${name}" must list at least one host`);
    return undefined;
  }
  const bad = hosts.filter((h) => !isHostPort(h, { portRequired: options.portRequired, wildcard: options.wildcard }));
  if (bad.length) {
    const form = options.portRequired ? 'host:port' : options.wildcard ? 'host, host:port or *.suffix' : 'host or host:port';
    r.diagnostics.error(attribute.value.pos, `${r.what}: "${name}" entries must be ${form}, not ${bad.map((b) => JSON.stringify(b)).join(', ')}`);
    return undefined;
  }
  return hosts.map((h) => h.toLowerCase());
}

function decodeFields(type: EndpointType, r: BodyReader, base: Base): EndpointDecl | undefined {
  switch (type) {
    case 'postgres': {
      const host = hostPort(r, 'host', true);
      const upstream = hostPort(r, 'upstream', false);
      const sslmode = (r.string('sslmode', { oneOf: ['disable', 'prefer', 'require', 'verify-full'] }) ?? 'prefer') as 'prefer';
      const caCert = r.string('ca_cert');
      if (!host) return undefined;
      return { ...base, type, host, upstream: upstream ?? host, sslmode, ...(caCert ? { caCert } : {}) };
    }
    case 'https': {
      const hosts = hostList(r, 'hosts', { required: true, portRequired: false, wildcard: true });
      const caCert = r.string('ca_cert');
      if (!hosts) return undefined;
      return { ...base, type, hosts, ...(caCert ? { caCert } : {}) };
    }
    case 'kubernetes': {
      const server = r.string('server', { required: true });
      const hosts = hostList(r, 'hosts', { required: false, portRequired: false, wildcard: true }) ?? [];
      const caCert = r.string('ca_cert');
      for (const eks of ['cluster_name', 'region']) {
        const a = r.attribute(eks);
        if (a) r.diagnostics.error(a.pos, `${r.what}: "${eks}" (EKS token minting) is not supported by Bailiff`);
      }
      if (server !== undefined && !isHostPort(server, { portRequired: false })) {
        r.diagnostics.error(r.attribute('server')!.value.pos, `${r.what}: "server" must be a host or host:port (no https:// prefix)`);
        return undefined;
      }
      if (server === undefined) return undefined;
      return { ...base, type, server: server.toLowerCase(), hosts, ...(caCert ? { caCert } : {}) };
    }
    case 'ssh': {
      const hosts = hostList(r, 'hosts', { required: true, portRequired: true, wildcard: false });
      const hostKey = r.string('host_key');
      if (!hosts) return undefined;
      return { ...base, type, hosts, ...(hostKey ? { hostKey } : {}) };
    }
    case 'tcp': {
      const host = hostPort(r, 'host', true);
      const upstream = hostPort(r, 'upstream', false);
      if (!host) return undefined;
      return { ...base, type, host, upstream: upstream ?? host };
    }
  }
}
