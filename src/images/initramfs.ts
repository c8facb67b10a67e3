// The default guest's initramfs: busybox, the kernel modules the virtio devices and ext4 need, and an /init
// script that mounts the kernel file systems, loads the modules in dependency order and starts a shell on the
// console with job control (or runs /autorun.sh when present), then powers off. No Node APIs.
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

/** The /init script (busybox sh). */
export function initScript(kernelVersion: string): string {
  return `#!/bin/sh
# tvisor default guest init: mount the kernel file systems, load modules, start a shell on the console.
/bin/busybox mkdir -p /proc /sys /dev /tmp /run /root /sbin /usr/bin /usr/sbin
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s
export PATH=/sbin:/usr/sbin:/bin:/usr/bin HOME=/root TERM=linux
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
moddir=/lib/modules/${kernelVersion}
# Debian's modules are signed and large: checking one costs the interpreter about a second, so load only the
# drivers for the virtio devices this machine has (ids from the virtio spec, 5: 1 net, 2 block, 4 entropy,
# 5 balloon); their dependencies follow from the load order. TVISOR_MODULES=all in the environment or
# tvisor.modules=all on the kernel command line loads everything.
load_modules() {
  [ -f "$moddir/${MODULE_LOAD_ORDER_FILE}" ] || return 0
  while read -r module; do
    [ -n "$module" ] || continue
    case " $1 " in *" \${module%.ko} "*|" all ") insmod "$moddir/$module" || echo "init: cannot load $module" ;; esac
  done < "$moddir/${MODULE_LOAD_ORDER_FILE}"
}
load_modules virtio_mmio
wanted=""
grep -q 'tvisor.modules=all' /proc/cmdline && TVISOR_MODULES=all
for id in $(cat /sys/bus/virtio/devices/*/device 2>/dev/null); do
  case "$id" in
    0x0001) wanted="$wanted failover net_failover virtio_net" ;;
    0x0002) wanted="$wanted virtio_blk crc32c_generic crc32c jbd2 mbcache crc16 ext4" ;;
    0x0004) wanted="$wanted virtio_rng" ;;
    0x0005) wanted="$wanted virtio_balloon" ;;
  esac
done
if [ "$TVISOR_MODULES" = all ]; then load_modules all; elif [ -n "$wanted" ]; then load_modules "$wanted"; fi
hostname ${GUEST_HOSTNAME}
ifconfig lo 127.0.0.1 up 2>/dev/null
echo "tvisor guest: Linux $(uname -r) $(uname -m), $(nproc) CPU(s), $(sed -n 's/^MemTotal: *//p' /proc/meminfo) RAM; exit the shell to power off"
if [ -f /autorun.sh ]; then
  sh /autorun.sh
  echo "${AUTORUN_EXIT_PREFIX}$?"
else
  setsid cttyhack sh -l
fi
sync
poweroff -f
# Not reached unless poweroff failed; init must not exit.
while :; do sleep 3600; done
`;
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
