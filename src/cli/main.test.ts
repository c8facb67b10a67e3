// Tests for the tvisor command line that stop before a guest runs: help and version, usage errors, and bad
// input files, each of which must give one `tvisor: ` line (plus a usage hint for usage errors) and status 2.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { didYouMean, editDistance, parseCommandLine, parseCount, parseSeconds, parseSize, UsageError } from './args.js';
import { buildElf, cliPath, GCC, hasTool, repoRoot, tempDir } from '../../tests/lib/toolchain.js';
import { startDaemon, stopDaemon, type Daemon } from '../../tests/lib/daemon.js';

function tvisor(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Asserts status 2 with exactly one `tvisor: …` line on stderr matching `pattern`, and no stack trace. */
function assertBadInput(args: string[], pattern: RegExp): void {
  const r = tvisor(...args);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(r.status, 2, `tvisor ${args.join(' ')}: status ${r.status}, stderr ${r.stderr}`);
  assert.equal(lines.length, 1, `tvisor ${args.join(' ')}: expected one line, got:\n${r.stderr}`);
  assert.match(lines[0], /^tvisor: /);
  assert.match(lines[0], pattern);
  assert.equal(r.stdout, '');
}

/** Asserts status 2 with an error line and a pointer to the right --help. */
function assertUsageError(args: string[], message: string, helpCommand: string): void {
  const r = tvisor(...args);
  assert.equal(r.status, 2, `tvisor ${args.join(' ')}: status ${r.status}, stderr ${r.stderr}`);
  assert.equal(r.stderr, `tvisor: ${message}\nRun '${helpCommand}' for usage.\n`);
  assert.equal(r.stdout, '');
}

describe('tvisor command line', () => {
  it('prints its version from package.json', () => {
    const { version } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = tvisor(flag);
      assert.equal(r.status, 0);
      assert.equal(r.stdout, `tvisor ${version}\n`);
    }
  });

  it('starts with a node shebang so it works as an npm bin', () => {
    assert.equal(readFileSync(cliPath, 'utf8').split('\n')[0], '#!/usr/bin/env node');
  });

  it('has help for the program and for each command', () => {
    const top = tvisor('--help');
    assert.equal(top.status, 0);
    assert.match(top.stdout, /^Usage: tvisor <command>/);
    assert.match(top.stdout, /\n {2}bare +Run a bare-metal/);
    assert.deepEqual(tvisor('-h').stdout, top.stdout);
    assert.deepEqual(tvisor('help').stdout, top.stdout);

    const bare = tvisor('bare', '--help');
    assert.equal(bare.status, 0);
    assert.match(bare.stdout, /^Usage: tvisor bare FILE/);
    for (const option of ['--timeout SECONDS', '--max-instructions N', '--ram SIZE']) assert.ok(bare.stdout.includes(option), option);
    assert.match(bare.stdout, /Exit status:/);
    assert.equal(tvisor('help', 'bare').stdout, bare.stdout);
    assert.equal(tvisor('bare', 'whatever.elf', '-h').stdout, bare.stdout);
  });

  it('help: for help itself, for a command, and for a part of a command', () => {
    for (const args of [['help', '--help'], ['help', '-h'], ['help', 'help']]) {
      const r = tvisor(...args);
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stdout, /^Usage: tvisor help \[COMMAND/);
    }
    const image = tvisor('image', '--help').stdout;
    assert.equal(tvisor('help', 'image', 'pull').stdout, image);
    assert.equal(tvisor('help', 'run').stdout, tvisor('run', '--help').stdout);
  });

  it('suggests the option or command meant when one is mistyped', () => {
    assertUsageError(['strat'], "unknown command 'strat' (did you mean 'start'?)", 'tvisor --help');
    assertUsageError(['imgae', 'ls'], "unknown command 'imgae' (did you mean 'image'?)", 'tvisor --help');
    assertUsageError(['--vresion'], "unknown option '--vresion' (did you mean '--version'?)", 'tvisor --help');
    assertUsageError(['help', 'sreve'], "no help for 'sreve': no such command (did you mean 'serve'?)", 'tvisor --help');
    assertUsageError(['run', '--memroy', '1G'], "unknown option '--memroy' (did you mean '--memory'?)", 'tvisor run --help');
    assertUsageError(['run', '--apend', 'x'], "unknown option '--apend' (did you mean '--append'?)", 'tvisor run --help');
    assertUsageError(['create', '--vcpu', '2'], "unknown option '--vcpu' (did you mean '--vcpus'?)", 'tvisor create --help');
    assertUsageError(['rm', '--froce', 'x'], "unknown option '--froce' (did you mean '--force'?)", 'tvisor rm --help');
    assertUsageError(['serve', '--stat-dir', 'x'], "unknown option '--stat-dir' (did you mean '--state-dir'?)", 'tvisor serve --help');
    // nothing close: no guess
    assertUsageError(['run', '--frobnicate'], "unknown option '--frobnicate'", 'tvisor run --help');
  });

  it('run and create name things alike: --vcpus (or --cpus), --memory, --append adds, --cmdline replaces', () => {
    for (const command of ['run', 'create']) {
      const help = tvisor(command, '--help').stdout;
      for (const option of ['--vcpus N', '--memory SIZE', '--append ARGS', '--cmdline CMDLINE', '--cpus is the same']) {
        assert.ok(help.includes(option), `${command} --help mentions ${option}`);
      }
      assert.match(help, /default 256M/, `${command}: one default memory size`);
      // every spelling is taken by the parser (the command stops at --help before doing anything)
      const r = tvisor(command, '--cpus', '2', '--vcpus', '2', '--append', 'a=1', '--cmdline', 'console=ttyS0', '--memory', '128M', '--help');
      assert.equal(r.status, 0, r.stderr);
    }
    assertUsageError(['run', '--cpus', '9'], "--vcpus must be a whole number from 1 to 8, got '9'", 'tvisor run --help');
    assertUsageError(['create', '--cpus', '9'], "--vcpus must be a whole number from 1 to 8, got '9'", 'tvisor create --help');
  });

  it('prints the usage on stderr and fails when run without arguments', () => {
    const r = tvisor();
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^Usage: tvisor <command>/);
  });

  it('rejects unknown commands and options with one line and a usage hint', () => {
    assertUsageError(['frobnicate'], "unknown command 'frobnicate'", 'tvisor --help');
    assertUsageError(['constructor'], "unknown command 'constructor'", 'tvisor --help');
    assertUsageError(['--frob'], "unknown option '--frob'", 'tvisor --help');
    assertUsageError(['help', 'frobnicate'], "no help for 'frobnicate': no such command", 'tvisor --help');
    assertUsageError(['bare', '--frob', 'x.elf'], "unknown option '--frob'", 'tvisor bare --help');
    assertUsageError(['bare', '-x', 'x.elf'], "unknown option '-x'", 'tvisor bare --help');
    assertUsageError(['bare'], 'bare needs a FILE to run', 'tvisor bare --help');
    assertUsageError(['bare', 'a.elf', 'b.elf'], "unexpected argument 'b.elf'", 'tvisor bare --help');
    assertUsageError(['bare', 'a.elf', '--timeout'], "option '--timeout' needs a value", 'tvisor bare --help');
    assertUsageError(['bare', 'a.elf', '--help=yes'], "option '--help' takes no value", 'tvisor bare --help');
  });

  it('rejects bad option values before touching the file', () => {
    const hint = 'tvisor bare --help';
    assertUsageError(['bare', 'a.elf', '--timeout', '0'], "invalid --timeout value '0' (expected a positive number of seconds)", hint);
    assertUsageError(['bare', 'a.elf', '--timeout=-3'], "invalid --timeout value '-3' (expected a positive number of seconds)", hint);
    assertUsageError(['bare', 'a.elf', '--max-instructions', '1.5'], "invalid --max-instructions value '1.5' (expected a positive whole number)", hint);
    assertUsageError(['bare', 'a.elf', '--ram', '12Q'], "invalid --ram value '12Q' (expected a size such as 64M or 1G)", hint);
    assertUsageError(['bare', 'a.elf', '--ram', '3G'], '--ram 3G: the size must be a multiple of 4K between 4K and 2G', hint);
    assertUsageError(['bare', 'a.elf', '--ram', '1001K'], '--ram 1001K: the size must be a multiple of 4K between 4K and 2G', hint);
  });

  it('image build: rejects bad options before looking at the cache', () => {
    const hint = 'tvisor image --help';
    assertUsageError(['image', 'build'], 'image build needs --disk SIZE (e.g. --disk 256M)', hint);
    assertUsageError(['image', 'build', '--disk', '12Q'], "invalid --disk value '12Q' (expected a size such as 64M or 1G)", hint);
    assertUsageError(['image', 'build', '--disk', '512K'], "--disk 512K is too small (at least 1M; the default guest's files need about 16M)", hint);
    assertUsageError(['image', 'build', '--disk', '64M', '--packages', 'Bad_Name'], "invalid package name 'Bad_Name' in --packages", hint);
    assertUsageError(['image', 'build', '--disk', '64M', '--packages', ','], '--packages needs package names, e.g. --packages bash,strace', hint);
    assertUsageError(['image', 'build', '--disk', '64M', '--output='], '--output needs a file name', hint);
    assertUsageError(['image', 'build', '--disk', '64M', '--frob'], "unknown option '--frob'", hint);
    assertUsageError(['image', 'pull', '--force'], "option '--force' does not apply to 'image pull'", hint);
    assertUsageError(['image', 'ls', '--disk', '64M'], "option '--disk' does not apply to 'image ls'", hint);
    assertUsageError(['image', 'make'], "unknown image subcommand 'make' (expected 'pull', 'ls', 'build', 'rm' or 'resize')", hint);
    const help = tvisor('image', '--help');
    assert.equal(help.status, 0);
    for (const option of ['--disk SIZE', '--output PATH', '--packages A,B', '--force']) assert.ok(help.stdout.includes(option), option);
    assert.match(help.stdout, /no maintainer scripts run/);
  });

  describe('bad input files', () => {
    let dir = '';
    before(() => {
      dir = tempDir('tvisor-cli-');
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('missing, a directory, a device, empty, unreadable', () => {
      assertBadInput(['bare', join(dir, 'nope.elf')], /nope\.elf: no such file$/);
      assertBadInput(['bare', dir], /: is a directory, not an ELF file$/);
      assertBadInput(['bare', '/dev/null'], /\/dev\/null: not a regular file$/);
      const empty = join(dir, 'empty.elf');
      writeFileSync(empty, '');
      assertBadInput(['bare', empty], /empty\.elf: is empty \(0 bytes\), not an ELF file$/);
      if (process.getuid?.() !== 0) {
        // root reads anything, so the permission check only means something for other users
        const secret = join(dir, 'secret.elf');
        writeFileSync(secret, 'x');
        chmodSync(secret, 0);
        assertBadInput(['bare', secret], /secret\.elf: permission denied$/);
      }
    });

    it('not RISC-V ELF64 executables', () => {
      const text = join(dir, 'script.sh');
      writeFileSync(text, '#!/bin/sh\necho hi\n');
      assertBadInput(['bare', text], /script\.sh: not an ELF file \(bad magic number\)$/);
      assertBadInput(['bare', '/bin/true'], /\/bin\/true: is an ELF for .*, not RISC-V; tvisor runs RV64 programs$/);
    });

    it('a 32-bit RISC-V ELF, a truncated one, and one without tohost', { skip: !hasTool(GCC) && `${GCC} missing` }, () => {
      const src = join(dir, 'prog.S');
      writeFileSync(src, '.globl _start\n_start: j _start\n');
      const rv32 = buildElf([src], join(dir, 'rv32.elf'), { march: 'rv32i', args: ['-mabi=ilp32'] });
      assertBadInput(['bare', rv32], /rv32\.elf: is a 32-bit ELF; tvisor runs RV64 programs$/);

      const lowElf = buildElf([src], join(dir, 'low.elf'), { march: 'rv64imac' }); // ld's default: 0x10000
      assertBadInput(['bare', lowElf], /low\.elf: .*outside guest RAM/);
      const truncated = join(dir, 'truncated.elf');
      writeFileSync(truncated, readFileSync(lowElf).subarray(0, 100));
      assertBadInput(['bare', truncated], /truncated\.elf: truncated ELF: program header table/);

      const ld = join(dir, 'ram.ld');
      writeFileSync(ld, 'ENTRY(_start) SECTIONS { . = 0x80000000; .text : { *(.text*) } }\n');
      const noTohost = buildElf([src], join(dir, 'notohost.elf'), { march: 'rv64imac', args: ['-T', ld] });
      assertBadInput(['bare', noTohost], /notohost\.elf: .*tohost/);
    });
  });
});

describe('tvisor serve without guests', () => {
  let dir = '';
  let d: Daemon | undefined;
  before(() => {
    dir = tempDir('tvisor-serve-cli-');
  });
  after(async () => {
    if (d) await stopDaemon(d);
    rmSync(dir, { recursive: true, force: true });
  });

  it('logs one line per request (method, path, status, time) and never the token; --quiet turns it off', async () => {
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, 'sekrit-token-1234\n', { mode: 0o600 });
    d = await startDaemon(join(dir, 'state'), ['--token-file', tokenFile]);
    const auth = { authorization: 'Bearer sekrit-token-1234' };
    assert.equal((await fetch(`${d.url}/v1/vms`, { headers: auth })).status, 200);
    // a query string is refused (400) and not logged, whatever it holds
    assert.equal((await fetch(`${d.url}/v1/vms?token=sekrit-token-1234`, { headers: auth })).status, 400);
    assert.equal((await fetch(`${d.url}/v1/vms/nosuch`, { headers: auth })).status, 404);
    assert.equal((await fetch(`${d.url}/v1/vms`)).status, 401);
    const deadline = Date.now() + 20_000;
    while (!/GET \/v1\/vms 401/.test(d.log()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const lines = d.log().split('\n').filter((l) => /^tvisor: [A-Z]+ \//.test(l));
    assert.equal(lines.length, 4, d.log());
    assert.match(lines[0], /^tvisor: GET \/v1\/vms 200 \d+\.\d ms$/);
    assert.match(lines[1], /^tvisor: GET \/v1\/vms 400 \d+\.\d ms$/);
    assert.match(lines[2], /^tvisor: GET \/v1\/vms\/nosuch 404 \d+\.\d ms$/);
    assert.match(lines[3], /^tvisor: GET \/v1\/vms 401 \d+\.\d ms$/);
    assert.ok(!d.log().includes('sekrit'), `the token is never logged:\n${d.log()}`);
    await stopDaemon(d);

    d = await startDaemon(join(dir, 'state'), ['--quiet']);
    assert.equal((await fetch(`${d.url}/v1/vms`)).status, 200);
    assert.equal((await fetch(`${d.url}/v1/vms/nosuch`)).status, 404);
    assert.ok(!/tvisor: GET \//.test(d.log()), d.log());
    assert.match(tvisor('serve', '--help').stdout, /-q, --quiet +no request log/);
  });

  it('a second daemon on the same state directory is told to use --state-dir, on the same address --listen', async () => {
    d ??= await startDaemon(join(dir, 'state'), ['--quiet']);
    if (d.child.exitCode !== null) d = await startDaemon(join(dir, 'state'), ['--quiet']);
    const r = tvisor('serve', '--listen', '127.0.0.1:0', '--state-dir', join(dir, 'state'));
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /^tvisor: state directory .*state: in use by another tvisor daemon \(pid \d+\).*\(--state-dir DIR picks another\)\n$/);
    // with its own state directory, the same address is refused with a pointer to --listen
    const address = d.url.replace(/^http:\/\//, '');
    const busy = tvisor('serve', '--listen', address, '--state-dir', join(dir, 'state2'), '--quiet');
    assert.equal(busy.status, 2, busy.stderr);
    assert.equal(busy.stderr, `tvisor: cannot listen on ${address}: the address is in use (another tvisor serve? --listen HOST:PORT picks another)\n`);
  });
});

describe('option parsing', () => {
  it('aliases store their value under the canonical name; did-you-mean is by edit distance', () => {
    const options = { vcpus: { type: 'string' }, cpus: { type: 'string', aliasOf: 'vcpus' }, memory: { type: 'string' } } as const;
    assert.deepEqual(parseCommandLine(['--cpus', '2'], options, 'run').values, { vcpus: '2' });
    assert.deepEqual(parseCommandLine(['--cpus=2', '--vcpus', '3'], options, 'run').values, { vcpus: '3' });
    assert.equal(editDistance('strat', 'start'), 1);
    assert.equal(editDistance('memroy', 'memory'), 1);
    assert.equal(editDistance('', 'abc'), 3);
    assert.equal(editDistance('kitten', 'sitting'), 3);
    assert.equal(didYouMean('--mem', ['--memory', '--vcpus']), " (did you mean '--memory'?)");
    assert.equal(didYouMean('--xyz', ['--memory', '--vcpus']), '');
    assert.equal(didYouMean('-x', ['-h']), '');
  });
});

describe('option value parsers', () => {
  const parses = (f: () => number, expected: number): void => assert.equal(f(), expected);
  const rejects = (f: () => number): void => assert.throws(f, UsageError);

  it('parseSize: binary units, plain numbers are MiB', () => {
    parses(() => parseSize('64M', '--ram', 'bare'), 64 * 2 ** 20);
    parses(() => parseSize('64MiB', '--ram', 'bare'), 64 * 2 ** 20);
    parses(() => parseSize('1g', '--ram', 'bare'), 2 ** 30);
    parses(() => parseSize('512K', '--ram', 'bare'), 512 * 1024);
    parses(() => parseSize('256', '--ram', 'bare'), 256 * 2 ** 20);
    for (const bad of ['', 'M', '1.5G', '-1M', '12Q', '1 T']) rejects(() => parseSize(bad, '--ram', 'bare'));
  });

  it('parseSeconds: positive seconds, returned in milliseconds', () => {
    parses(() => parseSeconds('5', '--timeout', 'bare'), 5000);
    parses(() => parseSeconds('0.25', '--timeout', 'bare'), 250);
    parses(() => parseSeconds('2s', '--timeout', 'bare'), 2000);
    for (const bad of ['0', '-1', 'abc', '', 'Infinity', '1e3']) rejects(() => parseSeconds(bad, '--timeout', 'bare'));
  });

  it('parseCount: positive whole numbers', () => {
    parses(() => parseCount('1000', '-n', 'bare'), 1000);
    parses(() => parseCount('1_000_000', '-n', 'bare'), 1_000_000);
    parses(() => parseCount('2e9', '-n', 'bare'), 2e9);
    for (const bad of ['0', '-5', '1.5', 'x', '', '1e100', '0x10']) rejects(() => parseCount(bad, '-n', 'bare'));
  });
});
