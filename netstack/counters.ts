/**
 * Named drop/event counters. Every malformed, unauthenticated or refused packet increments one,
 * so an operator can tell "nothing arrived" from "everything was dropped, and why".
 */
export class Counters {
  readonly #values = new Map<string, number>();

  inc(name: string, by = 1): void {
    this.#values.set(name, (this.#values.get(name) ?? 0) + by);
  }

  get(name: string): number {
    return this.#values.get(name) ?? 0;
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.#values].sort(([a], [b]) => a.localeCompare(b)));
  }
}
