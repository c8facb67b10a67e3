// The snapshot file's CRC-32: the check value of the standard ("123456789" → 0xcbf43926), and the same result as
// the byte-at-a-time definition for every length and content.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { crc32 } from './file.js';

/** CRC-32 by its definition: bit by bit, reflected polynomial 0xedb88320. */
function reference(bytes: Uint8Array): number {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

test('crc32: the standard check value, the empty input, and the definition for any input', () => {
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
  fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), fc.nat(7), (bytes, skip) => {
    const view = bytes.subarray(Math.min(skip, bytes.length)); // views not at the start of their buffer too
    assert.equal(crc32(view), reference(view));
  }), { numRuns: 2000 });
});
