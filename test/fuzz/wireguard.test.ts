/**
 * Fuzzing Device.receive: random datagrams and mutations (bit flips, truncations, extensions) of
 * valid WireGuard messages never throw, are dropped and counted, and never produce output unless
 * the input is authentic; the only exception is a cookie reply under load to a message whose
 * mac1 is intact.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Counters } from '../../netstack/counters.js';
import { parseCidr } from '../../netstack/wire/ip-address.js';
import { INITIATION_MAC1_OFFSET, INITIATION_MAC2_OFFSET } from '../../netstack/wire/wireguard-messages.js';
import { Device, type DeviceOutput } from '../../netstack/wireguard/device.js';
import {
  A_ENDPOINT, A_TUNNEL, B_TUNNEL, establish, ipv4, makePair, network, seededRandom, wall, type Side,
} from '../netstack/wireguard/helpers.js';

const RUNS = 300;

interface Corpus {
  b: Side;
  /** Messages B has not seen, with how many leading bytes authenticate them. */
  originals: { bytes: Uint8Array; authenticatedLength: number }[];
}

function corpus(): Corpus {
  const { a, b } = makePair({ seed: 99 });
  establish(a, b, 0);
  const data = network(a.device.send(1, ipv4(A_TUNNEL, B_TUNNEL, 100)))[0]!.bytes;
  // A fresh initiation from A's key that B has not consumed (newer timestamp).
  wall.offset += 10_000;
  const twin = new Device({ privateKey: a.privateKey, counters: new Counters(), random: seededRandom(5), wallClock: () => 1_900_000_000_000 + wall.offset });
  twin.addPeer({ publicKey: b.device.publicKey, allowedIps: [parseCidr(`${B_TUNNEL}/32`)], endpoint: b.endpoint });
  const initiation = network(twin.send(0, ipv4(A_TUNNEL, B_TUNNEL)))[0]!.bytes;
  const keepalive = network(b.device.poll(10_000))[0]!.bytes; // B -> A; to B it is garbage for an unknown index
  return {
    b,
    originals: [
      { bytes: data, authenticatedLength: data.length },
      { bytes: initiation, authenticatedLength: INITIATION_MAC2_OFFSET },
      { bytes: keepalive, authenticatedLength: keepalive.length },
    ],
  };
}

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 4 }) }),
  fc.record({ kind: fc.constant('truncate' as const), keep: fc.nat() }),
  fc.record({ kind: fc.constant('extend' as const), extra: fc.uint8Array({ minLength: 1, maxLength: 40 }) }),
);

function mutate(bytes: Uint8Array, m: typeof mutation extends fc.Arbitrary<infer T> ? T : never): Uint8Array {
  switch (m.kind) {
    case 'flip': {
      const out = Uint8Array.from(bytes);
      for (const [i, bit] of m.flips) out[i % out.length]! ^= 1 << bit;
      return out;
    }
    case 'truncate': return bytes.slice(0, m.keep % bytes.length);
    case 'extend': return new Uint8Array([...bytes, ...m.extra]);
  }
}

const total = (c: Counters) => Object.values(c.snapshot()).reduce((s, v) => s + v, 0);
const sameBytes = (a: Uint8Array, b: Uint8Array, n: number) => a.length >= n && b.length >= n && a.subarray(0, n).every((x, i) => x === b[i]);

/** Feeds `input` to B; checks it did not throw, and that it was either authentic, counted, or (under load) cookied. */
function feed(b: Side, input: Uint8Array, authentic: boolean, mac1Intact: boolean): void {
  const before = total(b.counters);
  let out: DeviceOutput[] = [];
  assert.doesNotThrow(() => { out = b.device.receive(100, A_ENDPOINT, input); });
  if (out.length === 0) {
    assert.ok(total(b.counters) > before, 'a dropped datagram is counted');
    return;
  }
  if (authentic) return;
  assert.ok(b.underLoad && mac1Intact, `output for unauthenticated input: ${Buffer.from(input).toString('hex')}`);
  assert.deepEqual(out.map((o) => o.kind === 'toNetwork' && o.bytes[0]), [3], 'only a cookie reply');
}

describe('fuzz: WireGuard Device.receive', () => {
  it('random datagrams are dropped and counted', () => {
    const { b } = corpus();
    const datagram = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.tuple(fc.integer({ min: 1, max: 4 }), fc.constantFrom(148, 92, 64, 32, 48, 1456), fc.uint8Array({ minLength: 1500, maxLength: 1500 }))
        .map(([type, length, body]) => { const d = body.slice(0, length); d[0] = type; d[1] = d[2] = d[3] = 0; return d; }),
    );
    for (const underLoad of [false, true]) {
      b.underLoad = underLoad;
      fc.assert(fc.property(datagram, (d) => feed(b, d, false, false)), { numRuns: RUNS, seed: 1 });
    }
  });

  for (const underLoad of [false, true]) {
    it(`mutated valid messages never yield output unless authentic${underLoad ? ' (under load: cookies only)' : ''}`, () => {
      const { b, originals } = corpus();
      b.underLoad = underLoad;
      fc.assert(fc.property(fc.nat({ max: originals.length - 1 }), mutation, (which, m) => {
        const original = originals[which]!;
        const input = mutate(original.bytes, m);
        const authentic = input.length === original.bytes.length && sameBytes(input, original.bytes, original.authenticatedLength);
        const mac1Intact = input.length === original.bytes.length && sameBytes(input, original.bytes, INITIATION_MAC1_OFFSET + 16) && which === 1;
        feed(b, input, authentic, mac1Intact);
      }), { numRuns: RUNS, seed: underLoad ? 2 : 3 });
    });
  }
});
