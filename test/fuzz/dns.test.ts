/**
 * Fuzz for the DNS codec and responder: random, pointer-heavy and mutated messages (seeded from
 * real captures) give the parsers only DnsError, and `respond` never throws; whatever it sends
 * back parses, answers the same ID, has QR set and fits the client's limit.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { respond, type DnsResponderContext } from '../../appliance/dns-responder.js';
import { endpointDnsNames, nameClassifier, VipTable } from '../../appliance/vip-table.js';
import type { EndpointDecl } from '../../policy/config/model.js';
import {
  DnsError, encodeName, encodeQuery, HEADER_SIZE, parseMessage, parseQuery, readHeader, readName, responseSizeLimit,
} from '../../protocols/dns/index.js';
import { allDnsCaptures } from '../protocols/dns/fixtures/dns-captures.js';

const RUNS = 3000;
const seeds = allDnsCaptures().map((c) => c.bytes);
const dir = mkdtempSync(join(tmpdir(), 'bailiff-dns-fuzz-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function onlyDnsErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (error) {
    if (!(error instanceof DnsError)) throw error;
  }
}

function parseEverything(bytes: Uint8Array): void {
  onlyDnsErrors(() => readHeader(bytes));
  onlyDnsErrors(() => parseMessage(bytes));
  onlyDnsErrors(() => {
    const q = parseQuery(bytes);
    assert.ok(q.question.wire.length <= 255);
    assert.equal(q.question.wire.at(-1), 0);
  });
  for (const at of [HEADER_SIZE, 0, bytes.length >> 1]) onlyDnsErrors(() => readName(bytes, at));
}

/** Random edits of a real message: flips, overwrites, cuts, insertions, counts and pointers. */
const mutated = fc.tuple(
  fc.constantFrom(...seeds),
  fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('flip', 'set', 'cut', 'insert', 'delete', 'pointer', 'count')), { minLength: 1, maxLength: 6 }),
).map(([seed, edits]) => {
  let b = Array.from(seed);
  for (const [at, value, kind] of edits) {
    const i = b.length === 0 ? 0 : at % b.length;
    if (kind === 'flip') b[i] = (b[i] ?? 0) ^ (1 << (value & 7));
    else if (kind === 'set') b[i] = value;
    else if (kind === 'cut') b = b.slice(0, i);
    else if (kind === 'insert') b.splice(i, 0, value);
    else if (kind === 'delete') b.splice(i, 1);
    else if (kind === 'pointer') b.splice(i, 2, 0xc0 | (value & 0x3f), at & 0xff);
    else if (b.length >= HEADER_SIZE) b[4 + 2 * (value % 4) + 1] = value; // QD/AN/NS/AR count
  }
  return Uint8Array.from(b);
});

/** A header then bytes drawn mostly from length octets and pointers: stresses name reading. */
const pointerSoup = fc.tuple(
  fc.uint8Array({ minLength: HEADER_SIZE, maxLength: HEADER_SIZE }),
  fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 63 }), fc.integer({ min: 0xc0, max: 0xff }), fc.integer({ min: 0, max: 255 })), { maxLength: 300 }),
).map(([h, body]) => {
  const b = Uint8Array.from([...h, ...body]);
  b[2] = b[2]! & 0x7f; // a query, so respond reads the question
  b[4] = 0; b[5] = 1;
  return b;
});

const anyMessage = fc.oneof(fc.uint8Array({ maxLength: 600 }), mutated, pointerSoup);

const ENDPOINTS = [
  { type: 'postgres', name: 'db', ref: 'postgres.db', family: 'sql', host: 'db.internal:5432', upstream: 'db.internal:5432', sslmode: 'disable', pos: { file: 'p', line: 1, column: 1 } },
  { type: 'https', name: 'gh', ref: 'https.gh', family: 'http', hosts: ['*.internal'], pos: { file: 'p', line: 1, column: 1 } },
] as EndpointDecl[];

function contexts(): DnsResponderContext[] {
  const names = nameClassifier(endpointDnsNames(ENDPOINTS));
  const vips = VipTable.load(dir, { v4: '100.127.0.0/24', v6: 'fd62:6169:6c69:7669::/64' });
  let n = 0;
  return [
    { names, vips, unknownHost: 'deny' },
    {
      names, vips, unknownHost: 'passthrough',
      // Misbehaving upstreams too: wrong sizes, non-arrays, odd errors.
      resolveUpstream: async () => {
        switch (n++ % 5) {
          case 0: return [Uint8Array.of(198, 18, 0, 1), new Uint8Array(16), new Uint8Array(3)];
          case 1: throw Object.assign(new Error('x'), { code: 'ENOTFOUND' });
          case 2: throw 'not even an Error';
          case 3: return null as unknown as Uint8Array[];
          default: return Array.from({ length: 200 }, () => new Uint8Array(16));
        }
      },
    },
  ];
}

async function checkRespond(bytes: Uint8Array, ctx: DnsResponderContext): Promise<void> {
  const out = await respond(bytes, ctx); // must not throw
  if (!out) return;
  const m = parseMessage(out);
  assert.equal(m.header.qr, true);
  assert.equal(m.header.id, (bytes[0]! << 8) | bytes[1]!);
  let limit = 512;
  try {
    limit = responseSizeLimit(parseQuery(bytes).edns);
  } catch { /* unreadable: header-only answer */ }
  assert.ok(out.length <= limit, `${out.length} > ${limit}`);
}

describe('DNS fuzz', () => {
  it('random, mutated and pointer-heavy messages give the parsers only DnsError', () => {
    fc.assert(fc.property(anyMessage, (bytes) => parseEverything(bytes)), { numRuns: RUNS });
  });

  it('respond never throws and answers only with well-formed messages that fit', async () => {
    const ctxs = contexts();
    await fc.assert(fc.asyncProperty(anyMessage, fc.nat(1), async (bytes, which) => checkRespond(bytes, ctxs[which]!)), { numRuns: RUNS });
  });

  it('respond handles generated queries of any name, type, class and EDNS size', async () => {
    const ctxs = contexts();
    const label = fc.oneof(
      fc.constantFrom('db', 'internal', 'DB', 'InTeRnAl', 'x', '*'),
      fc.uint8Array({ minLength: 1, maxLength: 63 }).map((b) => Array.from(b, (c) => `\\${String(c).padStart(3, '0')}`).join('')),
    );
    const query = fc.record({
      id: fc.integer({ min: 0, max: 0xffff }),
      labels: fc.array(label, { maxLength: 6 }),
      type: fc.oneof(fc.constantFrom(1, 28, 15, 16, 64, 65, 255, 252), fc.integer({ min: 0, max: 0xffff })),
      class: fc.oneof(fc.constant(1), fc.integer({ min: 0, max: 0xffff })),
      edns: fc.option(fc.record({ udpSize: fc.integer({ min: 0, max: 0xffff }), dnssecOk: fc.boolean() }), { nil: undefined }),
      which: fc.nat(1),
    });
    await fc.assert(fc.asyncProperty(query, async (q) => {
      let bytes: Uint8Array;
      try {
        bytes = encodeQuery({ id: q.id, name: q.labels.join('.') || '.', type: q.type, class: q.class, ...(q.edns ? { edns: q.edns } : {}) });
      } catch (e) {
        assert.ok(e instanceof DnsError, String(e));
        return;
      }
      const parsed = parseQuery(bytes);
      // The presentation form we give back encodes to exactly the octets that were asked.
      assert.deepEqual(encodeName(parsed.question.name), parsed.question.wire);
      assert.deepEqual(parsed.question.wire, encodeName(q.labels.join('.') || '.'));
      await checkRespond(bytes, ctxs[q.which]!);
    }), { numRuns: RUNS });
  });
});
