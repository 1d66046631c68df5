/**
 * Typed DNS codec errors. The codes are stable: logs, metrics and tests filter by them. A parse
 * error never carries packet bytes in its message (they are agent-controlled).
 */
export type DnsErrorCode =
  /** The message ends inside a field it declares (header, name, question or record). */
  | 'DNS_TRUNCATED'
  /** A compression pointer points at or past itself, outside the message, or chains too long. */
  | 'DNS_BAD_POINTER'
  /** A name longer than 255 octets in wire form (RFC 1035 §3.1). */
  | 'DNS_NAME_TOO_LONG'
  /** A label longer than 63 octets (only possible when encoding from text). */
  | 'DNS_LABEL_TOO_LONG'
  /** Length octet with the reserved 01/10 top bits (RFC 6891 §5 deprecated extended labels). */
  | 'DNS_BAD_LABEL_TYPE'
  /** A name given as text that is not a valid presentation form (empty label, bad escape). */
  | 'DNS_BAD_NAME'
  /** Bytes left after the last record the header counts. */
  | 'DNS_TRAILING_DATA'
  /** Larger than a DNS message can be (65535 octets). */
  | 'DNS_MESSAGE_TOO_LARGE'
  /** A query that does not ask exactly one question (we answer only QDCOUNT = 1). */
  | 'DNS_BAD_QDCOUNT'
  /** A message with QR = 1 where a query was expected. */
  | 'DNS_NOT_QUERY'
  /** An OPT record that breaks RFC 6891 §6.1.1: not root-owned, outside additional, or repeated. */
  | 'DNS_BAD_OPT'
  /** Record data whose length does not fit its type (A is 4 octets, AAAA 16). */
  | 'DNS_BAD_RDATA'
  /** A value the encoder cannot represent (programmer error: field out of range). */
  | 'DNS_BAD_VALUE';

export class DnsError extends Error {
  override readonly name = 'DnsError';
  constructor(readonly code: DnsErrorCode, detail: string) {
    super(`${code}: ${detail}`);
  }
}
