// `tvisor bare FILE`: runs a bare-metal RISC-V ELF64 program on one M-mode hart with HTIF console and exit,
// as riscv-tests and spike expect. The exit statuses are the contract scripts rely on; see BARE_HELP.
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { BareMachine, type BareExit } from '../core/machine/bare.js';
import { parseElf } from '../core/machine/elf.js';
import { ElfError, type ElfImage } from '../core/machine/elf-types.js';
import { MAX_RAM } from '../core/machine/memory.js';
import { InputError, parseCommandLine, parseCount, parseSeconds, parseSize, UsageError } from './args.js';
import { createConsoleSink, type ConsoleSink } from './console.js';
import { jitHelp, jitModeOf, jitStatsLine, modesOf, statsLine } from './jit.js';
import type { JitMode } from '../core/jit/mode.js';

export const BARE_SUMMARY = 'Run a bare-metal RISC-V ELF64 program (HTIF console and exit)';

export const BARE_HELP = `Usage: tvisor bare FILE [options]

Runs a bare-metal RISC-V ELF64 executable on hart 0 in M-mode, starting at the ELF entry point, with
RAM at 0x80000000 and the QEMU virt devices (CLINT, UART, syscon). The program talks to the host
through HTIF, the 'tohost' and 'fromhost' words named in its symbol table: console output goes to
stdout, and a write of 1 to tohost ends the run with success.

Options:
  --timeout SECONDS       stop after this much wall-clock time (status 3)
  --max-instructions N    stop after N retired instructions (status 3)
  --ram SIZE              guest RAM size: a number with K, M or G (binary units; plain = MiB),
                          default 128M
${jitHelp(24)}
  --stats                 at exit, print instructions retired, wall time, MIPS and JIT mode on stderr
  -h, --help              show this help

Exit status:
  0   the program passed (wrote 1 to tohost) or powered off through syscon
  1   the program failed: it wrote (N << 1) | 1 to tohost; "FAIL: test N" goes to stderr
  2   bad input: unreadable file, not a RISC-V ELF64 executable, no tohost symbol, bad option
  3   --timeout or --max-instructions was reached
  N   the program reported failure code N through syscon (0x3333 | N << 16)
  70  internal error in tvisor (please report it)
`;

const OPTIONS = {
  timeout: { type: 'string' },
  'max-instructions': { type: 'string' },
  ram: { type: 'string' },
  jit: { type: 'string' },
  stats: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const MIN_RAM = 4096;

/** Runs the command; returns the process exit status. Throws UsageError/InputError for status-2 problems. */
export async function bareCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, OPTIONS, 'bare');
  if (values.help) {
    process.stdout.write(BARE_HELP);
    return 0;
  }
  if (positionals.length === 0) throw new UsageError('bare needs a FILE to run', 'bare');
  if (positionals.length > 1) throw new UsageError(`unexpected argument '${positionals[1]}'`, 'bare');
  const file = positionals[0];

  const limits: { maxInstructions?: number; timeoutMs?: number } = {};
  if (typeof values.timeout === 'string') limits.timeoutMs = parseSeconds(values.timeout, '--timeout', 'bare');
  if (typeof values['max-instructions'] === 'string') {
    limits.maxInstructions = parseCount(values['max-instructions'], '--max-instructions', 'bare');
  }
  let ramSize: number | undefined;
  if (typeof values.ram === 'string') {
    ramSize = parseSize(values.ram, '--ram', 'bare');
    if (ramSize < MIN_RAM || ramSize > MAX_RAM || ramSize % 4096 !== 0) {
      throw new UsageError(`--ram ${values.ram}: the size must be a multiple of 4K between 4K and 2G`, 'bare');
    }
  }

  const jit = jitModeOf(values.jit, 'bare');

  const image = loadElfFile(file);
  const sink = createConsoleSink(process.stdout);
  const machine = createMachine(ramSize, sink, jit);
  try {
    machine.load(image);
  } catch (e) {
    if (e instanceof ElfError) throw new InputError(`${file}: ${e.message}`);
    throw e;
  }
  let exit: BareExit;
  const t0 = performance.now();
  try {
    exit = await machine.run(limits);
  } finally {
    sink.close();
    if (values.stats) {
      process.stderr.write(statsLine(machine.instret, performance.now() - t0, modesOf([machine.hart])));
      process.stderr.write(jitStatsLine(machine.instret, [machine.hart]) ?? '');
    }
  }
  return reportExit(exit, machine.instret, limits);
}

function createMachine(ramSize: number | undefined, sink: ConsoleSink, jit: JitMode): BareMachine {
  try {
    return new BareMachine({ ramSize, console: sink.write, jit });
  } catch (e) {
    // Only a user-chosen size can make the allocation itself fail; anything else is our bug.
    if (ramSize !== undefined && e instanceof RangeError) {
      throw new InputError(`cannot allocate ${ramSize / 2 ** 20} MiB of guest RAM (--ram): ${e.message}`);
    }
    throw e;
  }
}

/** Reads and parses the ELF, turning every file-system or format problem into one InputError line. */
export function loadElfFile(file: string): ElfImage {
  let bytes: Uint8Array;
  try {
    const fd = openSync(file, 'r');
    try {
      const st = fstatSync(fd);
      if (st.isDirectory()) throw new InputError(`${file}: is a directory, not an ELF file`);
      // Devices such as /dev/zero never end; pipes (bash's <(...)) are fine.
      if (!st.isFile() && !st.isFIFO()) throw new InputError(`${file}: not a regular file`);
      bytes = readFileSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`${file}: ${describeFsError(e)}`);
  }
  try {
    return parseElf(bytes);
  } catch (e) {
    if (e instanceof ElfError) throw new InputError(`${file}: ${e.message}`);
    throw e;
  }
}

function describeFsError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory, not an ELF file';
    case 'ENOTDIR':
      return 'a component of the path is not a directory';
    case 'ELOOP':
      return 'too many levels of symbolic links';
    case 'ENAMETOOLONG':
      return 'file name too long';
    case 'ERR_FS_FILE_TOO_LARGE':
      return 'file is too large to be a program tvisor can load';
    default: {
      const message = e instanceof Error ? e.message : String(e);
      return `cannot read: ${message.split('\n')[0]}`;
    }
  }
}

function reportExit(exit: BareExit, instret: number, limits: { maxInstructions?: number; timeoutMs?: number }): number {
  switch (exit.kind) {
    case 'pass':
      return 0;
    case 'fail':
      process.stderr.write(`FAIL: test ${exit.test}\n`);
      return 1;
    case 'poweroff':
      if (exit.code === 0) return 0;
      process.stderr.write(`tvisor: the program reported failure code ${exit.code} through syscon\n`);
      // Exit statuses are 8 bits: keep a failure a failure even when the code is a multiple of 256.
      return exit.code & 0xff || 1;
    case 'instruction-limit':
      process.stderr.write(`tvisor: stopped at the instruction limit (--max-instructions ${limits.maxInstructions}); ` +
        `${instret} instructions retired\n`);
      return 3;
    case 'timeout':
      process.stderr.write(`tvisor: timed out after ${(limits.timeoutMs ?? 0) / 1000} s (--timeout); ` +
        `${instret} instructions retired\n`);
      return 3;
    default:
      return unreachable(exit);
  }
}

function unreachable(exit: never): never {
  throw new Error(`unknown machine exit ${JSON.stringify(exit)}`);
}
