/**
 * Secret values behind `env("NAME")` / `file("path")`. Read when a credential is used, never at
 * load, so policies validate in CI without production secrets; a missing secret fails closed at
 * the moment it is needed, with an error that names the source but never a value.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { SecretRef } from './config/model.js';

export class SecretError extends Error {
  constructor(message: string, readonly code: 'SECRET_MISSING' | 'SECRET_UNREADABLE' | 'SECRET_EMPTY') {
    super(message);
  }
}

export function describeSecret(ref: SecretRef): string {
  return ref.from === 'env' ? `env("${ref.name}")` : `file("${ref.path}")`;
}

export function readSecret(ref: SecretRef, options: { baseDir: string; env?: NodeJS.ProcessEnv }): string {
  if (ref.from === 'env') {
    const value = (options.env ?? process.env)[ref.name];
    if (value === undefined) throw new SecretError(`${describeSecret(ref)} is not set`, 'SECRET_MISSING');
    if (value === '') throw new SecretError(`${describeSecret(ref)} is empty`, 'SECRET_EMPTY');
    return value;
  }
  const path = isAbsolute(ref.path) ? ref.path : resolve(options.baseDir, ref.path);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new SecretError(`${describeSecret(ref)} cannot be read: ${(error as NodeJS.ErrnoException).code ?? 'error'}`, 'SECRET_UNREADABLE');
  }
  // A trailing newline is an editor's, not the secret's; keys in PEM form keep their inner lines.
  const value = text.replace(/\r?\n$/, '');
  if (value === '') throw new SecretError(`${describeSecret(ref)} is empty`, 'SECRET_EMPTY');
  return value;
}
