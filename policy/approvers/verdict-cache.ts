/**
 * Verdict cache of an llm_approver (`cache_ttl`; REFERENCE §2.8: theirs parsed it and did
 * nothing). The same request under the same policy and model gets the same verdict without a
 * call. Only real model verdicts are cached, never timeouts or errors. Bounded: least recently
 * used entries go first, so an agent varying its requests cannot grow memory without limit.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../audit/canonical-json.js';
import type { JsonObject, JsonValue } from '../audit/record.js';
import type { ApprovalRequest } from './types.js';

export interface CachedVerdict {
  decision: 'allow' | 'deny';
  reason: string;
}

/** Facts that differ between identical requests and would make every key unique. */
const VOLATILE_FACTS = new Set(['now']);

export function verdictCacheKey(parts: { approver: string; model: string; policy: string; request: ApprovalRequest }): string {
  const { request } = parts;
  const facts: JsonObject = {};
  for (const [key, value] of Object.entries(request.facts)) if (!VOLATILE_FACTS.has(key)) facts[key] = value;
  // The request id is volatile; every other field can change what the model is told.
  const stable: JsonValue = {
    approver: parts.approver,
    model: parts.model,
    policy: parts.policy,
    request: {
      peer: request.peer,
      profile: request.profile,
      endpoint: request.endpoint,
      rule: request.rule,
      reason: request.reason,
      family: request.family,
      facts,
      summary: request.summary,
      credential: request.credential ?? '',
    },
  };
  return createHash('sha256').update(canonicalJson(stable)).digest('hex');
}

export class VerdictCache {
  readonly #entries = new Map<string, { verdict: CachedVerdict; expiresAt: number }>();

  constructor(readonly ttlMs: number, readonly maxEntries: number, readonly now: () => number = Date.now) {}

  get enabled(): boolean {
    return this.ttlMs > 0 && this.maxEntries > 0;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string): CachedVerdict | undefined {
    if (!this.enabled) return undefined;
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    // Re-insert: Map order is the LRU order.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.verdict;
  }

  set(key: string, verdict: CachedVerdict): void {
    if (!this.enabled) return;
    this.#entries.delete(key);
    this.#entries.set(key, { verdict, expiresAt: this.now() + this.ttlMs });
    while (this.#entries.size > this.maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
  }
}
