/** `approver "llm_approver" | "human_approver" "<name>"` blocks (POLICY.md "approver"). */
import { BodyReader } from './body-reader.js';
import type { Diagnostics } from './diagnostics.js';
import type { HclBlock } from './hcl.js';
import type { ApproverDecl, DefaultsConfig, HumanApproverDecl, LlmApproverDecl } from './model.js';
import { claimName, typedBlockLabels } from './names.js';
import { implicitSecretEnv } from './credentials.js';

export const APPROVER_TYPES = ['llm_approver', 'human_approver'] as const;
export const DEFAULT_LLM_TIMEOUT_MS = 20_000;
export const DEFAULT_LLM_CONCURRENCY = 4;

const PROVIDER_URL: Record<LlmApproverDecl['provider'], string> = {
  ollama: 'http://127.0.0.1:11434',
  openai: 'https://api.openai.com/v1',
  anthropic: 'https://api.anthropic.com',
};

/** Claw Patrol picks the provider from the model name; we do the same when `provider` is absent and a credential is given. */
function inferProvider(model: string | undefined, hasCredential: boolean): LlmApproverDecl['provider'] {
  if (!hasCredential || !model) return 'ollama';
  if (model.startsWith('claude')) return 'anthropic';
  if (model.startsWith('gpt') || /^o\d/.test(model)) return 'openai';
  return 'ollama';
}

export function decodeApprovers(blocks: HclBlock[], diagnostics: Diagnostics, defaults: DefaultsConfig, declared: Set<string> = new Set()): ApproverDecl[] {
  const out: ApproverDecl[] = [];
  const seen = new Map<string, HclBlock>();
  for (const block of blocks) {
    const labels = typedBlockLabels(block, diagnostics, APPROVER_TYPES);
    if (!labels) continue;
    const ref = `${labels.type}.${labels.name}`;
    if (!claimName(seen, declared, ref, block, 'approver', diagnostics)) continue;
    const r = new BodyReader(block.body, diagnostics, `approver ${ref}`, block.pos);
    const decoded = labels.type === 'llm_approver'
      ? decodeLlm(r, labels.name, ref, block, defaults)
      : decodeHuman(r, labels.name, ref, block, defaults);
    r.finish();
    if (decoded) out.push(decoded);
  }
  return out;
}

function decodeLlm(r: BodyReader, name: string, ref: string, block: HclBlock, defaults: DefaultsConfig): LlmApproverDecl | undefined {
  const credential = r.reference('credential', ['bearer_token', 'header_token']);
  const model = r.string('model', { required: true });
  const provider = (r.string('provider', { oneOf: ['ollama', 'openai', 'anthropic'] }) ?? inferProvider(model, Boolean(credential))) as LlmApproverDecl['provider'];
  const urlText = r.string('url') ?? PROVIDER_URL[provider];
  let url: string | undefined;
  try {
    const parsed = new URL(urlText);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('scheme');
    url = urlText.replace(/\/+$/, '');
  } catch {
    r.diagnostics.error(r.attribute('url')?.value.pos ?? block.pos, `approver ${ref}: "url" must be an http(s) URL`);
  }
  const policy = r.string('policy') ?? '';
  const timeoutMs = r.durationOrSeconds('timeout') ?? DEFAULT_LLM_TIMEOUT_MS;
  const cacheTtlMs = r.durationOrSeconds('cache_ttl') ?? defaults.llmCacheTtlMs;
  const maxConcurrency = r.integer('max_concurrency', { min: 1, max: 256 }) ?? DEFAULT_LLM_CONCURRENCY;
  const apiKey = r.secret('api_key');
  if (timeoutMs === 0) r.diagnostics.error(r.attribute('timeout')!.value.pos, `approver ${ref}: "timeout" must be more than zero`);
  if (model === undefined || url === undefined) return undefined;
  return {
    type: 'llm_approver', name, ref, provider, url, model, policy, timeoutMs, cacheTtlMs, maxConcurrency, pos: block.pos,
    ...(apiKey ? { apiKey } : {}),
    ...(credential ? { credential: `${credential.kind}.${credential.name}` } : {}),
  };
}

function decodeHuman(r: BodyReader, name: string, ref: string, block: HclBlock, defaults: DefaultsConfig): HumanApproverDecl | undefined {
  const channel = r.string('channel');
  // Claw Patrol files name only the channel (their tokens live elsewhere): the tokens then come
  // from BAILIFF_SECRET_<NAME>_BOT_TOKEN and _APP_TOKEN (Socket Mode), read when first used.
  const implicit = !r.has('bot_token') && channel !== undefined;
  const botToken = r.secret('bot_token') ?? (implicit ? { from: 'env' as const, name: implicitSecretEnv(name, 'bot_token'), pos: block.pos } : undefined);
  const signingSecret = r.secret('signing_secret');
  const appToken = r.secret('app_token') ?? (implicit && !signingSecret ? { from: 'env' as const, name: implicitSecretEnv(name, 'app_token'), pos: block.pos } : undefined);
  const approvers = r.stringList('approvers') ?? [];
  const requireApprovers = r.integer('require_approvers', { min: 1, max: 100 }) ?? 1;
  const timeoutMs = r.durationOrSeconds('timeout') ?? defaults.humanTimeoutMs;
  const message = r.string('message');
  r.bool('interactive'); // Claw Patrol: buttons vs a dashboard link; Bailiff always shows buttons
  for (const field of ['credential', 'classifier']) {
    const a = r.attribute(field);
    if (a) {
      const hint = field === 'credential'
        ? 'give Slack tokens directly: bot_token = env("SLACK_BOT_TOKEN"), app_token or signing_secret'
        : 'put an llm_approver before the human in the rule\'s approve list instead';
      r.diagnostics.error(a.pos, `approver ${ref}: "${field}" is not supported (${hint})`);
    }
  }
  if (botToken && !channel) r.diagnostics.error(block.pos, `approver ${ref}: "channel" is required with a Slack bot_token`);
  if ((channel || botToken) && !(botToken && (appToken || signingSecret))) {
    r.diagnostics.error(block.pos, `approver ${ref}: Slack needs bot_token plus app_token (Socket Mode) or signing_secret (HTTP mode)`);
  }
  if (approvers.length > 0 && requireApprovers > approvers.length) {
    r.diagnostics.error(r.attribute('require_approvers')!.value.pos, `approver ${ref}: require_approvers (${requireApprovers}) is more than the ${approvers.length} listed approvers`);
  }
  for (const id of approvers) {
    if (!/^[UW][A-Z0-9]{2,}$/.test(id)) {
      r.diagnostics.error(r.attribute('approvers')!.value.pos, `approver ${ref}: "${id}" is not a Slack user id (like U0123ABC)`);
    }
  }
  if (timeoutMs === 0) r.diagnostics.error(r.attribute('timeout')!.value.pos, `approver ${ref}: "timeout" must be more than zero`);
  return {
    type: 'human_approver', name, ref, approvers, requireApprovers, timeoutMs, pos: block.pos,
    ...(channel !== undefined ? { channel } : {}),
    ...(botToken ? { botToken } : {}),
    ...(appToken ? { appToken } : {}),
    ...(signingSecret ? { signingSecret } : {}),
    ...(message !== undefined ? { message } : {}),
  };
}
