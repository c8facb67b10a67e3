// `tvisor run`: boots a Linux VM in the foreground with the guest's UART as the console. A raw terminal when
// stdin is a TTY (Ctrl-A X quits, Ctrl-A Ctrl-A sends Ctrl-A, as in QEMU), a plain stream otherwise.
import { randomBytes } from 'node:crypto';
import { Vm, BootError } from '../core/machine/vm.js';
import { warmUp, type WarmUp } from '../core/machine/warmup.js';
import { MAX_RAM } from '../core/machine/memory.js';
import { InputError, parseCommandLine, parseSize, UsageError } from './args.js';
import { createConsoleSink, terminalParams } from './console.js';
import { defaultCacheDir, ensureDefaultGuest, ImageError } from '../images/index.js';
import { describeRunDevices, openRunDevices } from './devices.js';
import { NO_FIRMWARE, type MachineDescription } from '../hypervisor/machine.js';
import { checkSnapshotFiles, readSnapshot, writeSnapshot } from '../host/node/snapshot-file.js';
import { restoreRam, type SnapshotContents } from '../core/snapshot/file.js';
import { SnapshotError } from '../core/snapshot/state.js';
import { accessSync, constants as fsConstants, existsSync, rmSync, statSync } from 'node:fs';
import { fastStartPath, handshakeLine, HandshakeWatch, HANDSHAKE_PARAM, prepareFastStartDir } from './fast-start.js';
import { dirname, resolve } from 'node:path';
import { bootFile } from '../host/node/boot-file.js';
import { FileRefused } from '../host/node/confined-open.js';
import type { BootFile } from '../core/machine/boot-file.js';
import { LIMITS } from '../api/actions.js';
import { jitHelp, jitModeOf, jitStatsLine, modesOf, statsLine } from './jit.js';
import { DEFAULT_CMDLINE } from '../hypervisor/spec.js';
import { bootFromDisk } from './disk-boot.js';
import { FlashFileError, openFlashVars, readFlashImage, type FlashVarsFile } from '../host/node/flash-file.js';
import { FLASH_BANK_SIZE } from '../core/devices/cfi-flash.js';

export const RUN_SUMMARY = 'Boot a Linux guest in the foreground (the default Debian guest without options)';

export const RUN_HELP = `Usage: tvisor run [options]

Boots a 64-bit RISC-V Linux guest on the tvisor virt board, with the guest's serial port as the console.
The kernel is entered in S-mode with tvisor's own SBI (as under KVM), or through M-mode firmware with
--firmware. Without --kernel, a first --disk holding a system with kernels in its /boot (as 'tvisor image
build --distro debian' makes) boots the newest of them with its initrd, root=UUID= of the disk, as a
bootloader would; otherwise the default Debian guest is booted from the image cache, pulling it first if
needed (see 'tvisor image pull').

Options:
  --kernel FILE       a RISC-V Linux Image (Debian ships it as /boot/vmlinux-*) or an ELF kernel
  --initrd FILE       an initramfs to load (cpio, optionally compressed as the kernel supports)
  --append ARGS       kernel arguments added to the command line, e.g. --append root=/dev/vda
  --cmdline CMDLINE   the whole kernel command line, replacing the default (with --kernel
                      "console=ttyS0"; from a disk's /boot "console=ttyS0 root=UUID=… ro"; else
                      the default guest's console=ttyS0 and quiet options)
  --memory SIZE       guest RAM: a number with K, M or G (plain = MiB); default ${LIMITS.memory_mib.default}M, at most 2G
  --vcpus N           harts, 1 to 8 (default 1; --cpus is the same); secondary harts start through SBI HSM
  --firmware FILE     boot through M-mode firmware instead, e.g. Debian's OpenSBI fw_dynamic.bin
                      (a raw binary run from the start of RAM) or an ELF such as fw_dynamic.elf
                      (loaded where it is linked)
  --firmware none     no firmware: every hart starts the --kernel ELF itself in M-mode at its entry,
                      a0 = hart id, a1 = device tree (QEMU's -bios none), e.g. xv6's kernel/kernel
  --flash FILE        firmware in flash, as on QEMU's virt board (pflash, bank 0 at 0x20000000, 32 MiB):
                      read-only, run in place, e.g. EDK2's RISCV_VIRT_CODE.fd from qemu-efi-riscv64;
                      with --firmware (OpenSBI) and no --kernel, OpenSBI starts it in S-mode
  --flash-vars FILE   flash bank 1 (0x22000000): writable, every change the guest makes is written
                      back to FILE at once, e.g. a copy of RISCV_VIRT_VARS.fd (UEFI variables persist)
  --name NAME         the VM's name (default "tvisor"); network MACs are derived from it
${jitHelp(20)}
  --stats             at exit, print the instructions run, wall time, MIPS and JIT mode on stderr
  --save FILE         when the host stops the VM (Ctrl-A X, SIGTERM or SIGINT), save it to FILE first
                      (not when the guest powers off); 'tvisor run --restore FILE' resumes it
  --compress          with --save: compress the RAM in FILE (about 4x smaller, slower to write)
  --restore FILE      resume a VM saved with --save: the machine (images, memory, devices) is the
                      snapshot's, so the options that describe one are refused; its disk and image
                      files must be where they were and unchanged (a changed one is refused)
  --cold-boot         boot the default guest even if a saved start of it is cached (--no-snapshot)

Devices (virtio-mmio; the default guest loads the drivers for the devices present):
  --disk PATH[,readonly][,overlay=FILE][,serial=ID][,bw=RATE][,iops=N]
                      a raw disk image as /dev/vda, the next as vdb, ... (repeatable). readonly
                      shares the image and refuses guest writes; overlay=FILE keeps the image
                      untouched and stores the guest's writes in FILE (created if missing, reused
                      by later runs). An image in use by another tvisor is refused. Make a root
                      disk with 'tvisor image build --disk SIZE' and boot it with
                      --append root=/dev/vda.
                      bw=RATE limits the disk to RATE bytes per second (K, M or G suffix, binary:
                      bw=10M is 10 MiB/s) and iops=N to N requests per second; both are token
                      buckets holding one second's worth, so a burst of up to a second passes.
  --net socket-listen=HOST:PORT[,mac=MAC][,bw=RATE][,pps=N]
  --net socket-connect=HOST:PORT[,mac=MAC][,bw=RATE][,pps=N]
                      a virtio-net interface linked to another tvisor process over TCP (frames
                      with a 4-byte length, as QEMU's socket netdev); repeatable. Without mac=
                      the MAC is derived from --name and the link. bw=RATE (bytes per second)
                      and pps=N (frames per second) limit each direction separately.
  --net user[,hostfwd=[tcp|udp]:[HOSTADDR]:PORT-:GUESTPORT]...[,mac=MAC][,bw=RATE][,pps=N]
                      user-mode networking, as QEMU's -netdev user: the guest gets an address by
                      DHCP, DNS and TCP/UDP to the host's network through the host's sockets (no
                      root, no TAP), the gateway's address reaches the host itself; hostfwd=
                      forwards a host port (on 127.0.0.1 unless HOSTADDR) into the guest. Needs
                      passt (apt-get install passt), which tvisor starts and ends with the VM.
  --console serial|virtio
                      the console the terminal is attached to: the UART (ttyS0, default) or a
                      virtio-console (hvc0; the default command line then says console=hvc0)
  --rng               a virtio-rng device fed from the host's cryptographic random source
  --balloon SIZE      a virtio-balloon device that asks the guest to give back SIZE at start
  -h, --help          show this help

Console: when stdin is a terminal it is switched to raw mode; press Ctrl-A then X (or x) to stop the VM.
The default guest is told the terminal's TERM and size at boot. Without --kernel, --disk, --net,
--cmdline, --firmware, --save or --restore, the default guest starts from a snapshot of its booted machine
at the shell prompt, kept in the image cache (made at the first such run, one per memory size, vCPUs and
devices): a second instead of a boot. Its clock is set to the host's time, and its random generator reseeded
(VM generation ID), at each start. Guest poweroff ends the command with
status 0; a guest reboot restarts the VM; a guest kernel panic ends it with status 1.

Exit status: 0 guest powered off (or stopped with Ctrl-A X), N the guest's syscon failure code,
1 the guest crashed (its kernel panicked, or it makes no progress, e.g. its trap vector faults again and again),
2 bad input (unreadable or unusable kernel, initrd or firmware, bad option), 70 internal error.
`;

/** The options a snapshot's machine replaces: --restore refuses them. */
const RESTORE_EXCLUDES = ['kernel', 'initrd', 'append', 'cmdline', 'memory', 'vcpus', 'firmware', 'flash', 'flash-vars', 'name', 'disk', 'net', 'console', 'rng', 'balloon'] as const;

/** The interpreter's warm-ups (one per run), held while the process lives: see core/machine/warmup.ts. */
const warmedUp: WarmUp[] = [];

const OPTIONS = {
  kernel: { type: 'string' },
  initrd: { type: 'string' },
  append: { type: 'string' },
  cmdline: { type: 'string' },
  memory: { type: 'string' },
  vcpus: { type: 'string' },
  cpus: { type: 'string', aliasOf: 'vcpus' },
  firmware: { type: 'string' },
  flash: { type: 'string' },
  'flash-vars': { type: 'string' },
  name: { type: 'string' },
  disk: { type: 'string', multiple: true },
  net: { type: 'string', multiple: true },
  console: { type: 'string' },
  rng: { type: 'boolean' },
  balloon: { type: 'string' },
  jit: { type: 'string' },
  stats: { type: 'boolean' },
  save: { type: 'string' },
  compress: { type: 'boolean' },
  restore: { type: 'string' },
  'cold-boot': { type: 'boolean' },
  'no-snapshot': { type: 'boolean', aliasOf: 'cold-boot' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Options with which the default guest is not started from its saved boot (they change what a boot is). */
const FAST_START_EXCLUDES = ['kernel', 'initrd', 'cmdline', 'firmware', 'flash', 'disk', 'net', 'save', 'restore', 'cold-boot'] as const;

const DEFAULT_MEMORY = LIMITS.memory_mib.default * 2 ** 20; // the daemon's default too (tvisor create, POST /v1/vms)
const MIN_MEMORY = 16 * 2 ** 20;
const CTRL_A = 0x01;
/** Exit status when the guest can make no progress (tvisor run). */
const EXIT_CRASHED = 1;

/**
 * Firmware in flash without a kernel is started by M-mode firmware (or by every hart with none): under tvisor's
 * own SBI, EDK2 does not get to its console (tried), so that is refused rather than left to hang.
 */
export const FLASH_NEEDS_FIRMWARE = 'firmware in flash without a kernel needs --firmware: OpenSBI\'s fw_dynamic.bin (which starts bank 0 in S-mode, as EDK2 expects) or none (every hart starts it in M-mode)';

/**
 * --flash and --flash-vars as a machine names them (absolute paths), checked against the options beside them
 * for tvisor run and tvisor create alike; undefined without --flash.
 */
export function flashOption(v: { flash?: unknown; 'flash-vars'?: unknown; kernel?: unknown; initrd?: unknown; firmware?: unknown }, command: 'run' | 'create'): { image: string; vars?: string } | undefined {
  if (v['flash-vars'] !== undefined && v.flash === undefined) throw new UsageError('--flash-vars is flash bank 1 beside the firmware image in bank 0: give --flash FILE too', command);
  if (v.flash === undefined) return undefined;
  if (v.kernel === undefined) {
    if (v.firmware === undefined) throw new UsageError(FLASH_NEEDS_FIRMWARE, command);
    if (v.initrd !== undefined) throw new UsageError('--initrd needs --kernel (with --flash and no kernel, the firmware in flash loads its own)', command);
  }
  return { image: resolve(v.flash as string), ...(v['flash-vars'] !== undefined ? { vars: resolve(v['flash-vars'] as string) } : {}) };
}

/** --firmware's value as a machine names it: 'none' as it is (no file), a file by its absolute path. */
export function firmwareOption(value: string): string {
  return value === NO_FIRMWARE ? NO_FIRMWARE : resolve(value);
}

/**
 * A kernel, initrd or firmware file, opened non-blocking and accepted only as a regular file (a FIFO never
 * hangs the open); its bytes are read straight into guest RAM when the VM boots.
 */
function readInput(path: string, what: string): BootFile {
  try {
    return bootFile(path, { label: what });
  } catch (e) {
    if (e instanceof FileRefused) throw new InputError(e.message);
    throw e;
  }
}

/** What a snapshot file holds for `tvisor run --restore`: the machine it describes, its state and its RAM. */
function readSnapshotFile(path: string): { machine: MachineDescription; state: unknown; contents: SnapshotContents } {
  try {
    const { meta, contents } = readSnapshot(path);
    if (meta.savedDisks?.length) {
      throw new SnapshotError(`it was taken from a VM of the daemon that went on running, with copies of its disks (${meta.savedDisks.map((s) => s.disk).join(', ')}); restore it there: 'tvisor restore ${path}'`);
    }
    checkSnapshotFiles(meta, meta.machine);
    return { machine: meta.machine, state: meta.state, contents };
  } catch (e) {
    if (e instanceof SnapshotError) throw new InputError(`--restore ${path}: ${e.message}`);
    throw e;
  }
}

/** The cached fast start at `path`, or null when there is none or it cannot be used (then it is removed). */
function readFastStart(path: string): { machine: MachineDescription; state: unknown; contents: SnapshotContents } | null {
  if (!existsSync(path)) return null;
  try {
    const { meta, contents } = readSnapshot(path);
    checkSnapshotFiles(meta, meta.machine);
    return { machine: meta.machine, state: meta.state, contents };
  } catch (e) {
    if (!(e instanceof SnapshotError)) throw e;
    process.stderr.write(`tvisor: the saved start ${path} cannot be used (${e.message}); booting, and saving a new one\n`);
    rmSync(path, { force: true });
    return null;
  }
}

/** Saves the booted default guest, waiting for its handshake, as the fast start of its machine. */
function saveFastStart(path: string, machine: MachineDescription, vm: Vm, flushDisks: () => void, warn: (line: string) => void): void {
  try {
    prepareFastStartDir(path);
    const { bytes } = writeSnapshot(path, vm, { machine, flushDisks });
    warn(`tvisor: saved the booted guest (${Math.ceil(bytes / 2 ** 20)} MiB, in ${path}): the next runs start from there (--cold-boot boots)`);
  } catch (e) {
    warn(`tvisor: could not save the booted guest for a fast start: ${(e as Error).message}`);
  }
}

/** Refuses a --save path whose directory does not exist or is not writable. */
function checkSavePath(path: string): void {
  const dir = dirname(resolve(path));
  try {
    if (!statSync(dir).isDirectory()) throw new Error(`${dir} is not a directory`);
    accessSync(dir, fsConstants.W_OK);
  } catch (e) {
    throw new InputError(`--save ${path}: cannot write there (${(e as Error).message})`);
  }
}

/** Writes the stopped VM's snapshot to `path` (through a temporary file: a failed write leaves no half file). */
function writeSnapshotFile(path: string, machine: MachineDescription, vm: Vm, flushDisks: () => void, compress: boolean): void {
  let bytes: number;
  try {
    bytes = writeSnapshot(path, vm, { machine, flushDisks, compress }).bytes;
  } catch (e) {
    throw new InputError(`--save ${path}: ${(e as Error).message}`);
  }
  process.stderr.write(`tvisor: saved the VM to ${path} (${Math.ceil(bytes / 2 ** 20)} MiB); 'tvisor run --restore ${path}' resumes it\n`);
}

export interface DefaultGuest {
  kernel: string;
  initrd: string;
  cmdline: string;
}

/** Resolves the default guest (pulled on demand); set by the image module when it is available. */
export type DefaultGuestResolver = (log: (line: string) => void) => Promise<DefaultGuest>;

/** The default guest's kernel command line (hypervisor/spec.ts says why each option). */
export { DEFAULT_CMDLINE };

/** The default Debian guest from the image cache, pulled and built on first use. */
export const resolveDefaultGuest: DefaultGuestResolver = async (log) => {
  try {
    const g = await ensureDefaultGuest({ log });
    return { kernel: g.kernel, initrd: g.initrd, cmdline: DEFAULT_CMDLINE };
  } catch (e) {
    if (e instanceof ImageError) throw new InputError(e.message);
    throw e;
  }
};

/**
 * The command line with --append's arguments added (as QEMU's -append is often used, but adding rather than
 * replacing, so the default guest keeps its options; --cmdline replaces).
 */
export function appendArgs(cmdline: string, append: string | undefined): string {
  const extra = append?.trim();
  return extra ? `${cmdline} ${extra}` : cmdline;
}

export function makeRunCommand(resolveDefault: DefaultGuestResolver | null) {
  return async function runCommand(args: string[]): Promise<number> {
    const { values, positionals } = parseCommandLine(args, OPTIONS, 'run');
    if (values.help) {
      process.stdout.write(RUN_HELP);
      return 0;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`, 'run');
    const memory = typeof values.memory === 'string' ? parseSize(values.memory, '--memory', 'run') : DEFAULT_MEMORY;
    if (memory < MIN_MEMORY || memory > MAX_RAM || memory % 4096 !== 0) {
      throw new UsageError(`--memory must be a multiple of 4K between 16M and 2G, got '${values.memory}'`, 'run');
    }
    let cpus = 1;
    if (typeof values.vcpus === 'string') {
      cpus = /^\d+$/.test(values.vcpus) ? Number(values.vcpus) : NaN;
      if (!(cpus >= 1 && cpus <= 8)) throw new UsageError(`--vcpus must be a whole number from 1 to 8, got '${values.vcpus}'`, 'run');
    }
    const consoleKind = (values.console as string | undefined) ?? 'serial';
    if (consoleKind !== 'serial' && consoleKind !== 'virtio') throw new UsageError(`--console must be 'serial' or 'virtio', got '${consoleKind}'`, 'run');
    const balloon = typeof values.balloon === 'string' ? parseSize(values.balloon, '--balloon', 'run') : undefined;
    if (balloon !== undefined && balloon > memory) throw new UsageError(`--balloon ${values.balloon} is more than the guest's memory`, 'run');
    const name = (values.name as string | undefined) ?? 'tvisor';
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(name)) throw new UsageError(`--name '${name}': use letters, digits, '.', '_' and '-' (at most 63)`, 'run');
    const jit = jitModeOf(values.jit, 'run');
    // --restore: the machine the snapshot describes (its options are the snapshot's), and its state
    if (typeof values.restore === 'string') {
      const given = RESTORE_EXCLUDES.filter((k) => values[k] !== undefined);
      if (given.length > 0) throw new UsageError(`--restore takes the machine from the snapshot: drop --${given.join(', --')}`, 'run');
    }
    // --save: refused now, not after the guest has run, when the snapshot cannot be written where asked
    if (typeof values.save === 'string') checkSavePath(values.save);
    else if (values.compress) throw new UsageError('--compress is for the snapshot --save writes: give --save FILE too', 'run');
    let snapshot = typeof values.restore === 'string' ? readSnapshotFile(values.restore) : null;
    // the default guest's fast start: its booted machine saved once, at the shell prompt (fast-start.ts)
    const fast = !snapshot && resolveDefault && FAST_START_EXCLUDES.every((k) => values[k] === undefined);
    let fastPath: string | null = null;
    let described: MachineDescription | null = null;
    if (!snapshot) {
      let kernelPath = values.kernel as string | undefined;
      let initrdPath = values.initrd as string | undefined;
      let cmdline = values.cmdline as string | undefined;
      const disks = (values.disk as string[] | undefined) ?? [];
      const flash = flashOption(values, 'run');
      if (flash && typeof values.save === 'string') throw new UsageError('--save does not take a VM with flash yet (its banks are files of their own): drop --save', 'run');
      if (values.firmware === NO_FIRMWARE && kernelPath === undefined && !flash) throw new UsageError('--firmware none starts the --kernel file in M-mode: give --kernel (e.g. xv6\'s kernel/kernel)', 'run');
      // a disk with a system on it boots its own kernel, as a bootloader would (disk-boot.ts)
      // (with flash, the firmware there finds its own bootloader on the disk)
      const fromDisk = kernelPath === undefined && initrdPath === undefined && disks.length > 0 && !flash
        ? await bootFromDisk(disks[0], consoleKind === 'virtio' ? 'hvc0' : 'ttyS0', defaultCacheDir(), (line) => process.stderr.write(`${line}\n`))
        : null;
      if (fromDisk) {
        kernelPath = fromDisk.kernel;
        initrdPath = fromDisk.initrd;
        cmdline ??= fromDisk.cmdline;
      } else if (kernelPath === undefined && !flash) {
        if (initrdPath !== undefined) throw new UsageError('--initrd needs --kernel (the default guest brings its own)', 'run');
        if (!resolveDefault) throw new InputError('no default guest is available yet: give --kernel and --initrd');
        const guest = await resolveDefault((line) => process.stderr.write(`${line}\n`));
        kernelPath = guest.kernel;
        initrdPath = guest.initrd;
        if (cmdline === undefined) {
          cmdline = consoleKind === 'virtio' ? guest.cmdline.replace('console=ttyS0', 'console=hvc0') : guest.cmdline;
          // the default guest's init takes the host terminal's TERM and size from its command line (--cmdline
          // is the whole command line: nothing is added to it), or with a fast start, from the handshake
          const stdout = process.stdout;
          if (fast) cmdline += ` ${HANDSHAKE_PARAM}`;
          else cmdline += terminalParams({ isTTY: stdout.isTTY === true, rows: stdout.rows, columns: stdout.columns, term: process.env.TERM }, cmdline);
        }
      }
      cmdline ??= consoleKind === 'virtio' ? 'console=hvc0' : 'console=ttyS0';
      cmdline = appendArgs(cmdline, values.append as string | undefined);
      const nets = (values.net as string[] | undefined) ?? [];
      // absolute paths: a snapshot of this machine may be restored from another directory, or by the daemon
      described = {
        name, memoryBytes: memory, vcpus: cpus, kernel: kernelPath === undefined ? '' : resolve(kernelPath), cmdline,
        ...(initrdPath !== undefined ? { initrd: resolve(initrdPath) } : {}),
        ...(typeof values.firmware === 'string' ? { firmware: firmwareOption(values.firmware) } : {}),
        ...(flash ? { flash } : {}),
        devices: describeRunDevices({ name, disks, nets, virtioConsole: consoleKind === 'virtio', rng: values.rng === true, balloon })
          .map((d) => (d.kind === 'block' ? { ...d, path: resolve(d.path), ...(d.overlay !== undefined ? { overlay: resolve(d.overlay) } : {}) } : d)),
      };
    }
    if (fast && described) {
      fastPath = fastStartPath(defaultCacheDir(), described);
      snapshot = readFastStart(fastPath);
    }
    const machine = snapshot?.machine ?? described!;
    // with flash and no kernel the firmware's next stage is flash bank 0 (an empty kernel image says so)
    const kernel = machine.kernel === '' ? new Uint8Array(0) : readInput(machine.kernel, 'kernel');
    const initrd = machine.initrd !== undefined ? readInput(machine.initrd, 'initrd') : undefined;
    const firmware = machine.firmware === NO_FIRMWARE ? NO_FIRMWARE : machine.firmware !== undefined ? readInput(machine.firmware, 'firmware') : undefined;

    // no interactive terminal to answer the guest's cursor position queries: drop them (console.ts)
    const sink = createConsoleSink(process.stdout, { dropCursorQueries: !(process.stdin.isTTY && process.stdout.isTTY) });
    const warn = (line: string) => process.stderr.write(`${line}\n`);
    let vm: Vm;
    // a fast start's first boot: the machine is saved where the guest waits for the handshake (fast-start.ts);
    // the terminal's input waits until the guest has its answer
    let gateOpen = fastPath === null;
    const handshake = () => {
      const stdout = process.stdout;
      const line = handshakeLine({ isTTY: stdout.isTTY === true, rows: stdout.rows, columns: stdout.columns, term: process.env.TERM }, Date.now());
      if (dev.console) dev.console.receive(line);
      else vm.sendInput(line);
      gateOpen = true;
    };
    // the guest waits for a handshake at each boot (after a guest reboot too): the first boot's is saved first
    let saved = snapshot !== null;
    const watch = fastPath !== null
      ? new HandshakeWatch((b) => sink.write(b), () => setImmediate(() => {
        if (!saved) saveFastStart(fastPath!, machine, vm, dev.flushDisks, warn);
        saved = true;
        handshake();
      }))
      : null;
    const out = {
      write: (b: Uint8Array) => (watch ? watch.write(b) : sink.write(b)),
      close: () => {
        watch?.flush();
        sink.close();
      },
    };
    // the virtio console's output is watched for a kernel panic too (the UART's is by the Vm itself)
    let varsFile: FlashVarsFile | undefined;
    let bank0: Uint8Array | undefined;
    try {
      bank0 = machine.flash && readFlashImage(machine.flash.image, FLASH_BANK_SIZE);
      varsFile = machine.flash?.vars !== undefined ? openFlashVars(machine.flash.vars, FLASH_BANK_SIZE) : undefined;
    } catch (e) {
      if (e instanceof FlashFileError) throw new InputError(e.message);
      throw e;
    }
    const dev = await openRunDevices(machine, (b) => {
      out.write(b);
      vm?.watchConsole(b); // undefined until the Vm is made, when the device prints nothing yet
    }, warn);
    try {
      try {
        // V8 optimizes the interpreter with feedback from every case, not only those met first (core/machine/warmup.ts)
        warmedUp.push(warmUp(jit));
        vm = new Vm({
          memory: machine.memoryBytes, cpus: machine.vcpus, kernel, initrd, cmdline: machine.cmdline, firmware, jit,
          ...(bank0 ? { flash: { code: bank0, ...(varsFile ? { vars: varsFile } : {}) } } : {}),
          console: out.write,
          resume: snapshot !== null,
          random: (n) => new Uint8Array(randomBytes(n)),
          devices: dev.devices,
          onDeviceEvent: (e) => warn(`tvisor: ${e.device}: ${e.internal ? 'internal error' : 'the guest broke the virtio protocol'}: ${e.reason.split('\n')[0]} (device reset needed)`),
        });
        bank0 = undefined; // copied into the machine's ROM window: not kept twice while the guest runs
        if (snapshot) {
          restoreRam(vm.ram, snapshot.contents);
          vm.restoreState(snapshot.state);
          if (fastPath !== null) handshake();
        }
      } catch (e) {
        if (e instanceof BootError) throw new InputError(machine.kernel === '' ? e.message : `${machine.kernel}: ${e.message}`);
        if (e instanceof SnapshotError) throw new InputError(`${values.restore}: ${e.message}`);
        throw e;
      }
      // --save: the host stopping the VM (Ctrl-A X, SIGTERM, SIGINT) saves it first
      const save = values.save as string | undefined;
      const stopOnSignal = () => vm.stop();
      if (save !== undefined) {
        process.on('SIGTERM', stopOnSignal);
        process.on('SIGINT', stopOnSignal);
      }
      const input = dev.console;
      const detach = attachConsole(
        vm,
        input ? (b) => input.receive(b) : (b) => vm.sendInput(b),
        // held back (no room) until a fast start's first boot has its handshake
        () => (!gateOpen ? Infinity : input ? input.pendingInput : vm.uart.pendingInput),
      );
      // a terminal resized (SIGWINCH) resizes the virtio console (config change: Linux's hvc resizes its tty);
      // the UART has no way to say so
      const stdout = process.stdout;
      const onResize = () => input?.resize(stdout.columns, stdout.rows);
      if (input && stdout.isTTY) stdout.on('resize', onResize);
      const t0 = performance.now();
      try {
        const exit = await vm.run();
        if (exit.kind === 'stopped' && save !== undefined) writeSnapshotFile(save, machine, vm, dev.flushDisks, values.compress === true);
        if (exit.kind === 'crashed') {
          warn(`tvisor: the guest crashed: ${exit.reason}`);
          return EXIT_CRASHED;
        }
        return exit.kind === 'poweroff' ? exit.code : 0;
      } finally {
        process.off('SIGTERM', stopOnSignal);
        process.off('SIGINT', stopOnSignal);
        stdout.off('resize', onResize);
        detach();
        if (values.stats) {
          warn(statsLine(vm.instructions, performance.now() - t0, modesOf(vm.harts)).trimEnd());
          const jit = jitStatsLine(vm.instructions, vm.harts);
          if (jit) warn(jit.trimEnd());
        }
      }
    } finally {
      dev.close();
      varsFile?.close();
      out.close();
    }
  };
}

/** Input handed to the guest console and not read by the guest yet, at most (the console devices buffer 64 KiB). */
const INPUT_IN_FLIGHT = 32 * 1024;

/**
 * Connects the host's stdin to the guest console; returns a function that restores the terminal. Flow control:
 * at most INPUT_IN_FLIGHT bytes reach the console before the guest reads them; the rest of a chunk waits here
 * with stdin paused, so a file piped in waits for the guest instead of overflowing the console's bounded buffer.
 */
function attachConsole(vm: Vm, send: (bytes: Uint8Array) => void, pending: () => number): () => void {
  const stdin = process.stdin;
  const tty = stdin.isTTY === true;
  let escape = false;
  let held: Uint8Array[] = [];
  let drain: ReturnType<typeof setInterval> | null = null;
  const pump = () => {
    while (held.length > 0) {
      const room = INPUT_IN_FLIGHT - pending();
      if (room <= 0) break;
      const head = held[0];
      send(head.subarray(0, room));
      if (head.length <= room) held.shift();
      else held[0] = head.subarray(room);
    }
    if (held.length > 0 && !drain) {
      stdin.pause();
      drain = setInterval(pump, 10);
    } else if (held.length === 0 && drain) {
      clearInterval(drain);
      drain = null;
      stdin.resume();
    }
  };
  const deliver = (bytes: Uint8Array) => {
    held.push(bytes);
    pump();
  };
  const onData = (chunk: Buffer) => {
    if (!tty) {
      deliver(new Uint8Array(chunk));
      return;
    }
    const pass: number[] = [];
    for (const b of chunk) {
      if (escape) {
        escape = false;
        if (b === 0x78 || b === 0x58) { // x / X: quit
          process.stderr.write('\r\ntvisor: stopped (Ctrl-A X)\r\n');
          vm.stop();
          return;
        }
        if (b === CTRL_A) pass.push(CTRL_A);
        continue;
      }
      if (b === CTRL_A) escape = true;
      else pass.push(b);
    }
    if (pass.length > 0) deliver(Uint8Array.from(pass));
  };
  if (tty) stdin.setRawMode(true);
  stdin.on('data', onData);
  stdin.on('error', () => {});
  stdin.resume();
  return () => {
    if (drain) clearInterval(drain);
    held = [];
    stdin.off('data', onData);
    if (tty) stdin.setRawMode(false);
    stdin.pause();
  };
}
