/**
 * Virtual addresses (VIPs) for endpoint names. Agents resolve `db.internal` through the
 * appliance's DNS and get a VIP; a connection to that VIP is mapped back to the name, and the name
 * to its endpoint(s) (several endpoints may share one name on different ports).
 *
 * One ID space for both families: ID n is the n-th address of the v4 range and of the v6 range.
 * A name keeps its ID forever: across restarts (the table is a JSON file in the state dir) and
 * across config reloads, even after the name leaves the config. Reusing an ID would let an agent's
 * cached answer (or a long-lived connection) for an old name reach whatever endpoint got the ID
 * next; keeping it reserved makes a stale VIP lead nowhere instead. IDs are handed out in order
 * (next after the highest ever used), so the table is bounded by the range and fills up rather
 * than wrapping: a full range is a clear error, not a silent reuse.
 *
 * Writes are synchronous, read-merge-write, temp file + fsync + rename: a reader never sees half a
 * file, and two tables over one dir in this process (old and new config during a reload) never
 * give one ID to two names, because each allocation re-reads the file in the same tick.
 * Two processes on one state dir are not supported (the appliance owns its state dir).
 */
import { randomBytes } from 'node:crypto';
import {
  chmodSync, closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync,
} from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { cidrContains, hostOffset, nthAddress, parseCidr, type Cidr } from '../netstack/wire/ip-address.js';
import type { EndpointDecl } from '../policy/config/model.js';

export const VIP_TABLE_FILE = 'dns-vips.json';
export const DEFAULT_VIP_RANGES = { v4: '100.127.0.0/16', v6: 'fd62:6169:6c69:7669::/64' } as const;

/** RFC 1035 §2.3.4: 255 octets on the wire is at most 253 characters of presentation form. */
const MAX_NAME_TEXT = 253;
const FILE_VERSION = 1;

export type VipTableErrorCode =
  | 'VIP_RANGE_FULL' // every ID of the range has been handed out
  | 'VIP_BAD_RANGE' // a range that is not a CIDR of the right family, or too small for any VIP
  | 'VIP_RANGE_TOO_SMALL' // the configured range cannot hold the IDs already handed out
  | 'VIP_STATE_CORRUPT' // the state file does not parse or breaks the table's invariants
  | 'VIP_BAD_NAME'; // empty, too long, or with characters no DNS name has in presentation form

export class VipTableError extends Error {
  override readonly name = 'VipTableError';
  constructor(readonly code: VipTableErrorCode, detail: string) {
    super(`${code}: ${detail}`);
  }
}

export interface VipPair {
  v4: Uint8Array;
  v6: Uint8Array;
}

interface StateFile {
  version: number;
  v4: string;
  v6: string;
  /** lowercase name -> ID */
  names: Record<string, number>;
}

/** Lowercase, no trailing dot: the one form names are stored and compared in (RFC 4343). */
export function normaliseName(name: string): string {
  const lower = name.replace(/[A-Z]/g, (c) => c.toLowerCase());
  return lower.length > 1 && lower.endsWith('.') && !lower.includes('\\') ? lower.slice(0, -1) : lower;
}

function checkName(name: string): void {
  // Printable ASCII only: the DNS codec escapes everything else, so a raw control byte here is a bug.
  if (name.length === 0 || name.length > MAX_NAME_TEXT || name === '.' || !/^[\x21-\x7e]+$/.test(name)) {
    throw new VipTableError('VIP_BAD_NAME', `not a DNS name: ${JSON.stringify(name.slice(0, 64))}`);
  }
}

function parseRange(text: string, family: 4 | 6): Cidr {
  let cidr: Cidr;
  try {
    cidr = parseCidr(text);
  } catch (e) {
    throw new VipTableError('VIP_BAD_RANGE', `${JSON.stringify(text)}: ${(e as Error).message}`);
  }
  if (cidr.address.length !== (family === 4 ? 4 : 16)) throw new VipTableError('VIP_BAD_RANGE', `${text} is not an IPv${family} range`);
  return cidr;
}

/** IDs 1..capacity: ID 0 is the network address, and the v4 broadcast address is never handed out. */
function capacityOf(v4: Cidr, v6: Cidr): number {
  const v4Hosts = (1n << BigInt(32 - v4.prefixLength)) - 2n;
  const v6Hosts = (1n << BigInt(128 - v6.prefixLength)) - 1n;
  const hosts = v4Hosts < v6Hosts ? v4Hosts : v6Hosts;
  return hosts > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Math.max(0, Number(hosts));
}

export class VipTable {
  private readonly byName = new Map<string, number>();
  private readonly byId = new Map<number, string>();
  private highest = 0;
  private readonly capacity: number;

  private constructor(
    private readonly path: string,
    private readonly v4: Cidr,
    private readonly v6: Cidr,
    private readonly rangeText: { v4: string; v6: string },
  ) {
    this.capacity = capacityOf(v4, v6);
    if (this.capacity < 1) throw new VipTableError('VIP_BAD_RANGE', `${rangeText.v4} / ${rangeText.v6} hold no VIP`);
  }

  /** Open the table in `stateDir` (created empty when absent). Throws VipTableError. */
  static load(stateDir: string, ranges: { v4: string; v6: string } = DEFAULT_VIP_RANGES): VipTable {
    const table = new VipTable(join(stateDir, VIP_TABLE_FILE), parseRange(ranges.v4, 4), parseRange(ranges.v6, 6), { ...ranges });
    const onDisk = table.readFile();
    if (onDisk) {
      table.merge(onDisk);
      // A range change keeps every ID (addresses follow the new range); record the ranges now in force.
      if (onDisk.v4 !== ranges.v4 || onDisk.v6 !== ranges.v6) table.writeFile();
    }
    return table;
  }

  /** The VIPs of `name` (case-insensitive), allocating the next free ID on first use. */
  assign(name: string): VipPair {
    return this.assignAll([name])[0]!;
  }

  /** Like assign for many names with one file write (config load pre-assigns every exact name). */
  assignAll(names: readonly string[]): VipPair[] {
    const normal = names.map(normaliseName);
    normal.forEach(checkName);
    if (normal.some((n) => !this.byName.has(n))) {
      // Another table over this dir (the previous config's, during a reload) may have allocated since.
      const onDisk = this.readFile();
      if (onDisk) this.merge(onDisk);
      const fresh = [...new Set(normal.filter((n) => !this.byName.has(n)))];
      if (fresh.length > 0) {
        if (this.highest + fresh.length > this.capacity) {
          throw new VipTableError('VIP_RANGE_FULL', `no VIP left for ${fresh.length} new name(s): ${this.byName.size} of ${this.capacity} IDs used in ${this.rangeText.v4} / ${this.rangeText.v6}`);
        }
        for (const n of fresh) this.add(n, this.highest + 1);
        this.writeFile();
      }
    }
    return normal.map((n) => this.pairOf(this.byName.get(n)!));
  }

  /** The VIPs of a name already in the table, without allocating. */
  peek(name: string): VipPair | undefined {
    const id = this.byName.get(normaliseName(name));
    return id === undefined ? undefined : this.pairOf(id);
  }

  /** VIP (4 or 16 octets) -> lowercase name, or undefined for an address that is no VIP in use. */
  lookup(address: Uint8Array): string | undefined {
    const range = address.length === 4 ? this.v4 : address.length === 16 ? this.v6 : undefined;
    if (!range || !cidrContains(range, address)) return undefined;
    const id = hostOffset(range, address);
    return id > BigInt(this.capacity) ? undefined : this.byId.get(Number(id));
  }

  /** Every name ever assigned (including ones no longer in the config), in ID order. */
  names(): string[] {
    return [...this.byName.entries()].sort((a, b) => a[1] - b[1]).map(([n]) => n);
  }

  get size(): number {
    return this.byName.size;
  }

  get ranges(): { v4: string; v6: string } {
    return { ...this.rangeText };
  }

  private pairOf(id: number): VipPair {
    return { v4: nthAddress(this.v4, BigInt(id))!, v6: nthAddress(this.v6, BigInt(id))! };
  }

  private add(name: string, id: number): void {
    this.byName.set(name, id);
    this.byId.set(id, name);
    if (id > this.highest) this.highest = id;
  }

  private merge(file: StateFile): void {
    for (const [name, id] of Object.entries(file.names)) {
      const mine = this.byName.get(name);
      if (mine === id) continue;
      const holder = this.byId.get(id);
      if (mine !== undefined || holder !== undefined) {
        // Only a second process writing the same dir can cause this; refuse rather than remap.
        throw new VipTableError('VIP_STATE_CORRUPT', `${this.path}: ID ${id} of ${name} conflicts with this table`);
      }
      if (id > this.capacity) {
        throw new VipTableError('VIP_RANGE_TOO_SMALL', `${this.rangeText.v4} / ${this.rangeText.v6} cannot hold ID ${id} (${name}) kept in ${this.path}`);
      }
      this.add(name, id);
    }
  }

  private readFile(): StateFile | undefined {
    if (!existsSync(this.path)) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(this.path, 'utf8'));
    } catch (e) {
      // Never start empty over a file we cannot read: every name would move to another VIP.
      throw new VipTableError('VIP_STATE_CORRUPT', `${this.path}: ${(e as Error).message}`);
    }
    return validate(parsed, this.path);
  }

  private writeFile(): void {
    const names: Record<string, number> = {};
    for (const n of this.names()) names[n] = this.byName.get(n)!;
    const state: StateFile = { version: FILE_VERSION, v4: this.rangeText.v4, v6: this.rangeText.v6, names };
    writeAtomic(this.path, `${JSON.stringify(state)}\n`);
  }
}

function validate(parsed: unknown, path: string): StateFile {
  const bad = (why: string) => new VipTableError('VIP_STATE_CORRUPT', `${path}: ${why}`);
  if (typeof parsed !== 'object' || parsed === null) throw bad('not an object');
  const s = parsed as Partial<StateFile>;
  if (s.version !== FILE_VERSION) throw bad(`unknown version ${String(s.version)}`);
  if (typeof s.v4 !== 'string' || typeof s.v6 !== 'string') throw bad('missing ranges');
  if (typeof s.names !== 'object' || s.names === null || Array.isArray(s.names)) throw bad('missing names');
  const seen = new Set<number>();
  for (const [name, id] of Object.entries(s.names)) {
    if (!Number.isSafeInteger(id) || id < 1 || seen.has(id) || normaliseName(name) !== name) throw bad(`bad entry ${JSON.stringify(name)}`);
    seen.add(id);
  }
  return s as StateFile;
}

/** temp (exclusive, 0600) + fsync + rename + fsync of the directory: all or nothing, even on power loss. */
function writeAtomic(path: string, text: string): void {
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(temp, 'wx', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkSync(temp);
    throw e;
  }
  closeSync(fd);
  chmodSync(temp, 0o600); // the umask may have narrowed it further, never widened; be exact
  renameSync(temp, path);
  try {
    const dir = openSync(join(path, '..'), 'r');
    try { fsyncSync(dir); } finally { closeSync(dir); }
  } catch {
    // Directory fsync is not possible on every filesystem; the rename itself is still atomic.
  }
}

// ---------------------------------------------------------------------------------------------
// Names the appliance answers, derived from the config's endpoints.

export interface IpLiteralHost {
  /** Canonical address text as written (IPv6 without brackets). */
  address: string;
  port?: number;
  /** `<type>.<name>` of the endpoint. */
  endpoint: string;
}

export interface EndpointNames {
  /** Exact lowercase names -> the endpoints (refs) reached under that name. */
  exact: Map<string, string[]>;
  /** `*.suffix` wildcards: lowercase suffix (without "*.") -> endpoints. Match any depth below it. */
  wildcards: Map<string, string[]>;
  /** Hosts written as IP literals: no DNS name; the appliance must intercept these addresses itself. */
  ipLiterals: IpLiteralHost[];
}

/** Split "name:port", "[v6]:port", "name", "v4", "[v6]" into host and optional port. */
export function splitHostPort(text: string): { host: string; port?: number } {
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(text);
  if (bracketed) return bracketed[2] ? { host: bracketed[1]!, port: Number(bracketed[2]) } : { host: bracketed[1]! };
  if (isIP(text) === 6) return { host: text };
  const withPort = /^(.*):(\d{1,5})$/.exec(text);
  return withPort ? { host: withPort[1]!, port: Number(withPort[2]) } : { host: text };
}

/** The DNS names (exact and wildcard) and the IP-literal hosts of every endpoint. */
export function endpointDnsNames(endpoints: readonly EndpointDecl[]): EndpointNames {
  const result: EndpointNames = { exact: new Map(), wildcards: new Map(), ipLiterals: [] };
  const push = (map: Map<string, string[]>, key: string, ref: string) => {
    const list = map.get(key) ?? [];
    if (!list.includes(ref)) list.push(ref);
    map.set(key, list);
  };
  const addHost = (text: string, ref: string) => {
    const { host, port } = splitHostPort(text.trim());
    if (isIP(host) !== 0) {
      result.ipLiterals.push(port === undefined ? { address: host, endpoint: ref } : { address: host, port, endpoint: ref });
      return;
    }
    const name = normaliseName(host);
    if (name.startsWith('*.')) push(result.wildcards, name.slice(2), ref);
    else push(result.exact, name, ref);
  };
  for (const e of endpoints) {
    switch (e.type) {
      case 'postgres':
      case 'tcp':
        addHost(e.host, e.ref);
        break;
      case 'https':
      case 'ssh':
        for (const h of e.hosts) addHost(h, e.ref);
        break;
      case 'kubernetes':
        addHost(e.server, e.ref);
        for (const h of e.hosts) addHost(h, e.ref);
        break;
    }
  }
  return result;
}

/**
 * The endpoints reached under `name`: an exact name first, else the longest wildcard suffix that
 * the name is strictly below (`*.example.com` covers `a.b.example.com`, not `example.com`).
 */
export function endpointsForName(names: EndpointNames, name: string): string[] {
  const n = normaliseName(name);
  // An escaped octet ("\." inside a label, "\000") never appears in a host name of the config, and
  // would make the suffix split below lie about where labels end.
  if (n.includes('\\')) return [];
  const exact = names.exact.get(n);
  if (exact) return exact;
  for (let dot = n.indexOf('.'); dot >= 0; dot = n.indexOf('.', dot + 1)) {
    const suffix = n.slice(dot + 1);
    const match = names.wildcards.get(suffix);
    if (match && dot > 0) return match; // suffixes get shorter as we go: the first hit is the longest
  }
  return [];
}

/** The `names` classifier the DNS responder takes. */
export function nameClassifier(names: EndpointNames): (name: string) => 'endpoint' | 'unknown' {
  return (name) => (endpointsForName(names, name).length > 0 ? 'endpoint' : 'unknown');
}
