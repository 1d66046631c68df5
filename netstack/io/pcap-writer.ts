/**
 * A pcap tap on the tunnel side: every decrypted IP packet in and every IP packet out, written in
 * the classic libpcap format with LINKTYPE_RAW (101: the packet starts at its IP header, v4 or v6),
 * so Wireshark and tcpdump read it as is. Writes are buffered and bounded: past `maxBytes` the tap
 * stops and counts what it did not write, so a forgotten tap cannot fill the disk.
 */
import { closeSync, openSync, writeSync } from 'node:fs';

const PCAP_MAGIC = 0xa1b2c3d4; // microsecond timestamps
const PCAP_VERSION_MAJOR = 2;
const PCAP_VERSION_MINOR = 4;
const LINKTYPE_RAW = 101;
const GLOBAL_HEADER_SIZE = 24;
const RECORD_HEADER_SIZE = 16;
const FLUSH_BYTES = 64 * 1024;

export interface PcapWriterOptions {
  /** Bytes of each packet kept (the rest is cut, as `tcpdump -s`). */
  snapLength?: number;
  /** Stop after this many bytes in the file. */
  maxBytes?: number;
  /** Wall clock in milliseconds (for the record timestamps). */
  clock?: () => number;
}

export class PcapWriter {
  readonly #fd: number;
  readonly #snap: number;
  readonly #max: number;
  readonly #clock: () => number;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #written = 0;
  #closed = false;
  packets = 0;
  skipped = 0;

  constructor(path: string, options: PcapWriterOptions = {}) {
    this.#snap = options.snapLength ?? 65535;
    this.#max = options.maxBytes ?? 1024 * 1024 * 1024;
    this.#clock = options.clock ?? Date.now;
    this.#fd = openSync(path, 'w', 0o600);
    const header = Buffer.alloc(GLOBAL_HEADER_SIZE);
    header.writeUInt32LE(PCAP_MAGIC, 0);
    header.writeUInt16LE(PCAP_VERSION_MAJOR, 4);
    header.writeUInt16LE(PCAP_VERSION_MINOR, 6);
    header.writeInt32LE(0, 8); // thiszone
    header.writeUInt32LE(0, 12); // sigfigs
    header.writeUInt32LE(this.#snap, 16);
    header.writeUInt32LE(LINKTYPE_RAW, 20);
    writeSync(this.#fd, header);
    this.#written = GLOBAL_HEADER_SIZE;
  }

  /** Record one IP packet (copied now: callers reuse their buffers). */
  write(packet: Uint8Array): void {
    if (this.#closed) return;
    const kept = Math.min(packet.length, this.#snap);
    const size = RECORD_HEADER_SIZE + kept;
    if (this.#written + this.#pendingBytes + size > this.#max) {
      this.skipped++;
      return;
    }
    const ms = this.#clock();
    const record = Buffer.allocUnsafe(size);
    record.writeUInt32LE(Math.floor(ms / 1000), 0);
    record.writeUInt32LE(Math.floor((ms % 1000) * 1000), 4);
    record.writeUInt32LE(kept, 8);
    record.writeUInt32LE(packet.length, 12);
    record.set(packet.subarray(0, kept), RECORD_HEADER_SIZE);
    this.#pending.push(record);
    this.#pendingBytes += size;
    this.packets++;
    if (this.#pendingBytes >= FLUSH_BYTES) this.flush();
  }

  flush(): void {
    if (this.#pending.length === 0) return;
    const data = Buffer.concat(this.#pending, this.#pendingBytes);
    this.#pending = [];
    this.#pendingBytes = 0;
    writeSync(this.#fd, data);
    this.#written += data.length;
  }

  close(): void {
    if (this.#closed) return;
    this.flush();
    this.#closed = true;
    closeSync(this.#fd);
  }
}
