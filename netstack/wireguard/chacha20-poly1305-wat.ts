/**
 * The WebAssembly text of ChaCha20-Poly1305 (RFC 8439), the AEAD of every WireGuard message
 * (whitepaper §5.4). Written out by a generator because the
 * 20 rounds and the Poly1305 limb products are regular: the quarter round and the 26-bit limb
 * multiply are each written once here and unrolled into the text.
 *
 * Why not node:crypto: it cannot reuse a cipher with a new nonce, so each packet pays a
 * createCipheriv (~6-7 us on this machine, plus a native object for the GC to finalise), several
 * times the cost of the cipher itself for WireGuard's small packets. This module runs the same
 * computation on its own memory: ~0.8 us for a 64-byte packet, ~1.6 us for 160, ~7 us for 1420
 * (test/netstack/wireguard/chacha20-poly1305.test.ts checks it against node:crypto).
 *
 * Memory (one module instance, single-threaded):
 *   0..32    key                 32..44  nonce
 *   48..64   tag (seal writes it, open reads it)
 *   64..128  one keystream block  160..176 Poly1305 padding/length block
 *   176..192 computed tag        192..256 associated data (up to 64 bytes)
 *   256..    the message, encrypted or decrypted in place
 * Nothing here depends on secret data for branches or addresses, except whether open's tag
 * comparison failed (the XOR-OR of all 16 bytes is tested once).
 */

export const AEAD_LAYOUT = {
  key: 0,
  nonce: 32,
  tag: 48,
  keystream: 64,
  computedTag: 176,
  aad: 192,
  data: 256,
  /** Two 64 KiB pages. */
  memoryPages: 2,
  /** Scratch that holds key material after a call: 0..192. */
  scratchEnd: 192,
} as const;

/** Largest associated data: a WireGuard handshake hash is 32 bytes. */
export const AEAD_MAX_AAD = 64;

/** Largest message the memory holds. */
export const AEAD_MAX_MESSAGE = AEAD_LAYOUT.memoryPages * 65536 - AEAD_LAYOUT.data;

const range = (n: number): number[] => [...Array(n).keys()];
const get = (name: string): string => `(local.get $${name})`;
const set = (name: string, value: string): string => `(local.set $${name} ${value})`;

// ---- ChaCha20 (RFC 8439 §2.3) ------------------------------------------------------------

/** a += b; d ^= a; d <<<= 16; c += d; b ^= c; b <<<= 12; a += b; d ^= a; d <<<= 8; c += d; b ^= c; b <<<= 7 */
function quarterRound(a: number, b: number, c: number, d: number): string {
  const step = (x: number, y: number, z: number, rotate: number): string =>
    `${set(`x${x}`, `(i32.add ${get(`x${x}`)} ${get(`x${y}`)})`)}\n`
    + `${set(`x${z}`, `(i32.rotl (i32.xor ${get(`x${z}`)} ${get(`x${x}`)}) (i32.const ${rotate}))`)}`;
  return [step(a, b, d, 16), step(c, d, b, 12), step(a, b, d, 8), step(c, d, b, 7)].join('\n');
}

/** One column round and one diagonal round (§2.3.1). */
const DOUBLE_ROUND = [
  quarterRound(0, 4, 8, 12), quarterRound(1, 5, 9, 13), quarterRound(2, 6, 10, 14), quarterRound(3, 7, 11, 15),
  quarterRound(0, 5, 10, 15), quarterRound(1, 6, 11, 12), quarterRound(2, 7, 8, 13), quarterRound(3, 4, 9, 14),
].join('\n');

/** The input state s0..s15 and working state x0..x15 of a block function. */
const STATE_LOCALS = range(16).map((i) => `(local $s${i} i32) (local $x${i} i32)`).join(' ');

/** constants "expand 32-byte k", key, block counter (from $ctr), nonce (§2.3). */
const LOAD_STATE = [
  ...[0x61707865, 0x3320646e, 0x79622d32, 0x6b206574].map((c, i) => set(`s${i}`, `(i32.const ${c | 0})`)),
  ...range(8).map((i) => set(`s${4 + i}`, `(i32.load offset=${AEAD_LAYOUT.key + 4 * i} (i32.const 0))`)),
  set('s12', get('ctr')),
  ...range(3).map((i) => set(`s${13 + i}`, `(i32.load offset=${AEAD_LAYOUT.nonce + 4 * i} (i32.const 0))`)),
].join('\n');

/** x := s, then ten double rounds; keystream word i is then x_i + s_i. */
const ROUNDS = `${range(16).map((i) => set(`x${i}`, get(`s${i}`))).join('\n')}
(local.set $round (i32.const 10))
(loop $rounds
${DOUBLE_ROUND}
(br_if $rounds (local.tee $round (i32.sub (local.get $round) (i32.const 1)))))`;

const keystreamWord = (i: number): string => `(i32.add ${get(`x${i}`)} ${get(`s${i}`)})`;

// ---- Poly1305 (§2.5) with five 26-bit limbs in i64 -------------------------------------------

const M26 = '(i64.const 0x3ffffff)';
const LIMBS = range(5);

/** h_i * r_j where r_{j} for j < 0 wraps as 5 * r_{j+5} (2^130 = 5 mod p). */
function productRow(i: number): string {
  const terms = LIMBS.map((k) => {
    const j = i - k;
    return `(i64.mul ${get(`h${k}`)} ${get(j >= 0 ? `r${j}` : `s${j + 5}`)})`;
  });
  return terms.reduce((sum, term) => `(i64.add ${sum} ${term})`);
}

/** Carries d0..d4 into h0..h4 (each < 2^26 but h1, which may be slightly over). */
const CARRY_PRODUCTS = [
  ...LIMBS.map((i) => [
    i > 0 ? set(`d${i}`, `(i64.add ${get(`d${i}`)} ${get('c')})`) : '',
    set('c', `(i64.shr_u ${get(`d${i}`)} (i64.const 26))`),
    set(`h${i}`, `(i64.and ${get(`d${i}`)} ${M26})`),
  ].join(' ')),
  set('h0', `(i64.add ${get('h0')} (i64.mul ${get('c')} (i64.const 5)))`),
  set('c', `(i64.shr_u ${get('h0')} (i64.const 26))`),
  set('h0', `(i64.and ${get('h0')} ${M26})`),
  set('h1', `(i64.add ${get('h1')} ${get('c')})`),
].join('\n');

/** A 16-byte block at $m as limbs, with the 2^128 bit (every block is full: the AEAD pads). */
const ADD_BLOCK = LIMBS.map((i) => {
  const word = `(i64.load32_u offset=${[0, 3, 6, 9, 12][i]} ${get('m')})`;
  const shifted = i === 0 ? word : `(i64.shr_u ${word} (i64.const ${[0, 2, 4, 6, 8][i]}))`;
  const limb = i === 4 ? `(i64.or ${shifted} (i64.const 0x1000000))` : `(i64.and ${shifted} ${M26})`;
  return set(`h${i}`, `(i64.add ${get(`h${i}`)} ${limb})`);
}).join('\n');

/** Final reduction mod 2^130 - 5, + s mod 2^128, into the computed-tag slot (176..192). */
const FINISH = [
  // Full carry of h.
  ...[1, 2, 3, 4].map((i) => `${set('c', `(i64.shr_u ${get(`h${i}`)} (i64.const 26))`)} ${set(`h${i}`, `(i64.and ${get(`h${i}`)} ${M26})`)} ${
    i < 4 ? set(`h${i + 1}`, `(i64.add ${get(`h${i + 1}`)} ${get('c')})`) : set('h0', `(i64.add ${get('h0')} (i64.mul ${get('c')} (i64.const 5)))`)}`),
  `${set('c', `(i64.shr_u ${get('h0')} (i64.const 26))`)} ${set('h0', `(i64.and ${get('h0')} ${M26})`)} ${set('h1', `(i64.add ${get('h1')} ${get('c')})`)}`,
  // g = h + 5 - 2^130; h < p exactly when g is negative.
  `${set('g0', `(i64.add ${get('h0')} (i64.const 5))`)} ${set('c', `(i64.shr_u ${get('g0')} (i64.const 26))`)} ${set('g0', `(i64.and ${get('g0')} ${M26})`)}`,
  ...[1, 2, 3].map((i) => `${set(`g${i}`, `(i64.add ${get(`h${i}`)} ${get('c')})`)} ${set('c', `(i64.shr_u ${get(`g${i}`)} (i64.const 26))`)} ${set(`g${i}`, `(i64.and ${get(`g${i}`)} ${M26})`)}`),
  set('g4', `(i64.sub (i64.add ${get('h4')} ${get('c')}) (i64.const 0x4000000))`),
  // mask = all ones when g >= 0 (take g), zero when negative (keep h): no branch on secret data.
  set('mask', `(i64.sub (i64.shr_u ${get('g4')} (i64.const 63)) (i64.const 1))`),
  ...LIMBS.map((i) => set(`h${i}`, `(i64.or (i64.and ${get(`h${i}`)} (i64.xor ${get('mask')} (i64.const -1))) (i64.and ${get(`g${i}`)} ${get('mask')}))`)),
  // Back to four 32-bit words (mod 2^128).
  set('h0', `(i64.and (i64.or ${get('h0')} (i64.shl ${get('h1')} (i64.const 26))) (i64.const 0xffffffff))`),
  set('h1', `(i64.and (i64.or (i64.shr_u ${get('h1')} (i64.const 6)) (i64.shl ${get('h2')} (i64.const 20))) (i64.const 0xffffffff))`),
  set('h2', `(i64.and (i64.or (i64.shr_u ${get('h2')} (i64.const 12)) (i64.shl ${get('h3')} (i64.const 14))) (i64.const 0xffffffff))`),
  set('h3', `(i64.and (i64.or (i64.shr_u ${get('h3')} (i64.const 18)) (i64.shl ${get('h4')} (i64.const 8))) (i64.const 0xffffffff))`),
  // tag = h + s, little-endian words with carry; s is bytes 16..32 of the Poly1305 key.
  ...range(4).map((i) => {
    const sum = `(i64.add ${get(`h${i}`)} (i64.load32_u offset=${80 + 4 * i} (i32.const 0)))`;
    return `${set('f', i === 0 ? sum : `(i64.add ${sum} (i64.shr_u ${get('f')} (i64.const 32)))`)}\n(i64.store32 offset=${176 + 4 * i} (i32.const 0) ${get('f')})`;
  }),
].join('\n');

const H_GLOBALS = LIMBS.map((i) => `(global $h${i} (mut i64) (i64.const 0)) (global $r${i} (mut i64) (i64.const 0))`).join('\n');

/** The module, in the WebAssembly text format. */
export function chachaPolyWat(): string {
  const { data, tag } = AEAD_LAYOUT;
  return `(module
(memory (export "memory") ${AEAD_LAYOUT.memoryPages} ${AEAD_LAYOUT.memoryPages})
${H_GLOBALS}

;; Keystream block $ctr into 64..128.
(func $block (param $ctr i32) (local $round i32) ${STATE_LOCALS}
${LOAD_STATE}
${ROUNDS}
${range(16).map((i) => `(i32.store offset=${64 + 4 * i} (i32.const 0) ${keystreamWord(i)})`).join('\n')})

;; XORs $n bytes at $p with the keystream from block $ctr on.
(func $xor (param $ctr i32) (param $p i32) (param $n i32) (local $round i32) (local $j i32) ${STATE_LOCALS}
${LOAD_STATE}
(block $tail (loop $chunk
  (br_if $tail (i32.lt_u (local.get $n) (i32.const 64)))
  ${ROUNDS}
  ${range(16).map((i) => `(i32.store offset=${4 * i} (local.get $p) (i32.xor (i32.load offset=${4 * i} (local.get $p)) ${keystreamWord(i)}))`).join('\n')}
  (local.set $s12 (i32.add (local.get $s12) (i32.const 1)))
  (local.set $p (i32.add (local.get $p) (i32.const 64)))
  (local.set $n (i32.sub (local.get $n) (i32.const 64)))
  (br $chunk)))
(if (local.get $n) (then
  (call $block (local.get $s12))
  (loop $byte
    (i32.store8 (i32.add (local.get $p) (local.get $j))
      (i32.xor (i32.load8_u (i32.add (local.get $p) (local.get $j))) (i32.load8_u offset=64 (local.get $j))))
    (br_if $byte (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 1))) (local.get $n)))))))

;; Absorbs $k full 16-byte blocks at $m into the accumulator.
(func $blocks (param $m i32) (param $k i32)
  ${LIMBS.map((i) => `(local $h${i} i64) (local $r${i} i64) (local $d${i} i64)`).join(' ')}
  (local $s1 i64) (local $s2 i64) (local $s3 i64) (local $s4 i64) (local $c i64)
  (if (i32.eqz (local.get $k)) (then (return)))
  ${LIMBS.map((i) => `${set(`h${i}`, `(global.get $h${i})`)} ${set(`r${i}`, `(global.get $r${i})`)}`).join('\n')}
  ${[1, 2, 3, 4].map((i) => set(`s${i}`, `(i64.mul ${get(`r${i}`)} (i64.const 5))`)).join('\n')}
  (loop $block
    ${ADD_BLOCK}
    ${LIMBS.map((i) => set(`d${i}`, productRow(i))).join('\n')}
    ${CARRY_PRODUCTS}
    (local.set $m (i32.add (local.get $m) (i32.const 16)))
    (br_if $block (local.tee $k (i32.sub (local.get $k) (i32.const 1)))))
  ${LIMBS.map((i) => `(global.set $h${i} (local.get $h${i}))`).join('\n')})

;; Absorbs $n bytes at $p, zero-padded to a multiple of 16 (§2.8), through the 160..176 scratch.
(func $padded (param $p i32) (param $n i32)
  (call $blocks (local.get $p) (i32.shr_u (local.get $n) (i32.const 4)))
  (if (i32.and (local.get $n) (i32.const 15)) (then
    (i64.store offset=160 (i32.const 0) (i64.const 0))
    (i64.store offset=168 (i32.const 0) (i64.const 0))
    (memory.copy (i32.const 160) (i32.add (local.get $p) (i32.and (local.get $n) (i32.const -16))) (i32.and (local.get $n) (i32.const 15)))
    (call $blocks (i32.const 160) (i32.const 1)))))

;; Starts a MAC with the one-time key r || s at 64..96: r clamped (§2.5) into limbs, h = 0.
(func $start
  (global.set $r0 (i64.and (i64.load32_u offset=64 (i32.const 0)) (i64.const 0x3ffffff)))
  (global.set $r1 (i64.and (i64.shr_u (i64.load32_u offset=67 (i32.const 0)) (i64.const 2)) (i64.const 0x3ffff03)))
  (global.set $r2 (i64.and (i64.shr_u (i64.load32_u offset=70 (i32.const 0)) (i64.const 4)) (i64.const 0x3ffc0ff)))
  (global.set $r3 (i64.and (i64.shr_u (i64.load32_u offset=73 (i32.const 0)) (i64.const 6)) (i64.const 0x3f03fff)))
  (global.set $r4 (i64.and (i64.shr_u (i64.load32_u offset=76 (i32.const 0)) (i64.const 8)) (i64.const 0x00fffff)))
  ${LIMBS.map((i) => `(global.set $h${i} (i64.const 0))`).join(' ')})

;; Ends a MAC: the tag goes to 176..192, and r and the accumulator are cleared (key material).
(func $finish
  ${LIMBS.map((i) => `(local $h${i} i64) (local $g${i} i64)`).join(' ')} (local $c i64) (local $mask i64) (local $f i64)
  ${LIMBS.map((i) => set(`h${i}`, `(global.get $h${i})`)).join(' ')}
  ${FINISH}
  ${LIMBS.map((i) => `(global.set $h${i} (i64.const 0)) (global.set $r${i} (i64.const 0))`).join(' ')})

;; The Poly1305 key is block 0 (§2.6); the MAC input is the associated data at ${AEAD_LAYOUT.aad} and the
;; ciphertext, each zero-padded to 16 bytes, then both lengths as 64-bit LE (§2.8).
(func $mac (param $p i32) (param $n i32) (param $aadLength i32)
  (call $block (i32.const 0))
  (call $start)
  (call $padded (i32.const ${AEAD_LAYOUT.aad}) (local.get $aadLength))
  (call $padded (local.get $p) (local.get $n))
  (i64.store offset=160 (i32.const 0) (i64.extend_i32_u (local.get $aadLength)))
  (i64.store offset=168 (i32.const 0) (i64.extend_i32_u (local.get $n)))
  (call $blocks (i32.const 160) (i32.const 1))
  (call $finish))

;; For tests of the Poly1305 arithmetic on its own: the MAC of the $n bytes (a multiple of 16) at
;; ${data} under the key at 64..96, into 176..192.
(func (export "poly1305Blocks") (param $n i32)
  (call $start)
  (call $blocks (i32.const ${data}) (i32.shr_u (local.get $n) (i32.const 4)))
  (call $finish))

;; 1 when the Poly1305 state holds nothing (every r and h limb zero), for tests of the wipe.
(func (export "macStateCleared") (result i32)
  (i64.eqz ${LIMBS.map((i) => `(global.get $h${i})`).concat(LIMBS.map((i) => `(global.get $r${i})`)).reduce((a, b) => `(i64.or ${a} ${b})`)}))

;; Encrypts the $n bytes at ${data} in place and writes the tag at ${tag}.
(func (export "seal") (param $n i32) (param $aadLength i32)
  (call $xor (i32.const 1) (i32.const ${data}) (local.get $n))
  (call $mac (i32.const ${data}) (local.get $n) (local.get $aadLength))
  (memory.copy (i32.const ${tag}) (i32.const 176) (i32.const 16)))

;; Checks the tag at ${tag} against the $n bytes at ${data}; only if it matches, decrypts them in
;; place and returns 1. Returns 0 and leaves the ciphertext otherwise.
(func (export "open") (param $n i32) (param $aadLength i32) (result i32)
  (call $mac (i32.const ${data}) (local.get $n) (local.get $aadLength))
  (if (i64.ne (i64.const 0) (i64.or
      (i64.xor (i64.load offset=${tag} (i32.const 0)) (i64.load offset=176 (i32.const 0)))
      (i64.xor (i64.load offset=${tag + 8} (i32.const 0)) (i64.load offset=184 (i32.const 0)))))
    (then (return (i32.const 0))))
  (call $xor (i32.const 1) (i32.const ${data}) (local.get $n))
  (i32.const 1))
)
`;
}
