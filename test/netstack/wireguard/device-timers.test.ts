/** Whitepaper §6 timers on a manual clock: rekey, reject, keepalives, retries, give-up, zeroing. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  KEEPALIVE_TIMEOUT, REJECT_AFTER_TIME, REKEY_AFTER_TIME, REKEY_ATTEMPT_TIME, REKEY_TIMEOUT, REKEY_TIMEOUT_JITTER_MAX,
} from '../../../netstack/wireguard/constants.js';
import { readU32 } from '../../../netstack/wire/wireguard-messages.js';
import {
  A_ENDPOINT, A_TUNNEL, B_ENDPOINT, B_TUNNEL, establish, ipv4, makePair, messageType, network, pump, runTimers, tunnel, wall,
} from './helpers.js';

const types = (outs: ReturnType<typeof network>) => outs.map((o) => messageType(o.bytes));

describe('Device timers', () => {
  it('the initiator rekeys when sending on a session REKEY_AFTER_TIME old; the responder does not', () => {
    const { a, b } = makePair();
    establish(a, b, 0);
    assert.deepEqual(types(network(a.device.send(REKEY_AFTER_TIME - 3, ipv4(A_TUNNEL, B_TUNNEL)))), [4]);
    assert.deepEqual(types(network(b.device.send(REKEY_AFTER_TIME + 10, ipv4(B_TUNNEL, A_TUNNEL)))), [4], 'responder keeps its session');
    wall.offset += 1000;
    const outs = a.device.send(REKEY_AFTER_TIME, ipv4(A_TUNNEL, B_TUNNEL));
    assert.deepEqual(types(network(outs)), [4, 1], 'data still goes on the old session, then an initiation');
    const { toB } = pump(REKEY_AFTER_TIME, a, b, outs, a);
    assert.equal(toB.length, 1);
    assert.equal(a.counters.get('wg.handshake_completed'), 2);
    assert.equal(b.counters.get('wg.handshake_completed'), 2, 'A\'s keepalive confirmed the new session to B');
    // Both now use the new session, and the old one is still accepted as `previous`.
    assert.deepEqual(types(network(a.device.send(REKEY_AFTER_TIME + 1, ipv4(A_TUNNEL, B_TUNNEL)))), [4]);
  });

  it('rejects a session REJECT_AFTER_TIME old for sending and receiving', () => {
    const { a, b } = makePair();
    establish(a, b, 0);
    const late = network(a.device.send(REKEY_AFTER_TIME - 10_000, ipv4(A_TUNNEL, B_TUNNEL)))[0]!;
    assert.equal(messageType(late.bytes), 4);
    assert.deepEqual(b.device.receive(REJECT_AFTER_TIME, A_ENDPOINT, late.bytes), []);
    assert.equal(b.counters.get('wg.expired_keypair'), 1);
    wall.offset += 1000;
    assert.deepEqual(types(network(a.device.send(REJECT_AFTER_TIME, ipv4(A_TUNNEL, B_TUNNEL)))), [1], 'no data on an expired session: handshake first');
    assert.deepEqual(types(network(b.device.send(REJECT_AFTER_TIME + 1, ipv4(B_TUNNEL, A_TUNNEL)))), [1], 'the responder initiates too');
  });

  it('the initiator rekeys once when receiving on a session REJECT - KEEPALIVE - REKEY_TIMEOUT old', () => {
    const { a, b } = makePair();
    establish(a, b, 0);
    const at = REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT;
    const before = network(b.device.send(at - 1, ipv4(B_TUNNEL, A_TUNNEL)))[0]!;
    assert.deepEqual(types(network(a.device.receive(at - 1, B_ENDPOINT, before.bytes))), []);
    const data = network(b.device.send(at, ipv4(B_TUNNEL, A_TUNNEL)))[0]!;
    const outs = a.device.receive(at, B_ENDPOINT, data.bytes);
    assert.equal(tunnel(outs).length, 1);
    assert.deepEqual(types(network(outs)), [1]);
    const again = network(b.device.send(at + REKEY_TIMEOUT + 1000, ipv4(B_TUNNEL, A_TUNNEL)))[0]!;
    assert.deepEqual(types(network(a.device.receive(at + REKEY_TIMEOUT + 1000, B_ENDPOINT, again.bytes))), [], 'no second initiation while the first round runs');
  });

  it('sends a passive keepalive KEEPALIVE_TIMEOUT after receiving data with nothing sent back', () => {
    const { a, b } = makePair();
    establish(a, b, 0);
    assert.equal(b.device.nextDeadline(), KEEPALIVE_TIMEOUT);
    assert.deepEqual(b.device.poll(KEEPALIVE_TIMEOUT - 1), []);
    const keepalive = network(b.device.poll(KEEPALIVE_TIMEOUT));
    assert.deepEqual(keepalive.map((o) => o.bytes.length), [32], 'an empty transport message');
    assert.deepEqual(a.device.receive(KEEPALIVE_TIMEOUT, B_ENDPOINT, keepalive[0]!.bytes), [], 'keepalives are not delivered');
    assert.equal(a.counters.get('wg.keepalive_received'), 1);
    assert.equal(b.counters.get('wg.keepalive_sent'), 1);
  });

  it('sending anything cancels the passive keepalive', () => {
    const { a, b } = makePair();
    establish(a, b, 0);
    pump(5_000, a, b, b.device.send(5_000, ipv4(B_TUNNEL, A_TUNNEL)), b);
    assert.deepEqual(network(b.device.poll(KEEPALIVE_TIMEOUT)), []);
    assert.equal(b.counters.get('wg.keepalive_sent'), 0);
  });

  it('initiates a new handshake when data sent gets no reply for KEEPALIVE_TIMEOUT + REKEY_TIMEOUT (+ jitter)', () => {
    const { a, b } = makePair();
    establish(a, b, 0);
    pump(KEEPALIVE_TIMEOUT, a, b, b.device.poll(KEEPALIVE_TIMEOUT), b); // B's keepalive clears A's timer
    const sentAt = 20_000;
    network(a.device.send(sentAt, ipv4(A_TUNNEL, B_TUNNEL))); // lost
    const deadline = a.device.nextDeadline()!;
    assert.ok(deadline >= sentAt + KEEPALIVE_TIMEOUT + REKEY_TIMEOUT && deadline <= sentAt + KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX, String(deadline));
    assert.deepEqual(types(network(a.device.poll(deadline))), [1]);
  });

  it('sends persistent keepalives every interval, starting with one at configuration', () => {
    const { a, b } = makePair({ persistentKeepaliveA: 25 });
    assert.equal(a.device.nextDeadline(), 0);
    const first = a.device.poll(0);
    assert.deepEqual(types(network(first)), [1], 'the keepalive needs a session, so a handshake starts');
    pump(0, a, b, first, a);
    assert.equal(b.counters.get('wg.keepalive_received'), 1, 'the staged keepalive confirmed the session');
    const sent: number[] = [];
    runTimers(a, b, 80_000, (now, side, outs) => { if (side === a) for (const o of network(outs)) sent.push(now, o.bytes.length); });
    assert.deepEqual(sent, [25_000, 32, 50_000, 32, 75_000, 32]);
  });

  it('retries an unanswered initiation every REKEY_TIMEOUT + jitter with fresh keys, giving up after REKEY_ATTEMPT_TIME', () => {
    const { a } = makePair();
    const times: number[] = [];
    const senders = new Set<number>();
    const record = (now: number, outs: ReturnType<typeof network>) => {
      for (const o of outs) { times.push(now); senders.add(readU32(o.bytes, 4)); assert.equal(messageType(o.bytes), 1); }
    };
    record(0, network(a.device.send(0, ipv4(A_TUNNEL, B_TUNNEL))));
    let now = 0;
    while ((now = a.device.nextDeadline() ?? Infinity) < 2 * REKEY_ATTEMPT_TIME) record(now, network(a.device.poll(now)));
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    assert.ok(gaps.every((g) => g >= REKEY_TIMEOUT && g <= REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX), gaps.join(','));
    assert.ok(new Set(gaps).size > 1, 'jittered');
    assert.ok(times.at(-1)! < REKEY_ATTEMPT_TIME);
    assert.ok(times.length >= REKEY_ATTEMPT_TIME / (REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX) && times.length <= REKEY_ATTEMPT_TIME / REKEY_TIMEOUT + 1, String(times.length));
    assert.equal(senders.size, times.length, 'each attempt is a new handshake');
    assert.equal(a.counters.get('wg.handshake_gave_up'), 1);
    assert.equal(a.counters.get('wg.staged_dropped'), 1);
    // New data starts a new round.
    assert.deepEqual(types(network(a.device.send(2 * REKEY_ATTEMPT_TIME, ipv4(A_TUNNEL, B_TUNNEL)))), [1]);
  });

  it('zeroes all keys after 3 x REJECT_AFTER_TIME without a new handshake', () => {
    const { a, b } = makePair();
    establish(a, b, 0);
    pump(KEEPALIVE_TIMEOUT, a, b, b.device.poll(KEEPALIVE_TIMEOUT), b);
    const captured = network(a.device.send(11_000, ipv4(A_TUNNEL, B_TUNNEL)))[0]!;
    runTimers(a, b, 3 * REJECT_AFTER_TIME - 1);
    assert.equal(b.counters.get('wg.keys_zeroed'), 0);
    assert.deepEqual(b.device.receive(3 * REJECT_AFTER_TIME - 1, A_ENDPOINT, captured.bytes), []);
    assert.equal(b.counters.get('wg.expired_keypair'), 1, 'still known, only expired');
    runTimers(a, b, 3 * REJECT_AFTER_TIME + 1);
    assert.equal(a.counters.get('wg.keys_zeroed'), 1);
    assert.equal(b.counters.get('wg.keys_zeroed'), 1);
    assert.deepEqual(b.device.receive(3 * REJECT_AFTER_TIME + 2, A_ENDPOINT, captured.bytes), []);
    assert.equal(b.counters.get('wg.unknown_receiver'), 1, 'the session is gone entirely');
    assert.equal(a.device.nextDeadline(), undefined);
    wall.offset += 1000;
    assert.deepEqual(types(network(a.device.send(3 * REJECT_AFTER_TIME + 3, ipv4(A_TUNNEL, B_TUNNEL)))), [1]);
  });
});
