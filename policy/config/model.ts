/**
 * The typed configuration that the rest of Bailiff reads. Produced only by load.ts from HCL; every
 * value here has been validated, defaults applied, and references resolved.
 */
import type { CompiledCondition } from '../rules/compile.js';
import type { Family } from '../rules/facts.js';

export type { Family };
import type { Position } from './diagnostics.js';

export interface WireguardSettings {
  listenPort: number;
  /** IPv4 tunnel subnet (canonical CIDR text): the appliance takes host 1, peers get the rest. */
  subnet: string;
  /** IPv6 tunnel subnet (canonical CIDR text): same host numbers as in `subnet`. */
  subnet6: string;
  /** host:port that client configs dial; undefined = this host's address at `listenPort`. */
  endpoint?: string;
  mtu: number;
}

export interface GatewayConfig {
  stateDir: string; // absolute
  dashboardListen: string;
  mode: 'enforce' | 'shadow';
  /** host:port for Slack interactivity callbacks (human approvers in HTTP mode). */
  slackListen: string;
  /** Audit records older than this are pruned (0: kept forever). */
  auditRetentionMs: number;
  /** How much of a request body the rules may see (http.body); more is truncated (unknown). */
  bodyBufferBytes: number;
  /** Host of `public_url`: what client files dial when wireguard.endpoint is not set. */
  publicHost?: string;
  wireguard: WireguardSettings;
}

export interface DefaultsConfig {
  noMatch: 'allow' | 'deny';
  unknownHost: 'deny' | 'passthrough';
  llmFailMode: 'closed';
  humanTimeoutMs: number;
  /** Default cache_ttl of llm_approvers (0: no cache). */
  llmCacheTtlMs: number;
}

export interface PeerDecl {
  name: string;
  publicKey: Uint8Array;
  publicKeyText: string;
  /** Explicit IPv4 tunnel address (canonical text), or undefined to allocate one (kept in the state dir). */
  address?: string;
  profile: string;
  pos: Position;
}

export interface ProfileEntry {
  credential: string; // "<type>.<name>"
  /** Disambiguators set in the profile (`{ credential = X, user = "..." }`), overriding the credential's. */
  user?: string;
  database?: string;
  placeholder?: string;
}

export interface ProfileDecl {
  name: string;
  credentials: ProfileEntry[];
  pos: Position;
}

export interface Config {
  /** The file or folder it was loaded from, and the .hcl files read, in merge order. */
  source: string;
  files: string[];
  /** sha256 over the files' names and texts as loaded: which policy decided, in audit records. */
  digest: string;
  gateway: GatewayConfig;
  defaults: DefaultsConfig;
  peers: PeerDecl[];
  profiles: ProfileDecl[];
  endpoints: EndpointDecl[];
  credentials: CredentialDecl[];
  approvers: ApproverDecl[];
  rules: RuleDecl[];
}

export type SecretRef =
  | { from: 'env'; name: string; pos: Position }
  | { from: 'file'; path: string; pos: Position };


interface EndpointBase {
  name: string;
  /** `<type>.<name>`, the form references and the `endpoint` fact use. */
  ref: string;
  family: Family;
  description?: string;
  tunnel?: string;
  pos: Position;
}

export type EndpointDecl =
  | (EndpointBase & { type: 'postgres'; host: string; upstream: string; sslmode: 'disable' | 'prefer' | 'require' | 'verify-full'; caCert?: string })
  | (EndpointBase & { type: 'https'; hosts: string[]; caCert?: string })
  | (EndpointBase & { type: 'kubernetes'; server: string; hosts: string[]; caCert?: string })
  | (EndpointBase & { type: 'ssh'; hosts: string[]; hostKey?: string })
  | (EndpointBase & { type: 'tcp'; host: string; upstream: string });

export type EndpointType = EndpointDecl['type'];

interface CredentialBase {
  name: string;
  ref: string;
  /** Endpoint refs this credential binds itself to. */
  endpoints: string[];
  placeholder?: string;
  description?: string;
  pos: Position;
}

export type CredentialDecl =
  | (CredentialBase & { type: 'postgres_credential'; user: string; database?: string; password?: SecretRef })
  | (CredentialBase & { type: 'bearer_token'; token: SecretRef })
  | (CredentialBase & { type: 'header_token'; header: string; prefix: string; token: SecretRef })
  | (CredentialBase & { type: 'basic_auth'; username: string; password: SecretRef })
  | (CredentialBase & { type: 'mtls_credential'; cert: SecretRef; key: SecretRef; ca?: SecretRef })
  | (CredentialBase & { type: 'ssh_key'; user?: string; privateKey?: SecretRef; passphrase?: SecretRef; password?: SecretRef })
  | (CredentialBase & { type: 'passthrough' });

export type CredentialType = CredentialDecl['type'];

export interface LlmApproverDecl {
  type: 'llm_approver';
  name: string;
  ref: string;
  provider: 'ollama' | 'openai' | 'anthropic';
  url: string;
  model: string;
  policy: string;
  timeoutMs: number;
  cacheTtlMs: number;
  maxConcurrency: number;
  apiKey?: SecretRef;
  /** A bearer/header credential used to authenticate to the model provider (Claw Patrol style). */
  credential?: string;
  pos: Position;
}

export interface HumanApproverDecl {
  type: 'human_approver';
  name: string;
  ref: string;
  channel?: string;
  botToken?: SecretRef;
  appToken?: SecretRef;
  signingSecret?: SecretRef;
  approvers: string[];
  requireApprovers: number;
  timeoutMs: number;
  message?: string;
  pos: Position;
}

export type ApproverDecl = LlmApproverDecl | HumanApproverDecl;

export interface RuleDecl {
  name: string;
  endpoints: string[];
  family: Family;
  priority: number;
  /** Global declaration order across files (files in name order). */
  order: number;
  credential?: string;
  /** The compiled condition (policy/rules), absent = matches every request. */
  condition?: CompiledCondition;
  conditionText?: string;
  verdict?: 'allow' | 'deny';
  approve?: string[];
  reason?: string;
  disabled: boolean;
  pos: Position;
}
