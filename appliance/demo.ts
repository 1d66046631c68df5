/**
 * The embedded default: what `bailiff run` uses when no --config is given, so a new user sees a
 * working appliance with one command. It is written out as a real file in ./bailiff-state (the
 * state dir) because peers are recorded by appending to the policy.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ensureStateDir } from './state-dir.js';

export const DEMO_STATE_DIR = 'bailiff-state';
export const DEMO_CONFIG_FILE = 'bailiff.hcl';
export const DEMO_PEER = 'demo-agent';

export const DEMO_CONFIG = `# Bailiff demo policy, written by \`bailiff run\` because no --config was given.
# Edit it freely: the running appliance reloads it on save. Paths are relative to this file.
gateway {
  state_dir        = "."
  dashboard_listen = "127.0.0.1:8080"
  mode             = "enforce"
  wireguard {
    listen_port = 51820
    subnet_cidr = "100.64.0.0/24"
  }
}

defaults {
  no_match     = "deny"
  unknown_host = "deny"
}
`;

/** Create ./bailiff-state/bailiff.hcl from the embedded default unless it exists; return its path. */
export function materializeDemoConfig(cwd = process.cwd()): { configPath: string; created: boolean } {
  const dir = resolve(cwd, DEMO_STATE_DIR);
  ensureStateDir(dir);
  const configPath = join(dir, DEMO_CONFIG_FILE);
  if (existsSync(configPath)) return { configPath, created: false };
  writeFileSync(configPath, DEMO_CONFIG, { mode: 0o644 });
  return { configPath, created: true };
}
