/**
 * The "under load" decision for cookie replies (whitepaper §5.3). wireguard-go looks at its
 * handshake queue depth; a sans-IO device processes each message at once, so the equivalent is
 * the rate of handshake messages: more than UNDER_LOAD_HANDSHAKES_PER_SECOND in a one-second
 * window puts the device under load for UNDER_LOAD_AFTER_TIME.
 */
import { UNDER_LOAD_AFTER_TIME, UNDER_LOAD_HANDSHAKES_PER_SECOND } from './constants.js';

const RATE_WINDOW = 1_000;

export class LoadMonitor {
  readonly #forced: (() => boolean) | undefined;
  #windowStart = -Infinity;
  #count = 0;
  #underLoadUntil = -Infinity;

  constructor(forced?: () => boolean) {
    this.#forced = forced;
  }

  /** Called for every handshake-type message of the right size, before any crypto. */
  record(now: number): void {
    if (now - this.#windowStart >= RATE_WINDOW) {
      this.#windowStart = now;
      this.#count = 0;
    }
    if (++this.#count > UNDER_LOAD_HANDSHAKES_PER_SECOND) this.#underLoadUntil = now + UNDER_LOAD_AFTER_TIME;
  }

  underLoad(now: number): boolean {
    return this.#forced !== undefined ? this.#forced() : now < this.#underLoadUntil;
  }
}
