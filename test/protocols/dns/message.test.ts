import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DnsError, parseMessage, parseQuery, readHeader, RCODE, TYPE, type DnsErrorCode,
} from '../../../protocols/dns/index.js';
import { allDnsCaptures, bytes, dnsCapture, hex } from './fixtures/dns-captures.js';

function throwsCode(fn: () => unknown, code: DnsErrorCode): void {
  assert.throws(fn, (e: unknown) => e instanceof DnsError && e.code === code, `expected ${code}`);
}

describe('DNS messages: reading captured traffic', () => {
  it('reads the header of dig\'s query and dnsmasq\'s answer', () => {
    const q = readHeader(dnsCapture('dig-a-edns', 'q'));
    assert.deepEqual(q, {
      id: 0x1713, qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, z: false, ad: true, cd: false,
      rcode: 0, qdcount: 1, ancount: 0, nscount: 0, arcount: 1,
    });
    const r = readHeader(dnsCapture('dig-a-edns', 'r'));
    assert.equal(r.qr, true);
    assert.equal(r.aa, true);
    assert.equal(r.ra, true);
    assert.equal(r.ancount, 1);
  });

  it('parses dig\'s EDNS query: one question, OPT with 1232 octets and a cookie option', () => {
    const m = parseMessage(dnsCapture('dig-a-edns', 'q'));
    assert.deepEqual(m.questions.map((q) => [q.name, q.type, q.class]), [['db.internal', TYPE.A, 1]]);
    assert.equal(m.edns?.udpSize, 1232);
    assert.equal(m.edns?.version, 0);
    assert.equal(m.edns?.dnssecOk, false);
    // Option 10 (COOKIE), 8 octets of client cookie.
    assert.equal(hex(m.edns!.options), '000a0008ae12e3974d9f378a');
    assert.deepEqual(m.additionals, [], 'OPT is reported as edns, not as a record');
  });

  it('parses dnsmasq\'s A and AAAA answers (pointer owners, TTL 300)', () => {
    const a = parseMessage(dnsCapture('dig-a-edns', 'r'));
    assert.deepEqual(a.answers.map((r) => [r.name, r.type, r.ttl, hex(r.data)]), [['db.internal', TYPE.A, 300, 'c612c80a']]);
    const aaaa = parseMessage(dnsCapture('dig-aaaa-noedns', 'r'));
    assert.deepEqual(aaaa.answers.map((r) => [r.name, r.type, hex(r.data)]), [['db.internal', TYPE.AAAA, 'fd0000bf000900000000000000000010']]);
    assert.equal(aaaa.edns, undefined);
  });

  it('parses negative answers with their rcodes', () => {
    assert.equal(parseMessage(dnsCapture('dig-nxdomain', 'r')).rcode, RCODE.NXDOMAIN);
    const nodata = parseMessage(dnsCapture('dig-mx-nodata', 'r'));
    assert.equal(nodata.rcode, RCODE.NOERROR);
    assert.equal(nodata.answers.length, 0);
    assert.equal(parseMessage(dnsCapture('dig-refused', 'r')).rcode, RCODE.REFUSED);
  });

  it('parses a truncated 511-octet response with 30 answers and TC', () => {
    const m = parseMessage(dnsCapture('dig-truncated', 'r'));
    assert.equal(m.header.tc, true);
    assert.equal(m.answers.length, 30);
    assert.ok(m.answers.every((r) => r.name === 'many.internal' && r.type === TYPE.A && r.data[0] === 198));
  });

  it('reads the EDNS version of a version-1 query', () => {
    assert.equal(parseMessage(dnsCapture('dig-edns-version-1', 'q')).edns?.version, 1);
  });

  it('parses every captured message (queries as queries) without error', () => {
    for (const c of allDnsCaptures()) {
      const m = parseMessage(c.bytes);
      assert.equal(m.header.qr, c.dir === 'r', c.name);
      if (c.dir === 'q' && m.header.qdcount === 1) assert.equal(parseQuery(c.bytes).id, m.header.id);
    }
  });
});

describe('DNS messages: refusing malformed ones', () => {
  const q = () => dnsCapture('dig-a-edns', 'q');

  it('refuses every cut of a captured query and answer with DNS_TRUNCATED', () => {
    for (const full of [q(), dnsCapture('dig-a-edns', 'r'), dnsCapture('dig-truncated', 'r')]) {
      for (let n = 0; n < full.length; n++) throwsCode(() => parseMessage(full.subarray(0, n)), 'DNS_TRUNCATED');
    }
  });

  it('refuses trailing octets after the counted records', () => {
    const m = new Uint8Array([...q(), 0]);
    throwsCode(() => parseMessage(m), 'DNS_TRAILING_DATA');
  });

  it('refuses more than 65535 octets', () => {
    throwsCode(() => parseMessage(new Uint8Array(65536)), 'DNS_MESSAGE_TOO_LARGE');
  });

  it('refuses OPT outside the additional section, owned by a non-root name, or twice', () => {
    // dig-mx-nodata query: header, question (17+4), OPT (11). Move the OPT count to ANCOUNT.
    const inAnswer = dnsCapture('dig-mx-nodata', 'q');
    inAnswer[7] = 1; inAnswer[11] = 0;
    throwsCode(() => parseMessage(inAnswer), 'DNS_BAD_OPT');
    // Owner pointing at the question name instead of the root.
    const base = dnsCapture('dig-mx-nodata', 'q');
    const named = new Uint8Array([...base.subarray(0, 29), 0xc0, 0x0c, ...base.subarray(30)]);
    throwsCode(() => parseMessage(named), 'DNS_BAD_OPT');
    const twice = new Uint8Array([...base, ...base.subarray(29)]);
    twice[11] = 2;
    throwsCode(() => parseMessage(twice), 'DNS_BAD_OPT');
  });

  it('refuses A/AAAA record data of the wrong length', () => {
    const r = dnsCapture('dig-mixed-case', 'r');
    // rdlength 4 -> 3 and drop one data octet
    const bad = new Uint8Array([...r.subarray(0, r.length - 6), 0x00, 0x03, ...r.subarray(r.length - 4, r.length - 1)]);
    throwsCode(() => parseMessage(bad), 'DNS_BAD_RDATA');
  });

  it('parseQuery refuses responses and anything but one question', () => {
    throwsCode(() => parseQuery(dnsCapture('dig-a-edns', 'r')), 'DNS_NOT_QUERY');
    throwsCode(() => parseQuery(dnsCapture('dig-header-only', 'q')), 'DNS_BAD_QDCOUNT');
    // Two copies of the question with QDCOUNT 2.
    const one = dnsCapture('dig-aaaa-noedns', 'q');
    const two = new Uint8Array([...one, ...one.subarray(12)]);
    two[5] = 2;
    throwsCode(() => parseQuery(two), 'DNS_BAD_QDCOUNT');
    throwsCode(() => parseQuery(bytes('0000')), 'DNS_TRUNCATED');
  });
});
