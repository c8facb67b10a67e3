// `--jit on|off|all` and $TVISOR_JIT on the real commands: bad values are refused with one line and status 2
// (run, bare and serve, from the option and from the environment), the option beats the environment, and
// the mode reaches the harts (`--stats` prints the mode the harts were built with; serve announces its mode
// and its VM and hart threads build their machines with it).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildElf, cliPath, GCC, hasTool, repoRoot } from './lib/toolchain.js';
import { api, startDaemon, stopDaemon, waitFor } from './lib/daemon.js';

let dir: string;
let elf: string | undefined;
const haveGcc = hasTool(GCC);

/** The environment of this process without TVISOR_JIT (so that a CI run with TVISOR_JIT=all tests the default too), plus `env`. */
function envWith(env: Record<string, string>): NodeJS.ProcessEnv {
  const { TVISOR_JIT: _, ...rest } = process.env;
  return { ...rest, ...env };
}

function tvisor(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', input: '', timeout: 120_000, env: envWith(env) });
}

function assertUsage(args: string[], env: Record<string, string>, message: string): void {
  const r = tvisor(args, env);
  const command = args[0];
  assert.equal(r.status, 2, `tvisor ${args.join(' ')}: status ${r.status}\n${r.stderr}`);
  assert.equal(r.stderr, `tvisor: ${message}\nRun 'tvisor ${command} --help' for usage.\n`);
  assert.equal(r.stdout, '');
}

/** A Linux Image header (Documentation/arch/riscv/boot-image-header.rst) with a zeroed body: the hart traps forever. */
function stuckKernel(): Buffer {
  const b = Buffer.alloc(8192);
  b.write('MZ', 0, 'latin1');
  b.writeBigUInt64LE(0x200000n, 8); // text_offset
  b.writeBigUInt64LE(8192n, 16); // image_size
  b.write('RISCV\0\0\0', 48, 'latin1');
  b.write('RSC\x05', 56, 'latin1');
  return b;
}

const STATS = /^tvisor: (\d+) instructions in \d+\.\d{3} s \(\d+\.\d MIPS\), jit (\S+)$/m;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tvisor-jit-'));
  mkdirSync(join(dir, 'files'));
  writeFileSync(join(dir, 'files', 'stuck.Image'), stuckKernel());
  if (haveGcc) {
    // a loop of 1000 turns, then a write of 1 to tohost: passes
    const src = join(dir, 'pass.S');
    writeFileSync(src, `
      .section .text.init
      .globl _start
    _start:
      li t0, 1000
    1: addi t0, t0, -1
      bnez t0, 1b
      la t1, tohost
      li t2, 1
      sd t2, 0(t1)
    2: j 2b
      .section .tohost, "aw"
      .align 6
      .globl tohost
    tohost: .dword 0
      .align 6
      .globl fromhost
    fromhost: .dword 0
    `);
    elf = buildElf([src], join(dir, 'pass.elf'), { args: ['-T', join(repoRoot, 'tests', 'asm', 'link.ld')] });
  }
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('a bad --jit or TVISOR_JIT is refused by run, bare and serve, before anything runs', () => {
  for (const command of [['run'], ['bare', 'prog.elf'], ['serve', '--state-dir', join(dir, 'state-bad')]]) {
    assertUsage([...command, '--jit', 'fast'], {}, "--jit must be one of on, off, all, got 'fast'");
    assertUsage([...command, '--jit', ''], {}, "--jit must be one of on, off, all, got ''");
    assertUsage(command, { TVISOR_JIT: 'interp' }, "TVISOR_JIT must be one of on, off, all, got 'interp'");
    // the option wins over the environment, so a bad TVISOR_JIT is not looked at
    assertUsage([...command, '--jit', 'x'], { TVISOR_JIT: 'interp' }, "--jit must be one of on, off, all, got 'x'");
  }
  const r = tvisor(['run', '--jit'], {});
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^tvisor: option '--jit' needs a value\n/);
});

test('--help of run, bare and serve documents --jit and TVISOR_JIT', () => {
  for (const command of ['run', 'bare', 'serve']) {
    const r = tvisor([command, '--help']);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /--jit on\|off\|all +translate guest code to WebAssembly/);
    assert.match(r.stdout, /all \(every block when it first runs: for testing\s+the translator\); default: \$TVISOR_JIT if set, else on/);
  }
});

test('bare --stats shows the mode the hart ran in: --jit, else TVISOR_JIT, else on', { skip: !haveGcc && `${GCC} not installed` }, () => {
  const cases: [string[], Record<string, string>, string][] = [
    [[], {}, 'on'],
    [[], { TVISOR_JIT: '' }, 'on'],
    [[], { TVISOR_JIT: 'all' }, 'all'],
    [[], { TVISOR_JIT: 'OFF' }, 'off'],
    [['--jit', 'off'], {}, 'off'],
    [['--jit', 'all'], {}, 'all'],
    [['--jit', 'on'], { TVISOR_JIT: 'all' }, 'on'],
  ];
  for (const [args, env, mode] of cases) {
    const r = tvisor(['bare', elf!, '--stats', ...args], env);
    const what = `bare ${args.join(' ')} with ${JSON.stringify(env)}`;
    assert.equal(r.status, 0, `${what}: status ${r.status}\n${r.stderr}`);
    const m = STATS.exec(r.stderr);
    assert.ok(m, `${what}: no stats line in\n${r.stderr}`);
    assert.equal(m[2], mode, what);
    assert.ok(Number(m[1]) > 2000, `${what}: the loop alone retires 2000 instructions, got ${m[1]}`);
  }
  // without --stats, nothing is added to stderr
  const quiet = tvisor(['bare', elf!, '--jit', 'all']);
  assert.equal(quiet.status, 0);
  assert.equal(quiet.stderr, '');
});

test('run --stats shows the mode every hart ran in, also when the guest crashes', () => {
  const kernel = join(dir, 'files', 'stuck.Image');
  const cases: [string[], Record<string, string>, string][] = [
    [[], {}, 'on'],
    [['--vcpus', '2'], { TVISOR_JIT: 'all' }, 'all'],
    [['--jit', 'off'], { TVISOR_JIT: 'all' }, 'off'],
  ];
  for (const [args, env, mode] of cases) {
    const r = tvisor(['run', '--kernel', kernel, '--memory', '64M', '--stats', ...args], env);
    const what = `run ${args.join(' ')} with ${JSON.stringify(env)}`;
    assert.equal(r.status, 1, `${what}: status ${r.status}\n${r.stderr}`);
    assert.match(r.stderr, /^tvisor: the guest crashed: hart 0 makes no progress/m);
    const m = STATS.exec(r.stderr);
    assert.ok(m, `${what}: no stats line in\n${r.stderr}`);
    assert.equal(m[2], mode, what);
  }
});

test('serve announces its mode (--jit, else TVISOR_JIT), and its VM and hart threads build their harts with it', { timeout: 600_000 }, async () => {
  const files = join(dir, 'files');
  const d = await startDaemon(join(dir, 'state-all'), ['--allow-dir', files], { TVISOR_JIT: 'all' });
  try {
    assert.match(d.log(), /serving the API on \S+ \(1 pCPU, JIT all,/);
    // a 2-vCPU VM: a VM thread and a hart thread, both given the mode at their start; the kernel cannot make
    // progress, so the VM ends crashed with hart 0's reason (a thread that refused its setup would end it
    // with its exit code instead)
    const created = await api(d, 'POST', '/v1/vms', { name: 'stuck', kernel: join(files, 'stuck.Image'), memory_mib: 64, vcpus: 2 });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const id = created.json.id as string;
    assert.equal((await api(d, 'POST', `/v1/vms/${id}/start`)).status, 200);
    const v = await waitFor(d, id, (x) => x.state === 'crashed', 'the stuck VM crashes');
    assert.match(String(v.reason), /makes no progress/, JSON.stringify(v));
  } finally {
    await stopDaemon(d);
  }
  const d2 = await startDaemon(join(dir, 'state-off'), ['--jit', 'off'], { TVISOR_JIT: 'all' });
  try {
    assert.match(d2.log(), /\(1 pCPU, JIT off,/);
  } finally {
    await stopDaemon(d2);
  }
  const d3 = await startDaemon(join(dir, 'state-default'), [], { TVISOR_JIT: '' }); // empty counts as unset
  try {
    assert.match(d3.log(), /\(1 pCPU, JIT on,/, 'without --jit or TVISOR_JIT');
  } finally {
    await stopDaemon(d3);
  }
});

test('npm test runs the ISA programs, the differential tests and the Debian boots again with TVISOR_JIT=all, beside the rest', () => {
  const suite = join(repoRoot, 'dist', 'tests', 'lib', 'suite.js');
  const list = (...args: string[]) => {
    const r = spawnSync(process.execPath, [suite, '--list', ...args], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };
  const second = ['isa-unpriv', 'isa-priv', 'isa-fp', 'differential', 'differential-fp', 'linux-boot', 'smp-atomics'].map((n) => `tests/${n}.test.js [jit=all]`);
  const entries = (text: string) => text.split('\n').filter((l) => /^ +\S+ s {2}/.test(l)).map((l) => l.replace(/^ +\S+ s {2}/, '').replace(/ {2}\(.*\)$/, ''));
  // the whole suite: the second runs are in the first phase (several files at a time), not among the serial files
  const [parallel, serial] = list().split(/^one at a time.*$/m);
  for (const e of second) assert.ok(entries(parallel).includes(e), `${e} in the parallel phase`);
  assert.ok(!serial.includes('[jit=all]'));
  assert.equal(entries(parallel).filter((e) => e.includes('[jit=all]')).length, second.length);
  // --jit-all (npm run test:jit): those alone; a file's name picks both of its runs; 'jit=all' the second runs
  assert.deepEqual(entries(list('--jit-all')).sort(), [...second].sort());
  assert.deepEqual(entries(list('isa-fp')).sort(), ['tests/isa-fp.test.js', 'tests/isa-fp.test.js [jit=all]']);
  assert.deepEqual(entries(list('jit=all')).sort(), [...second].sort());
  assert.deepEqual(entries(list('--unit')).filter((e) => e.includes('jit=all')), []);
});
