/**
 * Cancel keys (PostgreSQL docs, "Canceling Requests in Progress"). The agent gets a fake
 * BackendKeyData, never the upstream's: the real key would let anyone who learns it cancel
 * statements on the server directly, around the appliance. A CancelRequest carrying a fake key
 * is mapped back to its session, which cancels a pending approval or sends the real key upstream.
 */
import { randomBytes } from 'node:crypto';

export interface Cancellable {
  /** The peer that owns the session: only it may cancel (keys are random, this is depth). */
  readonly peerName: string;
  /** Abandons what the session waits for; returns the upstream's real key when it should be cancelled too. */
  cancel(): { processId: number; secretKey: Uint8Array } | undefined;
}

export interface FakeKey {
  processId: number;
  secretKey: Uint8Array;
}

const keyOf = (processId: number, secretKey: Uint8Array): string => `${processId >>> 0}:${Buffer.from(secretKey).toString('hex')}`;

export class CancelRegistry {
  readonly #sessions = new Map<string, Cancellable>();

  /** A fresh key for a session; `release()` forgets it when the session ends. */
  register(session: Cancellable): { key: FakeKey; release: () => void } {
    for (;;) {
      const bytes = randomBytes(8);
      // A positive 31-bit "process id", like a real pid, so clients that print it are not confused.
      const processId = bytes.readUInt32BE(0) & 0x7fffffff || 1;
      const secretKey = new Uint8Array(bytes.subarray(4, 8));
      const k = keyOf(processId, secretKey);
      if (this.#sessions.has(k)) continue;
      this.#sessions.set(k, session);
      return { key: { processId, secretKey }, release: () => this.#sessions.delete(k) };
    }
  }

  /** Finds the session of a CancelRequest; undefined for unknown keys or another peer's session. */
  lookup(processId: number, secretKey: Uint8Array, peerName: string): Cancellable | undefined {
    const session = this.#sessions.get(keyOf(processId, secretKey));
    return session && session.peerName === peerName ? session : undefined;
  }

  get size(): number {
    return this.#sessions.size;
  }
}
