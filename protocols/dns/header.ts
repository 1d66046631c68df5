/** RFC 1035 §4.1.1 header: a view-free parsed value and its encoder. */
import {
  FLAG_AA, FLAG_AD, FLAG_CD, FLAG_QR, FLAG_RA, FLAG_RD, FLAG_TC, FLAG_Z, HEADER_SIZE, OFFSET_ANCOUNT,
  OFFSET_ARCOUNT, OFFSET_FLAGS, OFFSET_ID, OFFSET_NSCOUNT, OFFSET_QDCOUNT, OPCODE_MASK, OPCODE_SHIFT, RCODE_MASK,
} from './constants.js';
import { DnsError } from './errors.js';

export interface DnsHeader {
  id: number;
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  /** The reserved Z bit; must be zero in what we send, ignored in what we receive. */
  z: boolean;
  ad: boolean;
  cd: boolean;
  /** The low 4 bits only; EDNS extends it (see edns.ts). */
  rcode: number;
  qdcount: number;
  ancount: number;
  nscount: number;
  arcount: number;
}

function u16(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}

export function readHeader(message: Uint8Array): DnsHeader {
  if (message.length < HEADER_SIZE) throw new DnsError('DNS_TRUNCATED', `${message.length} octets is shorter than a header`);
  const flags = u16(message, OFFSET_FLAGS);
  return {
    id: u16(message, OFFSET_ID),
    qr: (flags & FLAG_QR) !== 0,
    opcode: (flags >> OPCODE_SHIFT) & OPCODE_MASK,
    aa: (flags & FLAG_AA) !== 0,
    tc: (flags & FLAG_TC) !== 0,
    rd: (flags & FLAG_RD) !== 0,
    ra: (flags & FLAG_RA) !== 0,
    z: (flags & FLAG_Z) !== 0,
    ad: (flags & FLAG_AD) !== 0,
    cd: (flags & FLAG_CD) !== 0,
    rcode: flags & RCODE_MASK,
    qdcount: u16(message, OFFSET_QDCOUNT),
    ancount: u16(message, OFFSET_ANCOUNT),
    nscount: u16(message, OFFSET_NSCOUNT),
    arcount: u16(message, OFFSET_ARCOUNT),
  };
}

export function writeHeader(h: DnsHeader, out: Uint8Array): void {
  for (const [name, value, max] of [
    ['id', h.id, 0xffff], ['opcode', h.opcode, OPCODE_MASK], ['rcode', h.rcode, RCODE_MASK],
    ['qdcount', h.qdcount, 0xffff], ['ancount', h.ancount, 0xffff], ['nscount', h.nscount, 0xffff], ['arcount', h.arcount, 0xffff],
  ] as const) {
    if (!Number.isInteger(value) || value < 0 || value > max) throw new DnsError('DNS_BAD_VALUE', `header ${name} ${value}`);
  }
  const flags = (h.qr ? FLAG_QR : 0) | (h.opcode << OPCODE_SHIFT) | (h.aa ? FLAG_AA : 0) | (h.tc ? FLAG_TC : 0)
    | (h.rd ? FLAG_RD : 0) | (h.ra ? FLAG_RA : 0) | (h.z ? FLAG_Z : 0) | (h.ad ? FLAG_AD : 0) | (h.cd ? FLAG_CD : 0) | h.rcode;
  const view = new DataView(out.buffer, out.byteOffset, HEADER_SIZE);
  view.setUint16(OFFSET_ID, h.id);
  view.setUint16(OFFSET_FLAGS, flags);
  view.setUint16(OFFSET_QDCOUNT, h.qdcount);
  view.setUint16(OFFSET_ANCOUNT, h.ancount);
  view.setUint16(OFFSET_NSCOUNT, h.nscount);
  view.setUint16(OFFSET_ARCOUNT, h.arcount);
}
