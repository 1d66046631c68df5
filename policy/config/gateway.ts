/** The `gateway { }` and `defaults { }` blocks (POLICY.md "gateway", "defaults"). */
import { isAbsolute, resolve } from 'node:path';
import { BodyReader } from './body-reader.js';
import { formatCidrText, parseCidrText, type CidrText } from './cidr.js';
import type { Diagnostics } from './diagnostics.js';
import type { HclBlock } from './hcl.js';
import type { DefaultsConfig, GatewayConfig } from './model.js';

export const DEFAULT_SUBNET6 = 'fd62:6169:6c69:6666::/64';
export const DEFAULT_LISTEN_PORT = 51820;
export const DEFAULT_MTU = 1420;
export const DEFAULT_AUDIT_RETENTION_MS = 365 * 86_400_000;
export const DEFAULT_BODY_BUFFER = 1024 * 1024;

function retention(r: BodyReader, name: string): number | undefined {
  const v = r.attribute(name)?.value;
  if (v?.kind === 'string' && (v.value === '0' || v.value === 'off')) return 0;
  return r.durationOrSeconds(name);
}

const SIZE_UNITS: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };

/** Sizes as "512KiB", "1MiB" (binary units) or a number of bytes. */
function size(r: BodyReader, name: string): number | undefined {
  const a = r.attribute(name);
  if (!a) return undefined;
  if (a.value.kind === 'number' && Number.isInteger(a.value.value) && a.value.value > 0) return a.value.value;
  const m = a.value.kind === 'string' ? /^(\d+)\s*(B|KiB|MiB|GiB)$/.exec(a.value.value) : null;
  if (!m) {
    r.diagnostics.error(a.value.pos, `${r.what}: "${name}" must be a size like "512KiB" or "1MiB"`);
    return undefined;
  }
  return Number(m[1]) * SIZE_UNITS[m[2]!]!;
}

export function decodeGateway(block: HclBlock, diagnostics: Diagnostics, baseDir: string): GatewayConfig | undefined {
  const r = new BodyReader(block.body, diagnostics, 'gateway', block.pos);
  const stateDirText = r.string('state_dir') ?? './state';
  const dashboardListen = r.string('dashboard_listen') ?? '127.0.0.1:8080';
  if (!/^[^\s]+:\d{1,5}$/.test(dashboardListen)) {
    diagnostics.error(r.attribute('dashboard_listen')!.value.pos, 'gateway: "dashboard_listen" must be host:port');
  }
  const mode = (r.string('mode', { oneOf: ['enforce', 'shadow'] }) ?? 'enforce') as GatewayConfig['mode'];
  // Audit retention by age; Claw Patrol's `actions_keep` means the same. "0" or "off": keep forever.
  const retentionMs = retention(r, 'audit_retention') ?? retention(r, 'actions_keep') ?? DEFAULT_AUDIT_RETENTION_MS;
  // Where Slack's interactive callbacks arrive for human approvers in HTTP mode (signing_secret).
  const slackListen = r.string('slack_listen') ?? '127.0.0.1:3000';
  if (!/^[^\s]+:\d{1,5}$/.test(slackListen)) {
    diagnostics.error(r.attribute('slack_listen')!.value.pos, 'gateway: "slack_listen" must be host:port');
  }
  const publicUrl = r.string('public_url');
  let publicHost: string | undefined;
  if (publicUrl !== undefined) {
    try {
      publicHost = new URL(publicUrl).hostname.replace(/^\[|\]$/g, '');
    } catch {
      diagnostics.error(r.attribute('public_url')!.value.pos, 'gateway: "public_url" must be a URL like https://gw.example.com');
    }
  }
  // Accepted so Claw Patrol files load; they change nothing here (no dashboard sessions yet,
  // no telemetry is ever sent, the system resolver is used).
  r.durationOrSeconds('dashboard_session_ttl');
  r.bool('telemetry');
  r.string('resolver');
  r.bool('dashboard_config_writes');
  for (const unsupported of ['tailscale', 'genai_telemetry']) {
    for (const b of r.blocks(unsupported)) diagnostics.error(b.pos, `gateway: "${unsupported}" is not supported by Bailiff`);
  }
  const limitsBlock = r.singleBlock('limits');
  const wgBlock = r.singleBlock('wireguard');
  r.finish();
  let bodyBufferBytes = DEFAULT_BODY_BUFFER;
  if (limitsBlock) {
    const l = new BodyReader(limitsBlock.body, diagnostics, 'gateway.limits', limitsBlock.pos);
    bodyBufferBytes = size(l, 'body_buffer') ?? bodyBufferBytes;
    size(l, 'body_storage');
    l.finish();
  }
  if (!wgBlock) {
    diagnostics.error(block.pos, 'gateway: missing required block "wireguard"');
    return undefined;
  }
  const w = new BodyReader(wgBlock.body, diagnostics, 'gateway.wireguard', wgBlock.pos);
  const listenPort = w.integer('listen_port', { min: 1, max: 65535 }) ?? DEFAULT_LISTEN_PORT;
  const subnet = cidr(w, 'subnet_cidr', 4, true);
  const subnet6 = cidr(w, 'subnet6_cidr', 6, false) ?? parseCidrText(DEFAULT_SUBNET6)!;
  const endpoint = w.string('endpoint');
  if (endpoint !== undefined && !/^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):\d{1,5}$/.test(endpoint)) {
    diagnostics.error(w.attribute('endpoint')!.value.pos, 'gateway.wireguard: "endpoint" must be host:port (IPv6 as [addr]:port)');
  }
  const mtu = w.integer('mtu', { min: 1280, max: 9000 }) ?? DEFAULT_MTU;
  w.finish();
  if (subnet && subnet.prefixLength > 30) {
    diagnostics.error(w.attribute('subnet_cidr')!.value.pos, 'gateway.wireguard: "subnet_cidr" must leave room for peers (/30 or larger)');
  }
  if (subnet6 && subnet6.prefixLength > 120) {
    diagnostics.error(w.attribute('subnet6_cidr')!.value.pos, 'gateway.wireguard: "subnet6_cidr" must be /120 or larger');
  }
  if (!subnet) return undefined;
  return {
    stateDir: isAbsolute(stateDirText) ? stateDirText : resolve(baseDir, stateDirText),
    dashboardListen,
    mode,
    auditRetentionMs: retentionMs,
    slackListen,
    bodyBufferBytes,
    ...(publicHost ? { publicHost } : {}),
    wireguard: { listenPort, subnet: formatCidrText(subnet), subnet6: formatCidrText(subnet6), ...(endpoint ? { endpoint } : {}), mtu },
  };
}

function cidr(r: BodyReader, name: string, family: 4 | 6, required: boolean): CidrText | undefined {
  const found = r.stringValue(name);
  if (!found) {
    if (required) r.diagnostics.error(r.pos, `${r.what}: missing required field "${name}"`);
    return undefined;
  }
  const value = parseCidrText(found.value);
  if (value?.family === family) return value;
  r.diagnostics.error(found.attribute.value.pos, `${r.what}: "${name}" must be an IPv${family} CIDR like ${family === 4 ? '100.64.0.0/24' : 'fd00:1::/64'}`);
  return undefined;
}

export function decodeDefaults(block: HclBlock | undefined, diagnostics: Diagnostics): DefaultsConfig {
  const defaults: DefaultsConfig = { noMatch: 'deny', unknownHost: 'deny', llmFailMode: 'closed', humanTimeoutMs: 600_000, llmCacheTtlMs: 0 };
  if (!block) return defaults;
  const r = new BodyReader(block.body, diagnostics, 'defaults', block.pos);
  defaults.noMatch = (r.string('no_match', { oneOf: ['allow', 'deny'] }) ?? 'deny') as DefaultsConfig['noMatch'];
  defaults.unknownHost = (r.string('unknown_host', { oneOf: ['deny', 'passthrough'] }) ?? 'deny') as DefaultsConfig['unknownHost'];
  const failMode = r.stringValue('llm_fail_mode');
  if (failMode && failMode.value !== 'closed') {
    diagnostics.error(failMode.attribute.value.pos, 'defaults: "llm_fail_mode" can only be "closed" (an LLM error or timeout always denies)');
  }
  defaults.humanTimeoutMs = r.durationOrSeconds('human_timeout') ?? defaults.humanTimeoutMs;
  defaults.llmCacheTtlMs = r.durationOrSeconds('llm_cache_ttl') ?? defaults.llmCacheTtlMs;
  const onTimeout = r.stringValue('human_on_timeout');
  if (onTimeout && onTimeout.value !== 'deny') {
    diagnostics.error(onTimeout.attribute.value.pos, 'defaults: "human_on_timeout" can only be "deny" (an unanswered approval never allows)');
  }
  r.finish();
  return defaults;
}
