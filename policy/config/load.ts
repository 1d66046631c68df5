/**
 * Load a policy: one .hcl file, or a folder whose .hcl files (not dotfiles, not recursive) are
 * merged in file-name order. Two passes: declarations first (so references resolve regardless of
 * file order), then every block is decoded against its schema. All problems are reported at once.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ConfigError, Diagnostics, type Diagnostic } from './diagnostics.js';
import { parseHcl, type HclBlock, type HclBody } from './hcl.js';
import { BodyReader } from './body-reader.js';
import { decodeGateway, decodeDefaults } from './gateway.js';
import { decodePeers, decodeProfiles } from './peers.js';
import type { Config, GatewayConfig, PeerDecl } from './model.js';
import { hostIndex, parseCidrText } from './cidr.js';

/** Top-level block types of POLICY.md that this build does not decode yet. */
const NOT_YET_SUPPORTED = new Set(['endpoint', 'credential', 'approver', 'rule', 'tunnel']);

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
  for (const type of NOT_YET_SUPPORTED) {
    for (const block of top.blocks(type)) {
      const what = block.labels[0] ? `${type} "${block.labels[0].value}"` : type;
      diagnostics.error(block.pos, `${what}: "${type}" blocks are not supported yet by this version of Bailiff`);
    }
  }
  const profiles = decodeProfiles(top.blocks('profile'), diagnostics);
  const peers = decodePeers(top.blocks('peer'), diagnostics, new Set(profiles.map((p) => p.name)));
  top.finish();

  if (!gatewayBlock) {
    diagnostics.error({ file: order[0] ?? context.source, line: 1, column: 1 }, 'missing required block "gateway"');
  }
  const gateway = gatewayBlock ? decodeGateway(labelless(gatewayBlock, diagnostics), diagnostics, context.baseDir) : undefined;
  const defaults = decodeDefaults(defaultsBlocks[0] && labelless(defaultsBlocks[0], diagnostics), diagnostics);

  if (gateway) checkPeerAddresses(peers, gateway, diagnostics);

  const sorted = diagnostics.sorted(order);
  if (sorted.length > 0 || !gateway) return { diagnostics: sorted };
  return {
    config: { source: context.source, files: order, gateway, defaults, peers, profiles },
    diagnostics: [],
  };
}

export async function loadConfigOrThrow(path: string): Promise<Config> {
  const result = await loadConfig(path);
  if (!result.config) throw new ConfigError(result.diagnostics);
  return result.config;
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
