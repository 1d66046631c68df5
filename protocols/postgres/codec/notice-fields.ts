/**
 * ErrorResponse / NoticeResponse fields ("Error and Notice Message Fields") as named properties,
 * and back. Encoding writes fields in the order the server does (elog.c), so re-encoding a
 * server's message reproduces its bytes.
 */
import { FIELD } from './constants.js';
import { PgCodecError } from './errors.js';

export interface NoticeFields {
  /** Localised severity (S): ERROR, FATAL, PANIC, WARNING, NOTICE, DEBUG, INFO, LOG. */
  readonly severity: string;
  /** The same, never localised (V, since 9.6). Defaults to `severity` when encoding. */
  readonly severityNonLocalized?: string;
  /** SQLSTATE (C), five characters. */
  readonly code: string;
  readonly message: string;
  readonly detail?: string;
  readonly hint?: string;
  readonly position?: string;
  readonly internalPosition?: string;
  readonly internalQuery?: string;
  readonly where?: string;
  readonly schema?: string;
  readonly table?: string;
  readonly column?: string;
  readonly dataType?: string;
  readonly constraint?: string;
  readonly file?: string;
  readonly line?: string;
  readonly routine?: string;
  /** Fields with codes this codec does not name (the docs promise more may come). */
  readonly other?: ReadonlyMap<string, string>;
}

type Named = Exclude<keyof NoticeFields, 'other'>;
/** Wire order = FIELD's order, which is the server's. */
const ORDER = Object.keys(FIELD) as Named[];
const BY_CODE = new Map<string, Named>(ORDER.map((k) => [String.fromCharCode(FIELD[k]), k]));

/** Named fields from a decoded message's field map. Missing S, C or M is PG_BAD_FIELD (the docs say always present). */
export function noticeFields(map: ReadonlyMap<string, string>): NoticeFields {
  const out: Record<string, string> = {};
  const other = new Map<string, string>();
  for (const [code, value] of map) {
    const name = BY_CODE.get(code);
    if (name) out[name] = value;
    else other.set(code, value);
  }
  if (out.severity === undefined || out.code === undefined || out.message === undefined) {
    throw new PgCodecError('PG_BAD_FIELD', 'notice without severity, code or message');
  }
  return { ...(out as unknown as NoticeFields), ...(other.size ? { other } : {}) };
}

/** Field map in wire order, for the encoder. */
export function noticeFieldMap(f: NoticeFields): Map<string, string> {
  const map = new Map<string, string>();
  for (const name of ORDER) {
    const v = name === 'severityNonLocalized' ? (f.severityNonLocalized ?? f.severity) : f[name];
    if (v !== undefined) map.set(String.fromCharCode(FIELD[name]), v);
  }
  for (const [code, value] of f.other ?? []) {
    if (code.length !== 1 || code === '\0') throw new PgCodecError('PG_BAD_VALUE', `field code ${JSON.stringify(code)}`);
    map.set(code, value);
  }
  return map;
}
