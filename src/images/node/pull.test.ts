// End-to-end tests of `image pull` against a small fake Debian archive served over HTTP on 127.0.0.1: an
// InRelease signed with a key made for the test, a Packages.xz, and .deb packages built with dpkg-deb.
// Covers the verification chain, the cache (temp files, reuse, offline use) and the failure modes.
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { readCpio } from '../cpio.js';
import { ImageError } from '../errors.js';
import { readModinfo } from '../modinfo.js';
import { makeModuleElf } from '../test-fixtures.js';
import { currentGuest, ensureDefaultGuest, listCache, pullDefaultGuest, readGuestParts, type GuestOptions } from './guest.js';
import { cliPath, tempDir } from '../../../tests/lib/toolchain.js';

const has = (cmd: string): boolean => spawnSync(cmd, ['--version']).status === 0;
const TOOLS_MISSING = ['dpkg-deb', 'xz'].filter((t) => !has(t));
const KVER = '6.12.117+deb13-riscv64';
const sha256 = (data: Uint8Array | string): string => createHash('sha256').update(data).digest('hex');

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
}

function write(path: string, data: Uint8Array | string): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, data);
}

// The fake kernel's modules: name → [path under kernel/, modinfo entries].
const MODULES: Record<string, [string, string[]]> = {
  virtio_mmio: ['drivers/virtio', ['depends=']],
  virtio_blk: ['drivers/block', ['depends=']],
  virtio_net: ['drivers/net', ['depends=net_failover']],
  net_failover: ['drivers/net', ['depends=failover']],
  failover: ['net/core', ['depends=']],
  'virtio-rng': ['drivers/char/hw_random', ['depends=']],
  virtio_balloon: ['drivers/virtio', ['depends=']],
  ext4: ['fs/ext4', ['softdep=pre: crypto-crc32c', 'depends=jbd2,mbcache,crc16']],
  jbd2: ['fs/jbd2', ['softdep=pre: crypto-crc32c', 'depends=']],
  mbcache: ['fs', ['depends=']],
  crc16: ['lib', ['depends=']],
  crc32c_generic: ['crypto', ['alias=crypto-crc32c', 'depends=']],
  virtio_input: ['drivers/virtio', ['depends=']],
};
const EXPECTED_ORDER = ['virtio_mmio', 'virtio_blk', 'failover', 'net_failover', 'virtio_net', 'virtio_rng', 'virtio_balloon',
  'crc32c_generic', 'jbd2', 'mbcache', 'crc16', 'ext4'];

function fakeImage(): Uint8Array {
  const image = new Uint8Array(8192);
  image.set([0x4d, 0x5a], 0); // "MZ"
  image.set([0x52, 0x53, 0x43, 0x05], 0x38); // "RSC\x05"
  image.fill(0x13, 0x1000); // nops
  return image;
}

interface Archive {
  www: string;
  keyring: string;
  otherKeyring: string;
  debs: Record<'kernel' | 'busybox' | 'opensbi', { path: string; url: string; bytes: Uint8Array }>;
  packagesXz: Uint8Array;
  sign(text: string, otherKey?: boolean): Promise<string>;
  signDetached(data: Uint8Array): Promise<Uint8Array>;
  releaseText(extra?: string): string;
  modules: Record<string, Uint8Array>;
  busybox: Uint8Array;
  firmware: Uint8Array;
}

async function makeArchive(root: string): Promise<Archive> {
  const www = join(root, 'www', 'debian');
  const key = await openpgp.generateKey({ type: 'curve25519', userIDs: [{ name: 'tvisor test archive' }], format: 'object' });
  const other = await openpgp.generateKey({ type: 'curve25519', userIDs: [{ name: 'someone else' }], format: 'object' });
  const keyring = join(root, 'archive-keyring.gpg');
  const otherKeyring = join(root, 'other-keyring.pgp');
  writeFileSync(keyring, key.publicKey.write());
  writeFileSync(otherKeyring, other.publicKey.armor());

  // Kernel package.
  const kpkg = join(root, 'kernel');
  write(join(kpkg, 'DEBIAN', 'control'), `Package: linux-image-${KVER}\nVersion: 6.12.117-1\nArchitecture: riscv64\nMaintainer: Test <t@example.org>\nDescription: kernel\n`);
  write(join(kpkg, 'boot', `vmlinux-${KVER}`), fakeImage());
  write(join(kpkg, 'boot', `config-${KVER}`), 'CONFIG_VIRTIO_MMIO=m\n');
  const modules: Record<string, Uint8Array> = {};
  const moddir = join(kpkg, 'usr', 'lib', 'modules', KVER);
  for (const [name, [dir, info]] of Object.entries(MODULES)) {
    const elf = makeModuleElf([`name=${name.replace(/-/g, '_')}`, 'license=GPL', ...info]);
    modules[name.replace(/-/g, '_')] = elf;
    write(join(moddir, 'kernel', dir, `${name}.ko`), elf);
    run('xz', ['--check=crc32', join(moddir, 'kernel', dir, `${name}.ko`)]);
  }
  write(join(moddir, 'modules.builtin'), 'kernel/drivers/char/virtio_console.ko\nkernel/drivers/virtio/virtio_pci.ko\n');
  write(join(moddir, 'modules.builtin.modinfo'), 'virtio_console.license=GPL\0virtio_console.alias=virtio:d00000003v*\0');
  write(join(moddir, 'modules.order'), 'kernel/fs/ext4/ext4.ko\n');

  // busybox-static and opensbi.
  const busybox = makeModuleElf(['not really busybox'], 243);
  const bpkg = join(root, 'busybox');
  write(join(bpkg, 'DEBIAN', 'control'), 'Package: busybox-static\nVersion: 1:1.37.0-6+b9\nArchitecture: riscv64\nMaintainer: Test <t@example.org>\nDescription: bb\n');
  write(join(bpkg, 'usr', 'bin', 'busybox'), busybox);
  const firmware = new TextEncoder().encode('riscv64 OpenSBI fw_dynamic\n'.repeat(100));
  const opkg = join(root, 'opensbi');
  write(join(opkg, 'DEBIAN', 'control'), 'Package: opensbi\nVersion: 1.6-1\nArchitecture: all\nMaintainer: Test <t@example.org>\nDescription: sbi\n');
  write(join(opkg, 'usr', 'lib', 'riscv32-linux-gnu', 'opensbi', 'generic', 'fw_dynamic.bin'), 'riscv32 firmware');
  write(join(opkg, 'usr', 'lib', 'riscv64-linux-gnu', 'opensbi', 'generic', 'fw_dynamic.bin'), firmware);

  const debs = {} as Archive['debs'];
  const stanzas: string[] = [];
  for (const [role, dir, name, version, arch, pool] of [
    ['kernel', kpkg, `linux-image-${KVER}`, '6.12.117-1', 'riscv64', 'pool/main/l/linux'],
    ['busybox', bpkg, 'busybox-static', '1:1.37.0-6+b9', 'riscv64', 'pool/main/b/busybox'],
    ['opensbi', opkg, 'opensbi', '1.6-1', 'all', 'pool/main/o/opensbi'],
  ] as const) {
    const url = `${pool}/${name}_${version.replace(/^\d+:/, '')}_${arch}.deb`;
    const path = join(www, url);
    mkdirSync(join(path, '..'), { recursive: true });
    run('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', dir, path]);
    const bytes = new Uint8Array(readFileSync(path));
    debs[role] = { path, url, bytes };
    stanzas.push(`Package: ${name}\nVersion: ${version}\nArchitecture: ${arch}\nFilename: ${url}\nSize: ${bytes.length}\nSHA256: ${sha256(bytes)}\nDescription: x\n`);
  }
  stanzas.push('Package: linux-image-riscv64\nVersion: 6.12.117-1\nArchitecture: riscv64\n' +
    `Depends: linux-image-${KVER} (= 6.12.117-1)\nFilename: pool/main/l/linux/meta.deb\nSize: 1\nSHA256: ${'0'.repeat(64)}\n`);
  const packages = stanzas.join('\n');
  const bindir = join(www, 'dists', 'trixie', 'main', 'binary-riscv64');
  write(join(bindir, 'Packages'), packages);
  run('xz', ['-k', join(bindir, 'Packages')]);
  const packagesXz = new Uint8Array(readFileSync(join(bindir, 'Packages.xz')));
  write(join(bindir, 'by-hash', 'SHA256', sha256(packagesXz)), packagesXz);

  const releaseText = (extra = ''): string =>
    `Origin: Debian\nSuite: stable\nVersion: 13.8\nCodename: trixie\nDate: Sat, 21 Nov 2026 09:15:44 UTC\n${extra}` +
    'Acquire-By-Hash: yes\nArchitectures: all riscv64\nComponents: main\nSHA256:\n' +
    ` ${sha256(packages)} ${packages.length} main/binary-riscv64/Packages\n` +
    ` ${sha256(packagesXz)} ${packagesXz.length} main/binary-riscv64/Packages.xz\n`;
  const sign = async (text: string, otherKey = false): Promise<string> =>
    openpgp.sign({ message: await openpgp.createCleartextMessage({ text }), signingKeys: otherKey ? other.privateKey : key.privateKey });
  const signDetached = async (data: Uint8Array): Promise<Uint8Array> =>
    openpgp.sign({ message: await openpgp.createMessage({ binary: data }), signingKeys: key.privateKey, detached: true, format: 'binary' });
  return { www, keyring, otherKeyring, debs, packagesXz, sign, signDetached, releaseText, modules, busybox, firmware };
}

/** A static file server with per-path overrides and a request log. */
class FakeMirror {
  requests: string[] = [];
  overrides = new Map<string, { status?: number; body?: Uint8Array | string }>();
  private server: Server;
  constructor(private readonly root: string) {
    this.server = createServer((req, res) => {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      this.requests.push(path);
      const o = this.overrides.get(path);
      if (o?.status) {
        res.writeHead(o.status).end('nope');
        return;
      }
      let body: Uint8Array | string | undefined = o?.body;
      if (body === undefined) {
        const file = join(this.root, path);
        if (!path.includes('..') && existsSync(file) && !readdirSafe(file)) body = readFileSync(file);
      }
      if (body === undefined) res.writeHead(404).end('not found');
      else res.writeHead(200, { 'content-length': String(Buffer.byteLength(body)) }).end(body);
    });
  }
  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/debian`;
  }
  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

function readdirSafe(path: string): boolean {
  try {
    readdirSync(path);
    return true;
  } catch {
    return false;
  }
}

function runCli(args: string[], env: Record<string, string>): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cliPath, ...args], { env: { ...process.env, ...env }, timeout: 120_000 }, (error, stdout, stderr) => {
      const status = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ status, stdout, stderr });
    });
  });
}

function listTree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true }).map(String).sort();
}

describe('image pull from a fake signed archive', { skip: TOOLS_MISSING.length ? `missing ${TOOLS_MISSING.join(', ')}` : false }, () => {
  let root = '';
  let archive: Archive;
  let mirror: FakeMirror;
  let url = '';
  let cacheDir = '';
  let lines: string[] = [];
  const opts = (extra: Partial<GuestOptions> = {}): GuestOptions => ({
    cacheDir, mirror: url, keyrings: [archive.keyring], log: (l) => lines.push(l), tty: { isTTY: false, write: () => true }, ...extra,
  });

  before(async () => {
    root = tempDir('tvisor-pull-');
    archive = await makeArchive(root);
    write(join(archive.www, 'dists', 'trixie', 'InRelease'), await archive.sign(archive.releaseText()));
    mirror = new FakeMirror(join(root, 'www'));
    url = await mirror.start();
  });
  after(async () => {
    await mirror.stop();
    rmSync(root, { recursive: true, force: true });
  });
  beforeEach(() => {
    cacheDir = tempDir('tvisor-cache-');
    mirror.requests = [];
    mirror.overrides.clear();
    lines = [];
  });
  afterEach(() => rmSync(cacheDir, { recursive: true, force: true }));

  it('fetches, verifies and builds the guest, then reuses the cache', async () => {
    const guest = await pullDefaultGuest(opts());
    assert.deepEqual(mirror.requests, [
      '/debian/dists/trixie/InRelease',
      `/debian/dists/trixie/main/binary-riscv64/by-hash/SHA256/${sha256(archive.packagesXz)}`,
      `/debian/${archive.debs.kernel.url}`,
      `/debian/${archive.debs.busybox.url}`,
      `/debian/${archive.debs.opensbi.url}`,
    ]);
    assert.equal(guest.kernelVersion, KVER);
    assert.deepEqual(new Uint8Array(readFileSync(guest.kernel)), fakeImage());
    assert.deepEqual(new Uint8Array(readFileSync(guest.firmware)), archive.firmware);
    assert.deepEqual(guest.manifest.modules, EXPECTED_ORDER);
    assert.deepEqual(guest.manifest.builtinModules, ['virtio_console']);
    assert.equal(guest.manifest.packages.busybox.version, '1:1.37.0-6+b9');
    const entries = readCpio(new Uint8Array(readFileSync(guest.initrd)));
    const get = (name: string) => entries.find((e) => e.name === name);
    assert.deepEqual(get('bin/busybox')!.data, archive.busybox);
    assert.ok(get('init'));
    const moddir = `lib/modules/${KVER}`;
    assert.equal(new TextDecoder().decode(get(`${moddir}/load-order`)!.data), EXPECTED_ORDER.map((m) => `${m}.ko\n`).join(''));
    for (const m of EXPECTED_ORDER) assert.deepEqual(get(`${moddir}/${m}.ko`)!.data, archive.modules[m], m);
    assert.equal(get(`${moddir}/virtio_input.ko`), undefined);
    assert.equal(readModinfo(get(`${moddir}/ext4.ko`)!.data).name, 'ext4');
    // The cache holds verified files only: no temp files left behind.
    assert.deepEqual(listTree(join(cacheDir, 'tmp')), []);
    assert.deepEqual(listTree(join(cacheDir, 'debs')), Object.values(archive.debs).map((d) => d.url.split('/').pop()!).sort());
    assert.ok(lines.some((l) => /^linux-image-.*: .* in \d+\.\d s$/.test(l)), lines.join('\n'));

    // Second pull: only the signed index is fetched.
    mirror.requests = [];
    const again = await pullDefaultGuest(opts());
    assert.deepEqual(mirror.requests, ['/debian/dists/trixie/InRelease']);
    assert.equal(again.dir, guest.dir);

    // Offline, with no server at all.
    const offline = await pullDefaultGuest(opts({ mirror: 'http://127.0.0.1:9/debian', offline: true }));
    assert.equal(offline.dir, guest.dir);
    assert.equal((await ensureDefaultGuest(opts({ offline: true }))).initrd, guest.initrd);

    // A lost guest directory is rebuilt from the cached packages without the network.
    rmSync(join(cacheDir, 'guests'), { recursive: true });
    mirror.requests = [];
    const rebuilt = await ensureDefaultGuest(opts({ mirror: 'http://127.0.0.1:9/debian', offline: true }));
    assert.deepEqual(mirror.requests, []);
    assert.deepEqual(readFileSync(rebuilt.initrd), readFileSync(guest.initrd));

    // ensureDefaultGuest returns the current guest without contacting the mirror.
    assert.equal((await ensureDefaultGuest(opts())).dir, rebuilt.dir);
    assert.deepEqual(mirror.requests, []);

    const parts = await readGuestParts(rebuilt);
    assert.deepEqual(parts.modules.map((m) => m.name), EXPECTED_ORDER);
    assert.deepEqual(parts.busybox, archive.busybox);

    // Offline, a complete guest is enough even when the cached index is gone; an incomplete one is not.
    rmSync(join(cacheDir, 'archive'), { recursive: true });
    lines = [];
    assert.equal((await pullDefaultGuest(opts({ offline: true }))).dir, rebuilt.dir);
    assert.ok(lines.some((l) => l.startsWith('using the cached guest')), lines.join('\n'));
    rmSync(join(rebuilt.dir, 'modules', 'ext4.ko'));
    assert.equal(await currentGuest(opts()), undefined);
    await assert.rejects(ensureDefaultGuest(opts({ offline: true })), /no cached index/);
    await ensureDefaultGuest(opts()); // online again: fetches the index, rebuilds from the cached packages
    assert.ok(existsSync(join(rebuilt.dir, 'modules', 'ext4.ko')));

    const listing = await listCache({ cacheDir });
    assert.deepEqual(listing.indexes.map((i) => [i.suite, i.version]), [['trixie', '13.8']]);
    assert.equal(listing.debs.length, 3);
    assert.equal(listing.guests.length, 1);
    assert.ok(listing.guests[0].current);
  });

  it('refuses a package whose SHA-256 does not match the index, and keeps nothing of it', async () => {
    const tampered = archive.debs.busybox.bytes.slice();
    tampered[tampered.length - 100] ^= 1;
    mirror.overrides.set(`/debian/${archive.debs.busybox.url}`, { body: tampered });
    await assert.rejects(pullDefaultGuest(opts()), (e: Error) => e instanceof ImageError && /SHA-256 mismatch/.test(e.message));
    assert.ok(!listTree(join(cacheDir, 'debs')).some((f) => f.startsWith('busybox')));
    assert.deepEqual(listTree(join(cacheDir, 'tmp')), []);
    assert.equal(await currentGuest(opts()), undefined);
    // A body longer than the index says is cut off early.
    mirror.overrides.set(`/debian/${archive.debs.busybox.url}`, { body: new Uint8Array(archive.debs.busybox.bytes.length + 10) });
    await assert.rejects(pullDefaultGuest(opts()), /more than the \d+ bytes the index lists/);
    assert.deepEqual(listTree(join(cacheDir, 'tmp')), []);
    // Once the mirror is right again, the pull completes, reusing the kernel it already verified.
    mirror.overrides.clear();
    mirror.requests = [];
    await pullDefaultGuest(opts());
    assert.ok(!mirror.requests.some((r) => r.includes('linux-image')));
  });

  it('reports a failed download as one ImageError line', async () => {
    mirror.overrides.set(`/debian/${archive.debs.opensbi.url}`, { status: 404 });
    await assert.rejects(pullDefaultGuest(opts()), (e: Error) =>
      e instanceof ImageError && e.message === `cannot download ${url}/${archive.debs.opensbi.url}: HTTP 404 Not Found`);
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await assert.rejects(pullDefaultGuest(opts({ mirror: `http://127.0.0.1:${port}/debian` })), /cannot download .*ECONNREFUSED/);
    await assert.rejects(pullDefaultGuest(opts({ suite: 'sid' })), /has no suite 'sid'/);
    assert.deepEqual(listTree(join(cacheDir, 'tmp')), []);
  });

  it('checks the index signature and the Packages checksum', async () => {
    await assert.rejects(pullDefaultGuest(opts({ keyrings: [archive.otherKeyring] })), /no valid signature from a key in the Debian archive keyring/);
    // A signed text changed after signing.
    const signed = await archive.sign(archive.releaseText());
    mirror.overrides.set('/debian/dists/trixie/InRelease', { body: signed.replace('Version: 13.8', 'Version: 13.9') });
    await assert.rejects(pullDefaultGuest(opts()), /no valid signature/);
    // Correctly signed, but listing another Packages.xz checksum.
    const wrong = archive.releaseText().replace(sha256(archive.packagesXz), 'f'.repeat(64));
    mirror.overrides.set('/debian/dists/trixie/InRelease', { body: await archive.sign(wrong) });
    await assert.rejects(pullDefaultGuest(opts()), /main\/binary-riscv64\/Packages.xz: SHA-256 mismatch/);
    // Signed by a key that is not in the keyring.
    mirror.overrides.set('/debian/dists/trixie/InRelease', { body: await archive.sign(archive.releaseText(), true) });
    await assert.rejects(pullDefaultGuest(opts()), /no valid signature/);
    // Expired (Valid-Until in the past).
    mirror.overrides.set('/debian/dists/trixie/InRelease', { body: await archive.sign(archive.releaseText('Valid-Until: Sat, 01 Jan 2000 00:00:00 UTC\n')) });
    await assert.rejects(pullDefaultGuest(opts()), /expired on 2000-01-01/);
    assert.deepEqual(listTree(join(cacheDir, 'archive')).filter((f) => !f.startsWith('by-hash')), []);
  });

  it('uses Release + Release.gpg when there is no InRelease, and the plain path when by-hash is missing', async () => {
    const release = new TextEncoder().encode(archive.releaseText());
    mirror.overrides.set('/debian/dists/trixie/InRelease', { status: 404 });
    mirror.overrides.set('/debian/dists/trixie/Release', { body: release });
    mirror.overrides.set('/debian/dists/trixie/Release.gpg', { body: await archive.signDetached(release) });
    mirror.overrides.set(`/debian/dists/trixie/main/binary-riscv64/by-hash/SHA256/${sha256(archive.packagesXz)}`, { status: 404 });
    const guest = await pullDefaultGuest(opts());
    assert.ok(mirror.requests.includes('/debian/dists/trixie/main/binary-riscv64/Packages.xz'));
    assert.ok(existsSync(join(cacheDir, 'archive', 'trixie', 'Release.gpg')));
    // Offline use re-verifies the detached signature.
    assert.equal((await pullDefaultGuest(opts({ offline: true }))).dir, guest.dir);
    const bad = new Uint8Array(release);
    bad[0] ^= 0x20;
    mirror.overrides.set('/debian/dists/trixie/Release', { body: bad });
    await assert.rejects(pullDefaultGuest(opts()), /no valid signature/);
  });

  it('without a keyring, warns and checks checksums only', async () => {
    const guest = await pullDefaultGuest(opts({ keyrings: [] }));
    assert.ok(lines.some((l) => /warning: no Debian archive keyring .* NOT checked/.test(l)));
    assert.equal(guest.manifest.modules.length, EXPECTED_ORDER.length);
  });

  it('finds the mirror in the APT sources when none is given', async () => {
    const apt = join(cacheDir, 'apt');
    write(join(apt, 'sources.list.d', 'other.list'), 'deb https://vendor.example/apt cloud-sdk-bookworm main\n');
    write(join(apt, 'sources.list.d', 'debian.sources'), `Types: deb\nURIs: ${url}\nSuites: bookworm bookworm-updates\nComponents: main\n`);
    const guest = await pullDefaultGuest(opts({ mirror: undefined, aptDir: apt }));
    assert.equal(guest.kernelVersion, KVER);
    await assert.rejects(pullDefaultGuest(opts({ mirror: undefined, aptDir: join(cacheDir, 'no-apt') })), /no Debian mirror found .* pass --mirror URL/);
  });

  it('offline with an empty cache fails clearly', async () => {
    await assert.rejects(ensureDefaultGuest(opts({ offline: true })), /no cached index for 'trixie' .* run 'tvisor image pull'/);
  });

  it('works from the command line: pull, ls, errors with status 2', async () => {
    const env = { TVISOR_KEYRING: archive.keyring, TVISOR_CACHE: join(cacheDir, 'env-cache') };
    const pull = await runCli(['image', 'pull', '--mirror', url, '--cache', cacheDir], env);
    assert.equal(pull.status, 0, pull.stderr);
    assert.match(pull.stdout, new RegExp(`^kernel +${cacheDir}/guests/${KVER.replace('+', '\\+')}-[0-9a-f]{12}/Image$`, 'm'));
    assert.match(pull.stdout, /^modules +virtio_mmio virtio_blk failover/m);
    assert.match(pull.stderr, /busybox-static 1:1.37.0-6\+b9: .* in /);
    const ls = await runCli(['image', 'ls', '--cache', cacheDir], env);
    assert.equal(ls.status, 0, ls.stderr);
    assert.match(ls.stdout, /^\* 6\.12\.117\+deb13-riscv64-[0-9a-f]{12} .*linux 6\.12\.117-1, busybox 1:1\.37\.0-6\+b9, opensbi 1\.6-1; 12 modules/m);
    assert.match(ls.stdout, /^ {2}opensbi_1\.6-1_all\.deb +\d/m);
    // TVISOR_CACHE is the default cache.
    const envLs = await runCli(['image', 'ls'], env);
    assert.match(envLs.stdout, /\(empty: run 'tvisor image pull'\)/);
    assert.ok(envLs.stdout.startsWith(`cache ${env.TVISOR_CACHE}\n`));

    const oneLine = (r: { status: number; stderr: string; stdout: string }, pattern: RegExp): void => {
      assert.equal(r.status, 2, r.stderr);
      const errLines = r.stderr.split('\n').filter((l) => l && !/ in \d+\.\d s$/.test(l) && !l.startsWith('checking '));
      assert.equal(errLines.length, 1, r.stderr);
      assert.match(errLines[0], pattern);
      assert.equal(r.stdout, '');
    };
    oneLine(await runCli(['image', 'pull', '--offline', '--cache', join(cacheDir, 'empty')], env), /^tvisor: no cached index for 'trixie'/);
    mirror.overrides.set(`/debian/${archive.debs.kernel.url}`, { status: 500 });
    oneLine(await runCli(['image', 'pull', '--mirror', url, '--cache', join(cacheDir, 'c2')], env), /^tvisor: cannot download .*: HTTP 500 Internal Server Error$/);
    mirror.overrides.clear();
    const usage = await runCli(['image'], env);
    assert.equal(usage.status, 2);
    assert.equal(usage.stderr, "tvisor: image needs a subcommand: 'pull', 'ls', 'build', 'rm' or 'resize'\nRun 'tvisor image --help' for usage.\n");
    assert.equal((await runCli(['image', 'pull', '--mirror', 'ftp://x'], env)).status, 2);
    assert.equal((await runCli(['image', 'push'], env)).status, 2);
    assert.equal((await runCli(['image', 'ls', '--offline'], env)).status, 2);
    const help = await runCli(['image', '--help'], env);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^Usage: tvisor image pull/);
    for (const option of ['--mirror URL', '--suite NAME', '--cache DIR', '--offline']) assert.ok(help.stdout.includes(option), option);
  });
});
