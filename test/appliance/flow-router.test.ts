import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { routeFlow } from '../../appliance/flow-router.js';
import { endpointDnsNames, VipTable } from '../../appliance/vip-table.js';
import { parseAddress, parseCidr } from '../../netstack/wire/ip-address.js';
import { loadConfigTexts } from '../../policy/config/load.js';
import { CompiledPolicy } from '../../policy/engine.js';

const POLICY = (unknownHost: string) => `gateway {
  state_dir = "./state"
  wireguard { subnet_cidr = "100.64.0.0/24" }
}
defaults { unknown_host = "${unknownHost}" }
endpoint "postgres" "db" {
  host     = "db.internal:5432"
  upstream = "127.0.0.1:6543"
}
endpoint "tcp" "db-ssh" {
  host = "db.internal:22"
}
endpoint "https" "api" {
  hosts = ["api.internal", "*.svc.internal:8443"]
}
endpoint "tcp" "legacy" {
  host = "10.9.8.7:7000"
}
credential "postgres_credential" "app" {
  endpoint = postgres.db
  user     = "app"
}
credential "passthrough" "open" {
  endpoints = [tcp.db-ssh, https.api, tcp.legacy]
}
profile "default" {
  credentials = [postgres_credential.app, passthrough.open]
}
profile "dbonly" {
  credentials = [postgres_credential.app]
}
`;

async function setup(unknownHost = 'deny') {
  const loaded = await loadConfigTexts([{ file: 'p.hcl', text: POLICY(unknownHost) }], { source: '/x/p.hcl', baseDir: '/x' });
  assert.deepEqual(loaded.diagnostics, []);
  const policy = new CompiledPolicy(loaded.config!);
  const names = endpointDnsNames(loaded.config!.endpoints);
  const dir = mkdtempSync(join(tmpdir(), 'bailiff-router-'));
  const vips = VipTable.load(dir);
  const ctx = { policy, names, vips, applianceAddresses: [parseAddress('100.64.0.1')] };
  return { ctx, vips, done: () => rmSync(dir, { recursive: true, force: true }) };
}

const agent = { name: 'a', address: '100.64.0.2', profile: 'default' };

test('a VIP and the port pick the endpoint; the upstream is the endpoint\'s, not the name dialed', async () => {
  const { ctx, vips, done } = await setup();
  try {
    const db = vips.assign('db.internal');
    const pg = routeFlow(ctx, agent, db.v4, 5432);
    assert.equal(pg.kind, 'endpoint');
    assert.equal(pg.kind === 'endpoint' && pg.endpoint.ref, 'postgres.db');
    assert.deepEqual(pg.kind === 'endpoint' && pg.upstream, { host: '127.0.0.1', port: 6543 });
    assert.deepEqual(pg.kind === 'endpoint' && pg.credentials.map((c) => c.credential.ref), ['postgres_credential.app']);
    const ssh = routeFlow(ctx, agent, db.v6, 22);
    assert.equal(ssh.kind === 'endpoint' && ssh.endpoint.ref, 'tcp.db-ssh');
    const wrong = routeFlow(ctx, agent, db.v4, 80);
    assert.equal(wrong.kind, 'refuse');
    assert.equal(wrong.kind === 'refuse' && wrong.code, 'ROUTE_WRONG_PORT');
  } finally {
    done();
  }
});

test('wildcards match names under the suffix on their port; https defaults to 443', async () => {
  const { ctx, vips, done } = await setup();
  try {
    const deep = routeFlow(ctx, agent, vips.assign('a.b.svc.internal').v4, 8443);
    assert.equal(deep.kind === 'endpoint' && deep.endpoint.ref, 'https.api');
    assert.deepEqual(deep.kind === 'endpoint' && deep.upstream, { host: 'a.b.svc.internal', port: 8443 });
    assert.equal(routeFlow(ctx, agent, vips.assign('api.internal').v4, 443).kind, 'endpoint');
    assert.equal(routeFlow(ctx, agent, vips.assign('api.internal').v4, 8443).kind, 'refuse');
  } finally {
    done();
  }
});

test('a profile that lacks the endpoint is refused; so are unknown hosts and the appliance itself', async () => {
  const { ctx, vips, done } = await setup();
  try {
    const r = routeFlow(ctx, { ...agent, profile: 'dbonly' }, vips.assign('db.internal').v4, 22);
    assert.equal(r.kind === 'refuse' && r.code, 'ACCESS_NOT_IN_PROFILE');
    assert.equal(r.kind === 'refuse' && r.endpoint, 'tcp.db-ssh');
    const unknown = routeFlow(ctx, agent, parseAddress('198.51.100.7'), 443);
    assert.equal(unknown.kind === 'refuse' && unknown.code, 'ROUTE_UNKNOWN_HOST');
    const self = routeFlow(ctx, agent, parseAddress('100.64.0.1'), 8080);
    assert.equal(self.kind === 'refuse' && self.code, 'ROUTE_APPLIANCE_ADDRESS');
  } finally {
    done();
  }
});

test('an endpoint given by IP literal is matched by address; passthrough relays unknown addresses', async () => {
  const { ctx, done } = await setup('passthrough');
  try {
    const legacy = routeFlow(ctx, agent, parseAddress('10.9.8.7'), 7000);
    assert.equal(legacy.kind === 'endpoint' && legacy.endpoint.ref, 'tcp.legacy');
    const through = routeFlow(ctx, agent, parseAddress('198.51.100.7'), 443);
    assert.deepEqual(through, { kind: 'passthrough', upstream: { host: '198.51.100.7', port: 443 } });
  } finally {
    done();
  }
});

test('passthrough never relays to the appliance host, link-local metadata or mapped spellings of them', async () => {
  const { ctx, done } = await setup('passthrough');
  try {
    const own = { ...ctx, ownRanges: [parseCidr('100.64.0.0/24'), parseCidr('100.127.0.0/16')] };
    for (const target of ['169.254.169.254', '127.0.0.1', '::ffff:127.0.0.1', '::ffff:169.254.169.254', '::1', 'fe80::1', 'fd00:ec2::254', '0.0.0.0', '100.64.0.9', '100.127.3.4']) {
      const r = routeFlow(own, agent, parseAddress(target), 80);
      assert.equal(r.kind === 'refuse' && r.code, 'ROUTE_FORBIDDEN_DESTINATION', `${target}: ${JSON.stringify(r)}`);
    }
    assert.equal(routeFlow(own, agent, parseAddress('203.0.113.5'), 80).kind, 'passthrough');
    assert.equal(routeFlow(own, agent, parseAddress('2001:db8::5'), 443).kind, 'passthrough');
  } finally {
    done();
  }
});
