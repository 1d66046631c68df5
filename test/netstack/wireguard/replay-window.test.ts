/** Replay window edge cases (whitepaper §5.4.6, RFC 6479). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { COUNTER_WINDOW_SIZE, ReplayWindow } from '../../../netstack/wireguard/replay-window.js';

const TWO_32 = 2 ** 32;
const split = (n: number): [number, number] => [n % TWO_32, Math.floor(n / TWO_32)];
const accept = (w: ReplayWindow, n: number) => w.accept(...split(n));
const check = (w: ReplayWindow, n: number) => w.check(...split(n));

describe('ReplayWindow', () => {
  it('accepts each counter once, starting at 0', () => {
    const w = new ReplayWindow();
    assert.equal(accept(w, 0), true);
    assert.equal(accept(w, 0), false, 'duplicate');
    assert.equal(accept(w, 1), true);
    assert.equal(check(w, 1), false);
    assert.equal(check(w, 2), true);
  });

  it('accepts out-of-order counters within the window, once', () => {
    const w = new ReplayWindow();
    for (const n of [5, 3, 4, 0, 1, 2]) assert.equal(accept(w, n), true, String(n));
    for (const n of [0, 1, 2, 3, 4, 5]) assert.equal(accept(w, n), false, String(n));
  });

  it('rejects counters older than the window, accepts the oldest still inside', () => {
    const w = new ReplayWindow();
    const top = 10_000;
    assert.equal(accept(w, top), true);
    assert.equal(check(w, top - COUNTER_WINDOW_SIZE), true, 'exactly at the edge');
    assert.equal(accept(w, top - COUNTER_WINDOW_SIZE), true);
    assert.equal(accept(w, top - COUNTER_WINDOW_SIZE - 1), false, 'just past it');
    assert.equal(accept(w, 0), false, 'old');
  });

  it('handles a jump far into the future: old bits cleared, older counters refused', () => {
    const w = new ReplayWindow();
    for (let n = 0; n < 100; n++) accept(w, n);
    const far = 2 ** 40 + 17;
    assert.equal(accept(w, far), true);
    assert.equal(accept(w, 50), false, 'far behind now');
    assert.equal(accept(w, far - 1), true, 'not seen yet, inside the window');
    assert.equal(accept(w, far - 1), false);
    // A jump of exactly one ring must not leave stale bits behind.
    const w2 = new ReplayWindow();
    assert.equal(accept(w2, 64), true);
    assert.equal(accept(w2, 64 + 2048), true);
    assert.equal(accept(w2, 64 + 2048 - 1), true);
    assert.equal(accept(w2, 2048 + 64 + 2048), true, 'same ring slot as 64 two rings later');
  });

  it('works across the 32-bit boundary of the low word', () => {
    const w = new ReplayWindow();
    const base = TWO_32 - 3;
    for (let n = base; n < base + 6; n++) assert.equal(accept(w, n), true, String(n));
    for (let n = base; n < base + 6; n++) assert.equal(accept(w, n), false, String(n));
    assert.equal(accept(w, base - 1), true);
  });

  it('refuses counters at or above REJECT_AFTER_MESSAGES (2^64 - 2^13 - 1)', () => {
    const w = new ReplayWindow();
    assert.equal(w.accept(0xffff_dffe, 0xffff_ffff), true, 'the last usable counter');
    assert.equal(w.check(0xffff_dfff, 0xffff_ffff), false);
    assert.equal(w.accept(0xffff_dfff, 0xffff_ffff), false);
    assert.equal(w.accept(0xffff_ffff, 0xffff_ffff), false);
    assert.equal(w.accept(0xffff_dffd, 0xffff_ffff), true, 'the window still works up there');
    assert.equal(w.accept(0xffff_dffd, 0xffff_ffff), false);
  });

  it('agrees with a plain set-based model on random sequences', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 6000 }), { maxLength: 300 }), (counters) => {
      const w = new ReplayWindow();
      const seen = new Set<number>();
      let top = -1;
      for (const n of counters) {
        const expected = !seen.has(n) && !(top >= 0 && top - n > COUNTER_WINDOW_SIZE);
        assert.equal(check(w, n), expected);
        assert.equal(accept(w, n), expected, `counter ${n} after top ${top}`);
        if (expected) { seen.add(n); top = Math.max(top, n); }
      }
    }));
  });
});
