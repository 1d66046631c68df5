/**
 * A bounded LRU of analyses keyed by statement text: agents (and pgbench) send the same text
 * again and again, and a parse costs tens of microseconds. Bounded by entry count and by an
 * estimate of retained characters, so a stream of huge distinct statements cannot grow it.
 * Cached analyses are deeply frozen: every caller shares them.
 */
import type { SqlAnalysis } from './sql-types.js';

export interface SqlCacheOptions {
  maxEntries?: number;
  /** Approximate cap on retained characters (statement texts and facts). */
  maxChars?: number;
}

export const DEFAULT_SQL_CACHE_ENTRIES = 10_000;
export const DEFAULT_SQL_CACHE_CHARS = 32 * 1024 * 1024;

export class SqlCache {
  private readonly map = new Map<string, { value: SqlAnalysis; size: number }>();
  private chars = 0;
  private readonly maxEntries: number;
  private readonly maxChars: number;
  hits = 0;
  misses = 0;
  readonly #options: SqlCacheOptions;
  #shapes: SqlCache | undefined;

  constructor(opts: SqlCacheOptions = {}) {
    this.#options = opts;
    this.maxEntries = Math.max(1, opts.maxEntries ?? DEFAULT_SQL_CACHE_ENTRIES);
    this.maxChars = Math.max(1, opts.maxChars ?? DEFAULT_SQL_CACHE_CHARS);
  }

  /** Analyses keyed by shape (sql-shape.ts), with the same bounds as this cache. */
  get shapes(): SqlCache {
    this.#shapes ??= new SqlCache(this.#options);
    return this.#shapes;
  }

  get size(): number {
    return this.map.size;
  }

  get(text: string): SqlAnalysis | undefined {
    const e = this.map.get(text);
    if (!e) {
      this.misses++;
      return undefined;
    }
    // Map keeps insertion order: re-inserting marks the entry most recently used.
    this.map.delete(text);
    this.map.set(text, e);
    this.hits++;
    return e.value;
  }

  set(text: string, value: SqlAnalysis): SqlAnalysis {
    const frozen = deepFreeze(value);
    const size = text.length + sizeOf(frozen);
    if (size > this.maxChars) return frozen; // would evict everything for one entry
    const old = this.map.get(text);
    if (old) {
      this.chars -= old.size;
      this.map.delete(text);
    }
    this.map.set(text, { value: frozen, size });
    this.chars += size;
    while (this.map.size > this.maxEntries || this.chars > this.maxChars) {
      const oldest = this.map.keys().next();
      if (oldest.done) break;
      this.chars -= this.map.get(oldest.value)!.size;
      this.map.delete(oldest.value);
    }
    return frozen;
  }

  clear(): void {
    this.map.clear();
    this.chars = 0;
    this.#shapes?.clear();
  }
}

function sizeOf(a: SqlAnalysis): number {
  if (!a.ok) return a.error.message.length + 64;
  let n = 0;
  for (const s of a.statements) {
    n += 64 + s.statement.length + s.verb.length + (s.program?.length ?? 0);
    for (const list of [s.tables, s.columns, s.functions]) for (const x of list) n += x.length + 8;
  }
  return n;
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
  }
  return v;
}
