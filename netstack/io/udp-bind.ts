/**
 * The UDP socket WireGuard runs on. One dual-stack socket (IPv4-mapped addresses are turned back
 * into dotted quads so a peer's endpoint reads the same however it arrived).
 */
import dgram from 'node:dgram';
import { lookup as dnsLookup } from 'node:dns';
import { isIP, isIPv4 } from 'node:net';

export interface Datagram {
  address: string;
  port: number;
  bytes: Uint8Array;
}

export interface UdpBindOptions {
  port: number;
  host?: string; // default "::" (all addresses, both families)
  receiveBufferSize?: number;
  sendBufferSize?: number;
}

export class UdpBind {
  readonly #socket: dgram.Socket;
  #closed = false;

  readonly #v6: boolean;

  private constructor(socket: dgram.Socket, v6: boolean) {
    this.#socket = socket;
    this.#v6 = v6;
  }

  static async open(options: UdpBindOptions, onDatagram: (d: Datagram) => void, onError: (e: Error) => void): Promise<UdpBind> {
    const host = options.host ?? '::';
    const v6 = host.includes(':');
    const socket = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: false, reuseAddr: false, lookup: literalLookup(v6) });
    const bind = new UdpBind(socket, v6);
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ port: options.port, address: host, exclusive: true }, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    // Large buffers: a burst of handshakes or data must not overflow the kernel queue while the
    // event loop is busy (wireguard-go overflowed its 4 MiB receive buffer in our baselines).
    try {
      socket.setRecvBufferSize(options.receiveBufferSize ?? 8 * 1024 * 1024);
      socket.setSendBufferSize(options.sendBufferSize ?? 8 * 1024 * 1024);
    } catch {
      // Capped by net.core.rmem_max; the default still works.
    }
    socket.on('message', (msg, rinfo) => {
      onDatagram({ address: unmapV4(rinfo.address), port: rinfo.port, bytes: msg });
    });
    socket.on('error', onError);
    return bind;
  }

  get port(): number {
    return this.#socket.address().port;
  }

  send(address: string, port: number, bytes: Uint8Array): void {
    if (this.#closed) return;
    const target = this.#v6 && isIPv4(address) ? `::ffff:${address}` : address;
    this.#socket.send(bytes, port, target);
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }
}

type LookupCallback = (error: Error | null, address: string, family: number) => void;

/**
 * Every send names its destination, and dgram resolves it first: with the default lookup even an
 * address literal costs a dns.lookup call and a process.nextTick before the datagram leaves.
 * Peers' endpoints are literals (taken from authenticated datagrams), so a literal is answered
 * at once; a name goes to DNS, any family, an IPv4 answer mapped for the dual-stack socket.
 */
function literalLookup(v6: boolean): (address: string, family: unknown, callback: LookupCallback) => void {
  return (address, _family, callback) => {
    const kind = isIP(address);
    if (kind !== 0) {
      callback(null, address, kind);
      return;
    }
    dnsLookup(address, { family: v6 ? 0 : 4 }, (error, resolved, family) => {
      if (error) callback(error, '', 0);
      else if (v6 && family === 4) callback(null, `::ffff:${resolved}`, 6);
      else callback(null, resolved, family);
    });
  };
}

function unmapV4(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
