/**
 * Cryptokey routing table (whitepaper §2): longest-prefix match from an address to a peer, one
 * binary trie per family. Lookups read the address straight out of a packet (bytes + offset), so
 * the per-packet path allocates nothing; a lookup is at most 32 or 128 steps.
 */
import { maskAddress, type Cidr } from '../wire/ip-address.js';

interface TrieNode<T> {
  zero: TrieNode<T> | undefined;
  one: TrieNode<T> | undefined;
  value: T | undefined;
}

const newNode = <T>(): TrieNode<T> => ({ zero: undefined, one: undefined, value: undefined });

export class AllowedIps<T> {
  readonly #v4: TrieNode<T> = newNode();
  readonly #v6: TrieNode<T> = newNode();

  /** Routes `cidr` to `value`, taking it from whichever value held exactly this prefix before. */
  insert(cidr: Cidr, value: T): void {
    const bits = cidr.address.length * 8;
    if ((bits !== 32 && bits !== 128) || cidr.prefixLength < 0 || cidr.prefixLength > bits) {
      throw new RangeError(`bad CIDR: ${cidr.address.length} bytes /${cidr.prefixLength}`);
    }
    const address = maskAddress(cidr.address, cidr.prefixLength);
    let node = bits === 32 ? this.#v4 : this.#v6;
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
    let node: TrieNode<T> | undefined = length === 4 ? this.#v4 : this.#v6;
    let best = node.value;
    const bits = length * 8;
    for (let i = 0; i < bits; i++) {
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
    prune(this.#v4, value);
    prune(this.#v6, value);
  }

  /** Prefixes currently routed to `value`. */
  entriesFor(value: T): Cidr[] {
    const out: Cidr[] = [];
    collect(this.#v4, value, new Uint8Array(4), 0, out);
    collect(this.#v6, value, new Uint8Array(16), 0, out);
    return out;
  }
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
