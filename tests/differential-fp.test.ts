// F/D differential tests: every F and D instruction, over generated operand sets (systematic special-value
// pairs and triples plus random operands aimed at rounding boundaries, subnormals, overflow, NaNs and integer
// limits), in every rounding mode (static rm and dynamic through frm), runs under qemu-riscv64 (user mode) and
// `tvisor bare`; result bits and fflags after each instruction must be identical. See tests/diff-fp/gen.ts.
// Extra seeds: TVISOR_DIFF_FP_SEEDS=a,b,c (random operand sets per instruction: TVISOR_DIFF_FP_COUNT, default
// 1000). By hand: node dist/tests/diff-fp/run.js --seed N --count M [--only REGEX]
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { hasTool, tempDir } from './lib/toolchain.js';
import { QEMU } from './diff/harness.js';
import { FP_INSNS, RECORD, emitSource, generate } from './diff-fp/gen.js';
import { buildFp, checkFpSeed, runQemuFp, type Run } from './diff-fp/harness.js';

const skip = hasTool(QEMU) ? false : `${QEMU} not installed`;

function runSeeds(seeds: number[], count: number): void {
  const failures: string[] = [];
  for (const seed of seeds) {
    const r = checkFpSeed(seed, count);
    if (!r.ok) failures.push(r.report);
  }
  assert.equal(failures.length, 0, `${failures.length} of ${seeds.length} seeds failed:\n\n${failures.join('\n\n')}`);
}

test('generator: deterministic, every instruction in every rounding-mode variant', () => {
  assert.equal(emitSource(generate(5, 50)), emitSource(generate(5, 50)));
  assert.notEqual(emitSource(generate(5, 50)), emitSource(generate(6, 50)));
  const p = generate(5, 50);
  for (const insn of FP_INSNS) {
    const loops = p.loops.filter((l) => l.insn === insn);
    if (insn.rm) {
      assert.deepEqual(loops.map((l) => l.rm), ['rne', 'rtz', 'rdn', 'rup', 'rmm', 'dyn', 'dyn', 'dyn', 'dyn', 'dyn'], insn.name);
      assert.deepEqual(loops.slice(5).map((l) => l.frm), [0, 1, 2, 3, 4], insn.name);
    } else assert.deepEqual(loops.map((l) => l.rm), [''], insn.name);
  }
  const names = new Set(FP_INSNS.map((i) => i.name));
  for (const f of ['s', 'd']) {
    for (const op of ['fadd', 'fsub', 'fmul', 'fdiv', 'fsqrt', 'fmadd', 'fmsub', 'fnmsub', 'fnmadd', 'fsgnj', 'fsgnjn',
      'fsgnjx', 'fmin', 'fmax', 'feq', 'flt', 'fle', 'fclass', 'fcvt.w', 'fcvt.wu', 'fcvt.l', 'fcvt.lu']) {
      assert.ok(names.has(`${op}.${f}`), `${op}.${f}`);
    }
    for (const t of ['w', 'wu', 'l', 'lu']) assert.ok(names.has(`fcvt.${f}.${t}`));
  }
  for (const n of ['fcvt.s.d', 'fcvt.d.s', 'fmv.x.w', 'fmv.w.x', 'fmv.x.d', 'fmv.d.x']) assert.ok(names.has(n), n);
  assert.equal(p.records, p.loops.reduce((n, l) => n + p.tables[l.table].length, 0));
});

test('QEMU reference run: the expected number of records, every exception flag occurs', { skip }, () => {
  const dir = tempDir('tvisor-diff-fp-');
  try {
    const p = generate(11, 200);
    const elf = buildFp(dir, p);
    const q = runQemuFp(elf.qemu, p.records * RECORD);
    assert.ok(q.ok, q.problem);
    const seen = [0, 0, 0, 0, 0];
    const results = new Set<bigint>();
    for (let k = 0; k < p.records; k++) {
      const f = Number(q.out.readBigUInt64LE(k * RECORD + 8));
      assert.ok(f < 32, `record ${k}: fflags ${f}`);
      for (let b = 0; b < 5; b++) if (f & (1 << b)) seen[b]++;
      results.add(q.out.readBigUInt64LE(k * RECORD));
    }
    for (let b = 0; b < 5; b++) assert.ok(seen[b] > 50, `flag bit ${b} seen ${seen[b]} times`);
    assert.ok(results.size > 3000, `${results.size} distinct results in ${p.records} records`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('harness pinpoints an injected fault (QEMU standing in for tvisor)', { skip }, () => {
  // The fake "tvisor" runs the QEMU build and flips the flags of one record of the fmadd.d rdn loop.
  const seed = 3, count = 40;
  const p = generate(seed, count);
  const loop = p.loops.find((l) => l.insn.name === 'fmadd.d' && l.rm === 'rdn')!;
  const k = loop.first + 17;
  const fake = (elf: string, size: number): Run => {
    const r = runQemuFp(elf.replace(/\.tvisor\.elf$/, '.qemu.elf'), size);
    if (r.ok) r.out[k * RECORD + 8] ^= 1; // toggle NX
    return r;
  };
  const r = checkFpSeed(seed, count, { runTvisor: fake });
  assert.equal(r.ok, false);
  assert.match(r.report, /1 of \d+ records differ/);
  assert.match(r.report, new RegExp(`#${k} fmadd\\.d f4, f1, f2, f3, rdn \\[rdn\\] f1=0x[0-9a-f]{16} f2=0x[0-9a-f]{16} f3=0x[0-9a-f]{16}: expected`));
  assert.match(r.report, /--seed 3 --count 40/);
  rmSync(r.dir, { recursive: true, force: true });
  const ok = checkFpSeed(seed, count, { runTvisor: (e, size) => runQemuFp(e.replace(/\.tvisor\.elf$/, '.qemu.elf'), size) });
  assert.ok(ok.ok, ok.report);
});

test('differential F/D: seeds 1-4, 1500 random operand sets per instruction', { skip }, () => {
  runSeeds([1, 2, 3, 4], 1500);
});

test('differential F/D: seeds 0xf10a7..0xf10ab, 1500 random operand sets per instruction', { skip }, () => {
  runSeeds([0xf10a7, 0xf10a8, 0xf10a9, 0xf10aa, 0xf10ab], 1500);
});

const extra = (process.env.TVISOR_DIFF_FP_SEEDS ?? '').split(',').filter((s) => s.trim() !== '').map(Number);
if (extra.length > 0) {
  test(`differential F/D: extra seeds ${extra.join(',')}`, { skip }, () => {
    runSeeds(extra, Number(process.env.TVISOR_DIFF_FP_COUNT ?? 1000));
  });
}
