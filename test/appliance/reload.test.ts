/**
 * Reload is all or nothing: a configuration that loads but cannot be applied (here: more peers
 * than the tunnel subnet has addresses) changes nothing, and a good one swaps policy and peers.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Appliance } from '../../appliance/appliance.js';
import { encodeKey, generatePrivateKey, publicKeyFromPrivate } from '../../netstack/wireguard/keys.js';
import { loadConfig } from '../../policy/config/load.js';
import { freeTcpPort, freeUdpPort } from '../e2e/harness/appliance.js';

const quiet = { info() {}, warn() {}, error() {} };

function peers(n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) out += `peer "agent-${i}" {\n  public_key = "${encodeKey(publicKeyFromPrivate(generatePrivateKey()))}"\n}\n`;
  return out;
}

test('a reload that cannot be applied changes nothing; a good one swaps policy and peers', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bailiff-reload-'));
  const path = join(dir, 'policy.hcl');
  const gateway = `gateway {
  state_dir        = "./state"
  dashboard_listen = "127.0.0.1:${await freeTcpPort()}"
  wireguard {
    listen_port = ${await freeUdpPort()}
    subnet_cidr = "100.64.9.0/29"
  }
}
endpoint "tcp" "files" {
  host     = "files.internal:8080"
  upstream = "127.0.0.1:9"
}
credential "passthrough" "files" {
  endpoint = tcp.files
}
profile "default" {
  credentials = [passthrough.files]
}
`;
  const load = async (text: string) => {
    writeFileSync(path, text);
    const loaded = await loadConfig(path);
    assert.ok(loaded.config, JSON.stringify(loaded.diagnostics));
    return loaded.config;
  };
  const first = await load(gateway + peers(2));
  const appliance = await Appliance.start(first, { logger: quiet, udpHost: '127.0.0.1' });
  try {
    const policy = appliance.policy;
    const before = appliance.status();
    // A /29 has six addresses for peers after the network and the appliance's own: twelve do not fit.
    const tooMany = await load(gateway + peers(12));
    await assert.rejects(appliance.reload(tooMany), /no free tunnel address/);
    assert.equal(appliance.policy, policy, 'the running policy stays');
    assert.equal(appliance.config, first);
    assert.deepEqual(appliance.status().peers, before.peers, 'peers unchanged');

    const good = await load(gateway + peers(3));
    await appliance.reload(good);
    assert.notEqual(appliance.policy, policy);
    assert.equal(appliance.config, good);
    assert.deepEqual(appliance.status().peers, ['agent-0', 'agent-1', 'agent-2']);
    const reloads = [];
    for await (const e of appliance.audit.query({ kind: 'system' })) if (e.message === 'policy reloaded') reloads.push(e);
    assert.equal(reloads.length, 1, 'only the applied reload is audited');
  } finally {
    await appliance.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
