// Booting a disk from its /boot (boot-disk.ts): real ext4 images made by mke2fs -d from a tree, read through a
// ByteSource as `tvisor run --disk` reads them.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { diskBootCmdline, findDiskBoot } from './boot-disk.js';
import type { ByteSource } from './ext4.js';
import { ImageError } from './errors.js';
import { e2fsTool, tempDir } from '../../tests/lib/toolchain.js';

const MKE2FS = e2fsTool('mke2fs');
const UUID = '0b5c7e4a-2d1f-4c3b-9a8e-7f6d5c4b3a21';

function source(bytes: Uint8Array): ByteSource {
  return { size: bytes.length, read: (offset, length) => bytes.subarray(offset, offset + length) };
}

describe('a disk booted from its /boot', { skip: MKE2FS ? false : 'mke2fs (e2fsprogs) is not installed' }, () => {
  const work = tempDir('tvisor-boot-disk-');
  after(() => rmSync(work, { recursive: true, force: true }));
  let n = 0;

  /** An ext4 image of a tree: `files` maps paths to contents (a string starting with '->' makes a symlink). */
  function image(files: Record<string, string | Uint8Array>): Uint8Array {
    const root = join(work, `tree${++n}`);
    mkdirSync(root);
    for (const [path, data] of Object.entries(files)) {
      const full = join(root, path);
      mkdirSync(join(full, '..'), { recursive: true });
      if (path.endsWith('/')) continue;
      if (typeof data === 'string' && data.startsWith('->')) symlinkSync(data.slice(2), full);
      else writeFileSync(full, data);
    }
    const out = join(work, `disk${n}.img`);
    const made = spawnSync(MKE2FS!, ['-q', '-F', '-t', 'ext4', '-U', UUID, '-d', root, out, '8M']);
    assert.equal(made.status, 0, made.stderr.toString());
    return readFileSync(out);
  }

  it('takes the newest kernel (by Debian version order) with its initrd, and the root UUID', async () => {
    const disk = image({
      'boot/vmlinux-6.1.0-9-riscv64': 'old kernel',
      'boot/initrd.img-6.1.0-9-riscv64': 'old initrd',
      'boot/vmlinux-6.12.117+deb13-riscv64': 'new kernel',
      'boot/initrd.img-6.12.117+deb13-riscv64': 'new initrd',
      'boot/vmlinux-6.12.9+deb13-riscv64': 'older than .117',
      'boot/config-6.12.117+deb13-riscv64': 'not a kernel',
      'vmlinux': '->boot/vmlinux-6.12.117+deb13-riscv64',
      'etc/fstab': 'UUID=… / ext4 defaults 0 1\n',
    });
    const boot = await findDiskBoot(source(disk), 'debian.img');
    assert.ok(boot);
    assert.equal(boot.version, '6.12.117+deb13-riscv64');
    assert.equal(boot.kernelPath, '/boot/vmlinux-6.12.117+deb13-riscv64');
    assert.equal(new TextDecoder().decode(boot.kernel), 'new kernel');
    assert.equal(boot.initrdPath, '/boot/initrd.img-6.12.117+deb13-riscv64');
    assert.equal(new TextDecoder().decode(boot.initrd), 'new initrd');
    assert.equal(boot.uuid, UUID);
    assert.deepEqual(boot.warnings, []);
    assert.equal(diskBootCmdline(boot, 'ttyS0'), `console=ttyS0 root=UUID=${UUID} ro`);
  });

  it('decompresses a gzip-compressed kernel (vmlinuz), and boots without an initrd when there is none, saying so', async () => {
    const kernel = new Uint8Array(4096).map((_, i) => i * 7);
    const boot = await findDiskBoot(source(image({ 'boot/vmlinuz-6.6.1': gzipSync(kernel) })), 'd.img');
    assert.ok(boot);
    assert.deepEqual(boot.kernel, kernel);
    assert.equal(boot.initrd, undefined);
    assert.match(boot.warnings.join('\n'), /no \/boot\/initrd\.img-6\.6\.1 beside \/boot\/vmlinuz-6\.6\.1; booting the kernel without an initrd/);
  });

  it('is null for a data disk (no file system, or no /boot) and an error for a /boot without a kernel', async () => {
    assert.equal(await findDiskBoot(source(new Uint8Array(1 << 20)), 'zero.img'), null);
    assert.equal(await findDiskBoot(source(image({ 'data/file': 'x' })), 'data.img'), null);
    await assert.rejects(
      findDiskBoot(source(image({ 'boot/config-6.12': 'x', 'boot/grub/': '' })), 'nokernel.img'),
      (e: Error) => e instanceof ImageError &&
        /^nokernel\.img has no kernel in \/boot \(vmlinux-VERSION or vmlinuz-VERSION\): install one in the guest \(apt-get install linux-image-riscv64\), or boot it with --kernel and --initrd$/.test(e.message),
    );
    // a file system it cannot read (here: the meta_bg layout flag set) is an error, not a data disk
    const odd = image({ 'boot/vmlinux-1': 'k' });
    odd[1024 + 0x60] |= 0x10;
    await assert.rejects(findDiskBoot(source(odd), 'meta.img'), /^ImageError: meta\.img: cannot read its file system's \/boot: the meta_bg group descriptor layout/);
    // a kernel name that is a directory or a dangling link is no kernel
    await assert.rejects(findDiskBoot(source(image({ 'boot/vmlinux-1/': '', 'boot/vmlinux-2': '->/nowhere' })), 'odd.img'), ImageError);
  });
});
