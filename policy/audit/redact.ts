/**
 * Secret redaction applied to every string of a record before it is hashed and stored, so a
 * credential value can never reach the audit file, not even in a torn tail cut off at reopen.
 *
 * Two things are replaced by REDACTED:
 *  - every occurrence of a registered secret value (and its URL-encoded form), including
 *    overlapping occurrences of different secrets: occurrences are collected as intervals over the
 *    original string and merged, so no fragment of any secret survives;
 *  - passwords in connection strings: `password=...` (libpq key/value, ODBC `pwd=`), the
 *    userinfo password of a URL (`postgres://user:pw@host`) and SQL's `PASSWORD '...'`, whether
 *    or not they are registered.
 *
 * The patterns are linear-time on agent-controlled text: every alternative, once its keyword has
 * matched, always succeeds (an unterminated quote runs to the end of the string), so the engine
 * never rescans from the same keyword.
 */

export const REDACTED = '[REDACTED]';

// No \b before the keyword: `db_password=` and `PGPASSWORD=` must match too. Besides `key=value`
// this takes SQL's `PASSWORD 'literal'` (CREATE/ALTER ROLE), where a quote is doubled to escape it.
const KEYWORD_PASSWORD = /(password|passwd|pwd)(\s*=\s*|\s+(?='))('(?:[^'\\]|\\[\s\S]|'')*(?:'|$)|"(?:[^"\\]|\\[\s\S]|"")*(?:"|$)|[^\s;&'"]+)/gi;

/**
 * `scheme://user:password@host`: done by hand rather than by a regex, because a scheme pattern
 * retried at every word start of a long `a.a.a...` string is quadratic. Each `://` is scanned
 * forward only to the first `/`, whitespace or `@`, so the whole pass is linear.
 */
function redactUrlPasswords(value: string): string {
  let out = '';
  let cursor = 0;
  for (let at = value.indexOf('://'); at !== -1; at = value.indexOf('://', at + 3)) {
    const start = at + 3;
    let end = start;
    let colon = -1;
    for (; end < value.length; end++) {
      const ch = value[end]!;
      if (ch === '@' || ch === '/' || /\s/.test(ch)) break;
      if (ch === ':' && colon === -1) colon = end;
    }
    if (value[end] !== '@' || colon === -1) continue;
    out += value.slice(cursor, colon + 1) + REDACTED + '@';
    cursor = end + 1;
  }
  return cursor === 0 ? value : out + value.slice(cursor);
}

function redactConnectionStrings(value: string): string {
  // The cheap tests keep the common case (no connection string) at one scan each.
  let out = value;
  if (/passw|pwd/i.test(out)) out = out.replace(KEYWORD_PASSWORD, (_m, key: string, eq: string) => `${key}${eq}${REDACTED}`);
  if (out.includes('://')) out = redactUrlPasswords(out);
  return out;
}

function redactSecrets(value: string, secrets: readonly string[]): string {
  const intervals: Array<[number, number]> = [];
  for (const secret of secrets) {
    if (secret.length === 0) continue;
    // Step by one so overlapping occurrences ("aa" in "aaa") are all covered.
    for (let at = value.indexOf(secret); at !== -1; at = value.indexOf(secret, at + 1)) {
      intervals.push([at, at + secret.length]);
    }
  }
  if (intervals.length === 0) return value;
  intervals.sort((a, b) => a[0] - b[0]);
  let out = '';
  let cursor = 0;
  let i = 0;
  while (i < intervals.length) {
    const [start, firstEnd] = intervals[i]!;
    let end = firstEnd;
    i++;
    while (i < intervals.length && intervals[i]![0] <= end) {
      end = Math.max(end, intervals[i]![1]);
      i++;
    }
    out += value.slice(cursor, start) + REDACTED;
    cursor = end;
  }
  return out + value.slice(cursor);
}

/** Redacts one string against a list of secret values and the connection-string patterns. */
export function redact(value: string, secrets: readonly string[]): string {
  return redactConnectionStrings(redactSecrets(value, secrets));
}

const MEMO_MAX_LENGTH = 96;
const MEMO_MAX_ENTRIES = 4096;

/** Holds the registered secrets of one log, with their encoded variants, longest first. */
export class Redactor {
  readonly #secrets = new Set<string>();
  #list: string[] = [];

  add(secrets: Iterable<string>): void {
    this.#memo.clear(); // results depended on the old list
    for (const secret of secrets) {
      if (typeof secret !== 'string' || secret.length === 0) continue;
      this.#secrets.add(secret);
      // A secret inside a URL or a form body appears percent-encoded.
      const encoded = encodeURIComponent(secret);
      if (encoded !== secret) this.#secrets.add(encoded);
    }
    this.#list = [...this.#secrets].sort((a, b) => b.length - a.length);
  }

  get size(): number {
    return this.#secrets.size;
  }

  apply(value: string): string {
    // Records repeat the same short strings (peer, endpoint, verb, table names): remember those.
    if (value.length > MEMO_MAX_LENGTH) return redact(value, this.#list);
    let out = this.#memo.get(value);
    if (out === undefined) {
      out = redact(value, this.#list);
      if (this.#memo.size >= MEMO_MAX_ENTRIES) this.#memo.clear();
      this.#memo.set(value, out);
    }
    return out;
  }

  readonly #memo = new Map<string, string>();
}
