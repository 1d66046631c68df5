/**
 * Statements that make later analysis untrustworthy or run SQL given as text.
 * Settings that change how the server lexes (standard_conforming_strings, client_encoding)
 * mark their statement unknown; SQL passed to dblink/query_to_xml is a hidden statement.
 */
import { markUnknown, type WalkCtx } from './sql-context.js';
import { emitUnknown, walkNestedSql } from './sql-hidden.js';
import { constString, isObject, list, str, unwrap } from './sql-names.js';
import type { PgNode } from './sql-parser.js';

/**
 * Settings that change how the server lexes later statements. With standard_conforming_strings
 * off, `'a\' ...` ends somewhere else than our parser thinks, so everything after could hide a
 * statement; a non-UTF8 client_encoding does the same to multibyte text. Statements that
 * change them get unknown facts: a rule cannot trust this analysis after them.
 */
const LEXING_SETTINGS: Record<string, (value: string | undefined) => boolean> = {
  standard_conforming_strings: (v) => v !== undefined && ['on', 'true', 'yes', '1'].includes(v.toLowerCase()),
  client_encoding: (v) => v !== undefined && ['utf8', 'unicode'].includes(v.toLowerCase().replace(/[-_]/g, '')),
};

function settingValue(arg: unknown): string | undefined {
  const s = constString(arg);
  if (s !== undefined) return s;
  const u = unwrap(arg);
  if (u && u[0] === 'A_Const') {
    const i = u[1]['ival'];
    if (isObject(i)) return String(i['ival'] ?? 0);
    const bv = u[1]['boolval'];
    if (isObject(bv)) return bv['boolval'] === true ? 'true' : 'false';
  }
  return undefined;
}

/**
 * Settings that change which role later statements run as. sql.user keeps naming the role the
 * credential logs in as, so after `SET ROLE admin` a rule about sql.user, or about what that
 * role may touch, would be deciding for the wrong role: such a statement gets unknown facts.
 * `NONE` (and RESET, DEFAULT) go back to the login role.
 */
const IDENTITY_SETTINGS = new Set(['role', 'session_authorization']);

function changesIdentity(name: string, value: string | undefined): boolean {
  return IDENTITY_SETTINGS.has(name) && value?.toLowerCase() !== 'none';
}

export function checkVariableSet(b: PgNode, ctx: WalkCtx): void {
  const kind = b['kind'];
  if (kind !== 'VAR_SET_VALUE' && kind !== 'VAR_SET_CURRENT') return; // RESET / DEFAULT restore a safe value
  const name = str(b['name'])?.toLowerCase() ?? '';
  const safe = LEXING_SETTINGS[name];
  const args = list(b['args']);
  if (changesIdentity(name, args.length === 1 ? settingValue(args[0]) : undefined)) {
    markUnknown(ctx, `SET ${name} changes the role later statements run as`);
  }
  if (safe && (kind === 'VAR_SET_CURRENT' || args.length !== 1 || !safe(settingValue(args[0])))) {
    markUnknown(ctx, `SET ${name} changes how later statements are parsed`);
  }
}

/**
 * Functions that run SQL given as text: the text is a statement of its own (a literal is
 * analysed; a computed one is unknown). dblink runs it on another server, possibly this one.
 */
const SQL_TEXT_FUNCTIONS = new Set([
  'query_to_xml', 'query_to_xmlschema', 'query_to_xml_and_xmlschema',
  'dblink', 'dblink_exec', 'dblink_send_query', 'dblink_open',
]);

export function checkSqlTextFunction(name: string, args: unknown[], ctx: WalkCtx): void {
  if (!SQL_TEXT_FUNCTIONS.has(name) || args.length === 0) return;
  let sqlArg: unknown;
  if (name.startsWith('query_to_xml')) sqlArg = args[0];
  else {
    // dblink*(..., sql [, fail_on_error boolean]): the SQL is the last non-boolean argument.
    const last = unwrap(args[args.length - 1]);
    const trailingBool = last?.[0] === 'A_Const' && isObject(last[1]['boolval']);
    sqlArg = args[args.length - (trailingBool ? 2 : 1)];
    if (name !== 'dblink_exec' && name !== 'dblink' && args.length === 1) sqlArg = undefined; // dblink_open(cursor) alone
  }
  if (sqlArg === undefined) return;
  const text = constString(sqlArg);
  if (text === undefined) return emitUnknown(ctx, 'function-sql', ctx.stmtText, `${name} runs SQL computed at run time`);
  walkNestedSql(text, ctx, 'function-sql');
}

/**
 * pg_settings is a view whose update rule calls set_config: `UPDATE pg_settings SET setting =
 * 'off' WHERE name = 'standard_conforming_strings'` is a SET in disguise, and which setting it
 * changes depends on rows, not on text. Any write to a relation of that name, in any schema
 * (search_path may put another one first), makes the statement unknown.
 */
export function checkSettingsWrite(b: PgNode, ctx: WalkCtx): void {
  const rv = b['relation'];
  if (isObject(rv) && typeof rv['relname'] === 'string' && rv['relname'].toLowerCase() === 'pg_settings') {
    markUnknown(ctx, 'writing pg_settings changes settings, possibly how later statements are parsed');
  }
}

export function checkSetConfig(args: unknown[], ctx: WalkCtx): void {
  const name = constString(args[0])?.toLowerCase();
  if (name === undefined) return markUnknown(ctx, 'set_config with a computed setting name');
  const safe = LEXING_SETTINGS[name];
  if (safe && !safe(constString(args[1]))) markUnknown(ctx, `set_config(${name}) changes how later statements are parsed`);
  if (changesIdentity(name, constString(args[1]))) markUnknown(ctx, `set_config(${name}) changes the role later statements run as`);
}
