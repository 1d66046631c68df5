/** POST a JSON body and read a capped JSON answer; shared by the OpenAI and Anthropic providers. */
import { LlmCallError, type FetchLike } from './types.js';

/** A verdict is tiny; a huge body is a misbehaving server, not an answer worth buffering. */
const MAX_RESPONSE_BYTES = 1024 * 1024;

export interface JsonResponse {
  status: number;
  text: string;
  json: unknown;
}

export async function postJson(fetchImpl: FetchLike, url: string, body: unknown, headers: Record<string, string>, signal: AbortSignal): Promise<JsonResponse> {
  const response = await fetchImpl(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
    body: JSON.stringify(body),
    signal,
  });
  const text = await readCapped(response);
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.status, text, json };
}

async function readCapped(response: Response): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_RESPONSE_BYTES) {
      await reader.cancel().catch(() => {});
      throw new LlmCallError(`the model server answered more than ${MAX_RESPONSE_BYTES} bytes`, 'LLM_HTTP_ERROR', response.status);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Status plus the start of the server's error text, without echoing large or binary bodies. */
export function httpError(what: string, response: JsonResponse): LlmCallError {
  const detail = response.text.replace(/\s+/g, ' ').slice(0, 200);
  return new LlmCallError(`${what} answered HTTP ${response.status}${detail ? `: ${detail}` : ''}`, 'LLM_HTTP_ERROR', response.status);
}

/** `https://api.openai.com/v1` + `chat/completions`, tolerant of a trailing slash. */
export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}
