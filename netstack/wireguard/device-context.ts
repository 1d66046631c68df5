/**
 * State shared by the Device's parts (receive paths, send paths, timer expiry): counters, the
 * randomness and clocks it was given, our identity, the index table and the output ring.
 */
import type { Counters } from '../counters.js';
import { KEY_SIZE, readU32 } from '../wire/wireguard-messages.js';
import { REKEY_TIMEOUT_JITTER_MAX } from './constants.js';
import type { LocalIdentity } from './handshake.js';
import { keyPairFromPrivate, type X25519KeyPair } from './keys.js';
import type { Keypair } from './keypair.js';
import { OutputRing } from './output-ring.js';
import type { Peer } from './peer.js';

/** An index we handed out: either a handshake we initiated or a session's receiving index. */
export interface IndexEntry {
  peer: Peer;
  keypair: Keypair | undefined;
}

export class DeviceContext {
  readonly indices = new Map<number, IndexEntry>();
  readonly ring = new OutputRing();

  constructor(
    readonly counters: Counters,
    readonly random: (n: number) => Uint8Array,
    readonly wallClock: () => number,
    readonly local: LocalIdentity,
  ) {}

  /** Counts a dropped packet under `wg.<reason>`. */
  drop(reason: string): void {
    this.counters.inc(`wg.${reason}`);
  }

  /** A random index not in use (whitepaper §5.4.2: indices are random so they reveal nothing). */
  allocateIndex(entry: IndexEntry): number {
    for (;;) {
      const index = readU32(this.random(4), 0);
      if (!this.indices.has(index)) {
        this.indices.set(index, entry);
        return index;
      }
    }
  }

  /** A fresh ephemeral key pair; the raw secret is wiped once it lives inside a KeyObject. */
  newEphemeral(): X25519KeyPair {
    const secret = this.random(KEY_SIZE);
    const pair = keyPairFromPrivate(secret);
    secret.fill(0);
    return pair;
  }

  /** 0..REKEY_TIMEOUT_JITTER_MAX ms, so that peers do not retry in lockstep. */
  jitter(): number {
    // Drawn from a pool refilled 256 draws at a time: request/response traffic re-arms the
    // new-handshake timer on every packet, and one random() call per packet costs ~15 us.
    if (this.#jitterAt >= this.#jitterPool.length) {
      this.#jitterPool = this.random(512);
      this.#jitterAt = 0;
    }
    const value = (this.#jitterPool[this.#jitterAt]! << 8) | this.#jitterPool[this.#jitterAt + 1]!;
    this.#jitterAt += 2;
    return value % (REKEY_TIMEOUT_JITTER_MAX + 1);
  }

  #jitterPool: Uint8Array = new Uint8Array(0);
  #jitterAt = 0;
}
