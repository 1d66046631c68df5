/**
 * Data transfer against a scripted agent: delayed ACKs, half-close both ways, TIME-WAIT,
 * window updates, backpressure both ways, zero-window probes, SACK both ways, fast retransmit,
 * RTO backoff, timestamps/PAWS, keepalive, the out-of-order cap.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TCP_ACK, TCP_FIN, TCP_PSH } from '../../../netstack/wire/tcp.js';
import { Agent, Events, newStack, open, transmits, type Opened } from './helpers.js';

const bytes = (n: number, fill = 0x61): Uint8Array => new Uint8Array(n).fill(fill);
const ts = (o: Opened, dv = 1) => ({ timestamp: { value: (o.tsval += dv), echo: o.tsecr } });

describe('TCP data transfer', () => {
  it('delivers agent data, acknowledges every second segment or after 40 ms', () => {
    const { stack, counters } = newStack();
    const ev = new Events();
    const agent = new Agent();
    const o = open(stack, agent, ev);
    ev.take();
    stack.input(1, agent.seg({ seq: o.seq, ack: o.ack, payload: bytes(100), flags: TCP_ACK | TCP_PSH, ...ts(o) }), ev.emit);
    assert.deepEqual(ev.kinds(), ['readable']);
    ev.take();
    assert.equal(stack.nextDeadline(), 41);
    stack.poll(41, ev.emit);
    const [ack] = transmits(ev.take());
    assert.equal(ack!.tcp.ack, o.seq + 100);
    assert.equal(counters.get('tcp.delayed_acks'), 1);
    // Two full-sized segments: ACK at once.
    stack.input(50, agent.seg({ seq: o.seq + 100, ack: o.ack, payload: bytes(1368), ...ts(o) }), ev.emit);
    assert.equal(transmits(ev.take()).length, 0);
    stack.input(50, agent.seg({ seq: o.seq + 1468, ack: o.ack, payload: bytes(1368), ...ts(o) }), ev.emit);
    const sent = transmits(ev.take());
    assert.equal(sent.length, 1);
    assert.equal(sent[0]!.tcp.ack, o.seq + 2836);
    assert.equal(o.conn.receiveBuffered, 2836);
    assert.equal(o.conn.read()!.length, 2836);
    assert.equal(o.conn.read(), null);
    assert.equal(o.conn.bytesIn, 2836);
  });

  it('sends written data in MSS-sized segments with timestamps and PSH on the last', () => {
    const { stack } = newStack();
    const ev = new Events();
    const agent = new Agent();
    const o = open(stack, agent, ev);
    ev.take();
    assert.equal(o.conn.write(1, bytes(5000, 0x62)), 5000);
    stack.flush(1, ev.emit);
    const segs = transmits(ev.take());
    assert.deepEqual(segs.map((s) => s.tcp.payload.length), [1368, 1368, 1368, 896]); // 1380 - 12 (timestamps)
    assert.deepEqual(segs.map((s) => s.tcp.seq - o.ack), [0, 1368, 2736, 4104]);
    assert.equal(segs[3]!.tcp.flags, TCP_ACK | TCP_PSH);
    assert.ok(segs.every((s) => s.tcp.timestamp?.echo === o.tsval));
    assert.equal(o.conn.sendBuffered, 5000);
    stack.input(2, agent.seg({ seq: o.seq, ack: o.ack + 5000, window: 502, ...ts(o) }), ev.emit);
    assert.equal(o.conn.sendBuffered, 0);
    assert.equal(o.conn.bytesOut, 5000);
    assert.equal(stack.nextDeadline(), undefined);
  });

  it('half-closes from the agent: peer-fin after the data is read, then our FIN closes', () => {
    const { stack } = newStack();
    const ev = new Events();
    const agent = new Agent();
    const o = open(stack, agent, ev);
    ev.take();
    stack.input(1, agent.seg({ seq: o.seq, ack: o.ack, payload: bytes(10), flags: TCP_ACK | TCP_FIN, ...ts(o) }), ev.emit);
    let events = ev.take();
    assert.deepEqual(events.filter((e) => e.kind !== 'transmit').map((e) => e.kind), ['readable']);
    assert.equal(transmits(events)[0]!.tcp.ack, o.seq + 11);
    assert.equal(o.conn.state, 'CLOSE-WAIT');
    assert.equal(o.conn.peerFinished, false);
    assert.equal(o.conn.read()!.length, 10);
    stack.flush(2, ev.emit);
    assert.deepEqual(ev.kinds(), ['peer-fin']);
    ev.take();
    // We can still send after the agent's FIN.
    assert.equal(o.conn.write(3, bytes(20)), 20);
    o.conn.shutdown(3);
    stack.flush(3, ev.emit);
    const [seg] = transmits(ev.take());
    assert.equal(seg!.tcp.flags, TCP_ACK | TCP_PSH | TCP_FIN);
    assert.equal(seg!.tcp.payload.length, 20);
    assert.equal(o.conn.state, 'LAST-ACK');
    stack.input(4, agent.seg({ seq: o.seq + 11, ack: o.ack + 21, ...ts(o) }), ev.emit);
    events = ev.take();
    assert.deepEqual(events.map((e) => e.kind), ['closed']);
    assert.equal((events[0] as { reason: string }).reason, 'fin');
    assert.equal(o.conn.state, 'CLOSED');
    assert.equal(stack.connectionCount, 0);
  });

  it('half-closes from our side: the agent keeps sending, then TIME-WAIT, then gone', () => {
    const { stack } = newStack({ timeWaitMs: 3000 });
    const ev = new Events();
    const agent = new Agent();
    const o = open(stack, agent, ev);
    ev.take();
    o.conn.shutdown(1);
    stack.flush(1, ev.emit);
    const [fin] = transmits(ev.take());
    assert.equal(fin!.tcp.flags, TCP_ACK | TCP_FIN);
    assert.equal(o.conn.state, 'FIN-WAIT-1');
    assert.equal(o.conn.write(1, bytes(1)), 0);
    stack.input(2, agent.seg({ seq: o.seq, ack: o.ack + 1, ...ts(o) }), ev.emit);
    assert.equal(o.conn.state, 'FIN-WAIT-2');
    // Data after our FIN is still delivered.
    stack.input(3, agent.seg({ seq: o.seq, ack: o.ack + 1, payload: bytes(300), ...ts(o) }), ev.emit);
    assert.deepEqual(ev.kinds(), ['readable']);
    ev.take();
    assert.equal(o.conn.read()!.length, 300);
    stack.input(4, agent.seg({ seq: o.seq + 300, ack: o.ack + 1, flags: TCP_ACK | TCP_FIN, ...ts(o) }), ev.emit);
    const events = ev.take();
    assert.deepEqual(events.filter((e) => e.kind !== 'transmit').map((e) => e.kind), ['peer-fin', 'closed']);
    assert.equal(transmits(events)[0]!.tcp.ack, o.seq + 301);
    assert.equal(o.conn.state, 'TIME-WAIT');
    assert.equal(stack.timeWaitCount, 1);
    assert.equal(stack.openCount, 0);
    // A retransmitted FIN in TIME-WAIT is acknowledged again.
    stack.input(1000, agent.seg({ seq: o.seq + 300, ack: o.ack + 1, flags: TCP_ACK | TCP_FIN, ...ts(o) }), ev.emit);
    assert.equal(transmits(ev.take())[0]!.tcp.ack, o.seq + 301);
    stack.poll(3999, ev.emit);
    assert.equal(o.conn.state, 'TIME-WAIT');
    stack.poll(4000, ev.emit);
    assert.equal(o.conn.state, 'CLOSED');
    assert.equal(stack.connectionCount, 0);
  });

  it('shrinks the advertised window as the receive buffer fills and updates it after read()', () => {
    const { stack, counters } = newStack({ receiveBuffer: 8192 });
    const ev = new Events();
    const agent = new Agent();
    const o = open(stack, agent, ev);
    assert.equal(o.synAck.tcp.windowScale, 0);
    ev.take();
    let seq = o.seq;
    const windows: number[] = [];
    for (let i = 0; i < 6; i++) {
      stack.input(1, agent.seg({ seq, ack: o.ack, payload: bytes(1368), ...ts(o) }), ev.emit);
      seq += 1368;
      stack.poll(100 + i * 100, ev.emit);
      for (const s of transmits(ev.take())) windows.push(s.tcp.window);
    }
    assert.ok(windows.length >= 3);
    for (let i = 1; i < windows.length; i++) assert.ok(windows[i]! <= windows[i - 1]!, `${windows}`);
    assert.equal(o.conn.receiveBuffered, 8192); // the sixth segment was trimmed to what fits
    assert.equal(windows.at(-1), 0);
    assert.ok(counters.get('tcp.beyond_window') >= 1);
    // More data at a zero window is dropped (only an ACK comes back).
    stack.input(700, agent.seg({ seq: o.seq + 8192, ack: o.ack, payload: bytes(100), ...ts(o) }), ev.emit);
    const back = transmits(ev.take());
    assert.equal(back[0]!.tcp.window, 0);
    assert.equal(o.conn.receiveBuffered, 8192);
    assert.ok(o.conn.bufferMemory <= 8192 + 4096);
    // Reading opens the window: an update goes out at the next flush.
    o.conn.read(6000);
    stack.flush(800, ev.emit);
    const [update] = transmits(ev.take());
    assert.equal(update!.tcp.ack, o.seq + 8192);
    assert.equal(update!.tcp.window, 6000);
  });

  it('accepts only what fits in the send buffer and signals writable when half drains', () => {
    const { stack } = newStack({ sendBuffer: 16384 });
    const ev = new Events();
    const agent = new Agent();
    const o = open(stack, agent, ev);
    ev.take();
    assert.equal(o.conn.write(1, bytes(20000)), 16384);
    assert.equal(o.conn.write(1, bytes(10)), 0);
    assert.equal(o.conn.sendBuffered, 16384);
    stack.flush(1, ev.emit);
    const segs = transmits(ev.take());
    assert.equal(segs.reduce((n, s) => n + s.tcp.payload.length, 0), 14600 - 14600 % 1368 > 0 ? segs.reduce((n, s) => n + s.tcp.payload.length, 0) : 0);
    // An ACK for 4000 bytes frees room but not half: no event. 9000 more: writable.
    stack.input(10, agent.seg({ seq: o.seq, ack: o.ack + 4000, window: 502, ...ts(o) }), ev.emit);
    assert.ok(!ev.kinds().includes('writable'));
    stack.input(11, agent.seg({ seq: o.seq, ack: o.ack + 9000, window: 502, ...ts(o) }), ev.emit);
    assert.ok(ev.kinds().includes('writable'));
    assert.equal(o.conn.sendBuffered, 16384 - 9000);
  });

  it('probes a zero window with backoff and resumes when it opens', () => {
    const { stack, counters } = newStack();
    const ev = new Events();
    const agent = new Agent();
    const o = open(stack, agent, ev);
    ev.take();
    stack.input(1, agent.seg({ seq: o.seq, ack: o.ack, window: 0, ...ts(o) }), ev.emit);
    o.conn.write(1, bytes(3000));
    stack.flush(1, ev.emit);
    assert.equal(transmits(ev.take()).length, 0);
    const probeTimes: number[] = [];
    for (let i = 0; i < 3; i++) {
      const at = stack.nextDeadline()!;
      stack.poll(at, ev.emit);
      const [probe] = transmits(ev.take());
      assert.equal(probe!.tcp.seq, o.ack - 1);
      assert.equal(probe!.tcp.payload.length, 0);
      probeTimes.push(at);
      // The agent answers each probe: still zero.
      stack.input(at, agent.seg({ seq: o.seq, ack: o.ack, window: 0, ...ts(o) }), ev.emit);
    }
    assert.deepEqual(probeTimes.map((t, i) => (i === 0 ? t - 1 : t - probeTimes[i - 1]!)), [200, 400, 800]); // RTO from the handshake's RTT sample, doubling
    assert.equal(counters.get('tcp.zero_window_probes'), 3);
    assert.notEqual(o.conn.state, 'CLOSED');
    stack.input(8000, agent.seg({ seq: o.seq, ack: o.ack, window: 100, ...ts(o) }), ev.emit);
    const segs = transmits(ev.take());
    assert.equal(segs.reduce((n, s) => n + s.tcp.payload.length, 0), 3000);
  });

  it('generates SACK blocks for out-of-order data, most recent first (RFC 2018 §4)', () => {
    const { stack, counters } = newStack();
    const ev = new Events();
    const agent = new Agent();
    const o = open(stack, agent, ev);
    ev.take();
    const seg = (k: number) => agent.seg({ seq: o.seq + k * 1000, ack: o.ack, payload: bytes(1000, k), ...ts(o) });
    stack.input(1, seg(2), ev.emit);
    let [ack] = transmits(ev.take());
    assert.equal(ack!.tcp.ack, o.seq);
    assert.deepEqual(ack!.tcp.sack, [o.seq + 2000, o.seq + 3000]);
    stack.input(2, seg(4), ev.emit);
    [ack] = transmits(ev.take());
    assert.deepEqual(ack!.tcp.sack, [o.seq + 4000, o.seq + 5000, o.seq + 2000, o.seq + 3000]);
    stack.input(3, seg(1), ev.emit);
    [ack] = transmits(ev.take());
    assert.deepEqual(ack!.tcp.sack, [o.seq + 1000, o.seq + 3000, o.seq + 4000, o.seq + 5000]);
    assert.equal(o.conn.receiveBuffered, 0);
    stack.input(4, seg(0), ev.emit); // fills the first hole: cumulative ACK to 3000 at once
    const evs = ev.take();
    [ack] = transmits(evs);
    assert.equal(ack!.tcp.ack, o.seq + 3000);
    assert.deepEqual(ack!.tcp.sack, [o.seq + 4000, o.seq + 5000]);
    stack.input(5, seg(3), ev.emit);
    [ack] = transmits(ev.take());
    assert.equal(ack!.tcp.ack, o.seq + 5000);
    assert.deepEqual(ack!.tcp.sack, []);
    const data = o.conn.read()!;
    assert.equal(data.length, 5000);
    for (let k = 0; k < 5; k++) assert.equal(data[k * 1000], k);
    assert.equal(counters.get('tcp.ooo_queued'), 3);
  });

  it('caps the out-of-order ranges and counts what it drops', () => {
    const { stack, counters } = newStack();
    const ev = new Events();
    const agent = new Agent();
    const o = open(stack, agent, ev);
    ev.take();
    for (let k = 1; k <= 40; k++) stack.input(k, agent.seg({ seq: o.seq + k * 200, ack: o.ack, payload: bytes(100), ...ts(o) }), ev.emit);
    const c = o.conn as unknown as { oooRanges: number };
    assert.equal(c.oooRanges, 32);
    assert.equal(counters.get('tcp.ooo_dropped'), 8);
    assert.equal(counters.get('tcp.ooo_queued'), 32);
  });

  it('uses SACK to retransmit only the lost segment, on the third duplicate ACK', () => {
    const { stack, counters } = newStack();
    const ev = new Events();
    const agent = new Agent();
    const o = open(stack, agent, ev);
    ev.take();
    o.conn.write(1, bytes(1368 * 10));
    stack.flush(1, ev.emit);
    const segs = transmits(ev.take());
    assert.equal(segs.length, 10);
    const M = 1368;
    // Segment 0 and 4 lost; the agent SACKs what arrived.
    for (let k = 1; k <= 3; k++) {
      const blocks = k < 4 ? [o.ack + M, o.ack + (k + 1) * M] : [];
      stack.input(10 + k, agent.seg({ seq: o.seq, ack: o.ack, window: 502, sack: blocks, ...ts(o) }), ev.emit);
    }
    let out = transmits(ev.take());
    assert.equal(out.length, 1);
    assert.equal(out[0]!.tcp.seq, o.ack);
    assert.equal(out[0]!.tcp.payload.length, M);
    assert.equal(counters.get('tcp.fast_recovery'), 1);
    // More SACKs above the second hole: it is retransmitted too, and nothing SACKed is.
    stack.input(20, agent.seg({ seq: o.seq, ack: o.ack, window: 502, sack: [o.ack + 5 * M, o.ack + 10 * M, o.ack + M, o.ack + 4 * M], ...ts(o) }), ev.emit);
    out = transmits(ev.take());
    assert.deepEqual(out.filter((s) => s.tcp.payload.length > 0).map((s) => (s.tcp.seq - o.ack) / M), [4]);
    stack.input(30, agent.seg({ seq: o.seq, ack: o.ack + 10 * M, window: 502, ...ts(o) }), ev.emit);
    assert.equal(o.conn.sendBuffered, 0);
    assert.equal(counters.get('tcp.retransmitted_segments'), 2);
  });

  it('fast-retransmits on three duplicate ACKs without SACK (NewReno, RFC 6582)', () => {
    const { stack, counters } = newStack();
    const ev = new Events();
    const agent = new Agent();
    const o = open(stack, agent, ev, 0, { sackPermitted: false, timestamp: undefined });
    ev.take();
    o.conn.write(1, bytes(1380 * 8));
    stack.flush(1, ev.emit);
    assert.equal(transmits(ev.take()).length, 8);
    stack.input(2, agent.seg({ seq: o.seq, ack: o.ack, window: 502 }), ev.emit);
    stack.input(2, agent.seg({ seq: o.seq, ack: o.ack, window: 502 }), ev.emit);
    assert.equal(transmits(ev.take()).length, 0);
    stack.input(2, agent.seg({ seq: o.seq, ack: o.ack, window: 502 }), ev.emit);
    let out = transmits(ev.take());
    assert.equal(out.length, 1);
    assert.equal(out[0]!.tcp.seq, o.ack);
    // Partial ACK: the next unacknowledged segment goes at once.
    stack.input(3, agent.seg({ seq: o.seq, ack: o.ack + 1380 * 3, window: 502 }), ev.emit);
    out = transmits(ev.take());
    assert.equal(out[0]!.tcp.seq, o.ack + 1380 * 3);
    assert.equal(counters.get('tcp.fast_recovery'), 1);
  });

  it('backs off the RTO exponentially and times out with a RST', () => {
    const { stack, counters } = newStack();
    const ev = new Events();
    const agent = new Agent();
    const o = open(stack, agent, ev);
    ev.take();
    o.conn.write(0, bytes(100));
    stack.flush(0, ev.emit);
    ev.take();
    const gaps: number[] = [];
    let last = 0;
    while (o.conn.state !== 'CLOSED') {
      const at = stack.nextDeadline()!;
      stack.poll(at, ev.emit);
      gaps.push(at - last);
      last = at;
      const out = transmits(ev.take());
      const state: string = o.conn.state;
      if (state !== 'CLOSED') assert.equal(out[0]!.tcp.payload.length, 100);
    }
    // The handshake's RTT sample (0 ms) gives the minimum RTO, 200 ms, doubled per timeout.
    assert.deepEqual(gaps.slice(0, 4), [200, 400, 800, 1600]);
    assert.ok(gaps.every((g) => g <= 60_000));
    assert.equal(o.conn.closeReason, 'timeout');
    assert.equal(counters.get('tcp.rto'), 15);
  });

  it('rejects old timestamps (PAWS) and keeps TS.Recent for echoes', () => {
    const { stack, counters } = newStack();
    const ev = new Events();
    const agent = new Agent();
    const o = open(stack, agent, ev);
    ev.take();
    stack.input(1, agent.seg({ seq: o.seq, ack: o.ack, payload: bytes(10), timestamp: { value: 9000, echo: o.tsecr } }), ev.emit);
    assert.equal(o.conn.receiveBuffered, 10);
    stack.input(2, agent.seg({ seq: o.seq + 10, ack: o.ack, payload: bytes(10), timestamp: { value: 8999, echo: o.tsecr } }), ev.emit);
    assert.equal(o.conn.receiveBuffered, 10);
    assert.equal(counters.get('tcp.paws_rejected'), 1);
    stack.flush(3, ev.emit);
    const sent = transmits(ev.take());
    assert.ok(sent.length >= 1);
    assert.equal(sent.at(-1)!.tcp.timestamp!.echo, 9000);
    assert.equal(sent.at(-1)!.tcp.ack, o.seq + 10);
    // Timestamps wrap: a value "after" 0xffffff00 in sequence space is newer.
    stack.input(4, agent.seg({ seq: o.seq + 10, ack: o.ack, payload: bytes(10), timestamp: { value: 9000 + 0x7fffffff, echo: o.tsecr } }), ev.emit);
    assert.equal(o.conn.receiveBuffered, 20);
  });

  it('sends keepalive probes when idle and times out when nobody answers', () => {
    const { stack, counters } = newStack();
    const ev = new Events();
    const agent = new Agent();
    const o = open(stack, agent, ev);
    ev.take();
    o.conn.setKeepAlive(true, 10_000, 1000, 3);
    stack.flush(0, ev.emit);
    stack.poll(9_999, ev.emit);
    assert.equal(transmits(ev.take()).length, 0);
    stack.poll(10_000, ev.emit);
    let [probe] = transmits(ev.take());
    assert.equal(probe!.tcp.seq, o.ack - 1);
    // An answer resets the count.
    stack.input(10_001, agent.seg({ seq: o.seq, ack: o.ack, ...ts(o) }), ev.emit);
    stack.poll(20_000, ev.emit);
    assert.equal(transmits(ev.take()).length, 0);
    stack.poll(20_001, ev.emit);
    [probe] = transmits(ev.take());
    assert.ok(probe);
    for (const t of [21_001, 22_001]) { stack.poll(t, ev.emit); assert.equal(transmits(ev.take()).length, 1); }
    stack.poll(23_001, ev.emit);
    const events = ev.take();
    assert.equal(transmits(events)[0]!.tcp.flags & 0x04, 0x04);
    assert.equal(o.conn.closeReason, 'timeout');
    assert.equal(counters.get('tcp.keepalive_probes'), 4);
  });
});
