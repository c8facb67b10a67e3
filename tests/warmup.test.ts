// The interpreter's warm-up (core/machine/warmup.ts) against real programs: once warmUp() has run and V8 has
// optimized Hart.run(), the unprivileged ISA programs (every integer instruction tvisor implements, traps,
// misaligned and page-crossing accesses, HTIF exits) must run without V8 throwing that optimized code away.
// Each deoptimization of Hart.run() costs a guest tens to hundreds of milliseconds in V8's slower tiers.
// V8's own intrinsics (%GetOptimizationStatus) tell whether the function is still optimized: deterministic, no
// timing involved.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { GCC, buildElf, hasTool, repoRoot, tempDir } from './lib/toolchain.js';
import { warmUp } from '../src/core/machine/warmup.js';
import { Hart } from '../src/core/cpu/hart.js';
import { BareMachine } from '../src/core/machine/bare.js';
import { loadElfFile } from '../src/cli/bare.js';

v8.setFlagsFromString('--allow-natives-syntax');
const optimizationStatus = new Function('f', 'return %GetOptimizationStatus(f)') as (f: unknown) => number;
/**
 * Optimizes `f` now, from all the feedback it has, after a garbage collection (which drops feedback about hidden
 * classes no object has any more): a compile job the warm-up itself started (with part of the feedback) is
 * finished and thrown away first, so the result does not depend on when V8 happened to start one.
 */
const optimizeNow = new Function('f', `
  %CollectGarbage(0);
  %FinalizeOptimization();
  %DeoptimizeFunction(f);
  %PrepareFunctionForOptimization(f);
  %OptimizeFunctionOnNextCall(f);
`) as (f: unknown) => void;
/** Bit 4 of %GetOptimizationStatus: the function runs optimized code. */
const OPTIMIZED = 1 << 4;

const asmDir = join(repoRoot, 'tests', 'asm');
const unprivDir = join(asmDir, 'unpriv');
const MARCH = 'rv64imac_zicsr_zifencei_zihintpause_zba_zbb_zbs_zicbom_zicboz'; // as isa-unpriv.test.ts
const skip = hasTool(GCC) ? false : `${GCC} is not installed; the ISA programs cannot be built`;
const outDir = skip ? '' : tempDir('tvisor-warmup-');
if (outDir) after(() => rmSync(outDir, { recursive: true, force: true }));

test('after warmUp(), the ISA programs run without deoptimizing Hart.run()', { skip }, async () => {
  const programs = readdirSync(unprivDir).filter((f) => f.endsWith('.S')).sort();
  assert.ok(programs.length >= 20, `expected the ISA programs in ${unprivDir}`);
  const elves = programs.map((p) => buildElf([join(unprivDir, p)], join(outDir, p.replace(/\.S$/, '.elf')), {
    march: MARCH, args: [`-I${asmDir}`, `-T${join(asmDir, 'link.ld')}`],
  }));
  const warmed = warmUp('off');
  const run = Hart.prototype.run;
  optimizeNow(run);
  for (let i = 0; i < programs.length; i++) {
    const m = new BareMachine({ jit: 'off' });
    m.load(loadElfFile(elves[i]));
    assert.deepEqual(await m.run({ timeoutMs: 60_000 }), { kind: 'pass' }, programs[i]);
    assert.ok(optimizationStatus(run) & OPTIMIZED,
      `${programs[i]} deoptimized Hart.run() (status 0b${optimizationStatus(run).toString(2)}): ` +
      'a case warmUp() does not reach (run node --trace-deopt on this test to see which)');
  }
  assert.ok(warmed.harts.length > 0); // held to here: its hidden classes are what the feedback names
});

test('warmUp() runs in every JIT mode and leaves a machine made after it unaffected', { skip }, async () => {
  for (const mode of ['off', 'on', 'all'] as const) warmUp(mode);
  const elf = buildElf([join(unprivDir, 'rv64i-arith.S')], join(outDir, 'arith.elf'), {
    march: MARCH, args: [`-I${asmDir}`, `-T${join(asmDir, 'link.ld')}`],
  });
  const m = new BareMachine({ jit: 'off' });
  m.load(loadElfFile(elf));
  assert.deepEqual(await m.run({ timeoutMs: 60_000 }), { kind: 'pass' });
});
