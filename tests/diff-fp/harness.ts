// F/D differential harness: builds a generated program (gen.ts) for qemu-riscv64 and for `tvisor bare`, runs
// both, and compares the result records; every differing record is explained (instruction, rounding mode,
// operands, expected and actual result and flags).
import { spawnSync } from 'node:child_process';
import { writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { GCC, cliPath, tempDir } from '../lib/toolchain.js';
import { QEMU } from '../diff/harness.js';
import { RECORD, emitSource, generate, insnText, type FpInsn, type Program } from './gen.js';

export const FP_MARCH = 'rv64imafdc_zicsr_zifencei';

const LINKER_SCRIPT = `OUTPUT_ARCH(riscv)
ENTRY(_start)
SECTIONS
{
  . = 0x80000000;
  .text : { *(.text.init) *(.text .text.*) }
  . = ALIGN(0x1000);
  .tohost : { *(.tohost) }
  . = ALIGN(0x1000);
  .data : { *(.data .data.* .sdata .sdata.* .rodata .rodata.*) }
  .bss : { *(.bss .bss.* .sbss .sbss.* COMMON) }
}
`;

export interface Run {
  ok: boolean;
  out: Buffer;
  problem: string;
}

function outcome(r: ReturnType<typeof spawnSync>, who: string, size: number): Run {
  const out = (r.stdout as Buffer | null) ?? Buffer.alloc(0);
  const err = ((r.stderr as Buffer | null) ?? Buffer.alloc(0)).toString('utf8').trim();
  let problem = '';
  if (r.error) problem = `${who}: ${r.error.message}`;
  else if (r.signal) problem = `${who}: killed by ${r.signal}`;
  else if (r.status !== 0) problem = `${who}: exit status ${r.status}`;
  else if (out.length !== size) problem = `${who}: wrote ${out.length} bytes, expected ${size}`;
  if (problem && err) problem += `; stderr: ${err.slice(0, 2000)}`;
  return { ok: problem === '', out, problem };
}

/** Builds NAME.qemu.elf and NAME.tvisor.elf from the program's source in `dir`. */
export function buildFp(dir: string, p: Program, name = 'fp'): { qemu: string; tvisor: string } {
  writeFileSync(join(dir, 'tvisor.ld'), LINKER_SCRIPT);
  const src = join(dir, `${name}.S`);
  writeFileSync(src, emitSource(p));
  const common = [`-march=${FP_MARCH}`, '-mabi=lp64d', '-mcmodel=medany', '-static', '-nostdlib', '-nostartfiles', '-Wl,--no-relax'];
  const qemu = join(dir, `${name}.qemu.elf`);
  const tvisor = join(dir, `${name}.tvisor.elf`);
  for (const [out, extra] of [[qemu, []], [tvisor, ['-DTVISOR', '-T', join(dir, 'tvisor.ld')]]] as const) {
    const args = [...common, ...extra, '-o', out, src];
    const r = spawnSync(GCC, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${GCC} ${args.join(' ')} failed:\n${r.stdout}${r.stderr}`);
  }
  return { qemu, tvisor };
}

export function runQemuFp(elf: string, size: number): Run {
  return outcome(spawnSync(QEMU, [elf], { timeout: 60_000, maxBuffer: size + (1 << 20) }), 'qemu-riscv64', size);
}

export function runTvisorFp(elf: string, size: number): Run {
  const r = spawnSync(process.execPath, [cliPath, 'bare', elf, '--max-instructions', '200000000'], {
    timeout: 120_000,
    maxBuffer: size + (1 << 20),
  });
  return outcome(r, 'tvisor bare', size);
}

const hex = (v: bigint, digits = 16): string => '0x' + v.toString(16).padStart(digits, '0');

/** fflags as letters (NV DZ OF UF NX). */
export function flagText(f: number): string {
  const names = ['NX', 'UF', 'OF', 'DZ', 'NV'];
  const set = names.filter((_, k) => f & (1 << k)).reverse();
  return set.length ? set.join('|') : '-';
}

function operandText(insn: FpInsn, row: bigint[]): string {
  const n = insn.src === 'x' ? 1 : insn.src.length;
  const names = insn.src === 'x' ? ['a1'] : ['f1', 'f2', 'f3'];
  return row.slice(0, n).map((v, k) => `${names[k]}=${hex(v)}`).join(' ');
}

export interface Mismatch {
  record: number;
  text: string;
}

/** Every record that differs, described. */
export function compareRecords(p: Program, exp: Buffer, act: Buffer): Mismatch[] {
  const out: Mismatch[] = [];
  for (const l of p.loops) {
    const rows = p.tables[l.table];
    for (let k = 0; k < rows.length; k++) {
      const at = (l.first + k) * RECORD;
      if (exp.compare(act, at, at + RECORD, at, at + RECORD) === 0) continue;
      const er = exp.readBigUInt64LE(at), ar = act.readBigUInt64LE(at);
      const ef = Number(exp.readBigUInt64LE(at + 8)), af = Number(act.readBigUInt64LE(at + 8));
      const mode = l.rm === 'dyn' ? `dyn(frm=${l.frm})` : l.rm || '(no rm)';
      out.push({
        record: l.first + k,
        text: `${insnText(l.insn, l.rm)} [${mode}] ${operandText(l.insn, rows[k])}: ` +
          `expected ${hex(er)} ${flagText(ef)}, tvisor ${hex(ar)} ${flagText(af)}`,
      });
    }
  }
  return out;
}

export interface FpCheck {
  ok: boolean;
  report: string;
  records: number;
  dir: string;
}

/** Generates, builds and runs one seed; compares QEMU and tvisor. */
export interface FpCheckOptions {
  /** Keep the build directory even on success. */
  keep?: boolean;
  /** Only these instructions. */
  only?: (i: FpInsn) => boolean;
  /** Replaces `tvisor bare` (used to test the harness itself with an injected fault). */
  runTvisor?: (elf: string, size: number) => Run;
}

export function checkFpSeed(seed: number, randomCount: number, opts: FpCheckOptions = {}): FpCheck {
  const dir = tempDir('tvisor-diff-fp-');
  const p = generate(seed, randomCount, opts.only);
  const size = p.records * RECORD;
  const elf = buildFp(dir, p);
  const q = runQemuFp(elf.qemu, size);
  const repro = `reproduce: node dist/tests/diff-fp/run.js --seed ${seed} --count ${randomCount}`;
  let res: FpCheck;
  if (!q.ok) {
    res = { ok: false, report: `seed ${seed}: QEMU run failed (generator bug?): ${q.problem}\n${repro}\nfiles: ${dir}`, records: p.records, dir };
  } else {
    const t = (opts.runTvisor ?? runTvisorFp)(elf.tvisor, size);
    if (!t.ok) res = { ok: false, report: `seed ${seed}: ${t.problem}\n${repro}\nfiles: ${dir}`, records: p.records, dir };
    else {
      const mm = compareRecords(p, q.out, t.out);
      if (mm.length === 0) res = { ok: true, report: `seed ${seed}: ${p.records} records match`, records: p.records, dir };
      else {
        const lines = [`seed ${seed}: ${mm.length} of ${p.records} records differ`, repro];
        for (const m of mm.slice(0, 60)) lines.push(`  #${m.record} ${m.text}`);
        if (mm.length > 60) lines.push(`  ... ${mm.length - 60} more`);
        lines.push(`files: ${dir}`);
        res = { ok: false, report: lines.join('\n'), records: p.records, dir };
      }
    }
  }
  if (res.ok && !opts.keep) rmSync(dir, { recursive: true, force: true });
  return res;
}
