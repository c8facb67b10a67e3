// Tests for the root disk builder (`tvisor image build`): a disk made from the cached default guest and read
// back with e2fsprogs' debugfs and e2fsck, its failure modes, and the resolution of package dependencies.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ImageError } from '../errors.js';
import { diskInitScript } from '../initramfs.js';
import { buildDiskImage, DISK_LABEL, estimateDiskSize, PackageIndex, resolvePackageSet } from './disk.js';
import { ensureDefaultGuest, readGuestParts, type GuestImage } from './guest.js';
import { e2fsTool, tempDir } from '../../../tests/lib/toolchain.js';


const MKE2FS = e2fsTool('mke2fs');
const DEBUGFS = e2fsTool('debugfs') ?? 'debugfs';
const E2FSCK = e2fsTool('e2fsck') ?? 'e2fsck';

/** Runs a debugfs request on an image (read-only) and returns its output. */
function debugfs(image: string, request: string): string {
  const r = spawnSync(DEBUGFS, ['-R', request, image], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

/** `ls -l` of a directory in the image: name → [mode (octal text), size]. */
function listing(image: string, dir: string): Map<string, { mode: string; size: number }> {
  const out = new Map<string, { mode: string; size: number }>();
  for (const line of debugfs(image, `ls -l ${dir}`).split('\n')) {
    // "     12  120777 (7)      0      0       7 26-Nov-2025 10:02 bin"
    const m = /^\s*\d+\s+([0-7]+)\s+\(\d+\)\s+\d+\s+\d+\s+(\d+)\s+\S+\s+\S+\s+(.+)$/.exec(line);
    if (m) out.set(m[3], { mode: m[1], size: Number(m[2]) });
  }
  return out;
}

function fsck(image: string): void {
  const r = spawnSync(E2FSCK, ['-fn', image], { encoding: 'utf8' });
  assert.equal(r.status, 0, `e2fsck -fn: ${r.stdout}${r.stderr}`);
}

describe('image build: the root disk', { skip: MKE2FS ? false : 'mke2fs is not installed (apt-get install e2fsprogs)' }, () => {
  let guest: GuestImage;
  let dir = '';
  const log: string[] = [];
  const opts = (extra: Partial<Parameters<typeof buildDiskImage>[0]> = {}) => ({
    output: join(dir, 'root.img'),
    size: 64 << 20,
    log: (line: string) => log.push(line),
    ...extra,
  });
  /** Files in the output directory other than `expected`: a failed build must leave no temp file. */
  const leftovers = (...expected: string[]): string[] => readdirSync(dir).filter((f) => !expected.includes(f));

  before(async () => {
    guest = await ensureDefaultGuest({ log: (line) => process.stderr.write(`# ${line}\n`) });
    dir = tempDir('tvisor-disk-test-');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('builds an ext4 root with busybox, /sbin/init, the modules and /etc', async () => {
    const image = await buildDiskImage(opts());
    assert.equal(image.path, join(dir, 'root.img'));
    assert.equal(statSync(image.path).size, 64 << 20);
    assert.deepEqual(leftovers('root.img'), []);
    fsck(image.path);
    assert.match(debugfs(image.path, 'stats'), new RegExp(`Filesystem volume name:\\s+${DISK_LABEL}\\n`));

    const root = listing(image.path, '/');
    for (const link of ['bin', 'sbin', 'lib']) assert.equal(root.get(link)?.mode, '120777', `/${link} is a symlink`);
    for (const d of ['dev', 'etc', 'proc', 'sys', 'run', 'usr', 'var', 'home', 'mnt']) assert.equal(root.get(d)?.mode, '40755', `/${d}`);
    assert.equal(root.get('root')?.mode, '40700');
    assert.equal(root.get('tmp')?.mode, '41777');
    assert.equal(listing(image.path, '/var').get('tmp')?.mode, '41777');

    const parts = await readGuestParts(guest);
    const bin = listing(image.path, '/usr/bin');
    assert.deepEqual(bin.get('busybox'), { mode: '100755', size: parts.busybox.length });
    assert.equal(bin.get('sh')?.mode, '120777');
    assert.equal(debugfs(image.path, 'cat /usr/sbin/init'), diskInitScript(guest.kernelVersion));
    assert.equal(listing(image.path, '/usr/sbin').get('init')?.mode, '100755');

    const moddir = `/usr/lib/modules/${guest.kernelVersion}`;
    const modules = listing(image.path, moddir);
    for (const m of parts.modules) assert.equal(modules.get(`${m.name}.ko`)?.size, m.data.length, m.name);
    assert.equal(debugfs(image.path, `cat ${moddir}/load-order`), parts.modules.map((m) => `${m.name}.ko\n`).join(''));

    const dev = listing(image.path, '/dev');
    assert.equal(dev.get('console')?.mode, '20600');
    assert.equal(dev.get('null')?.mode, '20666');
    assert.match(debugfs(image.path, 'stat /dev/console'), /Device major\/minor number: 05:01/);

    assert.equal(debugfs(image.path, 'cat /etc/hostname'), 'tvisor\n');
    assert.match(debugfs(image.path, 'cat /etc/passwd'), /^root:x:0:0:root:\/root:\/bin\/sh$/m);
    assert.match(debugfs(image.path, 'cat /etc/group'), /^tty:x:5:$/m);
    assert.match(debugfs(image.path, 'cat /etc/fstab'), new RegExp(`^LABEL=${DISK_LABEL}\\s+/\\s+ext4\\s+rw`, 'm'));
    for (const line of debugfs(image.path, 'ls -l /usr/bin').split('\n')) {
      const owner = /^\s*\d+\s+[0-7]+\s+\(\d+\)\s+(\d+)\s+(\d+)/.exec(line);
      if (owner) assert.deepEqual([owner[1], owner[2]], ['0', '0'], line);
    }
  });

  it('refuses to replace an existing file unless forced', async () => {
    const output = join(dir, 'precious.img');
    writeFileSync(output, 'keep me');
    await assert.rejects(buildDiskImage(opts({ output, size: 32 << 20 })), (e: Error) => {
      assert.ok(e instanceof ImageError);
      assert.match(e.message, /precious\.img already exists; pass --force to replace it$/);
      return true;
    });
    assert.equal(readFileSync(output, 'utf8'), 'keep me');
    await buildDiskImage(opts({ output, size: 32 << 20, force: true }));
    assert.equal(statSync(output).size, 32 << 20);
    fsck(output);
    await assert.rejects(buildDiskImage(opts({ output: dir, force: true })), /is a directory/);
    rmSync(output);
  });

  it('says how much room the files need when the size is too small, and leaves nothing behind', async () => {
    const output = join(dir, 'small.img');
    const before = readdirSync(dir);
    let suggested = 0;
    for (const size of [2 << 20, 12 << 20]) {
      // 2M is below what the files take (checked before mke2fs runs); 12M leaves ext4 no room (mke2fs fails).
      await assert.rejects(buildDiskImage(opts({ output, size })), (e: Error) => {
        assert.ok(e instanceof ImageError);
        const m = /^a \d+\.\d MiB disk is too small: the files take \d+\.\d MiB \(\d+ inodes\) .*; use --disk (\d+)M or more$/.exec(e.message);
        assert.ok(m, e.message);
        suggested = Number(m[1]);
        return true;
      });
      assert.deepEqual(readdirSync(dir).sort(), before.sort(), 'a failed build left files behind');
    }
    // The advice is enough.
    await buildDiskImage(opts({ output, size: suggested * 2 ** 20 }));
    fsck(output);
    rmSync(output);
  });

  it('fails clearly without mke2fs or an output directory', async () => {
    const empty = join(dir, 'no-tools');
    mkdirSync(empty);
    const output = join(dir, 'none.img');
    await assert.rejects(
      buildDiskImage(opts({ output, toolDirs: [empty] })),
      (e: Error) => e instanceof ImageError && /^mke2fs not found in .*no-tools; install e2fsprogs: apt-get install e2fsprogs$/.test(e.message),
    );
    await assert.rejects(buildDiskImage(opts({ output: join(dir, 'missing', 'x.img') })), /the directory .*missing does not exist/);
    assert.deepEqual(leftovers('root.img', 'no-tools'), []);
    rmSync(empty, { recursive: true });
  });
});

describe('image build: size estimate', () => {
  it('grows with the files and covers the journal and inode tables', () => {
    // mke2fs needs 14M for the default guest's 11.6 MB of files (1 KiB blocks, 1 MiB journal).
    const guestFiles = estimateDiskSize(11.6e6, 60);
    assert.ok(guestFiles >= 14 << 20 && guestFiles <= 20 << 20, `${guestFiles}`);
    const big = estimateDiskSize(900 * 2 ** 20, 40000);
    assert.ok(big > 900 * 2 ** 20 + 64 * 2 ** 20 && big < 1200 * 2 ** 20, `${big}`);
    assert.ok(estimateDiskSize(1000, 1000) > estimateDiskSize(1000, 10), 'inodes count too');
  });
});

describe('image build: package dependencies', () => {
  const stanza = (name: string, fields: Record<string, string> = {}): string =>
    [
      `Package: ${name}`,
      'Version: 1.0-1',
      'Architecture: riscv64',
      ...Object.entries(fields).map(([k, v]) => `${k}: ${v}`),
      `Filename: pool/main/${name[0]}/${name}/${name}_1.0-1_riscv64.deb`,
      'Size: 100',
      `SHA256: ${'ab'.repeat(32)}`,
      '',
    ].join('\n');
  const index = new PackageIndex(
    [
      stanza('app', { 'Pre-Depends': 'libc6 (>= 2.36)', Depends: 'libfoo1 | libfoo-alt, mta, awk, missing-thing, editor, libbar1:any' }),
      stanza('libc6', { Depends: 'libgcc-s1' }),
      stanza('libgcc-s1', { Depends: 'libc6 (>= 2.35)' }),
      stanza('libfoo1'),
      stanza('libfoo-alt'),
      stanza('postfix', { Provides: 'mail-transport-agent, mta' }),
      stanza('mawk', { Provides: 'awk' }),
      stanza('gawk', { Provides: 'awk' }),
      stanza('nano', { Provides: 'editor' }),
      stanza('vim', { Provides: 'editor (= 9.1)' }),
      stanza('libbar1'),
      stanza('tool', { Depends: 'editor' }),
      stanza('procps', { Depends: 'libtinfo6' }),
      stanza('libtinfo6'),
      stanza('ncurses-base'),
    ].join('\n') + '\n',
  );

  it('follows Depends and Pre-Depends breadth first, taking the first alternative in the archive', () => {
    const lines: string[] = [];
    const names = resolvePackageSet(index, ['app'], (l) => lines.push(l)).map((r) => r.package);
    // libfoo-alt is not needed once libfoo1 is in; mta has a single provider; awk and editor have several.
    assert.deepEqual(names, ['app', 'libc6', 'libfoo1', 'postfix', 'libbar1', 'libgcc-s1']);
    assert.ok(lines.some((l) => /^warning: app depends on awk, a virtual package with several providers: skipped/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /^warning: app depends on editor, a virtual package/.test(l)));
    assert.ok(lines.some((l) => /^warning: app depends on missing-thing, which is not in the archive: skipped$/.test(l)));
    assert.ok(lines.some((l) => /^note: version constraints in Depends are not checked/.test(l)));
  });

  it('adds the terminal descriptions (ncurses-base) when a package links with libtinfo', () => {
    const lines: string[] = [];
    assert.deepEqual(resolvePackageSet(index, ['procps'], (l) => lines.push(l)).map((r) => r.package), ['procps', 'libtinfo6', 'ncurses-base']);
    assert.deepEqual(lines, ['adding ncurses-base: the terminal descriptions that programs using libtinfo need']);
    assert.deepEqual(resolvePackageSet(index, ['libbar1'], () => {}).map((r) => r.package), ['libbar1'], 'not without libtinfo');
  });

  it('counts a virtual package as met when a chosen package provides it', () => {
    const lines: string[] = [];
    const names = resolvePackageSet(index, ['vim', 'tool'], (l) => lines.push(l)).map((r) => r.package);
    assert.deepEqual(names, ['vim', 'tool']);
    assert.deepEqual(lines, []);
  });

  it('rejects unknown and ambiguous requests, and takes the single provider of a virtual one', () => {
    assert.throws(() => resolvePackageSet(index, ['nonesuch'], () => {}), /there is no package 'nonesuch' in the riscv64 archive/);
    assert.throws(() => resolvePackageSet(index, ['editor'], () => {}), /'editor' is a virtual package provided by nano, vim: name one of them/);
    assert.deepEqual(resolvePackageSet(index, ['mta'], () => {}).map((r) => r.package), ['postfix']);
    const record = index.get('libfoo1')!;
    assert.equal(record.filename, 'pool/main/l/libfoo1/libfoo1_1.0-1_riscv64.deb');
    assert.equal(index.get('mta'), undefined);
  });
});
