// Privileged-architecture conformance: every program in tests/asm/priv/*.S is built against tests/asm/priv/penv.h
// and tests/asm/priv/link.ld and run with `tvisor bare`. A program reports PASS (exit status 0) or `FAIL: test N`,
// where N is the number of the failing check group inside that .S file; penv also prints a diagnostic line on the
// HTIF console (the failing check's pc, or the cause/epc/tval of an unexpected trap).
//
// The programs were validated on QEMU 7.2 (`qemu-system-riscv64 -M spike -bios none -kernel prog.elf`, built with
// -DPENV_QEMU -DPENV_NO_TIME, and `-M virt` built with -DPENV_QEMU -DPENV_VIRT); those defines relax only the
// checks where QEMU differs from the spec or from the tvisor machine, and are not used here.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { GCC, buildElf, hasTool, repoRoot, runBare, tempDir } from './lib/toolchain.js';

const privDir = join(repoRoot, 'tests', 'asm', 'priv');

/** -march for these programs: the base ISA, Zicsr/Zifencei and the cache-block operations (no Zicond: binutils 2.40). */
const PRIV_MARCH = 'rv64imac_zicsr_zifencei_zicbom_zicboz';

const programs = readdirSync(privDir).filter((f) => f.endsWith('.S')).sort();
const skip = hasTool(GCC) ? false : `${GCC} is not installed; the privileged ISA programs cannot be built`;
const outDir = skip ? '' : tempDir('tvisor-isa-priv-');
if (outDir) after(() => rmSync(outDir, { recursive: true, force: true }));

test('the privileged ISA test programs are present', () => {
  for (const name of ['csr.S', 'interrupts.S', 'pmp.S', 'traps.S', 'vm.S']) {
    assert.ok(programs.includes(name), `expected ${name} in ${privDir}, found: ${programs.join(', ')}`);
  }
});

for (const prog of programs) {
  test(`priv/${prog}`, { skip }, () => {
    const elf = buildElf([join(privDir, prog)], join(outDir, prog.replace(/\.S$/, '.elf')), {
      march: PRIV_MARCH,
      args: [`-I${privDir}`, `-T${join(privDir, 'link.ld')}`, '-Wl,--no-warn-rwx-segments'],
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
