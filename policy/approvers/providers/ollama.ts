/**
 * Ollama's /api/chat through the `ollama` client, with the verdict schema as `format` so the
 * model's output is constrained to it. ollama.abort() does not cancel non-streaming requests
 * (DEPENDENCY-NOTES §10), so every call gets its own client whose fetch carries the call's signal.
 */
import { Ollama } from 'ollama';
import { VERDICT_SCHEMA } from '../llm-prompt.js';
import { LlmCallError, type FetchLike, type LlmProvider, type ProviderCall } from './types.js';

export interface OllamaProviderOptions {
  url: string;
  model: string;
  fetch?: FetchLike;
}

export class OllamaProvider implements LlmProvider {
  readonly kind = 'ollama' as const;

  constructor(readonly options: OllamaProviderOptions) {}

  async complete(call: ProviderCall): Promise<unknown> {
    const base = this.options.fetch ?? fetch;
    const client = new Ollama({
      host: this.options.url,
      headers: call.headers,
      fetch: ((input: string | URL | Request, init?: RequestInit) => base(input, { ...init, signal: call.signal })) as typeof fetch,
    });
    let response;
    try {
      response = await client.chat({
        model: this.options.model,
        messages: [
          { role: 'system', content: call.system },
          { role: 'user', content: call.user },
        ],
        format: VERDICT_SCHEMA,
        stream: false,
        options: { temperature: 0 },
      });
    } catch (error) {
      const status = (error as { status_code?: number }).status_code;
      if (typeof status === 'number') {
        throw new LlmCallError(`ollama answered HTTP ${status}: ${String((error as Error).message).slice(0, 200)}`, 'LLM_HTTP_ERROR', status);
      }
      throw error;
    }
    const content = response?.message?.content;
    if (typeof content !== 'string') throw new LlmCallError('ollama answered without message content', 'LLM_BAD_ANSWER');
    return content;
  }
}
