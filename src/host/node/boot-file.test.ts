// bootFile: a kernel or initrd file read on demand, at any position; a file that shrank since is an error
// that names it, not a short read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootFile } from './boot-file.js';

test('bootFile reads what is asked where it is asked, and says so when the file shrank', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tvisor-bootfile-'));
  try {
    const path = join(dir, 'initrd');
    const data = new Uint8Array(100_000).map((_, i) => (i * 7) & 0xff);
    writeFileSync(path, data);
    const f = bootFile(path);
    assert.equal(f.size, 100_000);
    const into = new Uint8Array(5000);
    f.read(into, 90_000);
    assert.deepEqual(into, data.subarray(90_000, 95_000));
    truncateSync(path, 1000);
    assert.throws(() => f.read(into, 0), /initrd is shorter than when the VM was set up \(100000 bytes\)/);
    assert.throws(() => bootFile(join(dir, 'missing'), { label: 'initrd' }), /initrd .*missing: no such file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bootFile re-checks at every read: a file replaced, or swapped for a symlink out of the allowed directories, is refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tvisor-bootfile-'));
  try {
    const allowed = join(dir, 'allowed');
    mkdirSync(allowed);
    writeFileSync(join(dir, 'outside'), new Uint8Array(4096).fill(1));
    const path = join(allowed, 'kernel');
    writeFileSync(path, new Uint8Array(4096));
    const f = bootFile(path, { label: 'kernel', allowedDirs: [allowed] });
    const into = new Uint8Array(16);
    f.read(into, 0);
    writeFileSync(join(allowed, 'other'), new Uint8Array(4096));
    renameSync(join(allowed, 'other'), path);
    assert.throws(() => f.read(into, 0), /kernel .* was replaced by another file/);
    rmSync(path);
    symlinkSync(join(dir, 'outside'), path);
    assert.throws(() => f.read(into, 0), /kernel .*: is a symbolic link/);
    assert.throws(() => bootFile(path, { label: 'kernel', allowedDirs: [allowed] }), /is a symbolic link/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
