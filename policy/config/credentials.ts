/**
 * `credential "<type>" "<name>"` blocks (POLICY.md "credential"). Secrets are references only:
 * `env("NAME")` / `file("path")`, or, when a block names none (as Claw Patrol files do), the
 * environment variable BAILIFF_SECRET_<NAME>. They are read when used, never at load, so
 * `bailiff validate` runs in CI without production secrets.
 */
import { BodyReader, type Reference } from './body-reader.js';
import type { Diagnostics } from './diagnostics.js';
import type { HclBlock } from './hcl.js';
import type { CredentialDecl, CredentialType, SecretRef } from './model.js';
import { claimName, typedBlockLabels } from './names.js';
import { ENDPOINT_TYPES } from './endpoints.js';

export const CREDENTIAL_TYPES: readonly CredentialType[] = [
  'postgres_credential', 'bearer_token', 'header_token', 'basic_auth', 'mtls_credential', 'ssh_key', 'passthrough',
];

const NOT_SUPPORTED: Record<string, string> = {
  cookie_token: 'use header_token with header = "Cookie" and prefix = "name="',
  anthropic_manual_key: 'use header_token with header = "x-api-key"',
  gemini_api_key: 'use header_token with header = "x-goog-api-key"',
  slack_tokens: 'give Slack tokens on the human_approver (bot_token, app_token, signing_secret)',
  clickhouse_credential: 'ClickHouse is not terminated yet',
  aws_credential: 'SigV4 re-signing is not implemented',
  google_gke_credential: 'use bearer_token with a token from your own minting job',
  tailscale_auth: 'tunnels are not supported yet',
};

/** The environment variable a credential's secret comes from when the block names none. */
export function implicitSecretEnv(name: string, slot?: string): string {
  const base = `BAILIFF_SECRET_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
  return slot ? `${base}_${slot.toUpperCase()}` : base;
}

export function decodeCredentials(blocks: HclBlock[], diagnostics: Diagnostics, declared: Set<string> = new Set()): { credentials: CredentialDecl[]; endpointRefs: Map<string, Reference[]> } {
  const credentials: CredentialDecl[] = [];
  const endpointRefs = new Map<string, Reference[]>();
  const seen = new Map<string, HclBlock>();
  for (const block of blocks) {
    const labels = typedBlockLabels(block, diagnostics, CREDENTIAL_TYPES, NOT_SUPPORTED);
    if (!labels) continue;
    const type = labels.type as CredentialType;
    const ref = `${type}.${labels.name}`;
    if (!claimName(seen, declared, ref, block, 'credential', diagnostics)) continue;
    const r = new BodyReader(block.body, diagnostics, `credential ${ref}`, block.pos);
    const single = r.reference('endpoint', ENDPOINT_TYPES);
    const many = r.referenceList('endpoints', ENDPOINT_TYPES);
    if (r.has('endpoint') && r.has('endpoints')) {
      diagnostics.error(block.pos, `credential ${ref}: set either "endpoint" or "endpoints", not both`);
    } else if (!r.has('endpoint') && !r.has('endpoints')) {
      diagnostics.error(block.pos, `credential ${ref}: missing "endpoint" (or "endpoints"): a credential binds itself to the endpoints it may be injected into`);
    }
    const refs = single ? [single] : many ?? [];
    const placeholder = r.string('placeholder');
    const description = r.string('description');
    const base = {
      name: labels.name,
      ref,
      endpoints: refs.map((e) => `${e.kind}.${e.name}`),
      pos: block.pos,
      ...(placeholder !== undefined ? { placeholder } : {}),
      ...(description !== undefined ? { description } : {}),
    };
    const secret = (field: string, slot?: string): SecretRef =>
      r.secret(field) ?? { from: 'env', name: implicitSecretEnv(labels.name, slot), pos: block.pos };
    let decoded: CredentialDecl | undefined;
    switch (type) {
      case 'postgres_credential': {
        const user = r.string('user', { required: true });
        const database = r.string('database');
        const password = r.secret('password');
        if (user !== undefined) {
          decoded = { ...base, type, user, ...(database !== undefined ? { database } : {}), ...(password ? { password } : {}) };
        }
        break;
      }
      case 'bearer_token':
        if (r.attribute('idempotency_key')) diagnostics.error(r.attribute('idempotency_key')!.pos, `credential ${ref}: "idempotency_key" is not supported`);
        decoded = { ...base, type, token: secret('token') };
        break;
      case 'header_token': {
        const header = r.string('header', { required: true });
        const prefix = r.string('prefix') ?? '';
        if (header !== undefined && !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(header)) {
          diagnostics.error(r.attribute('header')!.value.pos, `credential ${ref}: "header" must be an HTTP header name`);
        } else if (header !== undefined) {
          decoded = { ...base, type, header: header.toLowerCase(), prefix, token: secret('token') };
        }
        break;
      }
      case 'basic_auth': {
        const username = r.string('username', { required: true });
        if (username !== undefined) decoded = { ...base, type, username, password: secret('password') };
        break;
      }
      case 'mtls_credential': {
        const ca = r.secret('ca');
        decoded = { ...base, type, cert: secret('cert', 'cert'), key: secret('key', 'key'), ...(ca ? { ca } : {}) };
        break;
      }
      case 'ssh_key': {
        const user = r.string('user');
        const privateKey = r.secret('private_key');
        const passphrase = r.secret('passphrase');
        const password = r.secret('password');
        decoded = {
          ...base,
          type,
          ...(user !== undefined ? { user } : {}),
          ...(privateKey || !password ? { privateKey: privateKey ?? { from: 'env', name: implicitSecretEnv(labels.name, 'private_key'), pos: block.pos } } : {}),
          ...(passphrase ? { passphrase } : {}),
          ...(password ? { password } : {}),
        };
        break;
      }
      case 'passthrough':
        decoded = { ...base, type };
        break;
    }
    r.finish();
    if (decoded) {
      credentials.push(decoded);
      endpointRefs.set(ref, refs);
    }
  }
  return { credentials, endpointRefs };
}
