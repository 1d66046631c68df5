/**
 * Opening: offers at SYN time (RFC 9293 §3.5 with the accept decision deferred), refuse, offer
 * expiry, SYN-ACK retransmission, promiscuous destinations, MSS clamping, RST for strays
 * (§3.10.7.1), and active open.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TCP_ACK, TCP_RST, TCP_SYN } from '../../../netstack/wire/tcp.js';
import { parseAddress } from '../../../netstack/wire/ip-address.js';
import { Agent, Events, LINUX_SYN, conns, newStack, open, transmits } from './helpers.js';

describe('TCP passive open with an accept decision', () => {
  it('makes an offer for a SYN and sends nothing until accept()', () => {
    const { stack, counters } = newStack();
    const ev = new Events();
    const agent = new Agent(4, 40000, 5432);
    stack.input(0, agent.seg({ seq: 7, flags: TCP_SYN, window: 64240, ...LINUX_SYN, timestamp: { value: 99, echo: 0 } }), ev.emit);
    const events = ev.take();
    assert.deepEqual(events.map((e) => e.kind), ['offer']);
    const conn = conns(events, 'offer')[0]!;
    assert.equal(conn.state, 'OFFERED');
    assert.deepEqual([...conn.remoteAddress], [...agent.addr]);
    assert.deepEqual([...conn.localAddress], [...agent.vip]);
    assert.equal(conn.remotePort, 40000);
    assert.equal(conn.localPort, 5432);
    assert.equal(conn.peer, 'p');
    assert.equal(counters.get('tcp.offers'), 1);
    assert.equal(stack.halfOpenCount, 1);

    conn.accept(10);
    stack.flush(10, ev.emit);
    const [synAck, ...rest] = transmits(ev.take());
    assert.equal(rest.length, 0);
    assert.equal(synAck!.tcp.flags, TCP_SYN | TCP_ACK);
    assert.equal(synAck!.tcp.ack, 8);
    assert.equal(synAck!.tcp.mss, 1380); // MTU 1420 - 40
    assert.equal(synAck!.tcp.windowScale, 3); // 256 KiB needs a shift of 3
    assert.equal(synAck!.tcp.sackPermitted, true);
    assert.equal(synAck!.tcp.timestamp!.echo, 99);
    assert.equal(synAck!.tcp.window, 65535); // a SYN's window is not scaled
    assert.equal(conn.state, 'SYN-RECEIVED');

    stack.input(11, agent.seg({ seq: 8, ack: synAck!.tcp.seq + 1, window: 502, timestamp: { value: 100, echo: synAck!.tcp.timestamp!.value } }), ev.emit);
    assert.deepEqual(ev.kinds(), ['established']);
    assert.equal(conn.state, 'ESTABLISHED');
    assert.equal(stack.halfOpenCount, 0);
    assert.equal(stack.openCount, 1);
    const c = conn as unknown as { negotiated: { windowScale: boolean; sack: boolean; timestamps: boolean; sendMss: number } };
    assert.deepEqual(c.negotiated, { windowScale: true, sack: true, timestamps: true, sendMss: 1380 });
  });

  it('absorbs retransmitted SYNs while the offer is pending', () => {
    const { stack, counters } = newStack();
    const ev = new Events();
    const agent = new Agent();
    const syn = agent.seg({ seq: 7, flags: TCP_SYN, ...LINUX_SYN });
    stack.input(0, syn, ev.emit);
    stack.input(1000, syn, ev.emit);
    stack.input(3000, syn, ev.emit);
    assert.deepEqual(ev.kinds(), ['offer']);
    assert.equal(counters.get('tcp.syn_absorbed'), 2);
    assert.equal(stack.connectionCount, 1);
  });

  it('refuse() answers with RST,ACK acknowledging the SYN', () => {
    const { stack, counters } = newStack();
    const ev = new Events();
    const agent = new Agent();
    stack.input(0, agent.seg({ seq: 0xfffffffe, flags: TCP_SYN, ...LINUX_SYN }), ev.emit);
    const conn = conns(ev.take(), 'offer')[0]!;
    conn.refuse(5);
    stack.flush(5, ev.emit);
    const events = ev.take();
    const [rst] = transmits(events);
    assert.equal(rst!.tcp.flags, TCP_RST | TCP_ACK);
    assert.equal(rst!.tcp.seq, 0);
    assert.equal(rst!.tcp.ack, 0xffffffff);
    assert.deepEqual(events.filter((e) => e.kind === 'closed').map((e) => (e as { reason: string }).reason), ['refused']);
    assert.equal(conn.state, 'CLOSED');
    assert.equal(stack.connectionCount, 0);
    assert.equal(counters.get('tcp.refused'), 1);
    conn.accept(6); // too late: nothing happens
    stack.flush(6, ev.emit);
    assert.deepEqual(ev.take(), []);
  });

  it('expires an offer nobody decided, with a RST and a counter', () => {
    const { stack, counters } = newStack({ offerTimeoutMs: 2000 });
    const ev = new Events();
    const agent = new Agent();
    stack.input(0, agent.seg({ seq: 1, flags: TCP_SYN }), ev.emit);
    const conn = conns(ev.take(), 'offer')[0]!;
    assert.equal(stack.nextDeadline(), 2000);
    stack.poll(1999, ev.emit);
    assert.deepEqual(ev.take(), []);
    stack.poll(2000, ev.emit);
    const events = ev.take();
    assert.equal(transmits(events)[0]!.tcp.flags, TCP_RST | TCP_ACK);
    assert.equal((events.find((e) => e.kind === 'closed') as { reason: string }).reason, 'offer-expired');
    assert.equal(conn.state, 'CLOSED');
    assert.equal(counters.get('tcp.offer_expired'), 1);
    assert.equal(stack.connectionCount, 0);
    assert.equal(stack.nextDeadline(), undefined);
  });

  it('ends an offer when the agent resets it', () => {
    const { stack } = newStack();
    const ev = new Events();
    const agent = new Agent();
    stack.input(0, agent.seg({ seq: 1, flags: TCP_SYN }), ev.emit);
    ev.take();
    stack.input(1, agent.seg({ seq: 2, flags: TCP_RST }), ev.emit);
    assert.deepEqual(ev.kinds(), ['closed']);
    assert.equal(stack.connectionCount, 0);
  });

  it('retransmits the SYN-ACK with exponential backoff, then gives up', () => {
    const { stack, counters } = newStack();
    const ev = new Events();
    const agent = new Agent();
    stack.input(0, agent.seg({ seq: 1, flags: TCP_SYN, ...LINUX_SYN }), ev.emit);
    const conn = conns(ev.take(), 'offer')[0]!;
    conn.accept(0);
    stack.flush(0, ev.emit);
    assert.equal(transmits(ev.take()).length, 1);
    const times: number[] = [];
    let now = 0;
    for (let i = 0; i < 10 && conn.state !== 'CLOSED'; i++) {
      now = stack.nextDeadline()!;
      stack.poll(now, ev.emit);
      if (transmits(ev.list).some((s) => s.tcp.flags === (TCP_SYN | TCP_ACK))) times.push(now);
      ev.take();
    }
    assert.deepEqual(times, [1000, 3000, 7000, 15000, 31000]);
    assert.equal(conn.state, 'CLOSED');
    assert.equal(conn.closeReason, 'timeout');
    assert.equal(now, 63000);
    assert.equal(counters.get('tcp.timeout'), 1);
  });

  it('answers a retransmitted SYN in SYN-RECEIVED with the SYN-ACK again', () => {
    const { stack } = newStack();
    const ev = new Events();
    const agent = new Agent();
    const syn = agent.seg({ seq: 1, flags: TCP_SYN, ...LINUX_SYN });
    stack.input(0, syn, ev.emit);
    conns(ev.take(), 'offer')[0]!.accept(0);
    stack.flush(0, ev.emit);
    const first = transmits(ev.take())[0]!;
    stack.input(500, syn, ev.emit);
    const again = transmits(ev.take());
    assert.equal(again.length, 1);
    assert.equal(again[0]!.tcp.flags, TCP_SYN | TCP_ACK);
    assert.equal(again[0]!.tcp.seq, first.tcp.seq);
  });

  it('accepts any destination address and port (promiscuous), both families', () => {
    const { stack } = newStack();
    const ev = new Events();
    const a = new Agent(4, 40000, 5432);
    const b = new Agent(4, 40000, 443);
    const c = new Agent(6, 40000, 22);
    const other = { ...new Agent(4, 40000, 80) };
    void other;
    stack.input(0, a.seg({ seq: 1, flags: TCP_SYN }), ev.emit);
    stack.input(0, b.seg({ seq: 1, flags: TCP_SYN }), ev.emit);
    stack.input(0, c.seg({ seq: 1, flags: TCP_SYN, mss: 1440 }), ev.emit);
    const seg = a.seg({ seq: 1, flags: TCP_SYN });
    const vip2 = parseAddress('198.18.200.7');
    // Same agent port, another destination: another connection.
    const d = { ...seg, dst: vip2 };
    const bytes = seg.segment.slice();
    d.segment = bytes;
    // Recompute the checksum for the new pseudo-header through the agent helper instead:
    const e = new Agent(4, 40000, 5432);
    (e as { vip: Uint8Array }).vip = vip2;
    stack.input(0, e.seg({ seq: 1, flags: TCP_SYN }), ev.emit);
    const offers = conns(ev.take(), 'offer');
    assert.equal(offers.length, 4);
    assert.deepEqual(offers.map((o) => o.localPort), [5432, 443, 22, 5432]);
    assert.deepEqual(offers.map((o) => o.family), [4, 4, 6, 4]);
    assert.deepEqual([...offers[3]!.localAddress], [...vip2]);
    offers[2]!.accept(0);
    stack.flush(0, ev.emit);
    const synAck6 = transmits(ev.take())[0]!;
    assert.equal(synAck6.family, 6);
    assert.equal(synAck6.tcp.mss, 1360); // MTU 1420 - 60
  });

  it('clamps the send MSS to the tunnel MTU and uses the RFC default without an MSS option', () => {
    const { stack } = newStack({ mtu: 1280 });
    const ev = new Events();
    const o = open(stack, new Agent(), ev);
    assert.equal(o.synAck.tcp.mss, 1240);
    assert.equal((o.conn as unknown as { negotiated: { sendMss: number } }).negotiated.sendMss, 1240);
    const plain = open(stack, new Agent(4, 40001), ev, 0, { mss: undefined, windowScale: undefined, sackPermitted: false, timestamp: undefined });
    const n = (plain.conn as unknown as { negotiated: { windowScale: boolean; sack: boolean; timestamps: boolean; sendMss: number } }).negotiated;
    assert.deepEqual(n, { windowScale: false, sack: false, timestamps: false, sendMss: 536 });
    assert.equal(plain.synAck.tcp.windowScale, undefined);
    assert.equal(plain.synAck.tcp.timestamp, undefined);
  });

  it('answers segments for no connection with RST (RFC 9293 §3.10.7.1), never a RST with one', () => {
    const { stack, counters } = newStack();
    const ev = new Events();
    const agent = new Agent();
    stack.input(0, agent.seg({ seq: 100, ack: 5555, flags: TCP_ACK, payload: new Uint8Array(10) }), ev.emit);
    let [rst] = transmits(ev.take());
    assert.equal(rst!.tcp.flags, TCP_RST);
    assert.equal(rst!.tcp.seq, 5555);
    stack.input(0, agent.seg({ seq: 100, flags: 0x01 /* FIN */, payload: new Uint8Array(10) }), ev.emit);
    [rst] = transmits(ev.take());
    assert.equal(rst!.tcp.flags, TCP_RST | TCP_ACK);
    assert.equal(rst!.tcp.ack, 111);
    stack.input(0, agent.seg({ seq: 100, flags: TCP_RST }), ev.emit);
    assert.deepEqual(ev.take(), []);
    assert.equal(counters.get('tcp.no_connection'), 3);
    assert.equal(counters.get('tcp.rst_sent'), 2);
  });

  it('drops malformed segments with a counter each', () => {
    const { stack, counters } = newStack();
    const ev = new Events();
    const agent = new Agent();
    const good = agent.seg({ seq: 1, flags: TCP_SYN });
    stack.input(0, { ...good, segment: good.segment.subarray(0, 10) }, ev.emit);
    const bad = good.segment.slice(); bad[4]! ^= 1;
    stack.input(0, { ...good, segment: bad }, ev.emit);
    stack.input(0, agent.seg({ seq: 1, flags: TCP_SYN | 0x01 }), ev.emit);
    stack.input(0, { ...good, src: new Uint8Array(16) }, ev.emit);
    const zeroPort = new Agent(4, 0);
    stack.input(0, zeroPort.seg({ seq: 1, flags: TCP_SYN }), ev.emit);
    assert.deepEqual(ev.take(), []);
    assert.equal(counters.get('tcp.bad_length'), 1);
    assert.equal(counters.get('tcp.bad_checksum'), 1);
    assert.equal(counters.get('tcp.bad_flags'), 1);
    assert.equal(counters.get('tcp.bad_address'), 1);
    assert.equal(counters.get('tcp.bad_port'), 1);
    assert.equal(stack.connectionCount, 0);
  });
});

describe('TCP active open', () => {
  it('connects two stacks and negotiates every option', () => {
    const a = newStack({}, 1);
    const b = newStack({}, 2);
    const ea = new Events();
    const eb = new Events();
    const agent = new Agent();
    const client = a.stack.connect(0, { family: 4, src: agent.addr, srcPort: 40000, dst: agent.vip, dstPort: 5432, peer: 'p' }, ea.emit);
    assert.equal(client.state, 'SYN-SENT');
    const [syn] = transmits(ea.take());
    assert.equal(syn!.tcp.flags, TCP_SYN);
    assert.equal(syn!.tcp.windowScale, 3);
    assert.equal(syn!.tcp.sackPermitted, true);
    assert.equal(syn!.tcp.timestamp!.echo, 0);
    b.stack.input(1, { family: 4, src: syn!.src, dst: syn!.dst, segment: syn!.packet.subarray(20), peer: 'p' }, eb.emit);
    const server = conns(eb.take(), 'offer')[0]!;
    server.accept(1);
    b.stack.flush(1, eb.emit);
    const [synAck] = transmits(eb.take());
    a.stack.input(2, { family: 4, src: synAck!.src, dst: synAck!.dst, segment: synAck!.packet.subarray(20), peer: 'p' }, ea.emit);
    const evs = ea.take();
    assert.deepEqual(evs.map((e) => e.kind).sort(), ['established', 'transmit']);
    assert.equal(client.state, 'ESTABLISHED');
    const [ack] = transmits(evs);
    b.stack.input(3, { family: 4, src: ack!.src, dst: ack!.dst, segment: ack!.packet.subarray(20), peer: 'p' }, eb.emit);
    assert.deepEqual(eb.kinds(), ['established']);
    assert.throws(() => a.stack.connect(4, { family: 4, src: agent.addr, srcPort: 40000, dst: agent.vip, dstPort: 5432, peer: 'p' }, ea.emit));
  });

  it('reports refused when the SYN is answered with RST', () => {
    const a = newStack();
    const ea = new Events();
    const agent = new Agent();
    const client = a.stack.connect(0, { family: 4, src: agent.addr, srcPort: 40000, dst: agent.vip, dstPort: 5432, peer: 'p' }, ea.emit);
    const [syn] = transmits(ea.take());
    const peer = new Agent(4, 5432, 40000);
    (peer as { addr: Uint8Array }).addr = agent.vip;
    (peer as { vip: Uint8Array }).vip = agent.addr;
    a.stack.input(1, peer.seg({ seq: 0, ack: syn!.tcp.seq + 1, flags: TCP_RST | TCP_ACK }), ea.emit);
    assert.deepEqual(ea.list.map((e) => e.kind), ['closed']);
    assert.equal(client.closeReason, 'refused');
  });
});

describe('packets built by the stack', () => {
  it('carry a valid IPv4 header checksum whatever their length (RST, SYN-ACK, data)', async () => {
    const { Ipv4Packet } = await import('../../../netstack/wire/ipv4.js');
    const { stack } = newStack();
    const ev = new Events();
    const agent = new Agent();
    stack.input(0, agent.seg({ seq: 7, flags: TCP_SYN, ...LINUX_SYN }), ev.emit);
    conns(ev.take(), 'offer')[0]!.refuse(1);
    stack.flush(1, ev.emit);
    const o = open(stack, new Agent(4, 40001), ev, 2);
    o.conn.write(3, new Uint8Array(3000).fill(7));
    stack.flush(3, ev.emit);
    const packets = [...ev.take(), o.synAck].map((e) => (e as { packet: Uint8Array }).packet).filter(Boolean);
    assert.ok(packets.length >= 3);
    for (const packet of packets) assert.equal(Ipv4Packet.checked(packet).verifyChecksum(), true);
  });
});
