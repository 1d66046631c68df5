/**
 * A userspace TCP connection as a Node Duplex stream, so the appliance can pipe it to a socket
 * or hand it to a protocol handler. Backpressure is the TCP's own: reading stops when the
 * stream's consumer stops (the receive window then closes toward the agent), and a write that
 * does not fit the send buffer waits for the `writable` event (the upstream socket is paused).
 */
import { Duplex } from 'node:stream';
import type { TcpCloseReason, TcpConnection } from '../tcp/tcp-stack.js';

export interface FlowDriver {
  now(): number;
  /** Send what the connection calls made due (the stack's flush). */
  flush(): void;
}

export class FlowClosedError extends Error {
  constructor(readonly reason: TcpCloseReason) {
    super(`connection closed: ${reason}`);
  }

  get code(): string {
    return `TCP_${this.reason.toUpperCase().replace(/-/g, '_')}`;
  }
}

const READ_CHUNK = 64 * 1024;

export class TcpFlowStream extends Duplex {
  readonly conn: TcpConnection;
  readonly #driver: FlowDriver;
  #wantRead = false;
  #pumpScheduled = false;
  #ended = false;
  #closed = false;
  #pending: { data: Uint8Array; callback: (error?: Error | null) => void } | undefined;

  constructor(conn: TcpConnection, driver: FlowDriver) {
    super({ allowHalfOpen: true, readableHighWaterMark: 256 * 1024, writableHighWaterMark: 64 * 1024 });
    this.conn = conn;
    this.#driver = driver;
  }

  // Events from the stack, dispatched by the appliance.

  onReadable(): void {
    // Segments of one socket read arrive as many readable events: read them once, after the
    // batch, so the consumer gets one large chunk (one write upstream) instead of one per segment.
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    setImmediate(this.#scheduledPump);
  }

  readonly #scheduledPump = (): void => {
    this.#pumpScheduled = false;
    this.#pump();
  };

  onPeerFin(): void {
    this.#pump();
  }

  onWritable(): void {
    this.#drainPending();
  }

  onClosed(reason: TcpCloseReason): void {
    this.#closed = true;
    if (reason === 'fin') {
      this.#pump();
      if (!this.#ended) {
        this.#ended = true;
        this.push(null);
      }
      const pending = this.#pending;
      this.#pending = undefined;
      pending?.callback(new FlowClosedError(reason));
      return;
    }
    this.destroy(new FlowClosedError(reason));
  }

  override _read(): void {
    this.#wantRead = true;
    this.#pump();
  }

  #pump(): void {
    let read = false;
    while (this.#wantRead) {
      const chunk = this.conn.read(READ_CHUNK);
      if (!chunk) break;
      read = true;
      if (!this.push(chunk)) this.#wantRead = false;
    }
    if (read) this.#driver.flush(); // reading opened the window: tell the agent
    if (!this.#ended && this.conn.peerFinished) {
      this.#ended = true;
      this.push(null);
    }
  }

  override _write(chunk: Uint8Array, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.#closed) {
      callback(new FlowClosedError(this.conn.closeReason ?? 'aborted'));
      return;
    }
    this.#pending = { data: chunk, callback };
    this.#drainPending();
  }

  #drainPending(): void {
    const pending = this.#pending;
    if (!pending) return;
    const n = this.conn.write(this.#driver.now(), pending.data);
    this.#driver.flush();
    if (n === pending.data.length) {
      this.#pending = undefined;
      pending.callback();
    } else {
      pending.data = pending.data.subarray(n);
    }
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (!this.#closed) {
      this.conn.shutdown(this.#driver.now());
      this.#driver.flush();
    }
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.#closed) {
      this.#closed = true;
      this.conn.abort(this.#driver.now());
      this.#driver.flush();
    }
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.callback(error ?? new FlowClosedError('aborted'));
    callback(error);
  }
}
