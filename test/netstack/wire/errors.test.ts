import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WIRE_ERROR_CODES, WireError, counterName } from '../../../netstack/wire/errors.js';

describe('WireError', () => {
  it('carries a stable code and maps it to a counter name', () => {
    const e = new WireError('IPV4_BAD_CHECKSUM', 'detail');
    assert.ok(e instanceof Error);
    assert.equal(e.code, 'IPV4_BAD_CHECKSUM');
    assert.equal(e.name, 'WireError');
    assert.equal(counterName(e.code), 'ipv4.bad_checksum');
    assert.equal(counterName('IP_BAD_VERSION'), 'ip.bad_version');
    assert.equal(counterName('X'), 'x');
  });

  it('has unique codes, all upper snake case', () => {
    assert.equal(new Set(WIRE_ERROR_CODES).size, WIRE_ERROR_CODES.length);
    for (const code of WIRE_ERROR_CODES) assert.match(code, /^[A-Z0-9]+(_[A-Z0-9]+)+$/);
  });
});
