/**
 * Policy regression fixtures, as `bailiff test` and the golden tests replay them:
 *
 *   { "name": "...",
 *     "request": { "peer": "oncall" | { name, address, profile }, "endpoint": "postgres.prod-db",
 *                  "credential": "pg-rw" | "postgres_credential.pg-rw", "now": "2026-01-01T10:00:00Z",
 *                  "sql" | "http" | "k8s" | "ssh": { ...facts or raw input },
 *                  "unknown": ["sql.tables"], "truncated": false },
 *     "expect":  { "verdict": "allow" | "deny" | "approve", "rule": "name" | null, "code"?: "...",
 *                  "approve"?: ["llm_approver.x"] } }
 *
 * Decoding is strict: an unknown key is a fixture error, never ignored. Raw input goes through
 * the same fact extraction as live traffic (an `extract` hook per family, supplied by the caller);
 * where no extractor exists yet, the facts it would produce are marked unknown, which fails closed.
 */
import { combineDecisions, type CompiledPolicy, type PeerIdentity, type PolicyDecision } from './engine.js';
import type { Family } from './config/model.js';
import { familySchema } from './rules/index.js';

export interface Fixture {
  name: string;
  request: {
    peer: PeerIdentity;
    endpoint: string;
    credential?: string;
    now: Date;
    facts: Record<string, unknown>;
    unknown: string[];
    truncated: boolean;
    /** Further requests the raw input makes (more statements); decided after the first. */
    more: { facts: Record<string, unknown>; unknown: string[] }[];
  };
  expect: { verdict: 'allow' | 'deny' | 'approve'; rule: string | null; code?: string; approve?: string[] };
}

export class FixtureError extends Error {
  readonly code = 'FIXTURE_INVALID';
}

/**
 * Facts derived from raw input (a statement, a request line...), or the paths that stay unknown.
 * One entry per request the input makes: a query string with three statements makes three,
 * and the fixture's decision is theirs combined (any deny denies, as on the wire).
 */
export type FactExtractor = (raw: Record<string, unknown>) => { facts: Record<string, unknown>; unknown: string[]; note?: string }[] | undefined;

const FAMILY_KEYS: readonly string[] = ['sql', 'http', 'k8s', 'ssh'];
const REQUEST_KEYS = new Set(['peer', 'endpoint', 'credential', 'now', 'unknown', 'truncated', ...FAMILY_KEYS]);
const EXPECT_KEYS = new Set(['verdict', 'rule', 'code', 'approve', 'reason', 'effective']);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function strictKeys(obj: Record<string, unknown>, allowed: Set<string>, where: string): void {
  for (const key of Object.keys(obj)) if (!allowed.has(key)) throw new FixtureError(`${where}: unknown key "${key}"`);
}

export function parseFixture(
  value: unknown,
  where: string,
  policy: CompiledPolicy,
  extractors: Partial<Record<Family, FactExtractor>> = {},
): { fixture: Fixture; notes: string[] } {
  if (!isObject(value)) throw new FixtureError(`${where}: a fixture must be an object with "request" and "expect"`);
  strictKeys(value, new Set(['name', 'request', 'expect']), where);
  const { request, expect } = value;
  if (!isObject(request)) throw new FixtureError(`${where}: "request" must be an object`);
  if (!isObject(expect)) throw new FixtureError(`${where}: "expect" must be an object`);
  strictKeys(request, REQUEST_KEYS, `${where}: request`);
  strictKeys(expect, EXPECT_KEYS, `${where}: expect`);
  const notes: string[] = [];

  const peer = resolvePeer(request.peer, where, policy);
  if (typeof request.endpoint !== 'string') throw new FixtureError(`${where}: request.endpoint must be "<type>.<name>"`);
  const endpoint = policy.endpoint(request.endpoint);
  if (!endpoint) throw new FixtureError(`${where}: endpoint ${request.endpoint} is not declared in the policy`);

  let credential: string | undefined;
  if (request.credential !== undefined) {
    if (typeof request.credential !== 'string') throw new FixtureError(`${where}: request.credential must be a string`);
    credential = request.credential.includes('.')
      ? request.credential
      : policy.config.credentials.find((c) => c.name === request.credential && c.endpoints.includes(endpoint.ref))?.ref;
    if (!credential || !policy.credential(credential)) throw new FixtureError(`${where}: credential ${request.credential} is not declared for ${endpoint.ref}`);
  }

  let now = new Date('2026-01-01T12:00:00Z');
  if (request.now !== undefined) {
    now = new Date(String(request.now));
    if (Number.isNaN(now.getTime())) throw new FixtureError(`${where}: request.now must be an ISO time`);
  }

  const facts: Record<string, unknown> = {};
  const unknown: string[] = [];
  const more: { facts: Record<string, unknown>; unknown: string[] }[] = [];
  for (const key of FAMILY_KEYS) {
    if (request[key] === undefined) continue;
    if (!isObject(request[key])) throw new FixtureError(`${where}: request.${key} must be an object`);
    const family = key as Family;
    // The request's family must be one the endpoint's rules read (k8s endpoints also read http.*).
    const compatible = familySchema(endpoint.family).roots.has(family);
    if (!compatible) throw new FixtureError(`${where}: request.${key} does not fit ${endpoint.ref} (a ${endpoint.family} endpoint)`);
    const extractor = extractors[family];
    const given = request[key] as Record<string, unknown>;
    const extracted = extractor?.(given);
    if (extracted && extracted.length > 0) {
      // Facts the fixture states win over extracted ones (and are then known).
      const merge = (e: (typeof extracted)[number]) => ({
        facts: { ...(e.facts[key] as object ?? {}), ...given },
        unknown: e.unknown.filter((path) => !(path.split('.')[1]! in given)),
      });
      const [first, ...rest] = extracted.map(merge);
      facts[key] = first!.facts;
      unknown.push(...first!.unknown);
      for (const r of rest) more.push({ facts: { [key]: r.facts }, unknown: r.unknown });
      for (const e of extracted) if (e.note) notes.push(`${where}: ${e.note}`);
    } else {
      facts[key] = given;
    }
  }
  if (request.unknown !== undefined) {
    if (!Array.isArray(request.unknown) || request.unknown.some((u) => typeof u !== 'string')) throw new FixtureError(`${where}: request.unknown must be a list of fact paths`);
    unknown.push(...(request.unknown as string[]));
  }
  const truncated = request.truncated === true;

  if (!['allow', 'deny', 'approve'].includes(expect.verdict as string)) throw new FixtureError(`${where}: expect.verdict must be allow, deny or approve`);
  if (expect.rule !== null && typeof expect.rule !== 'string') throw new FixtureError(`${where}: expect.rule must be a rule name or null`);
  if (expect.rule !== null && !policy.config.rules.some((r) => r.name === expect.rule)) {
    throw new FixtureError(`${where}: expect.rule "${expect.rule}" is not a rule of the policy`);
  }
  const name = typeof value.name === 'string' ? value.name : where;
  return {
    fixture: {
      name,
      request: { peer, endpoint: endpoint.ref, ...(credential ? { credential } : {}), now, facts, unknown, truncated, more },
      expect: {
        verdict: expect.verdict as Fixture['expect']['verdict'],
        rule: expect.rule as string | null,
        ...(typeof expect.code === 'string' ? { code: expect.code } : {}),
        ...(Array.isArray(expect.approve) ? { approve: expect.approve as string[] } : {}),
      },
    },
    notes,
  };
}

function resolvePeer(value: unknown, where: string, policy: CompiledPolicy): PeerIdentity {
  if (typeof value === 'string') {
    const peer = policy.peer(value);
    if (!peer) throw new FixtureError(`${where}: peer "${value}" is not declared (give { "name", "address", "profile" } for a hypothetical peer)`);
    return { name: peer.name, address: peer.address ?? '', profile: peer.profile };
  }
  if (isObject(value) && typeof value.name === 'string' && typeof value.profile === 'string') {
    return { name: value.name, address: typeof value.address === 'string' ? value.address : '', profile: value.profile };
  }
  throw new FixtureError(`${where}: request.peer must be a peer name or { "name", "address", "profile" }`);
}

export function runFixture(policy: CompiledPolicy, fixture: Fixture): { decision: PolicyDecision; mismatches: string[] } {
  const r = fixture.request;
  const decideOne = (facts: Record<string, unknown>, unknown: string[]) => policy.decide({
    peer: r.peer,
    endpoint: r.endpoint,
    ...(r.credential ? { credential: r.credential } : {}),
    facts,
    unknown,
    ...(r.truncated ? { unknownCause: 'truncated' as const } : unknown.length ? { unknownCause: 'unparseable' as const } : {}),
    now: r.now,
  });
  // Several statements: decided together, as on the wire (combineDecisions says which speaks).
  const decision = combineDecisions([decideOne(r.facts, r.unknown), ...r.more.map((m) => decideOne(m.facts, m.unknown))]);
  const mismatches: string[] = [];
  const e = fixture.expect;
  if (decision.verdict !== e.verdict) mismatches.push(`verdict: expected ${e.verdict}, got ${decision.verdict}`);
  if (decision.rule !== e.rule) mismatches.push(`rule:    expected ${show(e.rule)}, got ${show(decision.rule)}`);
  if (e.code && decision.code !== e.code) mismatches.push(`code:    expected ${e.code}, got ${decision.code}`);
  if (e.approve && JSON.stringify(e.approve) !== JSON.stringify(decision.approve ?? [])) {
    mismatches.push(`approve: expected [${e.approve.join(', ')}], got [${(decision.approve ?? []).join(', ')}]`);
  }
  if (mismatches.length) mismatches.push(`reason:  ${decision.reason}${decision.internalDetail ? ` (${decision.internalDetail})` : ''}`);
  return { decision, mismatches };
}

function show(rule: string | null): string {
  return rule === null ? 'no rule' : `"${rule}"`;
}
