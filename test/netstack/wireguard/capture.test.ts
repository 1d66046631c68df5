/**
 * Known-answer tests on bytes captured from Debian's wireguard-go (interop.test.ts with
 * BAILIFF_WG_CAPTURE set), not bytes made by the code under test. The Device is deterministic
 * given its random source and wall clock, so our side of the capture is reproduced byte for byte
 * and wireguard-go's side must authenticate and decrypt.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Counters } from '../../../netstack/counters.js';
import { parseCidr } from '../../../netstack/wire/ip-address.js';
import { Device } from '../../../netstack/wireguard/device.js';
import { decodeKey, publicKeyFromPrivate } from '../../../netstack/wireguard/keys.js';
import { checkMessage, parseInitiation } from '../../../netstack/wire/wireguard-messages.js';
import { seededRandom } from './helpers.js';

// Same constants as interop.test.ts (not imported: that module starts namespaces when loaded as a test).
const OUR_PRIVATE_KEY = 'gCVF6Xxd1tKmgLNVRNQJjd5e0qDH0rNXWcZwCjN320o=';
const WG_GO_PRIVATE_KEY = 'IOa24Heb2FmgpI5GvwveiQEdzm/YicFlN8stLGqM+Xw=';
const INITIATOR_SEED = 4242;
const INITIATOR_WALL_CLOCK = 1_767_225_600_000;

interface Capture {
  ourTunnel: string;
  wgTunnel: string;
  wgGoInitiation: string;
  request: string;
  datagrams: { dir: 'in' | 'out'; bytes: string }[];
}

const capture = JSON.parse(readFileSync(new URL('./fixtures/wireguard-go-capture.json', import.meta.url), 'utf8')) as Capture;
const hex = (text: string) => new Uint8Array(Buffer.from(text, 'hex'));
const WG_GO_ENDPOINT = { address: '198.19.0.2', port: 51820 };

function ourDevice(options: { random?: (n: number) => Uint8Array; wallClock?: () => number } = {}) {
  const counters = new Counters();
  const device = new Device({ privateKey: decodeKey(OUR_PRIVATE_KEY), counters, ...options });
  device.addPeer({
    publicKey: publicKeyFromPrivate(decodeKey(WG_GO_PRIVATE_KEY)),
    allowedIps: [parseCidr(`${capture.wgTunnel}/32`)],
    endpoint: WG_GO_ENDPOINT,
  });
  return { device, counters };
}

describe('captured wireguard-go traffic', () => {
  it('a wireguard-go initiation has the whitepaper layout and we answer it', () => {
    const bytes = hex(capture.wgGoInitiation);
    assert.equal(bytes.length, 148);
    assert.equal(checkMessage(bytes), 1);
    assert.deepEqual([...bytes.subarray(1, 4)], [0, 0, 0]);
    assert.deepEqual([...parseInitiation(bytes).mac2], new Array(16).fill(0), 'no cookie, so mac2 is zero');
    const { device, counters } = ourDevice();
    const out = device.receive(0, WG_GO_ENDPOINT, bytes);
    assert.equal(out.length, 1);
    assert.equal(out[0]!.kind === 'toNetwork' && out[0]!.bytes.length, 92);
    assert.deepEqual(counters.snapshot(), { 'wg.handshake_response_sent': 1 });
  });

  it('replays our initiation byte for byte and completes the handshake with wireguard-go\'s response', () => {
    const { device, counters } = ourDevice({ random: seededRandom(INITIATOR_SEED), wallClock: () => INITIATOR_WALL_CLOCK });
    const [ourInitiation, theirResponse, ourData, theirData] = capture.datagrams;
    assert.deepEqual(capture.datagrams.map((d) => d.dir), ['out', 'in', 'out', 'in']);

    const sent = device.send(0, hex(capture.request));
    assert.equal(sent.length, 1);
    assert.equal(sent[0]!.kind === 'toNetwork' && Buffer.from(sent[0]!.bytes).toString('hex'), ourInitiation!.bytes);

    const afterResponse = device.receive(10, WG_GO_ENDPOINT, hex(theirResponse!.bytes));
    assert.equal(afterResponse.length, 1);
    assert.equal(afterResponse[0]!.kind === 'toNetwork' && Buffer.from(afterResponse[0]!.bytes).toString('hex'), ourData!.bytes);

    const delivered = device.receive(20, WG_GO_ENDPOINT, hex(theirData!.bytes));
    assert.equal(delivered.length, 1);
    const reply = delivered[0]!.kind === 'toTunnel' ? delivered[0]!.packet : undefined;
    assert.ok(reply);
    assert.equal(reply[9], 1, 'ICMP');
    assert.equal(reply[20], 0, 'echo reply');
    assert.equal(Buffer.from(reply.subarray(28)).toString('hex'), capture.request.slice(56), 'echo data returned');
    assert.equal(counters.get('wg.handshake_completed'), 1);
  });

  it('drops the captured data packet when replayed', () => {
    const { device, counters } = ourDevice({ random: seededRandom(INITIATOR_SEED), wallClock: () => INITIATOR_WALL_CLOCK });
    const [, theirResponse, , theirData] = capture.datagrams;
    device.send(0, hex(capture.request));
    device.receive(10, WG_GO_ENDPOINT, hex(theirResponse!.bytes));
    assert.equal(device.receive(20, WG_GO_ENDPOINT, hex(theirData!.bytes)).length, 1);
    assert.equal(device.receive(21, WG_GO_ENDPOINT, hex(theirData!.bytes)).length, 0);
    assert.equal(counters.get('wg.replay'), 1);
  });
});
