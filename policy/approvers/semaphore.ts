/**
 * A counting semaphore with a bounded wait queue. A judge behind a local model serves a few
 * requests at a time; past the cap callers wait (the wait counts against their timeout because
 * they pass the same deadline signal), and past the queue bound they are refused at once.
 */
export class QueueFullError extends Error {
  readonly code = 'QUEUE_FULL';
}

interface Waiter {
  resolve: () => void;
  reject: (error: unknown) => void;
  signal: AbortSignal;
  onAbort: () => void;
}

export class Semaphore {
  #active = 0;
  readonly #waiters: Waiter[] = [];

  constructor(readonly limit: number, readonly maxQueue: number) {
    if (!(limit >= 1)) throw new RangeError('semaphore limit must be at least 1');
  }

  get active(): number {
    return this.#active;
  }

  get waiting(): number {
    return this.#waiters.length;
  }

  /** Resolves when a slot is held; rejects with the signal's reason on abort, QueueFullError when full. */
  acquire(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.#active < this.limit) {
      this.#active++;
      return Promise.resolve();
    }
    if (this.#waiters.length >= this.maxQueue) return Promise.reject(new QueueFullError(`${this.#waiters.length} callers already wait`));
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const at = this.#waiters.indexOf(waiter);
          if (at >= 0) this.#waiters.splice(at, 1);
          reject(signal.reason);
        },
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** Hands the slot to the next waiter, or frees it. */
  release(): void {
    const next = this.#waiters.shift();
    if (next) {
      next.signal.removeEventListener('abort', next.onAbort);
      next.resolve();
      return;
    }
    this.#active = Math.max(0, this.#active - 1);
  }
}
