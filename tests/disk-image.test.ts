// Integration test for `tvisor image build` and the initramfs's root= switch: builds a root disk with the CLI
// and boots it with `tvisor run --disk … root=/dev/vda`, checking that init moves to the disk, that writes
// persist and the file system is left clean; then the same with Debian packages (needs the mirror).
// Skips, with the reason, without mke2fs.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { appendAutorun, AUTORUN_EXIT_PREFIX, ensureDefaultGuest, type GuestImage } from '../src/images/index.js';
import { hostDebianMirror } from '../src/images/node/host.js';
import { fetchBytes } from '../src/images/node/http.js';
import { cliPath, e2fsTool, tempDir } from './lib/toolchain.js';


const skip = !e2fsTool('mke2fs') ? 'mke2fs is not installed (apt-get install e2fsprogs)' : false;

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      const status = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ status, stdout, stderr });
    });
  });
}

async function mirrorProblem(): Promise<string | undefined> {
  const mirror = hostDebianMirror();
  if (!mirror) return 'no Debian mirror in the APT sources';
  try {
    await fetchBytes(`${mirror}/dists/trixie/Release.gpg`, { stallMs: 15_000 });
    return undefined;
  } catch (e) {
    return `the Debian mirror is unreachable (${e instanceof Error ? e.message : String(e)})`;
  }
}

describe('tvisor image build: booting the root disk', { skip }, () => {
  let guest: GuestImage;
  let dir = '';

  before(async () => {
    guest = await ensureDefaultGuest({ log: (line) => process.stderr.write(`# ${line}\n`) });
    dir = tempDir('tvisor-disk-boot-');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Boots the default guest with `disk` attached and the script handed to it through the initramfs. */
  async function boot(disk: string, script: string, append: string): Promise<string> {
    const r = await bootRun(disk, script, append);
    return r.stdout + r.stderr;
  }

  function bootRun(disk: string, script: string, append: string, timeoutMs = 240_000) {
    const initrd = join(dir, 'initrd.cpio');
    writeFileSync(initrd, appendAutorun(readFileSync(guest.initrd), script));
    return run(process.execPath, [
      cliPath, 'run', '--kernel', guest.kernel, '--initrd', initrd, '--append', `quiet ${append}`, '--disk', disk,
    ], timeoutMs);
  }

  const debugfs = (image: string, request: string): string =>
    spawnSync(e2fsTool('debugfs')!, ['-R', request, image], { encoding: 'utf8' }).stdout;

  it('builds a disk with the CLI, boots from it with root=/dev/vda and keeps what the guest writes', async () => {
    const disk = join(dir, 'root.img');
    const built = await run(process.execPath, [cliPath, 'image', 'build', '--disk', '64M', '--output', disk], 10 * 60_000);
    assert.equal(built.status, 0, built.stderr);
    assert.match(built.stdout, new RegExp(`^disk +${disk.replace(/[.+]/g, '\\$&')}$`, 'm'));
    assert.match(built.stdout, /^size +64\.0 MiB \(files [\d.]+ MiB\), ext4 labelled tvisor-root$/m);
    assert.match(built.stdout, /^boot with +tvisor run --disk .* --append root=\/dev\/vda$/m);

    const script = [
      'echo "cmdline: $(cat /proc/cmdline)"',
      'echo "root: $(grep " / " /proc/mounts)"',
      'echo "init: $(cat /proc/1/cmdline | tr "\\0" " ")"',
      'echo "inittab: $(grep "^::once" /etc/inittab)"',
      'echo "mounted: $(cut -d" " -f2 /proc/mounts | sort | tr "\\n" " ")"',
      'echo "host: $(hostname)"',
      'echo written-by-guest > /root/persist.txt',
      'ls /bin/ls >/dev/null && echo applets-ok',
      '',
    ].join('\n');
    const out = await boot(disk, script, 'root=/dev/vda');
    assert.match(out, /^root: \/dev\/vda \/ ext4 rw/m, out);
    // --append adds to the default command line (with --kernel: console=ttyS0)
    assert.match(out, /^cmdline: console=ttyS0 quiet root=\/dev\/vda\r?$/m, out);
    // the disk's /sbin/init ran (it wrote the disk's inittab) and handed PID 1 to busybox init
    assert.match(out, /^init: \/bin\/busybox init/m, out);
    assert.match(out, /^inittab: ::once:\/sbin\/init session/m, out);
    for (const fs of ['/dev', '/dev/pts', '/proc', '/run', '/sys', '/tmp']) assert.match(out, new RegExp(`^mounted: .*${fs} `, 'm'));
    assert.match(out, /^host: tvisor\r?$/m);
    assert.match(out, /^applets-ok\r?$/m);
    assert.match(out, new RegExp(`${AUTORUN_EXIT_PREFIX}0`));
    assert.doesNotMatch(out, /cannot load|cannot remount|staying in the initramfs/);
    assert.equal(debugfs(disk, 'cat /root/persist.txt'), 'written-by-guest\n');
    // The disk's init remounts / read-only before powering off: nothing for e2fsck to fix or replay.
    const fsck = spawnSync(e2fsTool('e2fsck')!, ['-fn', disk], { encoding: 'utf8' });
    assert.equal(fsck.status, 0, fsck.stdout + fsck.stderr);
    assert.doesNotMatch(fsck.stderr, /journal recovery/);

    // root=LABEL= finds the same disk; a missing device falls back to the initramfs shell after ~5 s.
    assert.match(await boot(disk, script, 'root=LABEL=tvisor-root'), /^root: \/dev\/vda \/ ext4 rw/m);
    const missing = await boot(disk, script, 'root=/dev/vdb');
    assert.match(missing, /init: the root device \/dev\/vdb did not appear within 5 s/);
    assert.match(missing, /^root: rootfs \/ rootfs/m);
    assert.match(missing, new RegExp(`${AUTORUN_EXIT_PREFIX}0`));

    // reboot and poweroff (busybox's, which signal init) in the disk's guest: the first boot reboots, the
    // second powers off; the script then waits, so only init ends it (its "exit" line never comes)
    const cycle = [
      'if [ -f /root/rebooted ]; then rm /root/rebooted; echo second-boot; poweroff',
      'else touch /root/rebooted; echo first-boot; reboot; fi',
      'sleep 600',
      '',
    ].join('\n');
    const r = await bootRun(disk, cycle, 'root=/dev/vda', 480_000);
    const cycled = r.stdout + r.stderr;
    assert.equal(r.status, 0, cycled.slice(-3000));
    assert.match(cycled, /first-boot[^]*Requesting system reboot[^]*second-boot[^]*Requesting system poweroff/, cycled.slice(-3000));
    assert.doesNotMatch(cycled, new RegExp(AUTORUN_EXIT_PREFIX));
    assert.doesNotMatch(cycled, /cannot remount/);
    const clean = spawnSync(e2fsTool('e2fsck')!, ['-fn', disk], { encoding: 'utf8' });
    assert.equal(clean.status, 0, clean.stdout + clean.stderr);
    assert.doesNotMatch(clean.stderr, /journal recovery/);
  });

  it('adds Debian packages with their dependencies (--packages hello)', async (t) => {
    const problem = await mirrorProblem();
    if (problem) {
      t.skip(problem);
      return;
    }
    const disk = join(dir, 'hello.img');
    const built = await run(process.execPath, [cliPath, 'image', 'build', '--disk', '64M', '--output', disk, '--packages', 'hello'], 10 * 60_000);
    assert.equal(built.status, 0, built.stderr);
    assert.match(built.stdout, /^packages +hello [^,]+, libc6 /m);
    const out = await boot(disk, 'hello\n', 'root=/dev/vda');
    assert.match(out, /^Hello, world!\r?$/m, out);
    assert.match(out, new RegExp(`${AUTORUN_EXIT_PREFIX}0`));
  });
});
