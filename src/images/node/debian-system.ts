// `tvisor image build --distro debian`: a bootable Debian riscv64 root disk made with Debian's own tools and
// packages: systemd as init, udev, Debian's kernel with an initrd made by initramfs-tools, apt, OpenSSH.
//
// debootstrap, the Debian installer's tool for this, works in two stages. Its first stage (--foreign) runs on
// the host: it resolves the packages, fetches them and checks them against the archive's signed index, and
// unpacks the essential ones. The second stage installs every package with dpkg, running the maintainer
// scripts: those are riscv64 programs, so it runs where riscv64 programs run, in a tvisor guest. The
// default guest's kernel and initramfs boot with the new disk attached, chroot into it and run
// `debootstrap --second-stage` and then tvisor's setup (fstab, hostname, DHCP, the console's login, an SSH key).
// The alternative, qemu-user through binfmt_misc on the host, needs root, a host-wide binfmt registration and
// another emulator; the guest needs nothing but tvisor, and is what every Debian system tvisor boots is.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { ImageError } from '../errors.js';
import { appendAutorun, AUTORUN_EXIT_PREFIX } from '../initramfs.js';
import { tempNameFor } from './files.js';
import { DEFAULT_SUITE, debianMirror, defaultCacheDir, ensureDefaultGuest, GUEST_ARCH, keyringsFor, type GuestOptions } from './guest.js';
import { formatBytes } from './progress.js';
import { checkOutput, defaultToolDirs, findTool, publishOutput, run } from './tools.js';

/** What every image holds besides Debian's required packages and apt (debootstrap's minbase). */
export const DEBIAN_BASE_PACKAGES = [
  'systemd-sysv', 'udev', 'dbus', 'linux-image-riscv64', 'initramfs-tools', 'openssh-server', 'systemd-resolved',
  'iproute2', 'netbase', 'procps', 'iputils-ping', 'e2fsprogs', 'ca-certificates', 'less', 'zstd',
];

export const DEFAULT_DEBIAN_OUTPUT = 'debian.img';
export const DEFAULT_DEBIAN_SIZE = 4 * 2 ** 30;
export const DEFAULT_DEBIAN_HOSTNAME = 'debian';
/** The file system label (the fstab and the kernel command line use its UUID). */
export const DEBIAN_LABEL = 'debian-root';

/** The machine the second stage runs on; `tvisor run` boots it (the CLI gives the runner). */
export interface BuildVm {
  kernel: string;
  initrd: string;
  cmdline: string;
  disk: string;
  memory: number;
  vcpus: number;
}

/** Runs a VM to its end, passing its console output on; resolves with tvisor run's exit status. */
export type VmRunner = (vm: BuildVm, onConsole: (text: string) => void) => Promise<{ status: number | null; stderr: string }>;

export interface SystemOptions extends GuestOptions {
  /** The image file to write (default ./debian.img). */
  output?: string;
  /** Size of the image in bytes (default 4 GiB; the file is sparse). */
  size?: number;
  /** More Debian packages, installed with their dependencies and maintainer scripts. */
  packages?: string[];
  /** Replace an existing output file. */
  force?: boolean;
  /** An OpenSSH public key (one or more lines) for root's authorized_keys. */
  sshKey?: string;
  hostname?: string;
  /** Directories searched for debootstrap and mke2fs (default: $PATH, then /usr/sbin and /sbin). */
  toolDirs?: string[];
  /** Boots the second stage's VM. */
  runVm: VmRunner;
  /** The kernel and initramfs the second stage boots (default: the default guest's, pulled if needed). */
  buildGuest?: { kernel: string; initrd: string };
}

export interface SystemImage {
  path: string;
  size: number;
  uuid: string;
  suite: string;
  /** Packages asked for beyond the base set. */
  packages: string[];
  /** Seconds taken by the host's first stage and by the guest's second stage. */
  seconds: { firstStage: number; secondStage: number };
}

const MiB = 2 ** 20;
const BUILD_MEMORY = 1024 * MiB;
/**
 * One vCPU: dpkg and the maintainer scripts run one after another, so a second vCPU adds little, and on a busy
 * host it costs (a vCPU spinning on a lock whose holder's thread is descheduled). Measured beside a test
 * suite: 2 vCPUs 206e9 instructions at 70 MIPS, 1 vCPU 201e9 at 110.
 */
const BUILD_VCPUS = 1;
/** Marks the lines of the build's own scripts in the console, which the host shows as progress. */
const LOG_PREFIX = 'tvisor-image: ';
const SETUP_SCRIPT = 'tvisor-setup.sh';
/** Where the archive's full package index waits during the second stage (the setup puts it back). */
const FULL_LISTS = 'var/lib/apt/tvisor-full-lists';
const UNSAFE_IO = 'etc/dpkg/dpkg.cfg.d/tvisor-build-unsafe-io';

/** Builds the image; throws an ImageError saying what to do for each failure a user can meet. */
export async function buildDebianSystem(opts: SystemOptions): Promise<SystemImage> {
  const log = opts.log ?? (() => {});
  const output = resolve(opts.output ?? DEFAULT_DEBIAN_OUTPUT);
  const size = opts.size ?? DEFAULT_DEBIAN_SIZE;
  const suite = opts.suite ?? DEFAULT_SUITE;
  const hostname = opts.hostname ?? DEFAULT_DEBIAN_HOSTNAME;
  if (!Number.isSafeInteger(size) || size % 1024 !== 0) throw new ImageError(`invalid disk size ${size} (expected a whole number of KiB)`);
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(hostname)) throw new ImageError(`invalid host name '${hostname}'`);
  if (opts.offline) throw new ImageError('a Debian system is built from the archive (debootstrap fetches its index): drop --offline');
  await checkOutput(output, opts.force === true);
  const tools = await findTools(opts.toolDirs ?? defaultToolDirs());
  const mirror = debianMirror(opts);
  const keyring = debootstrapKeyring(opts, log);
  const cache = resolve(opts.cacheDir ?? defaultCacheDir());
  const guest = opts.buildGuest ?? await ensureDefaultGuest(opts);

  const work = await mkdtemp(join(tmpdir(), 'tvisor-debian-'));
  const staging = join(work, 'root');
  const temp = tempNameFor(output);
  const consoleLog = `${output}.build.log`;
  try {
    const t0 = performance.now();
    const packages = [...DEBIAN_BASE_PACKAGES, ...(opts.packages ?? [])];
    log(`debootstrap's first stage: Debian ${suite} ${GUEST_ARCH} from ${mirror} (packages cached in ${join(cache, 'debootstrap')})`);
    await mkdir(join(cache, 'debootstrap'), { recursive: true });
    await firstStage(tools, { suite, mirror, keyring, staging, packages, cacheDir: join(cache, 'debootstrap'), fakerootState: join(work, 'fakeroot') }, log);
    await trimPackageIndex(staging, log);
    const uuid = randomUUID();
    await writeFile(join(staging, UNSAFE_IO), 'force-unsafe-io\n');
    await writeFile(join(staging, SETUP_SCRIPT), setupScript({ uuid, hostname, sshKey: opts.sshKey }), { mode: 0o755 });
    const staged = await treeBytes(staging);
    // the second stage unpacks every package a second time (the first stage's .debs stay until it ends)
    const needed = Math.ceil((staged * 2 + 256 * MiB) / (256 * MiB)) * 256 * MiB;
    if (size < needed) throw new ImageError(`a ${formatBytes(size)} disk is too small for this system (the first stage alone takes ${formatBytes(staged)}); use --disk ${Math.ceil(needed / 2 ** 30)}G or more`);
    const firstSeconds = (performance.now() - t0) / 1000;

    log(`making the ext4 file system (${formatBytes(size)}, UUID ${uuid})`);
    await makeFileSystem(tools, { staging, image: temp, size, uuid, fakerootState: join(work, 'fakeroot') });
    await rm(staging, { recursive: true, force: true });

    const initrd = join(work, 'second-stage.cpio');
    await writeFile(initrd, appendAutorun(await readFile(guest.initrd), secondStageScript()));
    log(`debootstrap's second stage in a tvisor guest (${BUILD_VCPUS} vCPU${BUILD_VCPUS === 1 ? '' : 's'}, ${formatBytes(BUILD_MEMORY)}): dpkg installs every package and runs its maintainer scripts`);
    const t1 = performance.now();
    await runSecondStage(opts.runVm, { kernel: guest.kernel, initrd, cmdline: 'console=ttyS0 quiet', disk: temp, memory: BUILD_MEMORY, vcpus: BUILD_VCPUS }, consoleLog, log);
    const secondSeconds = (performance.now() - t1) / 1000;
    await publishOutput(temp, output, opts.force === true);
    await rm(consoleLog, { force: true });
    log(`wrote ${output} in ${Math.round(firstSeconds + secondSeconds)} s`);
    return { path: output, size, uuid, suite, packages: opts.packages ?? [], seconds: { firstStage: firstSeconds, secondStage: secondSeconds } };
  } catch (e) {
    if (e instanceof ImageError) throw e;
    const err = e as NodeJS.ErrnoException;
    if (err?.code) throw new ImageError(`cannot build the Debian image: ${err.code}${err.path ? ` on ${err.path}` : ''}`);
    throw e;
  } finally {
    await rm(temp, { force: true });
    await rm(work, { recursive: true, force: true });
  }
}

interface Tools {
  debootstrap: string;
  mke2fs: string;
  /** Set when not running as root: debootstrap and mke2fs then run under fakeroot, which records ownership. */
  fakeroot?: string;
}

async function findTools(dirs: string[]): Promise<Tools> {
  const debootstrap = await findTool('debootstrap', dirs);
  if (!debootstrap) throw new ImageError(`debootstrap not found in ${dirs.join(':')}; install it: apt-get install debootstrap`);
  const mke2fs = await findTool('mke2fs', dirs);
  if (!mke2fs) throw new ImageError(`mke2fs not found in ${dirs.join(':')}; install e2fsprogs: apt-get install e2fsprogs`);
  if (process.getuid?.() === 0) return { debootstrap, mke2fs };
  const fakeroot = await findTool('fakeroot', dirs);
  if (!fakeroot) throw new ImageError('building a Debian system without root needs fakeroot (apt-get install fakeroot), or run as root');
  return { debootstrap, mke2fs, fakeroot };
}

/** The keyring debootstrap checks the archive's index with: it takes one file. */
function debootstrapKeyring(opts: GuestOptions, log: (line: string) => void): string {
  const given = opts.keyrings ?? (process.env.TVISOR_KEYRING ? keyringsFor(opts) : undefined);
  if (given?.length) {
    if (given.length > 1) log(`debootstrap takes one keyring: using ${given[0]}`);
    return given[0];
  }
  const host = keyringsFor(opts).find((k) => k.endsWith('/debian-archive-keyring.gpg')) ?? keyringsFor(opts)[0];
  if (!host) throw new ImageError('no Debian archive keyring on this host to check the archive with: apt-get install debian-archive-keyring (or set TVISOR_KEYRING)');
  return host;
}

interface FirstStage {
  suite: string;
  mirror: string;
  keyring: string;
  staging: string;
  packages: string[];
  cacheDir: string;
  fakerootState: string;
}

/** Runs `debootstrap --foreign`, showing its phases; its errors ("E: …") become the ImageError's message. */
async function firstStage(tools: Tools, s: FirstStage, log: (line: string) => void): Promise<void> {
  const args = [
    '--foreign', `--arch=${GUEST_ARCH}`, '--variant=minbase', `--include=${s.packages.join(',')}`,
    `--cache-dir=${s.cacheDir}`, `--keyring=${s.keyring}`, s.suite, s.staging, s.mirror,
  ];
  const [cmd, argv] = tools.fakeroot ? [tools.fakeroot, ['-s', s.fakerootState, '--', tools.debootstrap, ...args]] : [tools.debootstrap, args];
  const phases = new PhaseLog(log);
  const errors: string[] = [];
  const status = await streamLines(cmd, argv, (line) => {
    if (line.startsWith('E: ')) errors.push(line.slice(3));
    phases.line(line);
  });
  phases.flush();
  if (status !== 0) {
    const reason = errors.join('; ') || `status ${status}`;
    throw new ImageError(`debootstrap failed: ${reason}`);
  }
}

/**
 * The second stage resolves the pre-dependencies of the packages it installs by scanning the archive's whole
 * package index (debootstrap's resolve_deps: perl over tens of MiB, several times per pre-dependency): a third
 * of its time under emulation. It only ever installs the packages the first stage fetched (their names are in
 * /debootstrap/debpaths), so it gets an index of just those; the full index waits in FULL_LISTS and the setup
 * puts it back, so `apt-get install` works in the new system before any `apt-get update`.
 */
export async function trimPackageIndex(staging: string, log: (line: string) => void): Promise<void> {
  const wanted = new Set((await readFile(join(staging, 'debootstrap/debpaths'), 'utf8')).split('\n').map((l) => l.split(' ')[0]).filter(Boolean));
  const lists = join(staging, 'var/lib/apt/lists');
  const indexes = (await readdir(lists)).filter((f) => f.endsWith('_Packages'));
  if (indexes.length === 0) throw new ImageError(`debootstrap left no package index in ${lists}`);
  await mkdir(join(staging, FULL_LISTS), { recursive: true });
  for (const f of indexes) {
    const full = await readFile(join(lists, f), 'utf8');
    const kept = full.split(/\n\n+/).filter((stanza) => wanted.has(/^Package: *(\S+)/m.exec(stanza)?.[1] ?? ''));
    await rename(join(lists, f), join(staging, FULL_LISTS, f));
    const trimmed = kept.map((st) => `${st.trimEnd()}\n\n`).join('');
    await writeFile(join(lists, f), trimmed);
    log(`the second stage's package index: ${kept.length} of the archive's packages (${formatBytes(Buffer.byteLength(full))} → ${formatBytes(Buffer.byteLength(trimmed))})`);
  }
}

/**
 * debootstrap prints lines per package ("I: Retrieving libc6 2.41-12", "I: Validating …", "I: Extracting …"):
 * shown as one line per phase with a count ("debootstrap: fetched and checked 161 packages"), others as they come.
 */
class PhaseLog {
  private fetched = 0;
  private extracted = 0;
  constructor(private readonly log: (line: string) => void) {}

  line(line: string): void {
    const m = /^I: (Retrieving|Validating|Extracting) \S+/.exec(line);
    if (m) {
      if (m[1] === 'Retrieving') this.fetched++;
      if (m[1] === 'Extracting') this.extracted++;
      return;
    }
    this.flush();
    if (line.trim() !== '') this.log(`debootstrap: ${line.replace(/^I: /, '')}`);
  }

  flush(): void {
    if (this.fetched > 0) this.log(`debootstrap: fetched and checked ${this.fetched} packages`);
    if (this.extracted > 0) this.log(`debootstrap: extracted ${this.extracted} packages`);
    this.fetched = this.extracted = 0;
  }
}

/** Runs a command, passing each line of its output (stdout and stderr) on; resolves with its status. */
function streamLines(cmd: string, args: string[], onLine: (line: string) => void): Promise<number> {
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    for (const stream of [child.stdout, child.stderr]) {
      let rest = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const lines = (rest + chunk).split('\n');
        rest = lines.pop()!;
        for (const l of lines) onLine(l);
      });
      stream.on('end', () => rest && onLine(rest));
    }
    child.on('error', fail);
    child.on('close', (status) => done(status ?? 1));
  });
}

async function treeBytes(dir: string): Promise<number> {
  const du = await run('du', ['-s', '-B1', '--apparent-size', dir]);
  const bytes = Number(du.stdout.split(/\s/)[0]);
  return Number.isFinite(bytes) ? bytes : 0;
}

async function makeFileSystem(tools: Tools, f: { staging: string; image: string; size: number; uuid: string; fakerootState: string }): Promise<void> {
  const args = ['-t', 'ext4', '-F', '-q', '-L', DEBIAN_LABEL, '-U', f.uuid, '-d', f.staging, f.image, `${f.size / 1024}k`];
  const made = tools.fakeroot
    ? await run(tools.fakeroot, ['-i', f.fakerootState, '--', tools.mke2fs, ...args])
    : await run(tools.mke2fs, args);
  if (made.status !== 0) throw new ImageError(`mke2fs failed (status ${made.status}): ${made.stderr.trim().split('\n')[0] || 'no message'}`);
}

/**
 * Boots the second stage and follows its console: debootstrap's phases and the setup's lines are shown, the
 * whole console is kept in `consoleLog`, which stays (and is named in the error) when the stage fails.
 */
/** How often a running second stage reports its progress. */
const HEARTBEAT_MS = 5 * 60_000;

async function runSecondStage(runVm: VmRunner, vm: BuildVm, consoleLog: string, log: (line: string) => void): Promise<void> {
  await mkdir(dirname(consoleLog), { recursive: true });
  const file = createWriteStream(consoleLog);
  let rest = '';
  let exitLine: string | undefined;
  const tail: string[] = [];
  const onLine = (raw: string) => {
    const line = raw.replace(/\r$/, '');
    tail.push(line);
    if (tail.length > 12) tail.shift();
    if (line.startsWith(AUTORUN_EXIT_PREFIX)) exitLine = line;
    else if (line.startsWith(LOG_PREFIX)) log(line.slice(LOG_PREFIX.length));
    // debootstrap's phases ("I: Unpacking the base system..."), not its line per package ("I: Unpacking dpkg...")
    else if (line.startsWith('I: ') && !/^I: (Unpacking|Configuring|Extracting|Retrieving|Validating) \S+$/.test(line)) log(`debootstrap: ${line.slice(3)}`);
  };
  // every few minutes, where the guest is: a long silence then shows where it was spent (or stuck)
  const started = performance.now();
  const heartbeat = setInterval(() => {
    const last = tail.filter((l) => l.trim()).pop() ?? '(nothing yet)';
    log(`second stage: ${Math.round((performance.now() - started) / 60_000)} min so far; the guest's last line: ${last.slice(0, 160)}`);
  }, HEARTBEAT_MS);
  heartbeat.unref?.();
  let result: Awaited<ReturnType<VmRunner>>;
  try {
    result = await runVm(vm, (text) => {
      file.write(text);
      const lines = (rest + text).split('\n');
      rest = lines.pop()!;
      lines.forEach(onLine);
    });
  } finally {
    clearInterval(heartbeat);
  }
  if (rest) onLine(rest);
  await new Promise((r) => file.end(r));
  const code = exitLine ? Number(exitLine.slice(AUTORUN_EXIT_PREFIX.length)) : undefined;
  if (result.status === 0 && code === 0) {
    // the VM's --stats (instructions, MIPS, the translator's share): where the build's time went
    for (const l of result.stderr.split('\n')) if (/^tvisor: (\d+ instructions|jit ran)/.test(l)) log(`build VM: ${l.slice(8)}`);
    return;
  }
  const why = code !== undefined
    ? `the second stage failed (status ${code})`
    : `the build VM ended (tvisor run status ${result.status}${result.stderr.trim() ? `: ${result.stderr.trim().split('\n').pop()}` : ''}) before the second stage finished`;
  throw new ImageError(`${why}; the guest's console is in ${consoleLog}; its last lines:\n${tail.join('\n')}`);
}

/** The build guest's /autorun.sh (busybox sh in the default initramfs): the second stage and the setup. */
export function secondStageScript(): string {
  return `log() { echo "${LOG_PREFIX}$*"; }
mkdir -p /mnt
# a throwaway disk until the build ends: no write barriers (the host writes the image out at the end)
mount -t ext4 -o nobarrier,noatime /dev/vda /mnt || { log "cannot mount the new disk"; exit 10; }
for d in proc sys dev dev/pts run; do mount --bind /$d /mnt/$d || { log "cannot bind /$d"; exit 11; }; done
start=$(date +%s)
# INITRD=No: the kernel's package makes no initrd when it is configured (initramfs-tools would make it again
# when its trigger runs at the end); the setup makes it once, when every package is in place
INITRD=No chroot /mnt /debootstrap/debootstrap --second-stage
rc=$?
if [ $rc -ne 0 ]; then
  log "debootstrap --second-stage failed (status $rc); the end of its log:"
  tail -n 30 /mnt/debootstrap/debootstrap.log
else
  log "second stage done in $(( $(date +%s) - start )) s"
  chroot /mnt /bin/sh /${SETUP_SCRIPT}
  rc=$?
fi
rm -f /mnt/${SETUP_SCRIPT}
for d in run dev/pts dev sys proc; do umount /mnt/$d 2>/dev/null || umount -l /mnt/$d 2>/dev/null; done
sync
umount /mnt || mount -o remount,ro /mnt
exit $rc
`;
}

/** tvisor's configuration of the new system, run in it (dash) once dpkg has installed everything. */
export function setupScript(s: { uuid: string; hostname: string; sshKey?: string }): string {
  const key = s.sshKey?.trim();
  return `set -e
log() { echo "${LOG_PREFIX}$*"; }
log "setting up: fstab, host name, DHCP, the console's login${key ? ', root\'s SSH key' : ''}"
cat > /etc/fstab <<'EOF'
# <file system>	<mount point>	<type>	<options>	<dump>	<pass>
UUID=${s.uuid}	/	ext4	errors=remount-ro	0	1
EOF
echo ${s.hostname} > /etc/hostname
cat > /etc/hosts <<'EOF'
127.0.0.1	localhost
127.0.1.1	${s.hostname}
::1	localhost ip6-localhost ip6-loopback
ff02::1	ip6-allnodes
ff02::2	ip6-allrouters
EOF
# every Ethernet NIC asks for an address by DHCP (tvisor run --net user gives one); systemd-resolved takes
# the DNS servers DHCP names
mkdir -p /etc/systemd/network
cat > /etc/systemd/network/80-tvisor-dhcp.network <<'EOF'
[Match]
Type=ether

[Network]
DHCP=yes
EOF
systemctl enable systemd-networkd.service systemd-resolved.service
# udev's first pass over the devices can take minutes on a loaded host under emulation: systemd's default 90 s
# wait for a device (dev-ttyS0.device, before the console's getty) would give up and leave no login
mkdir -p /etc/systemd/system.conf.d
cat > /etc/systemd/system.conf.d/tvisor-device-timeout.conf <<'EOF'
[Manager]
DefaultDeviceTimeoutSec=15min
EOF
# the console (ttyS0, or hvc0 with tvisor run --console virtio) logs root in without a password: the console
# is only ever the VM owner's terminal. SSH takes keys only.
mkdir -p /etc/systemd/system/serial-getty@.service.d
cat > /etc/systemd/system/serial-getty@.service.d/tvisor-autologin.conf <<'EOF'
[Service]
ExecStart=
ExecStart=-/sbin/agetty --autologin root --noreset --noclear --keep-baud 115200,57600,38400,9600 - \${TERM}
EOF
${key ? `mkdir -p /root/.ssh
chmod 700 /root/.ssh
cat > /root/.ssh/authorized_keys <<'EOF'
${key}
EOF
chmod 600 /root/.ssh/authorized_keys
` : ''}rm -f /${UNSAFE_IO}
# the archive's whole package index, set aside during the second stage
mv /${FULL_LISTS}/* /var/lib/apt/lists/
rmdir /${FULL_LISTS}
apt-get clean
# the initrd the second stage left out (INITRD=No), and the /vmlinux and /initrd.img links Debian keeps.
# initramfs-tools' fsck hook finds the root file system's type through /dev/disk/by-uuid, which udev makes
# on a booted system; the build guest has no udev, and the disk is its /dev/vda
mkdir -p /dev/disk/by-uuid
ln -sf ../../vda /dev/disk/by-uuid/${s.uuid}
for v in $(linux-version list); do
  log "making the initrd of Linux $v"
  update-initramfs -c -k "$v"
  linux-update-symlinks install "$v" "$(ls /boot/vmlinu[xz]-"$v" /boot/Image-"$v" 2>/dev/null | head -n 1)" >/dev/null
done
for k in /boot/initrd.img-*; do
  [ -e "$k" ] || { log "no initrd was made in /boot"; exit 1; }
done
log "set up"
`;
}
