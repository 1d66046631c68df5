import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { main, type CliIo } from '../../appliance/cli.js';
import { AuditLog } from '../../policy/audit/index.js';
import { loadConfig } from '../../policy/config/load.js';
import { publicKeyFromPrivate } from '../../netstack/wireguard/keys.js';

let dir: string;

function io(): CliIo & { out: string; err: string } {
  const captured = {
    out: '',
    err: '',
    stdout: (t: string) => { captured.out += t; },
    stderr: (t: string) => { captured.err += t; },
    cwd: dir,
    env: {},
  };
  return captured;
}

const POLICY = `gateway {
  state_dir = "./state"
  wireguard {
    listen_port = 51111
    subnet_cidr = "100.64.9.0/29"
    endpoint    = "gw.test:51111"
  }
}
profile "ops" {
  credentials = []
}
`;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'bailiff-cli-'));
  writeFileSync(join(dir, 'policy.hcl'), POLICY);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('keygen prints a matching key pair', async () => {
  const c = io();
  assert.equal(await main(['keygen'], c), 0);
  const priv = c.out.match(/^PrivateKey = (\S+)$/m)![1]!;
  const pub = c.out.match(/^PublicKey {2}= (\S+)$/m)![1]!;
  assert.equal(Buffer.from(publicKeyFromPrivate(Buffer.from(priv, 'base64'))).toString('base64'), pub);
});

test('peer add records the peer, allocates addresses and writes a wg-quick file', async () => {
  const c = io();
  assert.equal(await main(['peer', 'add', 'oncall', '--config', 'policy.hcl', '--profile', 'ops'], c), 0, c.err);
  assert.match(c.out, /peer "oncall" added: tunnel address 100\.64\.9\.2, fd62:6169:6c69:6666::2/);
  const file = join(dir, 'oncall.conf');
  assert.equal(statSync(file).mode & 0o777, 0o600, 'the client file holds a private key');
  const text = readFileSync(file, 'utf8');
  const field = (name: string) => text.match(new RegExp(`^${name} = (.+)$`, 'm'))?.[1];
  assert.equal(field('Address'), '100.64.9.2/32, fd62:6169:6c69:6666::2/128');
  assert.equal(field('DNS'), '100.64.9.1, fd62:6169:6c69:6666::1');
  assert.equal(field('Endpoint'), 'gw.test:51111');
  assert.equal(field('AllowedIPs'), '100.64.9.0/29, fd62:6169:6c69:6666::/64, 100.127.0.0/16, fd62:6169:6c69:7669::/64');
  assert.equal(field('PersistentKeepalive'), '25');

  const loaded = await loadConfig(join(dir, 'policy.hcl'));
  assert.deepEqual(loaded.diagnostics, []);
  const peer = loaded.config!.peers.find((p) => p.name === 'oncall')!;
  assert.equal(peer.address, '100.64.9.2');
  assert.equal(peer.profile, 'ops');
  // The appliance keeps the public half; the private half exists only in the client file.
  const priv = Buffer.from(field('PrivateKey')!, 'base64');
  assert.equal(Buffer.from(publicKeyFromPrivate(priv)).toString('base64'), peer.publicKeyText);
  assert.ok(!readFileSync(join(dir, 'policy.hcl'), 'utf8').includes(field('PrivateKey')!));
  // The server key was created 0600 in a 0700 state dir; the client file names its public half.
  assert.equal(statSync(join(dir, 'state')).mode & 0o777, 0o700);
  const serverKey = Buffer.from(readFileSync(join(dir, 'state', 'wireguard.key'), 'utf8').trim(), 'base64');
  assert.equal(field('PublicKey'), Buffer.from(publicKeyFromPrivate(serverKey)).toString('base64'));
});

test('peer add refuses duplicates, bad names, unknown profiles and a full subnet', async () => {
  let c = io();
  assert.equal(await main(['peer', 'add', 'oncall', '--config', 'policy.hcl', '--out', 'x.conf'], c), 2);
  assert.match(c.err, /peer "oncall" already exists/);
  c = io();
  assert.equal(await main(['peer', 'add', 'bad name', '--config', 'policy.hcl', '--out', 'y.conf'], c), 2);
  assert.match(c.err, /must be 1-63 letters/);
  c = io();
  assert.equal(await main(['peer', 'add', 'p1', '--config', 'policy.hcl', '--profile', 'nope'], c), 2);
  assert.match(c.err, /profile "nope" is not declared/);
  assert.ok(!existsSync(join(dir, 'p1.conf')));
  // A /29 has hosts .1-.6: the appliance has .1, oncall .2, so four more fit.
  for (const name of ['p2', 'p3', 'p4', 'p5']) {
    c = io();
    assert.equal(await main(['peer', 'add', name, '--config', 'policy.hcl'], c), 0, c.err);
  }
  c = io();
  assert.equal(await main(['peer', 'add', 'p6', '--config', 'policy.hcl'], c), 2);
  assert.match(c.err, /no free tunnel address/);
});

test('peer add --qr prints a QR code of the client file', async () => {
  writeFileSync(join(dir, 'qr.hcl'), POLICY.replace('./state', './state-qr'));
  const c = io();
  assert.equal(await main(['peer', 'add', 'phone', '--config', 'qr.hcl', '--out', 'phone.conf', '--qr'], c), 0, c.err);
  assert.ok(c.out.split('\n').filter((l) => /[█▀▄]/.test(l)).length > 20, 'no QR code printed');
});

test('validate: a one-line summary, or diagnostics and exit 1', async () => {
  let c = io();
  assert.equal(await main(['validate', 'policy.hcl'], c), 0);
  assert.match(c.out, /^policy\.hcl: OK \(1 file: 0 endpoints, 0 credentials, 0 rules, 0 approvers, 1 profiles, 5 peers\)\n$/);
  writeFileSync(join(dir, 'bad.hcl'), 'gateway {\n  wireguard { subnet_cidr = "nope" }\n}\n');
  c = io();
  assert.equal(await main(['validate', 'bad.hcl'], c), 1);
  assert.match(c.err, /bad\.hcl:2:29: gateway\.wireguard: "subnet_cidr" must be an IPv4 CIDR/);
});

test('unknown commands and options get usage and exit 2', async () => {
  let c = io();
  assert.equal(await main(['frobnicate'], c), 2);
  assert.match(c.err, /unknown command "frobnicate"/);
  c = io();
  assert.equal(await main(['run', '--bogus'], c), 2);
  assert.match(c.err, /bailiff run: Unknown option '--bogus'/);
});

test('run with no --config materialises the demo policy and a ready demo peer file', async () => {
  const controller = new AbortController();
  const c = { ...io(), signal: controller.signal };
  // The demo listens on its documented default ports (udp/51820, 127.0.0.1:8080).
  const running = main(['run'], {
    ...c,
    env: {},
    stdout: (t) => {
      c.out += t;
      if (c.out.includes('bailiff ready')) controller.abort();
    },
  });
  const code = await running;
  assert.equal(code, 0, c.err);
  assert.ok(existsSync(join(dir, 'bailiff-state', 'bailiff.hcl')));
  assert.ok(existsSync(join(dir, 'bailiff-state', 'demo-agent.conf')));
  assert.match(c.out, /demo: agent peer file .*demo-agent\.conf/);
  assert.match(c.out, /wg-quick up/);
});

test('run refuses an audit log it cannot write with one line and exit 1: another build\'s, or another writer\'s', async () => {
  const policy = join(dir, 'audit-policy.hcl');
  const stateDir = join(dir, 'audit-state');
  writeFileSync(policy, POLICY.replace('./state', './audit-state').replace(/51111/g, '51112'));
  mkdirSync(join(stateDir, 'audit'), { recursive: true });
  writeFileSync(join(stateDir, 'audit', 'data.mdb'), ''); // an LMDB log of an earlier build
  const old = io();
  assert.equal(await main(['run', '--config', policy], old), 1);
  assert.match(old.err, /^bailiff run: AUDIT_FORMAT: .* earlier format \(LMDB\); move it aside/);
  assert.ok(!old.err.includes('    at '), 'no stack trace');

  rmSync(join(stateDir, 'audit'), { recursive: true });
  const writer = await AuditLog.open({ dir: join(stateDir, 'audit') }); // as if another appliance ran
  try {
    const second = io();
    assert.equal(await main(['run', '--config', policy], second), 1);
    assert.match(second.err, /^bailiff run: AUDIT_LOCKED: .*already writes the audit log/);
  } finally {
    await writer.close();
  }
});

test('bailiff test replays fixtures: ok lines and exit 0, a readable diff and exit 1 on mismatch', async () => {
  writeFileSync(join(dir, 'rules.hcl'), `${POLICY.replace('./state', './state-rules').replace('credentials = []', 'credentials = [postgres_credential.ro]')}
endpoint "postgres" "db" {
  host = "db.internal:5432"
}
credential "postgres_credential" "ro" {
  endpoint = postgres.db
  user     = "ro"
}
rule "no-ddl" {
  endpoint  = postgres.db
  priority  = 10
  condition = "sql.verb in ['drop', 'alter']"
  verdict   = "deny"
  reason    = "migrations only"
}
rule "reads" {
  endpoint  = postgres.db
  condition = "sql.verb == 'select'"
  verdict   = "allow"
}
`);
  const peer = { name: 'agent', address: '100.64.9.2', profile: 'ops' };
  const good = [
    { name: 'drop', request: { peer, endpoint: 'postgres.db', credential: 'ro', sql: { verb: 'drop', tables: ['t'] } }, expect: { verdict: 'deny', rule: 'no-ddl' } },
    { name: 'select', request: { peer, endpoint: 'postgres.db', credential: 'ro', sql: { verb: 'select' } }, expect: { verdict: 'allow', rule: 'reads' } },
  ];
  writeFileSync(join(dir, 'good.json'), JSON.stringify(good));
  let c = io();
  assert.equal(await main(['test', 'rules.hcl', 'good.json'], c), 0, c.out + c.err);
  assert.match(c.out, /^ok {3}good\.json\[0\]: drop: deny by "no-ddl"$/m);
  assert.match(c.out, /^2 passed, 0 failed$/m);

  writeFileSync(join(dir, 'bad.json'), JSON.stringify({
    name: 'delete is allowed?', request: { peer, endpoint: 'postgres.db', credential: 'ro', sql: { verb: 'delete' } }, expect: { verdict: 'allow', rule: 'reads' },
  }));
  writeFileSync(join(dir, 'typo.json'), JSON.stringify({ request: { peer, endpoint: 'postgres.db', sql: {} }, expect: { verdict: 'allow', rule: null }, extra: 1 }));
  c = io();
  assert.equal(await main(['test', 'rules.hcl', 'good.json', 'bad.json', 'typo.json'], c), 1);
  assert.match(c.out, /^FAIL bad\.json: delete is allowed\?\n {2}verdict: expected allow, got deny\n {2}rule: {4}expected "reads", got no rule\n {2}reason: {2}/m);
  assert.match(c.out, /^FAIL typo\.json: unknown key "extra"$/m);
  assert.match(c.out, /^2 passed, 2 failed$/m);

  c = io();
  assert.equal(await main(['test', 'bad.hcl', 'good.json'], c), 2, 'a policy that does not load is a usage error');
});
