import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { formatAddress, parseAddress } from '../../netstack/wire/ip-address.js';
import { loadConfigTexts } from '../../policy/config/load.js';
import {
  DEFAULT_VIP_RANGES, endpointDnsNames, endpointsForName, nameClassifier, VIP_TABLE_FILE, VipTable, VipTableError,
  type VipTableErrorCode,
} from '../../appliance/vip-table.js';

const dirs: string[] = [];
function stateDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'bailiff-vip-'));
  dirs.push(d);
  return d;
}
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

function throwsCode(fn: () => unknown, code: VipTableErrorCode): void {
  assert.throws(fn, (e: unknown) => e instanceof VipTableError && e.code === code, `expected ${code}`);
}
const text = (p: { v4: Uint8Array; v6: Uint8Array }) => [formatAddress(p.v4), formatAddress(p.v6)];

describe('VipTable', () => {
  it('hands out IDs in order from the default ranges, one per lowercase name', () => {
    const t = VipTable.load(stateDir());
    assert.deepEqual(t.ranges, DEFAULT_VIP_RANGES);
    assert.deepEqual(text(t.assign('db.internal')), ['100.127.0.1', 'fd62:6169:6c69:7669::1']);
    assert.deepEqual(text(t.assign('api.example.com')), ['100.127.0.2', 'fd62:6169:6c69:7669::2']);
    assert.deepEqual(text(t.assign('DB.Internal.')), ['100.127.0.1', 'fd62:6169:6c69:7669::1'], 'case and trailing dot do not matter');
    assert.equal(t.size, 2);
    assert.equal(t.lookup(parseAddress('100.127.0.2')), 'api.example.com');
    assert.equal(t.lookup(parseAddress('fd62:6169:6c69:7669::1')), 'db.internal');
    assert.deepEqual(t.peek('API.example.com') && text(t.peek('API.example.com')!), ['100.127.0.2', 'fd62:6169:6c69:7669::2']);
    assert.equal(t.peek('other.example'), undefined);
  });

  it('keeps every address across a restart (new instance from the same dir)', () => {
    const dir = stateDir();
    const first = VipTable.load(dir);
    const names = Array.from({ length: 50 }, (_, i) => `svc-${i}.internal`);
    const before = names.map((n) => text(first.assign(n)));
    const second = VipTable.load(dir);
    // Asked in another order: the answer is still what was stored, not the order of asking.
    const afterRestart = [...names].reverse().map((n) => text(second.assign(n))).reverse();
    assert.deepEqual(afterRestart, before);
    for (const n of names) assert.equal(second.lookup(second.peek(n)!.v4), n);
  });

  it('never gives a removed name\'s VIP to another name', () => {
    const dir = stateDir();
    const v1 = VipTable.load(dir);
    const old = v1.assign('legacy.internal');
    v1.assign('db.internal');
    // Config reload without legacy.internal: a new table is loaded, and new names arrive.
    const v2 = VipTable.load(dir);
    const fresh = v2.assign('new.internal');
    assert.deepEqual(text(fresh), ['100.127.0.3', 'fd62:6169:6c69:7669::3']);
    assert.equal(v2.lookup(old.v4), 'legacy.internal', 'an old answer still maps to the old name, never to a new endpoint');
    assert.deepEqual(text(v2.assign('legacy.internal')), text(old), 'and the name gets it back if it returns');
    assert.deepEqual(v2.names(), ['legacy.internal', 'db.internal', 'new.internal']);
  });

  it('fills a small range and then refuses with VIP_RANGE_FULL (also after a restart)', () => {
    const dir = stateDir();
    const ranges = { v4: '100.127.9.0/29', v6: 'fd62:6169:6c69:7669::/120' }; // v4 holds 6 hosts
    const t = VipTable.load(dir, ranges);
    const got = Array.from({ length: 6 }, (_, i) => formatAddress(t.assign(`n${i}.internal`).v4));
    assert.deepEqual(got, ['100.127.9.1', '100.127.9.2', '100.127.9.3', '100.127.9.4', '100.127.9.5', '100.127.9.6']);
    throwsCode(() => t.assign('one-more.internal'), 'VIP_RANGE_FULL');
    assert.equal(formatAddress(t.assign('n3.internal').v4), '100.127.9.4', 'known names still answer');
    throwsCode(() => VipTable.load(dir, ranges).assign('one-more.internal'), 'VIP_RANGE_FULL');
    throwsCode(() => t.assignAll(['n0.internal', 'x.internal']), 'VIP_RANGE_FULL');
  });

  it('does not hand out the network or v4 broadcast address; lookup ignores non-VIPs', () => {
    const t = VipTable.load(stateDir(), { v4: '100.127.9.0/30', v6: 'fd62::/126' });
    assert.equal(formatAddress(t.assign('a.x').v4), '100.127.9.1');
    assert.equal(formatAddress(t.assign('b.x').v4), '100.127.9.2');
    throwsCode(() => t.assign('c.x'), 'VIP_RANGE_FULL');
    for (const a of ['100.127.9.0', '100.127.9.3', '100.127.10.1', '10.0.0.1', 'fd62::', 'fd62::3', '::1']) {
      assert.equal(t.lookup(parseAddress(a)), undefined, a);
    }
    assert.equal(t.lookup(new Uint8Array(5)), undefined);
  });

  it('persists as 0600 JSON via temp + rename, leaving no temp files', () => {
    const dir = stateDir();
    const t = VipTable.load(dir);
    t.assignAll(['a.internal', 'b.internal', 'a.internal']);
    const path = join(dir, VIP_TABLE_FILE);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), {
      version: 1, v4: '100.127.0.0/16', v6: 'fd62:6169:6c69:7669::/64', names: { 'a.internal': 1, 'b.internal': 2 },
    });
    assert.deepEqual(readdirSync(dir), [VIP_TABLE_FILE]);
  });

  it('does not touch the disk for names it already has', () => {
    const dir = stateDir();
    const t = VipTable.load(dir);
    t.assign('a.internal');
    const path = join(dir, VIP_TABLE_FILE);
    rmSync(path); // gone: a known name must still answer from memory without rewriting
    t.assign('A.internal');
    assert.equal(existsSync(path), false);
  });

  it('refuses a corrupt state file instead of starting empty (which would move every name)', () => {
    for (const body of ['{not json', '[]', '{"version":2,"v4":"x","v6":"y","names":{}}',
      '{"version":1,"v4":"100.127.0.0/16","v6":"fd62::/64","names":{"a":1,"b":1}}',
      '{"version":1,"v4":"100.127.0.0/16","v6":"fd62::/64","names":{"A":1}}',
      '{"version":1,"v4":"100.127.0.0/16","v6":"fd62::/64","names":{"a":0}}',
      '{"version":1,"v4":"100.127.0.0/16","v6":"fd62::/64","names":{"a":1.5}}']) {
      const dir = stateDir();
      writeFileSync(join(dir, VIP_TABLE_FILE), body);
      throwsCode(() => VipTable.load(dir), 'VIP_STATE_CORRUPT');
    }
  });

  it('checks ranges and names', () => {
    throwsCode(() => VipTable.load(stateDir(), { v4: 'fd62::/64', v6: 'fd62::/64' }), 'VIP_BAD_RANGE');
    throwsCode(() => VipTable.load(stateDir(), { v4: '100.127.0.0/16', v6: '100.127.0.0/16' }), 'VIP_BAD_RANGE');
    throwsCode(() => VipTable.load(stateDir(), { v4: 'nonsense', v6: 'fd62::/64' }), 'VIP_BAD_RANGE');
    throwsCode(() => VipTable.load(stateDir(), { v4: '100.127.0.0/31', v6: 'fd62::/64' }), 'VIP_BAD_RANGE');
    const t = VipTable.load(stateDir());
    for (const bad of ['', '.', 'a b', 'a\u0000b', 'x'.repeat(254), 'ünï.example']) throwsCode(() => t.assign(bad), 'VIP_BAD_NAME');
  });

  it('keeps IDs when the ranges change, and refuses a range too small for them', () => {
    const dir = stateDir();
    const t = VipTable.load(dir);
    const names = ['a.x', 'b.x', 'c.x'];
    t.assignAll(names);
    const moved = VipTable.load(dir, { v4: '100.126.0.0/24', v6: 'fd62:1::/64' });
    assert.deepEqual(text(moved.assign('c.x')), ['100.126.0.3', 'fd62:1::3']);
    assert.equal(moved.lookup(parseAddress('100.127.0.3')), undefined, 'an address of the old range leads nowhere');
    assert.equal(JSON.parse(readFileSync(join(dir, VIP_TABLE_FILE), 'utf8')).v4, '100.126.0.0/24');
    throwsCode(() => VipTable.load(dir, { v4: '100.126.0.0/30', v6: 'fd62:1::/64' }), 'VIP_RANGE_TOO_SMALL');
  });

  it('two tables over one dir (old and new config during a reload) never share an ID', async () => {
    const dir = stateDir();
    const a = VipTable.load(dir);
    const b = VipTable.load(dir);
    // Interleave allocations from both, across event-loop turns.
    await Promise.all(Array.from({ length: 100 }, async (_, i) => {
      await new Promise((r) => setImmediate(r));
      (i % 2 === 0 ? a : b).assign(`n${i}.internal`);
      if (i % 7 === 0) (i % 2 === 0 ? b : a).assign(`n${i}.internal`); // the other one asks for the same name
    }));
    const third = VipTable.load(dir);
    const seen = new Map<string, string>();
    for (let i = 0; i < 100; i++) {
      const name = `n${i}.internal`;
      const v4 = formatAddress(third.peek(name)!.v4);
      assert.equal(seen.get(v4), undefined, `${v4} given twice`);
      seen.set(v4, name);
      assert.equal(formatAddress(a.assign(name).v4), v4);
      assert.equal(formatAddress(b.assign(name).v4), v4);
    }
    assert.equal(third.size, 100);
  });

  it('a reader in another process never sees a partial file while names are added', async () => {
    const dir = stateDir();
    const t = VipTable.load(dir);
    t.assign('first.internal');
    const path = join(dir, VIP_TABLE_FILE);
    const stop = join(dir, 'stop');
    const reader = spawn(process.execPath, ['-e', `
      const fs = require('node:fs');
      let ok = 0, bad = 0;
      process.stdout.write('ready\\n');
      while (!fs.existsSync(${JSON.stringify(stop)})) {
        try { const s = JSON.parse(fs.readFileSync(${JSON.stringify(path)}, 'utf8')); if (s.names['first.internal'] === 1) ok++; else bad++; }
        catch (e) { bad++; }
      }
      process.stdout.write(JSON.stringify({ ok, bad }) + '\\n');
    `], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    reader.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    const exited = new Promise<number | null>((r) => reader.on('exit', r));
    try {
      await new Promise<void>((resolve) => { const check = () => (out.includes('ready') ? resolve() : setTimeout(check, 5)); check(); });
      for (let i = 0; i < 300; i++) t.assign(`bulk-${i}.internal`);
      writeFileSync(stop, '');
      assert.equal(await exited, 0);
    } finally {
      if (reader.exitCode === null) reader.kill();
    }
    const counts = JSON.parse(out.split('\n')[1]!) as { ok: number; bad: number };
    assert.equal(counts.bad, 0);
    assert.ok(counts.ok > 0);
    assert.equal(VipTable.load(dir).size, 301);
  });
});

describe('endpoint DNS names', () => {
  const POLICY = `
gateway {
  state_dir = "./state"
  wireguard {
    listen_port = 51820
    subnet_cidr = "100.64.0.0/24"
  }
}
endpoint "postgres" "prod-db" {
  host = "DB.Internal:5432"
  upstream = "10.1.2.3:5432"
}
endpoint "tcp" "redis" {
  host = "db.internal:6379"
}
endpoint "tcp" "legacy" {
  host = "10.9.9.9:7000"
}
endpoint "https" "github" {
  hosts = ["api.github.com", "github.com:443", "*.githubusercontent.com"]
}
endpoint "https" "deep" {
  hosts = ["*.raw.githubusercontent.com", "[fd00::5]:8443"]
}
endpoint "kubernetes" "prod" {
  server = "10.0.0.1:6443"
}
endpoint "kubernetes" "stage" {
  server = "k8s.stage.internal"
  hosts  = ["*.k8s.stage.internal"]
}
endpoint "ssh" "build" {
  hosts = ["build.example.com:2222", "198.18.1.1:22"]
}
`;

  async function names() {
    const loaded = await loadConfigTexts([{ file: 'policy.hcl', text: POLICY }], { source: 'policy.hcl', baseDir: tmpdir() });
    assert.deepEqual(loaded.diagnostics, []);
    return endpointDnsNames(loaded.config!.endpoints);
  }

  it('derives exact names, wildcards and IP literals from every endpoint type', async () => {
    const n = await names();
    assert.deepEqual(Object.fromEntries(n.exact), {
      'db.internal': ['postgres.prod-db', 'tcp.redis'],
      'api.github.com': ['https.github'],
      'github.com': ['https.github'],
      'k8s.stage.internal': ['kubernetes.stage'],
      'build.example.com': ['ssh.build'],
    });
    assert.deepEqual(Object.fromEntries(n.wildcards), {
      'githubusercontent.com': ['https.github'],
      'raw.githubusercontent.com': ['https.deep'],
      'k8s.stage.internal': ['kubernetes.stage'],
    });
    assert.deepEqual(n.ipLiterals, [
      { address: '10.9.9.9', port: 7000, endpoint: 'tcp.legacy' },
      { address: 'fd00::5', port: 8443, endpoint: 'https.deep' },
      { address: '10.0.0.1', port: 6443, endpoint: 'kubernetes.prod' },
      { address: '198.18.1.1', port: 22, endpoint: 'ssh.build' },
    ]);
  });

  it('matches exact names first, then the longest wildcard strictly below its suffix', async () => {
    const n = await names();
    assert.deepEqual(endpointsForName(n, 'DB.INTERNAL.'), ['postgres.prod-db', 'tcp.redis']);
    assert.deepEqual(endpointsForName(n, 'objects.githubusercontent.com'), ['https.github']);
    assert.deepEqual(endpointsForName(n, 'a.b.githubusercontent.com'), ['https.github'], 'any depth');
    assert.deepEqual(endpointsForName(n, 'x.raw.githubusercontent.com'), ['https.deep'], 'longest suffix wins');
    assert.deepEqual(endpointsForName(n, 'raw.githubusercontent.com'), ['https.github'], 'the bare suffix is one level below the shorter one');
    assert.deepEqual(endpointsForName(n, 'githubusercontent.com'), [], 'a wildcard does not cover its bare suffix');
    assert.deepEqual(endpointsForName(n, 'k8s.stage.internal'), ['kubernetes.stage']);
    assert.deepEqual(endpointsForName(n, 'evilgithubusercontent.com'), []);
    assert.deepEqual(endpointsForName(n, 'a\\.b.githubusercontent.com'), [], 'escaped octets never match');
    const classify = nameClassifier(n);
    assert.equal(classify('Pods.K8s.Stage.Internal'), 'endpoint');
    assert.equal(classify('example.org'), 'unknown');
    assert.equal(classify('10.0.0.1'), 'unknown');
  });
});
