// Tests for the ext2/3/4 reader: images made by e2fsprogs' mke2fs -d from a directory tree, read back through
// a ByteSource and compared with the tree, for each layout the reader supports (ext2/3 block maps, ext4
// extents, 1K/4K/64K blocks, 32/64/128-byte group descriptors, 128/256-byte inodes, inline data, htree
// directories); its refusals; and damaged images, which must read or fail with an Ext4Error, nothing else.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync, closeSync, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, rmSync,
  symlinkSync, writeFileSync, writeSync,
} from 'node:fs';
import { join, posix } from 'node:path';
import fc from 'fast-check';
import { Ext4Error, Ext4Reader, type ByteSource } from './ext4.js';
import { e2fsTool, tempDir } from '../../tests/lib/toolchain.js';

const MKE2FS = e2fsTool('mke2fs');
const DEBUGFS = e2fsTool('debugfs') ?? 'debugfs';
const DUMPE2FS = e2fsTool('dumpe2fs') ?? 'dumpe2fs';
const E2FSCK = e2fsTool('e2fsck') ?? 'e2fsck';
const UUID = '3f1c2a9e-7b44-4d1a-9c0e-5a6b7c8d9e0f';
const LABEL = 'tvisor-root';
const SB = 1024; // the superblock's offset
const LONG_LINK = './'.repeat(30) + 'nested/a/b/file.txt'; // 79 bytes: a slow symlink (or inline data)
const FAR = 65 << 20; // beyond 65804 1K blocks: the triple-indirect block of an ext2/3 map

function random(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** Reads outside the image fail with a plain Error, so a missed bound check cannot pass for an Ext4Error. */
function checkBounds(size: number, offset: number, length: number): void {
  if (!(Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 && length >= 0 && offset + length <= size)) {
    throw new Error(`read outside the image: ${offset}+${length} of ${size}`);
  }
}

function bufferSource(buf: Uint8Array): ByteSource {
  return { size: buf.length, read: (offset, length) => (checkBounds(buf.length, offset, length), buf.subarray(offset, offset + length)) };
}

/** Reads an open file as a raw disk backend would. */
function fileSource(fd: number): ByteSource {
  const size = fstatSync(fd).size;
  return {
    size,
    read(offset, length) {
      checkBounds(size, offset, length);
      const out = new Uint8Array(length);
      return out.subarray(0, readSync(fd, out, 0, length, offset));
    },
  };
}

function run(cmd: string, args: string[], ok: number[] = [0]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  assert.ok(ok.includes(r.status ?? -1), `${cmd} ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** Makes an image of `tree` with mke2fs -d, then has e2fsck -D index its directories (htree, with dir_index). */
function mkfs(image: string, tree: string, args: string[], size = '48M'): string {
  run(MKE2FS!, ['-q', '-F', '-U', UUID, '-L', LABEL, ...args, '-d', tree, image, size]);
  run(E2FSCK, ['-fyD', image], [0, 1]);
  return image;
}

const debugfs = (image: string, request: string): string => run(DEBUGFS, ['-R', request, image]);
const inodeFlags = (image: string, path: string): number => Number(/Flags: (0x[0-9a-f]+)/.exec(debugfs(image, `stat ${path}`))![1]);

/** The byte offset of a path's inode, from debugfs's imap. */
function inodeOffset(image: string, path: string, blockSize: number): number {
  const m = /located at block (\d+), offset (0x[0-9a-f]+)/.exec(debugfs(image, `imap ${path}`))!;
  return Number(m[1]) * blockSize + Number(m[2]);
}

/** Block size and group 0's inode table, from dumpe2fs. */
function layout(image: string): { blockSize: number; inodeSize: number; inodeTable: number; firstBlock: number } {
  const out = run(DUMPE2FS, [image]);
  const field = (re: RegExp): number => Number(re.exec(out)![1]);
  return {
    blockSize: field(/Block size:\s+(\d+)/), inodeSize: field(/Inode size:\s+(\d+)/),
    inodeTable: field(/Inode table at (\d+)/), firstBlock: field(/First block:\s+(\d+)/),
  };
}

/** Blocks holding a path's data or its map (extent tree blocks, indirect blocks), from debugfs. */
function blocksOf(image: string, path: string): { data: number[]; map: number[] } {
  const data = debugfs(image, `blocks ${path}`).trim().split(/\s+/).filter(Boolean).map(Number);
  const map = [...debugfs(image, `stat ${path}`).matchAll(/\((?:ETB\d|IND|DIND|TIND)\):(\d+)/g)].map((m) => Number(m[1]));
  return { data, map };
}

/** The tree every image is made from: files of several sizes, holes, 2000 entries, symlinks of each kind. */
function makeTree(root: string): void {
  for (const d of ['nested/a/b', 'many', 'empty-dir']) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, 'empty'), '');
  writeFileSync(join(root, 'one'), 'x');
  writeFileSync(join(root, 'block1k'), random(1024, 1));
  writeFileSync(join(root, 'block4k'), random(4096, 2));
  writeFileSync(join(root, 'random'), random((3 << 20) + 123, 3));
  writeFileSync(join(root, 'hundred'), random(100, 4));
  writeFileSync(join(root, 'nested/a/b/file.txt'), 'deep file\n');
  chmodSync(join(root, 'block1k'), 0o750);
  chmodSync(join(root, 'one'), 0o600);
  for (let i = 0; i < 2000; i++) writeFileSync(join(root, 'many', `f${String(i).padStart(4, '0')}`), i % 100 ? '' : `file ${i}\n`);
  const fd = openSync(join(root, 'sparse'), 'w');
  writeSync(fd, random(65536, 5), 0, 65536, 0);
  writeSync(fd, random(5000, 6), 0, 5000, 65536 + (1 << 20));
  writeSync(fd, random(3000, 7), 0, 3000, FAR);
  closeSync(fd);
  const frag = openSync(join(root, 'fragmented'), 'w'); // 40 runs of data between holes: more extents than an inode holds
  for (let i = 0; i < 40; i++) writeSync(frag, random(4096, 100 + i), 0, 4096, i * 8192);
  closeSync(frag);
  symlinkSync('/nested/a/b/file.txt', join(root, 'abs'));
  symlinkSync('../../one', join(root, 'nested/a/up'));
  symlinkSync('nested/a', join(root, 'dirlink'));
  symlinkSync(LONG_LINK, join(root, 'long'));
  symlinkSync('loop-b', join(root, 'loop-a'));
  symlinkSync('loop-a', join(root, 'loop-b'));
  symlinkSync('nowhere', join(root, 'dangling'));
}

const same = (a: Uint8Array, b: Uint8Array, what: string): void => assert.ok(Buffer.compare(a, b) === 0, `${what}: contents differ`);

/** Compares the image under `dir` with the host tree: listings, types, modes, sizes, contents, link targets. */
function compareTree(fs: Ext4Reader, root: string, dir: string, skip: Set<string>): void {
  const listed = fs.readdir(dir).filter((e) => !(dir === '/' && e.name === 'lost+found'));
  assert.deepEqual(listed.map((e) => e.name).sort(), readdirSync(join(root, dir)).sort(), dir);
  for (const e of listed) {
    const path = posix.join(dir, e.name);
    if (skip.has(path) || (dir === '/many' && !e.name.endsWith('00'))) continue; // 20 of the 2000 suffice
    const host = lstatSync(join(root, path));
    const st = fs.lstat(path)!;
    assert.equal(st.inode, e.inode, path);
    assert.equal(st.type, e.type, path);
    assert.equal(st.mode & 0o7777, host.mode & 0o7777, path);
    if (host.isDirectory()) {
      assert.equal(st.type, 'directory', path);
      compareTree(fs, root, path, skip);
    } else if (host.isSymbolicLink()) {
      assert.equal(st.type, 'symlink', path);
      assert.equal(fs.readlink(path), readlinkSync(join(root, path)), path);
      assert.equal(st.size, host.size, path);
    } else {
      assert.equal(st.type, 'file', path);
      assert.equal(st.size, host.size, path);
      same(fs.readFile(path), readFileSync(join(root, path)), path);
    }
  }
}

/** Path resolution through every kind of symlink, and the errors of each call. */
function checkPaths(fs: Ext4Reader, root: string): void {
  const file = readFileSync(join(root, 'nested/a/b/file.txt'));
  assert.equal(fs.stat('/')?.inode, 2);
  assert.equal(fs.stat('/')?.type, 'directory');
  assert.equal(fs.stat('/abs')!.inode, fs.stat('/nested/a/b/file.txt')!.inode);
  same(fs.readFile('/abs'), file, '/abs');
  same(fs.readFile('nested/a/../a/b/./file.txt'), file, 'dot-dot path');
  same(fs.readFile('/nested/a/up'), Buffer.from('x'), 'relative link with ..');
  same(fs.readFile('/dirlink/b/file.txt'), file, 'through a directory link');
  assert.deepEqual(fs.readdir('/dirlink'), fs.readdir('/nested/a'));
  assert.equal(fs.lstat('/dirlink')!.type, 'symlink');
  assert.equal(fs.lstat('/dirlink/')!.type, 'directory', 'a trailing slash follows the link');
  assert.throws(() => fs.stat('/loop-a'), (e: Error) => e instanceof Ext4Error && /too many levels of symbolic links/.test(e.message));
  assert.throws(() => fs.readFile('/loop-b/x'), Ext4Error);
  assert.equal(fs.lstat('/loop-a')!.type, 'symlink');
  assert.equal(fs.readlink('/loop-a'), 'loop-b');
  assert.equal(fs.stat('/dangling'), undefined);
  assert.equal(fs.lstat('/dangling')!.type, 'symlink');
  assert.equal(fs.stat('/missing'), undefined);
  assert.equal(fs.stat('/one/x'), undefined);
  assert.equal(fs.stat('/one/'), undefined, 'a trailing slash needs a directory');
  assert.equal(fs.stat('/one/.'), undefined);
  assert.equal(fs.stat('//nested//a/.')?.inode, fs.stat('/nested/a')!.inode);
  assert.throws(() => fs.readFile('/nested'), /is a directory/);
  assert.throws(() => fs.readFile('/missing'), Ext4Error);
  assert.throws(() => fs.readFile('/random', 1000), (e: Error) => e instanceof Ext4Error && /limit of 1000/.test(e.message));
  assert.throws(() => fs.readdir('/one'), (e: Error) => e instanceof Ext4Error && /not a directory/.test(e.message));
  assert.throws(() => fs.readdir('/missing'), Ext4Error);
  assert.throws(() => fs.readlink('/one'), /not a symbolic link/);
  assert.deepEqual(fs.readdir('/empty-dir'), []);
  assert.equal(fs.readdir('/many').length, 2000);
  assert.ok(fs.readdir('/many').every((e) => e.type === 'file'));
}

const CONFIGS: { name: string; args: string[]; blockSize: number; inline?: boolean }[] = [
  { name: 'ext2, 1K blocks, 128-byte inodes, no filetype', args: ['-t', 'ext2', '-b', '1024', '-I', '128', '-O', '^filetype'], blockSize: 1024 },
  { name: 'ext2, 4K blocks', args: ['-t', 'ext2', '-b', '4096'], blockSize: 4096 },
  { name: 'ext3, 1K blocks', args: ['-t', 'ext3', '-b', '1024'], blockSize: 1024 },
  { name: 'ext3, 4K blocks, 128-byte inodes', args: ['-t', 'ext3', '-b', '4096', '-I', '128'], blockSize: 4096 },
  { name: 'ext4, 1K blocks, ^64bit', args: ['-t', 'ext4', '-b', '1024', '-O', '^64bit'], blockSize: 1024 },
  { name: 'ext4, 4K blocks, 64bit', args: ['-t', 'ext4', '-b', '4096', '-O', '64bit'], blockSize: 4096 },
  { name: 'ext4, 4K blocks, ^64bit, 128-byte inodes', args: ['-t', 'ext4', '-b', '4096', '-O', '^64bit', '-I', '128'], blockSize: 4096 },
  { name: 'ext4, 1K blocks, 64bit, 128-byte descriptors', args: ['-t', 'ext4', '-b', '1024', '-O', '64bit', '-E', 'desc_size=128'], blockSize: 1024 },
  { name: 'ext4, 4K blocks, inline_data', args: ['-t', 'ext4', '-b', '4096', '-O', 'inline_data'], blockSize: 4096, inline: true },
  { name: 'ext4, 64K blocks', args: ['-t', 'ext4', '-b', '65536', '-N', '8192'], blockSize: 65536 },
];

describe('ext4 reader: images made by mke2fs', { skip: MKE2FS ? false : 'mke2fs is not installed (apt-get install e2fsprogs)' }, () => {
  let dir = '';
  let tree = '';
  before(() => {
    dir = tempDir('tvisor-ext4-test-');
    tree = join(dir, 'tree');
    makeTree(tree);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const config of CONFIGS) {
    it(`reads ${config.name}`, () => {
      const image = mkfs(join(dir, 'fs.img'), tree, config.args);
      const fd = openSync(image, 'r');
      try {
        // 2000 short names fit one 64K block, and a one-block directory needs no index.
        if (config.blockSize < 65536) assert.ok(inodeFlags(image, '/many') & 0x1000, '/many is an htree directory (EXT4_INDEX_FL)');
        assert.ok(Number(/Blockcount: (\d+)/.exec(debugfs(image, 'stat /sparse'))![1]) * 512 < FAR / 2, '/sparse has holes');
        const fs = Ext4Reader.open(fileSource(fd));
        assert.equal(fs.uuid, UUID);
        assert.equal(fs.label, LABEL);
        assert.equal(fs.blockSize, config.blockSize);
        assert.equal(fs.needsRecovery, false);
        // With inline_data, mke2fs keeps a 63-byte symlink and a 100-byte file in the inode, past i_block.
        const skip = new Set(config.inline ? ['/long', '/hundred'] : []);
        compareTree(fs, tree, '/', skip);
        checkPaths(fs, tree);
        if (config.inline) {
          assert.ok(inodeFlags(image, '/nested/a') & 0x10000000, '/nested/a is an inline directory');
          assert.throws(() => fs.readFile('/hundred'), (e: Error) => e instanceof Ext4Error && /100 bytes of inline data/.test(e.message));
          assert.throws(() => fs.readlink('/long'), /inline data/);
        } else {
          same(fs.readFile('/long'), readFileSync(join(tree, 'nested/a/b/file.txt')), 'slow symlink');
        }
        if (config.blockSize === 65536) {
          // With 64K blocks a rec_len of 65535 or 0 means the whole block: stretch "." over "..".
          const buf = readFileSync(image);
          const at = blocksOf(image, '/empty-dir').data[0] * 65536 + 4;
          for (const recLen of [65535, 0]) {
            buf.writeUInt16LE(recLen, at);
            const patched = Ext4Reader.open(bufferSource(buf));
            assert.deepEqual(patched.readdir('/empty-dir'), []);
            assert.equal(patched.stat('/empty-dir/..'), undefined, `rec_len ${recLen} hides ".."`);
          }
          assert.equal(fs.stat('/empty-dir/..')?.inode, 2);
        }
      } finally {
        closeSync(fd);
        rmSync(image, { force: true });
      }
    });
  }

  it('refuses meta_bg file systems, saying the feature is unsupported', () => {
    const image = join(dir, 'meta.img');
    try {
      run(MKE2FS!, ['-q', '-F', '-t', 'ext4', '-O', 'meta_bg,^resize_inode', image, '8M']);
      assert.throws(() => Ext4Reader.open(bufferSource(readFileSync(image))), (e: Error) => e instanceof Ext4Error && /META_BG.*not supported/.test(e.message));
    } finally {
      rmSync(image, { force: true });
    }
  });
});

describe('ext4 reader: damaged and hostile images', { skip: MKE2FS ? false : 'mke2fs is not installed' }, () => {
  let dir = '';
  const images: { name: string; buf: Buffer; path: string; blockSize: number; regions: [number, number][] }[] = [];
  const KNOWN = ['/a.txt', '/big', '/frag', '/dir/sub/x', '/ln', '/lnlong', '/dir/entry-077'];

  before(() => {
    dir = tempDir('tvisor-ext4-bad-');
    const tree = join(dir, 'tree');
    mkdirSync(join(tree, 'dir/sub'), { recursive: true });
    writeFileSync(join(tree, 'a.txt'), random(100, 1));
    writeFileSync(join(tree, 'big'), random(200 << 10, 2));
    writeFileSync(join(tree, 'dir/sub/x'), 'x\n');
    for (let i = 0; i < 150; i++) writeFileSync(join(tree, 'dir', `entry-${String(i).padStart(3, '0')}`), `${i}`);
    const frag = openSync(join(tree, 'frag'), 'w');
    for (let i = 0; i < 40; i++) writeSync(frag, random(1024, 10 + i), 0, 1024, i * 4096);
    closeSync(frag);
    symlinkSync('dir/sub/x', join(tree, 'ln'));
    symlinkSync('./'.repeat(30) + 'dir/sub/x', join(tree, 'lnlong'));
    for (const [name, args] of [['ext4', ['-t', 'ext4', '-b', '1024']], ['ext2', ['-t', 'ext2', '-b', '1024']], ['ext4-4k', ['-t', 'ext4', '-b', '4096']]] as const) {
      const path = mkfs(join(dir, `${name}.img`), tree, [...args], '8M');
      const { blockSize, inodeSize, inodeTable, firstBlock } = layout(path);
      // Where damage is interesting: superblock, group descriptors, the inodes in use, directories, maps.
      const regions: [number, number][] = [[SB, 0x160], [(firstBlock + 1) * blockSize, 256], [inodeTable * blockSize, 200 * inodeSize]];
      for (const p of ['/', '/dir', '/dir/sub', '/frag', '/big', '/lnlong']) {
        const { data, map } = blocksOf(path, p);
        for (const b of [...map, ...(p.startsWith('/dir') || p === '/' ? data : [])]) regions.push([b * blockSize, blockSize]);
      }
      images.push({ name, buf: readFileSync(path), path, blockSize, regions });
    }
    assert.ok(blocksOf(images[0].path, '/frag').map.length > 0, '/frag has an extent tree block');
    assert.ok(blocksOf(images[1].path, '/big').map.length > 0, '/big has an indirect block');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Everything the reader offers, over the whole tree: each call must succeed or throw an Ext4Error. */
  function exercise(buf: Uint8Array): void {
    const attempt = <T>(f: () => T): T | undefined => {
      try {
        return f();
      } catch (e) {
        if (e instanceof Ext4Error) return undefined;
        throw e;
      }
    };
    const fs = attempt(() => Ext4Reader.open(bufferSource(buf)));
    if (!fs) return;
    const seen = new Set<number>();
    const walk = (path: string, depth: number): void => {
      for (const e of (attempt(() => fs.readdir(path)) ?? []).slice(0, 200)) {
        const child = posix.join(path, e.name);
        attempt(() => fs.lstat(child));
        attempt(() => fs.stat(child));
        if (e.type === 'symlink') attempt(() => fs.readlink(child));
        if (e.type === 'file') attempt(() => fs.readFile(child, 1 << 20));
        if (e.type === 'directory' && depth < 4 && !seen.has(e.inode)) {
          seen.add(e.inode);
          walk(child, depth + 1);
        }
      }
    };
    walk('/', 0);
    for (const p of KNOWN) attempt(() => fs.readFile(p, 1 << 20));
  }

  it('reads the undamaged images', () => {
    for (const { buf, name } of images) {
      const fs = Ext4Reader.open(bufferSource(buf));
      assert.equal(fs.readdir('/dir').length, 151, name);
      same(fs.readFile('/lnlong'), Buffer.from('x\n'), name);
      assert.equal(fs.readFile('/frag').length, 39 * 4096 + 1024, name);
    }
  });

  it('survives random bytes written into metadata (fixed seed)', () => {
    for (const image of images) {
      const flip = fc.record({ region: fc.nat(), offset: fc.nat(), value: fc.integer({ min: 0, max: 255 }) });
      fc.assert(
        fc.property(fc.array(flip, { minLength: 1, maxLength: 8 }), (flips) => {
          const saved: [number, number][] = [];
          try {
            for (const f of flips) {
              const [start, length] = image.regions[f.region % image.regions.length];
              const at = start + (f.offset % length);
              saved.push([at, image.buf[at]]);
              image.buf[at] = f.value;
            }
            exercise(image.buf);
          } finally {
            for (const [at, value] of saved.reverse()) image.buf[at] = value;
          }
        }),
        { seed: 0x5eed, numRuns: 200 },
      );
    }
  });

  it('survives random bytes anywhere in the first 512 KiB (fixed seed)', () => {
    const image = images[0];
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: (512 << 10) - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 64 }), (flips) => {
        const buf = Buffer.from(image.buf);
        for (const [at, value] of flips) buf[at] = value;
        exercise(buf);
      }),
      { seed: 42, numRuns: 100 },
    );
  });

  /** A copy of image `i` with `patch` applied to it. */
  const patched = (i: number, patch: (buf: Buffer, image: (typeof images)[number]) => void): Buffer => {
    const buf = Buffer.from(images[i].buf);
    patch(buf, images[i]);
    return buf;
  };
  const fails = (buf: Uint8Array, re: RegExp, f: (fs: Ext4Reader) => unknown = (fs) => fs.readFile('/frag')): void =>
    assert.throws(() => f(Ext4Reader.open(bufferSource(buf))), (e: Error) => e instanceof Ext4Error && re.test(e.message));
  const opening = (fs: Ext4Reader): unknown => fs;

  it('refuses what is not a file system, or not all of one', () => {
    fails(patched(0, (b) => b.writeUInt16LE(0, SB + 0x38)), /^not an ext2\/3\/4 file system \(no superblock magic\)$/, opening);
    fails(images[0].buf.subarray(0, 4 << 20), /truncated/, opening);
    fails(new Uint8Array(100), /not an ext2\/3\/4 file system/, opening);
    fails(patched(0, (b) => b.writeUInt32LE(7, SB + 0x18)), /block size/, opening);
    fails(patched(0, (b) => b.writeUInt16LE(100, SB + 0x58)), /inode size 100/, opening);
    fails(patched(0, (b) => b.writeUInt32LE(0xffffffff, SB + 0x0)), /inode count/, opening);
  });

  it('refuses incompatible features by name, and reports an unreplayed journal', () => {
    const incompat = (bits: number) => patched(0, (b) => b.writeUInt32LE((b.readUInt32LE(SB + 0x60) | bits) >>> 0, SB + 0x60));
    fails(incompat(0x1), /INCOMPAT_COMPRESSION.*not supported/, opening);
    fails(incompat(0x10), /INCOMPAT_META_BG.*not supported/, opening);
    fails(incompat(0x8), /journal device/, opening);
    fails(incompat(0x40000000), /0x40000000/, opening);
    const fs = Ext4Reader.open(bufferSource(incompat(0x4)));
    assert.equal(fs.needsRecovery, true);
    assert.equal(fs.readFile('/dir/sub/x').length, 2);
  });

  it('refuses encrypted inodes on the path it reads', () => {
    const flags = (path: string) => patched(0, (b, im) => {
      const at = inodeOffset(im.path, path, im.blockSize) + 0x20;
      b.writeUInt32LE(b.readUInt32LE(at) | 0x800, at);
    });
    fails(flags('/a.txt'), /encrypted/, (fs) => fs.readFile('/a.txt'));
    const dir = flags('/dir');
    fails(dir, /encrypted/, (fs) => fs.readdir('/dir'));
    fails(dir, /encrypted/, (fs) => fs.stat('/dir/sub'));
    assert.equal(Ext4Reader.open(bufferSource(dir)).stat('/dir')?.type, 'directory');
  });

  it('rejects damaged extent trees, block maps and directories with a reason', () => {
    const iblock = (im: (typeof images)[number], path: string) => inodeOffset(im.path, path, im.blockSize) + 0x28;
    fails(patched(0, (b, im) => b.writeUInt16LE(0x1234, iblock(im, '/frag'))), /extent header magic 0x1234/);
    fails(patched(0, (b, im) => b.writeUInt16LE(6, iblock(im, '/frag') + 6)), /extent tree depth 6/);
    fails(patched(0, (b, im) => b.writeUInt16LE(5, iblock(im, '/frag') + 2)), /bad extent header \(5 entries, max 4\)/);
    // A tree whose index block points at itself.
    fails(patched(0, (b, im) => {
      const etb = blocksOf(im.path, '/frag').map[0];
      b.writeUInt16LE(2, iblock(im, '/frag') + 6);
      const node = etb * im.blockSize;
      b.writeUInt16LE(1, node + 2);
      b.writeUInt16LE(1, node + 6);
      b.writeUInt32LE(0, node + 12);
      b.writeUInt32LE(etb, node + 16);
      b.writeUInt16LE(0, node + 20);
    }), /referenced twice/);
    fails(patched(0, (b, im) => b.writeUInt32LE(0x7fffffff, iblock(im, '/frag') + 12 + 4)), /outside the file system/);
    fails(patched(1, (b, im) => b.writeUInt32LE(0x7fffffff, iblock(im, '/big') + 48)), /outside the file system/, (fs) => fs.readFile('/big'));
    fails(patched(0, (b, im) => b.writeUInt32LE(0x100, inodeOffset(im.path, '/big', im.blockSize) + 0x6c)), /more than the limit/, (fs) => fs.readFile('/big'));
    fails(patched(0, (b, im) => b.writeUInt32LE(0xffffffff, inodeOffset(im.path, '/big', im.blockSize) + 0x6c)), /impossible size/, (fs) => fs.stat('/big'));
    const root = (im: (typeof images)[number]) => blocksOf(im.path, '/').data[0] * im.blockSize;
    fails(patched(0, (b, im) => b.writeUInt16LE(0, root(im) + 4)), /bad directory entry at byte 0 .*rec_len 0/, (fs) => fs.readdir('/'));
    fails(patched(0, (b, im) => b.writeUInt16LE(im.blockSize + 4, root(im) + 4)), /bad directory entry/, (fs) => fs.readdir('/'));
    fails(patched(1, (b, im) => b.writeUInt32LE(0xfffffff0, root(im) + 12)), /names inode 4294967280/, (fs) => fs.stat('/a.txt'));
    fails(patched(1, (b, im) => b.writeUInt16LE(0x1000, inodeOffset(im.path, '/', im.blockSize) + 0x0)), /not a directory/, (fs) => fs.readdir('/'));
  });
});
