// The default guest's initramfs: busybox, the kernel modules the virtio devices and ext4 need, and an /init
// script that mounts the kernel file systems, loads the modules in dependency order and hands PID 1 to busybox
// init, which runs a shell on the console with job control (or /autorun.sh when present), then powers off, and
// serves poweroff/reboot/halt; with root= on the kernel command line it switches to that disk instead, whose
// /sbin/init (diskInitScript) does the same. No Node APIs.
import { S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, normalizeArchivePath, writeCpio, type CpioEntry } from './cpio.js';

/** Modules the default guest loads; dependencies are added automatically. Built-in ones are skipped. */
export const DEFAULT_GUEST_MODULES = [
  'virtio_mmio',
  'virtio_blk',
  'virtio_net',
  'virtio_console',
  'virtio_rng',
  'virtio_balloon',
  'ext4',
];

export const GUEST_HOSTNAME = 'tvisor';

/** The file under /lib/modules/<version>/ that lists the modules to insmod, one file name per line. */
export const MODULE_LOAD_ORDER_FILE = 'load-order';

/** A line the init script prints after /autorun.sh finishes: "tvisor-autorun: exit <status>". */
export const AUTORUN_EXIT_PREFIX = 'tvisor-autorun: exit ';

export interface InitramfsModule {
  /** Module name (e.g. "virtio_blk"); stored as /lib/modules/<version>/<name>.ko. */
  name: string;
  /** The decompressed .ko file. */
  data: Uint8Array;
}

export interface InitramfsOptions {
  busybox: Uint8Array;
  /** Modules in load order (dependencies first). */
  modules: InitramfsModule[];
  kernelVersion: string;
  /** A shell script to run instead of the interactive shell; the guest powers off when it ends. */
  autorun?: string;
  /** More files; `mode` is the permission bits (default 0644), optionally with file type bits. */
  extraFiles?: { path: string; data: Uint8Array; mode?: number }[];
  /** mtime for every entry (default 0, so that the same inputs give the same bytes). */
  mtime?: number;
}

const encoder = new TextEncoder();

/** Where the initramfs leaves its /autorun.sh for the disk's init when it switches root (/run moves along). */
export const HANDOFF_AUTORUN = '/run/tvisor-autorun.sh';

/** The modules a virtio block device with an ext4 file system needs (crc32c is the alias Debian's ext4 asks for). */
const BLOCK_MODULES = 'virtio_blk crc32c_generic crc32c jbd2 mbcache crc16 ext4';

/**
 * Shell lines that load the modules of /lib/modules/<version>/ for the virtio devices present, adding them to
 * whatever `$wanted` already holds. Modules already loaded are skipped, so the disk's init can run this after
 * the initramfs did.
 */
function moduleScript(kernelVersion: string): string {
  return `moddir=/lib/modules/${kernelVersion}
# Debian's modules are signed and large: checking one costs the interpreter about a second, so load only the
# drivers for the virtio devices this machine has (ids from the virtio spec, 5: 1 net, 2 block, 4 entropy,
# 5 balloon); their dependencies follow from the load order. TVISOR_MODULES=all in the environment or
# tvisor.modules=all on the kernel command line loads everything.
load_modules() {
  [ -f "$moddir/${MODULE_LOAD_ORDER_FILE}" ] || return 0
  while read -r module; do
    [ -n "$module" ] || continue
    [ -d "/sys/module/\${module%.ko}" ] && continue
    case " $1 " in *" \${module%.ko} "*|" all ") insmod "$moddir/$module" || echo "init: cannot load $module" ;; esac
  done < "$moddir/${MODULE_LOAD_ORDER_FILE}"
}
load_modules virtio_mmio
grep -q 'tvisor.modules=all' /proc/cmdline && TVISOR_MODULES=all
for id in $(cat /sys/bus/virtio/devices/*/device 2>/dev/null); do
  case "$id" in
    0x0001) wanted="$wanted failover net_failover virtio_net" ;;
    0x0002) wanted="$wanted ${BLOCK_MODULES}" ;;
    0x0004) wanted="$wanted virtio_rng" ;;
    0x0005) wanted="$wanted virtio_balloon" ;;
  esac
done
if [ "$TVISOR_MODULES" = all ]; then load_modules all; elif [ -n "$wanted" ]; then load_modules "$wanted"; fi
`;
}

/** The kernel command line's terminal size for the console: tvisor.rows=R tvisor.cols=C (tvisor run sets them). */
const TERMINAL_ROWS = 'tvisor.rows';
const TERMINAL_COLS = 'tvisor.cols';

/**
 * `tvisor.handshake` on the kernel command line (tvisor run's fast start): the console session prints
 * HANDSHAKE_READY, then waits for one line from the host, "ROWS COLS TERM EPOCH", and only then starts the
 * shell. The host saves the machine at that point once, and later resumes it there instead of booting: the
 * line gives the resumed guest the terminal's size and type and the time of day (its clock would otherwise go
 * on from the moment of the save). The marker is an OSC sequence, which terminals ignore if it ever shows.
 */
export const HANDSHAKE_PARAM = 'tvisor.handshake';
export const HANDSHAKE_READY = '\x1b]tvisor;ready\x07';

/**
 * How the console is handed to busybox init, which becomes PID 1 at the end of both init scripts: PID 1 must
 * catch the signals busybox poweroff, reboot and halt send it (SIGUSR2, SIGTERM, SIGUSR1; the kernel drops
 * signals to init that it has no handler for), reap orphans, and stop everything before the power goes. A
 * shell script as PID 1 could trap those signals only while waiting for a background job, and a background
 * job of a non-interactive shell ignores SIGINT, which would take Ctrl-C from the console shell.
 *
 * `self` is the init script's path: busybox init runs it again as `self session` (once: the console shell or
 * the autorun script, then power-off) and as `self shutdown` (before a poweroff, reboot or halt).
 */
function startBusyboxInit(self: string): string {
  return `# console=hvc0 (tvisor run --console virtio): the virtio console exists only once virtio_mmio is loaded,
# after the kernel opened /dev/console for init, so init moves its standard streams over to it.
case " $(cat /proc/cmdline) " in
  *" console=hvc0 "*)
    i=0
    while [ ! -c /dev/hvc0 ] && [ $i -lt 50 ]; do usleep 100000; i=$((i + 1)); done
    [ -c /dev/hvc0 ] && exec </dev/hvc0 >/dev/hvc0 2>&1 ;;
esac
# An /etc/inittab of one's own (on a disk) is used as it is.
[ -f /etc/inittab ] || cat > /etc/inittab <<'INITTAB'
# tvisor: the console session runs once and powers off when it ends; poweroff, reboot and halt signal init.
::once:${self} session
::shutdown:${self} shutdown
::ctrlaltdel:/sbin/reboot
INITTAB
exec /bin/busybox init
`;
}

/**
 * The \`session\` and \`shutdown\` entries of busybox init (startBusyboxInit): the console shell, or the autorun
 * script when present, then power-off. \`stop\` holds the lines that make the file systems safe (\`poweroff -f\`
 * unmounts nothing, and busybox init's shutdown entry runs before it kills what is left).
 */
function initEntries(hostname: string, autorun: { find: string; file: string }, stop = 'sync'): string {
  return `stop_everything() {
  # every process but init and this one: the console shell ignores SIGTERM, so SIGKILL follows
  kill -TERM -1 2>/dev/null
  usleep 200000
  kill -KILL -1 2>/dev/null
  ${stop.split('\n').join('\n  ')}
}
# run by busybox init (PID 1 never takes these, whatever the kernel command line passes it)
[ $$ -ne 1 ] && case "$1" in
  shutdown)
    stop_everything
    exit 0 ;;
  session)
    ${hostname}
    ifconfig lo 127.0.0.1 up 2>/dev/null
    # the host terminal's size (tvisor.rows= and tvisor.cols= on the kernel command line), else 24x80
    rows=24
    cols=80
    for arg in $(cat /proc/cmdline); do
      case "$arg" in
        ${TERMINAL_ROWS}=*) rows="\${arg#${TERMINAL_ROWS}=}" ;;
        ${TERMINAL_COLS}=*) cols="\${arg#${TERMINAL_COLS}=}" ;;
      esac
    done
    case " $(cat /proc/cmdline) " in
      *" ${HANDSHAKE_PARAM} "*)
        stty -echo 2>/dev/null
        printf '\\033]tvisor;ready\\007'
        read -r rows cols term epoch
        stty echo 2>/dev/null
        [ -n "$term" ] && export TERM="$term"
        [ -n "$epoch" ] && date -s "@$epoch" >/dev/null 2>&1 ;;
    esac
    stty rows "$rows" cols "$cols" 2>/dev/null
    ${autorun.find}
    echo "tvisor guest: Linux $(uname -r) $(uname -m), $(nproc) CPU(s), $(sed -n 's/^MemTotal: *//p' /proc/meminfo) RAM; exit the shell (or poweroff) to power off"
    if [ -n "$autorun" ]; then
      sh ${autorun.file}
      echo "${AUTORUN_EXIT_PREFIX}$?"
    else
      setsid cttyhack sh -l
    fi
    stop_everything
    poweroff -f
    exit 1 ;;
esac
`;
}

/** The /init script (busybox sh). */
export function initScript(kernelVersion: string): string {
  return `#!/bin/sh
# tvisor default guest init: mount the kernel file systems, load modules, start a shell on the console, or
# with root=DEVICE on the kernel command line switch to the file system on that disk. PID 1 then becomes
# busybox init, which runs this script again for the console session and at shutdown.
export PATH=/sbin:/usr/sbin:/bin:/usr/bin HOME=/root
${initEntries(`hostname ${GUEST_HOSTNAME}`, { find: 'autorun=""; [ -f /autorun.sh ] && autorun=/autorun.sh', file: '/autorun.sh' })}
/bin/busybox mkdir -p /proc /sys /dev /tmp /run /root /sbin /usr/bin /usr/sbin /etc
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
# root=/dev/vda, root=LABEL=… or root=UUID=… (tvisor run --disk FILE): boot from that disk, as Linux would
# without an initramfs; rootfstype= and rootflags= as the kernel documents them.
root=""
rootfstype=""
rootflags=""
set -f
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    root=*) root="\${arg#root=}" ;;
    rootfstype=*) rootfstype="\${arg#rootfstype=}" ;;
    rootflags=*) rootflags="\${arg#rootflags=}" ;;
  esac
done
set +f
wanted=""
[ -n "$root" ] && wanted="${BLOCK_MODULES}"
${moduleScript(kernelVersion)}
# Returns only when the disk cannot be used; the initramfs shell then starts as without root=.
switch_to_disk() {
  i=0
  while :; do
    case "$root" in
      LABEL=*|UUID=*) dev=$(findfs "$root" 2>/dev/null) ;;
      *) dev="$root" ;;
    esac
    [ -n "$dev" ] && [ -b "$dev" ] && break
    if [ "$i" -ge 50 ]; then
      echo "init: the root device $root did not appear within 5 s (is a disk attached?)"
      return 1
    fi
    usleep 100000
    i=$((i + 1))
  done
  mkdir -p /newroot
  opts=rw
  [ -n "$rootflags" ] && opts="rw,$rootflags"
  # Without rootfstype= try ext4 first: letting mount probe every type logs a kernel error for each miss.
  if [ -n "$rootfstype" ]; then
    mount -t "$rootfstype" -o "$opts" "$dev" /newroot
  else
    mount -t ext4 -o "$opts" "$dev" /newroot 2>/dev/null || mount -o "$opts" "$dev" /newroot
  fi
  if [ $? -ne 0 ]; then
    echo "init: cannot mount the root device $root ($dev); staying in the initramfs"
    return 1
  fi
  if [ ! -x /newroot/sbin/init ]; then
    echo "init: $root has no executable /sbin/init; staying in the initramfs"
    umount /newroot
    return 1
  fi
  # An /autorun.sh added to the initramfs still runs: the disk's init looks for it in /run, which moves along.
  [ -f /autorun.sh ] && cp /autorun.sh ${HANDOFF_AUTORUN}
  # busybox switch_root carries no mounts over and deletes the initramfs: move the kernel file systems into
  # the new root (submounts such as /dev/pts move with them), or drop those that cannot move.
  umount /tmp
  for fs in /run /sys /dev /proc; do
    mkdir -p "/newroot$fs" 2>/dev/null
    mount --move "$fs" "/newroot$fs" 2>/dev/null || umount -l "$fs" 2>/dev/null
  done
  exec switch_root /newroot /sbin/init
}
[ -n "$root" ] && switch_to_disk
${startBusyboxInit('/init')}`;
}

/**
 * /sbin/init of a disk root made by `tvisor image build`, run by the initramfs's switch_root (or by the kernel
 * when booted without an initramfs). It mounts whatever kernel file systems were not moved over, loads the
 * modules not loaded yet, and then behaves as the initramfs does without root=: a console shell, or the
 * autorun script handed over in /run or found at /autorun.sh, then power-off.
 */
export function diskInitScript(kernelVersion: string): string {
  return `#!/bin/sh
# tvisor disk root init: mount the kernel file systems, load modules, start a shell on the console. PID 1
# then becomes busybox init, which runs this script again for the console session and at shutdown.
export PATH=/sbin:/usr/sbin:/bin:/usr/bin HOME=/root
${initEntries(
  'hostname -F /etc/hostname 2>/dev/null || hostname ' + GUEST_HOSTNAME,
  { find: `autorun=""; for f in ${HANDOFF_AUTORUN} /autorun.sh; do [ -f "$f" ] && { autorun="$f"; break; }; done`, file: '"$autorun"' },
  // Read-only before the power-off, so the journal is clean and the next boot (or e2fsck) has nothing to replay.
  'sync\nmount -o remount,ro / 2>/dev/null || echo "init: cannot remount / read-only; its journal will be replayed at the next mount"',
)}[ -e /proc/self ] || /bin/busybox mount -t proc proc /proc
/bin/busybox --install -s
mounted() { grep -q "^[^ ]* $1 " /proc/mounts; }
mounted /sys || mount -t sysfs sysfs /sys
mounted /dev || mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mounted /dev/pts || mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mounted /tmp || mount -t tmpfs tmpfs /tmp
mounted /run || mount -t tmpfs tmpfs /run
# The kernel mounts the root read-only when it boots the disk without the initramfs and without "rw".
mount -o remount,rw / 2>/dev/null
wanted=""
${moduleScript(kernelVersion)}
${startBusyboxInit('/sbin/init')}`;
}

/**
 * Builds the newc cpio initramfs (uncompressed). Layout: /bin/busybox (+ /bin/sh), /init, /dev/console and
 * /dev/null device nodes, /lib/modules/<version>/<name>.ko with a load-order file, optional /autorun.sh and
 * extra files.
 */
export function buildInitramfs(opts: InitramfsOptions): Uint8Array {
  const mtime = opts.mtime ?? 0;
  const entries: CpioEntry[] = [];
  const dirs = new Set<string>();
  const addDir = (path: string): void => {
    const parts = normalizeArchivePath(path).split('/');
    for (let i = 1; i <= parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (dirs.has(dir)) continue;
      dirs.add(dir);
      entries.push({ name: dir, mode: S_IFDIR | 0o755, mtime });
    }
  };
  const parentOf = (path: string): string | undefined => {
    const p = normalizeArchivePath(path);
    const slash = p.lastIndexOf('/');
    return slash > 0 ? p.slice(0, slash) : undefined;
  };
  const names = new Set<string>();
  const addFile = (path: string, data: Uint8Array, mode: number): void => {
    const name = normalizeArchivePath(path);
    if (names.has(name)) throw new Error(`initramfs: duplicate path /${name}`);
    names.add(name);
    const parent = parentOf(name);
    if (parent) addDir(parent);
    entries.push({ name, mode, data, mtime });
  };

  for (const d of ['bin', 'sbin', 'dev', 'proc', 'sys', 'tmp', 'run', 'root', 'etc', 'usr/bin', 'usr/sbin']) addDir(d);
  entries.push({ name: 'dev/console', mode: S_IFCHR | 0o600, rdevMajor: 5, rdevMinor: 1, mtime });
  entries.push({ name: 'dev/null', mode: S_IFCHR | 0o666, rdevMajor: 1, rdevMinor: 3, mtime });
  names.add('dev/console').add('dev/null');
  addFile('bin/busybox', opts.busybox, S_IFREG | 0o755);
  addFile('bin/sh', encoder.encode('busybox'), S_IFLNK | 0o777);
  addFile('init', encoder.encode(initScript(opts.kernelVersion)), S_IFREG | 0o755);
  addFile('etc/hostname', encoder.encode(`${GUEST_HOSTNAME}\n`), S_IFREG | 0o644);

  const moddir = `lib/modules/${opts.kernelVersion}`;
  addDir(moddir);
  const files: string[] = [];
  for (const m of opts.modules) {
    if (!/^[A-Za-z0-9_-]+$/.test(m.name)) throw new Error(`initramfs: bad module name '${m.name}'`);
    const file = `${m.name}.ko`;
    addFile(`${moddir}/${file}`, m.data, S_IFREG | 0o644);
    files.push(file);
  }
  addFile(`${moddir}/${MODULE_LOAD_ORDER_FILE}`, encoder.encode(files.map((f) => `${f}\n`).join('')), S_IFREG | 0o644);

  if (opts.autorun !== undefined) addFile('autorun.sh', encoder.encode(opts.autorun), S_IFREG | 0o755);
  for (const f of opts.extraFiles ?? []) {
    const mode = f.mode ?? 0o644;
    addFile(f.path, f.data, mode & S_IFMT ? mode : S_IFREG | mode);
  }
  return writeCpio(entries);
}

/**
 * An initramfs followed by a second newc archive holding /autorun.sh: the kernel unpacks concatenated cpio
 * archives in order, later files winning, so any built guest can be given a script without rebuilding it.
 */
export function appendAutorun(initramfs: Uint8Array, script: string): Uint8Array {
  const extra = writeCpio([{ name: 'autorun.sh', mode: S_IFREG | 0o755, data: encoder.encode(script) }]);
  const pad = (4 - (initramfs.length % 4)) % 4;
  const out = new Uint8Array(initramfs.length + pad + extra.length);
  out.set(initramfs, 0);
  out.set(extra, initramfs.length + pad);
  return out;
}
