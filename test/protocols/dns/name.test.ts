import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalName, DnsError, encodeName, readName, type DnsErrorCode } from '../../../protocols/dns/index.js';
import { bytes, dnsCapture, hex } from './fixtures/dns-captures.js';

function throwsCode(fn: () => unknown, code: DnsErrorCode): void {
  assert.throws(fn, (e: unknown) => e instanceof DnsError && e.code === code);
}

/** A 12-byte zero header followed by `body`: names in tests sit where a question would. */
const message = (body: string): Uint8Array => bytes(`000000000000000000000000${body}`);

describe('DNS names (RFC 1035 §3.1, §4.1.4)', () => {
  it('reads the question name of a captured query, case kept', () => {
    const q = dnsCapture('dig-mixed-case', 'q');
    const name = readName(q, 12);
    assert.equal(name.text, 'Db.InTeRnAl');
    assert.equal(hex(name.wire), '02446208496e5465526e416c00');
    assert.equal(name.end, 12 + 13);
    assert.equal(canonicalName(name.text), 'db.internal');
  });

  it('follows the 0xC00C pointers of a captured answer back to the question', () => {
    const r = dnsCapture('dig-a-edns', 'r');
    const answerAt = 12 + 13 + 4;
    const name = readName(r, answerAt);
    assert.equal(name.text, 'db.internal');
    assert.equal(name.end, answerAt + 2, 'end is just after the pointer, not after the target');
  });

  it('follows a pointer after labels (a suffix shared with an earlier name)', () => {
    // "internal" at 12, then "db" + pointer to 12.
    const m = message('08696e7465726e616c00 026462c00c');
    assert.equal(readName(m, 12).text, 'internal');
    const n = readName(m, 22);
    assert.equal(n.text, 'db.internal');
    assert.equal(hex(n.wire), hex(encodeName('db.internal')));
    assert.equal(n.end, 27);
  });

  it('refuses pointers that do not point backwards, into the header, or loop', () => {
    throwsCode(() => readName(message('c00c'), 12), 'DNS_BAD_POINTER'); // to itself
    throwsCode(() => readName(message('c00e 00'), 12), 'DNS_BAD_POINTER'); // forwards
    throwsCode(() => readName(message('c002'), 12), 'DNS_BAD_POINTER'); // into the header
    // 12: "a" then pointer to 12: a loop that a "target < pointer" rule alone would follow forever.
    throwsCode(() => readName(message('0161 c00c'), 12), 'DNS_BAD_POINTER');
    // Two names pointing at each other.
    throwsCode(() => readName(message('0161c010 0162c00c'), 16), 'DNS_BAD_POINTER');
  });

  it('refuses names longer than 255 octets, even when built from pointers', () => {
    const label63 = `3f${'61'.repeat(63)}`;
    // 4 x 64 octets + root = 257
    throwsCode(() => readName(message(`${label63.repeat(4)}00`), 12), 'DNS_NAME_TOO_LONG');
    // 3 x 64 + 62-octet label (63 with length) + root = 256
    throwsCode(() => readName(message(`${label63.repeat(3)}3e${'61'.repeat(62)}00`), 12), 'DNS_NAME_TOO_LONG');
    // exactly 255: 3 x 64 + 61-octet label + root
    assert.equal(readName(message(`${label63.repeat(3)}3d${'61'.repeat(61)}00`), 12).wire.length, 255);
    // A short name that points at a long one: the total counts.
    const long = `${label63.repeat(3)}3d${'61'.repeat(61)}00`;
    throwsCode(() => readName(message(`${long}0162c00c`), 12 + 255), 'DNS_NAME_TOO_LONG');
  });

  it('refuses the reserved label types and cut-short names', () => {
    throwsCode(() => readName(message('4161 00'), 12), 'DNS_BAD_LABEL_TYPE');
    throwsCode(() => readName(message('8161 00'), 12), 'DNS_BAD_LABEL_TYPE');
    throwsCode(() => readName(message('0361'), 12), 'DNS_TRUNCATED');
    throwsCode(() => readName(message('016100'.slice(0, 4)), 12), 'DNS_TRUNCATED');
    throwsCode(() => readName(message('c0'), 12), 'DNS_TRUNCATED');
    throwsCode(() => readName(message(''), 12), 'DNS_TRUNCATED');
  });

  it('gives unusual octets an escaped presentation form that never equals a plain name', () => {
    const m = message('03612e62 0320c841 00');
    const n = readName(m, 12);
    assert.equal(n.text, 'a\\.b.\\032\\200A');
    assert.notEqual(canonicalName(n.text), 'a.b');
    assert.equal(hex(encodeName(n.text)), hex(n.wire), 'the escaped form encodes back to the same octets');
  });

  it('reads the root name', () => {
    const n = readName(message('00'), 12);
    assert.equal(n.text, '.');
    assert.equal(hex(n.wire), '00');
  });

  it('encodes presentation names, with and without the trailing dot', () => {
    assert.equal(hex(encodeName('db.internal')), '02646208696e7465726e616c00');
    assert.equal(hex(encodeName('db.internal.')), '02646208696e7465726e616c00');
    assert.equal(hex(encodeName('.')), '00');
    throwsCode(() => encodeName('a..b'), 'DNS_BAD_NAME');
    throwsCode(() => encodeName(`${'a'.repeat(64)}.b`), 'DNS_LABEL_TOO_LONG');
    throwsCode(() => encodeName(Array(128).fill('a').join('.')), 'DNS_NAME_TOO_LONG');
    throwsCode(() => encodeName('a\\'), 'DNS_BAD_NAME');
    throwsCode(() => encodeName('a\\300'), 'DNS_BAD_NAME');
    throwsCode(() => encodeName('é.example'), 'DNS_BAD_NAME');
  });

  it('canonicalises ASCII case and the trailing dot only', () => {
    assert.equal(canonicalName('DB.Internal.'), 'db.internal');
    assert.equal(canonicalName('.'), '.');
    assert.equal(canonicalName('a\\.'), 'a\\.');
  });
});
