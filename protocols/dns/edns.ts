/**
 * RFC 6891 §6.1: the OPT pseudo-record. Its CLASS is the sender's UDP payload size and its TTL
 * packs EXTENDED-RCODE, VERSION, the DO bit (RFC 3225) and Z. Options are kept as raw bytes: we
 * implement none (a responder that does not know an option ignores it, §6.1.2).
 */
import { CLASSIC_UDP_SIZE, EDNS_DO, OUR_UDP_SIZE, RCODE_MASK, TYPE } from './constants.js';
import { DnsError } from './errors.js';

export interface Edns {
  /** Requestor's payload size as sent (values below 512 mean 512, §6.2.5). */
  udpSize: number;
  /** Upper 8 bits of the 12-bit rcode. */
  extendedRcode: number;
  version: number;
  dnssecOk: boolean;
  options: Uint8Array;
}

/** OPT as written by us: root name, type, class, ttl, rdlength 0. */
export const OPT_RECORD_SIZE = 11;

export function ednsFromRecord(cls: number, ttl: number, rdata: Uint8Array): Edns {
  return {
    udpSize: cls,
    extendedRcode: (ttl >>> 24) & 0xff,
    version: (ttl >>> 16) & 0xff,
    dnssecOk: (ttl & EDNS_DO) !== 0,
    options: rdata,
  };
}

export function writeOpt(out: Uint8Array, at: number, fields: { rcode: number; dnssecOk: boolean; udpSize?: number }): number {
  const extended = fields.rcode >> 4;
  if (extended > 0xff) throw new DnsError('DNS_BAD_VALUE', `rcode ${fields.rcode} beyond 12 bits`);
  const view = new DataView(out.buffer, out.byteOffset + at, OPT_RECORD_SIZE);
  view.setUint8(0, 0); // root owner
  view.setUint16(1, TYPE.OPT);
  view.setUint16(3, fields.udpSize ?? OUR_UDP_SIZE);
  view.setUint8(5, extended);
  view.setUint8(6, 0); // version 0: the only one defined
  view.setUint16(7, fields.dnssecOk ? EDNS_DO : 0);
  view.setUint16(9, 0);
  return at + OPT_RECORD_SIZE;
}

/** The low 4 bits go in the header; the full value needs OPT when it exceeds 15. */
export function headerRcode(rcode: number): number {
  return rcode & RCODE_MASK;
}

/**
 * How large a UDP response may be: 512 without EDNS (RFC 1035 §4.2.1), else the requestor's size,
 * floored at 512 (RFC 6891 §6.2.5) and capped at ours so answers never need IP fragments.
 */
export function responseSizeLimit(edns: Edns | undefined): number {
  if (!edns) return CLASSIC_UDP_SIZE;
  return Math.min(Math.max(edns.udpSize, CLASSIC_UDP_SIZE), OUR_UDP_SIZE);
}
