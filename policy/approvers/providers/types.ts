/** The one thing a model provider does for a judge: answer one prompt, within a signal. */
export interface ProviderCall {
  system: string;
  user: string;
  /** Aborts on the judge's deadline or when the request is cancelled. */
  signal: AbortSignal;
  /** Authentication headers (API key, credential), already resolved. */
  headers: Record<string, string>;
}

export interface LlmProvider {
  readonly kind: 'ollama' | 'openai' | 'anthropic';
  /** The verdict as text (JSON to parse) or an already-structured object (tool input). */
  complete(call: ProviderCall): Promise<unknown>;
}

export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** An answer that came back but is not usable: an HTTP error, a refusal, no content. */
export class LlmCallError extends Error {
  constructor(message: string, readonly code: 'LLM_HTTP_ERROR' | 'LLM_BAD_ANSWER', readonly status?: number) {
    super(message);
  }
}
