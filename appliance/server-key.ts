/** The appliance's own WireGuard key pair, created on first use and kept in the state dir (0600). */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { decodeKey, generatePrivateKey, publicKeyFromPrivate } from '../netstack/wireguard/keys.js';
import { ensureStateDir, StateDirError, writeFileAtomic } from './state-dir.js';

export const SERVER_KEY_FILE = 'wireguard.key';

export interface ServerKey {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

export function loadOrCreateServerKey(stateDir: string): ServerKey {
  ensureStateDir(stateDir);
  const path = join(stateDir, SERVER_KEY_FILE);
  if (!existsSync(path)) {
    const privateKey = generatePrivateKey();
    writeFileAtomic(path, `${Buffer.from(privateKey).toString('base64')}\n`, 0o600);
  }
  if (statSync(path).mode & 0o077) {
    throw new StateDirError(`${path} is readable by other users; run chmod 600 on it`);
  }
  let privateKey: Uint8Array;
  try {
    privateKey = decodeKey(readFileSync(path, 'utf8').trim());
  } catch {
    throw new StateDirError(`${path} does not hold a base64 WireGuard private key`);
  }
  return { privateKey, publicKey: publicKeyFromPrivate(privateKey) };
}
