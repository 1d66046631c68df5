/**
 * `bailiff audit`: reads the audit log of a running (or stopped) appliance from another process.
 *
 *   bailiff audit [--follow] [--json] [--since T] [--peer P] [--verdict V] [--kind K]
 *   bailiff audit verify [--json] [--expect SEQ[:HASH]]
 *
 * The log is opened read-only: this command can never append to, prune or create the log the
 * appliance writes. With --follow it polls for records the appliance appends (policy/audit follow()).
 * Exit codes: 0 success, 1 verification failed or the log cannot be read, 2 usage error.
 */
import { parseArgs } from 'node:util';
import {
  AUDIT_KINDS, AUDIT_VERDICTS, AuditError, AuditLog, auditDir,
  type AuditEntry, type AuditKind, type AuditQuery, type AuditVerdict, type VerifyResult,
} from '../policy/audit/index.js';

export interface AuditCommandIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** The gateway's state_dir, resolved from the config by the dispatcher; the log is in its audit/. */
  stateDir: string;
  /** Stops --follow; without it --follow runs until the process ends. */
  signal?: AbortSignal;
  /** Reference time for --since durations (tests); defaults to the wall clock. */
  now?: () => Date;
}

export const AUDIT_USAGE = `usage: bailiff audit [--follow] [--json] [--since T] [--peer P] [--verdict V] [--kind K]
       bailiff audit verify [--json] [--expect SEQ[:HASH]]

  --follow, -f   keep printing records as the appliance appends them
  --json         one JSON object per line (the stored record, hashes included)
  --since T      ISO time (2026-01-02T15:04:05Z) or a duration ago: 30s, 15m, 2h, 7d, 2w
  --peer P       only records of peer P
  --verdict V    allow | deny
  --kind K       ${AUDIT_KINDS.join(' | ')}
  verify         check the hash chain; --expect also requires a record you saved earlier
`;

class UsageError extends Error {}

const DURATION_UNITS_MS: Record<string, number> = {
  s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000,
};

/** ISO time, or `<n><s|m|h|d|w>` meaning that long before `now`. */
export function parseSince(text: string, now: Date): Date {
  const duration = /^(\d+)([smhdw])$/.exec(text);
  if (duration) return new Date(now.getTime() - Number(duration[1]) * DURATION_UNITS_MS[duration[2]!]!);
  // Require a date-looking string: Date.parse accepts odd inputs ("1", "March") we do not want.
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const ms = Date.parse(text);
    if (!Number.isNaN(ms)) return new Date(ms);
  }
  throw new UsageError(`--since: ${JSON.stringify(text)} is neither an ISO time nor a duration like 15m, 2h, 7d`);
}

function parseExpect(text: string): { seq: number; hash?: string } {
  const match = /^(\d+)(?::([0-9a-f]{64}))?$/.exec(text);
  if (!match) throw new UsageError('--expect: give SEQ or SEQ:HASH (64 hex digits)');
  const seq = Number(match[1]);
  return match[2] === undefined ? { seq } : { seq, hash: match[2] };
}

// Column widths of the human format. Kind is wide enough for "connection", time for ISO with ms.
const COLUMNS = { seq: 7, time: 24, kind: 10, peer: 16, endpoint: 24, verdict: 7, rule: 20 } as const;

/**
 * Record fields can hold agent-controlled text (SQL, paths). Escape control characters and bidi
 * overrides so a record can neither break the one-line-per-record layout nor drive the terminal.
 */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (ch) => {
    if (ch === '\n') return '\\n';
    if (ch === '\r') return '\\r';
    if (ch === '\t') return '\\t';
    return `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

function cell(value: string | undefined, width: number): string {
  const text = printable(value ?? '-');
  return text.length > width ? `${text.slice(0, width - 1)}…` : text.padEnd(width);
}

function describeCompletion(entry: AuditEntry): string {
  const o = entry.outcome ?? {};
  const parts: string[] = [];
  if (o.commandTag !== undefined) parts.push(o.commandTag);
  if (o.status !== undefined) parts.push(`status ${o.status}`);
  if (o.rows !== undefined) parts.push(`${o.rows} rows`);
  if (o.bytesIn !== undefined || o.bytesOut !== undefined) parts.push(`${o.bytesIn ?? 0} B in / ${o.bytesOut ?? 0} B out`);
  if (o.durationMs !== undefined) parts.push(`${o.durationMs} ms`);
  if (o.closeReason !== undefined) parts.push(`closed: ${o.closeReason}`);
  if (o.error !== undefined) parts.push(`error: ${o.error}`);
  return `completes #${entry.completes}${parts.length > 0 ? `: ${parts.join(', ')}` : ''}`;
}

function describe(entry: AuditEntry): string {
  if (entry.completes !== undefined) return describeCompletion(entry);
  const text = entry.reason ?? entry.message ?? '';
  const code = entry.reasonCode ? ` [${entry.reasonCode}]` : '';
  const shadow = entry.mode === 'shadow' ? ' (shadow)' : '';
  return `${text}${code}${shadow}`;
}

export function formatHeader(): string {
  return formatRow('SEQ', 'TIME', 'KIND', 'PEER', 'ENDPOINT', 'VERDICT', 'RULE', 'REASON');
}

function formatRow(...fields: [string, string, string, string, string, string, string, string]): string {
  const [seq, time, kind, peer, endpoint, verdict, rule, reason] = fields;
  return [
    seq.padStart(COLUMNS.seq), cell(time, COLUMNS.time), cell(kind, COLUMNS.kind), cell(peer, COLUMNS.peer),
    cell(endpoint, COLUMNS.endpoint), cell(verdict, COLUMNS.verdict), cell(rule, COLUMNS.rule), printable(reason),
  ].join('  ').trimEnd();
}

/** One aligned line: seq, time, kind, peer, endpoint, verdict, rule, reason. */
export function formatEntry(entry: AuditEntry): string {
  return formatRow(
    String(entry.seq), entry.time, entry.kind, entry.peer ?? '-', entry.endpoint ?? '-',
    entry.verdict ?? '-', entry.rule ?? '-', describe(entry),
  );
}

function formatVerify(result: VerifyResult): string {
  if (result.ok) {
    return `audit log OK: ${result.count} records, chain verified\nhead: seq ${result.lastSeq} hash ${result.lastHash}\n`;
  }
  const lines = result.problems.map((p) => `  seq ${p.seq}: ${p.code}: ${printable(p.message)}`);
  return `audit log FAILED: ${result.problems.length} problem(s) in ${result.count} records\n${lines.join('\n')}\n`;
}

async function verifySubcommand(args: string[], io: AuditCommandIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { json: { type: 'boolean' }, expect: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const expect = values.expect === undefined ? undefined : parseExpect(values.expect);
  const log = await AuditLog.open({ dir: auditDir(io.stateDir), readOnly: true });
  try {
    const result = await log.verify(expect ? { expect } : {});
    io.stdout(values.json ? `${JSON.stringify(result)}\n` : formatVerify(result));
    return result.ok ? 0 : 1;
  } finally {
    await log.close();
  }
}

async function listSubcommand(args: string[], io: AuditCommandIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      follow: { type: 'boolean', short: 'f' },
      json: { type: 'boolean' },
      since: { type: 'string' },
      peer: { type: 'string' },
      verdict: { type: 'string' },
      kind: { type: 'string' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const query: AuditQuery = {};
  if (values.since !== undefined) query.since = parseSince(values.since, io.now?.() ?? new Date());
  if (values.peer !== undefined) query.peer = values.peer;
  if (values.verdict !== undefined) {
    if (!(AUDIT_VERDICTS as readonly string[]).includes(values.verdict)) {
      throw new UsageError(`--verdict must be one of ${AUDIT_VERDICTS.join(', ')}`);
    }
    query.verdict = values.verdict as AuditVerdict;
  }
  if (values.kind !== undefined) {
    if (!(AUDIT_KINDS as readonly string[]).includes(values.kind)) {
      throw new UsageError(`--kind must be one of ${AUDIT_KINDS.join(', ')}`);
    }
    query.kind = values.kind as AuditKind;
  }
  let unreadable = 0;
  query.onBadRecord = () => { unreadable += 1; };

  const log = await AuditLog.open({ dir: auditDir(io.stateDir), readOnly: true });
  try {
    if (!values.json) io.stdout(`${formatHeader()}\n`);
    const print = (entry: AuditEntry): void => io.stdout(`${values.json ? JSON.stringify(entry) : formatEntry(entry)}\n`);
    if (values.follow) {
      for await (const entry of log.follow(query, io.signal ? { signal: io.signal } : {})) print(entry);
    } else {
      for await (const entry of log.query(query)) print(entry);
    }
  } finally {
    await log.close();
  }
  if (unreadable > 0) {
    io.stderr(`bailiff audit: ${unreadable} unreadable record(s) skipped; run "bailiff audit verify"\n`);
    return 1;
  }
  return 0;
}

export async function auditCommand(argv: string[], io: AuditCommandIo): Promise<number> {
  try {
    if (argv.includes('--help') || argv.includes('-h')) {
      io.stdout(AUDIT_USAGE);
      return 0;
    }
    if (argv[0] === 'verify') return await verifySubcommand(argv.slice(1), io);
    return await listSubcommand(argv, io);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (error instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_'))) {
      io.stderr(`bailiff audit: ${(error as Error).message}\n\n${AUDIT_USAGE}`);
      return 2;
    }
    if (error instanceof AuditError) {
      io.stderr(`bailiff audit: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}
