/**
 * The DNS server inside the tunnel, sans-IO: one UDP payload in, one (or none) out. The caller owns
 * the socket (netstack UDP on the appliance's tunnel address, or a plain dgram socket in tests).
 *
 * - Endpoint names (exact or under a `*.suffix` wildcard) answer with their VIPs, authoritative,
 *   TTL 300 s. Other record types for them answer NODATA at once (NOERROR, no records): clients
 *   asking for HTTPS/SVCB/MX before A must not wait for a timeout, and the real address never leaks.
 * - Other names: `unknown_host = "deny"` answers REFUSED (fast failure, nothing resolved for the
 *   agent); "passthrough" resolves A/AAAA through the appliance's own resolver with a short TTL.
 * - Garbage shorter than a header and any response message (QR = 1) are dropped silently: no
 *   answer to what is not a query, so two resolvers can never bounce messages between them.
 *   A query we cannot read answers FORMERR; other opcodes NOTIMP; EDNS versions above 0 BADVERS.
 */
import {
  canonicalName, CLASS_IN, DnsError, encodeHeaderOnlyResponse, encodeResponse, OPCODE_QUERY, parseQuery, RCODE,
  readHeader, TYPE, type DnsAnswer, type DnsQuery,
} from '../protocols/dns/index.js';
import type { VipTable } from './vip-table.js';

/** Long enough to spare the agent's stub resolver, short enough to follow a config change soon. */
export const VIP_TTL_SECONDS = 300;
/** Upstream answers are not ours: keep them briefly, so the real TTLs roughly still hold. */
export const PASSTHROUGH_TTL_SECONDS = 30;

export type DnsOutcome =
  | 'dropped' // not answered: garbage or a response message
  | 'formerr' | 'notimp' | 'badvers' | 'refused' | 'servfail'
  | 'vip' // endpoint name answered with VIPs
  | 'nodata' // name exists (endpoint or upstream) but not with this type
  | 'upstream' // passthrough answered with real addresses
  | 'nxdomain'; // passthrough: upstream says no such name

export interface DnsEvent {
  outcome: DnsOutcome;
  /** The name as asked (case kept), when the question could be read. */
  name?: string;
  qtype?: number;
  /** Stable code of what went wrong (DnsError code, VipTableError code, upstream error code). */
  reason?: string;
}

export interface DnsResponderContext {
  names: (name: string) => 'endpoint' | 'unknown';
  vips: Pick<VipTable, 'assign'>;
  unknownHost: 'deny' | 'passthrough';
  /** Resolves with the appliance's own resolver; should bound its own time (dns.Resolver timeout). */
  resolveUpstream?: (name: string, type: 'A' | 'AAAA') => Promise<Uint8Array[]>;
  /** Told the outcome of every message: metrics and the audit subscribe here. */
  observe?: (event: DnsEvent) => void;
}

/** Meta query types (RFC 6895 §3.1: 128-255) other than ANY: zone transfers and obsolete mail types. */
const META_QTYPE_MIN = 128;
const META_QTYPE_MAX = 255;

/** Upstream error codes (node:dns / c-ares) that mean "no such name" and "no such record". */
const UPSTREAM_NXDOMAIN = new Set(['ENOTFOUND', 'NXDOMAIN']);
const UPSTREAM_NODATA = new Set(['ENODATA', 'NODATA']);

export async function respond(query: Uint8Array, ctx: DnsResponderContext): Promise<Uint8Array | undefined> {
  const observe = (event: DnsEvent) => {
    try {
      ctx.observe?.(event);
    } catch {
      // An observer's bug must not take DNS down.
    }
  };
  let header;
  try {
    header = readHeader(query);
  } catch (e) {
    observe({ outcome: 'dropped', reason: e instanceof DnsError ? e.code : 'DNS_UNREADABLE' });
    return undefined;
  }
  if (header.qr) {
    observe({ outcome: 'dropped', reason: 'DNS_NOT_QUERY' });
    return undefined;
  }
  if (header.opcode !== OPCODE_QUERY) {
    observe({ outcome: 'notimp', reason: 'DNS_OPCODE_NOT_QUERY' });
    return encodeHeaderOnlyResponse(header, RCODE.NOTIMP);
  }
  let q: DnsQuery;
  try {
    q = parseQuery(query);
  } catch (e) {
    observe({ outcome: 'formerr', reason: e instanceof DnsError ? e.code : 'DNS_UNREADABLE' });
    return encodeHeaderOnlyResponse(header, RCODE.FORMERR);
  }
  const asked = { name: q.question.name, qtype: q.question.type };
  try {
    const { spec, event } = await answer(q, ctx);
    observe({ ...asked, ...event });
    return encodeResponse(q, { ra: true, ...spec });
  } catch (e) {
    // Only a bug (ours or a callback's) gets here; the client still hears back at once.
    observe({ ...asked, outcome: 'servfail', reason: (e as { code?: string }).code ?? 'DNS_INTERNAL' });
    try {
      return encodeResponse(q, { rcode: RCODE.SERVFAIL, ra: true });
    } catch {
      return encodeHeaderOnlyResponse(header, RCODE.SERVFAIL);
    }
  }
}

interface Answer {
  spec: { rcode: number; aa?: boolean; answers?: DnsAnswer[] };
  event: Pick<DnsEvent, 'outcome' | 'reason'>;
}

async function answer(q: DnsQuery, ctx: DnsResponderContext): Promise<Answer> {
  const { type, class: qclass } = q.question;
  if (q.edns && q.edns.version > 0) {
    // RFC 6891 §6.1.3: answer BADVERS with the highest version we implement (0).
    return { spec: { rcode: RCODE.BADVERS }, event: { outcome: 'badvers', reason: 'DNS_EDNS_VERSION' } };
  }
  if (qclass !== CLASS_IN) return { spec: { rcode: RCODE.REFUSED }, event: { outcome: 'refused', reason: 'DNS_CLASS_NOT_IN' } };
  if (type >= META_QTYPE_MIN && type <= META_QTYPE_MAX && type !== TYPE.ANY) {
    return { spec: { rcode: RCODE.REFUSED }, event: { outcome: 'refused', reason: 'DNS_META_QTYPE' } };
  }
  const name = canonicalName(q.question.name);

  if (ctx.names(name) === 'endpoint') {
    let vips;
    try {
      vips = ctx.vips.assign(name);
    } catch (e) {
      return { spec: { rcode: RCODE.SERVFAIL }, event: { outcome: 'servfail', reason: (e as { code?: string }).code ?? 'VIP_ERROR' } };
    }
    const answers: DnsAnswer[] = [];
    if (type === TYPE.A || type === TYPE.ANY) answers.push({ type: TYPE.A, ttl: VIP_TTL_SECONDS, data: vips.v4 });
    if (type === TYPE.AAAA || type === TYPE.ANY) answers.push({ type: TYPE.AAAA, ttl: VIP_TTL_SECONDS, data: vips.v6 });
    return { spec: { rcode: RCODE.NOERROR, aa: true, answers }, event: { outcome: answers.length > 0 ? 'vip' : 'nodata' } };
  }

  if (ctx.unknownHost === 'deny') return { spec: { rcode: RCODE.REFUSED }, event: { outcome: 'refused', reason: 'DNS_UNKNOWN_HOST' } };
  if (type !== TYPE.A && type !== TYPE.AAAA) {
    // We relay addresses only; anything else (TXT, MX, SVCB...) would need a full recursive relay.
    return { spec: { rcode: RCODE.NOERROR }, event: { outcome: 'nodata', reason: 'DNS_PASSTHROUGH_TYPE' } };
  }
  if (!ctx.resolveUpstream) return { spec: { rcode: RCODE.SERVFAIL }, event: { outcome: 'servfail', reason: 'DNS_NO_UPSTREAM' } };
  const family = type === TYPE.A ? 'A' : 'AAAA';
  let addresses: Uint8Array[];
  try {
    addresses = await ctx.resolveUpstream(name, family);
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    const reason = typeof code === 'string' ? code : 'UPSTREAM_ERROR';
    if (UPSTREAM_NXDOMAIN.has(reason)) return { spec: { rcode: RCODE.NXDOMAIN }, event: { outcome: 'nxdomain', reason } };
    if (UPSTREAM_NODATA.has(reason)) return { spec: { rcode: RCODE.NOERROR }, event: { outcome: 'nodata', reason } };
    return { spec: { rcode: RCODE.SERVFAIL }, event: { outcome: 'servfail', reason } };
  }
  const size = type === TYPE.A ? 4 : 16;
  const answers = (Array.isArray(addresses) ? addresses : [])
    .filter((a) => a instanceof Uint8Array && a.length === size)
    .map((data) => ({ type, ttl: PASSTHROUGH_TTL_SECONDS, data }));
  return { spec: { rcode: RCODE.NOERROR, answers }, event: { outcome: answers.length > 0 ? 'upstream' : 'nodata' } };
}
