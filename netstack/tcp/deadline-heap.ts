/**
 * A binary min-heap of timer deadlines, one scheduler for every connection's timers. Entries
 * are lazy: an item is pushed only when its deadline moves earlier than its scheduled entry;
 * when an entry comes due the owner recomputes its real deadline and re-arms. So each item has
 * few entries in the heap however often its timers change (every ACK moves the RTO).
 */

export interface Scheduled {
  /** The time of this item's live heap entry, or undefined when it has none. */
  heapAt: number | undefined;
  /** The item's real next deadline (Infinity when none). */
  deadline(): number;
}

export class DeadlineHeap<T extends Scheduled> {
  readonly #at: number[] = [];
  readonly #items: T[] = [];

  get size(): number { return this.#at.length; }

  /** Makes sure `item` is woken at or before `at`. */
  schedule(item: T, at: number): void {
    if (!Number.isFinite(at)) return;
    if (item.heapAt !== undefined && item.heapAt <= at) return;
    item.heapAt = at;
    this.#push(at, item);
  }

  /**
   * The earliest deadline of any item. Stale entries on top are dropped, and an entry whose
   * item's deadline moved later is re-armed at the real time, so the answer is exact.
   */
  peek(): number | undefined {
    while (this.#at.length > 0) {
      const item = this.#items[0]!;
      const at = this.#at[0]!;
      if (item.heapAt !== at) { this.#pop(); continue; }
      const real = item.deadline();
      if (real <= at) return at;
      this.#pop();
      item.heapAt = undefined;
      this.schedule(item, real);
    }
    return undefined;
  }

  /** Removes and returns the next item due at or before `now` (its heapAt cleared), or undefined. */
  popDue(now: number): T | undefined {
    for (;;) {
      const at = this.peek();
      if (at === undefined || at > now) return undefined;
      const item = this.#pop();
      item.heapAt = undefined;
      return item;
    }
  }

  #push(at: number, item: T): void {
    const a = this.#at;
    const it = this.#items;
    let i = a.length;
    a.push(at);
    it.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (a[parent]! <= at) break;
      a[i] = a[parent]!;
      it[i] = it[parent]!;
      i = parent;
    }
    a[i] = at;
    it[i] = item;
  }

  #pop(): T {
    const a = this.#at;
    const it = this.#items;
    const top = it[0]!;
    const lastAt = a.pop()!;
    const lastItem = it.pop()!;
    const n = a.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && a[r]! < a[l]! ? r : l;
        if (a[c]! >= lastAt) break;
        a[i] = a[c]!;
        it[i] = it[c]!;
        i = c;
      }
      a[i] = lastAt;
      it[i] = lastItem;
    }
    return top;
  }
}
