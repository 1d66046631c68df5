/**
 * The typed configuration that the rest of Bailiff reads. Produced only by load.ts from HCL; every
 * value here has been validated, defaults applied, and references resolved.
 */
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
  wireguard: WireguardSettings;
}

export interface DefaultsConfig {
  noMatch: 'allow' | 'deny';
  unknownHost: 'deny' | 'passthrough';
  llmFailMode: 'closed';
  humanTimeoutMs: number;
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

export interface ProfileDecl {
  name: string;
  credentials: string[]; // "<type>.<name>"
  pos: Position;
}

export interface Config {
  /** The file or folder it was loaded from, and the .hcl files read, in merge order. */
  source: string;
  files: string[];
  gateway: GatewayConfig;
  defaults: DefaultsConfig;
  peers: PeerDecl[];
  profiles: ProfileDecl[];
}
