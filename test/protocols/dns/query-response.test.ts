import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DnsError, encodeHeaderOnlyResponse, encodeQuery, encodeResponse, OUR_UDP_SIZE, parseMessage, parseQuery, RCODE,
  responseSizeLimit, TYPE, type DnsAnswer, type DnsErrorCode,
} from '../../../protocols/dns/index.js';
import { bytes, dnsCapture, hex } from './fixtures/dns-captures.js';

const V4 = bytes('c612c80a'); // 198.18.200.10, what dnsmasq answered in the captures
const V6 = bytes('fd0000bf000900000000000000000010');
const a = (data = V4, ttl = 300): DnsAnswer => ({ type: TYPE.A, ttl, data });

function throwsCode(fn: () => unknown, code: DnsErrorCode): void {
  assert.throws(fn, (e: unknown) => e instanceof DnsError && e.code === code, `expected ${code}`);
}

describe('DNS queries', () => {
  it('parses captured queries from dig, glibc and c-ares', () => {
    const dig = parseQuery(dnsCapture('dig-a-edns', 'q'));
    assert.equal(dig.id, 0x1713);
    assert.equal(dig.question.name, 'db.internal');
    assert.equal(dig.question.type, TYPE.A);
    assert.equal(dig.rd, true);
    assert.equal(dig.edns?.udpSize, 1232);
    const glibcAaaa = parseQuery(dnsCapture('getent-ahosts', 'q', 1));
    assert.equal(glibcAaaa.question.type, TYPE.AAAA);
    assert.equal(glibcAaaa.edns, undefined);
    const cares = parseQuery(dnsCapture('node-resolver', 'q'));
    assert.equal(cares.question.name, 'db.internal');
    assert.equal(parseQuery(dnsCapture('dig-opcode-status', 'q')).opcode, 2);
  });

  it('encodes the same octets that glibc and c-ares sent', () => {
    for (const [name, i] of [['getent-ahosts', 0], ['getent-ahosts', 1], ['node-resolver', 0]] as const) {
      const captured = dnsCapture(name, 'q', i);
      const q = parseQuery(captured);
      assert.equal(hex(encodeQuery({ id: q.id, name: q.question.name, type: q.question.type })), hex(captured), name);
    }
  });

  it('encodes an EDNS query that reads back the same', () => {
    const q = encodeQuery({ id: 7, name: 'Db.Internal.', type: TYPE.AAAA, rd: false, edns: { udpSize: 4096, dnssecOk: true } });
    const back = parseQuery(q);
    assert.equal(back.question.name, 'Db.Internal');
    assert.equal(back.rd, false);
    assert.equal(back.edns?.udpSize, 4096);
    assert.equal(back.edns?.dnssecOk, true);
  });
});

describe('DNS responses', () => {
  it('builds dnsmasq\'s exact answer octets for the captured queries (A, AAAA, EDNS, mixed case, glibc, c-ares)', () => {
    const cases: [Parameters<typeof dnsCapture>[0], number, DnsAnswer][] = [
      ['dig-a-edns', 0, a()],
      ['dig-aaaa-noedns', 0, { type: TYPE.AAAA, ttl: 300, data: V6 }],
      ['dig-mixed-case', 0, a()],
      ['getent-ahosts', 0, a()],
      ['getent-ahosts', 1, { type: TYPE.AAAA, ttl: 300, data: V6 }],
      ['node-resolver', 0, a()],
    ];
    for (const [name, i, answer] of cases) {
      const q = parseQuery(dnsCapture(name, 'q', i));
      const built = encodeResponse(q, { rcode: RCODE.NOERROR, aa: true, ra: true, answers: [answer] });
      assert.equal(hex(built), hex(dnsCapture(name, 'r', i)), name);
    }
  });

  it('builds dnsmasq\'s NXDOMAIN and NODATA octets', () => {
    const nx = parseQuery(dnsCapture('dig-nxdomain', 'q'));
    assert.equal(hex(encodeResponse(nx, { rcode: RCODE.NXDOMAIN, ra: true })), hex(dnsCapture('dig-nxdomain', 'r')));
    const mx = parseQuery(dnsCapture('dig-mx-nodata', 'q'));
    assert.equal(hex(encodeResponse(mx, { rcode: RCODE.NOERROR, ra: true })), hex(dnsCapture('dig-mx-nodata', 'r')));
  });

  it('echoes the question exactly as asked (0x20 case randomisation)', () => {
    const q = parseQuery(dnsCapture('dig-mixed-case', 'q'));
    const r = parseMessage(encodeResponse(q, { rcode: 0, answers: [a()] }));
    assert.equal(r.questions[0]!.name, 'Db.InTeRnAl');
    assert.equal(r.answers[0]!.name, 'Db.InTeRnAl');
  });

  it('truncates like dnsmasq without EDNS: 30 of 40 answers in 511 octets, TC set', () => {
    const q = parseQuery(dnsCapture('dig-truncated', 'q'));
    const captured = parseMessage(dnsCapture('dig-truncated', 'r'));
    const forty = Array.from({ length: 40 }, (_, i) => a(Uint8Array.of(198, 18, 201, i + 1), 0));
    const built = encodeResponse(q, { rcode: 0, aa: true, ra: true, answers: forty });
    assert.equal(built.length, 511);
    const m = parseMessage(built);
    assert.equal(m.header.tc, true);
    assert.equal(m.answers.length, captured.answers.length);
    // Same layout as dnsmasq's: only the order of addresses differs.
    assert.equal(hex(built.subarray(0, 4)), hex(dnsCapture('dig-truncated', 'r').subarray(0, 4)));
  });

  it('keeps OPT when truncating for a 512-octet EDNS client (dnsmasq drops it; RFC 6891 §7 says keep)', () => {
    const q = parseQuery(dnsCapture('dig-edns-truncated', 'q'));
    assert.equal(responseSizeLimit(q.edns), 512);
    const forty = Array.from({ length: 40 }, (_, i) => a(Uint8Array.of(198, 18, 201, i + 1), 0));
    const m = parseMessage(encodeResponse(q, { rcode: 0, answers: forty }));
    assert.equal(m.header.tc, true);
    assert.equal(m.answers.length, 29);
    assert.equal(m.edns?.udpSize, OUR_UDP_SIZE);
  });

  it('does not set TC when everything fits; caps the limit at our 1232 octets', () => {
    const q = parseQuery(encodeQuery({ id: 1, name: 'x.internal', type: TYPE.A, edns: { udpSize: 65535 } }));
    assert.equal(responseSizeLimit(q.edns), 1232);
    const fits = parseMessage(encodeResponse(q, { rcode: 0, answers: [a(), a()] }));
    assert.equal(fits.header.tc, false);
    const many = Array.from({ length: 100 }, () => a());
    const built = encodeResponse(q, { rcode: 0, answers: many });
    assert.ok(built.length <= 1232);
    assert.equal(parseMessage(built).header.tc, true);
  });

  it('floors a tiny advertised size at 512 (RFC 6891 §6.2.5)', () => {
    const q = parseQuery(encodeQuery({ id: 1, name: 'x', type: TYPE.A, edns: { udpSize: 100 } }));
    assert.equal(responseSizeLimit(q.edns), 512);
  });

  it('carries an extended rcode (BADVERS) in OPT and copies DO', () => {
    const q = parseQuery(encodeQuery({ id: 9, name: 'db.internal', type: TYPE.A, edns: { udpSize: 1232, dnssecOk: true } }));
    const m = parseMessage(encodeResponse(q, { rcode: RCODE.BADVERS }));
    assert.equal(m.rcode, RCODE.BADVERS);
    assert.equal(m.header.rcode, 0);
    assert.equal(m.edns?.dnssecOk, true);
    const noEdns = parseQuery(dnsCapture('dig-aaaa-noedns', 'q'));
    throwsCode(() => encodeResponse(noEdns, { rcode: RCODE.BADVERS }), 'DNS_BAD_VALUE');
  });

  it('refuses answers it cannot encode (programmer errors)', () => {
    const q = parseQuery(dnsCapture('dig-aaaa-noedns', 'q'));
    throwsCode(() => encodeResponse(q, { rcode: 0, answers: [{ type: TYPE.A, ttl: 1, data: V6 }] }), 'DNS_BAD_VALUE');
    throwsCode(() => encodeResponse(q, { rcode: 0, answers: [a(V4, -1)] }), 'DNS_BAD_VALUE');
    throwsCode(() => encodeResponse(q, { rcode: 0, answers: [a(V4, 2 ** 31)] }), 'DNS_BAD_VALUE');
    throwsCode(() => encodeResponse(q, { rcode: 0, maxSize: 20 }), 'DNS_BAD_VALUE');
  });

  it('builds header-only FORMERR and NOTIMP that echo ID, opcode and RD', () => {
    const status = parseQuery(dnsCapture('dig-opcode-status', 'q'));
    const m = parseMessage(encodeHeaderOnlyResponse(status, RCODE.NOTIMP));
    assert.equal(m.header.id, status.id);
    assert.equal(m.header.opcode, 2);
    assert.equal(m.header.qr, true);
    assert.equal(m.header.rd, true);
    assert.equal(m.rcode, RCODE.NOTIMP);
    assert.equal(m.questions.length, 0);
  });
});
