/**
 * MD5 password authentication (PostgreSQL docs, "Password Authentication"): the client sends
 * "md5" || hex(md5(hex(md5(password || user)) || salt)). MD5 is broken and deprecated by the
 * server; we speak it only to reach upstreams still configured for it.
 */
import { createHash } from 'node:crypto';
import { MD5_SALT_LENGTH } from './constants.js';
import { PgCodecError } from './errors.js';
import { encodeText } from './text.js';

const md5hex = (...parts: Uint8Array[]): string => {
  const h = createHash('md5');
  for (const p of parts) h.update(p);
  return h.digest('hex');
};

export function md5Password(user: string, password: string, salt: Uint8Array): string {
  if (salt.length !== MD5_SALT_LENGTH) throw new PgCodecError('PG_BAD_VALUE', `MD5 salt of ${salt.length} bytes`);
  const inner = md5hex(encodeText(password), encodeText(user));
  return `md5${md5hex(encodeText(inner), salt)}`;
}
