/**
 * How follow() sleeps between reads: woken at once by an append committed in this process, and
 * otherwise by a poll timer, because the appliance writes from another process than
 * `bailiff audit --follow` and files have no cross-process notification that works everywhere.
 */
import type { EventEmitter } from 'node:events';

export const DEFAULT_POLL_MS = 250;

export function waitForAppend(events: EventEmitter, pollMs: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      events.off('commit', done);
      events.off('close', done);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, pollMs);
    events.on('commit', done);
    events.on('close', done);
    signal?.addEventListener('abort', done, { once: true });
  });
}
