/**
 * Out-of-order bookkeeping of the receive side: which sequence ranges beyond RCV.NXT have
 * arrived (their bytes already sit in the receive ring at their offsets). Bounded by a count of
 * ranges: a segment that would need one more range than the cap is refused and the caller drops
 * it (and counts `tcp.ooo_dropped`); the byte cap is the receive window itself.
 *
 * Also the source of SACK blocks (RFC 2018 §4): the first block is the range holding the most
 * recently received segment, the others follow most recently changed first.
 */
import { seqGt, seqLeq, seqLt, seqDiff } from './seq.js';

export class Assembler {
  readonly maxRanges: number;
  // Parallel arrays, sorted by start; ranges never touch or overlap.
  readonly #starts: number[] = [];
  readonly #ends: number[] = [];
  readonly #stamps: number[] = [];
  #clock = 0;

  constructor(maxRanges: number) {
    this.maxRanges = maxRanges;
  }

  get rangeCount(): number { return this.#starts.length; }

  /** Bytes held out of order. */
  get bytes(): number {
    let n = 0;
    for (let i = 0; i < this.#starts.length; i++) n += seqDiff(this.#ends[i]!, this.#starts[i]!);
    return n;
  }

  /** End of the highest range, or undefined when empty (the FIN bookkeeping uses it). */
  get highest(): number | undefined {
    const n = this.#ends.length;
    return n === 0 ? undefined : this.#ends[n - 1];
  }

  /** Records [start, end). False, with nothing changed, when it needs more ranges than the cap. */
  add(start: number, end: number): boolean {
    if (!seqLt(start, end)) return true;
    const starts = this.#starts;
    const ends = this.#ends;
    // First range whose end reaches start (touching counts: they merge).
    let i = 0;
    while (i < starts.length && seqLt(ends[i]!, start)) i++;
    let j = i;
    let s = start;
    let e = end;
    while (j < starts.length && seqLeq(starts[j]!, end)) {
      if (seqLt(starts[j]!, s)) s = starts[j]!;
      if (seqGt(ends[j]!, e)) e = ends[j]!;
      j++;
    }
    const merged = j - i;
    if (merged === 0 && starts.length >= this.maxRanges) return false;
    starts.splice(i, merged, s);
    ends.splice(i, merged, e);
    this.#stamps.splice(i, merged, ++this.#clock);
    return true;
  }

  /** When the first range starts at or before `rcvNxt`, removes it and returns its end. */
  takeContiguous(rcvNxt: number): number | undefined {
    if (this.#starts.length === 0 || seqGt(this.#starts[0]!, rcvNxt)) return undefined;
    const end = this.#ends[0]!;
    this.#starts.shift();
    this.#ends.shift();
    this.#stamps.shift();
    return seqGt(end, rcvNxt) ? end : rcvNxt;
  }

  /** Writes up to `max` blocks as flat [left, right) pairs into `out` (cleared first), most recent first. */
  sackBlocks(out: number[], max: number): void {
    out.length = 0;
    const n = this.#starts.length;
    if (n === 0 || max <= 0) return;
    const order: number[] = [];
    for (let i = 0; i < n; i++) order.push(i);
    order.sort((a, b) => this.#stamps[b]! - this.#stamps[a]!);
    for (let k = 0; k < Math.min(max, n); k++) {
      const i = order[k]!;
      out.push(this.#starts[i]!, this.#ends[i]!);
    }
  }

  clear(): void {
    this.#starts.length = 0;
    this.#ends.length = 0;
    this.#stamps.length = 0;
  }
}
