import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TokenBucket } from '../../../netstack/ip/token-bucket.js';

describe('TokenBucket', () => {
  it('allows the burst, refills at the rate, and ignores a clock going back', () => {
    const b = new TokenBucket(10, 3);
    assert.deepEqual([b.take(1000), b.take(1000), b.take(1000), b.take(1000)], [true, true, true, false]);
    assert.equal(b.take(1050), false); // half a token
    assert.equal(b.take(1100), true);
    assert.equal(b.take(0), false); // back in time: no refill
    assert.equal(b.take(100_000), true);
    assert.deepEqual([b.take(100_000), b.take(100_000), b.take(100_000)], [true, true, false]); // capped at the burst
  });
});
