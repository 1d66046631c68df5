/**
 * What the frontend and backend parsers share: a Framer feeding events into `out`, `push` that
 * returns one chunk's events (and hands the ones before a framing error to the error), `end`,
 * the MessagePart event of a streamed message, and a body that fails to decode becoming a
 * `Malformed` event while parsing goes on.
 */
import { PgCodecError } from './errors.js';
import type { Framer } from './framer.js';
import type { Malformed, MessagePart } from './messages.js';

export abstract class FramedParser<E> {
  protected out: E[] = [];
  protected abstract readonly framer: Framer;

  get bufferedBytes(): number {
    return this.framer.bufferedBytes;
  }

  /** Throws PgCodecError on a framing error (`before` holds this push's earlier events). */
  push(chunk: Uint8Array): E[] {
    this.out = [];
    try {
      this.framer.push(chunk);
    } catch (e) {
      if (e instanceof PgCodecError) e.before = this.out;
      throw e;
    }
    return this.out;
  }

  /** Call at end of stream: throws PG_MSG_TRUNCATED if a message was cut off. */
  end(): void {
    this.framer.end();
  }

  /** The Framer sink's `part`: one piece of a message passed through unbuffered. */
  protected readonly onPart = (raw: Uint8Array, payload: Uint8Array, typeByte: number, offset: number, bodyLength: number): void => {
    const part: MessagePart = { type: 'MessagePart', raw, payload, typeByte, offset, bodyLength, first: offset === 0 && raw !== payload, last: offset + payload.length === bodyLength };
    this.out.push(part as E);
  };

  /** Pushes `decode()`, or a Malformed event when the body does not decode. */
  protected pushDecoded(raw: Uint8Array, typeByte: number, decode: () => E): void {
    try {
      this.out.push(decode());
    } catch (e) {
      if (!(e instanceof PgCodecError)) throw e;
      const malformed: Malformed = { type: 'Malformed', raw, typeByte, error: e };
      this.out.push(malformed as E);
    }
  }
}
