/**
 * Protocol constants, named as in the WireGuard whitepaper (§5.4 for the handshake strings, §6.1
 * for the timers). Times are in milliseconds because the device is driven by a millisecond clock.
 */

export const CONSTRUCTION = 'Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s';
export const IDENTIFIER = 'WireGuard v1 zx2c4 Jason@zx2c4.com';
export const LABEL_MAC1 = 'mac1----';
export const LABEL_COOKIE = 'cookie--';

/** Exact message-count limits as 64-bit values (whitepaper §6.1). */
export const REKEY_AFTER_MESSAGES = 2n ** 60n;
export const REJECT_AFTER_MESSAGES = 2n ** 64n - 2n ** 13n - 1n;

/**
 * The same limits for the send counter, which is a Number: it starts at 0 and grows by one per
 * packet, so it cannot pass 2^53 in a session's lifetime. 2^60 is exact as a double; the reject
 * limit rounds to 2^64 - 2^13, which is unreachable all the same.
 */
export const REKEY_AFTER_MESSAGES_NUMBER = Number(REKEY_AFTER_MESSAGES);
export const REJECT_AFTER_MESSAGES_NUMBER = Number(REJECT_AFTER_MESSAGES);

export const REKEY_AFTER_TIME = 120_000;
export const REJECT_AFTER_TIME = 180_000;
export const REKEY_ATTEMPT_TIME = 90_000;
export const REKEY_TIMEOUT = 5_000;
export const KEEPALIVE_TIMEOUT = 10_000;
export const COOKIE_REFRESH_TIME = 120_000;

/** Random extra delay on handshake retransmissions so that peers do not retry in lockstep. */
export const REKEY_TIMEOUT_JITTER_MAX = 333;

/**
 * Per-peer floor between two consumed initiations (wireguard-go `HandshakeInitationRate`,
 * 50 per second): a replayed-but-fresh flood cannot make us derive sessions without bound.
 */
export const HANDSHAKE_INITIATION_RATE = 20;

/**
 * Handshake messages per second above which the device counts as under load and answers
 * MAC1-valid handshakes without a valid MAC2 with a cookie reply instead of doing DH work.
 * At ~35 µs per X25519 and 3-4 DH per handshake this caps handshake CPU near 2-3 % of a core
 * before cookies kick in, far above what real peers need (one handshake per peer per 2 minutes).
 */
export const UNDER_LOAD_HANDSHAKES_PER_SECOND = 512;
/** Once under load, stay there this long so a bursty attacker cannot flap the decision. */
export const UNDER_LOAD_AFTER_TIME = 1_000;

/** Packets held per peer while its handshake completes; the oldest is dropped beyond this. */
export const MAX_STAGED_PACKETS = 128;
