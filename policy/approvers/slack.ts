/**
 * Slack for human_approver, with @slack/bolt (DEPENDENCY-NOTES §9): one Bolt app per Slack app
 * (bot token + signing secret or app token); several human_approvers may share it, each
 * posting to its own channel.
 *
 * - Socket Mode when an app token is given (no inbound URL), else HTTP mode on a local
 *   address (`listen`), where Bolt checks the v0 signature and the 5-minute timestamp window.
 * - Buttons carry the approval id; a click is a vote in the pending store (pending.ts), which
 *   enforces the approver list and the quorum of distinct users. Refusals are ephemeral,
 *   seen only by the clicker.
 * - Bolt would call auth.test on the first event without bot ids (and fail offline), so the ids
 *   are given or fetched once at start, and token verification is off.
 */
import bolt from '@slack/bolt';
import type { BlockAction, ButtonAction, Logger as BoltLogger, RespondFn, types as slackTypes } from '@slack/bolt';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HumanNotifier } from './human.js';
import type { PendingApprovals, PendingView } from './pending.js';
import { approvalMessage, APPROVE_ACTION, DENY_ACTION, outcomeLine } from './slack-message.js';
import { silentLogger, type ApproverLogger } from './types.js';

const { App, LogLevel, webApi } = bolt;
type BoltApp = InstanceType<typeof App>;

export interface ListenAddress {
  host: string;
  port: number;
}

export interface SlackAppOptions {
  botToken: string;
  /** HTTP mode: requests are verified with it. */
  signingSecret?: string;
  /** Socket Mode; wins over signingSecret when both are given (no inbound URL to expose). */
  appToken?: string;
  /** HTTP mode listen address; port 0 picks a free one (tests). */
  listen?: ListenAddress;
  /** Slack Web API base, e.g. `http://127.0.0.1:PORT/api/` for an offline mock. */
  slackApiUrl?: string;
  botId?: string;
  botUserId?: string;
  store: PendingApprovals;
  /** Approvers (`human_approver.x`) whose pending entries clicks on this app may decide. */
  approvers: ReadonlySet<string>;
  logger?: ApproverLogger;
}

export interface SlackMessageRef {
  channel: string;
  ts: string;
}

export class SlackApp {
  readonly #options: SlackAppOptions;
  readonly #logger: ApproverLogger;
  #app: BoltApp | undefined;
  #address: ListenAddress | undefined;

  constructor(options: SlackAppOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
  }

  get mode(): 'socket' | 'http' {
    return this.#options.appToken ? 'socket' : 'http';
  }

  /** HTTP mode: where Slack's interactivity requests are received (`/slack/events`). */
  get address(): ListenAddress | undefined {
    return this.#address;
  }

  get started(): boolean {
    return this.#app !== undefined;
  }

  async start(): Promise<void> {
    if (this.#app) return;
    const o = this.#options;
    if (this.mode === 'http' && !o.signingSecret) throw new Error('Slack HTTP mode needs a signing secret');
    if (this.mode === 'http' && !o.listen) throw new Error('Slack HTTP mode needs a listen address');
    const clientOptions = {
      ...(o.slackApiUrl ? { slackApiUrl: o.slackApiUrl } : {}),
      // A page that arrives minutes late is useless; the default retries for half an hour.
      timeout: 10_000,
      retryConfig: { retries: 2, factor: 2, minTimeout: 500, maxTimeout: 2000 },
    };
    let { botId, botUserId } = o;
    if (!botId || !botUserId) {
      const auth = await new webApi.WebClient(o.botToken, clientOptions).auth.test();
      botId ??= auth.bot_id;
      botUserId ??= auth.user_id;
    }
    const app = new App({
      token: o.botToken,
      ...(botId ? { botId } : {}),
      ...(botUserId ? { botUserId } : {}),
      tokenVerificationEnabled: false,
      clientOptions,
      logger: boltLogger(this.#logger),
      logLevel: LogLevel.WARN,
      ...(this.mode === 'socket'
        ? { socketMode: true, appToken: o.appToken! }
        : { signingSecret: o.signingSecret! }),
    });
    app.action<BlockAction<ButtonAction>>(APPROVE_ACTION, async ({ ack, body, action, respond }) => {
      await ack();
      await this.#onClick('approve', body, action, respond);
    });
    app.action<BlockAction<ButtonAction>>(DENY_ACTION, async ({ ack, body, action, respond }) => {
      await ack();
      await this.#onClick('deny', body, action, respond);
    });
    app.error(async (error) => {
      this.#logger.warn('slack event failed', { error: String(error?.message ?? error) });
    });
    if (this.mode === 'socket') {
      await app.start();
    } else {
      const server = (await app.start({ port: o.listen!.port, host: o.listen!.host })) as Server;
      const bound = server.address() as AddressInfo | null;
      this.#address = { host: o.listen!.host, port: bound?.port ?? o.listen!.port };
    }
    this.#app = app;
  }

  async stop(): Promise<void> {
    const app = this.#app;
    this.#app = undefined;
    this.#address = undefined;
    if (app) await app.stop();
  }

  notifier(channel: string, options: { template?: string } = {}): HumanNotifier {
    return {
      post: async (view) => {
        const message = approvalMessage(view, options);
        const response = await this.#client().chat.postMessage({ channel, text: message.text, blocks: slackBlocks(message.blocks), unfurl_links: false, unfurl_media: false });
        if (!response.ok || !response.ts || !response.channel) throw new Error(`chat.postMessage failed: ${response.error ?? 'no ts'}`);
        return { channel: response.channel, ts: response.ts } satisfies SlackMessageRef;
      },
      update: async (ref, view) => {
        const { channel: id, ts } = ref as SlackMessageRef;
        const message = approvalMessage(view, options);
        await this.#client().chat.update({ channel: id, ts, text: message.text, blocks: slackBlocks(message.blocks) });
      },
    };
  }

  #client(): BoltApp['client'] {
    if (!this.#app) throw new Error('the Slack app is not started');
    return this.#app.client;
  }

  async #onClick(verdict: 'approve' | 'deny', body: BlockAction<ButtonAction>, action: ButtonAction, respond: RespondFn): Promise<void> {
    const id = action.value ?? '';
    const user = body.user?.id ?? '';
    const tell = async (text: string): Promise<void> => {
      try {
        await respond({ response_type: 'ephemeral', replace_original: false, text });
      } catch (error) {
        this.#logger.warn('slack ephemeral reply failed', { error: String((error as Error)?.message ?? error) });
      }
    };
    const view = this.#options.store.get(id);
    // An id from another Slack app's message (or a forged value) is treated like an unknown one.
    if (!view || !this.#options.approvers.has(view.approver) || !user) {
      await tell('This approval is not pending here (unknown, or decided long ago).');
      return;
    }
    const result = this.#options.store.vote(id, { by: user, verdict });
    switch (result.kind) {
      case 'not_allowed':
        await tell(`You are not on the approver list of ${view.approver}; your click was not counted.`);
        return;
      case 'already_decided':
        await tell(`Already decided. ${plainOutcome(result.view)}`);
        return;
      case 'duplicate':
        await tell(`You already approved (${result.approvals} of ${result.required}); another approver must approve too.`);
        return;
      case 'recorded':
        await tell(`Your approval is recorded (${result.approvals} of ${result.required}).`);
        return;
      case 'unknown':
        await tell('This approval is not pending here (unknown, or decided long ago).');
        return;
      case 'decided':
        // The message itself is updated by the human approver when the stage ends.
        return;
    }
  }
}

function plainOutcome(view: PendingView): string {
  return outcomeLine(view).replace(/^:[a-z_]+: /, '');
}

function boltLogger(logger: ApproverLogger): BoltLogger {
  let level = LogLevel.WARN;
  const text = (args: unknown[]): string => args.map((a) => (a instanceof Error ? a.message : typeof a === 'string' ? a : JSON.stringify(a))).join(' ');
  return {
    debug: () => {},
    info: () => {},
    warn: (...args: unknown[]) => logger.warn(`slack: ${text(args)}`),
    error: (...args: unknown[]) => logger.error(`slack: ${text(args)}`),
    setLevel: (l) => { level = l; },
    getLevel: () => level,
    setName: () => {},
  };
}

/** Our builder emits plain objects in Block Kit's shape; the Web API typings want their union. */
function slackBlocks(blocks: readonly Record<string, unknown>[]): slackTypes.KnownBlock[] {
  return blocks as unknown as slackTypes.KnownBlock[];
}
