/**
 * SCRAM-SHA-256 client (RFC 5802, RFC 7677) as PostgreSQL uses it (docs, "SASL Authentication"):
 * no channel binding (gs2 header "n,,"), the user name left empty in client-first (the server
 * takes it from the StartupMessage), the password run through SASLprep with the server's
 * fallback to raw bytes. Pure functions: the caller supplies the nonce and moves the bytes.
 *
 *   first = scramClientFirst(nonce)                 -> SASLInitialResponse('SCRAM-SHA-256', first.message)
 *   final = scramClientFinal(first, serverFirst, pw) -> SASLResponse(final.message)
 *   verifyScramServerFinal(serverFinal, final)       -> AuthenticationSASLFinal checked
 */
import { createHash, createHmac, pbkdf2Sync, timingSafeEqual } from 'node:crypto';
import { PgCodecError } from './errors.js';
import { scramPasswordBytes } from './saslprep.js';

export const SCRAM_SHA_256 = 'SCRAM-SHA-256';
/** Channel-bound variant: needs the TLS server certificate hash, which we never hold. */
export const SCRAM_SHA_256_PLUS = 'SCRAM-SHA-256-PLUS';
/** "n,,": the client does not support channel binding; no authzid. */
export const GS2_HEADER = 'n,,';
/** PostgreSQL's default is 4096; a hostile upstream could ask for billions (CPU burn). */
export const SCRAM_MAX_ITERATIONS = 1_000_000;
const KEY_LENGTH = 32;

export interface ScramClientFirst {
  /** client-first-message, the SASLInitialResponse data. */
  readonly message: string;
  /** client-first-message-bare, part of the AuthMessage. */
  readonly bare: string;
  readonly nonce: string;
}

export interface ScramClientFinal {
  /** client-final-message, the SASLResponse data. */
  readonly message: string;
  /** What the server must prove in server-final-message. */
  readonly expectedServerSignature: Uint8Array;
}

export type ScramVerification =
  | { readonly ok: true }
  | { readonly ok: false; readonly code: 'PG_SCRAM_BAD_SIGNATURE' | 'PG_SCRAM_SERVER_ERROR' | 'PG_SCRAM_BAD_MESSAGE'; readonly detail: string };

const asText = (m: string | Uint8Array): string => {
  if (typeof m === 'string') return m;
  for (const b of m) if (b < 0x20 || b > 0x7e) throw new PgCodecError('PG_SCRAM_BAD_MESSAGE', 'non-printable byte in a SCRAM message');
  return String.fromCharCode(...m);
};

/** RFC 5802 printable: %x21-7E except ','. */
const PRINTABLE = /^[\x21-\x2b\x2d-\x7e]+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A nonce from random bytes: base64 is printable and has no ','. */
export function scramNonce(random: Uint8Array): string {
  if (random.length < 18) throw new PgCodecError('PG_BAD_VALUE', 'SCRAM nonce needs at least 18 random bytes');
  return Buffer.from(random).toString('base64');
}

/** Pick the mechanism to answer AuthenticationSASL with; refuses cleanly when none fits. */
export function chooseSaslMechanism(offered: readonly string[]): typeof SCRAM_SHA_256 {
  if (offered.includes(SCRAM_SHA_256)) return SCRAM_SHA_256;
  if (offered.includes(SCRAM_SHA_256_PLUS)) {
    throw new PgCodecError('PG_SASL_MECHANISM', 'server requires SCRAM-SHA-256-PLUS (channel binding), which this client does not support');
  }
  throw new PgCodecError('PG_SASL_MECHANISM', `no supported SASL mechanism in [${offered.join(', ')}]`);
}

const escapeSaslName = (s: string): string => s.replace(/=/g, '=3D').replace(/,/g, '=2C');

export function scramClientFirst(nonce: string, username = ''): ScramClientFirst {
  if (!PRINTABLE.test(nonce)) throw new PgCodecError('PG_BAD_VALUE', 'SCRAM nonce must be printable ASCII without ","');
  const bare = `n=${escapeSaslName(username)},r=${nonce}`;
  return { message: GS2_HEADER + bare, bare, nonce };
}

interface ServerFirst {
  readonly nonce: string;
  readonly salt: Uint8Array;
  readonly iterations: number;
}

function parseServerFirst(text: string, clientNonce: string, maxIterations: number): ServerFirst {
  if (text.startsWith('m=')) throw new PgCodecError('PG_SCRAM_BAD_MESSAGE', 'mandatory extension not supported');
  const m = /^r=([^,]+),s=([^,]+),i=([0-9]+)(?:,.*)?$/.exec(text);
  if (!m) throw new PgCodecError('PG_SCRAM_BAD_MESSAGE', 'server-first-message does not match r=,s=,i=');
  const [, nonce, salt64, iter] = m as unknown as [string, string, string, string];
  if (!PRINTABLE.test(nonce)) throw new PgCodecError('PG_SCRAM_BAD_MESSAGE', 'server nonce not printable');
  // The combined nonce must extend ours, or a replayed exchange could be accepted.
  if (!nonce.startsWith(clientNonce) || nonce.length === clientNonce.length) throw new PgCodecError('PG_SCRAM_NONCE', 'server nonce does not extend the client nonce');
  if (!BASE64.test(salt64)) throw new PgCodecError('PG_SCRAM_BAD_MESSAGE', 'salt is not base64');
  const iterations = Number(iter);
  if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > maxIterations) throw new PgCodecError('PG_SCRAM_ITERATIONS', `iteration count ${iter}`);
  const salt = new Uint8Array(Buffer.from(salt64, 'base64'));
  if (salt.length === 0) throw new PgCodecError('PG_SCRAM_BAD_MESSAGE', 'empty salt');
  return { nonce, salt, iterations };
}

const hmac = (key: Uint8Array, data: string | Uint8Array): Buffer => createHmac('sha256', key).update(data).digest();

export interface ScramClientFinalOptions {
  readonly maxIterations?: number;
}

export function scramClientFinal(first: ScramClientFirst, serverFirstMessage: string | Uint8Array, password: string, opts: ScramClientFinalOptions = {}): ScramClientFinal {
  const serverFirst = asText(serverFirstMessage);
  const sf = parseServerFirst(serverFirst, first.nonce, opts.maxIterations ?? SCRAM_MAX_ITERATIONS);
  const salted = pbkdf2Sync(scramPasswordBytes(password), sf.salt, sf.iterations, KEY_LENGTH, 'sha256');
  const clientKey = hmac(salted, 'Client Key');
  const storedKey = createHash('sha256').update(clientKey).digest();
  const withoutProof = `c=${Buffer.from(GS2_HEADER).toString('base64')},r=${sf.nonce}`;
  const authMessage = `${first.bare},${serverFirst},${withoutProof}`;
  const clientSignature = hmac(storedKey, authMessage);
  const proof = Buffer.alloc(KEY_LENGTH);
  for (let i = 0; i < KEY_LENGTH; i++) proof[i] = clientKey[i]! ^ clientSignature[i]!;
  const serverKey = hmac(salted, 'Server Key');
  return {
    message: `${withoutProof},p=${proof.toString('base64')}`,
    expectedServerSignature: new Uint8Array(hmac(serverKey, authMessage)),
  };
}

/** Checks server-final-message: the server proves it knew the verifier (mutual authentication). */
export function verifyScramServerFinal(serverFinalMessage: string | Uint8Array, final: Pick<ScramClientFinal, 'expectedServerSignature'>): ScramVerification {
  let text: string;
  try {
    text = asText(serverFinalMessage);
  } catch (e) {
    return { ok: false, code: 'PG_SCRAM_BAD_MESSAGE', detail: (e as Error).message };
  }
  if (text.startsWith('e=')) return { ok: false, code: 'PG_SCRAM_SERVER_ERROR', detail: text.slice(2).split(',')[0]! };
  const m = /^v=([^,]+)(?:,.*)?$/.exec(text);
  if (!m || !BASE64.test(m[1]!)) return { ok: false, code: 'PG_SCRAM_BAD_MESSAGE', detail: 'server-final-message is not v=<base64>' };
  const got = Buffer.from(m[1]!, 'base64');
  const want = final.expectedServerSignature;
  if (got.length !== want.length || !timingSafeEqual(got, want)) return { ok: false, code: 'PG_SCRAM_BAD_SIGNATURE', detail: 'server signature mismatch' };
  return { ok: true };
}
