/**
 * Typed errors for the packet codecs. Parsers throw only `WireError`; the code is a stable string
 * that logs, counters and tests match on, never the message text.
 *
 * The stack turns a code into a counter name with `counterName()` (`IPV4_BAD_CHECKSUM` ->
 * `ipv4.bad_checksum`), so every code here is also a drop counter somebody may graph.
 */
export const WIRE_ERROR_CODES = [
  // generic
  'BUFFER_TOO_SMALL', // programmer error: emit target shorter than the representation
  // IPv4 (RFC 791)
  'IPV4_TRUNCATED',
  'IPV4_BAD_VERSION',
  'IPV4_BAD_HEADER_LENGTH',
  'IPV4_BAD_TOTAL_LENGTH',
  'IPV4_BAD_OPTION',
  'IPV4_BAD_CHECKSUM',
  'IPV4_BAD_REPR',
  // IPv6 (RFC 8200)
  'IPV6_TRUNCATED',
  'IPV6_BAD_VERSION',
  'IPV6_BAD_EXTENSION_HEADER',
  'IPV6_BAD_EXTENSION_ORDER',
  'IPV6_TOO_MANY_EXTENSION_HEADERS',
  'IPV6_BAD_OPTION',
  'IPV6_BAD_REPR',
  // ICMPv4 (RFC 792)
  'ICMPV4_TRUNCATED',
  'ICMPV4_BAD_CHECKSUM',
  'ICMPV4_UNSUPPORTED_TYPE',
  // ICMPv6 (RFC 4443)
  'ICMPV6_TRUNCATED',
  'ICMPV6_BAD_CHECKSUM',
  'ICMPV6_UNSUPPORTED_TYPE',
  // UDP (RFC 768)
  'UDP_TRUNCATED',
  'UDP_BAD_LENGTH',
  'UDP_BAD_CHECKSUM',
  'UDP_MISSING_CHECKSUM',
  'UDP_TOO_LARGE',
  // TCP (RFC 9293), the minimal checks the IP layer makes before delivery
  'TCP_TRUNCATED',
  'TCP_BAD_HEADER_LENGTH',
  'TCP_BAD_CHECKSUM',
] as const;

export type WireErrorCode = (typeof WIRE_ERROR_CODES)[number];

/**
 * `C` lets another codec (e.g. WireGuard messages) reuse the class with its own code union,
 * `new WireError<WgCode>('WG_...')`, keeping `instanceof WireError` as the one test for "the
 * bytes were bad". `NoInfer` makes a plain `new WireError('TYPO')` a compile error.
 */
export class WireError<C extends string = WireErrorCode> extends Error {
  override readonly name = 'WireError';
  readonly code: C;

  constructor(code: NoInfer<C>, message?: string) {
    super(message === undefined ? code : `${code}: ${message}`);
    this.code = code;
  }
}

/** `IPV4_BAD_CHECKSUM` -> `ipv4.bad_checksum`: the drop counter that goes with a code. */
export function counterName(code: string): string {
  const lower = code.toLowerCase();
  const cut = lower.indexOf('_');
  return cut < 0 ? lower : `${lower.slice(0, cut)}.${lower.slice(cut + 1)}`;
}
