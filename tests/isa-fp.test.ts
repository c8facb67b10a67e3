// F and D conformance: every program in tests/asm/fp/*.S is built against tests/asm/fp/fenv.h (which includes
// tests/asm/env.h) and tests/asm/link.ld and run with `tvisor bare`. A program reports PASS (exit status 0) or
// `FAIL: test N`, where N is the number of the failing case inside that .S file.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { GCC, buildElf, hasTool, repoRoot, runBare, tempDir } from './lib/toolchain.js';

const asmDir = join(repoRoot, 'tests', 'asm');
const fpDir = join(asmDir, 'fp');
/** RV64GC without Zicond (Debian's binutils 2.40 does not know it; these programs do not need it). */
const FP_MARCH = 'rv64imafdc_zicsr_zifencei';

const programs = readdirSync(fpDir).filter((f) => f.endsWith('.S')).sort();
const skip = hasTool(GCC) ? false : `${GCC} is not installed; the F/D test programs cannot be built`;
const outDir = skip ? '' : tempDir('tvisor-isa-fp-');
if (outDir) after(() => rmSync(outDir, { recursive: true, force: true }));

test('the F/D test programs are present', () => {
  assert.deepEqual(programs, ['fp-arith.S', 'fp-csr.S', 'fp-cvt.S', 'fp-ldst.S']);
});

for (const prog of programs) {
  test(`fp/${prog}`, { skip }, () => {
    const elf = buildElf([join(fpDir, prog)], join(outDir, prog.replace(/\.S$/, '.elf')), {
      march: FP_MARCH,
      args: ['-mabi=lp64d', `-I${asmDir}`, `-I${fpDir}`, `-T${join(asmDir, 'link.ld')}`],
    });
    const r = runBare(elf, ['--timeout', '50']);
    const detail = [
      `tvisor bare ${prog}: status ${r.status}${r.signal ? `, signal ${r.signal}` : ''}${r.error ? `, ${r.error.message}` : ''}`,
      `stdout: ${r.stdout ?? ''}`,
      `stderr: ${r.stderr ?? ''}`,
    ].join('\n');
    assert.equal(r.status, 0, detail);
  });
}
