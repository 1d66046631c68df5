/**
 * The appliance's state directory: its WireGuard key, the tunnel addresses allocated to peers
 * without an explicit `address`, and (later) the audit log, CA and VIP table. Created 0700; key
 * files 0600. A state dir readable by others is refused rather than silently used.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';

export class StateDirError extends Error {
  readonly code = 'STATE_DIR_INSECURE';
}

export function ensureStateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const mode = statSync(dir).mode & 0o777;
  if (mode & 0o077) {
    // We created it or the operator did; either way secrets must not be group/world readable.
    chmodSync(dir, 0o700);
  }
}

/** Write a file atomically (temp file + rename), so a crash never leaves half a key or table. */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): void {
  const temp = `${path}.tmp-${process.pid}`;
  writeFileSync(temp, data, { mode });
  chmodSync(temp, mode);
  renameSync(temp, path);
}

export function readJson<T>(path: string, fallback: T): T {
  if (!existsSync(path)) return fallback;
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}
