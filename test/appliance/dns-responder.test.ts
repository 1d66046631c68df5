/**
 * The DNS responder, first on captured client queries (bytes from dig, glibc and c-ares), then
 * served on a UDP socket on 127.0.0.1 and asked by real clients: `dig` (Debian package dnsutils)
 * and Node's own dns.Resolver (c-ares).
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import {
  PASSTHROUGH_TTL_SECONDS, respond, VIP_TTL_SECONDS, type DnsEvent, type DnsResponderContext,
} from '../../appliance/dns-responder.js';
import { endpointDnsNames, nameClassifier, VipTable } from '../../appliance/vip-table.js';
import { formatAddress, parseAddress } from '../../netstack/wire/ip-address.js';
import type { EndpointDecl } from '../../policy/config/model.js';
import { encodeQuery, parseMessage, RCODE, TYPE, type DnsMessage } from '../../protocols/dns/index.js';
import { dnsCapture } from '../protocols/dns/fixtures/dns-captures.js';

const run = promisify(execFile);
const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

const pos = { file: 'policy.hcl', line: 1, column: 1 };
const ENDPOINTS = [
  { type: 'postgres', name: 'db', ref: 'postgres.db', family: 'sql', host: 'db.internal:5432', upstream: '10.1.1.1:5432', sslmode: 'disable', pos },
  { type: 'https', name: 'gh', ref: 'https.gh', family: 'http', hosts: ['api.github.com', '*.githubusercontent.com'], pos },
] as EndpointDecl[];

function context(overrides: Partial<DnsResponderContext> = {}, ranges?: { v4: string; v6: string }): DnsResponderContext & { events: DnsEvent[] } {
  const dir = mkdtempSync(join(tmpdir(), 'bailiff-dns-'));
  dirs.push(dir);
  const events: DnsEvent[] = [];
  return {
    names: nameClassifier(endpointDnsNames(ENDPOINTS)),
    vips: VipTable.load(dir, ranges),
    unknownHost: 'deny',
    observe: (e) => events.push(e),
    ...overrides,
    events,
  };
}

async function ask(bytes: Uint8Array, ctx: DnsResponderContext): Promise<DnsMessage> {
  const out = await respond(bytes, ctx);
  assert.ok(out, 'expected an answer');
  return parseMessage(out);
}

const addresses = (m: DnsMessage) => m.answers.map((r) => formatAddress(r.data));

describe('DNS responder on captured queries', () => {
  it('answers an endpoint name with its VIPs, authoritative, TTL 300 (dig, glibc, c-ares)', async () => {
    const ctx = context();
    const a = await ask(dnsCapture('dig-a-edns', 'q'), ctx);
    assert.equal(a.header.id, 0x1713);
    assert.equal(a.rcode, RCODE.NOERROR);
    assert.equal(a.header.aa, true);
    assert.deepEqual(addresses(a), ['100.127.0.1']);
    assert.equal(a.answers[0]!.ttl, VIP_TTL_SECONDS);
    assert.equal(a.edns?.udpSize, 1232, 'OPT echoed with our size');
    const glibc6 = await ask(dnsCapture('getent-ahosts', 'q', 1), ctx);
    assert.deepEqual(addresses(glibc6), ['fd62:6169:6c69:7669::1']);
    assert.equal(glibc6.edns, undefined, 'no OPT to a client that sent none');
    assert.deepEqual(addresses(await ask(dnsCapture('node-resolver', 'q'), ctx)), ['100.127.0.1']);
    assert.deepEqual(ctx.events.map((e) => e.outcome), ['vip', 'vip', 'vip']);
  });

  it('echoes a mixed-case question exactly and answers it like the lowercase name', async () => {
    const ctx = context();
    const m = await ask(dnsCapture('dig-mixed-case', 'q'), ctx);
    assert.equal(m.questions[0]!.name, 'Db.InTeRnAl');
    assert.equal(m.answers[0]!.name, 'Db.InTeRnAl');
    assert.deepEqual(addresses(m), ['100.127.0.1']);
  });

  it('answers NODATA at once for other types of an endpoint name (MX, HTTPS, SVCB, TXT)', async () => {
    const ctx = context();
    const mx = await ask(dnsCapture('dig-mx-nodata', 'q'), ctx);
    assert.equal(mx.rcode, RCODE.NOERROR);
    assert.equal(mx.answers.length, 0);
    for (const type of [TYPE.HTTPS, TYPE.SVCB, TYPE.TXT]) {
      const m = await ask(encodeQuery({ id: 3, name: 'db.internal', type }), ctx);
      assert.equal(m.rcode, RCODE.NOERROR);
      assert.equal(m.answers.length, 0);
    }
  });

  it('answers ANY for an endpoint with both VIPs', async () => {
    const m = await ask(encodeQuery({ id: 3, name: 'db.internal', type: TYPE.ANY }), context());
    assert.deepEqual(addresses(m), ['100.127.0.1', 'fd62:6169:6c69:7669::1']);
  });

  it('gives a wildcard match a VIP of its own on first query', async () => {
    const ctx = context();
    await ask(encodeQuery({ id: 1, name: 'db.internal', type: TYPE.A }), ctx);
    const m = await ask(encodeQuery({ id: 2, name: 'Objects.GitHubUserContent.com', type: TYPE.A }), ctx);
    assert.deepEqual(addresses(m), ['100.127.0.2']);
    assert.equal((ctx.vips as VipTable).lookup(parseAddress('100.127.0.2')), 'objects.githubusercontent.com');
    const bare = await ask(encodeQuery({ id: 3, name: 'githubusercontent.com', type: TYPE.A }), ctx);
    assert.equal(bare.rcode, RCODE.REFUSED, 'the wildcard does not cover its bare suffix');
  });

  it('refuses unknown names when unknown_host is deny (captured dig query)', async () => {
    const ctx = context();
    const m = await ask(dnsCapture('dig-refused', 'q'), ctx);
    assert.equal(m.rcode, RCODE.REFUSED);
    assert.equal(m.answers.length, 0);
    assert.deepEqual(ctx.events, [{ name: 'example.org', qtype: TYPE.A, outcome: 'refused', reason: 'DNS_UNKNOWN_HOST' }]);
  });

  it('passes unknown A/AAAA through the upstream resolver with a short TTL', async () => {
    const asked: string[] = [];
    const ctx = context({
      unknownHost: 'passthrough',
      resolveUpstream: async (name, type) => {
        asked.push(`${name}/${type}`);
        if (name !== 'example.org') throw Object.assign(new Error('queryA ENOTFOUND'), { code: 'ENOTFOUND' });
        return type === 'A' ? [parseAddress('198.18.5.5'), parseAddress('::1')] : [parseAddress('fd00::5')];
      },
    });
    const a = await ask(dnsCapture('dig-refused', 'q'), ctx);
    assert.equal(a.rcode, RCODE.NOERROR);
    assert.equal(a.header.aa, false, 'not our name: not authoritative');
    assert.deepEqual(addresses(a), ['198.18.5.5'], 'addresses of the wrong family are dropped');
    assert.equal(a.answers[0]!.ttl, PASSTHROUGH_TTL_SECONDS);
    assert.deepEqual(addresses(await ask(encodeQuery({ id: 1, name: 'Example.ORG', type: TYPE.AAAA }), ctx)), ['fd00::5']);
    const nx = await ask(dnsCapture('dig-nxdomain', 'q'), ctx);
    assert.equal(nx.rcode, RCODE.NXDOMAIN);
    const mx = await ask(encodeQuery({ id: 1, name: 'example.org', type: TYPE.MX }), ctx);
    assert.equal(mx.rcode, RCODE.NOERROR);
    assert.equal(mx.answers.length, 0);
    assert.deepEqual(asked, ['example.org/A', 'example.org/AAAA', 'nope.internal/A'], 'endpoint names and MX never go upstream');
  });

  it('maps upstream failures: ENODATA -> NODATA, others -> SERVFAIL, no resolver -> SERVFAIL', async () => {
    const fail = (code: string | undefined) => context({
      unknownHost: 'passthrough',
      resolveUpstream: async () => { throw Object.assign(new Error('x'), code ? { code } : {}); },
    });
    const q = encodeQuery({ id: 5, name: 'example.org', type: TYPE.A });
    assert.equal((await ask(q, fail('ENODATA'))).rcode, RCODE.NOERROR);
    assert.equal((await ask(q, fail('ETIMEOUT'))).rcode, RCODE.SERVFAIL);
    assert.equal((await ask(q, fail(undefined))).rcode, RCODE.SERVFAIL);
    assert.equal((await ask(q, context({ unknownHost: 'passthrough' }))).rcode, RCODE.SERVFAIL);
  });

  it('truncates a large upstream answer to the client\'s 512 octets and sets TC', async () => {
    const many = Array.from({ length: 100 }, (_, i) => Uint8Array.of(198, 18, 6, i));
    const ctx = context({ unknownHost: 'passthrough', resolveUpstream: async () => many });
    const m = await ask(encodeQuery({ id: 5, name: 'example.org', type: TYPE.A }), ctx);
    assert.equal(m.header.tc, true);
    assert.ok(m.answers.length > 0 && m.answers.length < 100);
  });

  it('drops garbage and response messages silently', async () => {
    const ctx = context();
    assert.equal(await respond(new Uint8Array(0), ctx), undefined);
    assert.equal(await respond(new Uint8Array(11), ctx), undefined);
    assert.equal(await respond(dnsCapture('dig-a-edns', 'r'), ctx), undefined);
    assert.deepEqual(ctx.events.map((e) => [e.outcome, e.reason]), [
      ['dropped', 'DNS_TRUNCATED'], ['dropped', 'DNS_TRUNCATED'], ['dropped', 'DNS_NOT_QUERY'],
    ]);
  });

  it('answers FORMERR to unreadable queries, NOTIMP to other opcodes, BADVERS to EDNS > 0', async () => {
    const ctx = context();
    const headerOnly = await ask(dnsCapture('dig-header-only', 'q'), ctx);
    assert.equal(headerOnly.rcode, RCODE.FORMERR);
    assert.equal(headerOnly.header.id, 0x9030);
    const cut = dnsCapture('dig-a-edns', 'q').subarray(0, 20);
    assert.equal((await ask(cut, ctx)).rcode, RCODE.FORMERR);
    const status = await ask(dnsCapture('dig-opcode-status', 'q'), ctx);
    assert.equal(status.rcode, RCODE.NOTIMP);
    assert.equal(status.header.opcode, 2);
    const v1 = await ask(dnsCapture('dig-edns-version-1', 'q'), ctx);
    assert.equal(v1.rcode, RCODE.BADVERS);
    assert.equal(v1.edns?.version, 0);
    assert.equal(v1.answers.length, 0);
    assert.deepEqual(ctx.events.map((e) => [e.outcome, e.reason]), [
      ['formerr', 'DNS_BAD_QDCOUNT'], ['formerr', 'DNS_TRUNCATED'], ['notimp', 'DNS_OPCODE_NOT_QUERY'], ['badvers', 'DNS_EDNS_VERSION'],
    ]);
  });

  it('refuses other classes and zone transfers', async () => {
    const ctx = context();
    assert.equal((await ask(encodeQuery({ id: 1, name: 'version.bind', type: TYPE.TXT, class: 3 }), ctx)).rcode, RCODE.REFUSED);
    assert.equal((await ask(encodeQuery({ id: 1, name: 'db.internal', type: TYPE.AXFR }), ctx)).rcode, RCODE.REFUSED);
    // Data types above the meta range (CAA 257, private 65280) are ordinary: NODATA for an endpoint.
    for (const type of [257, 65280]) {
      const m = await ask(encodeQuery({ id: 1, name: 'db.internal', type }), ctx);
      assert.equal(m.rcode, RCODE.NOERROR);
      assert.equal(m.answers.length, 0);
    }
    assert.deepEqual(ctx.events.map((e) => e.reason), ['DNS_CLASS_NOT_IN', 'DNS_META_QTYPE', undefined, undefined]);
  });

  it('answers SERVFAIL when the VIP range is full or a callback fails', async () => {
    const ctx = context({}, { v4: '100.127.9.0/30', v6: 'fd62::/120' });
    for (const name of ['db.internal', 'api.github.com']) assert.equal((await ask(encodeQuery({ id: 1, name, type: TYPE.A }), ctx)).rcode, 0);
    const full = await ask(encodeQuery({ id: 1, name: 'x.githubusercontent.com', type: TYPE.A }), ctx);
    assert.equal(full.rcode, RCODE.SERVFAIL);
    assert.equal(ctx.events.at(-1)?.reason, 'VIP_RANGE_FULL');
    const broken = context({ names: () => { throw new Error('bug'); }, observe: () => { throw new Error('observer bug'); } });
    assert.equal((await ask(encodeQuery({ id: 1, name: 'db.internal', type: TYPE.A }), broken)).rcode, RCODE.SERVFAIL);
  });
});

// ---------------------------------------------------------------------------------------------

interface Server { port: number; socket: Socket; ctx: ReturnType<typeof context> }

async function serve(ctx: ReturnType<typeof context>): Promise<Server> {
  const socket = createSocket('udp4');
  socket.on('message', (msg, rinfo) => {
    void respond(msg, ctx).then((out) => { if (out) socket.send(out, rinfo.port, rinfo.address); });
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { port: socket.address().port, socket, ctx };
}

async function requireDig(): Promise<void> {
  try {
    await run('dig', ['-v']);
  } catch {
    assert.fail('this test needs dig: apt-get install -y dnsutils');
  }
}

describe('DNS responder on UDP 127.0.0.1, asked by dig and node:dns', () => {
  let deny: Server;
  let pass: Server;
  before(async () => {
    await requireDig();
    deny = await serve(context());
    pass = await serve(context({
      unknownHost: 'passthrough',
      resolveUpstream: async (name, type) => {
        if (name === 'real.example') return [parseAddress(type === 'A' ? '198.18.5.5' : 'fd00:bf::5')];
        throw Object.assign(new Error(`query ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
      },
    }));
  });
  after(() => { deny?.socket.close(); pass?.socket.close(); });

  async function dig(server: Server, ...args: string[]): Promise<{ status: string; flags: string[]; answers: string[][] }> {
    const { stdout } = await run('dig', ['@127.0.0.1', '-p', String(server.port), '+tries=1', '+time=2', ...args]);
    const status = /status: (\w+)/.exec(stdout)?.[1] ?? 'none';
    const flags = (/;; flags: ([a-z ]+);/.exec(stdout)?.[1] ?? '').trim().split(' ');
    const section = stdout.split(';; ANSWER SECTION:\n')[1]?.split('\n\n')[0] ?? '';
    const answers = section.split('\n').filter(Boolean).map((l) => l.split(/\s+/));
    return { status, flags, answers };
  }

  it('dig: A and AAAA of an endpoint name', async () => {
    const a = await dig(deny, 'db.internal', 'A');
    assert.equal(a.status, 'NOERROR');
    assert.ok(a.flags.includes('aa'));
    assert.deepEqual(a.answers, [['db.internal.', '300', 'IN', 'A', '100.127.0.1']]);
    const aaaa = await dig(deny, 'db.internal', 'AAAA');
    assert.deepEqual(aaaa.answers, [['db.internal.', '300', 'IN', 'AAAA', 'fd62:6169:6c69:7669::1']]);
    const noEdns = await dig(deny, '+noedns', 'db.internal', 'A');
    assert.deepEqual(noEdns.answers.map((r) => r[4]), ['100.127.0.1']);
  });

  it('dig: mixed case is echoed and answered', async () => {
    const r = await dig(deny, 'dB.InTeRnAL', 'A');
    assert.deepEqual(r.answers, [['dB.InTeRnAL.', '300', 'IN', 'A', '100.127.0.1']]);
  });

  it('dig: wildcard names get VIPs of their own', async () => {
    const one = await dig(deny, 'raw.githubusercontent.com', 'A');
    const two = await dig(deny, 'avatars.githubusercontent.com', 'AAAA');
    assert.equal(one.status, 'NOERROR');
    const v4 = one.answers[0]![4]!;
    assert.equal(formatAddress(deny.ctx.vips.assign('raw.githubusercontent.com').v4), v4);
    assert.equal((deny.ctx.vips as VipTable).lookup(parseAddress(two.answers[0]![4]!)), 'avatars.githubusercontent.com');
  });

  it('dig: REFUSED for unknown names, NODATA for MX, NOTIMP for opcode status, BADVERS for EDNS 1', async () => {
    assert.equal((await dig(deny, 'example.org', 'A')).status, 'REFUSED');
    const mx = await dig(deny, 'db.internal', 'MX');
    assert.equal(mx.status, 'NOERROR');
    assert.deepEqual(mx.answers, []);
    assert.equal((await dig(deny, '+opcode=status', 'db.internal')).status, 'NOTIMP');
    assert.equal((await dig(deny, '+edns=1', '+noednsneg', 'db.internal')).status, 'BADVERS');
  });

  it('dig: passthrough relays real addresses with a short TTL, NXDOMAIN when upstream has none', async () => {
    const r = await dig(pass, 'real.example', 'A');
    assert.deepEqual(r.answers, [['real.example.', '30', 'IN', 'A', '198.18.5.5']]);
    assert.ok(!r.flags.includes('aa'));
    assert.equal((await dig(pass, 'missing.example', 'A')).status, 'NXDOMAIN');
    assert.deepEqual((await dig(pass, 'db.internal', 'A')).answers.map((a) => a[4]), ['100.127.0.1'], 'endpoints still get VIPs');
  });

  it('node:dns Resolver: A, AAAA with TTLs, wildcard, REFUSED, NXDOMAIN, NODATA', async () => {
    const resolver = (s: Server) => {
      const r = new Resolver({ timeout: 2000, tries: 1 });
      r.setServers([`127.0.0.1:${s.port}`]);
      return r;
    };
    const d = resolver(deny);
    assert.deepEqual(await d.resolve4('db.internal', { ttl: true }), [{ address: '100.127.0.1', ttl: 300 }]);
    assert.deepEqual(await d.resolve6('DB.internal'), ['fd62:6169:6c69:7669::1']);
    const wild = await d.resolve4('cdn.githubusercontent.com');
    assert.equal((deny.ctx.vips as VipTable).lookup(parseAddress(wild[0]!)), 'cdn.githubusercontent.com');
    await assert.rejects(d.resolve4('example.org'), { code: 'EREFUSED' });
    await assert.rejects(d.resolveMx('db.internal'), { code: 'ENODATA' });
    const p = resolver(pass);
    assert.deepEqual(await p.resolve6('real.example', { ttl: true }), [{ address: 'fd00:bf::5', ttl: 30 }]);
    await assert.rejects(p.resolve4('missing.example'), { code: 'ENOTFOUND' });
  });
});
