/**
 * The queries Bailiff answers: standard QUERY messages with exactly one question (RFC 9619 made
 * QDCOUNT = 1 the rule; RFC 1035 never said what several questions would mean). `encodeQuery`
 * exists for tests and for clients; the responder only parses.
 */
import { CLASS_IN, HEADER_SIZE, OPCODE_QUERY } from './constants.js';
import { writeOpt, OPT_RECORD_SIZE, type Edns } from './edns.js';
import { DnsError } from './errors.js';
import { writeHeader } from './header.js';
import { parseMessage, type DnsQuestion } from './message.js';
import { encodeName } from './name.js';

export interface DnsQuery {
  id: number;
  opcode: number;
  rd: boolean;
  cd: boolean;
  question: DnsQuestion;
  edns?: Edns;
}

/** Throws DnsError for anything but a well-formed query with one question. */
export function parseQuery(bytes: Uint8Array): DnsQuery {
  const message = parseMessage(bytes);
  if (message.header.qr) throw new DnsError('DNS_NOT_QUERY', 'QR is set: a response, not a query');
  if (message.questions.length !== 1) throw new DnsError('DNS_BAD_QDCOUNT', `QDCOUNT ${message.questions.length}`);
  const query: DnsQuery = {
    id: message.header.id,
    opcode: message.header.opcode,
    rd: message.header.rd,
    cd: message.header.cd,
    question: message.questions[0]!,
  };
  if (message.edns) query.edns = message.edns;
  return query;
}

export interface QuerySpec {
  id: number;
  name: string;
  type: number;
  class?: number;
  opcode?: number;
  rd?: boolean;
  /** Include an OPT record advertising this payload size. */
  edns?: { udpSize: number; dnssecOk?: boolean };
}

export function encodeQuery(spec: QuerySpec): Uint8Array {
  const cls = spec.class ?? CLASS_IN;
  if (spec.type < 0 || spec.type > 0xffff || cls < 0 || cls > 0xffff) throw new DnsError('DNS_BAD_VALUE', 'type or class out of range');
  const name = encodeName(spec.name);
  const size = HEADER_SIZE + name.length + 4 + (spec.edns ? OPT_RECORD_SIZE : 0);
  const out = new Uint8Array(size);
  writeHeader({
    id: spec.id, qr: false, opcode: spec.opcode ?? OPCODE_QUERY, aa: false, tc: false, rd: spec.rd ?? true,
    ra: false, z: false, ad: false, cd: false, rcode: 0, qdcount: 1, ancount: 0, nscount: 0, arcount: spec.edns ? 1 : 0,
  }, out);
  out.set(name, HEADER_SIZE);
  let at = HEADER_SIZE + name.length;
  out[at++] = spec.type >> 8; out[at++] = spec.type & 0xff;
  out[at++] = cls >> 8; out[at++] = cls & 0xff;
  if (spec.edns) writeOpt(out, at, { rcode: 0, dnssecOk: spec.edns.dnssecOk ?? false, udpSize: spec.edns.udpSize });
  return out;
}
