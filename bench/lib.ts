// Helpers shared by the benchmarks: failing loudly, installing a missing Debian package, the options every
// tvisor-next-to-QEMU benchmark takes (--jit, --no-qemu, --runs, --help) and the side-by-side table.
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { JIT_MODES, parseJitMode, type JitMode } from '../src/core/jit/mode.js';
import { tuneWasmTiering } from '../src/host/node/wasm-tiering.js';
import { hasTool } from '../tests/lib/toolchain.js';

export const QEMU = 'qemu-system-riscv64';

export function fail(message: string): never {
  console.error(`bench: ${message}`);
  process.exit(1);
}

/** Bad command-line usage: exit status 2, as the tvisor CLI does. */
export function usageError(message: string, help: string): never {
  console.error(`bench: ${message}\n(see ${help})`);
  process.exit(2);
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** Installs a Debian package when running as root; otherwise says how and returns false. */
export function aptInstall(pkg: string, tool: string): boolean {
  if (!isRoot()) {
    console.error(`bench: ${tool} not found; install it with: sudo apt-get install ${pkg}`);
    return false;
  }
  console.log(`bench: ${tool} not found; installing ${pkg} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update'], ['install', '-y', '--no-install-recommends', pkg]]) {
    const r = spawnSync('apt-get', args, { stdio: 'inherit', env });
    if (r.status !== 0) {
      console.error(`bench: apt-get ${args.join(' ')} failed`);
      return false;
    }
  }
  return hasTool(tool);
}

/** Whether qemu-system-riscv64 can be run (installing it when root); says so when it cannot. */
export function qemuAvailable(): boolean {
  if (hasTool(QEMU) || aptInstall('qemu-system-misc', QEMU)) return true;
  console.log(`(${QEMU} is missing: showing tvisor's figures only)`);
  return false;
}

export interface BenchOptions {
  /** tvisor's JIT modes to run, in order (`--jit off,on`; default both). */
  jit: JitMode[];
  /** Whether to run QEMU too (`--no-qemu` turns it off). */
  qemu: boolean;
  /** Runs per emulator; the best is shown. */
  runs: number;
  /** Boolean flags the benchmark declared itself (`extraFlags`). */
  flags: Record<string, boolean>;
}

export interface BenchSpec {
  /** `npm run` script name, e.g. "bench:guest". */
  script: string;
  /** What the benchmark measures: the first lines of --help. */
  about: string;
  /** Default for --runs. */
  runs?: number;
  /** Extra boolean flags: name -> help line. */
  extraFlags?: Record<string, string>;
  /** Default for --jit (default DEFAULT_JIT_LIST). */
  jit?: readonly JitMode[];
}

export const DEFAULT_JIT_LIST: readonly JitMode[] = ['off', 'on'];

function helpText(spec: BenchSpec): string {
  const extra = Object.entries(spec.extraFlags ?? {}).map(([name, text]) => `  --${name.padEnd(16)}${text}\n`).join('');
  return `Usage: npm run ${spec.script} -- [options]

${spec.about}

Options:
  --jit MODES       tvisor's JIT modes to run, comma-separated from ${JIT_MODES.join(', ')} (default ${(spec.jit ?? DEFAULT_JIT_LIST).join(',')});
                    each tvisor run gets its mode through TVISOR_JIT or the machine's jit field
  --no-qemu         skip qemu-system-riscv64 (no ratios then)
  --runs N          runs per emulator, the best one shown (default ${spec.runs ?? 1})
${extra}  -h, --help        show this help

Exit status: 0 done, 1 a run failed or gave a wrong result, 2 bad options.
`;
}

/** Parses a comma-separated list of JIT modes, without duplicates. */
export function parseJitList(value: string): JitMode[] {
  const modes = value.split(',').filter((s) => s.trim() !== '').map((s) => parseJitMode(s, '--jit'));
  if (modes.length === 0) throw new RangeError(`--jit needs at least one of ${JIT_MODES.join(', ')}`);
  return [...new Set(modes)];
}

/** Parses the benchmark's command line; prints help and exits for --help, exits 2 on bad usage. */
export function parseBenchOptions(spec: BenchSpec, argv = process.argv.slice(2)): BenchOptions {
  tuneWasmTiering(); // as the tvisor command does, for machines the benchmarks run in-process
  const help = `npm run ${spec.script} -- --help`;
  const extra = Object.fromEntries(Object.keys(spec.extraFlags ?? {}).map((n) => [n, { type: 'boolean' as const }]));
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        jit: { type: 'string' },
        'no-qemu': { type: 'boolean' },
        runs: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        ...extra,
      },
    }));
  } catch (e) {
    usageError(e instanceof Error ? e.message : String(e), help);
  }
  if (values.help) {
    process.stdout.write(helpText(spec));
    process.exit(0);
  }
  let jit: JitMode[] = [...(spec.jit ?? DEFAULT_JIT_LIST)];
  if (typeof values.jit === 'string') {
    try {
      jit = parseJitList(values.jit);
    } catch (e) {
      usageError(e instanceof Error ? e.message : String(e), help);
    }
  }
  let runs = spec.runs ?? 1;
  if (typeof values.runs === 'string') {
    runs = Number(values.runs);
    if (!Number.isInteger(runs) || runs < 1 || runs > 100) usageError(`--runs must be a whole number from 1 to 100, got '${values.runs}'`, help);
  }
  const flags = Object.fromEntries(Object.keys(spec.extraFlags ?? {}).map((n) => [n, values[n] === true]));
  return { jit, qemu: values['no-qemu'] !== true, runs, flags };
}

/** Environment for a tvisor CLI child running in `mode` (TVISOR_JIT, issue 14 point 3). */
export function jitEnv(mode: JitMode): NodeJS.ProcessEnv {
  return { ...process.env, TVISOR_JIT: mode };
}

/** The row label of a tvisor run. */
export function tvisorLabel(mode: JitMode, detail = ''): string {
  return `tvisor --jit ${mode}${detail ? `, ${detail}` : ''}`;
}

/** Prints rows as a table: the first column left-aligned, the others right-aligned. */
export function printTable(rows: string[][]): void {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  for (const r of rows) {
    console.log(r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c] + 3))).join('').trimEnd());
  }
}

/** "12.3x" — how many times QEMU's time a figure is (time ratios: higher is slower). */
export function timesQemu(seconds: number, qemuSeconds: number | undefined): string {
  if (qemuSeconds === undefined || !(qemuSeconds > 0)) return '';
  return `${(seconds / qemuSeconds).toFixed(1)}x`;
}

export const secs = (s: number): string => `${s.toFixed(2)} s`;
