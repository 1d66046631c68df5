/**
 * Two TcpStacks over the seeded in-memory link of sim.ts: one connect()s, the other accept()s,
 * both send 2 MB at once and close. At 0, 1, 5 and 10 % loss (with 1 % duplication and 1 %
 * reordering on the lossy links) every byte arrives in order (sha256 both ways), both sides
 * close with 'fin', and goodput per simulated second stays within a tolerance of the table in
 * goodput.snapshot.json. Regenerate the table after an intended change with
 * UPDATE_TCP_GOODPUT=1 node --import tsx --test test/netstack/tcp/simulation.test.ts
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { DEFAULT_LINK, bulkTransfer, type LinkOptions } from './sim.js';

const SNAPSHOT = new URL('./goodput.snapshot.json', import.meta.url);
const BYTES = 2_000_000;
/** A run below this fraction of the table is a regression; above the upper bound, update the table. */
const TOLERANCE_LOW = 0.9;
const TOLERANCE_HIGH = 1.25;
const LOSS_RATES = [0, 0.01, 0.05, 0.1];
const SEED = 3;

function linkFor(loss: number): Partial<LinkOptions> {
  return loss === 0 ? { loss } : { loss, duplicate: 0.01, reorder: 0.01, reorderMs: 1 };
}

interface Row { loss: number; upBytesPerSecond: number; downBytesPerSecond: number; simulatedMs: number }
interface Snapshot { _comment: string[]; link: LinkOptions; bytesEachWay: number; seed: number; rows: Row[] }

describe('TCP simulation: two stacks over a lossy, duplicating, reordering link', () => {
  const rows: Row[] = [];

  for (const loss of LOSS_RATES) {
    it(`transfers ${BYTES} bytes each way byte-exact at ${loss * 100}% loss`, () => {
      const r = bulkTransfer(linkFor(loss), SEED, BYTES, 4);
      assert.ok(r.completed, `did not finish: ${JSON.stringify(r.sim.stats)}`);
      assert.equal(r.up.received, r.up.sent);
      assert.equal(r.down.received, r.down.sent);
      assert.deepEqual(r.closed, ['fin', 'fin']);
      for (const c of r.sim.counters) assert.equal(c.get('tcp.internal_error'), 0);
      for (const st of r.sim.stacks) assert.equal(st.openCount, 0); // only TIME-WAIT may remain
      if (loss > 0) assert.ok(r.sim.stats.lost > 0 && r.sim.stats.duplicated > 0 && r.sim.stats.reordered > 0);
      rows.push({
        loss,
        upBytesPerSecond: Math.round((BYTES / r.upMs) * 1000),
        downBytesPerSecond: Math.round((BYTES / r.downMs) * 1000),
        simulatedMs: Math.round(Math.max(r.upMs, r.downMs)),
      });
    });
  }

  it('works over IPv6 at 5% loss', () => {
    const r = bulkTransfer(linkFor(0.05), SEED + 1, 500_000, 6);
    assert.ok(r.completed);
    assert.equal(r.up.received, r.up.sent);
    assert.equal(r.down.received, r.down.sent);
  });

  it('keeps goodput within tolerance of the committed table', () => {
    assert.equal(rows.length, LOSS_RATES.length);
    if (process.env['UPDATE_TCP_GOODPUT'] === '1') {
      const snap: Snapshot = {
        _comment: [
          'Goodput of bulkTransfer() in test/netstack/tcp/sim.ts, bytes per simulated second per direction,',
          'both directions at once. Link: 100 Mbit/s bottleneck, 5 ms one-way delay, 128-packet drop-tail queue;',
          'lossy rows add 1% duplication and 1% reordering (up to 1 ms extra delay). Written by the test with',
          'UPDATE_TCP_GOODPUT=1; the test fails below 0.9x or above 1.25x of these numbers.',
        ],
        link: { ...DEFAULT_LINK }, bytesEachWay: BYTES, seed: SEED, rows,
      };
      writeFileSync(SNAPSHOT, JSON.stringify(snap, null, 2) + '\n');
      return;
    }
    const snap = JSON.parse(readFileSync(SNAPSHOT, 'utf8')) as Snapshot;
    for (const row of rows) {
      const want = snap.rows.find((r) => r.loss === row.loss);
      assert.ok(want, `no snapshot row for loss ${row.loss}`);
      for (const k of ['upBytesPerSecond', 'downBytesPerSecond'] as const) {
        const ratio = row[k] / want[k];
        assert.ok(ratio >= TOLERANCE_LOW, `goodput regressed at ${row.loss * 100}% loss, ${k}: ${row[k]} vs ${want[k]}`);
        assert.ok(ratio <= TOLERANCE_HIGH, `goodput improved at ${row.loss * 100}% loss, ${k}: ${row[k]} vs ${want[k]}: update the snapshot`);
      }
    }
  });
});
