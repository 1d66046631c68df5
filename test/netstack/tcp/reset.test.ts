/**
 * RST, SYN and ACK checks in synchronized states: RFC 9293 §3.10.7.4 with RFC 5961 (exact RST
 * resets, in-window RST/SYN get a rate-limited challenge ACK, out-of-window RST is ignored,
 * ACKs of unsent data are refused), abort(), and TIME-WAIT reuse by a newer SYN.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../../../netstack/wire/tcp.js';
import { Agent, Events, conns, newStack, open, transmits } from './helpers.js';

describe('TCP resets and RFC 5961', () => {
  it('resets on a RST exactly at RCV.NXT', () => {
    const { stack, counters } = newStack();
    const ev = new Events();
    const agent = new Agent();
    const o = open(stack, agent, ev);
    ev.take();
    o.conn.write(0, new Uint8Array(100));
    stack.input(1, agent.seg({ seq: o.seq, flags: TCP_RST }), ev.emit);
    const events = ev.take();
    assert.deepEqual(events.map((e) => e.kind), ['closed']);
    assert.equal((events[0] as { reason: string }).reason, 'reset');
    assert.equal(o.conn.state, 'CLOSED');
    assert.equal(o.conn.sendBuffered, 0);
    assert.equal(stack.connectionCount, 0);
    assert.equal(counters.get('tcp.reset_received'), 1);
  });

  it('answers an in-window RST that is not exact with a challenge ACK and stays up', () => {
    const { stack, counters } = newStack();
    const ev = new Events();
    const agent = new Agent();
    const o = open(stack, agent, ev);
    ev.take();
    stack.input(1, agent.seg({ seq: o.seq + 1000, flags: TCP_RST }), ev.emit);
    const [ack] = transmits(ev.take());
    assert.equal(ack!.tcp.flags, TCP_ACK);
    assert.equal(ack!.tcp.ack, o.seq);
    assert.equal(o.conn.state, 'ESTABLISHED');
    assert.equal(counters.get('tcp.challenge_ack'), 1);
  });

  it('ignores a RST outside the window', () => {
    const { stack, counters } = newStack();
    const ev = new Events();
    const agent = new Agent();
    const o = open(stack, agent, ev);
    ev.take();
    stack.input(1, agent.seg({ seq: o.seq + 10_000_000, flags: TCP_RST }), ev.emit);
    stack.input(1, agent.seg({ seq: o.seq - 1, flags: TCP_RST }), ev.emit);
    assert.deepEqual(ev.take(), []);
    assert.equal(o.conn.state, 'ESTABLISHED');
    assert.equal(counters.get('tcp.rst_out_of_window'), 2);
  });

  it('answers a SYN on an established connection with a challenge ACK (RFC 5961 §4)', () => {
    const { stack, counters } = newStack();
    const ev = new Events();
    const agent = new Agent();
    const o = open(stack, agent, ev);
    ev.take();
    stack.input(1, agent.seg({ seq: o.seq + 5, flags: TCP_SYN }), ev.emit);
    const [ack] = transmits(ev.take());
    assert.equal(ack!.tcp.flags, TCP_ACK);
    assert.equal(ack!.tcp.ack, o.seq);
    assert.equal(o.conn.state, 'ESTABLISHED');
    assert.equal(counters.get('tcp.challenge_ack'), 1);
  });

  it('rate-limits challenge ACKs for the whole stack', () => {
    const { stack, counters } = newStack();
    const ev = new Events();
    const agent = new Agent();
    const o = open(stack, agent, ev);
    ev.take();
    for (let i = 0; i < 1500; i++) stack.input(1, agent.seg({ seq: o.seq + 1 + i, flags: TCP_RST }), ev.emit);
    assert.equal(transmits(ev.take()).length, 1000);
    assert.equal(counters.get('tcp.challenge_ack_limited'), 500);
    stack.input(1001, agent.seg({ seq: o.seq + 7, flags: TCP_RST }), ev.emit);
    assert.equal(transmits(ev.take()).length, 1);
  });

  it('refuses an ACK for data never sent, and ignores very old ACKs (RFC 5961 §5)', () => {
    const { stack, counters } = newStack();
    const ev = new Events();
    const agent = new Agent();
    const o = open(stack, agent, ev);
    ev.take();
    stack.input(1, agent.seg({ seq: o.seq, ack: o.ack + 5000, payload: new Uint8Array(10) }), ev.emit);
    const [ack] = transmits(ev.take());
    assert.equal(ack!.tcp.ack, o.seq); // the data was not taken
    assert.equal(o.conn.receiveBuffered, 0);
    assert.equal(counters.get('tcp.ack_too_new'), 1);
    stack.input(2, agent.seg({ seq: o.seq, ack: o.ack - 0x20000000, payload: new Uint8Array(10) }), ev.emit);
    assert.equal(counters.get('tcp.ack_too_old'), 1);
    assert.equal(o.conn.receiveBuffered, 0);
  });

  it('abort() sends RST and closes with reason aborted', () => {
    const { stack } = newStack();
    const ev = new Events();
    const agent = new Agent();
    const o = open(stack, agent, ev);
    ev.take();
    o.conn.abort(5);
    stack.flush(5, ev.emit);
    const events = ev.take();
    const [rst] = transmits(events);
    assert.equal(rst!.tcp.flags, TCP_RST | TCP_ACK);
    assert.equal(rst!.tcp.seq, o.ack);
    assert.equal((events.find((e) => e.kind === 'closed') as { reason: string }).reason, 'aborted');
    assert.equal(stack.connectionCount, 0);
    assert.equal(o.conn.write(6, new Uint8Array(1)), 0);
  });

  it('lets a newer SYN take over a TIME-WAIT 4-tuple, and challenges an older one', () => {
    const { stack, counters } = newStack();
    const ev = new Events();
    const agent = new Agent();
    const o = open(stack, agent, ev);
    ev.take();
    o.conn.shutdown(1);
    stack.flush(1, ev.emit);
    stack.input(2, agent.seg({ seq: o.seq, ack: o.ack + 1, flags: TCP_ACK | TCP_FIN, timestamp: { value: o.tsval + 1, echo: o.tsecr } }), ev.emit);
    assert.equal(o.conn.state, 'TIME-WAIT');
    ev.take();
    stack.input(3, agent.seg({ seq: o.seq + 10, flags: TCP_SYN, timestamp: { value: o.tsval - 100, echo: 0 } }), ev.emit);
    assert.equal(conns(ev.list, 'offer').length, 0);
    ev.take();
    stack.input(4, agent.seg({ seq: o.seq + 10, flags: TCP_SYN, timestamp: { value: o.tsval + 100, echo: 0 } }), ev.emit);
    assert.equal(conns(ev.take(), 'offer').length, 1);
    assert.equal(counters.get('tcp.time_wait_recycled'), 1);
    assert.equal(o.conn.state, 'CLOSED');
    assert.equal(stack.connectionCount, 1);
  });
});
