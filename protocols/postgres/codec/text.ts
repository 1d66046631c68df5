/**
 * Strings on the wire. The codec reads every String as UTF-8 and refuses invalid sequences
 * (PG_BAD_UTF8): a firewall must decide on the same text the server will run, and a lossy
 * decode could hide bytes from the SQL parser. Sessions in other client encodings are therefore
 * refused rather than guessed at (the appliance should pin client_encoding=UTF8 upstream).
 */
import { PgCodecError } from './errors.js';

const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

/** Short ASCII strings (names, tags) decode faster by hand than through TextDecoder. */
const ASCII_FAST_PATH_MAX = 48;

export function decodeText(buf: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n === 0) return '';
  if (n <= ASCII_FAST_PATH_MAX) {
    let s = '';
    let i = start;
    for (; i < end; i++) {
      const b = buf[i]!;
      if (b >= 0x80) break;
      s += String.fromCharCode(b);
    }
    if (i === end) return s;
  }
  try {
    return strictDecoder.decode(buf.subarray(start, end));
  } catch {
    throw new PgCodecError('PG_BAD_UTF8', `invalid UTF-8 in a ${n}-byte string`);
  }
}

export function encodeText(s: string): Uint8Array {
  return encoder.encode(s);
}
