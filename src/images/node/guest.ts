// The default guest: fetches Debian's riscv64 kernel, busybox-static and OpenSBI through the archive's
// signed index chain (InRelease → Packages → .deb, each checked by SHA-256), caches them, and builds the
// kernel Image, an initramfs and the firmware into a guest directory that `tvisor run` boots.
//
// Cache layout (under defaultCacheDir() or --cache):
//   tmp/                                downloads in progress (never read; stale ones are removed)
//   archive/<suite>/InRelease           the verified index signature (or Release + Release.gpg)
//   archive/by-hash/<sha256>.xz         Packages.xz files, named by their SHA-256
//   archive/selection-<sha256>.json     the guest packages chosen from that Packages index
//   debs/<package>_<version>_<arch>.deb verified packages
//   guests/<kernel version>-<id>/       Image, initramfs.cpio, fw_dynamic.bin, busybox, modules/, guest.json
//   guests/current-<suite>.json         which guest directory is the current one for the suite
// Every file appears under its final name only once complete and verified (temp name + rename).
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import {
  ArchiveError, checkDigest, checkReleaseSuite, parseRelease, selectGuestPackages,
  type ChecksumEntry, type GuestPackages, type PackageRecord, type ReleaseInfo,
} from '../debian.js';
import { decompressAuto, detectCompression, xzDecompress } from '../compress.js';
import { readDebData, type ByteSource } from '../deb.js';
import { ImageError } from '../errors.js';
import { buildInitramfs, DEFAULT_GUEST_MODULES, initScript, type InitramfsModule } from '../initramfs.js';
import { canonicalModuleName, parseBuiltinModinfo, parseModulesBuiltin, readModinfo, type Modinfo } from '../modinfo.js';
import { resolveModules, type ModuleTree } from '../modules.js';
import { exists, hashFile, openFileSource, sha256Hex, tempNameFor, writeFileAtomic } from './files.js';
import { hostDebianMirror } from './host.js';
import { isRiscvImage } from '../../core/machine/linux.js';
import { DownloadError, downloadToFile, fetchBytes } from './http.js';
import { formatBytes, type ProgressOptions } from './progress.js';
import { hostKeyrings, unverifiedInReleaseText, verifyDetached, verifyInRelease } from './signature.js';

export const DEFAULT_SUITE = 'trixie';
export const GUEST_ARCH = 'riscv64';
export const COMPONENT = 'main';
/**
 * Bumped whenever the guest's contents change (init script, module list, layout), to rebuild from the debs:
 * currentGuest() only accepts a guest of this format. 2: /init can switch to a disk root (root=).
 */
export const GUEST_FORMAT = 2;

const STALE_TEMP_MS = 24 * 3600 * 1000;

export interface GuestOptions {
  /** Cache directory (default: defaultCacheDir()). */
  cacheDir?: string;
  /** Debian mirror URL (default: the host's APT sources). */
  mirror?: string;
  /** Debian suite (default trixie). */
  suite?: string;
  /** Use only what is in the cache; never touch the network. */
  offline?: boolean;
  /** Receives progress and status lines (default: none). */
  log?: (line: string) => void;
  /** OpenPGP keyrings to trust (default: $TVISOR_KEYRING, colon-separated, else the host's Debian keyrings). */
  keyrings?: string[];
  /** Directory holding sources.list(.d) (default /etc/apt). */
  aptDir?: string;
  /** Terminal for the updating progress line (default: stderr when it is a TTY). */
  tty?: ProgressOptions['tty'];
}

export interface GuestManifest {
  format: number;
  suite: string;
  arch: string;
  kernelVersion: string;
  packages: Record<'kernel' | 'busybox' | 'opensbi', { package: string; version: string; sha256: string; file: string }>;
  /** Modules in the initramfs, in load order. */
  modules: string[];
  /** Requested modules that the kernel has built in. */
  builtinModules: string[];
  files: { kernel: string; initrd: string; firmware: string; busybox: string };
  /** SHA-256 of the init script the initramfs was built with; another script means the guest is outdated. */
  init?: string;
  created: string;
}

/** The hash recorded as GuestManifest.init for the init script this tvisor builds. */
const initHash = (): string => sha256Hex(initScript(''));

export interface GuestImage {
  /** The kernel Image (RISC-V Linux boot image). */
  kernel: string;
  /** The initramfs (newc cpio, uncompressed). */
  initrd: string;
  /** OpenSBI fw_dynamic.bin. */
  firmware: string;
  kernelVersion: string;
  /** The guest directory. */
  dir: string;
  manifest: GuestManifest;
}

/** $TVISOR_CACHE, else $XDG_CACHE_HOME/tvisor, else ~/.cache/tvisor. */
export function defaultCacheDir(): string {
  if (process.env.TVISOR_CACHE) return resolve(process.env.TVISOR_CACHE);
  const xdg = process.env.XDG_CACHE_HOME;
  // The XDG spec says relative paths are invalid and must be ignored.
  if (xdg && xdg.startsWith('/')) return join(xdg, 'tvisor');
  return join(homedir(), '.cache', 'tvisor');
}

interface Context {
  cache: string;
  suite: string;
  offline: boolean;
  log: (line: string) => void;
  opts: GuestOptions;
}

function context(opts: GuestOptions): Context {
  return {
    cache: resolve(opts.cacheDir ?? defaultCacheDir()),
    suite: opts.suite ?? DEFAULT_SUITE,
    offline: opts.offline ?? false,
    log: opts.log ?? (() => {}),
    opts,
  };
}

export function keyringsFor(opts: GuestOptions): string[] {
  if (opts.keyrings) return opts.keyrings;
  const env = process.env.TVISOR_KEYRING;
  if (env) return env.split(':').filter((p) => p !== '');
  return hostKeyrings();
}

function describeFsError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  return code ?? (e instanceof Error ? e.message.split('\n')[0] : String(e));
}

/** Wraps file-system failures on the cache as one-line ImageErrors. */
async function cacheOp<T>(what: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof ImageError) throw e;
    if ((e as NodeJS.ErrnoException)?.code) throw new ImageError(`${what}: ${describeFsError(e)}`);
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------------------
// The current guest

async function readManifest(dir: string): Promise<GuestManifest | undefined> {
  try {
    const m = JSON.parse(await readFile(join(dir, 'guest.json'), 'utf8')) as GuestManifest;
    if (m.format !== GUEST_FORMAT || m.init !== initHash()) return undefined;
    for (const f of Object.values(m.files)) if (!(await exists(join(dir, f)))) return undefined;
    for (const name of m.modules) if (!(await exists(join(dir, 'modules', `${name}.ko`)))) return undefined;
    return m;
  } catch {
    return undefined;
  }
}

function toImage(dir: string, manifest: GuestManifest): GuestImage {
  return {
    kernel: join(dir, manifest.files.kernel),
    initrd: join(dir, manifest.files.initrd),
    firmware: join(dir, manifest.files.firmware),
    kernelVersion: manifest.kernelVersion,
    dir,
    manifest,
  };
}

function currentPointer(cache: string, suite: string): string {
  return join(cache, 'guests', `current-${suite}.json`);
}

/** The current guest for the suite in the cache, if it is complete. */
export async function currentGuest(opts: GuestOptions = {}): Promise<GuestImage | undefined> {
  const ctx = context(opts);
  try {
    const { dir } = JSON.parse(await readFile(currentPointer(ctx.cache, ctx.suite), 'utf8')) as { dir: string };
    if (typeof dir !== 'string' || dir.includes('/') || dir.startsWith('.')) return undefined;
    const full = join(ctx.cache, 'guests', dir);
    const manifest = await readManifest(full);
    return manifest ? toImage(full, manifest) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Returns the default guest (kernel Image, initramfs, firmware), pulling and building it when the cache has
 * none. A guest already in the cache is used as it is, without contacting the mirror ('tvisor image pull'
 * updates it). With `offline`, builds only from cached packages and fails with an ImageError otherwise.
 */
export async function ensureDefaultGuest(opts: GuestOptions = {}): Promise<GuestImage> {
  const current = await currentGuest(opts);
  if (current) return current;
  return pullDefaultGuest(opts);
}

/**
 * `tvisor image pull`: checks the archive for the current packages (or, offline, the cached index), fetches
 * what is missing, builds the guest if needed, and makes it the current one.
 */
export async function pullDefaultGuest(opts: GuestOptions = {}): Promise<GuestImage> {
  const ctx = context(opts);
  await cacheOp(`cannot create the cache directory ${ctx.cache}`, () => mkdir(join(ctx.cache, 'tmp'), { recursive: true }));
  await removeStaleTemps(ctx.cache);
  let packages: GuestPackages;
  try {
    packages = await resolvePackages(ctx);
  } catch (e) {
    // Offline, a complete current guest is all that is needed even if the index is gone from the cache.
    const current = ctx.offline && e instanceof ImageError ? await currentGuest(opts) : undefined;
    if (!current) throw e;
    ctx.log(`using the cached guest ${basename(current.dir)} (${(e as ImageError).message})`);
    return current;
  }
  const id = sha256Hex(
    JSON.stringify({
      format: GUEST_FORMAT,
      kernel: packages.kernel.sha256,
      busybox: packages.busybox.sha256,
      opensbi: packages.opensbi.sha256,
      modules: DEFAULT_GUEST_MODULES,
      // a changed init script makes a new guest, so caches never keep an outdated one
      init: initHash(),
    }),
  ).slice(0, 12);
  const name = `${packages.kernelVersion}-${id}`;
  const dir = join(ctx.cache, 'guests', name);
  let manifest = await readManifest(dir);
  if (manifest) {
    ctx.log(`guest ${name} is up to date`);
  } else {
    const debs = {
      kernel: await ensureDeb(ctx, packages.kernel),
      busybox: await ensureDeb(ctx, packages.busybox),
      opensbi: await ensureDeb(ctx, packages.opensbi),
    };
    manifest = await buildGuest(ctx, packages, debs, dir);
  }
  await cacheOp('cannot update the cache', () =>
    writeFileAtomic(currentPointer(ctx.cache, ctx.suite), `${JSON.stringify({ dir: name })}\n`),
  );
  return toImage(dir, manifest);
}

async function removeStaleTemps(cache: string): Promise<void> {
  const now = Date.now();
  for (const [dir, match] of [
    [join(cache, 'tmp'), () => true],
    [join(cache, 'guests'), (n: string) => n.startsWith('.') && n.endsWith('.tmp')],
    [join(cache, 'archive'), (n: string) => n.startsWith('.') && n.endsWith('.tmp')],
  ] as const) {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      continue;
    }
    for (const n of names) {
      if (!match(n)) continue;
      try {
        const st = await stat(join(dir, n));
        if (now - st.mtimeMs > STALE_TEMP_MS) await rm(join(dir, n), { recursive: true, force: true });
      } catch {
        // gone already
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// The index chain: InRelease (signed) → Packages.xz → package records

function mirrorFor(ctx: Context): string {
  return debianMirror(ctx.opts);
}

/** --mirror, else the Debian mirror of the host's APT sources, without a trailing slash. */
export function debianMirror(opts: GuestOptions): string {
  const mirror = opts.mirror ?? hostDebianMirror(opts.aptDir);
  if (!mirror) {
    throw new ImageError(
      'no Debian mirror found in the APT sources (/etc/apt/sources.list, /etc/apt/sources.list.d/); pass --mirror URL',
    );
  }
  if (!/^https?:\/\/[^/]+/i.test(mirror)) throw new ImageError(`--mirror ${mirror}: expected an http:// or https:// URL`);
  return mirror.replace(/\/+$/, '');
}

const PACKAGES_PATH = `${COMPONENT}/binary-${GUEST_ARCH}/Packages.xz`;

interface SignedIndex {
  files: Record<string, Uint8Array>;
  release: ReleaseInfo;
}

async function verifyIndex(ctx: Context, files: Record<string, Uint8Array>, source: string): Promise<ReleaseInfo> {
  const keyrings = keyringsFor(ctx.opts);
  let text: string;
  if (keyrings.length === 0) {
    ctx.log(
      'warning: no Debian archive keyring on this host (/usr/share/keyrings/debian-archive-*); ' +
        'the index signature is NOT checked, only SHA-256 checksums',
    );
    text = files.InRelease
      ? unverifiedInReleaseText(new TextDecoder().decode(files.InRelease))
      : new TextDecoder().decode(files.Release);
  } else if (files.InRelease) {
    text = (await verifyInRelease(new TextDecoder().decode(files.InRelease), keyrings, `${source}/InRelease`)).text;
  } else {
    text = (await verifyDetached(files.Release, files['Release.gpg'], keyrings, `${source}/Release`)).text;
  }
  const release = parseRelease(text);
  checkReleaseSuite(release, ctx.suite);
  if (release.validUntil && release.validUntil.getTime() < Date.now()) {
    const message = `the ${ctx.suite} index expired on ${release.validUntil.toISOString()}`;
    if (!ctx.offline) throw new ArchiveError(`${message} (the mirror is out of date)`);
    ctx.log(`warning: ${message}`);
  }
  return release;
}

async function fetchSignedIndex(ctx: Context, mirror: string): Promise<SignedIndex> {
  const base = `${mirror}/dists/${ctx.suite}`;
  let files: Record<string, Uint8Array>;
  try {
    files = { InRelease: await fetchBytes(`${base}/InRelease`) };
  } catch (e) {
    if (!(e instanceof DownloadError) || e.status !== 404) throw e;
    try {
      files = { Release: await fetchBytes(`${base}/Release`), 'Release.gpg': await fetchBytes(`${base}/Release.gpg`) };
    } catch (e2) {
      if (e2 instanceof DownloadError && e2.status === 404) {
        throw new ArchiveError(`the mirror ${mirror} has no suite '${ctx.suite}' (no dists/${ctx.suite}/InRelease or Release)`);
      }
      throw e2;
    }
  }
  return { files, release: await verifyIndex(ctx, files, base) };
}

async function readCachedIndex(ctx: Context): Promise<SignedIndex> {
  const dir = join(ctx.cache, 'archive', ctx.suite);
  const files: Record<string, Uint8Array> = {};
  for (const name of ['InRelease', 'Release', 'Release.gpg']) {
    try {
      files[name] = new Uint8Array(await readFile(join(dir, name)));
    } catch {
      // absent
    }
  }
  if (!files.InRelease && !(files.Release && files['Release.gpg'])) {
    throw new ImageError(
      `no cached index for '${ctx.suite}' in ${ctx.cache}; run 'tvisor image pull' with network access first`,
    );
  }
  return { files, release: await verifyIndex(ctx, files, `cached ${ctx.suite} index`) };
}

/** Downloads url to `final` through a temp file, keeping it only if it matches `expected`. */
async function downloadVerified(
  ctx: Context,
  urls: string[],
  final: string,
  expected: ChecksumEntry,
  label: string,
): Promise<void> {
  const temp = join(ctx.cache, 'tmp', `${basename(final)}.${process.pid}.${Date.now().toString(36)}.part`);
  let lastError: unknown;
  for (const url of urls) {
    try {
      const got = await downloadToFile(url, temp, { label, expectedSize: expected.size, log: ctx.log, tty: ctx.opts.tty });
      try {
        checkDigest(`${url}`, expected, got.sha256, got.size);
      } catch (e) {
        await rm(temp, { force: true });
        throw e;
      }
      await cacheOp(`cannot store ${final}`, async () => {
        await mkdir(join(final, '..'), { recursive: true });
        await rename(temp, final);
      });
      return;
    } catch (e) {
      await rm(temp, { force: true });
      lastError = e;
      // Only a missing by-hash file falls back to the next URL.
      if (!(e instanceof DownloadError && e.status === 404)) throw e;
    }
  }
  throw lastError;
}

/** Makes sure the suite's verified Packages.xz is in the cache; returns its path and checksum. */
async function ensurePackagesIndex(ctx: Context): Promise<{ file: string; entry: ChecksumEntry }> {
  let index: SignedIndex;
  let mirror: string | undefined;
  if (ctx.offline) {
    index = await readCachedIndex(ctx);
  } else {
    mirror = mirrorFor(ctx);
    ctx.log(`checking ${mirror}/dists/${ctx.suite}`);
    index = await fetchSignedIndex(ctx, mirror);
  }
  const entry = index.release.sha256.get(PACKAGES_PATH);
  if (!entry) throw new ArchiveError(`the ${ctx.suite} Release file lists no ${PACKAGES_PATH}`);
  const packagesFile = join(ctx.cache, 'archive', 'by-hash', `${entry.sha256}.xz`);
  const cached = await exists(packagesFile);
  if (cached) {
    const got = await hashFile(packagesFile);
    if (got.sha256 !== entry.sha256 || got.size !== entry.size) {
      await rm(packagesFile, { force: true });
      if (ctx.offline) throw new ArchiveError(`the cached ${PACKAGES_PATH} is corrupt; run 'tvisor image pull' online`);
    }
  }
  if (!(await exists(packagesFile))) {
    if (ctx.offline || !mirror) throw new ImageError(`${PACKAGES_PATH} for '${ctx.suite}' is not in the cache; run 'tvisor image pull' online`);
    const base = `${mirror}/dists/${ctx.suite}`;
    const urls = index.release.acquireByHash
      ? [`${base}/${COMPONENT}/binary-${GUEST_ARCH}/by-hash/SHA256/${entry.sha256}`, `${base}/${PACKAGES_PATH}`]
      : [`${base}/${PACKAGES_PATH}`];
    await downloadVerified(ctx, urls, packagesFile, entry, `${ctx.suite} ${PACKAGES_PATH}`);
  }
  if (!ctx.offline) {
    // The signed index goes in after the Packages file it names, so the cache never points at a missing one.
    const dir = join(ctx.cache, 'archive', ctx.suite);
    await cacheOp('cannot store the index', async () => {
      for (const [name, data] of Object.entries(index.files)) await writeFileAtomic(join(dir, name), data);
      for (const stale of ['InRelease', 'Release', 'Release.gpg']) {
        if (!(stale in index.files)) await rm(join(dir, stale), { force: true });
      }
    });
  }
  return { file: packagesFile, entry };
}

async function resolvePackages(ctx: Context): Promise<GuestPackages> {
  const { file: packagesFile, entry } = await ensurePackagesIndex(ctx);
  const selectionFile = join(ctx.cache, 'archive', `selection-${entry.sha256}.json`);
  try {
    const selection = JSON.parse(await readFile(selectionFile, 'utf8')) as GuestPackages;
    if (selection.kernel?.sha256 && selection.busybox?.sha256 && selection.opensbi?.sha256) return selection;
  } catch {
    // not cached yet
  }
  const text = await xzDecompress(new Uint8Array(await readFile(packagesFile)));
  const selection = selectGuestPackages(text, GUEST_ARCH);
  const strip = ({ fields: _fields, ...rest }: PackageRecord): PackageRecord => rest;
  const stored = { ...selection, kernel: strip(selection.kernel), busybox: strip(selection.busybox), opensbi: strip(selection.opensbi) };
  await cacheOp('cannot store the package selection', () => writeFileAtomic(selectionFile, `${JSON.stringify(stored, null, 2)}\n`));
  return stored;
}

/** Makes sure the verified .deb for `record` is in the cache; returns its path. */
async function ensureDeb(ctx: Context, record: PackageRecord): Promise<string> {
  const file = join(ctx.cache, 'debs', basename(record.filename));
  const expected = { sha256: record.sha256, size: record.size };
  if (await exists(file)) {
    const got = await hashFile(file);
    if (got.sha256 === expected.sha256 && got.size === expected.size) return file;
    ctx.log(`warning: the cached ${basename(file)} does not match the index; fetching it again`);
    await rm(file, { force: true });
  }
  if (ctx.offline) {
    throw new ImageError(`${record.package} ${record.version} is not in the cache; run 'tvisor image pull' online`);
  }
  const mirror = mirrorFor(ctx);
  await downloadVerified(ctx, [`${mirror}/${record.filename}`], file, expected, `${record.package} ${record.version}`);
  return file;
}

/**
 * The suite's Packages index (decompressed), reached through the same verified chain as the guest's packages
 * (from the cache with `offline`); for `tvisor image build --packages`.
 */
export async function readPackagesIndex(opts: GuestOptions = {}): Promise<Uint8Array> {
  const ctx = context(opts);
  await cacheOp(`cannot create the cache directory ${ctx.cache}`, () => mkdir(join(ctx.cache, 'tmp'), { recursive: true }));
  const { file } = await ensurePackagesIndex(ctx);
  return xzDecompress(new Uint8Array(await readFile(file)));
}

/** The cached .deb for a record of readPackagesIndex(), downloaded and checked against its SHA-256 if needed. */
export async function fetchPackage(opts: GuestOptions, record: PackageRecord): Promise<string> {
  const ctx = context(opts);
  await cacheOp(`cannot create the cache directory ${ctx.cache}`, () => mkdir(join(ctx.cache, 'tmp'), { recursive: true }));
  return ensureDeb(ctx, record);
}

// ---------------------------------------------------------------------------------------------------------
// Building the guest from the three packages

interface KernelParts {
  image: Uint8Array;
  kernelVersion: string;
  /** canonical module name → { path in the module tree, file contents (as packaged, usually .ko.xz) } */
  modules: Map<string, { path: string; data: Uint8Array }>;
  builtin: Set<string>;
  builtinModinfo: Map<string, Modinfo>;
}

async function withDeb<T>(path: string, f: (source: ByteSource) => Promise<T>): Promise<T> {
  const source = await cacheOp(`cannot open ${path}`, () => openFileSource(path));
  try {
    return await f(source);
  } catch (e) {
    if (e instanceof ImageError) throw new ImageError(`${basename(path)}: ${e.message}`);
    throw e;
  } finally {
    await source.close();
  }
}

async function readKernelDeb(path: string, expectedVersion: string): Promise<KernelParts> {
  return withDeb(path, async (source) => {
    let image: Uint8Array | undefined;
    let imageVersion: string | undefined;
    const modules = new Map<string, { path: string; data: Uint8Array }>();
    let builtinList: Uint8Array | undefined;
    let builtinModinfo: Uint8Array | undefined;
    const moduleRe = /^(?:usr\/)?lib\/modules\/([^/]+)\/(kernel\/.+\.ko(?:\.xz|\.gz)?|modules\.builtin|modules\.builtin\.modinfo)$/;
    const imageRe = /^boot\/(?:vmlinux|vmlinuz|Image)-(.+)$/;
    const versions = new Set<string>();
    for await (const e of readDebData(source, (h) => imageRe.test(h.path) || moduleRe.test(h.path))) {
      if (!e.data) continue;
      const im = imageRe.exec(e.path);
      if (im) {
        if (!isRiscvImage(e.data)) continue;
        image = e.data;
        imageVersion = im[1];
        continue;
      }
      const mm = moduleRe.exec(e.path);
      if (!mm) continue;
      versions.add(mm[1]);
      if (mm[2] === 'modules.builtin') builtinList = e.data;
      else if (mm[2] === 'modules.builtin.modinfo') builtinModinfo = e.data;
      else {
        const name = canonicalModuleName(basename(mm[2]).replace(/\.ko(\.xz|\.gz)?$/, ''));
        modules.set(name, { path: mm[2], data: e.data });
      }
    }
    if (!image || !imageVersion) throw new ImageError('the kernel package holds no RISC-V boot Image (boot/vmlinux-*)');
    if (imageVersion !== expectedVersion) {
      throw new ImageError(`the kernel package holds kernel ${imageVersion}, expected ${expectedVersion}`);
    }
    if (modules.size === 0 || !versions.has(imageVersion)) throw new ImageError(`the kernel package has no modules for ${imageVersion}`);
    return {
      image,
      kernelVersion: imageVersion,
      modules,
      builtin: builtinList ? parseModulesBuiltin(new TextDecoder().decode(builtinList)) : new Set(),
      builtinModinfo: builtinModinfo ? parseBuiltinModinfo(builtinModinfo) : new Map(),
    };
  });
}

async function extractOne(path: string, what: string, match: (p: string) => boolean): Promise<{ path: string; data: Uint8Array }> {
  return withDeb(path, async (source) => {
    for await (const e of readDebData(source, (h) => match(h.path))) {
      if (e.data && e.data.length > 0) return { path: e.path, data: e.data };
    }
    throw new ImageError(`the package holds no ${what}`);
  });
}

function isRiscv64Elf(bytes: Uint8Array): boolean {
  return bytes.length > 20 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[4] === 2 && bytes[18] === 243 && bytes[19] === 0;
}

async function buildGuest(
  ctx: Context,
  packages: GuestPackages,
  debs: Record<'kernel' | 'busybox' | 'opensbi', string>,
  dir: string,
): Promise<GuestManifest> {
  const started = Date.now();
  ctx.log(`building the guest for Linux ${packages.kernelVersion}`);
  const kernel = await readKernelDeb(debs.kernel, packages.kernelVersion);
  const busybox = await extractOne(debs.busybox, 'busybox binary', (p) => p === 'bin/busybox' || p === 'usr/bin/busybox');
  if (!isRiscv64Elf(busybox.data)) throw new ImageError(`${basename(debs.busybox)}: ${busybox.path} is not a RISC-V 64-bit ELF file`);
  const firmware = await extractOne(debs.opensbi, 'riscv64 fw_dynamic.bin', (p) =>
    /^usr\/lib\/riscv64[^/]*\/(?:opensbi\/)?(?:generic\/)?fw_dynamic\.bin$/.test(p),
  );

  const modinfoCache = new Map<string, Modinfo>();
  const koFor = async (name: string): Promise<Uint8Array> => {
    const m = kernel.modules.get(name);
    if (!m) throw new ImageError(`no module '${name}'`);
    return detectCompression(m.data) === 'none' ? m.data : decompressAuto(m.data);
  };
  const builtinAliases = new Map<string, string>();
  for (const [name, info] of kernel.builtinModinfo) for (const a of info.aliases) builtinAliases.set(a, name);
  const tree: ModuleTree = {
    paths: new Map([...kernel.modules].map(([name, m]) => [name, m.path])),
    builtin: new Set([...kernel.builtin, ...kernel.builtinModinfo.keys()]),
    builtinAliases,
    async modinfo(name) {
      let info = modinfoCache.get(name);
      if (!info) {
        info = readModinfo(await koFor(name), name);
        modinfoCache.set(name, info);
      }
      return info;
    },
  };
  const resolved = await resolveModules(tree, DEFAULT_GUEST_MODULES, ctx.log);
  if (resolved.builtin.length) ctx.log(`built into the kernel: ${resolved.builtin.join(', ')}`);
  if (resolved.unresolvedSoftdeps.length) ctx.log(`warning: optional modules not found: ${resolved.unresolvedSoftdeps.join(', ')}`);
  const modules: InitramfsModule[] = [];
  for (const name of resolved.order) modules.push({ name, data: await koFor(name) });
  ctx.log(`modules (load order): ${resolved.order.join(' ')}`);

  const initrd = buildInitramfs({ busybox: busybox.data, modules, kernelVersion: kernel.kernelVersion });
  const manifest: GuestManifest = {
    format: GUEST_FORMAT,
    suite: ctx.suite,
    arch: GUEST_ARCH,
    kernelVersion: kernel.kernelVersion,
    packages: {
      kernel: describePackage(packages.kernel),
      busybox: describePackage(packages.busybox),
      opensbi: describePackage(packages.opensbi),
    },
    modules: resolved.order,
    builtinModules: resolved.builtin,
    files: { kernel: 'Image', initrd: 'initramfs.cpio', firmware: 'fw_dynamic.bin', busybox: 'busybox' },
    init: initHash(),
    created: new Date().toISOString(),
  };

  const temp = tempNameFor(dir);
  await cacheOp(`cannot write the guest to ${dir}`, async () => {
    try {
      await mkdir(join(temp, 'modules'), { recursive: true });
      await writeFile(join(temp, manifest.files.kernel), kernel.image);
      await writeFile(join(temp, manifest.files.initrd), initrd);
      await writeFile(join(temp, manifest.files.firmware), firmware.data);
      await writeFile(join(temp, manifest.files.busybox), busybox.data, { mode: 0o755 });
      for (const m of modules) await writeFile(join(temp, 'modules', `${m.name}.ko`), m.data);
      await writeFile(join(temp, 'guest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
      if (await readManifest(dir)) {
        await rm(temp, { recursive: true, force: true }); // another pull finished it first
      } else {
        await rm(dir, { recursive: true, force: true });
        await rename(temp, dir);
      }
    } catch (e) {
      await rm(temp, { recursive: true, force: true });
      throw e;
    }
  });
  ctx.log(
    `built ${basename(dir)}: kernel ${formatBytes(kernel.image.length)}, initramfs ${formatBytes(initrd.length)} ` +
      `(${modules.length} modules), firmware ${formatBytes(firmware.data.length)} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return manifest;
}

function describePackage(r: PackageRecord): GuestManifest['packages']['kernel'] {
  return { package: r.package, version: r.version, sha256: r.sha256, file: basename(r.filename) };
}

/** The parts of a built guest, for making variant initramfs images (e.g. with an /autorun.sh). */
export async function readGuestParts(guest: GuestImage): Promise<{ busybox: Uint8Array; modules: InitramfsModule[]; kernelVersion: string }> {
  const busybox = new Uint8Array(await readFile(join(guest.dir, guest.manifest.files.busybox)));
  const modules: InitramfsModule[] = [];
  for (const name of guest.manifest.modules) {
    modules.push({ name, data: new Uint8Array(await readFile(join(guest.dir, 'modules', `${name}.ko`))) });
  }
  return { busybox, modules, kernelVersion: guest.kernelVersion };
}

// ---------------------------------------------------------------------------------------------------------
// Listing the cache

export interface CacheListing {
  cacheDir: string;
  indexes: { suite: string; version: string; date: string | undefined }[];
  debs: { file: string; size: number }[];
  guests: { name: string; dir: string; manifest: GuestManifest; size: number; current: boolean }[];
}

async function dirSize(path: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(path, { withFileTypes: true })) {
    const p = join(path, e.name);
    total += e.isDirectory() ? await dirSize(p) : (await stat(p)).size;
  }
  return total;
}

export async function listCache(opts: { cacheDir?: string } = {}): Promise<CacheListing> {
  const cacheDir = resolve(opts.cacheDir ?? defaultCacheDir());
  const listing: CacheListing = { cacheDir, indexes: [], debs: [], guests: [] };
  const names = async (dir: string): Promise<string[]> => {
    try {
      return (await readdir(dir)).sort();
    } catch {
      return [];
    }
  };
  for (const suite of await names(join(cacheDir, 'archive'))) {
    if (suite === 'by-hash' || suite.endsWith('.json') || suite.startsWith('.')) continue;
    for (const file of ['InRelease', 'Release']) {
      try {
        const raw = await readFile(join(cacheDir, 'archive', suite, file), 'utf8');
        const release = parseRelease(file === 'InRelease' ? unverifiedInReleaseText(raw) : raw);
        listing.indexes.push({ suite, version: release.version, date: release.date?.toISOString() });
        break;
      } catch {
        // try the next form
      }
    }
  }
  for (const file of await names(join(cacheDir, 'debs'))) {
    if (!file.endsWith('.deb')) continue;
    listing.debs.push({ file, size: (await stat(join(cacheDir, 'debs', file))).size });
  }
  const currents = new Set<string>();
  for (const file of await names(join(cacheDir, 'guests'))) {
    const m = /^current-(.+)\.json$/.exec(file);
    if (!m) continue;
    try {
      currents.add((JSON.parse(await readFile(join(cacheDir, 'guests', file), 'utf8')) as { dir: string }).dir);
    } catch {
      // ignore a damaged pointer
    }
  }
  for (const name of await names(join(cacheDir, 'guests'))) {
    if (name.startsWith('.') || name.endsWith('.json')) continue;
    const dir = join(cacheDir, 'guests', name);
    const manifest = await readManifest(dir);
    if (!manifest) continue;
    listing.guests.push({ name, dir, manifest, size: await dirSize(dir), current: currents.has(name) });
  }
  return listing;
}
