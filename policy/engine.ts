/**
 * The compiled policy: built once from a loaded Config, immutable, swapped whole on reload.
 * It answers the two questions the data path asks:
 *   - access(peer, endpoint): may this peer reach this endpoint at all, and with which credentials;
 *   - decide(request): the decision for one request (a connection, a statement, an HTTP call...).
 */
import { decide, prepareRules, type Decision, type RuleForDecision } from './rules/decide.js';
import type { Config, CredentialDecl, EndpointDecl, Family, PeerDecl, ProfileEntry } from './config/model.js';

export const AccessCode = Object.freeze({
  UNKNOWN_PEER: 'ACCESS_UNKNOWN_PEER',
  UNKNOWN_ENDPOINT: 'ACCESS_UNKNOWN_ENDPOINT',
  NOT_IN_PROFILE: 'ACCESS_NOT_IN_PROFILE',
  NO_CREDENTIAL: 'ACCESS_NO_CREDENTIAL',
});

export interface PeerIdentity {
  name: string;
  address: string;
  profile: string;
}

export interface CredentialChoice {
  credential: CredentialDecl;
  entry: ProfileEntry;
}

export type AccessResult =
  | { ok: true; endpoint: EndpointDecl; credentials: CredentialChoice[] }
  | { ok: false; code: string; reason: string };

export interface PolicyRequest {
  peer: PeerIdentity;
  endpoint: string; // "<type>.<name>"
  /** The credential the request was dispatched to, as "<type>.<name>"; "" or absent: none. */
  credential?: string;
  /** Family facts, e.g. { sql: { verb, tables, ... } }; common facts are added here. */
  facts?: Record<string, unknown>;
  unknown?: Iterable<string>;
  unknownCause?: 'truncated' | 'unparseable';
  now: Date;
}

export interface PolicyDecision extends Decision {
  endpoint: string;
  family: Family | null;
}

export class CompiledPolicy {
  readonly config: Config;
  readonly #rulesByEndpoint = new Map<string, readonly RuleForDecision[]>();
  readonly #endpoints: Map<string, EndpointDecl>;
  readonly #credentials: Map<string, CredentialDecl>;
  readonly #peers: Map<string, PeerDecl>;

  constructor(config: Config) {
    this.config = config;
    this.#endpoints = new Map(config.endpoints.map((e) => [e.ref, e]));
    this.#credentials = new Map(config.credentials.map((c) => [c.ref, c]));
    this.#peers = new Map(config.peers.map((p) => [p.name, p]));
    for (const endpoint of config.endpoints) {
      const rules = config.rules
        .filter((r) => r.endpoints.includes(endpoint.ref))
        .map((r): RuleForDecision => ({
          name: r.name,
          priority: r.priority,
          order: r.order,
          credential: r.credential,
          condition: r.condition,
          verdict: r.verdict,
          approve: r.approve,
          reason: r.reason,
          disabled: r.disabled,
        }));
      this.#rulesByEndpoint.set(endpoint.ref, prepareRules(rules));
    }
    Object.freeze(this);
  }

  endpoint(ref: string): EndpointDecl | undefined {
    return this.#endpoints.get(ref);
  }

  credential(ref: string): CredentialDecl | undefined {
    return this.#credentials.get(ref);
  }

  peer(name: string): PeerDecl | undefined {
    return this.#peers.get(name);
  }

  /** A peer reaches an endpoint only through a credential of its profile bound to that endpoint. */
  access(peer: PeerIdentity, endpointRef: string): AccessResult {
    const endpoint = this.#endpoints.get(endpointRef);
    if (!endpoint) return { ok: false, code: AccessCode.UNKNOWN_ENDPOINT, reason: 'no such endpoint' };
    const profile = this.config.profiles.find((p) => p.name === peer.profile);
    const credentials: CredentialChoice[] = [];
    for (const entry of profile?.credentials ?? []) {
      const credential = this.#credentials.get(entry.credential);
      if (credential?.endpoints.includes(endpointRef)) credentials.push({ credential, entry });
    }
    if (credentials.length === 0) {
      return { ok: false, code: AccessCode.NOT_IN_PROFILE, reason: `profile "${peer.profile}" does not reach ${endpointRef}` };
    }
    return { ok: true, endpoint, credentials };
  }

  rulesFor(endpointRef: string): readonly RuleForDecision[] {
    return this.#rulesByEndpoint.get(endpointRef) ?? [];
  }

  decide(request: PolicyRequest): PolicyDecision {
    const endpoint = this.#endpoints.get(request.endpoint);
    const mode = this.config.gateway.mode;
    if (!endpoint) {
      return denyWithoutRules(request.endpoint, null, AccessCode.UNKNOWN_ENDPOINT, 'no such endpoint', mode);
    }
    const access = this.access(request.peer, request.endpoint);
    if (!access.ok) return denyWithoutRules(request.endpoint, endpoint.family, access.code, access.reason, mode);
    if (request.credential && !access.credentials.some((c) => c.credential.ref === request.credential)) {
      return denyWithoutRules(request.endpoint, endpoint.family, AccessCode.NO_CREDENTIAL, `credential ${request.credential} is not available to this peer here`, mode);
    }
    const facts = {
      ...(request.facts ?? {}),
      peer: { name: request.peer.name, address: request.peer.address },
      profile: request.peer.profile,
      credential: request.credential ?? '',
      endpoint: request.endpoint,
      now: request.now,
    };
    const decision = decide(
      this.rulesFor(request.endpoint),
      {
        facts,
        ...(request.unknown ? { unknown: request.unknown } : {}),
        ...(request.unknownCause ? { unknownCause: request.unknownCause } : {}),
        credential: request.credential ?? '',
      },
      { noMatch: this.config.defaults.noMatch, mode },
    );
    return { ...decision, endpoint: request.endpoint, family: endpoint.family };
  }
}

/**
 * Access failures are decided before any rule. Shadow mode does not open them: without a
 * credential of the peer's profile there is nothing the appliance could inject, and a peer must
 * never reach an endpoint outside its profile because the rules are being trialled.
 */
function denyWithoutRules(endpoint: string, family: Family | null, code: string, reason: string, _mode: 'enforce' | 'shadow'): PolicyDecision {
  return { verdict: 'deny', effective: 'deny', shadow: false, rule: null, reason, code: code as Decision['code'], endpoint, family };
}

/**
 * One message, several requests (statements, hidden ones included): the message runs only if
 * every request is allowed. Which decision speaks for it: a deny by a rule (or a rule that could
 * not be evaluated) first, then a deny because nothing matched, then an approval (asking a human
 * about a message that is denied anyway would waste their time), else the last allow.
 */
export function combineDecisions(decisions: readonly PolicyDecision[]): PolicyDecision {
  if (decisions.length === 0) throw new RangeError('combineDecisions needs at least one decision');
  const rank = (d: PolicyDecision): number => {
    if (d.verdict === 'deny') return d.rule !== null ? 0 : 1;
    if (d.verdict === 'approve') return 2;
    return 3;
  };
  let best = decisions[0]!;
  for (const d of decisions.slice(1)) {
    if (rank(d) < rank(best) || (rank(d) === 3 && rank(best) === 3)) best = d;
  }
  return best;
}
