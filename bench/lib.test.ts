// Tests of the benchmarks' shared options: the JIT mode list, and --help / bad usage of the real bench scripts
// (these exit before building, booting or timing anything).
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { jitEnv, parseJitList, timesQemu } from './lib.js';

const here = dirname(fileURLToPath(import.meta.url));
const SCRIPTS = ['interp.js', 'boot.js', 'guest.js'];

function bench(script: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(here, script), ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('parseJitList keeps the order, drops duplicates and rejects unknown modes', () => {
  assert.deepEqual(parseJitList('off,on'), ['off', 'on']);
  assert.deepEqual(parseJitList(' ON , all,on'), ['on', 'all']);
  assert.throws(() => parseJitList('fast'), /--jit must be one of on, off, all, got 'fast'/);
  assert.throws(() => parseJitList(','), /--jit needs at least one of/);
});

test('jitEnv sets TVISOR_JIT for a tvisor child and keeps the rest of the environment', () => {
  const env = jitEnv('off');
  assert.equal(env.TVISOR_JIT, 'off');
  assert.equal(env.PATH, process.env.PATH);
});

test('timesQemu gives the ratio to QEMU, or nothing without a QEMU figure', () => {
  assert.equal(timesQemu(43.1, 2.6), '16.6x');
  assert.equal(timesQemu(1, undefined), '');
});

for (const script of SCRIPTS) {
  test(`${script} --help describes --jit, --no-qemu and --runs and exits 0`, () => {
    const r = bench(script, ['--help']);
    assert.equal(r.status, 0, r.stderr);
    for (const word of ['Usage: npm run bench', '--jit MODES', '--no-qemu', '--runs N']) assert.match(r.stdout, new RegExp(word));
  });

  test(`${script} refuses bad options with status 2 and a pointer to --help`, () => {
    for (const [args, message] of [
      [['--jit', 'fast'], /bench: --jit must be one of on, off, all, got 'fast'/],
      [['--runs', '0'], /bench: --runs must be a whole number from 1 to 100, got '0'/],
      [['--bogus'], /bench: Unknown option '--bogus'/],
      [['extra'], /bench: .*extra/],
    ] as const) {
      const r = bench(script, [...args]);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, message);
      assert.match(r.stderr, /see npm run bench(:\w+)? -- --help/);
    }
  });
}
