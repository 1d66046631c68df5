/**
 * The appliance as a Postgres client of the upstream (PostgreSQL docs, "Message Flow: Start-up"
 * and "SSL Session Encryption"): TLS per the endpoint's sslmode over the socket the flow manager
 * already connected, a StartupMessage of our own, and authentication with the credential's real
 * password (SCRAM-SHA-256 with the server's signature checked, MD5, cleartext, trust). The agent
 * is told only that authentication failed; what the server said goes into UpstreamError.detail
 * for the operator's log and audit.
 *
 *   disable      plain TCP
 *   prefer       SSLRequest; TLS without certificate checks if the server says 'S', else plain
 *   require      TLS mandatory, no certificate checks (libpq's meaning, without a root cert)
 *   verify-full  TLS with the chain checked against `caCert` (or the system roots) and the
 *                host name checked against the certificate
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type net from 'node:net';
import { isAbsolute, resolve } from 'node:path';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import {
  BackendParser,
  chooseSaslMechanism,
  encodePasswordMessage,
  encodeSASLInitialResponse,
  encodeSASLResponse,
  encodeSSLRequest,
  encodeStartupMessage,
  md5Password,
  noticeFields,
  PgCodecError,
  scramClientFinal,
  scramClientFirst,
  scramNonce,
  verifyScramServerFinal,
  type BackendEvent,
  type ScramClientFinal,
  type ScramClientFirst,
  type TransactionStatus,
} from '../../protocols/postgres/codec/index.js';
import { HandshakeError, MessageReader } from './message-reader.js';

export type SslMode = 'disable' | 'prefer' | 'require' | 'verify-full';

export type UpstreamErrorCode =
  | 'PG_UPSTREAM_TLS' // TLS refused, failed or not trusted
  | 'PG_UPSTREAM_AUTH' // the server refused our credential, or could not prove it knew it
  | 'PG_UPSTREAM_AUTH_UNSUPPORTED' // a method we do not speak (GSS, SSPI, Kerberos, SCRAM-PLUS only)
  | 'PG_UPSTREAM_NO_PASSWORD' // the server asked for a password the credential does not have
  | 'PG_UPSTREAM_REFUSED' // an ErrorResponse after authentication (no such database, too many connections)
  | 'PG_UPSTREAM_PROTOCOL' // the server did not speak the protocol
  | 'PG_UPSTREAM_CLOSED' // connection lost or timed out during the handshake
  ;

export class UpstreamError extends Error {
  constructor(readonly code: UpstreamErrorCode, readonly detail: string, readonly sqlstate?: string) {
    super(`${code}: ${detail}`);
  }
}

export interface TlsSettings {
  sslmode: SslMode;
  /** PEM text, or a path to a PEM file (relative to `baseDir`). */
  caCert?: string | undefined;
  /** The upstream host name, checked against the certificate in verify-full. */
  host: string;
  baseDir: string;
}

export interface UpstreamSettings extends TlsSettings {
  /** StartupMessage parameters in order (user and database first). */
  parameters: [string, string][];
  user: string;
  password?: string | undefined;
  maxMessageLength?: number;
  signal?: AbortSignal;
}

export interface UpstreamReady {
  stream: Duplex;
  parser: BackendParser;
  /** Messages after ReadyForQuery that arrived with it (normally none). */
  pending: BackendEvent[];
  /** ParameterStatus and NoticeResponse bytes to replay to the agent, in order. */
  replay: Uint8Array[];
  parameters: Map<string, string>;
  backendKey?: { processId: number; secretKey: Uint8Array };
  status: TransactionStatus;
  tls: boolean;
  authMethod: 'trust' | 'cleartext' | 'md5' | 'scram-sha-256';
}

export function backendParserFor(maxMessageLength?: number): BackendParser {
  // Rows and COPY data pass through in pieces: a relay need not hold a 1 GiB row.
  return new BackendParser({ streamDataRows: true, streamCopyData: true, ...(maxMessageLength ? { maxMessageLength } : {}) });
}

function caText(ca: string, baseDir: string): string {
  if (ca.includes('-----BEGIN')) return ca;
  const path = isAbsolute(ca) ? ca : resolve(baseDir, ca);
  return readFileSync(path, 'utf8');
}

/** Reads exactly the one byte answering an SSLRequest; more bytes behind it are an injection (CVE-2021-23222). */
function readEncryptionAnswer(socket: net.Socket, signal?: AbortSignal): Promise<number> {
  return new Promise((resolveAnswer, reject) => {
    const done = (): void => {
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', onError);
      signal?.removeEventListener('abort', onAbort);
    };
    const onData = (chunk: Buffer): void => {
      done();
      socket.pause();
      if (chunk.length !== 1) reject(new UpstreamError('PG_UPSTREAM_TLS', `${chunk.length} bytes answered SSLRequest (expected 1)`));
      else resolveAnswer(chunk[0]!);
    };
    const onClose = (): void => {
      done();
      reject(new UpstreamError('PG_UPSTREAM_CLOSED', 'connection closed during SSL negotiation'));
    };
    const onError = (e: Error): void => {
      done();
      reject(new UpstreamError('PG_UPSTREAM_CLOSED', e.message));
    };
    const onAbort = (): void => {
      done();
      reject(new UpstreamError('PG_UPSTREAM_CLOSED', 'SSL negotiation timed out'));
    };
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.once('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.resume();
  });
}

/** The upstream byte stream per sslmode: the socket itself, or TLS over it. */
export async function negotiateTls(socket: net.Socket, settings: TlsSettings, signal?: AbortSignal): Promise<{ stream: Duplex; tls: boolean }> {
  if (settings.sslmode === 'disable') return { stream: socket, tls: false };
  socket.write(encodeSSLRequest());
  const answer = await readEncryptionAnswer(socket, signal);
  if (answer !== 0x53 /* 'S' */) {
    if (settings.sslmode === 'prefer' && answer === 0x4e /* 'N' */) return { stream: socket, tls: false };
    throw new UpstreamError('PG_UPSTREAM_TLS', answer === 0x4e ? `server refused TLS (sslmode=${settings.sslmode})` : `unexpected answer 0x${answer.toString(16)} to SSLRequest`);
  }
  const verify = settings.sslmode === 'verify-full';
  let ca: string | undefined;
  if (verify && settings.caCert) {
    try {
      ca = caText(settings.caCert, settings.baseDir);
    } catch (error) {
      throw new UpstreamError('PG_UPSTREAM_TLS', `ca_cert cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }
  const options: tls.ConnectionOptions = {
    socket,
    rejectUnauthorized: verify,
    ...(ca ? { ca } : {}),
    // SNI takes names only; the certificate check below still runs for IP addresses (IP SANs).
    ...(isIP(settings.host) ? {} : { servername: settings.host }),
    checkServerIdentity: verify ? (_host, cert) => tls.checkServerIdentity(settings.host, cert) : () => undefined,
  };
  const secure = tls.connect(options);
  await new Promise<void>((resolveTls, reject) => {
    const onAbort = (): void => {
      secure.destroy();
      reject(new UpstreamError('PG_UPSTREAM_TLS', 'TLS handshake timed out'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    secure.once('secureConnect', () => {
      signal?.removeEventListener('abort', onAbort);
      resolveTls();
    });
    secure.once('error', (e) => {
      signal?.removeEventListener('abort', onAbort);
      reject(new UpstreamError('PG_UPSTREAM_TLS', e.message));
    });
  });
  return { stream: secure, tls: true };
}

function serverError(m: BackendEvent): { code: string; message: string } {
  if (m.type !== 'ErrorResponse') return { code: '', message: m.type };
  try {
    const f = noticeFields(m.fields);
    return { code: f.code, message: f.message };
  } catch {
    return { code: '', message: 'malformed ErrorResponse' };
  }
}

/** TLS, StartupMessage and authentication; resolves at the server's first ReadyForQuery. */
export async function openUpstream(socket: net.Socket, settings: UpstreamSettings): Promise<UpstreamReady> {
  const { stream, tls: secure } = await negotiateTls(socket, settings, settings.signal);
  const parser = backendParserFor(settings.maxMessageLength);
  const reader = new MessageReader<BackendEvent>(stream, (chunk) => parser.push(chunk));
  try {
    stream.write(encodeStartupMessage(settings.parameters));
    let method: UpstreamReady['authMethod'] = 'trust';
    let scramFirst: ScramClientFirst | undefined;
    let scramFinal: ScramClientFinal | undefined;
    let scramVerified = false;
    const password = (): string => {
      if (settings.password === undefined) throw new UpstreamError('PG_UPSTREAM_NO_PASSWORD', 'the server asked for a password and the credential has none');
      return settings.password;
    };
    // Authentication.
    for (;;) {
      const m = await reader.next(settings.signal);
      switch (m.type) {
        case 'AuthenticationOk':
          if (scramFirst && !scramVerified) throw new UpstreamError('PG_UPSTREAM_AUTH', 'server ended SCRAM without proving it knows the password (no SASLFinal)');
          break;
        case 'AuthenticationCleartextPassword':
          method = 'cleartext';
          stream.write(encodePasswordMessage(password()));
          continue;
        case 'AuthenticationMD5Password':
          method = 'md5';
          stream.write(encodePasswordMessage(md5Password(settings.user, password(), m.salt)));
          continue;
        case 'AuthenticationSASL': {
          method = 'scram-sha-256';
          const mechanism = chooseSaslMechanism(m.mechanisms);
          password(); // fail before starting an exchange we cannot finish
          scramFirst = scramClientFirst(scramNonce(randomBytes(24)));
          stream.write(encodeSASLInitialResponse(mechanism, Buffer.from(scramFirst.message)));
          continue;
        }
        case 'AuthenticationSASLContinue':
          if (!scramFirst || scramFinal) throw new UpstreamError('PG_UPSTREAM_PROTOCOL', 'SASLContinue out of order');
          scramFinal = scramClientFinal(scramFirst, m.data, password());
          stream.write(encodeSASLResponse(Buffer.from(scramFinal.message)));
          continue;
        case 'AuthenticationSASLFinal': {
          if (!scramFinal) throw new UpstreamError('PG_UPSTREAM_PROTOCOL', 'SASLFinal out of order');
          const verdict = verifyScramServerFinal(m.data, scramFinal);
          if (!verdict.ok) throw new UpstreamError('PG_UPSTREAM_AUTH', `${verdict.code}: ${verdict.detail}`);
          scramVerified = true;
          continue;
        }
        case 'AuthenticationOther':
          throw new UpstreamError('PG_UPSTREAM_AUTH_UNSUPPORTED', `authentication method ${m.code} is not supported`);
        case 'ErrorResponse': {
          const e = serverError(m);
          throw new UpstreamError('PG_UPSTREAM_AUTH', `${e.code} ${e.message}`, e.code);
        }
        case 'NoticeResponse':
        case 'NegotiateProtocolVersion':
          continue;
        default:
          throw new UpstreamError('PG_UPSTREAM_PROTOCOL', `${m.type} during authentication`);
      }
      break;
    }
    // Session start: parameters, cancel key, ReadyForQuery.
    const replay: Uint8Array[] = [];
    const parameters = new Map<string, string>();
    let backendKey: UpstreamReady['backendKey'];
    for (;;) {
      const m = await reader.next(settings.signal);
      switch (m.type) {
        case 'ParameterStatus':
          parameters.set(m.name, m.value);
          replay.push(m.raw);
          continue;
        case 'NoticeResponse':
          replay.push(m.raw);
          continue;
        case 'BackendKeyData':
          backendKey = { processId: m.processId, secretKey: Uint8Array.from(m.secretKey) };
          continue;
        case 'ReadyForQuery': {
          const pending = reader.detach();
          return { stream, parser, pending, replay, parameters, ...(backendKey ? { backendKey } : {}), status: m.status, tls: secure, authMethod: method };
        }
        case 'ErrorResponse': {
          const e = serverError(m);
          throw new UpstreamError('PG_UPSTREAM_REFUSED', `${e.code} ${e.message}`, e.code);
        }
        default:
          throw new UpstreamError('PG_UPSTREAM_PROTOCOL', `${m.type} before the first ReadyForQuery`);
      }
    }
  } catch (error) {
    reader.detach();
    if (error instanceof UpstreamError) throw error;
    if (error instanceof HandshakeError) throw new UpstreamError(error.code === 'PG_PEER_CLOSED' || error.code === 'PG_HANDSHAKE_TIMEOUT' || error.code === 'PG_PEER_ERROR' ? 'PG_UPSTREAM_CLOSED' : 'PG_UPSTREAM_PROTOCOL', `${error.code}: ${error.message}`);
    if (error instanceof PgCodecError) {
      const code = error.code === 'PG_SASL_MECHANISM' ? 'PG_UPSTREAM_AUTH_UNSUPPORTED' : error.code.startsWith('PG_SCRAM') ? 'PG_UPSTREAM_AUTH' : 'PG_UPSTREAM_PROTOCOL';
      throw new UpstreamError(code, error.message);
    }
    throw error;
  }
}
