// Interpreter benchmark (`npm run bench`): builds bench/workload with riscv64-unknown-elf-gcc, runs it on
// tvisor's BareMachine and under qemu-system-riscv64 -M spike, and prints instructions, wall time and MIPS
// side by side. The run fails loudly when the workload's self-checks or the instruction counts disagree.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, relative } from 'node:path';
import { BareMachine } from '../src/core/machine/bare.js';
import { parseElf } from '../src/core/machine/elf.js';
import { GCC, hasTool, repoRoot } from '../tests/lib/toolchain.js';
import { aptInstall, fail } from './lib.js';

const QEMU = 'qemu-system-riscv64';
const WORKLOAD_DIR = join(repoRoot, 'bench', 'workload');
const ELF = join(repoRoot, 'dist', 'bench', 'workload', 'workload.elf');
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


function build(): void {
  if (!hasTool(GCC) && !aptInstall('gcc-riscv64-unknown-elf', GCC)) process.exit(2);
  mkdirSync(join(repoRoot, 'dist', 'bench', 'workload'), { recursive: true });
  const args = [...CFLAGS, '-T', join(WORKLOAD_DIR, 'link.ld'), '-o', ELF, join(WORKLOAD_DIR, 'crt.S'), join(WORKLOAD_DIR, 'workload.c')];
  const r = spawnSync(GCC, args, { encoding: 'utf8' });
  if (r.status !== 0) fail(`${GCC} failed:\n${r.stdout}${r.stderr}`);
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

async function runTvisor(): Promise<TvisorRun> {
  const image = parseElf(new Uint8Array(readFileSync(ELF)));
  const decoder = new TextDecoder();
  let output = '';
  const machine = new BareMachine({ console: (bytes) => (output += decoder.decode(bytes, { stream: true })) });
  machine.load(image);
  const start = performance.now();
  const exit = await machine.run({ timeoutMs: TVISOR_TIMEOUT_MS });
  const seconds = (performance.now() - start) / 1000;
  if (exit.kind !== 'pass') {
    fail(`tvisor: the workload did not pass (${JSON.stringify(exit)}, ${machine.instret} instructions); output:\n${output}`);
  }
  return { instret: machine.instret, seconds, report: parseReport(output, 'tvisor') };
}

function runQemu(extra: string[]): { seconds: number; output: string } {
  const args = ['-M', 'spike', '-bios', 'none', '-nographic', ...extra, '-kernel', ELF];
  const start = performance.now();
  const r = spawnSync(QEMU, args, { encoding: 'utf8', timeout: 300_000, stdio: ['ignore', 'pipe', 'pipe'] });
  const seconds = (performance.now() - start) / 1000;
  if (r.status !== 0) fail(`${QEMU} ${args.join(' ')} exited with ${r.status ?? r.signal}:\n${r.stdout}${r.stderr}`);
  return { seconds, output: r.stdout };
}

const int = (n: number | bigint): string => n.toLocaleString('en-US');
const mips = (instructions: number, seconds: number): string => (instructions / seconds / 1e6).toFixed(1);

async function main(): Promise<void> {
  build();
  console.log(`workload: ${relative(process.cwd(), join(WORKLOAD_DIR, 'workload.c'))} (gcc -O2, rv64imac)`);
  console.log(`host:     ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`);
  console.log('running on tvisor…');
  const tv = await runTvisor();

  let qemu: { seconds: number } | undefined;
  let reference: bigint | undefined;
  if (hasTool(QEMU) || aptInstall('qemu-system-misc', QEMU)) {
    console.log(`running under ${QEMU} -M spike…`);
    // With -icount shift=0,sleep=off, QEMU's minstret counts instructions exactly (with sleep on, idle-time
    // warps add bias): an independent check of tvisor's count.
    const counted = parseReport(runQemu(['-icount', 'shift=0,sleep=off']).output, `${QEMU} -icount`);
    reference = counted.minstret;
    if (counted.checksum !== tv.report.checksum) {
      fail(`checksums differ: tvisor ${tv.report.checksum}, QEMU ${counted.checksum}`);
    }
    const guestCount = tv.report.minstret;
    const romInstructions = reference - guestCount;
    if (romInstructions < 0n || romInstructions > QEMU_RESET_ROM_MAX ||
        BigInt(tv.instret) < guestCount || BigInt(tv.instret) - guestCount > COUNT_SLACK) {
      fail(`instruction counts disagree: QEMU minstret ${int(reference)}, tvisor minstret ${int(guestCount)}, ` +
        `tvisor instret ${int(tv.instret)}`);
    }
    let best = Infinity;
    for (let i = 0; i < QEMU_RUNS; i++) {
      const run = runQemu([]);
      parseReport(run.output, QEMU);
      best = Math.min(best, run.seconds);
    }
    qemu = { seconds: best };
  } else {
    console.log(`(${QEMU} is missing: showing tvisor's figures only)`);
  }

  const rows: string[][] = [
    ['', 'instructions', 'wall time', 'MIPS'],
    ['tvisor (interpreter)', int(tv.instret), `${tv.seconds.toFixed(3)} s`, mips(tv.instret, tv.seconds)],
  ];
  if (qemu) {
    rows.push([`${QEMU} (TCG)`, `${int(tv.instret)}*`, `${qemu.seconds.toFixed(3)} s`, mips(tv.instret, qemu.seconds)]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  console.log('');
  for (const r of rows) console.log(r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c] + 4))).join(''));
  console.log('');
  if (qemu && reference !== undefined) {
    console.log(`* tvisor's count; QEMU -icount agrees (minstret ${int(reference)} at the same point, ` +
      `${reference - tv.report.minstret} of them in QEMU's reset ROM).`);
    console.log(`  QEMU's time is the best of ${QEMU_RUNS} runs and includes its start-up.`);
    console.log(`tvisor runs at ${((qemu.seconds / tv.seconds) * 100).toFixed(1)}% of QEMU's speed.`);
  }
  console.log(`checksum ${tv.report.checksum} verified by the workload on every emulator.`);
}

main().catch((e: unknown) => fail(e instanceof Error ? (e.stack ?? e.message) : String(e)));
