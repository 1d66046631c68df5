/**
 * A seeded network simulation (loss, delay, reordering, duplication) over 15 simulated minutes:
 * sessions keep being rekeyed, traffic keeps flowing both ways, nothing is corrupted or delivered
 * twice, and duplicates are counted as replays.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { DeviceOutput } from '../../../netstack/wireguard/device.js';
import { A_TUNNEL, B_TUNNEL, ipv4, makePair, seededRandom, wall, type Side } from './helpers.js';

interface Flight { at: number; to: Side; from: Side; bytes: Uint8Array }

function simulate(seed: number, loss: number) {
  const { a, b } = makePair({ seed });
  const rand = seededRandom(seed * 7 + 1);
  const uniform = () => { const r = rand(4); return ((r[0]! << 24) | (r[1]! << 16) | (r[2]! << 8) | r[3]!) >>> 0; };
  const chance = (p: number) => uniform() / 2 ** 32 < p;
  let flights: Flight[] = [];
  const delivered = { a: [] as number[], b: [] as number[] };
  const sent = { a: new Set<number>(), b: new Set<number>() };

  const launch = (now: number, from: Side, outputs: DeviceOutput[]) => {
    for (const o of outputs) {
      if (o.kind === 'toTunnel') {
        const id = new DataView(o.packet.buffer, o.packet.byteOffset).getUint32(20);
        (from === a ? delivered.a : delivered.b).push(id);
        continue;
      }
      const to = o.to.address === a.endpoint.address ? a : b;
      const copies = chance(0.05) ? 2 : 1;
      for (let c = 0; c < copies; c++) {
        if (chance(loss)) continue;
        flights.push({ at: now + 5 + (uniform() % 200), to, from, bytes: Uint8Array.from(o.bytes) });
      }
    }
  };

  const END = 15 * 60_000;
  let nextTraffic = 0;
  let id = 0;
  for (let now = 0; now <= END;) {
    wall.offset = 10_000_000 + now;
    flights.sort((x, y) => x.at - y.at);
    const due = flights.filter((f) => f.at <= now);
    flights = flights.filter((f) => f.at > now);
    for (const f of due) launch(now, f.to, f.to.device.receive(now, f.from.endpoint, f.bytes));
    for (const side of [a, b]) if ((side.device.nextDeadline() ?? Infinity) <= now) launch(now, side, side.device.poll(now));
    if (now >= nextTraffic) {
      const from = chance(0.5) ? a : b;
      const packet = ipv4(from === a ? A_TUNNEL : B_TUNNEL, from === a ? B_TUNNEL : A_TUNNEL, 8);
      new DataView(packet.buffer).setUint32(20, ++id);
      (from === a ? sent.a : sent.b).add(id);
      launch(now, from, from.device.send(now, packet));
      nextTraffic = now + 200 + (uniform() % 1800);
    }
    now = Math.min(nextTraffic, flights.reduce((m, f) => Math.min(m, f.at), Infinity),
      a.device.nextDeadline() ?? Infinity, b.device.nextDeadline() ?? Infinity);
    if (now > END) break;
  }
  return { a, b, delivered, sent };
}

describe('simulated lossy network', () => {
  for (const [seed, loss] of [[1, 0.1], [2, 0.3]] as const) {
    it(`keeps working with ${loss * 100}% loss, reordering and duplicates (seed ${seed})`, () => {
      const { a, b, delivered, sent } = simulate(seed, loss);
      for (const [got, from] of [[delivered.b, sent.a], [delivered.a, sent.b]] as const) {
        assert.equal(new Set(got).size, got.length, 'nothing delivered twice');
        assert.ok(got.every((i) => from.has(i)), 'only what was sent, uncorrupted');
        assert.ok(got.length > from.size * (1 - loss) * 0.6, `delivered ${got.length} of ${from.size}`);
      }
      const handshakes = a.counters.get('wg.handshake_completed') + b.counters.get('wg.handshake_completed');
      assert.ok(handshakes >= 2 * 6, `sessions rekeyed over 15 minutes (${handshakes})`);
      assert.ok(a.counters.get('wg.replay') + b.counters.get('wg.replay') > 0, 'duplicates were seen and dropped');
      assert.equal(a.counters.get('wg.decrypt_failed') + b.counters.get('wg.decrypt_failed'), 0);
      assert.equal(a.counters.get('wg.allowed_ips') + b.counters.get('wg.allowed_ips'), 0);
    });
  }
});
