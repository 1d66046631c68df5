/**
 * A byte ring with a fixed capacity, allocated lazily: it starts small and doubles up to the
 * capacity as data needs room, so an idle connection costs little and a busy one never holds
 * more than its cap. Used for the send buffer (bytes from SND.UNA on) and the receive buffer
 * (bytes the application has not read, followed by out-of-order data written at an offset).
 *
 * Offsets are logical: 0 is the oldest byte held. Nothing here knows about sequence numbers.
 */

const INITIAL_BYTES = 4096;

export class ByteRing {
  readonly capacity: number;
  #buf: Uint8Array;
  #head = 0;
  #len = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity <= 0) throw new RangeError(`ByteRing: capacity ${capacity}`);
    this.capacity = capacity;
    this.#buf = new Uint8Array(Math.min(capacity, INITIAL_BYTES));
  }

  /** Bytes held (committed). */
  get length(): number { return this.#len; }
  get free(): number { return this.capacity - this.#len; }
  /** Bytes allocated, for memory accounting in tests. */
  get allocated(): number { return this.#buf.length; }

  /** Copies as much of `data` as fits after the held bytes; returns the count. */
  append(data: Uint8Array): number {
    const n = Math.min(data.length, this.capacity - this.#len);
    if (n === 0) return 0;
    this.writeAt(this.#len, n === data.length ? data : data.subarray(0, n));
    this.#len += n;
    return n;
  }

  /**
   * Writes `data` at logical `offset` (which may be past the held bytes: out-of-order data)
   * without changing the length. The caller keeps offset + length within the capacity.
   */
  writeAt(offset: number, data: Uint8Array): void {
    const end = offset + data.length;
    if (offset < 0 || end > this.capacity) throw new RangeError(`ByteRing.writeAt ${offset}+${data.length} > ${this.capacity}`);
    if (data.length === 0) return;
    if (end > this.#buf.length) this.#grow(end);
    const size = this.#buf.length;
    const at = (this.#head + offset) % size;
    const first = Math.min(data.length, size - at);
    this.#buf.set(first === data.length ? data : data.subarray(0, first), at);
    if (first < data.length) this.#buf.set(data.subarray(first), 0);
  }

  /** Makes `n` bytes written past the end with `writeAt` part of the held bytes. */
  commit(n: number): void {
    if (n < 0 || this.#len + n > this.capacity) throw new RangeError(`ByteRing.commit ${n}`);
    this.#len += n;
  }

  /** Copies `n` held bytes from logical `offset` into `dst` at `dstOffset` (nothing consumed). */
  copyOut(offset: number, n: number, dst: Uint8Array, dstOffset: number): void {
    if (offset < 0 || n < 0 || offset + n > this.#len) throw new RangeError(`ByteRing.copyOut ${offset}+${n} > ${this.#len}`);
    if (n === 0) return;
    const size = this.#buf.length;
    const at = (this.#head + offset) % size;
    const first = Math.min(n, size - at);
    dst.set(this.#buf.subarray(at, at + first), dstOffset);
    if (first < n) dst.set(this.#buf.subarray(0, n - first), dstOffset + first);
  }

  /** Removes and returns (as a new array) up to `max` of the oldest bytes. */
  read(max: number): Uint8Array {
    const n = Math.min(max, this.#len);
    const out = new Uint8Array(n);
    this.copyOut(0, n, out, 0);
    this.discard(n);
    return out;
  }

  /** Drops the `n` oldest bytes. */
  discard(n: number): void {
    if (n < 0 || n > this.#len) throw new RangeError(`ByteRing.discard ${n} > ${this.#len}`);
    if (n === 0) return;
    this.#len -= n;
    // Never re-centre an empty ring: out-of-order bytes may sit past the held ones.
    this.#head = (this.#head + n) % this.#buf.length;
  }

  /** Drops everything and gives the memory back (a closed connection). */
  release(): void {
    this.#len = 0;
    this.#head = 0;
    this.#buf = new Uint8Array(0);
  }

  #grow(needed: number): void {
    let size = Math.max(this.#buf.length, 1);
    while (size < needed) size *= 2;
    size = Math.min(size, this.capacity);
    const next = new Uint8Array(size);
    const old = this.#buf;
    if (old.length > 0) {
      // The whole old allocation, not just the held bytes: out-of-order data may sit past them.
      const first = old.length - this.#head;
      next.set(old.subarray(this.#head), 0);
      if (this.#head > 0) next.set(old.subarray(0, this.#head), first);
    }
    this.#buf = next;
    this.#head = 0;
  }
}
