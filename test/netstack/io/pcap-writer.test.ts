import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { PcapWriter } from '../../../netstack/io/pcap-writer.js';
import { capture } from '../../fixtures/captures/captures.js';
import { which } from '../../e2e/harness/requirements.js';

test('tcpdump reads the tap: v4 and v6 packets with their timestamps', () => {
  const tcpdump = which('tcpdump');
  assert.ok(tcpdump, 'tcpdump is needed: apt-get install -y tcpdump (or run .ci/run)');
  const dir = mkdtempSync(join(tmpdir(), 'bailiff-pcap-'));
  try {
    const path = join(dir, 'tap.pcap');
    let t = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
    const writer = new PcapWriter(path, { clock: () => t });
    const v4 = capture('ping4', 0);
    const v6 = capture('ping6', 0);
    writer.write(v4);
    t += 1;
    writer.write(v6);
    writer.close();
    const out = execFileSync(tcpdump, ['-r', path, '-n', '-tt'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const lines = out.trim().split('\n');
    assert.equal(lines.length, 2, out);
    assert.match(lines[0]!, /^1767323045\.678000 IP 198\.18\.7\.\d+ > 198\.18\.7\.\d+: ICMP echo request/);
    assert.match(lines[1]!, /^1767323045\.679000 IP6 fd00:bf:1::\w+ > fd00:bf:\w+::\w+: ICMP6, echo request/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the tap stops at maxBytes and counts what it skipped; snap length cuts packets', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bailiff-pcap-'));
  try {
    const path = join(dir, 'tap.pcap');
    const writer = new PcapWriter(path, { maxBytes: 24 + 3 * (16 + 40), snapLength: 40 });
    const packet = new Uint8Array(1400).fill(0x45);
    for (let i = 0; i < 10; i++) writer.write(packet);
    writer.close();
    assert.equal(writer.packets, 3);
    assert.equal(writer.skipped, 7);
    assert.equal(statSync(path).size, 24 + 3 * (16 + 40));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
