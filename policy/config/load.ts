/**
 * Load a policy: one .hcl file, or a folder whose .hcl files (not dotfiles, not recursive) are
 * merged in file-name order. Two passes: declarations first (so references resolve regardless of
 * file order), then every block is decoded against its schema. All problems are reported at once.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Diagnostics, type Diagnostic } from './diagnostics.js';
import { parseHcl, type HclBlock, type HclBody } from './hcl.js';
import { BodyReader, type Reference } from './body-reader.js';
import { decodeApprovers } from './approvers.js';
import { decodeCredentials } from './credentials.js';
import { decodeEndpoints } from './endpoints.js';
import { decodeRules } from './rules.js';
import { decodeGateway, decodeDefaults } from './gateway.js';
import { decodePeers, decodeProfiles } from './peers.js';
import type { Config, CredentialDecl, EndpointDecl, GatewayConfig, PeerDecl, ProfileDecl } from './model.js';
import { hostIndex, parseCidrText } from './cidr.js';

export interface LoadResult {
  config?: Config;
  diagnostics: Diagnostic[];
}

export function configFiles(path: string): { files: string[]; baseDir: string } {
  const absolute = resolve(path);
  const stat = statSync(absolute);
  if (!stat.isDirectory()) return { files: [absolute], baseDir: dirname(absolute) };
  const files = readdirSync(absolute)
    .filter((name) => name.endsWith('.hcl') && !name.startsWith('.'))
    .sort()
    .map((name) => join(absolute, name));
  return { files, baseDir: absolute };
}

export async function loadConfig(path: string, options: { displayPath?: (file: string) => string } = {}): Promise<LoadResult> {
  const diagnostics = new Diagnostics();
  let listing: { files: string[]; baseDir: string };
  try {
    listing = configFiles(path);
  } catch (error) {
    diagnostics.error({ file: path, line: 1, column: 1 }, `cannot read configuration: ${(error as Error).message}`);
    return { diagnostics: diagnostics.list };
  }
  if (listing.files.length === 0) {
    diagnostics.error({ file: path, line: 1, column: 1 }, 'folder holds no .hcl files');
    return { diagnostics: diagnostics.list };
  }
  const display = options.displayPath ?? ((f: string) => f);
  const texts = listing.files.map((file) => ({ file: display(file), text: readFileSync(file, 'utf8') }));
  return loadConfigTexts(texts, { source: resolve(path), baseDir: listing.baseDir, diagnostics });
}

/** Load from in-memory texts (used by tests and the embedded demo). */
export async function loadConfigTexts(
  texts: { file: string; text: string }[],
  context: { source: string; baseDir: string; diagnostics?: Diagnostics },
): Promise<LoadResult> {
  const diagnostics = context.diagnostics ?? new Diagnostics();
  const bodies: HclBody[] = [];
  for (const { file, text } of texts) bodies.push(await parseHcl(file, text, diagnostics));
  const merged: HclBody = { attributes: bodies.flatMap((b) => b.attributes), blocks: bodies.flatMap((b) => b.blocks) };
  const order = texts.map((t) => t.file);

  for (const attribute of merged.attributes) {
    if (attribute.name === 'schema_version') {
      const v = attribute.value;
      if (v.kind !== 'number' || (v.value !== 0 && v.value !== 1)) diagnostics.error(v.pos, 'schema_version must be 0 or 1');
      continue;
    }
    diagnostics.error(attribute.pos, `unknown top-level field "${attribute.name}" (settings belong in a block such as gateway { })`);
  }
  const top = new BodyReader({ attributes: [], blocks: merged.blocks }, diagnostics, 'configuration', {
    file: order[0] ?? context.source,
    line: 1,
    column: 1,
  });
  const gatewayBlocks = top.blocks('gateway');
  const gatewayBlock = gatewayBlocks[0];
  for (const extra of gatewayBlocks.slice(1)) diagnostics.error(extra.pos, 'only one gateway block is allowed');
  const defaultsBlocks = top.blocks('defaults');
  for (const extra of defaultsBlocks.slice(1)) diagnostics.error(extra.pos, 'only one defaults block is allowed');
  for (const block of top.blocks('tunnel')) {
    const what = block.labels[0] ? `tunnel "${block.labels[0].value}"` : 'tunnel';
    diagnostics.error(block.pos, `${what}: tunnels are not supported yet by this version of Bailiff`);
  }
  for (const block of top.blocks('plugin')) diagnostics.error(block.pos, 'plugin blocks are not supported: Bailiff has no external plugins');

  const defaults = decodeDefaults(defaultsBlocks[0] && labelless(defaultsBlocks[0], diagnostics), diagnostics);
  // Declared names (even of blocks with errors), so one bad block does not cascade into
  // "not declared" errors everywhere it is referenced.
  const endpointSet = new Set<string>();
  const credentialSet = new Set<string>();
  const approverSet = new Set<string>();
  const endpoints = decodeEndpoints(top.blocks('endpoint'), diagnostics, endpointSet);
  const { credentials, endpointRefs } = decodeCredentials(top.blocks('credential'), diagnostics, credentialSet);
  const approvers = decodeApprovers(top.blocks('approver'), diagnostics, defaults, approverSet);
  const pendingProfiles = decodeProfiles(top.blocks('profile'), diagnostics);
  const profiles = pendingProfiles.map((p) => p.decl);
  const peers = decodePeers(top.blocks('peer'), diagnostics, new Set(profiles.map((p) => p.name)));
  const pendingRules = decodeRules(top.blocks('rule'), diagnostics);
  top.finish();

  if (!gatewayBlock) {
    diagnostics.error({ file: order[0] ?? context.source, line: 1, column: 1 }, 'missing required block "gateway"');
  }
  const gateway = gatewayBlock ? decodeGateway(labelless(gatewayBlock, diagnostics), diagnostics, context.baseDir) : undefined;
  if (gateway) checkPeerAddresses(peers, gateway, diagnostics);

  // Second pass: every reference must name a declared block of the right kind.
  const credentialByRef = new Map(credentials.map((c) => [c.ref, c]));
  const missing = (ref: Reference, what: string) => diagnostics.error(ref.pos, `${what}: ${ref.kind}.${ref.name} is not declared`);
  for (const [credential, refs] of endpointRefs) {
    for (const ref of refs) if (!endpointSet.has(`${ref.kind}.${ref.name}`)) missing(ref, `credential ${credential}`);
  }
  for (const { decl, refs } of pendingProfiles) {
    for (const ref of refs) if (!credentialSet.has(`${ref.kind}.${ref.name}`)) missing(ref, `profile "${decl.name}"`);
  }
  for (const approver of approvers) {
    if (approver.type === 'llm_approver' && approver.credential && !credentialSet.has(approver.credential)) {
      diagnostics.error(approver.pos, `approver ${approver.ref}: ${approver.credential} is not declared`);
    }
  }
  for (const { decl, endpointRefs: refs, credentialRef, approverRefs } of pendingRules) {
    const what = `rule "${decl.name}"`;
    for (const ref of refs) if (!endpointSet.has(`${ref.kind}.${ref.name}`)) missing(ref, what);
    for (const ref of approverRefs) if (!approverSet.has(`${ref.kind}.${ref.name}`)) missing(ref, what);
    if (credentialRef) {
      const credential = credentialByRef.get(decl.credential!);
      if (!credentialSet.has(decl.credential!)) missing(credentialRef, what);
      else if (credential && !decl.endpoints.some((e) => credential.endpoints.includes(e))) {
        diagnostics.error(credentialRef.pos, `${what}: ${credential.ref} is not bound to any of the rule's endpoints, so the rule could never match`);
      }
    }
  }
  checkDisambiguation(profiles, credentialByRef, diagnostics);
  checkEndpointAddresses(endpoints, diagnostics);

  const sorted = diagnostics.sorted(order);
  if (sorted.length > 0 || !gateway) return { diagnostics: sorted };
  return {
    config: {
      source: context.source,
      files: order,
      digest: digestOf(texts),
      gateway,
      defaults,
      peers,
      profiles,
      endpoints,
      credentials,
      approvers,
      rules: pendingRules.map((r) => r.decl),
    },
    diagnostics: [],
  };
}

/**
 * Two endpoints claiming the same host and port would make routing ambiguous: the address an
 * agent dials must name exactly one endpoint, so the policy and the injected credential are known.
 */
function checkEndpointAddresses(endpoints: EndpointDecl[], diagnostics: Diagnostics): void {
  const claims = new Map<string, EndpointDecl>();
  for (const endpoint of endpoints) {
    const entries: [string, number][] = [];
    const add = (text: string, defaultPort: number) => {
      const m = /^(.*?)(?::(\d{1,5}))?$/.exec(text.startsWith('[') ? text.replace(/^\[(.*)\](:\d+)?$/, '$1$2') : text)!;
      const bare = text.split(':').length > 2 && !text.startsWith('[');
      entries.push(bare ? [text.toLowerCase(), defaultPort] : [m[1]!.toLowerCase(), m[2] ? Number(m[2]) : defaultPort]);
    };
    switch (endpoint.type) {
      case 'postgres':
      case 'tcp': add(endpoint.host, 0); break;
      case 'https': for (const h of endpoint.hosts) add(h, 443); break;
      case 'kubernetes': for (const h of [endpoint.server, ...endpoint.hosts]) add(h, 443); break;
      case 'ssh': for (const h of endpoint.hosts) add(h, 22); break;
    }
    for (const [host, port] of new Map(entries.map((e) => [`${e[0]}:${e[1]}`, e])).values()) {
      const key = `${host}:${port}`;
      const first = claims.get(key);
      if (first && first.ref !== endpoint.ref) {
        diagnostics.error(endpoint.pos, `endpoint ${endpoint.ref}: ${key} is already claimed by ${first.ref} (first at ${first.pos.file}:${first.pos.line}); an address must name one endpoint`);
      } else {
        claims.set(key, endpoint);
      }
    }
  }
}

/**
 * Several credentials of one profile at one endpoint must be told apart by what the agent sends:
 * Postgres by the startup user, HTTP by a placeholder. Two that cannot be told apart are an error,
 * never a guess at run time.
 */
function checkDisambiguation(profiles: ProfileDecl[], credentials: Map<string, CredentialDecl>, diagnostics: Diagnostics): void {
  for (const profile of profiles) {
    const byEndpoint = new Map<string, { key: string; credential: string }[]>();
    for (const entry of profile.credentials) {
      const credential = credentials.get(entry.credential);
      if (!credential) continue;
      const key = credential.type === 'postgres_credential'
        ? `user=${entry.user ?? credential.user}`
        : `placeholder=${entry.placeholder ?? credential.placeholder ?? ''}`;
      for (const endpoint of credential.endpoints) {
        const list = byEndpoint.get(endpoint) ?? [];
        const clash = list.find((e) => e.key === key);
        if (clash) {
          const how = key.startsWith('user=') ? 'a different user' : 'a different placeholder';
          diagnostics.error(profile.pos, `profile "${profile.name}": ${clash.credential} and ${entry.credential} both reach ${endpoint} and cannot be told apart; give them ${how}`);
        }
        list.push({ key, credential: entry.credential });
        byEndpoint.set(endpoint, list);
      }
    }
  }
}

function digestOf(texts: { file: string; text: string }[]): string {
  const hash = createHash('sha256');
  for (const { file, text } of texts) hash.update(file).update('\0').update(text).update('\0');
  return `sha256:${hash.digest('hex').slice(0, 16)}`;
}

function labelless(block: HclBlock, diagnostics: Diagnostics): HclBlock {
  if (block.labels.length > 0) diagnostics.error(block.labels[0]!.pos, `"${block.type}" block takes no labels`);
  return block;
}

function checkPeerAddresses(peers: PeerDecl[], gateway: GatewayConfig, diagnostics: Diagnostics): void {
  const subnet = parseCidrText(gateway.wireguard.subnet)!;
  const broadcast = (1n << BigInt(32 - subnet.prefixLength)) - 1n;
  const seen = new Map<bigint, PeerDecl>();
  for (const peer of peers) {
    if (!peer.address) continue;
    const host = hostIndex(subnet, peer.address);
    if (host === undefined) {
      diagnostics.error(peer.pos, `peer "${peer.name}": address ${peer.address} is outside subnet_cidr ${gateway.wireguard.subnet}`);
      continue;
    }
    if (host === 0n || host === 1n || host === broadcast) {
      diagnostics.error(peer.pos, `peer "${peer.name}": address ${peer.address} is reserved (network, appliance or broadcast address)`);
    }
    const clash = seen.get(host);
    if (clash) diagnostics.error(peer.pos, `peer "${peer.name}": address ${peer.address} is already used by peer "${clash.name}"`);
    seen.set(host, peer);
  }
}
