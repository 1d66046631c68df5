/**
 * Sliding replay window for transport counters (whitepaper §5.4.6, RFC 6479 bitmap).
 *
 * A ring of 32-bit blocks; moving the window forward clears whole blocks instead of shifting bits,
 * so a jump costs at most one pass over the ring. One block is always the "current" partial one,
 * so the usable window is the ring size minus one block (wireguard-go keeps the same shape).
 *
 * Counters are 64-bit and arrive as two 32-bit halves: a Number is exact only below 2^53 and a
 * replay check must never round. Differences are computed as Numbers, which is exact whenever it
 * matters (a difference near the window size) and keeps the right sign otherwise.
 */
const BLOCK_BITS_LOG = 5;
const BLOCK_BITS = 1 << BLOCK_BITS_LOG; // 32: one Uint32 word
const RING_BLOCKS = 64; // 2048 bits
const BLOCK_MASK = RING_BLOCKS - 1;
export const COUNTER_BITS_TOTAL = RING_BLOCKS * BLOCK_BITS;
export const COUNTER_WINDOW_SIZE = COUNTER_BITS_TOTAL - BLOCK_BITS; // 2016

const TWO_32 = 0x1_0000_0000;
// REJECT_AFTER_MESSAGES = 2^64 - 2^13 - 1 = 0xFFFFFFFF_FFFFDFFF; counters must stay below it.
const REJECT_HIGH = 0xffff_ffff;
const REJECT_LOW = 0xffff_dfff;

export class ReplayWindow {
  readonly #ring = new Uint32Array(RING_BLOCKS);
  #lastLow = 0;
  #lastHigh = 0;

  /** True if `counter` could be accepted; does not record it. Cheap, so it runs before decryption. */
  check(low: number, high: number): boolean {
    if (high > REJECT_HIGH || (high === REJECT_HIGH && low >= REJECT_LOW)) return false;
    const ahead = (high - this.#lastHigh) * TWO_32 + (low - this.#lastLow);
    if (ahead > 0) return true;
    if (-ahead > COUNTER_WINDOW_SIZE) return false;
    return (this.#ring[(low >>> BLOCK_BITS_LOG) & BLOCK_MASK]! & (1 << (low & (BLOCK_BITS - 1)))) === 0;
  }

  /** Checks and records `counter`; call only after the packet authenticated. */
  accept(low: number, high: number): boolean {
    if (high > REJECT_HIGH || (high === REJECT_HIGH && low >= REJECT_LOW)) return false;
    const ahead = (high - this.#lastHigh) * TWO_32 + (low - this.#lastLow);
    if (ahead > 0) {
      // Blocks between the last counter's block and the new one hold nothing seen yet.
      const lastBlock = this.#lastLow >>> BLOCK_BITS_LOG;
      const blocksAhead = (high - this.#lastHigh) * (TWO_32 / BLOCK_BITS) + ((low >>> BLOCK_BITS_LOG) - lastBlock);
      const clear = Math.min(blocksAhead, RING_BLOCKS);
      for (let i = 1; i <= clear; i++) this.#ring[(lastBlock + i) & BLOCK_MASK] = 0;
      this.#lastLow = low;
      this.#lastHigh = high;
    } else if (-ahead > COUNTER_WINDOW_SIZE) {
      return false;
    }
    const index = (low >>> BLOCK_BITS_LOG) & BLOCK_MASK;
    const bit = 1 << (low & (BLOCK_BITS - 1));
    if ((this.#ring[index]! & bit) !== 0) return false;
    this.#ring[index]! |= bit;
    return true;
  }
}
