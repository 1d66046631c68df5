/**
 * WireGuard message layouts against the whitepaper (§5.4.2-§5.4.7) and against messages captured
 * from wireguard-go (test/netstack/wireguard/fixtures): read, build, parse, emit.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as m from '../../../netstack/wire/wireguard-messages.js';

const capture = JSON.parse(readFileSync(new URL('../wireguard/fixtures/wireguard-go-capture.json', import.meta.url), 'utf8')) as {
  wgGoInitiation: string; datagrams: { dir: string; bytes: string }[];
};
const hex = (text: string) => new Uint8Array(Buffer.from(text, 'hex'));
const wgGoInitiation = hex(capture.wgGoInitiation);
const wgGoResponse = hex(capture.datagrams[1]!.bytes);
const wgGoData = hex(capture.datagrams[3]!.bytes);

describe('WireGuard message layouts', () => {
  it('match the whitepaper field by field', () => {
    // initiation: type(1) reserved(3) sender(4) ephemeral(32) static(32+16) timestamp(12+16) mac1(16) mac2(16)
    assert.equal(m.INITIATION_SENDER_OFFSET, 4);
    assert.equal(m.INITIATION_EPHEMERAL_OFFSET, 4 + 4);
    assert.equal(m.INITIATION_STATIC_OFFSET, 8 + 32);
    assert.equal(m.INITIATION_TIMESTAMP_OFFSET, 40 + 48);
    assert.equal(m.INITIATION_MAC1_OFFSET, 88 + 28);
    assert.equal(m.INITIATION_MAC2_OFFSET, 116 + 16);
    assert.equal(m.MESSAGE_INITIATION_SIZE, 132 + 16);
    // response: type(1) reserved(3) sender(4) receiver(4) ephemeral(32) empty(0+16) mac1(16) mac2(16)
    assert.equal(m.RESPONSE_EPHEMERAL_OFFSET, 12);
    assert.equal(m.RESPONSE_EMPTY_OFFSET, 12 + 32);
    assert.equal(m.RESPONSE_MAC1_OFFSET, 44 + 16);
    assert.equal(m.RESPONSE_MAC2_OFFSET, 60 + 16);
    assert.equal(m.MESSAGE_RESPONSE_SIZE, 76 + 16);
    // cookie reply: type(1) reserved(3) receiver(4) nonce(24) cookie(16+16)
    assert.equal(m.COOKIE_NONCE_OFFSET, 8);
    assert.equal(m.COOKIE_ENCRYPTED_OFFSET, 8 + 24);
    assert.equal(m.MESSAGE_COOKIE_REPLY_SIZE, 32 + 32);
    // transport: type(1) reserved(3) receiver(4) counter(8) packet(16n + 16)
    assert.equal(m.TRANSPORT_COUNTER_OFFSET, 8);
    assert.equal(m.MESSAGE_TRANSPORT_MIN_SIZE, 32);
  });

  it('checks exact sizes and the whole type word', () => {
    assert.equal(m.checkMessage(wgGoInitiation), 1);
    assert.equal(m.checkMessage(wgGoResponse), 2);
    assert.equal(m.checkMessage(wgGoData), 4);
    assert.equal(m.checkMessage(wgGoInitiation.subarray(0, 147)), 'bad_length');
    assert.equal(m.checkMessage(new Uint8Array([...wgGoInitiation, 0])), 'bad_length');
    assert.equal(m.checkMessage(wgGoResponse.subarray(0, 91)), 'bad_length');
    assert.equal(m.checkMessage(Uint8Array.of(3, 0, 0, 0, ...new Array(60))), 3);
    assert.equal(m.checkMessage(Uint8Array.of(3, 0, 0, 0, ...new Array(61))), 'bad_length');
    assert.equal(m.checkMessage(wgGoData.subarray(0, 31)), 'bad_length');
    assert.equal(m.checkMessage(Uint8Array.of(2, 0, 1, 0, ...new Array(88))), 'unknown_type');
    assert.equal(m.checkMessage(Uint8Array.of(0, 0, 0, 0)), 'unknown_type');
    assert.equal(m.checkMessage(Uint8Array.of(4, 0, 0)), 'bad_length');
  });

  it('parses wireguard-go messages and emits them back identically', () => {
    const init = m.parseInitiation(wgGoInitiation);
    const rebuilt = m.emitInitiation(init);
    rebuilt.set(init.mac1, m.INITIATION_MAC1_OFFSET);
    rebuilt.set(init.mac2, m.INITIATION_MAC2_OFFSET);
    assert.deepEqual(rebuilt, wgGoInitiation);

    const response = m.parseResponse(wgGoResponse);
    assert.equal(response.receiver, m.readU32(hex(capture.datagrams[0]!.bytes), m.INITIATION_SENDER_OFFSET), 'answers our sender index');
    const rebuiltResponse = m.emitResponse(response);
    rebuiltResponse.set(response.mac1, m.RESPONSE_MAC1_OFFSET);
    rebuiltResponse.set(response.mac2, m.RESPONSE_MAC2_OFFSET);
    assert.deepEqual(rebuiltResponse, wgGoResponse);

    const header = m.parseTransportHeader(wgGoData);
    assert.equal(header.receiver, m.readU32(hex(capture.datagrams[0]!.bytes), m.INITIATION_SENDER_OFFSET));
    assert.deepEqual([header.counterLow, header.counterHigh], [0, 0]);
    assert.equal((wgGoData.length - m.MESSAGE_TRANSPORT_MIN_SIZE) % 16, 0, 'padded to 16');
  });

  it('builds and parses cookie replies and transport headers with 64-bit little-endian counters', () => {
    const nonce = Uint8Array.from({ length: 24 }, (_, i) => i);
    const encryptedCookie = Uint8Array.from({ length: 32 }, (_, i) => 100 + i);
    const bytes = m.emitCookieReply({ receiver: 0xdeadbeef, nonce, encryptedCookie });
    assert.deepEqual([...bytes.subarray(0, 8)], [3, 0, 0, 0, 0xef, 0xbe, 0xad, 0xde]);
    const parsed = m.parseCookieReply(bytes);
    assert.equal(parsed.receiver, 0xdeadbeef);
    assert.deepEqual(parsed.nonce, nonce);
    assert.deepEqual(parsed.encryptedCookie, encryptedCookie);

    const header = new Uint8Array(16);
    m.emitTransportHeader(header, 0x01020304, 2 ** 40 + 5);
    assert.deepEqual([...header], [4, 0, 0, 0, 4, 3, 2, 1, 5, 0, 0, 0, 0, 1, 0, 0]);
    assert.deepEqual(m.parseTransportHeader(header), { receiver: 0x01020304, counterLow: 5, counterHigh: 256 });
  });

  it('pads plaintext to a multiple of 16', () => {
    assert.deepEqual([0, 1, 15, 16, 17, 1420].map(m.paddedLength), [0, 16, 16, 16, 32, 1424]);
    assert.equal(m.transportMessageSize(0), 32);
    assert.equal(m.transportMessageSize(1420), 1456);
  });
});
