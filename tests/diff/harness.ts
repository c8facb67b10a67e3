// Differential harness: builds a generated program for qemu-riscv64 (Linux user mode) and for `tvisor bare`,
// runs both, compares the dumps byte for byte and, on a mismatch, bisects the item list to the first item whose
// result differs.
import { spawnSync } from 'node:child_process';
import { writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { GCC, cliPath, tempDir } from '../lib/toolchain.js';
import { ABI, ADDR_REGS, BUF_SIZE, DUMP_SIZE, Profile, Program, REG_DUMP, emitSource, generate } from './gen.js';

/** -march for the generated programs (Debian's binutils 2.40 has no Zicond; it is emitted with .insn). */
export const DIFF_MARCH = 'rv64imac_zicsr_zifencei_zihintpause_zba_zbb_zbs_zicbom_zicboz';
export const QEMU = 'qemu-riscv64';

const LINKER_SCRIPT = `OUTPUT_ARCH(riscv)
ENTRY(_start)
SECTIONS
{
  . = 0x80000000;
  .text : { *(.text.init) *(.text .text.*) *(.stream) }
  . = ALIGN(0x1000);
  .tohost : { *(.tohost) }
  . = ALIGN(0x1000);
  .data : { *(.data .data.* .sdata .sdata.* .rodata .rodata.*) }
  .bss : { *(.bss .bss.* .sbss .sbss.* COMMON) }
}
`;

export interface RunOutcome {
  ok: boolean;
  out: Buffer;
  /** Why it is not ok (exit status, signal, stderr, wrong output size). */
  problem: string;
}

export interface Dump {
  regs: bigint[];
  mem: Uint8Array;
}

export function parseDump(b: Buffer): Dump {
  const regs: bigint[] = [];
  for (let i = 0; i < 32; i++) regs.push(b.readBigUInt64LE(8 * i));
  return { regs, mem: new Uint8Array(b.subarray(REG_DUMP, REG_DUMP + BUF_SIZE)) };
}

const h64 = (v: bigint): string => '0x' + v.toString(16).padStart(16, '0');
export const regName = (r: number): string => `x${r}(${ABI[r]})`;

function describeOutcome(r: ReturnType<typeof spawnSync>, who: string): RunOutcome {
  const out = (r.stdout as Buffer | null) ?? Buffer.alloc(0);
  const err = ((r.stderr as Buffer | null) ?? Buffer.alloc(0)).toString('utf8').trim();
  let problem = '';
  if (r.error) problem = `${who}: ${r.error.message}`;
  else if (r.signal) problem = `${who}: killed by ${r.signal}`;
  else if (r.status !== 0) problem = `${who}: exit status ${r.status}`;
  else if (out.length !== DUMP_SIZE) problem = `${who}: wrote ${out.length} bytes, expected ${DUMP_SIZE}`;
  if (problem && err) problem += `; stderr: ${err.slice(0, 2000)}`;
  if (problem && out.length > 0 && out.length !== DUMP_SIZE) {
    problem += `; stdout starts: ${JSON.stringify(out.subarray(0, 200).toString('latin1'))}`;
  }
  return { ok: problem === '', out, problem };
}

export class Builder {
  readonly dir: string;

  constructor(dir?: string) {
    this.dir = dir ?? tempDir('tvisor-diff-');
    writeFileSync(join(this.dir, 'tvisor.ld'), LINKER_SCRIPT);
  }

  /** Writes `src` as NAME.S and builds NAME.qemu.elf and NAME.tvisor.elf from it. */
  build(src: string, name: string): { qemu: string; tvisor: string; source: string } {
    const source = join(this.dir, `${name}.S`);
    writeFileSync(source, src);
    const common = [`-march=${DIFF_MARCH}`, '-mabi=lp64', '-mcmodel=medany', '-static', '-nostdlib', '-nostartfiles', '-Wl,--no-relax', '-Wl,--no-warn-rwx-segments'];
    const qemu = join(this.dir, `${name}.qemu.elf`);
    const tvisor = join(this.dir, `${name}.tvisor.elf`);
    for (const [out, extra] of [[qemu, []], [tvisor, ['-DTVISOR', '-T', join(this.dir, 'tvisor.ld')]]] as const) {
      const args = [...common, ...extra, '-o', out, source];
      const r = spawnSync(GCC, args, { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${GCC} ${args.join(' ')} failed:\n${r.stdout}${r.stderr}`);
    }
    return { qemu, tvisor, source };
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function runQemu(elf: string): RunOutcome {
  return describeOutcome(spawnSync(QEMU, [elf], { timeout: 30_000, maxBuffer: 1 << 20 }), 'qemu-riscv64');
}

export function runTvisor(elf: string): RunOutcome {
  const r = spawnSync(process.execPath, [cliPath, 'bare', elf, '--max-instructions', '20000000'], {
    timeout: 60_000,
    maxBuffer: 1 << 20,
  });
  return describeOutcome(r, 'tvisor bare');
}

/** Human-readable differences between two dumps (expected = QEMU, actual = tvisor). */
export function diffDumps(exp: Dump, act: Dump, indent = '  ', limit = 40): string[] {
  const lines: string[] = [];
  for (let r = 0; r < 32; r++) {
    if (exp.regs[r] !== act.regs[r]) {
      const note = ADDR_REGS.includes(r) ? ' (offset from buffer start)' : '';
      lines.push(`${indent}${regName(r)}${note}: expected ${h64(exp.regs[r])}, tvisor ${h64(act.regs[r])}`);
    }
  }
  for (let off = 0; off < BUF_SIZE; off += 8) {
    let same = true;
    for (let j = 0; j < 8; j++) if (exp.mem[off + j] !== act.mem[off + j]) same = false;
    if (same) continue;
    if (lines.length >= limit) {
      lines.push(`${indent}...`);
      break;
    }
    const e = Buffer.from(exp.mem.subarray(off, off + 8)).readBigUInt64LE();
    const a = Buffer.from(act.mem.subarray(off, off + 8)).readBigUInt64LE();
    lines.push(`${indent}buffer[x8${off - 512 >= 0 ? '+' : ''}${off - 512}] (dword): expected ${h64(e)}, tvisor ${h64(a)}`);
  }
  return lines;
}

export interface CheckResult {
  ok: boolean;
  report: string;
  /** Directory with the sources and ELFs (kept on failure). */
  dir: string;
}

export interface CheckOptions {
  /** Keep the build directory even on success. */
  keep?: boolean;
  /** Only run the QEMU variant (generator validation). */
  qemuOnly?: boolean;
  /** Instruction mix (default 'mixed'). */
  profile?: Profile;
  /** Replaces `tvisor bare` (used to test the harness itself with an injected fault). */
  runTvisor?: (tvisorElf: string) => RunOutcome;
}

function sameOutput(q: RunOutcome, t: RunOutcome): boolean {
  return q.ok && t.ok && q.out.equals(t.out);
}

/** Runs one seed through both targets; on mismatch, bisects and explains. */
export function checkSeed(seed: number, count: number, opts: CheckOptions = {}): CheckResult {
  const b = new Builder();
  const res = checkIn(b, seed, count, opts);
  if (res.ok && !opts.keep) b.cleanup();
  return res;
}

function checkIn(b: Builder, seed: number, count: number, opts: CheckOptions): CheckResult {
  const profile = opts.profile ?? 'mixed';
  const prog = generate(seed, count, profile);
  const repro = `reproduce: node dist/tests/diff/run.js --seed ${seed} --count ${count}` + (profile === 'mixed' ? '' : ` --profile ${profile}`);
  const full = b.build(emitSource(prog), 'full');
  const q = runQemu(full.qemu);
  if (!q.ok) {
    return { ok: false, report: `seed ${seed}: QEMU run failed (generator/harness bug): ${q.problem}\n${repro}\nfiles: ${b.dir}`, dir: b.dir };
  }
  if (opts.qemuOnly) return { ok: true, report: `seed ${seed}: QEMU ok`, dir: b.dir };
  const runT = opts.runTvisor ?? runTvisor;
  const t = runT(full.tvisor);
  if (sameOutput(q, t)) return { ok: true, report: `seed ${seed}: ${count} items match`, dir: b.dir };

  const lines = [`seed ${seed}, ${count} items (${profile}): tvisor differs from qemu-riscv64`, repro];
  if (!t.ok) lines.push(`final run: ${t.problem}`);
  else lines.push('final dump differences:', ...diffDumps(parseDump(q.out), parseDump(t.out)));
  lines.push(...bisect(prog, b, runT, { q, t }));
  lines.push(`files: ${b.dir}`);
  return { ok: false, report: lines.join('\n'), dir: b.dir };
}

/** objdump lines of item `i` (between the labels item_i and the next item or dump). */
function disassembleItem(elf: string, i: number): string[] {
  const r = spawnSync(GCC.replace(/gcc$/, 'objdump'), ['-d', elf], { encoding: 'utf8' });
  if (r.status !== 0) return [];
  const lines = r.stdout.split('\n');
  const start = lines.findIndex((l) => l.endsWith(`<item_${i}>:`));
  if (start < 0) return [];
  const out: string[] = [];
  for (let j = start + 1; j < lines.length; j++) {
    if (/^[0-9a-f]+ <(item_\d+|dump)>:$/.test(lines[j])) break;
    if (lines[j].trim() !== '') out.push(lines[j].trim().replace(/\s+/g, ' '));
  }
  return out;
}

/** Finds adjacent prefixes n-1 (matching) and n (differing) and explains item n-1. */
function bisect(prog: Program, b: Builder, runT: (elf: string) => RunOutcome, full: { q: RunOutcome; t: RunOutcome }): string[] {
  const cache = new Map<number, { q: RunOutcome; t: RunOutcome }>([[prog.items.length, full]]);
  const run = (n: number): { q: RunOutcome; t: RunOutcome } => {
    let r = cache.get(n);
    if (!r) {
      const e = b.build(emitSource(prog, n), `prefix${n}`);
      r = { q: runQemu(e.qemu), t: runT(e.tvisor) };
      cache.set(n, r);
    }
    return r;
  };
  const out: string[] = [];
  const r0 = run(0);
  if (!r0.q.ok) return [`prefix 0: QEMU failed: ${r0.q.problem}`];
  if (!sameOutput(r0.q, r0.t)) {
    out.push('even the program with no items (initialisation and dump only) differs:');
    if (!r0.t.ok) out.push(`  ${r0.t.problem}`);
    else out.push(...diffDumps(parseDump(r0.q.out), parseDump(r0.t.out)));
    return out;
  }
  let lo = 0;
  let hi = prog.items.length;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    const r = run(mid);
    if (!r.q.ok) return [`prefix ${mid}: QEMU failed: ${r.q.problem}`];
    if (sameOutput(r.q, r.t)) lo = mid;
    else hi = mid;
  }
  const item = prog.items[hi - 1];
  const before = parseDump(run(lo).q.out);
  const after = run(hi);
  out.push(`first differing item: #${hi - 1} (prefix ${lo} matches, prefix ${hi} differs): ${item.desc}`);
  out.push('  assembly:', ...item.lines.map((l) => `    ${l.replace(/@N/g, String(hi - 1))}`));
  const dis = disassembleItem(join(b.dir, `prefix${hi}.tvisor.elf`), hi - 1);
  if (dis.length > 0) out.push('  encoding (tvisor build):', ...dis.map((l) => `    ${l}`));
  const reads = [...new Set(item.reads)].filter((r) => r !== 0);
  if (reads.length > 0) {
    out.push('  inputs (register values before the item; x2/x8/x31 as offsets from the buffer start):');
    for (const r of reads) out.push(`    ${regName(r)} = ${h64(before.regs[r])}`);
  }
  if (!after.q.ok) {
    out.push(`  QEMU failed on this prefix: ${after.q.problem}`);
  } else if (!after.t.ok) {
    out.push(`  tvisor failed on this prefix: ${after.t.problem}`);
  } else {
    const exp = parseDump(after.q.out);
    const changed: string[] = [];
    for (let r = 0; r < 32; r++) {
      if (exp.regs[r] !== before.regs[r]) changed.push(`    ${regName(r)}: ${h64(before.regs[r])} -> ${h64(exp.regs[r])}`);
    }
    if (changed.length > 0) out.push('  expected register changes (qemu):', ...changed);
    const diffs = diffDumps(exp, parseDump(after.t.out), '    ');
    out.push('  differences after the item:', ...(diffs.length > 0 ? diffs : ['    none: tvisor did not reproduce its failure (did dist/ change during the run?)']));
  }
  return out;
}
