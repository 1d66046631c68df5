/**
 * Identifier helpers over libpg_query JSON. The parser has already folded unquoted names to
 * lowercase and kept quoted ones exact, so names are used as given (quoted keeps case).
 */
import type { PgNode } from './sql-parser.js';

export function isObject(v: unknown): v is PgNode {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `{ TypeName: body }` -> ['TypeName', body]; node types start upper-case, struct fields never do. */
export function unwrap(v: unknown): [string, PgNode] | undefined {
  if (!isObject(v)) return undefined;
  const keys = Object.keys(v);
  if (keys.length !== 1) return undefined;
  const k = keys[0]!;
  const c = k.charCodeAt(0);
  if (c < 65 || c > 90) return undefined;
  const body = v[k];
  return isObject(body) ? [k, body] : undefined;
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** A `{String:{sval}}` node's text. */
export function sval(v: unknown): string | undefined {
  const u = unwrap(v);
  return u && u[0] === 'String' ? (str(u[1]['sval']) ?? '') : undefined;
}

/** A list of String nodes (funcname, DROP object names) -> its parts; undefined if any part is not a String. */
export function nameParts(v: unknown): string[] | undefined {
  const items = list(v);
  const out: string[] = [];
  for (const it of items) {
    const s = sval(it);
    if (s === undefined) return undefined;
    out.push(s);
  }
  return out;
}

/** `a.b.c` -> ['a.b.c', 'b.c', 'c']: every suffix, so rules can name `s.t` or `t`. */
export function qualifiedForms(parts: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < parts.length; i++) out.push(parts.slice(i).join('.'));
  return out;
}

/** A RangeVar (bare or unwrapped) -> its name parts, catalog first. */
export function rangeVarParts(rv: PgNode): string[] | undefined {
  const rel = str(rv['relname']);
  if (rel === undefined) return undefined;
  const parts: string[] = [];
  const cat = str(rv['catalogname']);
  const sch = str(rv['schemaname']);
  if (cat !== undefined) parts.push(cat);
  if (sch !== undefined) parts.push(sch);
  parts.push(rel);
  return parts;
}

export function aliasOf(node: PgNode): { name?: string; columns: string[] } {
  const a = node['alias'];
  if (!isObject(a)) return { columns: [] };
  const name = str(a['aliasname']);
  const columns = (nameParts(a['colnames']) ?? []);
  return name === undefined ? { columns } : { name, columns };
}

/** A constant string argument (`A_Const` with sval), else undefined. */
export function constString(v: unknown): string | undefined {
  const u = unwrap(v);
  if (!u || u[0] !== 'A_Const') return undefined;
  const s = u[1]['sval'];
  return isObject(s) ? (str(s['sval']) ?? '') : undefined;
}
