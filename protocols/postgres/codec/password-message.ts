/**
 * 'p' carries four different bodies; which one is meant follows from the last authentication
 * request the server sent (PostgreSQL docs, "Message Flow: Start-up"):
 *   AuthenticationCleartextPassword / MD5Password -> PasswordMessage (String password)
 *   AuthenticationSASL                             -> SASLInitialResponse
 *   AuthenticationSASLContinue                     -> SASLResponse
 *   AuthenticationGSS / SSPI / GSSContinue         -> GSSResponse (opaque bytes)
 */
import { AUTH } from './constants.js';
import { PgCodecError } from './errors.js';
import type { PasswordMessage } from './messages.js';
import { BodyReader } from './reader.js';

export interface SaslInitialResponse {
  readonly mechanism: string;
  /** null when the client sent length -1 (no initial response). */
  readonly data: Uint8Array | null;
}

function reader(msg: PasswordMessage): BodyReader {
  return new BodyReader(msg.body, 0);
}

export function decodePassword(msg: PasswordMessage): string {
  const r = reader(msg);
  const password = r.cstring('password');
  r.done('PasswordMessage');
  return password;
}

export function decodeSaslInitialResponse(msg: PasswordMessage): SaslInitialResponse {
  const r = reader(msg);
  const mechanism = r.cstring('SASL mechanism');
  const data = r.nullableBytes('SASL initial response');
  r.done('SASLInitialResponse');
  return { mechanism, data };
}

export function decodeSaslResponse(msg: PasswordMessage): Uint8Array {
  return msg.body;
}

/** What a 'p' message is, given the authentication request code it answers (AUTH.*). */
export type PasswordMessageKind = 'password' | 'sasl-initial' | 'sasl' | 'gss';

export function passwordMessageKind(lastAuthRequest: number): PasswordMessageKind {
  switch (lastAuthRequest) {
    case AUTH.CleartextPassword:
    case AUTH.MD5Password:
      return 'password';
    case AUTH.SASL:
      return 'sasl-initial';
    case AUTH.SASLContinue:
      return 'sasl';
    case AUTH.GSS:
    case AUTH.GSSContinue:
    case AUTH.SSPI:
      return 'gss';
    default:
      throw new PgCodecError('PG_UNKNOWN_MESSAGE', `no password message answers authentication request ${lastAuthRequest}`);
  }
}
