/**
 * The UDP socket WireGuard runs on. One dual-stack socket (IPv4-mapped addresses are turned back
 * into dotted quads so a peer's endpoint reads the same however it arrived).
 */
import dgram from 'node:dgram';

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
    const socket = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: false, reuseAddr: false });
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
    const target = this.#v6 && !address.includes(':') ? `::ffff:${address}` : address;
    this.#socket.send(bytes, port, target);
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }
}

function unmapV4(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
