/**
 * Anthropic Messages API (`anthropic-version: 2023-06-01`). The verdict is requested as a forced
 * tool call whose input schema is the verdict schema: the structured part of the answer is the
 * tool input, and free text the model might add beside it is ignored.
 */
import { VERDICT_SCHEMA } from '../llm-prompt.js';
import { httpError, joinUrl, postJson } from './http.js';
import { LlmCallError, type FetchLike, type LlmProvider, type ProviderCall } from './types.js';

export interface AnthropicProviderOptions {
  url: string;
  model: string;
  fetch?: FetchLike;
  maxTokens?: number;
}

export const ANTHROPIC_VERSION = '2023-06-01';
const TOOL_NAME = 'record_verdict';

export class AnthropicProvider implements LlmProvider {
  readonly kind = 'anthropic' as const;

  constructor(readonly options: AnthropicProviderOptions) {}

  async complete(call: ProviderCall): Promise<unknown> {
    // The default URL is the API root; an operator may also give one ending in /v1.
    const base = /\/v1\/?$/.test(this.options.url) ? this.options.url : joinUrl(this.options.url, 'v1');
    const response = await postJson(this.options.fetch ?? fetch, joinUrl(base, 'messages'), {
      model: this.options.model,
      max_tokens: this.options.maxTokens ?? 512,
      temperature: 0,
      system: call.system,
      messages: [{ role: 'user', content: call.user }],
      tools: [{ name: TOOL_NAME, description: 'Record the allow/deny verdict for the request.', input_schema: VERDICT_SCHEMA }],
      tool_choice: { type: 'tool', name: TOOL_NAME },
    }, { 'anthropic-version': ANTHROPIC_VERSION, ...call.headers }, call.signal);
    if (response.status < 200 || response.status >= 300) throw httpError('the Anthropic API', response);
    const content = (response.json as { content?: Array<{ type?: string; name?: string; input?: unknown }> } | undefined)?.content;
    const tool = Array.isArray(content) ? content.find((c) => c.type === 'tool_use' && c.name === TOOL_NAME) : undefined;
    if (!tool || tool.input === undefined) throw new LlmCallError('the answer has no verdict tool call', 'LLM_BAD_ANSWER');
    return tool.input;
  }
}
