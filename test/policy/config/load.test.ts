import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatDiagnostic } from '../../../policy/config/diagnostics.js';
import { loadConfig, loadConfigTexts } from '../../../policy/config/load.js';

const KEY_A = 'kP8xKmSGJ1hqWzJ6cVk0bVlQeE9XU2FxQ3d4TnN3cE0=';
const KEY_B = 'Wm9uZGVyYmFyQmF6UXV4UXV1eFF1dXhRdXV4UXV1eDA=';

async function load(text: string) {
  return loadConfigTexts([{ file: 'policy.hcl', text }], { source: '/etc/bailiff/policy.hcl', baseDir: '/etc/bailiff' });
}

function messages(result: { diagnostics: Parameters<typeof formatDiagnostic>[0][] }): string[] {
  return result.diagnostics.map(formatDiagnostic);
}

const GATEWAY = `gateway {
  state_dir = "./state"
  wireguard {
    listen_port = 51999
    subnet_cidr = "100.64.7.0/24"
    endpoint    = "gw.example.com:51999"
  }
}
`;

test('a gateway with peers loads with defaults applied and paths resolved', async () => {
  const result = await load(`${GATEWAY}
peer "oncall" {
  public_key = "${KEY_A}"
  address    = "100.64.7.9"
}
peer "batch" {
  public_key = "${KEY_B}"
}
`);
  assert.deepEqual(messages(result), []);
  const c = result.config!;
  assert.equal(c.gateway.stateDir, '/etc/bailiff/state');
  assert.equal(c.gateway.mode, 'enforce');
  assert.equal(c.gateway.dashboardListen, '127.0.0.1:8080');
  assert.equal(c.gateway.wireguard.listenPort, 51999);
  assert.equal(c.gateway.wireguard.subnet, '100.64.7.0/24');
  assert.equal(c.gateway.wireguard.endpoint, 'gw.example.com:51999');
  assert.equal(c.gateway.wireguard.mtu, 1420);
  assert.equal(c.defaults.noMatch, 'deny');
  assert.equal(c.defaults.unknownHost, 'deny');
  assert.deepEqual(c.peers.map((p) => [p.name, p.address, p.profile]), [['oncall', '100.64.7.9', 'default'], ['batch', undefined, 'default']]);
  assert.equal(Buffer.from(c.peers[0]!.publicKey).toString('base64'), KEY_A);
});

test('every problem is reported at once with file:line:col, in file order', async () => {
  const result = await load(`gateway {
  state_dir = 42
  mode = "yolo"
  colour = "blue"
  wireguard {
    listen_port = 70000
    subnet_cidr = "100.64.0.0/33"
  }
}
peer "a" {
  public_key = "not-a-key"
  address = "100.64.1.5"
  profile = profile.missing
}
peer "a" {
  public_key = "${KEY_B}"
}
rulez "x" {}
`);
  assert.equal(result.config, undefined);
  assert.deepEqual(messages(result), [
    'policy.hcl:2:15: gateway: "state_dir" must be a string',
    'policy.hcl:3:10: gateway: "mode" must be one of "enforce", "shadow"',
    'policy.hcl:4:3: gateway: unknown field "colour"',
    'policy.hcl:6:19: gateway.wireguard: "listen_port" must be an integer between 1 and 65535',
    'policy.hcl:7:19: gateway.wireguard: "subnet_cidr" must be an IPv4 CIDR like 100.64.0.0/24',
    'policy.hcl:11:16: peer "a": "public_key" must be a base64 WireGuard key (44 characters)',
    'policy.hcl:13:13: peer "a": profile.missing is not declared',
    'policy.hcl:15:6: peer "a" is declared twice (first at policy.hcl:10); names must be unique within a kind',
    'policy.hcl:18:1: configuration: unknown block "rulez"',
  ]);
});

test('syntax errors point at the place, and interpolation is refused', async () => {
  const result = await load(`gateway {
  state_dir = "\${HOME}/state"
  wireguard { subnet_cidr = "100.64.0.0/24" }
}
peer "x" {
  public_key = "${KEY_A}"
  address = 
}
`);
  const text = messages(result);
  assert.equal(result.config, undefined);
  assert.ok(text.some((m) => m.startsWith('policy.hcl:2:16: template interpolation is not supported')), text.join('\n'));
  assert.ok(text.some((m) => /^policy\.hcl:[78]:\d+: syntax error/.test(m)), text.join('\n'));
});

test('peer addresses must be inside the subnet, not reserved, not shared; keys unique', async () => {
  const result = await load(`${GATEWAY}
peer "a" {
  public_key = "${KEY_A}"
  address = "100.64.8.2"
}
peer "b" {
  public_key = "${KEY_B}"
  address = "100.64.7.1"
}
peer "c" {
  public_key = "${KEY_B}"
}
`);
  assert.deepEqual(messages(result), [
    'policy.hcl:10:1: peer "a": address 100.64.8.2 is outside subnet_cidr 100.64.7.0/24',
    'policy.hcl:14:1: peer "b": address 100.64.7.1 is reserved (network, appliance or broadcast address)',
    'policy.hcl:19:16: peer "c": public_key is already used by peer "b"',
  ]);
});

test('a folder of .hcl files merges in name order; diagnostics name the right file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bailiff-config-'));
  try {
    writeFileSync(join(dir, '10-gateway.hcl'), GATEWAY);
    writeFileSync(join(dir, '20-peers.hcl'), `peer "a" {\n  public_key = "${KEY_A}"\n  profile = profile.ops\n}\n`);
    writeFileSync(join(dir, '30-profiles.hcl'), 'profile "ops" {\n  credentials = []\n}\n');
    writeFileSync(join(dir, '.hidden.hcl'), 'this is not parsed {');
    writeFileSync(join(dir, 'notes.txt'), 'nor is this');
    const ok = await loadConfig(dir);
    assert.deepEqual(messages(ok), []);
    assert.deepEqual(ok.config!.files.map((f) => f.slice(dir.length + 1)), ['10-gateway.hcl', '20-peers.hcl', '30-profiles.hcl']);
    assert.equal(ok.config!.peers[0]!.profile, 'ops');
    assert.equal(ok.config!.gateway.stateDir, join(dir, 'state'));

    writeFileSync(join(dir, '40-bad.hcl'), 'gateway {\n}\n');
    const bad = await loadConfig(dir);
    assert.deepEqual(messages(bad).map((m) => m.slice(dir.length + 1)), ['40-bad.hcl:1:1: only one gateway block is allowed']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a missing gateway, an empty folder and an unreadable path are clear errors', async () => {
  assert.deepEqual(messages(await load('defaults {}\n')), ['policy.hcl:1:1: missing required block "gateway"']);
  const dir = mkdtempSync(join(tmpdir(), 'bailiff-empty-'));
  try {
    assert.deepEqual(messages(await loadConfig(dir)), [`${dir}:1:1: folder holds no .hcl files`]);
    assert.match(messages(await loadConfig(join(dir, 'nope.hcl')))[0]!, /nope\.hcl:1:1: cannot read configuration: ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('defaults are validated: llm_fail_mode cannot be opened, durations parse', async () => {
  const result = await load(`${GATEWAY}
defaults {
  no_match = "allow"
  llm_fail_mode = "open"
  human_timeout = "90s"
}
`);
  assert.deepEqual(messages(result), [
    'policy.hcl:12:19: defaults: "llm_fail_mode" can only be "closed" (an LLM error or timeout always denies)',
  ]);
  const ok = await load(`${GATEWAY}\ndefaults {\n  no_match = "allow"\n  human_timeout = "1h30m"\n}\n`);
  assert.equal(ok.config!.defaults.noMatch, 'allow');
  assert.equal(ok.config!.defaults.humanTimeoutMs, 5_400_000);
});
