/**
 * Per-source-address token bucket for handshakes under load (whitepaper §5.3: once mac2 proves
 * the address is real, "classical IP rate limiting" applies). Rates as wireguard-go: 20 per
 * second, bursts of 5. The table is bounded; stale entries are swept when it fills.
 */
const PACKETS_PER_SECOND = 20;
const PACKETS_BURSTABLE = 5;
const MAX_SOURCES = 16_384;
const STALE_AFTER = 1_000;

interface Bucket { tokens: number; updatedAt: number }

export class SourceRateLimiter {
  readonly #buckets = new Map<string, Bucket>();

  allow(now: number, address: string): boolean {
    let bucket = this.#buckets.get(address);
    if (bucket === undefined) {
      if (this.#buckets.size >= MAX_SOURCES) this.#sweep(now);
      if (this.#buckets.size >= MAX_SOURCES) return false; // full of live sources: fail closed
      bucket = { tokens: PACKETS_BURSTABLE, updatedAt: now };
      this.#buckets.set(address, bucket);
    }
    bucket.tokens = Math.min(PACKETS_BURSTABLE, bucket.tokens + ((now - bucket.updatedAt) * PACKETS_PER_SECOND) / 1000);
    bucket.updatedAt = now;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  #sweep(now: number): void {
    for (const [address, bucket] of this.#buckets) {
      if (now - bucket.updatedAt >= STALE_AFTER) this.#buckets.delete(address);
    }
  }
}
