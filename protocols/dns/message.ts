/**
 * RFC 1035 §4.1: a whole DNS message, every section, read with the length checks done once per
 * field. Record data is returned as a view; names inside record data are not expanded (we never
 * need them), but their owner names are, with the same pointer rules as questions.
 */
import {
  CLASS_IN, HEADER_SIZE, MAX_MESSAGE_SIZE, RCODE_MASK, RR_FIXED_SIZE, TYPE,
} from './constants.js';
import { ednsFromRecord, type Edns } from './edns.js';
import { DnsError } from './errors.js';
import { readHeader, type DnsHeader } from './header.js';
import { readName } from './name.js';

export interface DnsQuestion {
  /** Uncompressed wire form, case as asked (echoed verbatim in answers). */
  wire: Uint8Array;
  /** Presentation form, case as asked; compare with canonicalName(). */
  name: string;
  type: number;
  class: number;
}

export interface DnsRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  data: Uint8Array;
}

export interface DnsMessage {
  header: DnsHeader;
  questions: DnsQuestion[];
  answers: DnsRecord[];
  authorities: DnsRecord[];
  /** Additional records without the OPT record, which is `edns`. */
  additionals: DnsRecord[];
  edns?: Edns;
  /** The full rcode: header bits plus EDNS extended bits. */
  rcode: number;
}

const QUESTION_FIXED_SIZE = 4; // QTYPE(2) QCLASS(2)

export function parseMessage(message: Uint8Array): DnsMessage {
  if (message.length > MAX_MESSAGE_SIZE) throw new DnsError('DNS_MESSAGE_TOO_LARGE', `${message.length} octets`);
  const header = readHeader(message);
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  let pos = HEADER_SIZE;

  const questions: DnsQuestion[] = [];
  for (let i = 0; i < header.qdcount; i++) {
    const name = readName(message, pos);
    pos = name.end;
    if (pos + QUESTION_FIXED_SIZE > message.length) throw new DnsError('DNS_TRUNCATED', `question ${i} cut short`);
    questions.push({ wire: name.wire, name: name.text, type: view.getUint16(pos), class: view.getUint16(pos + 2) });
    pos += QUESTION_FIXED_SIZE;
  }

  const readRecords = (count: number, section: string): DnsRecord[] => {
    const records: DnsRecord[] = [];
    for (let i = 0; i < count; i++) {
      const name = readName(message, pos);
      pos = name.end;
      if (pos + RR_FIXED_SIZE > message.length) throw new DnsError('DNS_TRUNCATED', `${section} record ${i} cut short`);
      const type = view.getUint16(pos);
      const cls = view.getUint16(pos + 2);
      const ttl = view.getUint32(pos + 4);
      const rdlength = view.getUint16(pos + 8);
      pos += RR_FIXED_SIZE;
      if (pos + rdlength > message.length) throw new DnsError('DNS_TRUNCATED', `${section} record ${i} data cut short`);
      const data = message.subarray(pos, pos + rdlength);
      pos += rdlength;
      if (cls === CLASS_IN && ((type === TYPE.A && rdlength !== 4) || (type === TYPE.AAAA && rdlength !== 16))) {
        throw new DnsError('DNS_BAD_RDATA', `${section} record ${i}: type ${type} with ${rdlength} octets`);
      }
      if (type === TYPE.OPT && section !== 'additional') throw new DnsError('DNS_BAD_OPT', `OPT in the ${section} section`);
      if (type === TYPE.OPT && name.text !== '.') throw new DnsError('DNS_BAD_OPT', 'OPT owner is not the root');
      records.push({ name: name.text, type, class: cls, ttl, data });
    }
    return records;
  };
  const answers = readRecords(header.ancount, 'answer');
  const authorities = readRecords(header.nscount, 'authority');
  const additionalsWithOpt = readRecords(header.arcount, 'additional');
  if (pos !== message.length) throw new DnsError('DNS_TRAILING_DATA', `${message.length - pos} octets after the last record`);

  const opts = additionalsWithOpt.filter((r) => r.type === TYPE.OPT);
  if (opts.length > 1) throw new DnsError('DNS_BAD_OPT', `${opts.length} OPT records`);
  const opt = opts[0];
  const edns = opt ? ednsFromRecord(opt.class, opt.ttl, opt.data) : undefined;
  const result: DnsMessage = {
    header,
    questions,
    answers,
    authorities,
    additionals: additionalsWithOpt.filter((r) => r.type !== TYPE.OPT),
    rcode: ((edns?.extendedRcode ?? 0) << 4) | (header.rcode & RCODE_MASK),
  };
  if (edns) result.edns = edns;
  return result;
}
