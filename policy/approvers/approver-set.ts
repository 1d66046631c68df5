/**
 * The approvers of one loaded policy, built from its `approver` blocks: what a rule's
 * `approve = [...]` list resolves to. Built with the policy and swapped with it on reload;
 * start() brings up Slack, stop() takes it down. Pending approvals live in a store the
 * appliance owns across reloads, so a reload never loses or silently decides a held request.
 */
import type { Config, HumanApproverDecl, LlmApproverDecl } from '../config/model.js';
import { describeSecret, readSecret } from '../secrets.js';
import type { BreakerOptions } from './breaker.js';
import { runApprovalChain } from './chain.js';
import { ApprovalCode } from './codes.js';
import { HumanApprover, type HumanNotifier } from './human.js';
import { LlmApprover } from './llm.js';
import { llmAuthHeaders, type SecretContext } from './llm-auth.js';
import type { PendingApprovals } from './pending.js';
import { AnthropicProvider } from './providers/anthropic.js';
import { OllamaProvider } from './providers/ollama.js';
import { OpenAiProvider } from './providers/openai.js';
import type { FetchLike, LlmProvider } from './providers/types.js';
import { SlackApp, type ListenAddress } from './slack.js';
import { silentLogger, type ApprovalRequest, type Approver, type ApproverLogger, type ChainResult, type StageDecision } from './types.js';

export interface SlackSettings {
  /** HTTP mode: where Bolt listens for Slack's interactivity requests (`/slack/events`). */
  listen?: ListenAddress;
  /** Slack Web API base (tests: a local mock). */
  slackApiUrl?: string;
  botId?: string;
  botUserId?: string;
}

export interface ApproverSetOptions {
  store: PendingApprovals;
  /** Resolves relative `file()` secrets: the policy file's folder. */
  baseDir: string;
  env?: NodeJS.ProcessEnv;
  slack?: SlackSettings;
  fetch?: FetchLike;
  /** Clock of LLM caches and breakers. */
  now?: () => number;
  breaker?: BreakerOptions;
  logger?: ApproverLogger;
}

interface SlackGroup {
  decls: HumanApproverDecl[];
  app?: SlackApp;
}

export class ApproverSet {
  readonly #approvers = new Map<string, Approver>();
  readonly #groups: SlackGroup[] = [];
  readonly #options: ApproverSetOptions;
  readonly #logger: ApproverLogger;

  private constructor(options: ApproverSetOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
  }

  static fromConfig(config: Config, options: ApproverSetOptions): ApproverSet {
    const set = new ApproverSet(options);
    const secrets: SecretContext = { baseDir: options.baseDir, ...(options.env ? { env: options.env } : {}) };
    const groups = new Map<string, SlackGroup>();
    for (const decl of config.approvers) {
      if (decl.type === 'llm_approver') {
        set.#approvers.set(decl.ref, set.#llm(decl, config, secrets));
        continue;
      }
      let group: SlackGroup | undefined;
      if (decl.botToken && decl.channel && (decl.appToken || decl.signingSecret)) {
        // Same tokens = same Slack app = one Bolt app and one interactivity endpoint.
        const key = [decl.botToken, decl.appToken, decl.signingSecret].map((s) => (s ? describeSecret(s) : '')).join('|');
        group = groups.get(key);
        if (!group) {
          group = { decls: [] };
          groups.set(key, group);
          set.#groups.push(group);
        }
        group.decls.push(decl);
      }
      const notifier = group ? lazyNotifier(group, decl) : undefined;
      set.#approvers.set(decl.ref, new HumanApprover(
        { name: decl.ref, timeoutMs: decl.timeoutMs, requireApprovers: decl.requireApprovers, approvers: decl.approvers },
        { store: options.store, ...(notifier ? { notifier } : {}), logger: set.#logger },
      ));
    }
    return set;
  }

  get(ref: string): Approver | undefined {
    return this.#approvers.get(ref);
  }

  /** The stages of an `approve` list; a name the policy does not declare is a stage that denies. */
  stages(refs: readonly string[]): Approver[] {
    return refs.map((ref) => this.#approvers.get(ref) ?? unknownApprover(ref));
  }

  /** Runs the chain of an `approve` list (chain.ts) with this policy's approvers. */
  run(request: ApprovalRequest, refs: readonly string[], signal: AbortSignal): Promise<ChainResult> {
    return runApprovalChain(request, this.stages(refs), signal);
  }

  /** Slack apps in HTTP mode and where they listen (for logs and tests). */
  slackAddresses(): ListenAddress[] {
    return this.#groups.flatMap((g) => (g.app?.address ? [g.app.address] : []));
  }

  /**
   * Starts the Slack apps. Never throws: a Slack app that cannot start is reported, and its
   * approvers still hold requests, decidable from the API and CLI until they time out.
   */
  async start(): Promise<string[]> {
    const problems: string[] = [];
    let httpListenTaken = false;
    const secrets: SecretContext = { baseDir: this.#options.baseDir, ...(this.#options.env ? { env: this.#options.env } : {}) };
    for (const group of this.#groups) {
      const decl = group.decls[0]!;
      const names = group.decls.map((d) => d.ref).join(', ');
      try {
        const botToken = readSecret(decl.botToken!, secrets);
        const appToken = decl.appToken ? readSecret(decl.appToken, secrets) : undefined;
        const signingSecret = !appToken && decl.signingSecret ? readSecret(decl.signingSecret, secrets) : undefined;
        const slack = this.#options.slack ?? {};
        if (!appToken) {
          if (!slack.listen) throw new Error('HTTP mode needs a listen address for Slack requests, or give an app_token for Socket Mode');
          if (httpListenTaken) throw new Error('only one Slack app in HTTP mode can listen; use Socket Mode (app_token) for the others');
          httpListenTaken = true;
        }
        const app = new SlackApp({
          botToken,
          ...(appToken ? { appToken } : {}),
          ...(signingSecret ? { signingSecret } : {}),
          ...(!appToken && slack.listen ? { listen: slack.listen } : {}),
          ...(slack.slackApiUrl ? { slackApiUrl: slack.slackApiUrl } : {}),
          ...(slack.botId ? { botId: slack.botId } : {}),
          ...(slack.botUserId ? { botUserId: slack.botUserId } : {}),
          store: this.#options.store,
          approvers: new Set(group.decls.map((d) => d.ref)),
          logger: this.#logger,
        });
        await app.start();
        group.app = app;
      } catch (error) {
        const message = `Slack for ${names} did not start: ${(error as Error)?.message ?? String(error)}; decide its approvals with bailiff approve|deny`;
        this.#logger.error(message);
        problems.push(message);
      }
    }
    return problems;
  }

  async stop(): Promise<void> {
    await Promise.all(this.#groups.map(async (g) => {
      const app = g.app;
      g.app = undefined;
      await app?.stop().catch((error: unknown) => this.#logger.warn('slack stop failed', { error: String(error) }));
    }));
  }

  #llm(decl: LlmApproverDecl, config: Config, secrets: SecretContext): Approver {
    let authHeaders: (() => Record<string, string>) | undefined;
    try {
      authHeaders = llmAuthHeaders(decl, config.credentials, secrets);
    } catch (error) {
      const reason = (error as Error).message;
      authHeaders = () => { throw new Error(reason); };
    }
    const o = this.#options;
    return new LlmApprover({
      name: decl.ref,
      model: decl.model,
      policy: decl.policy,
      timeoutMs: decl.timeoutMs,
      cacheTtlMs: decl.cacheTtlMs,
      maxConcurrency: decl.maxConcurrency,
      provider: provider(decl, o.fetch),
      ...(authHeaders ? { authHeaders } : {}),
      ...(o.breaker ? { breaker: o.breaker } : {}),
      ...(o.now ? { now: o.now } : {}),
    });
  }
}

export function provider(decl: Pick<LlmApproverDecl, 'provider' | 'url' | 'model'>, fetchImpl?: FetchLike): LlmProvider {
  const options = { url: decl.url, model: decl.model, ...(fetchImpl ? { fetch: fetchImpl } : {}) };
  switch (decl.provider) {
    case 'ollama': return new OllamaProvider(options);
    case 'openai': return new OpenAiProvider(options);
    case 'anthropic': return new AnthropicProvider(options);
  }
}

/** The group's app exists only after start(); until then (or if it failed) posting fails and is logged. */
function lazyNotifier(group: SlackGroup, decl: HumanApproverDecl): HumanNotifier {
  const options = decl.message ? { template: decl.message } : {};
  const current = (): HumanNotifier => {
    if (!group.app) throw new Error('Slack is not running for this approver');
    return group.app.notifier(decl.channel!, options);
  };
  return {
    post: async (view) => current().post(view),
    update: async (ref, view) => current().update(ref, view),
  };
}

function unknownApprover(ref: string): Approver {
  return {
    name: ref,
    kind: ref.startsWith('llm_approver.') ? 'llm_approver' : 'human_approver',
    decide: async (): Promise<StageDecision> => ({ verdict: 'error', code: ApprovalCode.UNKNOWN_APPROVER, reason: `approver ${ref} is not declared` }),
  };
}
