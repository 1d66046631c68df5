/**
 * Awaitable messages from a stream during the handshakes (agent startup, upstream
 * authentication), where the conversation is strictly request/answer. The parser is the
 * caller's: when the handshake is over, detach() stops listening and hands back whatever was
 * parsed but not yet read, and the session goes on with the same parser (no byte is lost).
 */
import type { Duplex } from 'node:stream';
import { PgCodecError } from '../../protocols/postgres/codec/index.js';

export class HandshakeError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

export class MessageReader<E> {
  readonly #stream: Duplex;
  readonly #parse: (chunk: Uint8Array) => E[];
  readonly #events: E[] = [];
  #failure: Error | undefined;
  #waiter: (() => void) | undefined;
  #attached = true;

  readonly #onData = (chunk: Buffer): void => {
    try {
      this.#events.push(...this.#parse(chunk));
    } catch (error) {
      if (error instanceof PgCodecError) {
        this.#events.push(...(error.before as E[]));
        this.#failure = new HandshakeError(error.code, error.message);
      } else {
        this.#failure = error as Error;
      }
    }
    this.#wake();
  };

  readonly #onEnd = (): void => {
    this.#failure ??= new HandshakeError('PG_PEER_CLOSED', 'the peer closed the connection');
    this.#wake();
  };

  readonly #onError = (error: Error): void => {
    this.#failure ??= new HandshakeError('PG_PEER_ERROR', error.message);
    this.#wake();
  };

  constructor(stream: Duplex, parse: (chunk: Uint8Array) => E[]) {
    this.#stream = stream;
    this.#parse = parse;
    stream.on('data', this.#onData);
    stream.on('end', this.#onEnd);
    stream.on('close', this.#onEnd);
    stream.on('error', this.#onError);
    stream.resume();
  }

  #wake(): void {
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.();
  }

  /** The next message; rejects when the stream ends or fails first, or `signal` aborts. */
  async next(signal?: AbortSignal): Promise<E> {
    for (;;) {
      if (this.#events.length) return this.#events.shift()!;
      if (this.#failure) throw this.#failure;
      if (signal?.aborted) throw new HandshakeError('PG_HANDSHAKE_TIMEOUT', 'handshake timed out');
      await new Promise<void>((resolve) => {
        this.#waiter = resolve;
        signal?.addEventListener('abort', () => this.#wake(), { once: true });
      });
    }
  }

  /** Stop listening; returns the messages parsed and not yet read. */
  detach(): E[] {
    if (this.#attached) {
      this.#attached = false;
      this.#stream.off('data', this.#onData);
      this.#stream.off('end', this.#onEnd);
      this.#stream.off('close', this.#onEnd);
      this.#stream.off('error', this.#onError);
    }
    return this.#events.splice(0);
  }
}
