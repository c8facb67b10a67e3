// `tvisor image pull|ls|build`: fetches the default guest (Debian's riscv64 kernel, busybox and OpenSBI) into
// the cache and builds its initramfs, lists what the cache holds, or builds an ext4 root disk for the guest.
// Failures are one line with status 2.
import { ImageError } from '../images/errors.js';
import { buildDiskImage, DEFAULT_DISK_OUTPUT, DISK_LABEL } from '../images/node/disk.js';
import { DEFAULT_SUITE, defaultCacheDir, listCache, pullDefaultGuest } from '../images/node/guest.js';
import { formatBytes } from '../images/node/progress.js';
import { InputError, parseCommandLine, parseSize, UsageError, type ParsedArgs } from './args.js';
import { CLIENT_HELP, CLIENT_OPTIONS } from './client.js';
import { imageResize, imageRm } from './image-ops.js';

export const IMAGE_SUMMARY = 'Fetch the default guest (pull), list (ls) or clean (rm) the cache, make (build) or grow (resize) a root disk';

export const IMAGE_HELP = `Usage: tvisor image pull [options]
       tvisor image ls [--cache DIR]
       tvisor image build --disk SIZE [--output PATH] [--packages A,B,...] [--force] [options]
       tvisor image rm [--force] [--cache DIR] NAME... | --all
       tvisor image resize PATH [+]SIZE

pull   Fetches Debian's current riscv64 kernel (the package linux-image-riscv64 depends on),
       busybox-static and opensbi, checks each against the archive's signed index (InRelease,
       then the SHA-256 of the Packages index, then of each package), and builds the default
       guest: the kernel Image, an initramfs with busybox, the virtio and ext4 modules and an
       init that starts a shell on the console, and OpenSBI's fw_dynamic.bin. Packages already
       in the cache are not downloaded again; with --offline nothing is.
ls     Lists the cached indexes, packages and guests with their versions and sizes.
build  Makes an ext4 root disk image (label ${DISK_LABEL}) for the default guest, pulling the
       guest first if the cache has none: busybox (its applets linked at first boot), the
       guest's virtio and ext4 modules, an /sbin/init that starts a shell on the console (or
       runs /autorun.sh) and powers off when it ends, and a minimal /etc (root has no
       password). Boot it with
         tvisor run --disk PATH --append root=/dev/vda
       the default initramfs mounts root= read-write and switches to it. Needs mke2fs from
       e2fsprogs (and debugfs, for /dev/console and root ownership when not run as root).
rm     Removes guests (by the name 'image ls' shows) and packages (by file name) from the
       cache; --all empties it. A guest that a VM of the daemon (--api) boots from is
       refused (that VM could not start or reboot without it) unless --force. Removing the
       current guest makes the next 'tvisor run' build it again (from cached packages).
resize Grows the raw disk image PATH to SIZE (e.g. 2G), or by +SIZE (e.g. +512M). When it
       holds an ext2/3/4 filesystem on the whole disk (as 'image build' makes), that is
       checked (e2fsck -f -p) and grown to fill it (resize2fs), so the guest's df shows the
       space at its next boot. Shrinking is refused. A disk a running or paused VM has open
       for writing (its lock) is refused: stop the VM first. Do not resize the base image of
       an overlay: the overlay would see its blocks change.

Options:
  --mirror URL    Debian mirror to use (default: the Debian mirror in the host's APT sources,
                  /etc/apt/sources.list and /etc/apt/sources.list.d/)
  --suite NAME    Debian suite (default: ${DEFAULT_SUITE})
  --cache DIR     cache directory (default: $TVISOR_CACHE, else $XDG_CACHE_HOME/tvisor,
                  else ~/.cache/tvisor)
  --offline       use only the cache; fail if something is missing
  -h, --help      show this help

Options of image build:
  --disk SIZE     size of the image: a number with K, M or G (plain number: MiB), e.g. 256M
  --output PATH   the image file to write (default: ./${DEFAULT_DISK_OUTPUT}); it appears only
                  once complete
  --packages A,B  more Debian packages from the ${DEFAULT_SUITE} riscv64 archive, with their Depends
                  and Pre-Depends resolved recursively (first alternative in the archive; a
                  virtual package with several providers is skipped with a warning). Only the
                  files are unpacked: no maintainer scripts run, every file is owned by root,
                  version constraints are not checked (the newest version is used), and
                  Essential packages come only when named (busybox stands in for them)
  --force         replace an existing output file

Options of image rm:
  --all           remove everything in the cache (guests, packages, indexes)
  --force         remove a guest even when a VM of the daemon uses it
${CLIENT_HELP}

Environment:
  TVISOR_CACHE    cache directory (as --cache)
  TVISOR_KEYRING  colon-separated OpenPGP keyrings to trust instead of the host's Debian
                  archive keyrings in /usr/share/keyrings

Exit status:
  0   success
  1   image rm or resize refused: a VM uses the guest or has the disk open
  2   bad input: bad option, download or checksum failure, nothing cached with --offline
  70  internal error in tvisor (please report it)
`;

const OPTIONS = {
  disk: { type: 'string' },
  output: { type: 'string' },
  packages: { type: 'string' },
  force: { type: 'boolean' },
  mirror: { type: 'string' },
  suite: { type: 'string' },
  cache: { type: 'string' },
  offline: { type: 'boolean' },
  all: { type: 'boolean' },
  ...CLIENT_OPTIONS,
  help: { type: 'boolean', short: 'h' },
} as const;

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Runs `tvisor image …`; returns the exit status. */
export async function imageCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, OPTIONS, 'image');
  if (values.help) {
    process.stdout.write(IMAGE_HELP);
    return 0;
  }
  const sub = positionals[0];
  if (sub === undefined) throw new UsageError("image needs a subcommand: 'pull', 'ls', 'build', 'rm' or 'resize'", 'image');
  if (positionals.length > 1 && sub !== 'rm' && sub !== 'resize') throw new UsageError(`unexpected argument '${positionals[1]}'`, 'image');
  if (sub !== 'rm') rejectOptions(values, ['all', ...Object.keys(CLIENT_OPTIONS)], sub);
  const cacheDir = typeof values.cache === 'string' ? values.cache : undefined;
  if (cacheDir === '') throw new UsageError('--cache needs a directory', 'image');
  try {
    switch (sub) {
      case 'pull':
        rejectOptions(values, BUILD_ONLY, 'pull');
        return await pull(values, cacheDir);
      case 'ls':
        rejectOptions(values, ['mirror', 'suite', 'offline', ...BUILD_ONLY], 'ls');
        return await ls(cacheDir);
      case 'build':
        return await build(values, cacheDir);
      case 'rm':
        rejectOptions(values, ['mirror', 'suite', 'offline', 'disk', 'output', 'packages'], 'rm');
        return await imageRm({
          names: positionals.slice(1), all: values.all === true, force: values.force === true, cacheDir,
          api: values.api as string | undefined, token: values.token as string | undefined, tokenFile: values['token-file'] as string | undefined,
        });
      case 'resize':
        rejectOptions(values, ['mirror', 'suite', 'offline', 'cache', ...BUILD_ONLY], 'resize');
        if (positionals.length !== 3) throw new UsageError('image resize needs PATH and SIZE, e.g. tvisor image resize disk.img 2G', 'image');
        return await imageResize(positionals[1], positionals[2]);
      default:
        throw new UsageError(`unknown image subcommand '${sub}' (expected 'pull', 'ls', 'build', 'rm' or 'resize')`, 'image');
    }
  } catch (e) {
    if (e instanceof ImageError) throw new InputError(e.message.replace(/\s*\n[\s\S]*/, ''));
    throw e;
  }
}

type Values = ParsedArgs['values'];

const BUILD_ONLY = ['disk', 'output', 'packages', 'force'];

function rejectOptions(values: Values, options: string[], sub: string): void {
  for (const option of options) {
    if (values[option] !== undefined) throw new UsageError(`option '--${option}' does not apply to 'image ${sub}'`, 'image');
  }
}

/** --suite and --mirror, checked. */
function archiveOptions(values: Values): { suite?: string; mirror?: string } {
  const suite = typeof values.suite === 'string' ? values.suite : undefined;
  if (suite !== undefined && !/^[a-z0-9][a-z0-9.+-]*$/.test(suite)) {
    throw new UsageError(`invalid --suite '${suite}'`, 'image');
  }
  const mirror = typeof values.mirror === 'string' ? values.mirror : undefined;
  if (mirror !== undefined && !/^https?:\/\/[^/\s]+/i.test(mirror)) {
    throw new UsageError(`invalid --mirror '${mirror}' (expected an http:// or https:// URL)`, 'image');
  }
  return { suite, mirror };
}

async function pull(values: Values, cacheDir: string | undefined): Promise<number> {
  const { suite, mirror } = archiveOptions(values);
  const guest = await pullDefaultGuest({ cacheDir, mirror, suite, offline: values.offline === true, log });
  const p = guest.manifest.packages;
  process.stdout.write(
    `kernel     ${guest.kernel}\n` +
      `initrd     ${guest.initrd}\n` +
      `firmware   ${guest.firmware}\n` +
      `version    Linux ${guest.kernelVersion} (${p.kernel.package} ${p.kernel.version}), ` +
      `busybox ${p.busybox.version}, opensbi ${p.opensbi.version}\n` +
      `modules    ${guest.manifest.modules.join(' ')}\n`,
  );
  return 0;
}

async function build(values: Values, cacheDir: string | undefined): Promise<number> {
  const { suite, mirror } = archiveOptions(values);
  if (typeof values.disk !== 'string') throw new UsageError('image build needs --disk SIZE (e.g. --disk 256M)', 'image');
  const size = parseSize(values.disk, '--disk', 'image');
  if (size < 1 << 20) throw new UsageError(`--disk ${values.disk} is too small (at least 1M; the default guest's files need about 16M)`, 'image');
  if (size % 1024 !== 0) throw new UsageError(`--disk ${values.disk} is not a whole number of KiB`, 'image');
  const output = typeof values.output === 'string' ? values.output : undefined;
  if (output === '') throw new UsageError('--output needs a file name', 'image');
  let packages: string[] | undefined;
  if (typeof values.packages === 'string') {
    packages = values.packages.split(',').map((p) => p.trim()).filter((p) => p !== '');
    if (packages.length === 0) throw new UsageError('--packages needs package names, e.g. --packages bash,strace', 'image');
    const bad = packages.find((p) => !/^[a-z0-9][a-z0-9+.-]+$/.test(p));
    if (bad !== undefined) throw new UsageError(`invalid package name '${bad}' in --packages`, 'image');
  }
  const disk = await buildDiskImage({
    output, size, packages, force: values.force === true, cacheDir, mirror, suite, offline: values.offline === true, log,
  });
  process.stdout.write(
    `disk       ${disk.path}\n` +
      `size       ${formatBytes(disk.size)} (files ${formatBytes(disk.contentBytes)}), ext4 labelled ${DISK_LABEL}\n` +
      `kernel     Linux ${disk.kernelVersion} (the default guest's)\n` +
      (disk.packages.length ? `packages   ${disk.packages.join(', ')}\n` : '') +
      `boot with  tvisor run --disk ${disk.path} --append root=/dev/vda\n`,
  );
  return 0;
}

async function ls(cacheDir: string | undefined): Promise<number> {
  const listing = await listCache({ cacheDir: cacheDir ?? defaultCacheDir() });
  const out: string[] = [`cache ${listing.cacheDir}`];
  if (listing.indexes.length + listing.debs.length + listing.guests.length === 0) {
    out.push("(empty: run 'tvisor image pull')");
  }
  if (listing.indexes.length) {
    out.push('', 'indexes:');
    for (const i of listing.indexes) out.push(`  ${i.suite.padEnd(10)} Debian ${i.version || '?'}${i.date ? `, ${i.date.slice(0, 10)}` : ''}`);
  }
  if (listing.guests.length) {
    out.push('', 'guests:');
    for (const g of listing.guests) {
      const p = g.manifest.packages;
      out.push(
        `${g.current ? '* ' : '  '}${g.name}  ${formatBytes(g.size)}  (${g.manifest.suite}: linux ${p.kernel.version}, ` +
          `busybox ${p.busybox.version}, opensbi ${p.opensbi.version}; ${g.manifest.modules.length} modules)`,
      );
    }
  }
  if (listing.debs.length) {
    out.push('', 'packages:');
    const width = Math.max(...listing.debs.map((d) => d.file.length));
    for (const d of listing.debs) out.push(`  ${d.file.padEnd(width)}  ${formatBytes(d.size).padStart(10)}`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}
