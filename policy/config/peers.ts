/** `peer` and `profile` blocks (POLICY.md "peer and profile"). */
import { isIPv4 } from 'node:net';
import { BodyReader, type Reference } from './body-reader.js';
import type { Diagnostics } from './diagnostics.js';
import type { HclBlock, HclValue } from './hcl.js';
import { singleLabelName } from './names.js';
import { CREDENTIAL_TYPES } from './credentials.js';
import type { PeerDecl, ProfileDecl, ProfileEntry } from './model.js';

export function decodePeers(blocks: HclBlock[], diagnostics: Diagnostics, profiles: ReadonlySet<string>): PeerDecl[] {
  const peers: PeerDecl[] = [];
  const firstByName = new Map<string, HclBlock>();
  for (const block of blocks) {
    const name = singleLabelName(block, diagnostics);
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

export interface PendingProfile {
  decl: ProfileDecl;
  refs: Reference[];
}

/**
 * `credentials = [ref, { credential = ref, user = "..." }, ...]`: the object form sets the
 * disambiguator for this profile (Claw Patrol's syntax), overriding the credential block's.
 */
export function decodeProfiles(blocks: HclBlock[], diagnostics: Diagnostics): PendingProfile[] {
  const profiles: PendingProfile[] = [];
  for (const block of blocks) {
    const name = singleLabelName(block, diagnostics);
    const what = `profile "${name ?? '?'}"`;
    const r = new BodyReader(block.body, diagnostics, what, block.pos);
    const attribute = r.attribute('credentials');
    r.bool('hitl_async_grants'); // Claw Patrol's async approvals: Bailiff always holds the request instead
    r.finish();
    const entries: ProfileEntry[] = [];
    const refs: Reference[] = [];
    if (attribute && attribute.value.kind !== 'list') {
      diagnostics.error(attribute.value.pos, `${what}: "credentials" must be a list of credential references`);
    }
    for (const item of attribute?.value.kind === 'list' ? attribute.value.items : []) {
      const entry = profileEntry(item, what, diagnostics);
      if (entry) {
        entries.push(entry.entry);
        refs.push(entry.ref);
      }
    }
    if (!name) continue;
    const duplicate = profiles.find((p) => p.decl.name === name);
    if (duplicate) {
      diagnostics.error(block.labels[0]!.pos, `profile "${name}" is declared twice (first at ${duplicate.decl.pos.file}:${duplicate.decl.pos.line}); names must be unique within a kind`);
      continue;
    }
    profiles.push({ decl: { name, credentials: entries, pos: block.pos }, refs });
  }
  return profiles;
}

function credentialRef(value: HclValue, what: string, diagnostics: Diagnostics): Reference | undefined {
  if (value.kind === 'traversal' && value.parts.length === 2 && (CREDENTIAL_TYPES as readonly string[]).includes(value.parts[0]!)) {
    return { kind: value.parts[0]!, name: value.parts[1]!, pos: value.pos };
  }
  diagnostics.error(value.pos, `${what}: credentials entries must be credential references like postgres_credential.<name>`);
  return undefined;
}

function profileEntry(item: HclValue, what: string, diagnostics: Diagnostics): { entry: ProfileEntry; ref: Reference } | undefined {
  if (item.kind !== 'object') {
    const ref = credentialRef(item, what, diagnostics);
    return ref && { entry: { credential: `${ref.kind}.${ref.name}` }, ref };
  }
  let ref: Reference | undefined;
  const entry: Partial<ProfileEntry> = {};
  for (const { key, keyPos, value } of item.entries) {
    if (key === 'credential') {
      ref = credentialRef(value, what, diagnostics);
    } else if (key === 'user' || key === 'database' || key === 'placeholder') {
      if (value.kind !== 'string') diagnostics.error(value.pos, `${what}: "${key}" must be a string`);
      else entry[key] = value.value;
    } else {
      diagnostics.error(keyPos, `${what}: unknown field "${key}" in a credentials entry (expected credential, user, database or placeholder)`);
    }
  }
  if (!ref) {
    if (!item.entries.some((e) => e.key === 'credential')) diagnostics.error(item.pos, `${what}: a credentials entry object needs "credential = <ref>"`);
    return undefined;
  }
  return { entry: { ...entry, credential: `${ref.kind}.${ref.name}` }, ref };
}

/** Strict base64 of 32 bytes (the policy layer does not import the WireGuard key code). */
function decodeKey(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9+/]{43}=$/.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length !== 32 || bytes.toString('base64') !== text) return undefined;
  return new Uint8Array(bytes);
}
