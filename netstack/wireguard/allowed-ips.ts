/**
 * Cryptokey routing table (whitepaper §2): longest-prefix match from an address to a peer.
 * Lookups read the address straight out of a packet (bytes + offset), so the per-packet path
 * allocates nothing. IPv4 runs on every packet twice (route out, source check in), so it uses one
 * Map per prefix length keyed by the masked 32-bit address: a lookup is one Map.get per distinct
 * length in use (usually one or two), several times faster than walking 32 trie levels. IPv6 uses
 * a binary trie (at most 128 steps).
 */
import { readU32 } from '../wire/checksum.js';
import { maskAddress, type Cidr } from '../wire/ip-address.js';

interface TrieNode<T> {
  zero: TrieNode<T> | undefined;
  one: TrieNode<T> | undefined;
  value: T | undefined;
}

const newNode = <T>(): TrieNode<T> => ({ zero: undefined, one: undefined, value: undefined });

export class AllowedIps<T> {
  /** prefix length -> (address >>> (32 - length)) -> value */
  readonly #v4 = new Map<number, Map<number, T>>();
  /** The keys of #v4, longest first. */
  #v4Lengths: number[] = [];
  readonly #v6: TrieNode<T> = newNode();

  /** Routes `cidr` to `value`, taking it from whichever value held exactly this prefix before. */
  insert(cidr: Cidr, value: T): void {
    const bits = cidr.address.length * 8;
    if ((bits !== 32 && bits !== 128) || cidr.prefixLength < 0 || cidr.prefixLength > bits) {
      throw new RangeError(`bad CIDR: ${cidr.address.length} bytes /${cidr.prefixLength}`);
    }
    const address = maskAddress(cidr.address, cidr.prefixLength);
    if (bits === 32) {
      let byKey = this.#v4.get(cidr.prefixLength);
      if (byKey === undefined) {
        byKey = new Map();
        this.#v4.set(cidr.prefixLength, byKey);
        this.#v4Lengths = [...this.#v4.keys()].sort((x, y) => y - x);
      }
      byKey.set(v4Key(readU32(address, 0), cidr.prefixLength), value);
      return;
    }
    let node = this.#v6;
    for (let i = 0; i < cidr.prefixLength; i++) {
      const bit = (address[i >> 3]! >> (7 - (i & 7))) & 1;
      const next = bit === 0 ? node.zero : node.one;
      if (next !== undefined) {
        node = next;
      } else {
        const created = newNode<T>();
        if (bit === 0) node.zero = created; else node.one = created;
        node = created;
      }
    }
    node.value = value;
  }

  /** Longest match for the `length`-byte (4 or 16) address at `offset` in `bytes`. */
  lookup(bytes: Uint8Array, offset: number, length: 4 | 16): T | undefined {
    if (length === 4) {
      const address = readU32(bytes, offset);
      const lengths = this.#v4Lengths;
      for (let i = 0; i < lengths.length; i++) {
        const prefixLength = lengths[i]!;
        const value = this.#v4.get(prefixLength)!.get(v4Key(address, prefixLength));
        if (value !== undefined) return value;
      }
      return undefined;
    }
    let node: TrieNode<T> | undefined = this.#v6;
    let best = node.value;
    for (let i = 0; i < 128; i++) {
      const bit = (bytes[offset + (i >> 3)]! >> (7 - (i & 7))) & 1;
      node = bit === 0 ? node.zero : node.one;
      if (node === undefined) break;
      if (node.value !== undefined) best = node.value;
    }
    return best;
  }

  lookupAddress(address: Uint8Array): T | undefined {
    return this.lookup(address, 0, address.length === 4 ? 4 : 16);
  }

  /** Removes every prefix routed to `value` and prunes empty branches. */
  removeValue(value: T): void {
    for (const [prefixLength, byKey] of this.#v4) {
      for (const [key, held] of byKey) if (held === value) byKey.delete(key);
      if (byKey.size === 0) this.#v4.delete(prefixLength);
    }
    this.#v4Lengths = [...this.#v4.keys()].sort((x, y) => y - x);
    prune(this.#v6, value);
  }

  /** Prefixes currently routed to `value`. */
  entriesFor(value: T): Cidr[] {
    const out: Cidr[] = [];
    for (const prefixLength of [...this.#v4Lengths].reverse()) {
      for (const [key, held] of this.#v4.get(prefixLength)!) {
        if (held !== value) continue;
        const address = prefixLength === 0 ? 0 : key * 2 ** (32 - prefixLength);
        out.push({ address: Uint8Array.of(address >>> 24, (address >>> 16) & 0xff, (address >>> 8) & 0xff, address & 0xff), prefixLength });
      }
    }
    collect(this.#v6, value, new Uint8Array(16), 0, out);
    return out;
  }
}


/** The top `prefixLength` bits of a 32-bit address as a non-negative integer (a Map key). */
function v4Key(address: number, prefixLength: number): number {
  return prefixLength === 0 ? 0 : address >>> (32 - prefixLength);
}

function prune<T>(node: TrieNode<T>, value: T): boolean {
  if (node.value === value) node.value = undefined;
  if (node.zero !== undefined && prune(node.zero, value)) node.zero = undefined;
  if (node.one !== undefined && prune(node.one, value)) node.one = undefined;
  return node.value === undefined && node.zero === undefined && node.one === undefined;
}

function collect<T>(node: TrieNode<T>, value: T, address: Uint8Array, depth: number, out: Cidr[]): void {
  if (node.value === value) out.push({ address: Uint8Array.from(address), prefixLength: depth });
  const byte = depth >> 3;
  const mask = 0x80 >> (depth & 7);
  if (node.zero !== undefined) collect(node.zero, value, address, depth + 1, out);
  if (node.one !== undefined) {
    address[byte]! |= mask;
    collect(node.one, value, address, depth + 1, out);
    address[byte]! &= ~mask;
  }
}
