// The end-of-panic line is found in console output however it is split (a byte at a time from the UART, in
// chunks from the SBI console), after near misses, and only once it is complete.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PanicDetector } from './panic-detector.js';

const enc = (s: string) => new TextEncoder().encode(s);

// What Debian's kernel printed with 64 MiB of RAM and earlycon=sbi (the memblock allocation before its console).
const PANIC = '[    0.000000] Kernel panic - not syncing: memblocks_present: Failed to allocate 4096 bytes align=0x40\r\n' +
  '[    0.000000] ---[ end Kernel panic - not syncing: memblocks_present: Failed to allocate 4096 bytes align=0x40 ]---\r\n';
const REASON = 'memblocks_present: Failed to allocate 4096 bytes align=0x40';

test('the reason is given once the end line is complete, fed a byte at a time', () => {
  const d = new PanicDetector();
  const bytes = enc(PANIC);
  const found: string[] = [];
  for (let i = 0; i < bytes.length; i++) {
    const r = d.scanByte(bytes[i]);
    if (r !== null) found.push(`${i}:${r}`);
  }
  const end = PANIC.indexOf(' ]---\r\n') + ' ]---'.length;
  assert.deepEqual(found, [`${end}:${REASON}`], 'reported at the carriage return that ends the line, once');
});

test('chunks split anywhere, and near misses of the marker before it', () => {
  // a marker missing its last space, then the real line after an extra dash ("----[ end …")
  const text = '---[ cut here ]---\n---[ end Kernel panic - not syncing:x\n-' + PANIC.slice(PANIC.indexOf('---[ end'));
  for (const size of [1, 3, 7, 64, 4096]) {
    const d = new PanicDetector();
    const bytes = enc(text);
    let reason: string | null = null;
    let hits = 0;
    for (let i = 0; i < bytes.length; i += size) {
      const r = d.scan(bytes.subarray(i, i + size));
      if (r !== null) {
        reason = r;
        hits++;
      }
    }
    assert.equal(hits, 1, `chunks of ${size}`);
    assert.equal(reason, REASON, `chunks of ${size}`);
  }
});

test('ordinary output, an oops and a panic line that never ends report nothing', () => {
  const d = new PanicDetector();
  assert.equal(d.scan(enc('Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100\n')), null);
  assert.equal(d.scan(enc('------------[ cut here ]------------\nWARNING: CPU: 0 PID: 1 at mm/x.c\n---[ end trace 0000000000000000 ]---\n')), null);
  assert.equal(d.scan(enc('---[ end Kernel panic - not syncing: no newline yet ]---')), null);
  assert.equal(d.scan(enc('\n')), 'no newline yet');
  const long = new PanicDetector().scan(enc(`---[ end Kernel panic - not syncing: ${'x'.repeat(1000)} ]---\n`));
  assert.ok(long !== null && long.length <= 240, 'a long reason is cut');
});
