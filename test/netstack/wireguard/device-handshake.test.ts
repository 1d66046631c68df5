/** Device handshakes and data between our own initiator and responder, on a manual clock. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Counters } from '../../../netstack/counters.js';
import { parseAddress, parseCidr } from '../../../netstack/wire/ip-address.js';
import { Device } from '../../../netstack/wireguard/device.js';
import { MAX_STAGED_PACKETS } from '../../../netstack/wireguard/constants.js';
import { generatePrivateKey } from '../../../netstack/wireguard/keys.js';
import {
  A_ENDPOINT, A_TUNNEL, B_ENDPOINT, B_TUNNEL, establish, ipv4, ipv6, makePair, messageType, network, pump, seededRandom, tunnel,
} from './helpers.js';

describe('Device handshake', () => {
  it('completes initiation -> response -> first data, with the whitepaper message sizes', () => {
    const { a, b } = makePair();
    const first = a.device.send(0, ipv4(A_TUNNEL, B_TUNNEL));
    assert.equal(first.length, 1);
    const init = network(first)[0]!;
    assert.deepEqual(init.to, B_ENDPOINT);
    assert.equal(init.bytes.length, 148);
    assert.equal(messageType(init.bytes), 1);

    const response = network(b.device.receive(1, A_ENDPOINT, init.bytes));
    assert.equal(response.length, 1);
    assert.equal(response[0]!.bytes.length, 92);
    assert.equal(messageType(response[0]!.bytes), 2);
    assert.deepEqual(response[0]!.to, A_ENDPOINT, 'B learned A\'s endpoint from the authenticated initiation');

    const data = network(a.device.receive(2, B_ENDPOINT, response[0]!.bytes));
    assert.equal(data.length, 1, 'the staged packet goes out as soon as the session exists');
    assert.equal(messageType(data[0]!.bytes), 4);
    assert.equal(data[0]!.bytes.length, 16 + 32 + 16, '28-byte packet padded to 32');

    const delivered = tunnel(b.device.receive(3, A_ENDPOINT, data[0]!.bytes));
    assert.equal(delivered.length, 1);
    assert.deepEqual([...delivered[0]!.packet], [...ipv4(A_TUNNEL, B_TUNNEL)]);
    assert.equal(delivered[0]!.peer, b.peer);
    assert.equal(a.counters.get('wg.handshake_completed'), 1);
    assert.equal(b.counters.get('wg.handshake_completed'), 1);
    assert.equal(a.peer.lastHandshakeAt, 2);
    assert.equal(b.peer.lastHandshakeAt, 3, 'the responder counts the handshake complete on first data');
  });

  it('carries IPv4 and IPv6 both ways and strips padding', () => {
    const { a, b } = makePair();
    establish(a, b, 0);
    for (const size of [0, 1, 15, 16, 17, 1380]) {
      const back = ipv4(B_TUNNEL, A_TUNNEL, size);
      const r1 = pump(10, a, b, b.device.send(10, back), b);
      assert.deepEqual(r1.toA.map((p) => p.length), [back.length]);
      assert.deepEqual([...r1.toA[0]!], [...back]);
      const v6 = ipv6(parseAddress('fd00::1'), parseAddress('fd00::2'), size);
      const r2 = pump(10, a, b, a.device.send(10, v6), a);
      assert.deepEqual([...r2.toB[0]!], [...v6]);
    }
    assert.deepEqual(Object.keys(a.counters.snapshot()).filter((k) => !k.startsWith('wg.handshake')), []);
  });

  it('sends only the IP packet\'s stated length, not trailing bytes', () => {
    const { a, b } = makePair();
    establish(a, b, 0);
    const packet = ipv4(A_TUNNEL, B_TUNNEL, 4);
    const withTrailer = new Uint8Array(packet.length + 7);
    withTrailer.set(packet);
    const { toB } = pump(1, a, b, a.device.send(1, withTrailer), a);
    assert.deepEqual([...toB[0]!], [...packet]);
  });

  it('keeps the responder\'s new session in `next` until the initiator\'s first data', () => {
    const { a, b } = makePair();
    const init = network(a.device.send(0, ipv4(A_TUNNEL, B_TUNNEL)))[0]!;
    const response = network(b.device.receive(1, A_ENDPOINT, init.bytes))[0]!;
    // B wants to send before A has used the new keys: it may not, so it stages and initiates itself.
    const early = network(b.device.send(2, ipv4(B_TUNNEL, A_TUNNEL)));
    assert.deepEqual(early.map((o) => messageType(o.bytes)), [1]);
    const data = network(a.device.receive(3, B_ENDPOINT, response.bytes))[0]!;
    const confirmed = b.device.receive(4, A_ENDPOINT, data.bytes);
    assert.equal(tunnel(confirmed).length, 1);
    assert.deepEqual(network(confirmed).map((o) => messageType(o.bytes)), [4], 'the staged packet leaves once confirmed');
    const { toA } = pump(5, a, b, network(confirmed), b);
    assert.equal(toA.length, 1);
  });

  it('bounds the packets staged during a handshake and counts the overflow', () => {
    const { a, b } = makePair();
    const outs = [];
    for (let i = 0; i < MAX_STAGED_PACKETS + 20; i++) outs.push(...a.device.send(0, ipv4(A_TUNNEL, B_TUNNEL, i)));
    assert.equal(outs.length, 1, 'one initiation for all of them');
    assert.equal(a.counters.get('wg.queue_full'), 20);
    const { toB } = pump(1, a, b, outs, a);
    assert.equal(toB.length, MAX_STAGED_PACKETS);
    assert.equal(toB[0]!.length, 20 + 20, 'the oldest were dropped');
  });

  it('drops packets with no route or that are not IP', () => {
    const { a } = makePair();
    assert.deepEqual(a.device.send(0, ipv4(A_TUNNEL, '100.64.9.9')), []);
    assert.deepEqual(a.device.send(0, new Uint8Array([0x45, 0, 0])), []);
    assert.deepEqual(a.device.send(0, new Uint8Array(0)), []);
    assert.equal(a.counters.get('wg.no_route'), 1);
    assert.equal(a.counters.get('wg.bad_packet'), 2);
  });

  it('routes by longest prefix and updates allowed IPs when a peer is re-added', () => {
    const { a, b } = makePair();
    const extra = a.device.addPeer({ publicKey: generatePrivateKey(seededRandom(3)), allowedIps: [parseCidr('100.64.0.0/24')] });
    establish(a, b, 0);
    assert.equal(a.device.send(1, ipv4(A_TUNNEL, B_TUNNEL)).length, 1, '/32 to b wins over /24');
    const toExtra = a.device.send(1, ipv4(A_TUNNEL, '100.64.0.7'));
    assert.equal(toExtra.length, 0, 'extra has no endpoint, so its packet waits');
    assert.equal(a.counters.get('wg.no_endpoint'), 1);
    const same = a.device.addPeer({ publicKey: a.peer.publicKey, allowedIps: [parseCidr('100.64.0.7/32')], endpoint: B_ENDPOINT });
    assert.equal(same, a.peer, 're-adding a key updates the existing peer');
    assert.equal(a.device.peers().length, 2);
    assert.deepEqual(a.peer.allowedIps.map((c) => `${c.address.join('.')}/${c.prefixLength}`), ['100.64.0.7/32']);
    assert.equal(extra.allowedIps.length, 1);
    assert.equal(a.device.send(2, ipv4(A_TUNNEL, '100.64.0.7')).length, 1);
    assert.equal(a.device.send(2, ipv4(A_TUNNEL, B_TUNNEL)).length, 0, 'b no longer owns 100.64.0.2: routed to extra now');
  });

  it('removePeer forgets the peer: no route, and its packets are unknown', () => {
    const { a, b } = makePair();
    establish(a, b, 0);
    const data = network(a.device.send(1, ipv4(A_TUNNEL, B_TUNNEL)))[0]!;
    b.device.removePeer(b.peer.publicKey);
    assert.equal(b.device.peers().length, 0);
    assert.deepEqual(b.device.receive(2, A_ENDPOINT, data.bytes), []);
    assert.equal(b.counters.get('wg.unknown_receiver'), 1);
    assert.deepEqual(b.device.send(2, ipv4(B_TUNNEL, A_TUNNEL)), []);
    assert.equal(b.counters.get('wg.no_route'), 1);
  });

  it('refuses malformed configuration as programmer errors', () => {
    const counters = new Counters();
    const key = generatePrivateKey(seededRandom(9));
    const device = new Device({ privateKey: key, counters });
    assert.throws(() => device.addPeer({ publicKey: new Uint8Array(31), allowedIps: [] }), /32 bytes/);
    assert.throws(() => device.addPeer({ publicKey: device.publicKey, allowedIps: [] }), /own public key/);
    assert.throws(() => device.addPeer({ publicKey: new Uint8Array(32).fill(9), presharedKey: new Uint8Array(5), allowedIps: [] }), /preshared/);
    assert.throws(() => device.addPeer({ publicKey: new Uint8Array(32).fill(9), allowedIps: [{ address: new Uint8Array(4), prefixLength: 33 }] }), RangeError);
    assert.equal(device.peers().length, 0, 'nothing half-added');
  });
});
