// CPU benchmark (`npm run bench`): builds bench/workload twice with riscv64-unknown-elf-gcc (a raw 8-instruction
// loop and a mixed integer workload), runs each on tvisor's BareMachine with each JIT mode and under
// qemu-system-riscv64 -M spike, and prints instructions, wall time and MIPS side by side. The run fails loudly
// when a program's self-checks or the instruction counts disagree.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, relative } from 'node:path';
import type { JitMode } from '../src/core/jit/mode.js';
import { BareMachine } from '../src/core/machine/bare.js';
import { parseElf } from '../src/core/machine/elf.js';
import { GCC, hasTool, repoRoot } from '../tests/lib/toolchain.js';
import { QEMU, aptInstall, fail, parseBenchOptions, printTable, qemuAvailable, tvisorLabel, type BenchOptions } from './lib.js';

const WORKLOAD_DIR = join(repoRoot, 'bench', 'workload');
const OUT_DIR = join(repoRoot, 'dist', 'bench', 'workload');
const CFLAGS = [
  '-march=rv64imac_zicsr', '-mabi=lp64', '-mcmodel=medany', '-O2', '-ffreestanding',
  '-fno-tree-loop-distribute-patterns', // no implicit memset/memcpy calls: there is no libc
  '-nostdlib', '-nostartfiles', '-static',
];
const TVISOR_TIMEOUT_MS = 600_000;
const QEMU_RUNS = 3;
/** tvisor's retired count may exceed the guest's last minstret read by the few instructions that follow it. */
const COUNT_SLACK = 2_000;
/** QEMU's spike board runs a few reset-ROM instructions (7 in QEMU 7.2) before jumping to the ELF entry. */
const QEMU_RESET_ROM_MAX = 32n;
/** Issue 14's target for tvisor with the JIT on the raw loop. */
const TARGET_MIPS = 1_000;

/** One program of the benchmark, built from workload.c with `defines`. */
interface Program {
  name: string;
  about: string;
  defines: string[];
  /** Defines of a tiny run of the same program: QEMU's time for it is its start-up, subtracted from the full run's. */
  startupDefines: string[];
  /** Whether issue 14's MIPS target is stated for this program. */
  target: boolean;
}

const PROGRAMS: Program[] = [
  { name: 'raw loop', about: '8 integer instructions per iteration, 100 million iterations',
    defines: ['-DRAW_LOOP'], startupDefines: ['-DRAW_LOOP', '-DLOOP_ITERATIONS=1000'], target: true },
  { name: 'mixed workload', about: 'CRC-32, insertion sort, matrix multiply, sieve; loads, stores, calls',
    defines: [], startupDefines: ['-DROUNDS=1'], target: false },
];

interface Built {
  elf: string;
  startupElf: string;
}

function compile(out: string, defines: string[]): void {
  const args = [...CFLAGS, ...defines, '-T', join(WORKLOAD_DIR, 'link.ld'), '-o', out, join(WORKLOAD_DIR, 'crt.S'), join(WORKLOAD_DIR, 'workload.c')];
  const r = spawnSync(GCC, args, { encoding: 'utf8' });
  if (r.status !== 0) fail(`${GCC} failed:\n${r.stdout}${r.stderr}`);
}

function build(p: Program): Built {
  mkdirSync(OUT_DIR, { recursive: true });
  const base = join(OUT_DIR, p.name.replace(/\W+/g, '-'));
  const built = { elf: `${base}.elf`, startupElf: `${base}-startup.elf` };
  compile(built.elf, p.defines);
  compile(built.startupElf, p.startupDefines);
  return built;
}

interface Report {
  checksum: string;
  minstret: bigint;
}

/** Parses the workload's last line: "workload: checksum 0x… minstret 0x… ok". */
function parseReport(output: string, who: string): Report {
  const m = /workload: checksum (0x[0-9a-f]{16}) minstret (0x[0-9a-f]{16}) (ok|FAILED)/.exec(output);
  if (!m) fail(`${who}: the workload printed no result line; output was:\n${output}`);
  if (m[3] !== 'ok') fail(`${who}: the workload's self-check FAILED:\n${output}`);
  return { checksum: m[1], minstret: BigInt(m[2]) };
}

interface TvisorRun {
  instret: number;
  seconds: number;
  report: Report;
}

/** One run on a fresh BareMachine in this process, the JIT mode given through the machine's jit field. */
async function runTvisor(elf: string, jit: JitMode, who: string): Promise<TvisorRun> {
  const image = parseElf(new Uint8Array(readFileSync(elf)));
  const decoder = new TextDecoder();
  let output = '';
  const machine = new BareMachine({ console: (bytes) => (output += decoder.decode(bytes, { stream: true })), jit });
  machine.load(image);
  const start = performance.now();
  const exit = await machine.run({ timeoutMs: TVISOR_TIMEOUT_MS });
  const seconds = (performance.now() - start) / 1000;
  if (exit.kind !== 'pass') {
    fail(`${who}: the workload did not pass (${JSON.stringify(exit)}, ${machine.instret} instructions); output:\n${output}`);
  }
  return { instret: machine.instret, seconds, report: parseReport(output, who) };
}

async function bestTvisor(elf: string, jit: JitMode, runs: number, program: string): Promise<TvisorRun> {
  const who = `${tvisorLabel(jit)} (${program})`;
  let b: TvisorRun | undefined;
  for (let i = 1; i <= runs; i++) {
    console.log(`running the ${program} on ${tvisorLabel(jit)}${runs > 1 ? ` (${i}/${runs})` : ''}…`);
    const r = await runTvisor(elf, jit, who);
    if (!b || r.seconds < b.seconds) b = r;
  }
  return b!;
}

function runQemu(elf: string, extra: string[]): { seconds: number; output: string } {
  const args = ['-M', 'spike', '-bios', 'none', '-nographic', ...extra, '-kernel', elf];
  const start = performance.now();
  const r = spawnSync(QEMU, args, { encoding: 'utf8', timeout: 300_000, stdio: ['ignore', 'pipe', 'pipe'] });
  const seconds = (performance.now() - start) / 1000;
  if (r.status !== 0) fail(`${QEMU} ${args.join(' ')} exited with ${r.status ?? r.signal}:\n${r.stdout}${r.stderr}`);
  return { seconds, output: r.stdout };
}

function bestQemu(elf: string, runs: number): number {
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const run = runQemu(elf, []);
    parseReport(run.output, QEMU);
    best = Math.min(best, run.seconds);
  }
  return best;
}

interface QemuRun {
  /** Exact instruction count of the full program (-icount), reset ROM included. */
  reference: bigint;
  checksum: string;
  /** Best wall time of the full run, start-up included. */
  seconds: number;
  /** Wall time of the program alone: the full run minus the tiny run, scaled by instructions. */
  workSeconds: number;
  startup: number;
}

function runAllQemu(b: Built, runs: number, program: string): QemuRun {
  console.log(`running the ${program} under ${QEMU} -M spike…`);
  // With -icount shift=0,sleep=off, QEMU's minstret counts instructions exactly (with sleep on, idle-time
  // warps add bias): an independent check of tvisor's count.
  const icount = ['-icount', 'shift=0,sleep=off'];
  const counted = parseReport(runQemu(b.elf, icount).output, `${QEMU} -icount`);
  const small = parseReport(runQemu(b.startupElf, icount).output, `${QEMU} -icount (tiny run)`);
  const seconds = bestQemu(b.elf, runs);
  const startup = bestQemu(b.startupElf, runs);
  // (full - tiny) instructions took (seconds - startup); the full count at that pace.
  const perInstruction = (seconds - startup) / Number(counted.minstret - small.minstret);
  const workSeconds = perInstruction > 0 ? perInstruction * Number(counted.minstret) : seconds;
  return { reference: counted.minstret, checksum: counted.checksum, seconds, workSeconds, startup };
}

/** tvisor's count must match QEMU's exact one (less QEMU's reset ROM) or, without QEMU, the first mode's. */
function checkRun(who: string, tv: TvisorRun, first: TvisorRun, qemu: QemuRun | undefined): void {
  if (tv.report.checksum !== (qemu?.checksum ?? first.report.checksum)) {
    fail(`checksums differ: ${who} ${tv.report.checksum}, ${qemu ? `QEMU ${qemu.checksum}` : `first mode ${first.report.checksum}`}`);
  }
  const guestCount = tv.report.minstret;
  const ref = qemu?.reference ?? first.report.minstret;
  const rom = qemu ? ref - guestCount : 0n;
  if (rom < 0n || rom > QEMU_RESET_ROM_MAX || (!qemu && guestCount !== ref) ||
      BigInt(tv.instret) < guestCount || BigInt(tv.instret) - guestCount > COUNT_SLACK) {
    fail(`instruction counts disagree: reference minstret ${int(ref)}, ${who} minstret ${int(guestCount)}, instret ${int(tv.instret)}`);
  }
}

const int = (n: number | bigint): string => n.toLocaleString('en-US');
const mips = (instructions: number, seconds: number): number => instructions / seconds / 1e6;

async function benchProgram(p: Program, opts: BenchOptions, withQemu: boolean): Promise<void> {
  const b = build(p);
  const runs: [JitMode, TvisorRun][] = [];
  for (const mode of opts.jit) runs.push([mode, await bestTvisor(b.elf, mode, opts.runs, p.name)]);
  const qemuRuns = Math.max(QEMU_RUNS, opts.runs);
  const qemu = withQemu ? runAllQemu(b, qemuRuns, p.name) : undefined;
  const first = runs[0][1];
  for (const [mode, tv] of runs) checkRun(`${tvisorLabel(mode)} (${p.name})`, tv, first, qemu);

  const rows: string[][] = [[p.name, 'instructions', 'wall time', 'MIPS', qemu ? 'time vs QEMU' : '']];
  for (const [mode, tv] of runs) {
    rows.push([tvisorLabel(mode), int(tv.instret), `${tv.seconds.toFixed(3)} s`, mips(tv.instret, tv.seconds).toFixed(1),
      qemu ? `${(tv.seconds / qemu.workSeconds).toFixed(1)}x` : '']);
  }
  if (qemu) rows.push([`${QEMU} (TCG)`, `${int(first.instret)}*`, `${qemu.workSeconds.toFixed(3)} s**`, mips(first.instret, qemu.workSeconds).toFixed(1), '1.0x']);
  console.log(`\n${p.name}: ${p.about}`);
  printTable(rows);
  if (qemu) {
    console.log(`*  tvisor's count; QEMU -icount agrees (minstret ${int(qemu.reference)} at the same point, ` +
      `${qemu.reference - first.report.minstret} of them in QEMU's reset ROM).`);
    console.log(`** best of ${qemuRuns} runs (${qemu.seconds.toFixed(3)} s) less QEMU's start-up, measured with a tiny build of the same program (${qemu.startup.toFixed(3)} s).`);
  }
  console.log(`checksum ${first.report.checksum} verified by the program on every emulator.`);
  if (!p.target) return;
  for (const [mode, tv] of runs) {
    if (mode === 'off') continue;
    const m = mips(tv.instret, tv.seconds);
    console.log(`target (issue 14): raw loop >= ${int(TARGET_MIPS)} MIPS; ${tvisorLabel(mode)}: ${m.toFixed(0)} MIPS, ${m >= TARGET_MIPS ? 'met' : 'not met'}.`);
  }
}

async function main(): Promise<void> {
  const opts = parseBenchOptions({
    script: 'bench',
    about: 'Builds two bare-metal programs from bench/workload/workload.c with riscv64-unknown-elf-gcc (a raw\n' +
      '8-instruction integer loop, 800 million instructions, and a mixed integer workload, 322 million) and runs\n' +
      `each on tvisor's BareMachine with each JIT mode and under ${QEMU} -M spike (TCG);\n` +
      'prints instructions, wall time and MIPS side by side.',
  });
  const withQemu = opts.qemu && qemuAvailable();
  if (!hasTool(GCC) && !aptInstall('gcc-riscv64-unknown-elf', GCC)) process.exit(2);
  console.log(`programs: ${relative(process.cwd(), join(WORKLOAD_DIR, 'workload.c'))} (gcc -O2, rv64imac)`);
  console.log(`host:     ${cpus()[0]?.model ?? 'unknown CPU'} x${cpus().length}, Node ${process.version}, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`tvisor runs in this process (BareMachine, jit field), best of ${opts.runs}.`);
  for (const p of PROGRAMS) await benchProgram(p, opts, withQemu);
}

main().catch((e: unknown) => fail(e instanceof Error ? (e.stack ?? e.message) : String(e)));
