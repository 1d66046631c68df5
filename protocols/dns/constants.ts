/**
 * Numbers from RFC 1035 §4.1 (header layout), §3.2.2 (types), RFC 3596 (AAAA), RFC 6891 (OPT),
 * RFC 2136/6895 (opcodes and rcodes). Named as in the RFCs.
 */

/** RFC 1035 §4.1.1: the fixed header is six 16-bit fields. */
export const HEADER_SIZE = 12;
export const OFFSET_ID = 0;
export const OFFSET_FLAGS = 2;
export const OFFSET_QDCOUNT = 4;
export const OFFSET_ANCOUNT = 6;
export const OFFSET_NSCOUNT = 8;
export const OFFSET_ARCOUNT = 10;

/** Flag bits inside the 16-bit flags word. */
export const FLAG_QR = 0x8000;
export const FLAG_AA = 0x0400;
export const FLAG_TC = 0x0200;
export const FLAG_RD = 0x0100;
export const FLAG_RA = 0x0080;
export const FLAG_Z = 0x0040;
export const FLAG_AD = 0x0020;
export const FLAG_CD = 0x0010;
export const OPCODE_SHIFT = 11;
export const OPCODE_MASK = 0xf;
export const RCODE_MASK = 0xf;

export const OPCODE_QUERY = 0;

export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  /** RFC 6891 §9: 12-bit rcode, needs an OPT record to carry the upper 8 bits. */
  BADVERS: 16,
} as const;

export const TYPE = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  SVCB: 64,
  HTTPS: 65,
  AXFR: 252,
  ANY: 255,
} as const;

export const CLASS_IN = 1;

/** RFC 1035 §2.3.4. */
export const MAX_NAME_LENGTH = 255;
export const MAX_LABEL_LENGTH = 63;
/** Two top bits of a length octet: 00 label, 11 pointer, 01/10 reserved. */
export const LABEL_TYPE_MASK = 0xc0;
export const POINTER_TAG = 0xc0;
/** A name of at most 255 octets has at most 127 labels, so more pointer hops than that is a loop. */
export const MAX_POINTER_HOPS = 127;

/** RFC 1035 §4.2.1: UDP messages without EDNS are limited to 512 octets. */
export const CLASSIC_UDP_SIZE = 512;
/** DNS flag day 2020: a payload size that avoids IP fragmentation on common paths. */
export const OUR_UDP_SIZE = 1232;
/** 16-bit lengths everywhere: nothing larger is a DNS message. */
export const MAX_MESSAGE_SIZE = 65535;

/** RFC 1035 §4.1.3: NAME(var) TYPE(2) CLASS(2) TTL(4) RDLENGTH(2). */
export const RR_FIXED_SIZE = 10;
/** Answers we emit point back at the question name at offset 12 (0xC00C). */
export const QUESTION_NAME_POINTER = 0xc000 | HEADER_SIZE;

/** RFC 6891 §6.1.3: OPT TTL field = EXTENDED-RCODE(8) VERSION(8) DO(1) Z(15). */
export const EDNS_VERSION = 0;
export const EDNS_DO = 0x8000;
