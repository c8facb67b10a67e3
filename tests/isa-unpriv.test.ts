// Unprivileged-ISA conformance: every program in tests/asm/unpriv/*.S is built against tests/asm/env.h and
// tests/asm/link.ld and run with `tvisor bare`. A program reports PASS (exit status 0) or `FAIL: test N`, where N
// is the number of the failing case inside that .S file.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { GCC, buildElf, hasTool, repoRoot, runBare, tempDir } from './lib/toolchain.js';

const asmDir = join(repoRoot, 'tests', 'asm');
const unprivDir = join(asmDir, 'unpriv');

/**
 * -march for these programs. Zicond is left out on purpose: binutils before 2.41 (e.g. Debian 12's 2.40) rejects
 * it, so zicond.S encodes CZERO.* with `.insn` instead. Zihintpause is needed for the PAUSE mnemonic.
 */
const UNPRIV_MARCH = 'rv64imac_zicsr_zifencei_zihintpause_zba_zbb_zbs_zicbom_zicboz';

const programs = readdirSync(unprivDir).filter((f) => f.endsWith('.S')).sort();
const skip = hasTool(GCC) ? false : `${GCC} is not installed; the unprivileged ISA programs cannot be built`;
const outDir = skip ? '' : tempDir('tvisor-isa-unpriv-');
if (outDir) after(() => rmSync(outDir, { recursive: true, force: true }));

test('the unprivileged ISA test programs are present', () => {
  assert.ok(programs.length >= 20, `expected the test programs in ${unprivDir}, found ${programs.length}`);
});

for (const prog of programs) {
  test(`unpriv/${prog}`, { skip }, () => {
    const elf = buildElf([join(unprivDir, prog)], join(outDir, prog.replace(/\.S$/, '.elf')), {
      march: UNPRIV_MARCH,
      args: [`-I${asmDir}`, `-T${join(asmDir, 'link.ld')}`],
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
