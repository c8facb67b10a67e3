// Tests of openConfined on real files: symlinked parents, symlinked files (also swapped in after a first
// open), hard links, FIFOs, directories, missing files, overlays created in a symlinked directory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { checkConfined, FileRefused, openConfined, type RefusalKind } from './confined-open.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tvisor-confined-'));
process.on('exit', () => fs.rmSync(root, { recursive: true, force: true }));
const allowed = path.join(root, 'allowed');
const outside = path.join(root, 'outside');
fs.mkdirSync(allowed);
fs.mkdirSync(outside);
fs.writeFileSync(path.join(allowed, 'kernel'), 'k');
fs.writeFileSync(path.join(outside, 'secret'), 's');

const opts = { label: 'kernel', allowedDirs: [allowed] };

function refused(kind: RefusalKind, pattern: RegExp, fn: () => unknown): void {
  assert.throws(fn, (e: unknown) => e instanceof FileRefused && e.kind === kind && pattern.test(e.message));
}

function opens(file: string, o = opts): void {
  const f = openConfined(file, o);
  fs.closeSync(f.fd);
}

test('a regular file beneath an allowed directory opens; the fd is its own', () => {
  const f = openConfined(path.join(allowed, 'kernel'), opts);
  assert.equal(fs.readFileSync(f.fd, 'utf8'), 'k');
  assert.equal(f.created, false);
  fs.closeSync(f.fd);
});

test('an allowed directory reached through a symlink counts as itself', () => {
  const link = path.join(root, 'allowed-link');
  fs.symlinkSync(allowed, link);
  opens(path.join(link, 'kernel'));
  opens(path.join(allowed, 'kernel'), { label: 'kernel', allowedDirs: [link] });
});

test('a symlinked parent directory leading outside is refused', () => {
  fs.symlinkSync(outside, path.join(allowed, 'escape'));
  refused('outside', /escape\/secret: its directory leads through a symbolic link outside the allowed directories \(.*allowed\)$/, () => opens(path.join(allowed, 'escape', 'secret')));
});

test('a symlink as the last component is refused, inside or out; without confinement it is followed', () => {
  fs.symlinkSync(path.join(outside, 'secret'), path.join(allowed, 'link-out'));
  fs.symlinkSync(path.join(allowed, 'kernel'), path.join(allowed, 'link-in'));
  refused('symlink', /link-out: is a symbolic link/, () => opens(path.join(allowed, 'link-out')));
  refused('symlink', /link-in: is a symbolic link/, () => opens(path.join(allowed, 'link-in')));
  opens(path.join(allowed, 'link-out'), { label: 'kernel' } as typeof opts);
});

test('a file swapped for a symlink after a first successful open is refused at the next open', () => {
  const p = path.join(allowed, 'swapped');
  fs.writeFileSync(p, 'x');
  opens(p);
  fs.rmSync(p);
  fs.symlinkSync(path.join(outside, 'secret'), p);
  refused('symlink', /swapped: is a symbolic link/, () => opens(p));
  refused('symlink', /swapped/, () => openConfined(p, { ...opts, write: true }));
  assert.equal(fs.readFileSync(path.join(outside, 'secret'), 'utf8'), 's', 'the file outside is untouched');
});

test('a hard link is refused with a hint to copy the file', () => {
  const p = path.join(allowed, 'hard');
  fs.linkSync(path.join(outside, 'secret'), p);
  refused('hardlink', /hard: has 2 hard links.*copy it/, () => opens(p));
  // tvisor run (no allowed directories) has no reason to care
  opens(p, { label: 'kernel' } as typeof opts);
});

test('a FIFO is refused at once, by type, without waiting for a writer', { skip: process.platform === 'win32' }, () => {
  const p = path.join(allowed, 'fifo');
  assert.equal(spawnSync('mkfifo', [p]).status, 0);
  const t0 = performance.now();
  refused('type', /fifo: is a FIFO \(named pipe\), not a regular file/, () => opens(p));
  refused('type', /is a FIFO/, () => openConfined(p, { ...opts, write: true }));
  refused('type', /is a FIFO/, () => opens(p, { label: 'kernel' } as typeof opts));
  assert.ok(performance.now() - t0 < 5000);
});

test('directories and devices are refused by type', () => {
  fs.mkdirSync(path.join(allowed, 'sub'));
  refused('type', /sub: is a directory/, () => opens(path.join(allowed, 'sub')));
  refused('type', /is a character device/, () => opens('/dev/null', { label: 'kernel' } as typeof opts));
  refused('outside', /null: it is not under the allowed directories/, () => opens('/dev/null'));
});

test('a missing file, or one in a missing directory, is refused as missing', () => {
  refused('missing', /kernel .*nothing: no such file/, () => opens(path.join(allowed, 'nothing')));
  refused('missing', /no such file \(its directory .* does not exist\)/, () => opens(path.join(allowed, 'nodir', 'x')));
});

test('a file to create (overlay) is created only beneath an allowed directory, never through a symlink', () => {
  const o = { label: 'disk overlay', allowedDirs: [allowed], write: true, create: true };
  const p = path.join(allowed, 'new.ovl');
  checkConfined(p, o); // a missing file that may be created passes the check
  assert.ok(!fs.existsSync(p), 'the check creates nothing');
  const f = openConfined(p, o);
  assert.equal(f.created, true);
  fs.closeSync(f.fd);
  // a directory symlinked out of the allowed ones: nothing is created outside
  refused('outside', /outside the allowed directories/, () => openConfined(path.join(allowed, 'escape', 'x.ovl'), o));
  refused('outside', /outside the allowed directories/, () => checkConfined(path.join(allowed, 'escape', 'x.ovl'), o));
  assert.ok(!fs.existsSync(path.join(outside, 'x.ovl')));
  // a dangling symlink as the overlay's name: O_EXCL refuses to create through it
  fs.symlinkSync(path.join(outside, 'dangling.ovl'), path.join(allowed, 'dangling.ovl'));
  assert.throws(() => openConfined(path.join(allowed, 'dangling.ovl'), o), FileRefused);
  assert.ok(!fs.existsSync(path.join(outside, 'dangling.ovl')));
});
