// `tvisor image pull|ls|build`: fetches the default guest (Debian's riscv64 kernel, busybox and OpenSBI) into
// the cache and builds its initramfs, lists what the cache holds, or builds an ext4 root disk for the guest.
// Failures are one line with status 2.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ImageError } from '../images/errors.js';
import { buildDebianSystem, DEFAULT_DEBIAN_HOSTNAME, DEFAULT_DEBIAN_OUTPUT, DEFAULT_DEBIAN_SIZE, type VmRunner } from '../images/node/debian-system.js';
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
       tvisor image build --distro debian [--disk SIZE] [--output PATH] [--packages A,B,...]
                          [--ssh-key FILE] [--hostname NAME] [--force] [options]
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
build --distro debian
       Makes a bootable Debian system disk (ext4, whole disk, labelled debian-root) with
       Debian's own packages and init: systemd, udev, Debian's kernel (linux-image-riscv64)
       with an initrd made by initramfs-tools, apt, OpenSSH, systemd-networkd asking for an
       address by DHCP on every NIC, and any --packages. Debian's debootstrap (apt-get install
       debootstrap) fetches and checks the packages and unpacks the base system on the host;
       its second stage, where dpkg installs every package and the maintainer scripts run, runs
       in a tvisor guest (the default guest's kernel with the new disk attached): no riscv64
       program runs on the host and no qemu-user is needed. Slow for now: about 40 minutes,
       nearly all of it the second stage (dpkg, maintainer scripts and two initrds made under
       emulation). The console logs root in without a password; SSH takes only the key of
       --ssh-key. Boot it with
         tvisor run --disk PATH --memory 1G --vcpus 2 --net user,hostfwd=tcp::2222-:22
       (the kernel and initrd come from the disk's /boot). Without root, fakeroot is needed.
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

Options of image build --distro debian:
  --disk SIZE     size of the image (default ${DEFAULT_DEBIAN_SIZE / 2 ** 30}G; the file is sparse: it takes what is written)
  --output PATH   the image file to write (default: ./${DEFAULT_DEBIAN_OUTPUT}); when the build fails, the
                  second stage's console is kept in PATH.build.log
  --packages A,B  more packages from the archive, installed with their dependencies by debootstrap
  --ssh-key FILE  an OpenSSH public key (e.g. ~/.ssh/id_ed25519.pub) for root's authorized_keys
  --hostname NAME the system's host name (default ${DEFAULT_DEBIAN_HOSTNAME})

Options of image rm:
  --all           remove everything in the cache (guests, packages, indexes, debootstrap's
                  packages, kernels taken from disks)
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
  distro: { type: 'string' },
  'ssh-key': { type: 'string' },
  hostname: { type: 'string' },
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

const BUILD_ONLY = ['disk', 'output', 'packages', 'force', 'distro', 'ssh-key', 'hostname'];

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

/** --packages, checked. */
function packagesOption(values: Values): string[] | undefined {
  if (typeof values.packages !== 'string') return undefined;
  const packages = values.packages.split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (packages.length === 0) throw new UsageError('--packages needs package names, e.g. --packages bash,strace', 'image');
  const bad = packages.find((p) => !/^[a-z0-9][a-z0-9+.-]+$/.test(p));
  if (bad !== undefined) throw new UsageError(`invalid package name '${bad}' in --packages`, 'image');
  return packages;
}

function outputOption(values: Values): string | undefined {
  const output = typeof values.output === 'string' ? values.output : undefined;
  if (output === '') throw new UsageError('--output needs a file name', 'image');
  return output;
}

const DISTROS = ['default', 'debian'];

async function build(values: Values, cacheDir: string | undefined): Promise<number> {
  const distro = (values.distro as string | undefined) ?? 'default';
  if (!DISTROS.includes(distro)) throw new UsageError(`unknown --distro '${distro}' (expected ${DISTROS.map((d) => `'${d}'`).join(' or ')})`, 'image');
  if (distro === 'debian') return await buildDebian(values, cacheDir);
  for (const o of ['ssh-key', 'hostname']) {
    if (values[o] !== undefined) throw new UsageError(`option '--${o}' is for 'image build --distro debian'`, 'image');
  }
  const { suite, mirror } = archiveOptions(values);
  if (typeof values.disk !== 'string') throw new UsageError('image build needs --disk SIZE (e.g. --disk 256M)', 'image');
  const size = parseSize(values.disk, '--disk', 'image');
  if (size < 1 << 20) throw new UsageError(`--disk ${values.disk} is too small (at least 1M; the default guest's files need about 16M)`, 'image');
  if (size % 1024 !== 0) throw new UsageError(`--disk ${values.disk} is not a whole number of KiB`, 'image');
  const output = outputOption(values);
  const packages = packagesOption(values);
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

async function buildDebian(values: Values, cacheDir: string | undefined): Promise<number> {
  if (values.offline) throw new UsageError('--offline does not apply to --distro debian: debootstrap fetches the archive\'s index', 'image');
  const { suite, mirror } = archiveOptions(values);
  let size: number | undefined;
  if (typeof values.disk === 'string') {
    size = parseSize(values.disk, '--disk', 'image');
    if (size % 1024 !== 0) throw new UsageError(`--disk ${values.disk} is not a whole number of KiB`, 'image');
    if (size < 1 << 30) throw new UsageError(`--disk ${values.disk} is too small for a Debian system (at least 1G; the default is ${DEFAULT_DEBIAN_SIZE / 2 ** 30}G)`, 'image');
  }
  let sshKey: string | undefined;
  if (typeof values['ssh-key'] === 'string') {
    const file = values['ssh-key'];
    try {
      sshKey = readFileSync(file, 'utf8');
    } catch (e) {
      throw new InputError(`--ssh-key ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    if (!/^(ssh-|ecdsa-|sk-)\S+ [A-Za-z0-9+/=]+/m.test(sshKey)) throw new InputError(`--ssh-key ${file}: not an OpenSSH public key (expected a line such as 'ssh-ed25519 AAAA… comment'; give the .pub file)`);
  }
  const hostname = values.hostname as string | undefined;
  if (hostname !== undefined && !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(hostname)) throw new UsageError(`invalid --hostname '${hostname}' (letters, digits and '-', at most 63)`, 'image');
  const image = await buildDebianSystem({
    output: outputOption(values), size, packages: packagesOption(values), force: values.force === true, sshKey, hostname,
    cacheDir, mirror, suite, log, runVm: runBuildVm,
  });
  process.stdout.write(
    `disk       ${image.path}\n` +
      `size       ${formatBytes(image.size)}, ext4 labelled debian-root, UUID ${image.uuid}\n` +
      `system     Debian ${image.suite} riscv64${image.packages.length ? ` with ${image.packages.join(', ')}` : ''}\n` +
      `took       ${Math.round(image.seconds.firstStage)} s on the host, ${Math.round(image.seconds.secondStage)} s in the guest\n` +
      `boot with  tvisor run --disk ${image.path} --memory 1G --vcpus 2 --net user,hostfwd=tcp::2222-:22\n`,
  );
  return 0;
}

/** The build's VM: this tvisor's own `run`, as a child process (its console is the build's log). */
const runBuildVm: VmRunner = (vm, onConsole) => new Promise((done, fail) => {
  const main = fileURLToPath(new URL('./main.js', import.meta.url));
  const args = [
    main, 'run', '--kernel', vm.kernel, '--initrd', vm.initrd, '--cmdline', vm.cmdline, '--disk', vm.disk,
    '--memory', `${vm.memory / 2 ** 20}M`, '--vcpus', String(vm.vcpus), '--stats',
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', onConsole);
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4096)));
  child.on('error', fail);
  child.on('close', (status) => done({ status, stderr }));
});

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
