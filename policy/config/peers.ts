/** `peer` and `profile` blocks (POLICY.md "peer and profile"). */
import { isIPv4 } from 'node:net';
import { BodyReader } from './body-reader.js';
import type { Diagnostics } from './diagnostics.js';
import type { HclBlock } from './hcl.js';
import type { PeerDecl, ProfileDecl } from './model.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const CREDENTIAL_KINDS = [
  'postgres_credential', 'bearer_token', 'header_token', 'basic_auth', 'mtls_credential', 'ssh_key', 'passthrough',
] as const;

function blockName(block: HclBlock, diagnostics: Diagnostics): string | undefined {
  if (block.labels.length !== 1) {
    diagnostics.error(block.pos, `"${block.type}" block needs exactly one label: ${block.type} "<name>" { }`);
    return undefined;
  }
  const { value, pos } = block.labels[0]!;
  if (!NAME.test(value)) {
    diagnostics.error(pos, `${block.type} name "${value}" must be 1-63 letters, digits, "-", "_" or "." (starting with a letter or digit)`);
    return undefined;
  }
  return value;
}

export function decodePeers(blocks: HclBlock[], diagnostics: Diagnostics, profiles: ReadonlySet<string>): PeerDecl[] {
  const peers: PeerDecl[] = [];
  const firstByName = new Map<string, HclBlock>();
  for (const block of blocks) {
    const name = blockName(block, diagnostics);
    if (name !== undefined) {
      const first = firstByName.get(name);
      if (first) {
        diagnostics.error(block.labels[0]!.pos, `peer "${name}" is declared twice (first at ${first.pos.file}:${first.pos.line}); names must be unique within a kind`);
        continue;
      }
      firstByName.set(name, block);
    }
    const what = `peer "${name ?? '?'}"`;
    const r = new BodyReader(block.body, diagnostics, what, block.pos);
    const key = r.stringValue('public_key');
    const addressText = r.stringValue('address');
    const profile = r.reference('profile', ['profile']);
    r.finish();
    if (profile && profile.name !== 'default' && !profiles.has(profile.name)) {
      diagnostics.error(profile.pos, `${what}: profile.${profile.name} is not declared`);
    }
    if (!key) diagnostics.error(block.pos, `${what}: missing required field "public_key"`);
    let publicKey: Uint8Array | undefined;
    if (key) {
      publicKey = decodeKey(key.value);
      if (!publicKey) diagnostics.error(key.attribute.value.pos, `${what}: "public_key" must be a base64 WireGuard key (44 characters)`);
    }
    let address: string | undefined;
    if (addressText) {
      if (isIPv4(addressText.value)) {
        address = addressText.value;
      } else {
        diagnostics.error(addressText.attribute.value.pos, `${what}: "address" must be an IPv4 address inside subnet_cidr`);
      }
    }
    if (!name || !publicKey || !key) continue;
    const sameKey = peers.find((p) => p.publicKeyText === key.value);
    if (sameKey) {
      diagnostics.error(key.attribute.value.pos, `${what}: public_key is already used by peer "${sameKey.name}"`);
      continue;
    }
    peers.push({
      name,
      publicKey,
      publicKeyText: key.value,
      ...(address ? { address } : {}),
      profile: profile?.name ?? 'default',
      pos: block.pos,
    });
  }
  return peers;
}

export function decodeProfiles(blocks: HclBlock[], diagnostics: Diagnostics): ProfileDecl[] {
  const profiles: ProfileDecl[] = [];
  for (const block of blocks) {
    const name = blockName(block, diagnostics);
    const r = new BodyReader(block.body, diagnostics, `profile "${name ?? '?'}"`, block.pos);
    const credentials = r.referenceList('credentials', CREDENTIAL_KINDS) ?? [];
    r.finish();
    if (!name) continue;
    const duplicate = profiles.find((p) => p.name === name);
    if (duplicate) {
      diagnostics.error(block.labels[0]!.pos, `profile "${name}" is declared twice (first at ${duplicate.pos.file}:${duplicate.pos.line}); names must be unique within a kind`);
      continue;
    }
    for (const ref of credentials) {
      // Credential blocks arrive with the policy engine; until then every reference is undeclared.
      diagnostics.error(ref.pos, `profile "${name}": ${ref.kind}.${ref.name} is not declared`);
    }
    profiles.push({ name, credentials: credentials.map((c) => `${c.kind}.${c.name}`), pos: block.pos });
  }
  return profiles;
}

/** Strict base64 of exactly 32 bytes. */
export function decodeKey(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9+/]{43}=$/.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length !== 32 || bytes.toString('base64') !== text) return undefined;
  return new Uint8Array(bytes);
}
