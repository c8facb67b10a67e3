// `tvisor run`: boots a Linux VM in the foreground with the guest's UART as the console. A raw terminal when
// stdin is a TTY (Ctrl-A X quits, Ctrl-A Ctrl-A sends Ctrl-A, as in QEMU), a plain stream otherwise.
import { readFileSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Vm, BootError } from '../core/machine/vm.js';
import { MAX_RAM } from '../core/machine/memory.js';
import { InputError, parseCommandLine, parseSize, UsageError } from './args.js';
import { createConsoleSink } from './console.js';
import { ensureDefaultGuest, ImageError } from '../images/index.js';

export const RUN_SUMMARY = 'Boot a Linux guest in the foreground (the default Debian guest without options)';

export const RUN_HELP = `Usage: tvisor run [options]

Boots a 64-bit RISC-V Linux guest on the tvisor virt board, with the guest's serial port as the console.
The kernel is entered in S-mode with tvisor's own SBI (as under KVM), or through M-mode firmware with
--firmware. Without --kernel, the default Debian guest is booted from the image cache, pulling it first
if needed (see 'tvisor image pull').

Options:
  --kernel FILE       a RISC-V Linux Image (Debian ships it as /boot/vmlinux-*) or an ELF kernel
  --initrd FILE       an initramfs to load (cpio, optionally compressed as the kernel supports)
  --append CMDLINE    the kernel command line (default "console=ttyS0" plus the default guest's options)
  --memory SIZE       guest RAM: a number with K, M or G (plain = MiB); default 512M, at most 2G
  --cpus N            harts, 1 to 8 (default 1); secondary harts start through SBI HSM
  --firmware FILE     boot through M-mode firmware instead, e.g. Debian's OpenSBI fw_dynamic.bin
  -h, --help          show this help

Console: when stdin is a terminal it is switched to raw mode; press Ctrl-A then X to stop the VM.
Guest poweroff ends the command with status 0; a guest reboot restarts the VM.

Exit status: 0 guest powered off (or stopped with Ctrl-A X), N the guest's syscon failure code,
2 bad input (unreadable or unusable kernel, initrd or firmware, bad option), 70 internal error.
`;

const OPTIONS = {
  kernel: { type: 'string' },
  initrd: { type: 'string' },
  append: { type: 'string' },
  memory: { type: 'string' },
  cpus: { type: 'string' },
  firmware: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const DEFAULT_MEMORY = 512 * 2 ** 20;
const MIN_MEMORY = 16 * 2 ** 20;
const CTRL_A = 0x01;

function readInput(path: string, what: string): Uint8Array {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(`${what} ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message}`);
  }
  if (!st.isFile()) throw new InputError(`${what} ${path}: not a regular file`);
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new InputError(`${what} ${path}: ${(e as Error).message}`);
  }
}

export interface DefaultGuest {
  kernel: string;
  initrd: string;
  cmdline: string;
}

/** Resolves the default guest (pulled on demand); set by the image module when it is available. */
export type DefaultGuestResolver = (log: (line: string) => void) => Promise<DefaultGuest>;

/** The default guest's kernel command line. */
export const DEFAULT_CMDLINE = 'console=ttyS0 quiet';

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
    if (typeof values.cpus === 'string') {
      cpus = /^\d+$/.test(values.cpus) ? Number(values.cpus) : NaN;
      if (!(cpus >= 1 && cpus <= 8)) throw new UsageError(`--cpus must be a whole number from 1 to 8, got '${values.cpus}'`, 'run');
    }
    let kernelPath = values.kernel as string | undefined;
    let initrdPath = values.initrd as string | undefined;
    let cmdline = values.append as string | undefined;
    if (kernelPath === undefined) {
      if (initrdPath !== undefined) throw new UsageError('--initrd needs --kernel (the default guest brings its own)', 'run');
      if (!resolveDefault) throw new InputError('no default guest is available yet: give --kernel and --initrd');
      const guest = await resolveDefault((line) => process.stderr.write(`${line}\n`));
      kernelPath = guest.kernel;
      initrdPath = guest.initrd;
      cmdline ??= guest.cmdline;
    }
    cmdline ??= 'console=ttyS0';
    const kernel = readInput(kernelPath, 'kernel');
    const initrd = initrdPath !== undefined ? readInput(initrdPath, 'initrd') : undefined;
    const firmware = typeof values.firmware === 'string' ? readInput(values.firmware, 'firmware') : undefined;

    const out = createConsoleSink(process.stdout);
    let vm: Vm;
    try {
      vm = new Vm({ memory, cpus, kernel, initrd, cmdline, firmware, console: out.write, random: (n) => new Uint8Array(randomBytes(n)) });
    } catch (e) {
      if (e instanceof BootError) throw new InputError(`${kernelPath}: ${e.message}`);
      throw e;
    }
    const detach = attachConsole(vm);
    try {
      const exit = await vm.run();
      return exit.kind === 'poweroff' ? exit.code : 0;
    } finally {
      detach();
      out.close();
    }
  };
}

/** Connects the host's stdin to the guest UART; returns a function that restores the terminal. */
function attachConsole(vm: Vm): () => void {
  const stdin = process.stdin;
  const tty = stdin.isTTY === true;
  let escape = false;
  const onData = (chunk: Buffer) => {
    if (!tty) {
      vm.sendInput(new Uint8Array(chunk));
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
    if (pass.length > 0) vm.sendInput(Uint8Array.from(pass));
  };
  if (tty) stdin.setRawMode(true);
  stdin.on('data', onData);
  stdin.on('error', () => {});
  stdin.resume();
  return () => {
    stdin.off('data', onData);
    if (tty) stdin.setRawMode(false);
    stdin.pause();
  };
}
