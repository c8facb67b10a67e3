// Raw-loop benchmark (`npm run bench`): builds bench/workload with riscv64-unknown-elf-gcc, runs it on
// tvisor's BareMachine with each JIT mode and under qemu-system-riscv64 -M spike, and prints instructions, wall
// time and MIPS side by side. The run fails loudly when the workload's self-checks or the instruction counts disagree.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, relative } from 'node:path';
import type { JitMode } from '../src/core/jit/mode.js';
import { BareMachine } from '../src/core/machine/bare.js';
import { parseElf } from '../src/core/machine/elf.js';
import { GCC, hasTool, repoRoot } from '../tests/lib/toolchain.js';
import { QEMU, aptInstall, fail, parseBenchOptions, printTable, qemuAvailable, tvisorLabel } from './lib.js';

const WORKLOAD_DIR = join(repoRoot, 'bench', 'workload');
const OUT_DIR = join(repoRoot, 'dist', 'bench', 'workload');
const ELF = join(OUT_DIR, 'workload.elf');
/** The same program with one round: QEMU's time for it is its start-up, subtracted from the full run's. */
const STARTUP_ELF = join(OUT_DIR, 'workload-1round.elf');
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
/** Issue 14's target for tvisor with the JIT. */
const TARGET_MIPS = 1_000;

function build(): void {
  if (!hasTool(GCC) && !aptInstall('gcc-riscv64-unknown-elf', GCC)) process.exit(2);
  mkdirSync(OUT_DIR, { recursive: true });
  for (const [out, defs] of [[ELF, []], [STARTUP_ELF, ['-DROUNDS=1']]] as const) {
    const args = [...CFLAGS, ...defs, '-T', join(WORKLOAD_DIR, 'link.ld'), '-o', out, join(WORKLOAD_DIR, 'crt.S'), join(WORKLOAD_DIR, 'workload.c')];
    const r = spawnSync(GCC, args, { encoding: 'utf8' });
    if (r.status !== 0) fail(`${GCC} failed:\n${r.stdout}${r.stderr}`);
  }
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
async function runTvisor(jit: JitMode): Promise<TvisorRun> {
  const image = parseElf(new Uint8Array(readFileSync(ELF)));
  const decoder = new TextDecoder();
  let output = '';
  const machine = new BareMachine({ console: (bytes) => (output += decoder.decode(bytes, { stream: true })), jit });
  machine.load(image);
  const start = performance.now();
  const exit = await machine.run({ timeoutMs: TVISOR_TIMEOUT_MS });
  const seconds = (performance.now() - start) / 1000;
  const who = tvisorLabel(jit);
  if (exit.kind !== 'pass') {
    fail(`${who}: the workload did not pass (${JSON.stringify(exit)}, ${machine.instret} instructions); output:\n${output}`);
  }
  return { instret: machine.instret, seconds, report: parseReport(output, who) };
}

async function bestTvisor(jit: JitMode, runs: number): Promise<TvisorRun> {
  let b: TvisorRun | undefined;
  for (let i = 1; i <= runs; i++) {
    console.log(`running on ${tvisorLabel(jit)}${runs > 1 ? ` (${i}/${runs})` : ''}…`);
    const r = await runTvisor(jit);
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
  /** Exact instruction count of the full workload (-icount), reset ROM included. */
  reference: bigint;
  /** Best wall time of the full run, start-up included. */
  seconds: number;
  /** Wall time of the workload alone: the full run minus the one-round run, scaled by instructions. */
  workSeconds: number;
  startup: number;
}

function runAllQemu(tv: TvisorRun, runs: number): QemuRun {
  console.log(`running under ${QEMU} -M spike…`);
  // With -icount shift=0,sleep=off, QEMU's minstret counts instructions exactly (with sleep on, idle-time
  // warps add bias): an independent check of tvisor's count.
  const counted = parseReport(runQemu(ELF, ['-icount', 'shift=0,sleep=off']).output, `${QEMU} -icount`);
  if (counted.checksum !== tv.report.checksum) fail(`checksums differ: tvisor ${tv.report.checksum}, QEMU ${counted.checksum}`);
  const small = parseReport(runQemu(STARTUP_ELF, ['-icount', 'shift=0,sleep=off']).output, `${QEMU} -icount (1 round)`);
  const seconds = bestQemu(ELF, runs);
  const startup = bestQemu(STARTUP_ELF, runs);
  // (full - one round) instructions took (seconds - startup); the workload's count at that pace.
  const perInstruction = (seconds - startup) / Number(counted.minstret - small.minstret);
  const workSeconds = perInstruction > 0 ? perInstruction * Number(counted.minstret) : seconds;
  return { reference: counted.minstret, seconds, workSeconds, startup };
}

/** tvisor's count must match QEMU's exact one (minus QEMU's reset ROM) and, without QEMU, the first mode's. */
function checkCounts(who: string, tv: TvisorRun, reference: bigint | undefined, first: TvisorRun): void {
  const guestCount = tv.report.minstret;
  if (tv.report.checksum !== first.report.checksum) fail(`checksums differ between tvisor modes: ${first.report.checksum}, ${who} ${tv.report.checksum}`);
  const ref = reference ?? first.report.minstret;
  const rom = reference === undefined ? 0n : reference - guestCount;
  if (rom < 0n || rom > QEMU_RESET_ROM_MAX || (reference === undefined && guestCount !== ref) ||
      BigInt(tv.instret) < guestCount || BigInt(tv.instret) - guestCount > COUNT_SLACK) {
    fail(`instruction counts disagree: reference minstret ${int(ref)}, ${who} minstret ${int(guestCount)}, instret ${int(tv.instret)}`);
  }
}

const int = (n: number | bigint): string => n.toLocaleString('en-US');
const mips = (instructions: number, seconds: number): number => instructions / seconds / 1e6;

async function main(): Promise<void> {
  const opts = parseBenchOptions({
    script: 'bench',
    about: 'Builds bench/workload/workload.c (CRC-32, sort, matrix multiply, sieve: about 322 million integer\n' +
      'instructions) with riscv64-unknown-elf-gcc and runs it on tvisor\'s BareMachine with each JIT mode and\n' +
      `under ${QEMU} -M spike (TCG); prints instructions, wall time and MIPS side by side.`,
  });
  const withQemu = opts.qemu && qemuAvailable();
  build();
  console.log(`workload: ${relative(process.cwd(), join(WORKLOAD_DIR, 'workload.c'))} (gcc -O2, rv64imac)`);
  console.log(`host:     ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`);
  const runs: [JitMode, TvisorRun][] = [];
  for (const mode of opts.jit) runs.push([mode, await bestTvisor(mode, opts.runs)]);

  const qemu = withQemu ? runAllQemu(runs[0][1], Math.max(QEMU_RUNS, opts.runs)) : undefined;
  for (const [mode, tv] of runs) checkCounts(tvisorLabel(mode), tv, qemu?.reference, runs[0][1]);

  const instret = runs[0][1].instret;
  const rows: string[][] = [['', 'instructions', 'wall time', 'MIPS', qemu ? 'time vs QEMU' : '']];
  for (const [mode, tv] of runs) {
    rows.push([tvisorLabel(mode), int(tv.instret), `${tv.seconds.toFixed(3)} s`, mips(tv.instret, tv.seconds).toFixed(1),
      qemu ? `${(tv.seconds / qemu.workSeconds).toFixed(1)}x` : '']);
  }
  if (qemu) {
    rows.push([`${QEMU} (TCG)`, `${int(instret)}*`, `${qemu.workSeconds.toFixed(3)} s**`, mips(instret, qemu.workSeconds).toFixed(1), '1.0x']);
  }
  console.log('');
  printTable(rows);
  console.log('');
  if (qemu) {
    console.log(`*  tvisor's count; QEMU -icount agrees (minstret ${int(qemu.reference)} at the same point, ` +
      `${qemu.reference - runs[0][1].report.minstret} of them in QEMU's reset ROM).`);
    console.log(`** best of ${Math.max(QEMU_RUNS, opts.runs)} runs, ${qemu.seconds.toFixed(3)} s, less QEMU's start-up: ` +
      `a one-round build's run (${qemu.startup.toFixed(3)} s) is subtracted and the rest scaled to the workload's count.`);
  }
  console.log(`tvisor runs in-process (BareMachine, best of ${opts.runs}); checksum ${runs[0][1].report.checksum} verified by the workload on every emulator.`);
  for (const [mode, tv] of runs) {
    if (mode === 'off') continue;
    const m = mips(tv.instret, tv.seconds);
    console.log(`target (issue 14): raw loop >= ${int(TARGET_MIPS)} MIPS; ${tvisorLabel(mode)}: ${m.toFixed(0)} MIPS, ${m >= TARGET_MIPS ? 'met' : 'not met'}.`);
  }
}

main().catch((e: unknown) => fail(e instanceof Error ? (e.stack ?? e.message) : String(e)));
