/** Connection caps per peer and in total, each refusal counted. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TCP_RST, TCP_SYN } from '../../../netstack/wire/tcp.js';
import { Agent, Events, conns, newStack, open, transmits } from './helpers.js';

describe('TCP caps', () => {
  it('drops SYNs over the half-open cap per peer, without hurting other peers', () => {
    const { stack, counters } = newStack({ maxHalfOpenPerPeer: 3 });
    const ev = new Events();
    for (let port = 1; port <= 5; port++) stack.input(0, new Agent(4, port, 80, 'a').seg({ seq: 1, flags: TCP_SYN }), ev.emit);
    stack.input(0, new Agent(4, 9, 80, 'b').seg({ seq: 1, flags: TCP_SYN }), ev.emit);
    const offers = conns(ev.take(), 'offer');
    assert.deepEqual(offers.map((c) => c.peer), ['a', 'a', 'a', 'b']);
    assert.equal(counters.get('tcp.half_open_limit'), 2);
    // Accepted and established connections stop being half-open.
    offers[0]!.refuse(1);
    stack.flush(1, ev.emit);
    ev.take();
    stack.input(2, new Agent(4, 6, 80, 'a').seg({ seq: 1, flags: TCP_SYN }), ev.emit);
    assert.equal(conns(ev.take(), 'offer').length, 1);
  });

  it('caps half-open connections in total', () => {
    const { stack, counters } = newStack({ maxHalfOpen: 4, maxHalfOpenPerPeer: 10 });
    const ev = new Events();
    for (let port = 1; port <= 6; port++) stack.input(0, new Agent(4, port, 80, `peer${port % 3}`).seg({ seq: 1, flags: TCP_SYN }), ev.emit);
    assert.equal(conns(ev.take(), 'offer').length, 4);
    assert.equal(counters.get('tcp.half_open_limit'), 2);
    assert.equal(stack.halfOpenCount, 4);
  });

  it('refuses with RST over the connection cap per peer and in total', () => {
    const { stack, counters } = newStack({ maxConnectionsPerPeer: 2, maxConnections: 3 });
    const ev = new Events();
    open(stack, new Agent(4, 1, 80, 'a'), ev);
    open(stack, new Agent(4, 2, 80, 'a'), ev);
    ev.take();
    stack.input(0, new Agent(4, 3, 80, 'a').seg({ seq: 1, flags: TCP_SYN }), ev.emit);
    let events = ev.take();
    assert.equal(conns(events, 'offer').length, 0);
    assert.equal(transmits(events)[0]!.tcp.flags & TCP_RST, TCP_RST);
    open(stack, new Agent(4, 4, 80, 'b'), ev);
    ev.take();
    stack.input(0, new Agent(4, 5, 80, 'c').seg({ seq: 1, flags: TCP_SYN }), ev.emit);
    events = ev.take();
    assert.equal(conns(events, 'offer').length, 0);
    assert.equal(counters.get('tcp.connection_limit'), 2);
    assert.equal(stack.openCount, 3);
  });

  it('drops a segment whose 4-tuple belongs to another peer', () => {
    const { stack, counters } = newStack();
    const ev = new Events();
    const o = open(stack, new Agent(4, 1, 80, 'a'), ev);
    ev.take();
    const intruder = new Agent(4, 1, 80, 'b');
    stack.input(1, intruder.seg({ seq: o.seq, flags: TCP_RST }), ev.emit);
    assert.equal(o.conn.state, 'ESTABLISHED');
    assert.equal(counters.get('tcp.peer_mismatch'), 1);
  });

  it('evicts the oldest TIME-WAIT entry beyond its cap', () => {
    const { stack, counters } = newStack({ maxTimeWait: 2 });
    const ev = new Events();
    for (let port = 1; port <= 3; port++) {
      const agent = new Agent(4, port, 80);
      const o = open(stack, agent, ev);
      o.conn.shutdown(1);
      stack.flush(1, ev.emit);
      stack.input(2, agent.seg({ seq: o.seq, ack: o.ack + 1, flags: 0x11 }), ev.emit);
      assert.equal(o.conn.state, 'TIME-WAIT');
    }
    assert.equal(stack.timeWaitCount, 2);
    assert.equal(stack.connectionCount, 2);
    assert.equal(counters.get('tcp.time_wait_evicted'), 1);
  });
});
