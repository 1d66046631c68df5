/**
 * The whole userspace network stack behind one UDP socket: WireGuard (decrypt, peer, allowed
 * IPs) -> IP (v4/v6, ICMP echo) -> TCP (promiscuous accept, offers at SYN time) and UDP
 * delivery. Sans-IO like its parts: datagrams and time go in, datagrams to send and transport
 * events come out through the hooks; one deadline (`nextDeadline`) covers every timer.
 */
import type { Counters } from '../counters.js';
import type { IpStack } from '../ip/stack.js';
import type { TcpEvent, TcpStack } from '../tcp/tcp-stack.js';
import type { Device, DeviceOutput, PeerHandle, UdpEndpoint } from '../wireguard/device.js';

export interface UdpDelivery {
  peer: PeerHandle;
  family: 4 | 6;
  src: Uint8Array;
  dst: Uint8Array;
  srcPort: number;
  dstPort: number;
  payload: Uint8Array;
  packet: Uint8Array;
}

export interface NetStackHooks {
  /** A WireGuard datagram to send on the UDP socket. */
  sendDatagram(to: UdpEndpoint, bytes: Uint8Array): void;
  /** A TCP event: offers to decide, data to read, room to write, closes. */
  tcpEvent(event: TcpEvent): void;
  /** A UDP datagram from a peer (DNS, and everything else the caller drops and counts). */
  udp(delivery: UdpDelivery): void;
  /** Every decrypted IP packet in and every IP packet out (the pcap tap). */
  tap?(packet: Uint8Array): void;
}

export class NetStack {
  readonly #device: Device;
  readonly #ip: IpStack;
  readonly #tcp: TcpStack;
  readonly #counters: Counters;
  readonly #hooks: NetStackHooks;
  readonly #peerKeys = new WeakMap<PeerHandle, string>();
  readonly #emit: (e: TcpEvent) => void;
  #now = 0;

  constructor(parts: { device: Device; ip: IpStack; tcp: TcpStack; counters: Counters }, hooks: NetStackHooks) {
    this.#device = parts.device;
    this.#ip = parts.ip;
    this.#tcp = parts.tcp;
    this.#counters = parts.counters;
    this.#hooks = hooks;
    this.#emit = (e) => {
      if (e.kind === 'transmit') this.sendPacket(this.#now, e.packet);
      else this.#hooks.tcpEvent(e);
    };
  }

  get device(): Device {
    return this.#device;
  }

  get tcp(): TcpStack {
    return this.#tcp;
  }

  /** The stable key TCP connections carry for their peer: the base64 public key. */
  peerKey(peer: PeerHandle): string {
    let key = this.#peerKeys.get(peer);
    if (key === undefined) {
      key = Buffer.from(peer.publicKey).toString('base64');
      this.#peerKeys.set(peer, key);
    }
    return key;
  }


  receiveDatagram(now: number, from: UdpEndpoint, datagram: Uint8Array): void {
    this.#now = now;
    this.#deviceOutputs(now, this.#device.receive(now, from, datagram));
  }

  /** Hold TCP output until endBatch (see TcpStack.beginBatch): the caller ends it within the turn. */
  beginBatch(): void {
    this.#tcp.beginBatch();
  }

  endBatch(now: number): void {
    this.#now = now;
    this.#tcp.endBatch(now, this.#emit);
  }

  /** An IP packet into the tunnel, routed to its peer by destination (allowed IPs). */
  sendPacket(now: number, packet: Uint8Array): void {
    this.#now = now;
    this.#hooks.tap?.(packet);
    this.#deviceOutputs(now, this.#device.send(now, packet));
  }

  /** After calling TCP connection methods (read, write, accept, shutdown...) outside an event. */
  flush(now: number): void {
    this.#now = now;
    this.#tcp.flush(now, this.#emit);
  }

  poll(now: number): void {
    this.#now = now;
    this.#deviceOutputs(now, this.#device.poll(now));
    this.#tcp.poll(now, this.#emit);
  }

  nextDeadline(): number | undefined {
    const a = this.#device.nextDeadline();
    const b = this.#tcp.nextDeadline();
    if (a === undefined) return b;
    if (b === undefined) return a;
    return Math.min(a, b);
  }

  #deviceOutputs(now: number, outputs: DeviceOutput[]): void {
    for (const out of outputs) {
      if (out.kind === 'toNetwork') {
        this.#hooks.sendDatagram(out.to, out.bytes);
      } else {
        this.#fromTunnel(now, out.peer, out.packet);
      }
    }
  }

  #fromTunnel(now: number, peer: PeerHandle, packet: Uint8Array): void {
    this.#hooks.tap?.(packet);
    const result = this.#ip.receive(now, packet);
    switch (result.kind) {
      case 'reply':
        this.sendPacket(now, result.packet);
        return;
      case 'drop':
        return;
      case 'deliver':
        break;
    }
    if (result.protocol === 'tcp') {
      const { header, payload } = result;
      // The IP layer hands header and payload as adjacent views of one packet; TCP takes both.
      const segment = new Uint8Array(header.buffer, header.byteOffset, header.length + payload.length);
      this.#tcp.input(now, { family: result.family, src: result.src, dst: result.dst, segment, peer: this.peerKey(peer) }, this.#emit);
      return;
    }
    this.#counters.inc('udp.received');
    this.#hooks.udp({
      peer,
      family: result.family,
      src: result.src,
      dst: result.dst,
      srcPort: result.srcPort ?? 0,
      dstPort: result.dstPort ?? 0,
      payload: result.payload,
      packet: result.packet,
    });
  }
}
