// Tests for the ar, tar and .deb readers and the xz/gzip decompression, against archives made by the host's
// own tools (dpkg-deb, tar, xz, gzip) at test time.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { arMemberData, ArError, listAr } from './ar.js';
import { collect, decompressAuto, decompressStream, DecompressError, detectCompression, xzDecompress } from './compress.js';
import { DebError, extractDebFiles, memorySource, readDebControl, readDebData } from './deb.js';
import { readTar, TarError, type TarEntry } from './tar.js';
import { tempDir } from '../../tests/lib/toolchain.js';

const enc = new TextEncoder();
const has = (cmd: string): boolean => spawnSync(cmd, ['--version']).status === 0;

function run(cmd: string, args: string[], cwd?: string): void {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
}

function pseudoRandom(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

async function* chunked(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

const LONG_DIR = `usr/share/${'deep/'.repeat(30)}tail`; // > 155 characters: needs a long-name extension
const FILES: Record<string, Uint8Array> = {
  'usr/bin/tool': pseudoRandom(100_000, 7),
  'usr/share/doc/pkg/empty': new Uint8Array(0),
  'usr/share/doc/pkg/odd': enc.encode('x'.repeat(513)),
  [`${LONG_DIR}/file-with-a-long-name-${'n'.repeat(90)}.txt`]: enc.encode('long\n'),
};

describe('ar reader', () => {
  it('lists members with odd-size padding and GNU "/" name endings', () => {
    const header = (name: string, size: number): string =>
      `${name.padEnd(16)}${'0'.padEnd(12)}${'0'.padEnd(6)}${'0'.padEnd(6)}${'100644'.padEnd(8)}${String(size).padEnd(10)}\`\n`;
    const archive = enc.encode(`!<arch>\n${header('debian-binary', 4)}2.0\n${header('odd/', 3)}abc\n${header('last', 2)}xy`);
    const members = listAr(archive);
    assert.deepEqual(members.map((m) => [m.name, m.size, m.mode]), [['debian-binary', 4, 0o100644], ['odd', 3, 0o100644], ['last', 2, 0o100644]]);
    assert.equal(new TextDecoder().decode(arMemberData(archive, members[1])), 'abc');
    assert.equal(new TextDecoder().decode(arMemberData(archive, members[2])), 'xy');
    assert.throws(() => listAr(enc.encode('!<arch>\nshort')), ArError);
    assert.throws(() => listAr(enc.encode('not an archive')), /not an ar archive/);
    assert.throws(() => listAr(archive.subarray(0, archive.length - 1)), /truncated/);
  });
});

describe('compression', () => {
  it('detects formats by magic', () => {
    assert.equal(detectCompression(Uint8Array.of(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)), 'xz');
    assert.equal(detectCompression(Uint8Array.of(0x1f, 0x8b, 8)), 'gzip');
    assert.equal(detectCompression(Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd)), 'zstd');
    assert.equal(detectCompression(enc.encode('ustar')), 'none');
  });

  it('decompresses what the host xz and gzip compress, and rejects corrupt data', { skip: has('xz') ? false : 'no xz' }, async () => {
    const dir = tempDir('tvisor-xz-');
    try {
      const data = pseudoRandom(300_000, 3);
      data.fill(0x41, 1000, 200_000); // compressible part
      writeFileSync(join(dir, 'd'), data);
      run('xz', ['-k', '-T1', join(dir, 'd')]);
      run('gzip', ['-k', join(dir, 'd')]);
      const xz = new Uint8Array(readFileSync(join(dir, 'd.xz')));
      const gz = new Uint8Array(readFileSync(join(dir, 'd.gz')));
      assert.deepEqual(await xzDecompress(xz), data);
      assert.deepEqual(await collect(decompressStream(chunked(xz, 777), 'xz')), data);
      assert.deepEqual(await decompressAuto(gz), data);
      assert.deepEqual(await decompressAuto(data), data);
      const corrupt = xz.slice();
      corrupt[Math.floor(corrupt.length / 2)] ^= 0xff;
      await assert.rejects(xzDecompress(corrupt), DecompressError);
      await assert.rejects(xzDecompress(xz.subarray(0, xz.length - 40)), DecompressError);
      await assert.rejects(xzDecompress(data), /not xz data/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('tar reader', () => {
  let dir = '';
  before(() => {
    dir = tempDir('tvisor-tar-');
    for (const [path, data] of Object.entries(FILES)) {
      mkdirSync(join(dir, 'root', path, '..'), { recursive: true });
      writeFileSync(join(dir, 'root', path), data);
    }
    chmodSync(join(dir, 'root', 'usr/bin/tool'), 0o755);
    symlinkSync('tool', join(dir, 'root', 'usr/bin/alias'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a ustar archive whose long path uses the prefix field', { skip: has('tar') ? false : 'no tar' }, async () => {
    const path = `${'p'.repeat(60)}/${'q'.repeat(60)}/file.txt`; // 130 characters: prefix + name
    mkdirSync(join(dir, 'ustar', path, '..'), { recursive: true });
    writeFileSync(join(dir, 'ustar', path), 'ustar\n');
    const archive = join(dir, 'u.tar');
    run('tar', ['--format=ustar', '-cf', archive, '-C', join(dir, 'ustar'), path]);
    const bytes = new Uint8Array(readFileSync(archive));
    assert.equal(new TextDecoder().decode(bytes.subarray(345, 350)), 'ppppp'); // really in the prefix field
    const entries = await all(readTar(chunked(bytes, 300), () => true));
    assert.deepEqual(entries.map((e) => [e.path, e.data && new TextDecoder().decode(e.data)]), [[path, 'ustar\n']]);
  });

  for (const format of ['gnu', 'pax'] as const) {
    it(`reads a ${format} archive from the host tar`, { skip: has('tar') ? false : 'no tar' }, async () => {
      const archive = join(dir, `${format}.tar`);
      const r = spawnSync('tar', [`--format=${format}`, '-cf', archive, '-C', join(dir, 'root'), '.'], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const bytes = new Uint8Array(readFileSync(archive));
      const entries = await all(readTar(chunked(bytes, 4096 + 17), () => true));
      const byPath = new Map(entries.map((e) => [e.path, e]));
      for (const [path, data] of Object.entries(FILES)) {
        const e = byPath.get(path);
        assert.ok(e, `missing ${path}`);
        assert.equal(e.type, 'file');
        assert.deepEqual(e.data, data, path);
      }
      assert.equal(byPath.get('usr/bin/tool')!.mode & 0o777, 0o755);
      assert.equal(byPath.get('usr/bin/alias')!.type, 'symlink');
      assert.equal(byPath.get('usr/bin/alias')!.linkname, 'tool');
      assert.equal(byPath.get('usr/bin')!.type, 'directory');
      assert.equal(byPath.get('')!.type, 'directory'); // "./"
    });
  }

  it('reads only the contents the caller wants', { skip: has('tar') ? false : 'no tar' }, async () => {
    const archive = join(dir, 'sel.tar');
    run('tar', ['--format=gnu', '-cf', archive, '-C', join(dir, 'root'), '.']);
    const entries: TarEntry[] = await all(readTar(chunked(new Uint8Array(readFileSync(archive)), 65536), (h) => h.path.endsWith('/odd')));
    assert.deepEqual(entries.filter((e) => e.data).map((e) => e.path), ['usr/share/doc/pkg/odd']);
    assert.ok(entries.some((e) => e.path === 'usr/bin/tool' && e.data === undefined));
  });

  it('rejects corrupt and truncated archives', { skip: has('tar') ? false : 'no tar' }, async () => {
    const archive = join(dir, 'bad.tar');
    run('tar', ['--format=gnu', '-cf', archive, '-C', join(dir, 'root'), '.']);
    const bytes = new Uint8Array(readFileSync(archive));
    const damaged = bytes.slice();
    damaged[10] ^= 0x55; // in the first header's name: breaks its checksum
    await assert.rejects(all(readTar(chunked(damaged, 1000))), TarError);
    await assert.rejects(all(readTar(chunked(bytes.subarray(0, 512 * 3 + 100), 1000))), /truncated/);
  });
});

describe('.deb reader', { skip: has('dpkg-deb') ? false : 'no dpkg-deb' }, () => {
  let dir = '';
  const control = 'Package: tvisor-test\nVersion: 1.2-3\nArchitecture: riscv64\nMaintainer: Nobody <nobody@example.org>\nDescription: test package\n';
  before(() => {
    dir = tempDir('tvisor-deb-');
    const root = join(dir, 'pkg');
    mkdirSync(join(root, 'DEBIAN'), { recursive: true });
    writeFileSync(join(root, 'DEBIAN', 'control'), control);
    for (const [path, data] of Object.entries(FILES)) {
      mkdirSync(join(root, path, '..'), { recursive: true });
      writeFileSync(join(root, path), data);
    }
    symlinkSync('tool', join(root, 'usr/bin/alias'));
    for (const z of ['xz', 'gzip', 'none']) run('dpkg-deb', ['--root-owner-group', `-Z${z}`, '--build', root, join(dir, `p-${z}.deb`)]);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const z of ['xz', 'gzip', 'none']) {
    it(`extracts a package built by dpkg-deb -Z${z}`, async () => {
      const bytes = new Uint8Array(readFileSync(join(dir, `p-${z}.deb`)));
      assert.deepEqual(listAr(bytes).map((m) => m.name.replace(/\.(xz|gz)$/, '')), ['debian-binary', 'control.tar', 'data.tar']);
      const files = await extractDebFiles(bytes, Object.keys(FILES));
      for (const [path, data] of Object.entries(FILES)) assert.deepEqual(files.get(path), data, path);
      assert.equal(await readDebControl(memorySource(bytes)), control);
      const entries = await all(readDebData(memorySource(bytes), () => false));
      assert.ok(entries.some((e) => e.path === 'usr/bin/alias' && e.type === 'symlink' && e.linkname === 'tool'));
    });
  }

  it('reports damaged packages as DebError', async () => {
    const bytes = new Uint8Array(readFileSync(join(dir, 'p-xz.deb')));
    await assert.rejects(extractDebFiles(bytes.subarray(0, bytes.length - 1000), ['usr/bin/tool']), DebError);
    const flipped = bytes.slice();
    flipped[bytes.length - 5000] ^= 0xff;
    await assert.rejects(extractDebFiles(flipped, ['usr/bin/tool']), DebError);
    await assert.rejects(extractDebFiles(enc.encode('!<arch>\n'), []), /no debian-binary/);
    await assert.rejects(extractDebFiles(enc.encode('PK\x03\x04'), []), /not a Debian package/);
  });
});
