// Tests for the newc cpio writer and reader: exact header bytes, round trips, and the host's GNU cpio as an
// independent reader of what we write.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { lstatSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CpioError, readCpio, S_IFCHR, S_IFDIR, S_IFLNK, S_IFREG, writeCpio, type CpioEntry } from './cpio.js';
import { tempDir } from '../../tests/lib/toolchain.js';

const enc = new TextEncoder();

function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

const SAMPLE: CpioEntry[] = [
  { name: 'bin', mode: S_IFDIR | 0o755 },
  { name: 'bin/a', mode: S_IFREG | 0o644, data: bytes(1, 1), mtime: 1_700_000_000 },
  { name: 'bin/bb', mode: S_IFREG | 0o755, data: bytes(2, 2) },
  { name: 'bin/ccc', mode: S_IFREG | 0o600, data: bytes(3, 3), uid: 1000, gid: 100 },
  { name: 'bin/dddd', mode: S_IFREG | 0o644, data: bytes(4, 4) },
  { name: 'bin/empty', mode: S_IFREG | 0o644 },
  { name: 'bin/big', mode: S_IFREG | 0o644, data: bytes(70_001, 5) },
  { name: 'bin/sh', mode: S_IFLNK | 0o777, data: enc.encode('big') },
  { name: 'dev', mode: S_IFDIR | 0o755 },
  { name: 'dev/console', mode: S_IFCHR | 0o600, rdevMajor: 5, rdevMinor: 1 },
  { name: 'a-name-with-an-odd-length-x', mode: S_IFREG | 0o644, data: enc.encode('hello\n') },
];

describe('cpio newc writer', () => {
  it('writes the exact newc header, name padding and trailer', () => {
    const out = writeCpio([{ name: 'init', mode: S_IFREG | 0o755, data: enc.encode('abc'), mtime: 0x1234 }]);
    const text = new TextDecoder('latin1').decode(out);
    // 110-byte header + "init\0" = 115, padded to 116; data 3 bytes padded to 4.
    const header =
      '070701' + '00000001' + '000081ed' + '00000000' + '00000000' + '00000001' + '00001234' + '00000003' +
      '00000000' + '00000000' + '00000000' + '00000000' + '00000005' + '00000000';
    assert.equal(text.slice(0, 110), header);
    assert.equal(text.slice(110, 116), 'init\0\0');
    assert.equal(text.slice(116, 120), 'abc\0');
    assert.equal(text.slice(120, 126), '070701');
    assert.ok(text.slice(120).includes('TRAILER!!!\0'));
    assert.equal(out.length % 4, 0);
  });

  it('reads back every field it writes', () => {
    const entries = readCpio(writeCpio(SAMPLE));
    assert.equal(entries.length, SAMPLE.length);
    entries.forEach((e, i) => {
      const s = SAMPLE[i];
      assert.equal(e.name, s.name);
      assert.equal(e.mode, s.mode);
      assert.equal(e.uid, s.uid ?? 0);
      assert.equal(e.gid, s.gid ?? 0);
      assert.equal(e.mtime, s.mtime ?? 0);
      assert.equal(e.rdevMajor, s.rdevMajor ?? 0);
      assert.equal(e.rdevMinor, s.rdevMinor ?? 0);
      assert.equal(e.ino, i + 1);
      assert.deepEqual(e.data, s.data ?? new Uint8Array(0));
    });
  });

  it('normalizes names and rejects unsafe or unsupported entries', () => {
    assert.equal(readCpio(writeCpio([{ name: '/./x//y', mode: S_IFREG | 0o644 }]))[0].name, 'x/y');
    assert.throws(() => writeCpio([{ name: '../etc', mode: S_IFREG | 0o644 }]), CpioError);
    assert.throws(() => writeCpio([{ name: '/', mode: S_IFDIR | 0o755 }]), CpioError);
    assert.throws(() => writeCpio([{ name: 'fifo', mode: 0o010644 }]), /unsupported file type/);
    assert.throws(() => writeCpio([{ name: 'd', mode: S_IFDIR | 0o755, data: enc.encode('x') }]), CpioError);
    assert.throws(() => writeCpio([{ name: 'TRAILER!!!', mode: S_IFREG | 0o644 }]), /reserved/);
  });

  it('rejects damaged archives', () => {
    const good = writeCpio(SAMPLE);
    assert.throws(() => readCpio(good.subarray(0, 200)), /truncated/);
    const bad = good.slice();
    bad[0] = 0x31;
    assert.throws(() => readCpio(bad), /bad magic/);
    assert.throws(() => readCpio(new Uint8Array(0)), CpioError);
  });

  const hasCpio = spawnSync('cpio', ['--version']).status === 0;
  it('is read by the host cpio (GNU cpio as an external oracle)', { skip: hasCpio ? false : 'no cpio on this host' }, () => {
    const dir = tempDir('tvisor-cpio-');
    try {
      const archive = writeCpio(SAMPLE);
      writeFileSync(join(dir, 'a.cpio'), archive);
      // Listing: types, permissions and device numbers as cpio sees them.
      const list = spawnSync('cpio', ['-itv', '--quiet', '-F', join(dir, 'a.cpio')], { encoding: 'utf8' });
      assert.equal(list.status, 0, list.stderr);
      const lines = list.stdout.trim().split('\n');
      assert.equal(lines.length, SAMPLE.length);
      assert.match(lines[0], /^drwxr-xr-x .* bin$/);
      assert.match(lines.find((l) => l.endsWith(' bin/bb'))!, /^-rwxr-xr-x /);
      assert.match(lines.find((l) => l.includes('bin/sh'))!, /^lrwxrwxrwx .* bin\/sh -> big$/);
      assert.match(lines.find((l) => l.endsWith(' dev/console'))!, /^crw------- .* 5,\s*1 /);
      // Extraction of everything but the device node (which needs privileges): contents must match.
      const out = join(dir, 'x');
      const extract = spawnSync('sh', ['-c', `mkdir ${out} && cd ${out} && cpio -idm --quiet --no-absolute-filenames -F ../a.cpio 'bin/*' 'a-*'`], {
        encoding: 'utf8',
      });
      assert.equal(extract.status, 0, extract.stderr);
      for (const e of SAMPLE) {
        if (!e.name.startsWith('bin/') && !e.name.startsWith('a-')) continue;
        const path = join(out, e.name);
        if ((e.mode & 0o170000) === S_IFLNK) {
          assert.equal(readlinkSync(path), new TextDecoder().decode(e.data));
          continue;
        }
        assert.deepEqual(new Uint8Array(readFileSync(path)), e.data ?? new Uint8Array(0), e.name);
        assert.equal(lstatSync(path).mode & 0o7777, e.mode & 0o7777, e.name);
      }
      assert.equal(lstatSync(join(out, 'bin/a')).mtimeMs, 1_700_000_000_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
