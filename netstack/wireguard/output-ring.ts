/**
 * Where sealed transport messages are written. Allocating a Buffer per packet costs ~0.4 µs, a
 * large share of the per-packet budget next to the ~5 µs cipher call, so messages are carved from
 * one ring instead (a view costs ~0.04 µs).
 *
 * The Device contract only promises outputs until the next call into the Device; the ring keeps
 * each message intact until OUTPUT_RING_SIZE more bytes have been sealed, far longer, so a caller
 * that hands `bytes` to an asynchronous UDP send is safe in practice. One call never produces
 * more than MAX_STAGED_PACKETS messages (~190 KiB), so a call's outputs never overlap each other.
 */
export const OUTPUT_RING_SIZE = 1 << 20;
/** Larger messages (jumbo packets) get their own allocation rather than a big slice of the ring. */
const MAX_RING_MESSAGE = 1 << 16;

export class OutputRing {
  readonly #buffer = new ArrayBuffer(OUTPUT_RING_SIZE);
  #offset = 0;

  take(length: number): Uint8Array {
    if (length > MAX_RING_MESSAGE) return new Uint8Array(length);
    if (this.#offset + length > OUTPUT_RING_SIZE) this.#offset = 0;
    const view = new Uint8Array(this.#buffer, this.#offset, length);
    this.#offset += (length + 7) & ~7; // keep slices 8-byte aligned
    return view;
  }
}
