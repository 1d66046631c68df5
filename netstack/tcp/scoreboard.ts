/**
 * The send side's SACK scoreboard (RFC 6675 §3, RFC 2018 §5): the ranges above SND.UNA the
 * peer reported holding. Blocks outside (SND.UNA, SND.MAX] — D-SACKs, stale or forged blocks —
 * are ignored; the number of ranges is capped (a new range past the cap is ignored: SACK is
 * advisory, the cumulative ACK stays authoritative).
 */
import { seqDiff, seqGeq, seqGt, seqLeq, seqLt, seqMax, seqMin } from './seq.js';

export class Scoreboard {
  readonly maxRanges: number;
  readonly #starts: number[] = [];
  readonly #ends: number[] = [];
  #sacked = 0;

  constructor(maxRanges: number) {
    this.maxRanges = maxRanges;
  }

  get rangeCount(): number { return this.#starts.length; }
  /** Bytes SACKed above SND.UNA. */
  get sackedBytes(): number { return this.#sacked; }
  get isEmpty(): boolean { return this.#starts.length === 0; }
  /** The highest SACKed sequence number + 1 (RFC 6675 HighACK's counterpart), or undefined. */
  get highSacked(): number | undefined {
    const n = this.#ends.length;
    return n === 0 ? undefined : this.#ends[n - 1];
  }

  /** Merges the flat [left, right) pairs of one ACK; returns the bytes newly SACKed. */
  update(blocks: readonly number[], sndUna: number, sndMax: number): number {
    const before = this.#sacked;
    for (let k = 0; k + 1 < blocks.length; k += 2) {
      let s = blocks[k]!;
      let e = blocks[k + 1]!;
      if (!seqLt(s, e) || seqGt(e, sndMax) || seqDiff(e, s) > 0x40000000) continue;
      s = seqMax(s, sndUna);
      if (!seqLt(s, e)) continue; // wholly below SND.UNA: a D-SACK (RFC 2883), nothing to learn here
      this.#insert(s, e);
    }
    return this.#sacked - before;
  }

  /** Forgets everything below the new SND.UNA. */
  advance(sndUna: number): void {
    const starts = this.#starts;
    const ends = this.#ends;
    let drop = 0;
    while (drop < starts.length && seqLeq(ends[drop]!, sndUna)) {
      this.#sacked -= seqDiff(ends[drop]!, starts[drop]!);
      drop++;
    }
    if (drop > 0) { starts.splice(0, drop); ends.splice(0, drop); }
    if (starts.length > 0 && seqLt(starts[0]!, sndUna)) {
      this.#sacked -= seqDiff(sndUna, starts[0]!);
      starts[0] = sndUna;
    }
  }

  /** `seq`, or the end of the SACKed range containing it. */
  skipSacked(seq: number): number {
    for (let i = 0; i < this.#starts.length; i++) {
      if (seqGt(this.#starts[i]!, seq)) break;
      if (seqLt(seq, this.#ends[i]!)) return this.#ends[i]!;
    }
    return seq;
  }

  /** The start of the first SACKed range above `seq`, or undefined. */
  nextSackedStart(seq: number): number | undefined {
    for (let i = 0; i < this.#starts.length; i++) if (seqGt(this.#starts[i]!, seq)) return this.#starts[i]!;
    return undefined;
  }

  /** SACKed bytes inside [from, to). */
  sackedBetween(from: number, to: number): number {
    let n = 0;
    for (let i = 0; i < this.#starts.length; i++) {
      const s = seqMax(this.#starts[i]!, from);
      const e = seqMin(this.#ends[i]!, to);
      if (seqLt(s, e)) n += seqDiff(e, s);
    }
    return n;
  }

  /** True when at least `bytes` are SACKed at or above `seq` (RFC 6675 IsLost, byte form). */
  sackedAbove(seq: number, bytes: number): boolean {
    let n = 0;
    for (let i = this.#starts.length - 1; i >= 0; i--) {
      if (seqLeq(this.#ends[i]!, seq)) break;
      n += seqDiff(this.#ends[i]!, seqGeq(this.#starts[i]!, seq) ? this.#starts[i]! : seq);
      if (n >= bytes) return true;
    }
    return false;
  }

  /**
   * RFC 6675 IsLost for every hole at once: the start of the SACKed range at which the bytes
   * SACKed above reach `bytes`. Holes below it are lost; undefined when none is.
   */
  lostBelow(bytes: number): number | undefined {
    let n = 0;
    for (let i = this.#starts.length - 1; i >= 0; i--) {
      n += seqDiff(this.#ends[i]!, this.#starts[i]!);
      if (n >= bytes) return this.#starts[i]!;
    }
    return undefined;
  }

  clear(): void {
    this.#starts.length = 0;
    this.#ends.length = 0;
    this.#sacked = 0;
  }

  #insert(start: number, end: number): void {
    const starts = this.#starts;
    const ends = this.#ends;
    let i = 0;
    while (i < starts.length && seqLt(ends[i]!, start)) i++;
    let j = i;
    let s = start;
    let e = end;
    let removed = 0;
    while (j < starts.length && seqLeq(starts[j]!, end)) {
      if (seqLt(starts[j]!, s)) s = starts[j]!;
      if (seqGt(ends[j]!, e)) e = ends[j]!;
      removed += seqDiff(ends[j]!, starts[j]!);
      j++;
    }
    if (j === i && starts.length >= this.maxRanges) return;
    starts.splice(i, j - i, s);
    ends.splice(i, j - i, e);
    this.#sacked += seqDiff(e, s) - removed;
  }
}
