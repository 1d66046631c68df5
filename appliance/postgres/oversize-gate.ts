/**
 * In front of the agent's FrontendParser, once the session is in typed messages: a Query,
 * Parse, Bind or FunctionCall longer than the cap is not a framing error (its length field is
 * honest), so the session need not die for it. The gate reads each message header itself,
 * skips the body of an oversized one without buffering it, and reports it in its place in the
 * stream; every other byte goes to the parser unchanged (STYLE.md §6-7: cap before buffering,
 * fail closed with a reason, keep the session usable where the framing allows).
 */
import { FE, PgCodecError, TYPED_HEADER_SIZE, type FrontendEvent, type FrontendParser } from '../../protocols/postgres/codec/index.js';

export interface Oversized {
  readonly type: 'Oversized';
  readonly typeByte: number;
  /** The message's length field. */
  readonly length: number;
  readonly raw: Uint8Array;
}

export type GateEvent = FrontendEvent | Oversized;

export const GATED_TYPES: ReadonlySet<number> = new Set([FE.Query, FE.Parse, FE.Bind, FE.FunctionCall]);
const EMPTY = new Uint8Array(0);

export class OversizeGate {
  readonly #parser: FrontendParser;
  readonly #cap: number;
  readonly #header = new Uint8Array(TYPED_HEADER_SIZE);
  #headerFill = 0;
  /** Body bytes of the current message still to pass to the parser. */
  #body = 0;
  /** Body bytes of an oversized message still to skip. */
  #skip = 0;

  /** Starts at a message boundary of the typed phase. `cap`: the parser's maxMessageLength. */
  constructor(parser: FrontendParser, cap: number) {
    this.#parser = parser;
    this.#cap = cap;
  }

  push(chunk: Uint8Array): GateEvent[] {
    const out: GateEvent[] = [];
    const n = chunk.length;
    let pos = 0;
    let from = 0; // start of the bytes not yet given to the parser
    const pass = (end: number): void => {
      if (end > from) for (const e of this.#parser.push(chunk.subarray(from, end))) out.push(e);
      from = end;
    };
    try {
      while (pos < n) {
        if (this.#skip > 0) {
          const take = Math.min(this.#skip, n - pos);
          this.#skip -= take;
          pos += take;
          from = pos;
          continue;
        }
        if (this.#body > 0) {
          const take = Math.min(this.#body, n - pos);
          this.#body -= take;
          pos += take;
          continue;
        }
        let header: Uint8Array;
        let scratch = false;
        if (this.#headerFill === 0 && n - pos >= TYPED_HEADER_SIZE) {
          header = chunk.subarray(pos, pos + TYPED_HEADER_SIZE);
          pos += TYPED_HEADER_SIZE;
        } else {
          // A header split across chunks is held here until it is whole.
          pass(pos);
          const take = Math.min(TYPED_HEADER_SIZE - this.#headerFill, n - pos);
          this.#header.set(chunk.subarray(pos, pos + take), this.#headerFill);
          this.#headerFill += take;
          pos += take;
          from = pos;
          if (this.#headerFill < TYPED_HEADER_SIZE) break;
          this.#headerFill = 0;
          header = this.#header;
          scratch = true;
        }
        const typeByte = header[0]!;
        const length = ((header[1]! << 24) | (header[2]! << 16) | (header[3]! << 8) | header[4]!);
        if (GATED_TYPES.has(typeByte) && length > this.#cap) {
          if (!scratch) {
            pass(pos - TYPED_HEADER_SIZE);
            from = pos;
          }
          this.#skip = length - 4;
          out.push({ type: 'Oversized', typeByte, length, raw: EMPTY });
          continue;
        }
        if (scratch) for (const e of this.#parser.push(Uint8Array.from(header))) out.push(e);
        // A bad length (negative, too small) is the parser's to refuse.
        this.#body = length > 4 ? length - 4 : 0;
      }
      pass(pos);
    } catch (error) {
      if (error instanceof PgCodecError) error.before = [...out, ...error.before];
      throw error;
    }
    return out;
  }
}
