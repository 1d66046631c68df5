/**
 * TAI64N timestamps for handshake initiations (whitepaper §5.4.2): 8 bytes big-endian seconds
 * with the TAI64 label 2^62 (plus the 10 s TAI-UTC offset, as wireguard-go does) and 4 bytes
 * big-endian nanoseconds. Responders keep the greatest timestamp per peer and refuse anything
 * not greater, which is what stops a captured initiation from being replayed.
 */
import { TAI64N_SIZE } from '../wire/wireguard-messages.js';

const TAI64_BASE = 0x4000_0000_0000_000an;
/**
 * Nanoseconds are rounded down to a multiple of 2^24 ns (~16.8 ms) so the timestamp does not leak
 * a fine-grained clock to whoever can decrypt it; initiations are far rarer than that anyway.
 */
const WHITENER_MASK = 0x100_0000;

/** `epochMs` is wall-clock milliseconds since 1970, e.g. Date.now(). */
export function tai64n(epochMs: number): Uint8Array {
  const out = new Uint8Array(TAI64N_SIZE);
  const view = new DataView(out.buffer);
  const seconds = Math.floor(epochMs / 1000);
  const nanos = Math.floor((epochMs - seconds * 1000) * 1e6);
  view.setBigUint64(0, TAI64_BASE + BigInt(seconds));
  view.setUint32(8, nanos - (nanos % WHITENER_MASK));
  return out;
}

/** Big-endian byte order is numeric order, so comparing bytes compares times. */
export function compareTai64n(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < TAI64N_SIZE; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return 0;
}
