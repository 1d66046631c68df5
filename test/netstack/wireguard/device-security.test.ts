/**
 * What the Device must refuse: replays, spoofed inner sources, forged packets moving the endpoint,
 * unknown peers, wrong preshared keys, stale or flooding initiations; and cookie replies under load.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Counters } from '../../../netstack/counters.js';
import { parseCidr } from '../../../netstack/wire/ip-address.js';
import { Device } from '../../../netstack/wireguard/device.js';
import { REKEY_TIMEOUT, UNDER_LOAD_HANDSHAKES_PER_SECOND } from '../../../netstack/wireguard/constants.js';
import { generatePrivateKey, publicKeyFromPrivate } from '../../../netstack/wireguard/keys.js';
import { INITIATION_MAC2_OFFSET, MAC_SIZE } from '../../../netstack/wire/wireguard-messages.js';
import {
  A_ENDPOINT, A_TUNNEL, B_ENDPOINT, B_TUNNEL, establish, ipv4, makePair, messageType, network, pump, seededRandom, tunnel, wall,
} from './helpers.js';

const ELSEWHERE = { address: '198.18.0.99', port: 40000 };
const isZero = (b: Uint8Array) => b.every((x) => x === 0);

describe('Device security', () => {
  it('drops a replayed data packet and counts it', () => {
    const { a, b } = makePair();
    establish(a, b, 0);
    const data = network(a.device.send(1, ipv4(A_TUNNEL, B_TUNNEL)))[0]!;
    assert.equal(tunnel(b.device.receive(2, A_ENDPOINT, data.bytes)).length, 1);
    assert.deepEqual(b.device.receive(3, A_ENDPOINT, data.bytes), []);
    assert.equal(b.counters.get('wg.replay'), 1);
  });

  it('accepts out-of-order packets within the window, once each', () => {
    const { a, b } = makePair();
    establish(a, b, 0);
    const packets = Array.from({ length: 5 }, (_, i) => network(a.device.send(1, ipv4(A_TUNNEL, B_TUNNEL, i)))[0]!.bytes);
    for (const i of [4, 0, 2, 1, 3]) assert.equal(tunnel(b.device.receive(2, A_ENDPOINT, packets[i]!)).length, 1, `packet ${i}`);
    for (const p of packets) assert.deepEqual(b.device.receive(3, A_ENDPOINT, p), []);
    assert.equal(b.counters.get('wg.replay'), 5);
  });

  it('drops decrypted packets whose inner source is not in the sender\'s allowed IPs', () => {
    const { a, b } = makePair();
    const c = generatePrivateKey(seededRandom(11));
    a.device.addPeer({ publicKey: publicKeyFromPrivate(c), allowedIps: [parseCidr('100.64.0.3/32')] });
    establish(a, b, 0);
    for (const src of ['100.64.0.99', '100.64.0.3', A_TUNNEL]) {
      const spoofed = network(b.device.send(1, ipv4(src, A_TUNNEL)))[0]!;
      assert.deepEqual(a.device.receive(2, B_ENDPOINT, spoofed.bytes), []);
    }
    assert.equal(a.counters.get('wg.allowed_ips'), 3);
  });

  it('moves the endpoint only on authenticated packets (roaming)', () => {
    const { a, b } = makePair();
    establish(a, b, 0);
    const data = network(a.device.send(1, ipv4(A_TUNNEL, B_TUNNEL)))[0]!;
    const forged = Uint8Array.from(data.bytes);
    forged[forged.length - 1]! ^= 1;
    assert.deepEqual(b.device.receive(2, ELSEWHERE, forged), []);
    assert.equal(b.counters.get('wg.decrypt_failed'), 1);
    assert.deepEqual(b.peer.endpoint, A_ENDPOINT, 'a forged packet does not move the endpoint');
    assert.equal(tunnel(b.device.receive(3, A_ENDPOINT, data.bytes)).length, 1);
    assert.deepEqual(b.device.receive(4, ELSEWHERE, data.bytes), [], 'a replay from elsewhere');
    assert.deepEqual(b.peer.endpoint, A_ENDPOINT, 'a replayed packet does not move the endpoint');

    const fresh = network(a.device.send(5, ipv4(A_TUNNEL, B_TUNNEL)))[0]!;
    assert.equal(tunnel(b.device.receive(6, ELSEWHERE, fresh.bytes)).length, 1);
    assert.deepEqual(b.peer.endpoint, ELSEWHERE, 'a genuine packet from a new address moves it');
    assert.deepEqual(network(b.device.send(7, ipv4(B_TUNNEL, A_TUNNEL)))[0]!.to, ELSEWHERE);
  });

  it('drops an initiation from an unknown peer without replying', () => {
    const { b } = makePair();
    const stranger = new Device({ privateKey: generatePrivateKey(seededRandom(12)), counters: new Counters(), random: seededRandom(13) });
    stranger.addPeer({ publicKey: b.device.publicKey, allowedIps: [parseCidr('0.0.0.0/0')], endpoint: B_ENDPOINT });
    const init = network(stranger.send(0, ipv4('100.64.0.50', B_TUNNEL)))[0]!;
    assert.deepEqual(b.device.receive(1, ELSEWHERE, init.bytes), []);
    assert.equal(b.counters.get('wg.unknown_peer'), 1);
  });

  it('drops an initiation whose mac1 is for another key, without replying', () => {
    const { a, b } = makePair();
    const init = network(a.device.send(0, ipv4(A_TUNNEL, B_TUNNEL)))[0]!;
    const other = new Device({ privateKey: generatePrivateKey(seededRandom(14)), counters: new Counters() });
    assert.deepEqual(other.receive(0, A_ENDPOINT, init.bytes), []);
    const tampered = Uint8Array.from(init.bytes);
    tampered[10]! ^= 0x80;
    assert.deepEqual(b.device.receive(1, A_ENDPOINT, tampered), []);
    assert.equal(b.counters.get('wg.bad_mac1'), 1);
  });

  it('fails the handshake when preshared keys differ, and succeeds when they match', () => {
    const psk1 = new Uint8Array(32).fill(1);
    const psk2 = new Uint8Array(32).fill(2);
    const mismatch = makePair({ presharedKeyA: psk1, presharedKeyB: psk2 });
    const r = pump(0, mismatch.a, mismatch.b, mismatch.a.device.send(0, ipv4(A_TUNNEL, B_TUNNEL)), mismatch.a);
    assert.equal(r.toB.length, 0);
    assert.equal(mismatch.a.counters.get('wg.decrypt_failed'), 1, 'the response does not authenticate');
    assert.equal(mismatch.a.counters.get('wg.handshake_completed'), 0);
    const onlyOne = makePair({ presharedKeyA: psk1 });
    assert.equal(pump(0, onlyOne.a, onlyOne.b, onlyOne.a.device.send(0, ipv4(A_TUNNEL, B_TUNNEL)), onlyOne.a).toB.length, 0);
    const match = makePair({ presharedKeyA: psk1, presharedKeyB: psk1 });
    assert.equal(establish(match.a, match.b).length, 28);
  });

  it('refuses a replayed initiation (TAI64N not newer) and more than one initiation per 20 ms', () => {
    const { a, b } = makePair();
    const init = network(a.device.send(0, ipv4(A_TUNNEL, B_TUNNEL)))[0]!;
    assert.equal(network(b.device.receive(1, A_ENDPOINT, init.bytes)).length, 1);
    assert.deepEqual(b.device.receive(1000, A_ENDPOINT, init.bytes), []);
    assert.equal(b.counters.get('wg.stale_timestamp'), 1);

    // A second Device with A's key stands in for A sending fresh initiations quickly.
    const twin = new Device({ privateKey: a.privateKey, counters: new Counters(), random: seededRandom(77), wallClock: () => 1_800_000_000_000 + wall.offset });
    twin.addPeer({ publicKey: b.device.publicKey, allowedIps: [parseCidr(`${B_TUNNEL}/32`)], endpoint: B_ENDPOINT });
    const fresh = () => {
      wall.offset += 100; // past the 16 ms timestamp granularity
      twin.removePeer(b.device.publicKey);
      twin.addPeer({ publicKey: b.device.publicKey, allowedIps: [parseCidr(`${B_TUNNEL}/32`)], endpoint: B_ENDPOINT });
      return network(twin.send(0, ipv4(A_TUNNEL, B_TUNNEL)))[0]!.bytes;
    };
    assert.equal(network(b.device.receive(2000, A_ENDPOINT, fresh())).length, 1);
    assert.deepEqual(b.device.receive(2010, A_ENDPOINT, fresh()), []);
    assert.equal(b.counters.get('wg.initiation_flood'), 1);
    assert.equal(network(b.device.receive(2030, A_ENDPOINT, fresh())).length, 1);
  });

  it('under load answers a mac1-valid initiation with a cookie; the retry carries mac2 and is accepted', () => {
    const { a, b } = makePair();
    b.underLoad = true;
    const init = network(a.device.send(0, ipv4(A_TUNNEL, B_TUNNEL)))[0]!;
    assert.ok(isZero(init.bytes.subarray(INITIATION_MAC2_OFFSET, INITIATION_MAC2_OFFSET + MAC_SIZE)));
    const reply = network(b.device.receive(1, A_ENDPOINT, init.bytes));
    assert.equal(reply.length, 1);
    assert.equal(messageType(reply[0]!.bytes), 3);
    assert.equal(reply[0]!.bytes.length, 64);
    assert.deepEqual(reply[0]!.to, A_ENDPOINT);
    assert.equal(b.counters.get('wg.cookie_sent'), 1);
    assert.equal(b.counters.get('wg.handshake_response_sent'), 0, 'no DH work for it');

    assert.deepEqual(a.device.receive(2, B_ENDPOINT, reply[0]!.bytes), []);
    assert.equal(a.counters.get('wg.cookie_received'), 1);
    assert.deepEqual(a.device.receive(3, B_ENDPOINT, reply[0]!.bytes), [], 'a cookie is taken once');
    assert.equal(a.counters.get('wg.bad_cookie'), 1);

    wall.offset += 1000;
    const retryAt = a.device.nextDeadline()!;
    assert.ok(retryAt >= REKEY_TIMEOUT);
    const retry = network(a.device.poll(retryAt))[0]!;
    assert.equal(messageType(retry.bytes), 1);
    assert.ok(!isZero(retry.bytes.subarray(INITIATION_MAC2_OFFSET, INITIATION_MAC2_OFFSET + MAC_SIZE)), 'mac2 set from the cookie');
    const { toB } = pump(retryAt, a, b, [retry], a);
    assert.equal(toB.length, 1, 'handshake done and the staged packet delivered while B is under load');
    assert.equal(b.counters.get('wg.cookie_sent'), 1);

    // The cookie is bound to A's address: the same message from elsewhere gets a fresh cookie instead.
    wall.offset += 1000;
    const moved = network(b.device.receive(retryAt + 10, ELSEWHERE, retry.bytes));
    assert.deepEqual(moved.map((o) => messageType(o.bytes)), [3]);
  });

  it('never sends a cookie for a message without a valid mac1, even under load', () => {
    const { a, b } = makePair();
    b.underLoad = true;
    const init = Uint8Array.from(network(a.device.send(0, ipv4(A_TUNNEL, B_TUNNEL)))[0]!.bytes);
    init[20]! ^= 1;
    assert.deepEqual(b.device.receive(1, A_ENDPOINT, init), []);
    assert.equal(b.counters.get('wg.bad_mac1'), 1);
    assert.equal(b.counters.get('wg.cookie_sent'), 0);
  });

  it('goes under load by itself when handshake messages arrive faster than the threshold', () => {
    const { a } = makePair();
    const counters = new Counters();
    const bKey = generatePrivateKey(seededRandom(8)); // makePair's B key is not exported; use a fresh responder
    const responder = new Device({ privateKey: bKey, counters, random: seededRandom(5) });
    responder.addPeer({ publicKey: publicKeyFromPrivate(a.privateKey), allowedIps: [parseCidr(`${A_TUNNEL}/32`)] });
    a.device.addPeer({ publicKey: responder.publicKey, allowedIps: [parseCidr('100.64.1.0/24')], endpoint: { address: '198.18.0.3', port: 1 } });
    const init = network(a.device.send(0, ipv4(A_TUNNEL, '100.64.1.1')))[0]!.bytes;
    const flood = Uint8Array.from(init);
    flood[INITIATION_MAC2_OFFSET - 1]! ^= 1; // bad mac1: cheap to drop, still counts toward load
    for (let i = 0; i < UNDER_LOAD_HANDSHAKES_PER_SECOND; i++) responder.receive(i / 1000, ELSEWHERE, flood);
    assert.equal(counters.get('wg.bad_mac1'), UNDER_LOAD_HANDSHAKES_PER_SECOND);
    const reply = network(responder.receive(0.6, A_ENDPOINT, init));
    assert.deepEqual(reply.map((o) => messageType(o.bytes)), [3]);
    // After the flood, load subsides.
    const later = network(responder.receive(5000, A_ENDPOINT, init));
    assert.deepEqual(later.map((o) => messageType(o.bytes)), [2]);
  });

  it('counts and drops bad lengths, unknown types and unknown receivers without replying', () => {
    const { b } = makePair();
    const cases: [Uint8Array, string][] = [
      [new Uint8Array(0), 'wg.bad_length'],
      [new Uint8Array([1, 0, 0]), 'wg.bad_length'],
      [Uint8Array.of(1, 0, 0, 0, ...new Array(100).fill(0)), 'wg.bad_length'],
      [new Uint8Array(149).fill(0).map((_, i) => (i === 0 ? 1 : 0)), 'wg.bad_length'],
      [Uint8Array.of(4, ...new Array(30).fill(0)), 'wg.bad_length'],
      [Uint8Array.of(5, 0, 0, 0, ...new Array(60).fill(0)), 'wg.unknown_type'],
      [Uint8Array.of(1, 1, 0, 0, ...new Array(144).fill(0)), 'wg.unknown_type'],
      [Uint8Array.of(4, 0, 0, 0, ...new Array(60).fill(0)), 'wg.unknown_receiver'],
      [Uint8Array.of(3, 0, 0, 0, ...new Array(60).fill(0)), 'wg.unknown_receiver'],
    ];
    for (const [bytes, counter] of cases) {
      const before = b.counters.get(counter);
      assert.deepEqual(b.device.receive(0, A_ENDPOINT, bytes), []);
      assert.equal(b.counters.get(counter), before + 1, counter);
    }
  });
});
