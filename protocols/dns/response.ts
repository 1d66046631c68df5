/**
 * Responses to one parsed query (RFC 1035 §4.1, RFC 6891 §7). The question is echoed exactly as
 * asked (case included, so 0x20-randomising resolvers accept it) and every answer's owner is a
 * pointer to it (0xC00C): we only ever answer the name that was asked, never a CNAME chain.
 *
 * Size: records that do not fit the requestor's limit are left out and TC is set (RFC 2181 §9);
 * the OPT record is always kept, so the client still learns our payload size (RFC 6891 §7).
 */
import {
  HEADER_SIZE, QUESTION_NAME_POINTER, RCODE, RR_FIXED_SIZE, TYPE,
} from './constants.js';
import { headerRcode, OPT_RECORD_SIZE, responseSizeLimit, writeOpt } from './edns.js';
import { DnsError } from './errors.js';
import { writeHeader, type DnsHeader } from './header.js';
import type { DnsQuery } from './query.js';

export interface DnsAnswer {
  type: number;
  /** Seconds; RFC 2181 §8 limits it to 2^31 - 1. */
  ttl: number;
  data: Uint8Array;
}

export interface ResponseSpec {
  /** Full rcode (values above 15 need the query to have EDNS). */
  rcode: number;
  /** Authoritative: set for names we own (endpoint VIPs), not for relayed upstream answers. */
  aa?: boolean;
  ra?: boolean;
  answers?: readonly DnsAnswer[];
  /** Override the size limit (default: from the query's EDNS). */
  maxSize?: number;
}

const MAX_TTL = 0x7fffffff;
const POINTER_SIZE = 2;

function checkAnswer(a: DnsAnswer): void {
  if (!Number.isInteger(a.ttl) || a.ttl < 0 || a.ttl > MAX_TTL) throw new DnsError('DNS_BAD_VALUE', `ttl ${a.ttl}`);
  if ((a.type === TYPE.A && a.data.length !== 4) || (a.type === TYPE.AAAA && a.data.length !== 16)) {
    throw new DnsError('DNS_BAD_VALUE', `type ${a.type} with ${a.data.length} octets`);
  }
  if (a.data.length > 0xffff || a.type < 0 || a.type > 0xffff) throw new DnsError('DNS_BAD_VALUE', 'answer out of range');
}

export function encodeResponse(query: DnsQuery, spec: ResponseSpec): Uint8Array {
  const answers = spec.answers ?? [];
  answers.forEach(checkAnswer);
  if (spec.rcode > 0xf && !query.edns) throw new DnsError('DNS_BAD_VALUE', `rcode ${spec.rcode} needs EDNS`);
  const limit = spec.maxSize ?? responseSizeLimit(query.edns);
  const question = query.question;
  const base = HEADER_SIZE + question.wire.length + 4 + (query.edns ? OPT_RECORD_SIZE : 0);
  if (base > limit) throw new DnsError('DNS_BAD_VALUE', `limit ${limit} below the ${base} octets of header and question`);

  let size = base;
  let fitting = 0;
  for (const a of answers) {
    const add = POINTER_SIZE + RR_FIXED_SIZE + a.data.length;
    if (size + add > limit) break;
    size += add;
    fitting++;
  }
  const out = new Uint8Array(size);
  writeHeader({
    id: query.id, qr: true, opcode: query.opcode, aa: spec.aa ?? false, tc: fitting < answers.length, rd: query.rd,
    ra: spec.ra ?? false, z: false, ad: false, cd: query.cd, rcode: headerRcode(spec.rcode),
    qdcount: 1, ancount: fitting, nscount: 0, arcount: query.edns ? 1 : 0,
  }, out);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let at = HEADER_SIZE;
  out.set(question.wire, at);
  at += question.wire.length;
  view.setUint16(at, question.type);
  view.setUint16(at + 2, question.class);
  at += 4;
  for (const a of answers.slice(0, fitting)) {
    view.setUint16(at, QUESTION_NAME_POINTER);
    view.setUint16(at + 2, a.type);
    view.setUint16(at + 4, question.class);
    view.setUint32(at + 6, a.ttl);
    view.setUint16(at + 10, a.data.length);
    out.set(a.data, at + 12);
    at += POINTER_SIZE + RR_FIXED_SIZE + a.data.length;
  }
  if (query.edns) writeOpt(out, at, { rcode: spec.rcode, dnssecOk: query.edns.dnssecOk });
  return out;
}

/**
 * A header-only answer (QDCOUNT 0) for messages whose question we could not read or do not
 * implement: FORMERR and NOTIMP (RFC 1035 §4.1.1). Echoes ID, opcode and RD so the client can
 * match it to its query.
 */
export function encodeHeaderOnlyResponse(query: Pick<DnsHeader, 'id' | 'opcode' | 'rd' | 'cd'>, rcode: typeof RCODE.FORMERR | typeof RCODE.NOTIMP | typeof RCODE.SERVFAIL | typeof RCODE.REFUSED): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE);
  writeHeader({
    id: query.id, qr: true, opcode: query.opcode, aa: false, tc: false, rd: query.rd, ra: false, z: false, ad: false,
    cd: query.cd, rcode, qdcount: 0, ancount: 0, nscount: 0, arcount: 0,
  }, out);
  return out;
}
