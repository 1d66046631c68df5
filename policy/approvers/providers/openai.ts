/**
 * Any OpenAI-compatible chat completions server (OpenAI, vLLM, llama.cpp server, LiteLLM...):
 * POST {url}/chat/completions asking for the verdict schema as structured output. Servers that
 * reject `json_schema` get `json_object` instead; that is remembered, so later calls do not pay
 * for the refusal again. The answer is validated the same way either way.
 */
import { VERDICT_SCHEMA } from '../llm-prompt.js';
import { httpError, joinUrl, postJson, type JsonResponse } from './http.js';
import { LlmCallError, type FetchLike, type LlmProvider, type ProviderCall } from './types.js';

export interface OpenAiProviderOptions {
  url: string;
  model: string;
  fetch?: FetchLike;
}

type Format = 'json_schema' | 'json_object';

export class OpenAiProvider implements LlmProvider {
  readonly kind = 'openai' as const;
  #format: Format = 'json_schema';

  constructor(readonly options: OpenAiProviderOptions) {}

  async complete(call: ProviderCall): Promise<unknown> {
    let response = await this.#post(call, this.#format);
    if (this.#format === 'json_schema' && rejectsSchema(response)) {
      this.#format = 'json_object';
      response = await this.#post(call, 'json_object');
    }
    if (response.status < 200 || response.status >= 300) throw httpError('the chat completions server', response);
    const message = (response.json as { choices?: Array<{ message?: { content?: unknown; refusal?: unknown } }> } | undefined)?.choices?.[0]?.message;
    if (typeof message?.refusal === 'string' && message.refusal) throw new LlmCallError('the model refused to answer', 'LLM_BAD_ANSWER');
    if (typeof message?.content !== 'string') throw new LlmCallError('the answer has no message content', 'LLM_BAD_ANSWER');
    return message.content;
  }

  #post(call: ProviderCall, format: Format): Promise<JsonResponse> {
    const responseFormat = format === 'json_schema'
      ? { type: 'json_schema', json_schema: { name: 'bailiff_verdict', strict: true, schema: VERDICT_SCHEMA } }
      : { type: 'json_object' };
    return postJson(this.options.fetch ?? fetch, joinUrl(this.options.url, 'chat/completions'), {
      model: this.options.model,
      messages: [
        { role: 'system', content: call.system },
        { role: 'user', content: call.user },
      ],
      temperature: 0,
      response_format: responseFormat,
    }, call.headers, call.signal);
  }
}

/** A 400/422 that names the response format: the server does not do json_schema. */
function rejectsSchema(response: JsonResponse): boolean {
  return (response.status === 400 || response.status === 422) && /response_format|json_schema|schema/i.test(response.text);
}
