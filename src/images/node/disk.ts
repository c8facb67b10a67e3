// `tvisor image build`: an ext4 root disk for the default guest, made by e2fsprogs' mke2fs -d from a staging
// tree holding busybox, the guest's modules, an /sbin/init and, optionally, Debian packages' files.
//
// The tree follows Debian trixie's merged-/usr layout (/bin, /sbin and /lib are symlinks into /usr). Packages
// are resolved from the same signed index as the default guest and only their data.tar is unpacked: no
// maintainer scripts run, ownership is root:root throughout, and version constraints are not checked.
import { chmod, link, lstat, mkdir, mkdtemp, readdir, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { findPackages, newest, parseDepends, type PackageRecord } from '../debian.js';
import { readDebData } from '../deb.js';
import { ImageError } from '../errors.js';
import { diskInitScript, GUEST_HOSTNAME, MODULE_LOAD_ORDER_FILE } from '../initramfs.js';
import type { TarEntry } from '../tar.js';
import { openFileSource, tempNameFor } from './files.js';
import { ensureDefaultGuest, fetchPackage, GUEST_ARCH, readGuestParts, readPackagesIndex, type GuestOptions } from './guest.js';
import { formatBytes } from './progress.js';
import { checkOutput, defaultToolDirs, findTool, firstLine, publishOutput, run } from './tools.js';

export const DEFAULT_DISK_OUTPUT = 'tvisor-root.img';
/** The file system label, so root=LABEL=tvisor-root finds the disk whatever its device name. */
export const DISK_LABEL = 'tvisor-root';

export interface DiskOptions extends GuestOptions {
  /** The image file to write (default ./tvisor-root.img). */
  output?: string;
  /** Size of the image in bytes. */
  size: number;
  /** More Debian packages, unpacked with their dependencies. */
  packages?: string[];
  /** Replace an existing output file. */
  force?: boolean;
  /** Directories searched for mke2fs and debugfs (default: $PATH, then /usr/sbin and /sbin). */
  toolDirs?: string[];
}

export interface DiskImage {
  path: string;
  /** Size of the image in bytes. */
  size: number;
  /** What the files take, counted in 4 KiB blocks. */
  contentBytes: number;
  /** "name version" of each package unpacked besides busybox. */
  packages: string[];
  kernelVersion: string;
}

const MiB = 2 ** 20;

function describeError(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err?.code && err.path) return `${err.code} on ${err.path}`;
  return err?.code ?? (e instanceof Error ? e.message.split('\n')[0] : String(e));
}

/** Builds the disk image; throws an ImageError that says what to do for every failure a user can meet. */
export async function buildDiskImage(opts: DiskOptions): Promise<DiskImage> {
  const log = opts.log ?? (() => {});
  const output = resolve(opts.output ?? DEFAULT_DISK_OUTPUT);
  if (!Number.isSafeInteger(opts.size) || opts.size <= 0 || opts.size % 1024 !== 0) {
    throw new ImageError(`invalid disk size ${opts.size} (expected a whole number of KiB, e.g. 256M)`);
  }
  await checkOutput(output, opts.force === true);
  const dirs = opts.toolDirs ?? defaultToolDirs();
  const mke2fs = await findTool('mke2fs', dirs);
  if (!mke2fs) throw new ImageError(`mke2fs not found in ${dirs.join(':')}; install e2fsprogs: apt-get install e2fsprogs`);
  const debugfs = await findTool('debugfs', dirs);

  const guest = await ensureDefaultGuest(opts);
  const parts = await readGuestParts(guest);
  const debs: { record: PackageRecord; file: string }[] = [];
  if (opts.packages?.length) {
    log(`resolving ${opts.packages.join(', ')} in the ${guest.manifest.suite} ${GUEST_ARCH} archive`);
    const index = new PackageIndex(await readPackagesIndex(opts));
    const records = resolvePackageSet(index, opts.packages, log);
    const total = records.reduce((n, r) => n + r.size, 0);
    log(`${records.length} packages (${formatBytes(total)}): ${records.map((r) => r.package).join(' ')}`);
    for (const record of records) {
      try {
        debs.push({ record, file: await fetchPackage(opts, record) });
      } catch (e) {
        if (!(opts.offline && e instanceof ImageError)) throw e;
        // fetchPackage's advice (image pull) would not fetch it: only a build with the network does.
        throw new ImageError(`${record.package} ${record.version} is not in the cache; run the same 'tvisor image build --packages …' without --offline once`);
      }
    }
  }

  const staging = await mkdtemp(join(tmpdir(), 'tvisor-disk-'));
  const temp = tempNameFor(output);
  try {
    log(`staging the root file system in ${staging}`);
    const tree = new StagingTree(staging, log);
    await tree.createBase();
    for (const { record, file } of debs) {
      log(`unpacking ${record.package} ${record.version}`);
      await tree.unpackDeb(file, record.package);
    }
    await tree.addGuestFiles(parts.busybox, parts.modules, parts.kernelVersion);
    await tree.finish();
    const usage = await measureTree(staging);
    const needed = estimateDiskSize(usage.bytes, usage.inodes);
    const tooSmall = (): ImageError =>
      new ImageError(
        `a ${formatBytes(opts.size)} disk is too small: the files take ${formatBytes(usage.bytes)} (${usage.inodes} inodes) ` +
          `and ext4 needs room for its journal and inode tables; use --disk ${Math.ceil(needed / MiB)}M or more`,
      );
    if (opts.size < usage.bytes) throw tooSmall();

    log(`making the ext4 file system (${formatBytes(opts.size)}, files ${formatBytes(usage.bytes)})`);
    const args = ['-t', 'ext4', '-F', '-q', '-L', DISK_LABEL, '-d', staging, '-E', 'root_owner=0:0', temp, `${opts.size / 1024}k`];
    const made = await run(mke2fs, args);
    if (made.status !== 0) {
      if (/could not allocate|no space left|no free space|too small/i.test(made.stderr)) throw tooSmall();
      throw new ImageError(`mke2fs failed (status ${made.status}): ${firstLine(made.stderr) || 'no message'}`);
    }
    await finishImage(temp, debugfs, usage.nonRootOwned, log);
    await publishOutput(temp, output, opts.force === true);
    log(`wrote ${output}`);
    return {
      path: output,
      size: opts.size,
      contentBytes: usage.bytes,
      packages: debs.map(({ record }) => `${record.package} ${record.version}`),
      kernelVersion: parts.kernelVersion,
    };
  } catch (e) {
    if (e instanceof ImageError) throw e;
    if ((e as NodeJS.ErrnoException)?.code) throw new ImageError(`cannot build the disk image: ${describeError(e)}`);
    throw e;
  } finally {
    await rm(temp, { force: true });
    await rm(staging, { recursive: true, force: true });
  }
}

/**
 * What mke2fs needs for `bytes` of files and `inodes` inodes, from the defaults of Debian's mke2fs.conf for
 * ext4: 1 KiB blocks and an inode per 4 KiB below 512 MiB (else 4 KiB blocks and an inode per 16 KiB),
 * 256-byte inodes, the journal size of ext2fs_default_journal_size(), plus 5% and 1 MiB for bitmaps, group
 * descriptors and the blocks reserved for growing. Errs on the large side: it is advice after a failure.
 */
export function estimateDiskSize(bytes: number, inodes: number): number {
  for (let size = Math.max(MiB, Math.ceil(bytes / MiB) * MiB); ; size += Math.max(MiB, Math.floor(size / 64 / MiB) * MiB)) {
    const small = size < 512 * MiB;
    const block = small ? 1024 : 4096;
    const blocks = size / block;
    const inodeCount = size / (small ? 4096 : 16384);
    const journalBlocks = blocks < 2048 ? 0 : blocks < 32768 ? 1024 : blocks < 262144 ? 4096 : blocks < 524288 ? 8192
      : blocks < 4194304 ? 16384 : blocks < 8388608 ? 32768 : blocks < 16777216 ? 65536 : blocks < 33554432 ? 131072 : 262144;
    const usable = size - inodeCount * 256 - journalBlocks * block - size * 0.05 - MiB;
    if (usable >= bytes && inodeCount >= inodes + 16) return size;
  }
}

/** The files' size in 4 KiB blocks (directories and long symlinks take one), their inode count and owners. */
async function measureTree(root: string): Promise<{ bytes: number; inodes: number; nonRootOwned: string[] }> {
  const block = (n: number): number => Math.ceil(n / 4096) * 4096;
  let bytes = 0;
  let inodes = 0;
  const nonRootOwned: string[] = [];
  const seen = new Set<number>();
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const path = join(dir, name);
      const st = await lstat(path);
      const guestPath = `${rel}/${name}`;
      if (st.uid !== 0 || st.gid !== 0) nonRootOwned.push(guestPath);
      if (st.nlink > 1 && !st.isDirectory()) {
        if (seen.has(st.ino)) continue; // a hard link takes no more room
        seen.add(st.ino);
      }
      inodes++;
      if (st.isDirectory()) {
        bytes += 4096;
        await walk(path, guestPath);
      } else if (st.isSymbolicLink()) {
        if (st.size >= 60) bytes += 4096; // shorter targets live in the inode
      } else {
        bytes += block(st.size);
      }
    }
  };
  await walk(root, '');
  return { bytes: bytes + 4096, inodes: inodes + 11, nonRootOwned };
}

/**
 * Adds what mke2fs -d cannot: /dev/console and /dev/null (device nodes need root to stage, and the kernel
 * opens /dev/console before init when booted without an initramfs), and root ownership for files staged by
 * another user. Both through debugfs, which edits the image without mounting it.
 */
async function finishImage(image: string, debugfs: string | undefined, nonRootOwned: string[], log: (line: string) => void): Promise<void> {
  if (!debugfs) {
    log('warning: debugfs not found: the image has no /dev/console, so it boots only through the initramfs');
    if (nonRootOwned.length) log(`warning: ${nonRootOwned.length} files in the image are owned by uid ${process.getuid?.()}, not root`);
    return;
  }
  const commands = ['cd /dev', 'mknod console c 5 1', 'sif console mode 020600', 'mknod null c 1 3', 'sif null mode 020666'];
  for (const path of nonRootOwned) {
    if (/["\n\\]/.test(path)) {
      log(`warning: ${JSON.stringify(path)} stays owned by uid ${process.getuid?.()} (debugfs cannot name it)`);
      continue;
    }
    commands.push(`sif "${path}" uid 0`, `sif "${path}" gid 0`);
  }
  const script = `${image}.debugfs`;
  try {
    await writeFile(script, `${commands.join('\n')}\n`);
    const r = await run(debugfs, ['-w', '-f', script, image]);
    // debugfs exits 0 even when a command fails; its errors are the stderr lines after its banner.
    const errors = r.stderr.split('\n').filter((l) => l.trim() !== '' && !/^debugfs \d/.test(l));
    if (r.status !== 0 || errors.length) throw new ImageError(`debugfs failed: ${errors[0] ?? `status ${r.status}`}`);
  } finally {
    await rm(script, { force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------
// The staging tree

/** The guest's view of a path inside the staging directory: symlinks are followed as the guest would. */
class StagingTree {
  private readonly dirModes = new Map<string, number>();

  constructor(
    readonly root: string,
    private readonly log: (line: string) => void,
  ) {}

  /** Resolves the directories of `path` inside the root (creating missing ones); returns the host path. */
  async resolve(path: string): Promise<string> {
    const todo = path.split('/').filter((c) => c !== '' && c !== '.');
    if (todo.length === 0 || todo.at(-1) === '..') throw new ImageError(`bad path '${path}'`);
    const done: string[] = [];
    let hops = 0;
    while (todo.length > 1) {
      const c = todo.shift()!;
      if (c === '..') {
        done.pop(); // as at the real root, ".." of / is /
        continue;
      }
      const host = join(this.root, ...done, c);
      const st = await lstat(host).catch(() => undefined);
      if (!st) {
        await mkdir(host, { mode: 0o755 });
        done.push(c);
      } else if (st.isSymbolicLink()) {
        if (++hops > 40) throw new ImageError(`/${path}: too many levels of symbolic links`);
        const target = await readlink(host);
        if (target.startsWith('/')) done.length = 0;
        todo.unshift(...target.split('/').filter((t) => t !== '' && t !== '.'));
      } else if (st.isDirectory()) {
        done.push(c);
      } else {
        throw new ImageError(`/${path}: /${[...done, c].join('/')} is not a directory`);
      }
    }
    return join(this.root, ...done, todo[0]);
  }

  async dir(path: string, mode = 0o755): Promise<void> {
    const host = await this.resolve(path);
    const st = await lstat(host).catch(() => undefined);
    if (st?.isDirectory()) {
      this.dirModes.set(host, mode);
      return;
    }
    // A symlink where a package has a directory is kept, as dpkg does (bin -> usr/bin).
    if (st?.isSymbolicLink() && (await stat(host).catch(() => undefined))?.isDirectory()) return;
    if (st) await rm(host, { force: true });
    await mkdir(host, { mode: 0o755 });
    this.dirModes.set(host, mode);
  }

  async file(path: string, data: Uint8Array | string, mode = 0o644): Promise<void> {
    const host = await this.resolve(path);
    const st = await lstat(host).catch(() => undefined);
    if (st?.isDirectory()) throw new ImageError(`/${path} is a directory`);
    if (st) await rm(host, { force: true }); // never write through a symlink
    await writeFile(host, data, { mode: 0o600 });
    await chmod(host, mode);
  }

  async symlink(path: string, target: string, replace = true): Promise<void> {
    const host = await this.resolve(path);
    const st = await lstat(host).catch(() => undefined);
    if (st && !replace) return;
    if (st?.isDirectory()) throw new ImageError(`/${path} is a directory`);
    if (st) await rm(host, { force: true });
    await symlink(target, host);
  }

  /** The directories of a minimal Debian root, /bin, /sbin and /lib merged into /usr as in trixie. */
  async createBase(): Promise<void> {
    for (const d of ['usr/bin', 'usr/sbin', 'usr/lib', 'etc', 'dev', 'proc', 'sys', 'run', 'home', 'mnt', 'var/log', 'var/lib']) await this.dir(d);
    await this.dir('root', 0o700);
    await this.dir('tmp', 0o1777);
    await this.dir('var/tmp', 0o1777);
    for (const d of ['bin', 'sbin', 'lib']) await this.symlink(d, `usr/${d}`);
  }

  /** Unpacks a package's data.tar. */
  async unpackDeb(file: string, name: string): Promise<void> {
    const source = await openFileSource(file);
    try {
      for await (const entry of readDebData(source, () => true)) await this.install(entry, name);
    } catch (e) {
      if (e instanceof ImageError) throw new ImageError(`${basename(file)}: ${e.message}`);
      throw e;
    } finally {
      await source.close();
    }
  }

  private async install(entry: TarEntry, pkg: string): Promise<void> {
    if (entry.path === '') return;
    if (entry.path.split('/').includes('..')) throw new ImageError(`unsafe path '${entry.path}'`);
    const mode = entry.mode & 0o7777;
    switch (entry.type) {
      case 'directory':
        return this.dir(entry.path, mode);
      case 'file':
        return this.file(entry.path, entry.data ?? new Uint8Array(0), mode);
      case 'symlink':
        return this.symlink(entry.path, entry.linkname);
      case 'hardlink': {
        const target = await this.resolve(entry.linkname);
        const host = await this.resolve(entry.path);
        await rm(host, { force: true });
        try {
          await link(target, host);
        } catch (e) {
          this.log(`warning: ${pkg}: cannot link /${entry.path} to /${entry.linkname} (${describeError(e)})`);
        }
        return;
      }
      default:
        this.log(`warning: ${pkg}: skipped /${entry.path} (not a file, directory or link)`);
    }
  }

  /** busybox, /sbin/init, the kernel modules and the files in /etc; these replace what packages put there. */
  async addGuestFiles(busybox: Uint8Array, modules: { name: string; data: Uint8Array }[], kernelVersion: string): Promise<void> {
    await this.file('usr/bin/busybox', busybox, 0o755);
    // The rest of the applets are linked by `busybox --install -s` at each boot (the list is in the binary).
    await this.symlink('usr/bin/sh', 'busybox', false);
    await this.file('usr/sbin/init', diskInitScript(kernelVersion), 0o755);
    const moddir = `usr/lib/modules/${kernelVersion}`;
    await this.dir(moddir);
    for (const m of modules) await this.file(`${moddir}/${m.name}.ko`, m.data);
    await this.file(`${moddir}/${MODULE_LOAD_ORDER_FILE}`, modules.map((m) => `${m.name}.ko\n`).join(''));
    await this.file('etc/hostname', `${GUEST_HOSTNAME}\n`);
    await this.file('etc/hosts', `127.0.0.1\tlocalhost\n127.0.1.1\t${GUEST_HOSTNAME}\n::1\t\tlocalhost ip6-localhost ip6-loopback\n`);
    await this.file(
      'etc/passwd',
      'root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n' +
        'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n',
    );
    // No root password: the console shell needs none, and login/su accept an empty one.
    await this.file('etc/shadow', 'root::20000:0:99999:7:::\ndaemon:*:20000:0:99999:7:::\nnobody:*:20000:0:99999:7:::\n', 0o640);
    await this.file(
      'etc/group',
      'root:x:0:\ndaemon:x:1:\ntty:x:5:\ndisk:x:6:\nshadow:x:42:\nutmp:x:43:\nusers:x:100:\nnogroup:x:65534:\n',
    );
    await this.file('etc/fstab', `# <file system>\t<mount point>\t<type>\t<options>\t<dump>\t<pass>\nLABEL=${DISK_LABEL}\t/\text4\trw,relatime\t0\t1\n`);
    await this.symlink('etc/mtab', '../proc/self/mounts');
    await this.file('etc/profile', [
      'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'export PS1=\'\\u@\\h:\\w\\$ \'',
      '',
    ].join('\n'));
    await this.file('etc/shells', '/bin/sh\n/usr/bin/sh\n');
  }

  /** Applies directory modes last, so a read-only directory never stops files from going into it. */
  async finish(): Promise<void> {
    for (const [host, mode] of this.dirModes) await chmod(host, mode);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Package selection

/** Where each package's stanzas are in a Packages index, and which packages provide each virtual name. */
export class PackageIndex {
  private readonly text: string;
  private readonly stanzas = new Map<string, [number, number][]>();
  readonly providers = new Map<string, string[]>();

  constructor(index: Uint8Array | string) {
    this.text = typeof index === 'string' ? index : new TextDecoder().decode(index);
    const text = this.text;
    let provides = text.indexOf('\nProvides:');
    for (let at = 0; at < text.length; ) {
      while (text[at] === '\n') at++;
      let end = text.indexOf('\n\n', at);
      if (end < 0) end = text.length;
      const m = /^Package:[ \t]*(\S+)/.exec(text.slice(at, Math.min(end, at + 200)));
      if (m) {
        const list = this.stanzas.get(m[1]) ?? [];
        list.push([at, end]);
        this.stanzas.set(m[1], list);
        while (provides >= 0 && provides < at) provides = text.indexOf('\nProvides:', provides + 1);
        if (provides >= 0 && provides < end) {
          const lineEnd = text.indexOf('\n', provides + 1);
          for (const v of text.slice(provides + 10, lineEnd < 0 ? end : lineEnd).split(',')) {
            const name = /^\s*([a-z0-9][a-z0-9+.-]*)/.exec(v)?.[1];
            if (!name) continue;
            const p = this.providers.get(name) ?? [];
            if (!p.includes(m[1])) p.push(m[1]);
            this.providers.set(name, p);
          }
        }
      }
      at = end + 2;
    }
  }

  has(name: string): boolean {
    return this.stanzas.has(name);
  }

  /** The newest record of a real package. */
  get(name: string): PackageRecord | undefined {
    const ranges = this.stanzas.get(name);
    if (!ranges) return undefined;
    return newest(ranges.flatMap(([s, e]) => findPackages(this.text.slice(s, e), [name]).get(name) ?? []));
  }
}

/**
 * The requested packages and everything they depend on (Depends and Pre-Depends), breadth first. Each
 * dependency takes its first alternative that is a real package; a virtual one is resolved only when a chosen
 * package provides it or a single package does, otherwise it is skipped with a warning. Version constraints
 * are ignored: the newest version of each package is used.
 */
export function resolvePackageSet(index: PackageIndex, requested: string[], log: (line: string) => void): PackageRecord[] {
  const chosen = new Map<string, PackageRecord>();
  const provided = new Set<string>();
  const queue: PackageRecord[] = [];
  const add = (record: PackageRecord): void => {
    if (chosen.has(record.package)) return;
    chosen.set(record.package, record);
    for (const v of parseDepends(record.fields?.get('provides') ?? '').flat()) provided.add(v.name);
    queue.push(record);
  };
  for (const name of requested) {
    const record = index.get(name);
    if (record) {
      add(record);
      continue;
    }
    const providers = index.providers.get(name) ?? [];
    if (providers.length === 1) {
      log(`${name} is a virtual package; using ${providers[0]}`);
      add(index.get(providers[0])!);
    } else if (providers.length > 1) {
      throw new ImageError(`'${name}' is a virtual package provided by ${providers.join(', ')}: name one of them in --packages`);
    } else {
      throw new ImageError(`there is no package '${name}' in the ${GUEST_ARCH} archive`);
    }
  }
  let constrained = false;
  while (queue.length) {
    const record = queue.shift()!;
    const depends = [record.fields?.get('pre-depends'), record.depends].filter((d) => d).join(', ');
    for (const alternatives of parseDepends(depends)) {
      if (alternatives.some((d) => d.relation)) constrained = true;
      if (alternatives.some((d) => chosen.has(d.name) || provided.has(d.name))) continue;
      const real = alternatives.find((d) => index.has(d.name));
      if (real) {
        add(index.get(real.name)!);
        continue;
      }
      const single = alternatives.map((d) => index.providers.get(d.name) ?? []).find((p) => p.length === 1);
      if (single) {
        add(index.get(single[0])!);
        continue;
      }
      const text = alternatives.map((d) => d.name).join(' | ');
      const several = alternatives.some((d) => (index.providers.get(d.name) ?? []).length > 1);
      log(
        `warning: ${record.package} depends on ${text}, ` +
          (several ? 'a virtual package with several providers: skipped (name one in --packages)' : 'which is not in the archive: skipped'),
      );
    }
  }
  if (constrained) log('note: version constraints in Depends are not checked; the newest version of each package is used');
  // Debian packages do not depend on what every Debian system has (Priority: required). The one a small disk
  // misses in practice: terminal descriptions, without which programs using libtinfo (top, less, vim) quit
  // at start without a word.
  const terminfo = index.get(TERMINFO_PACKAGE);
  if (terminfo && !chosen.has(TERMINFO_PACKAGE) && [...chosen.keys()].some((name) => /^lib(tinfo|ncurses)/.test(name))) {
    log(`adding ${TERMINFO_PACKAGE}: the terminal descriptions that programs using libtinfo need`);
    chosen.set(TERMINFO_PACKAGE, terminfo);
  }
  return [...chosen.values()];
}

/** Debian's package of the common terminfo entries (linux, xterm, vt100, dumb, …). */
const TERMINFO_PACKAGE = 'ncurses-base';
