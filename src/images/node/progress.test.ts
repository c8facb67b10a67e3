// Tests for download progress output on a terminal and in logs.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createProgress, formatBytes } from './progress.js';

describe('download progress', () => {
  it('rewrites one line on a terminal, then leaves a final log line', () => {
    let t = 0;
    const screen: string[] = [];
    const log: string[] = [];
    const p = createProgress({ label: 'kernel', total: 4 * 2 ** 20, log: (l) => log.push(l), now: () => t,
      tty: { isTTY: true, columns: 80, write: (s) => screen.push(s) } });
    t = 1000;
    p.update(2 ** 20);
    t = 1050;
    p.update(2 * 2 ** 20); // too soon after the last draw: skipped
    t = 2000;
    p.update(3 * 2 ** 20);
    assert.deepEqual(screen, ['\r\x1b[Kkernel: 25% (1.0 MiB of 4.0 MiB, 1.0 MiB/s)', '\r\x1b[Kkernel: 75% (3.0 MiB of 4.0 MiB, 1.5 MiB/s)']);
    t = 4000;
    p.done(4 * 2 ** 20);
    assert.equal(screen.at(-1), '\r\x1b[K');
    assert.deepEqual(log, ['kernel: 4.0 MiB in 4.0 s']);
  });

  it('prints plain periodic lines when not on a terminal', () => {
    let t = 0;
    const log: string[] = [];
    const p = createProgress({ label: 'pkg', log: (l) => log.push(l), now: () => t, interval: 5000, tty: { isTTY: false, write: () => assert.fail('no tty output') } });
    for (t = 0; t <= 12_000; t += 500) p.update(t * 100); // 100 bytes per millisecond
    p.done(1_250_000);
    assert.deepEqual(log, [
      'pkg: 488.3 KiB (97.7 KiB/s)', // at 5 s
      'pkg: 976.6 KiB (97.7 KiB/s)', // at 10 s
      'pkg: 1.2 MiB in 12.5 s',
    ]);
  });

  it('ends a drawn line before an error', () => {
    const screen: string[] = [];
    let t = 0;
    const p = createProgress({ label: 'x', log: () => {}, now: () => t, tty: { isTTY: true, write: (s) => screen.push(s) } });
    t = 500;
    p.update(10);
    p.fail();
    assert.equal(screen.at(-1), '\n');
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(3 * 2 ** 30), '3.00 GiB');
  });
});
