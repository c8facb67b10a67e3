// xv6-riscv under tvisor as QEMU runs it (issue 18): `tvisor run --firmware none --kernel kernel/kernel` (QEMU's
// -bios none: every hart starts the kernel in M-mode), its virtio disk (QEMU's vendor id, only the low 32
// feature bits negotiated), its UART (THR-empty never acknowledged through IIR), and usertests -q passing on
// 1 and on 3 harts; at a terminal, Ctrl-A x quits it; the daemon runs it too. xv6 is built at test time
// (tests/lib/xv6.ts).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath } from './lib/toolchain.js';
import { killOnExit } from './lib/children.js';
import { buildXv6, type Xv6Build } from './lib/xv6.js';
import { api, collectConsole, startDaemon, stopDaemon } from './lib/daemon.js';

/** usertests -q took 3 minutes on 1 hart and 11 on 3 (one host thread) on a loaded 2-core machine: deadlines well past that. */
const USERTESTS_MS = 60 * 60_000;
const BOOT_MS = 120_000;

let xv6: Xv6Build | { skip: string };
before(() => {
  xv6 = buildXv6((line) => process.stderr.write(`# ${line}\n`));
  if ('skip' in xv6) process.stderr.write(`# xv6 tests skipped: ${xv6.skip}\n`);
  else process.stderr.write(`# xv6 from ${xv6.source}\n`);
});
after(() => {
  if (xv6 && !('skip' in xv6)) rmSync(xv6.dir, { recursive: true, force: true });
});

/** A console whose output is collected; waitFor polls for a pattern until a deadline (no fixed sleeps). */
class Console {
  out = '';
  ended = false;
  constructor(readonly child: ChildProcess) {
    killOnExit(child);
    child.stdout!.on('data', (d: Buffer) => (this.out += d.toString('latin1')));
    child.stderr!.on('data', (d: Buffer) => (this.out += d.toString('latin1')));
    child.on('close', () => (this.ended = true));
  }

  async waitFor(re: RegExp, ms: number, what: string, fail?: RegExp): Promise<void> {
    const end = Date.now() + ms;
    for (;;) {
      if (re.test(this.out)) return;
      const bad = fail?.exec(this.out);
      if (bad) assert.fail(`${what}: '${bad[0]}' on the console:\n${this.out.slice(-4000)}`);
      if (this.ended || Date.now() > end) assert.fail(`${what}: no ${re} ${this.ended ? 'before tvisor ended' : `within ${ms / 1000} s`}:\n${this.out.slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** tvisor run with xv6's kernel in M-mode and a copy of its file system (usertests writes to it). */
function runXv6(build: Xv6Build, harts: number): Console {
  const disk = join(build.dir, `fs-${harts}.img`);
  copyFileSync(build.fsImage, disk);
  return new Console(spawn(process.execPath, [
    cliPath, 'run', '--firmware', 'none', '--kernel', build.kernel, '--memory', '128M', '--vcpus', String(harts), '--disk', disk,
  ], { stdio: ['pipe', 'pipe', 'pipe'] }));
}

test('xv6 boots to its shell and passes usertests -q, on 1 and on 3 harts', async (t) => {
  if ('skip' in xv6) return t.skip(xv6.skip);
  const build = xv6;
  // both at once: each VM runs in one host thread (M-mode harts share it), so the two use both cores
  await Promise.all([1, 3].map(async (harts) => {
    const vm = runXv6(build, harts);
    try {
      const started = Date.now();
      await vm.waitFor(/init: starting sh\n\$ /, BOOT_MS, `${harts} hart(s): the shell`, /panic/);
      for (let h = 1; h < harts; h++) assert.match(vm.out, new RegExp(`hart ${h} starting`));
      vm.child.stdin!.write('usertests -q\n');
      await vm.waitFor(/ALL TESTS PASSED/, USERTESTS_MS, `${harts} hart(s): usertests -q`, /SOME TESTS FAILED|panic: .*|FAILED/);
      t.diagnostic(`${harts} hart(s): shell and usertests -q in ${Math.round((Date.now() - started) / 1000)} s`);
    } finally {
      vm.child.kill('SIGKILL');
    }
  }));
});

/** util-linux script(1) gives the command a pseudo-terminal; -e returns the command's status. */
const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

test('at a terminal, Ctrl-A x (lower case, as QEMU takes it) quits a running xv6 with status 0', { skip: !hasScript && 'script(1) from util-linux is not installed' }, async (t) => {
  if ('skip' in xv6) return t.skip(xv6.skip);
  const disk = join(xv6.dir, 'fs-tty.img');
  copyFileSync(xv6.fsImage, disk);
  const command = `exec '${process.execPath}' '${cliPath}' run --firmware none --kernel '${xv6.kernel}' --memory 128M --vcpus 2 --disk '${disk}'`;
  const vm = new Console(spawn('script', ['-qfec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] }));
  const status = new Promise<number | null>((r) => vm.child.on('close', r));
  try {
    await vm.waitFor(/\$ /, BOOT_MS, 'the shell', /panic/);
    vm.child.stdin!.write('echo typed\r'); // xv6 takes a carriage return as the end of a line
    await vm.waitFor(/typed\r?\n.*\$ /s, BOOT_MS, 'the command\'s output');
    vm.child.stdin!.write('\x01x');
    assert.equal(await status, 0, vm.out.slice(-3000));
    assert.match(vm.out, /tvisor: stopped \(Ctrl-A X\)/);
  } finally {
    vm.child.kill('SIGKILL');
  }
});

test('the daemon runs it too: tvisor create --firmware none, started, to the shell', async (t) => {
  if ('skip' in xv6) return t.skip(xv6.skip);
  const disk = join(xv6.dir, 'fs-daemon.img');
  copyFileSync(xv6.fsImage, disk);
  const d = await startDaemon(join(xv6.dir, 'state'), ['--pcpus', '1', '--allow-dir', xv6.dir]);
  try {
    const created = spawnSync(process.execPath, [
      cliPath, 'create', 'xv6', '--api', d.url, '--kernel', xv6.kernel, '--firmware', 'none', '--memory', '128M', '--vcpus', '2', '--disk', disk,
    ], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(created.status, 0, created.stderr);
    const id = created.stdout.trim();
    assert.equal((await api(d, 'GET', `/v1/vms/${id}`)).json.config.firmware, 'none');
    const con = await collectConsole(d, id);
    assert.equal((await api(d, 'POST', `/v1/vms/${id}/start`)).status, 200);
    await con.waitFor(/hart 1 starting[\s\S]*init: starting sh/, BOOT_MS);
    con.close();
  } finally {
    await stopDaemon(d);
  }
});
