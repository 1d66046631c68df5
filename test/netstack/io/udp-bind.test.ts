/**
 * The WireGuard UDP socket: datagrams both ways on loopback, IPv4 senders reported as dotted quads
 * on the dual-stack socket, and destinations given as literals (sent at once) or as names (resolved).
 */
import { strict as assert } from 'node:assert';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { test } from 'node:test';
import { UdpBind, type Datagram } from '../../../netstack/io/udp-bind.js';

test('sends to literals and names, and reports IPv4 senders as dotted quads', async () => {
  const received: Datagram[] = [];
  const bind = await UdpBind.open({ port: 0 }, (d) => received.push(d), (e) => assert.fail(e));
  // Dual-stack like the bind, so `localhost` reaches it whether it resolves to 127.0.0.1 or ::1.
  const peer = dgram.createSocket({ type: 'udp6', ipv6Only: false });
  try {
    await new Promise<void>((resolve) => peer.bind(0, '::', resolve));
    const peerPort = peer.address().port;
    const got: Buffer[] = [];
    peer.on('message', (m) => got.push(m));

    peer.send(Buffer.from('hello'), bind.port, '::ffff:127.0.0.1');
    while (received.length === 0) await new Promise((r) => setTimeout(r, 5));
    assert.equal(received[0]!.address, '127.0.0.1');
    assert.equal(received[0]!.port, peerPort);
    assert.equal(Buffer.from(received[0]!.bytes).toString(), 'hello');

    bind.send('127.0.0.1', peerPort, Buffer.from('literal'));
    await once(peer, 'message');
    bind.send('localhost', peerPort, Buffer.from('by name'));
    await once(peer, 'message');
    assert.deepEqual(got.map((m) => m.toString()), ['literal', 'by name']);
  } finally {
    peer.close();
    await bind.close();
  }
});
