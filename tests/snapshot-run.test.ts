// tvisor run --save / --restore with the default Debian guest: a guest stopped by the host (SIGTERM) is saved;
// restored, its shell goes on from where it was (a file it wrote is there, its clock and console work) and it
// powers off normally; one stopped in the middle of disk writes finishes them with its ext4 file system clean.
// A file that is not a snapshot, a disk changed since, or a --restore with machine options is refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath, e2fsTool } from './lib/toolchain.js';
import { ensureDefaultGuest } from '../src/images/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tvisor-snapshot-'));
const mke2fs = e2fsTool('mke2fs');
const e2fsck = e2fsTool('e2fsck');
const noE2fs = !mke2fs || !e2fsck ? 'needs e2fsprogs (mke2fs, e2fsck): apt-get install e2fsprogs' : false;
const children = new Set<ChildProcess>();
before(async () => {
  await ensureDefaultGuest({ log: (line) => process.stderr.write(`# ${line}\n`) });
});
after(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function run(args: string[]) {
  const child = spawn(process.execPath, [cliPath, 'run', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => { children.delete(child); r(code); }));
  const waitFor = async (what: RegExp, ms = 300_000) => {
    const end = Date.now() + ms;
    while (!what.test(out)) {
      if (Date.now() > end || child.exitCode !== null) throw new Error(`no ${what} in the console:\n${out.slice(-2000)}\nstderr: ${err}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  return { child, exited, waitFor, out: () => out, err: () => err };
}

test('a guest saved on SIGTERM resumes with --restore: its shell, files and console go on, and it powers off', async () => {
  const file = join(dir, 'guest.snap');
  const a = run(['--save', file, '--memory', '128M']);
  await a.waitFor(/tvisor guest: Linux/);
  a.child.stdin!.write('echo hello-$((6*7)) > /tmp/x; cat /proc/uptime > /tmp/up; echo WROTE\n');
  await a.waitFor(/(^|\n)WROTE\r?\n/); // its output, not the echo of the command line
  a.child.kill('SIGTERM');
  assert.equal(await a.exited, 0, a.err());
  assert.match(a.err(), /tvisor: saved the VM to .*guest\.snap \(\d+ MiB\); 'tvisor run --restore .*' resumes it/);
  assert.ok(statSync(file).size < 128 << 20, 'RAM is saved sparsely');

  const b = run(['--restore', file]);
  // the uptime written before the stop and the uptime now: the guest's clock went on from where it was
  b.child.stdin!.write('cat /tmp/x; echo UP $(cut -d" " -f1 /tmp/up) $(cut -d" " -f1 /proc/uptime); poweroff\n');
  await b.waitFor(/hello-42/);
  await b.waitFor(/UP [\d.]+ [\d.]+/);
  const [, before, now] = /UP ([\d.]+) ([\d.]+)/.exec(b.out())!;
  assert.ok(Number(now) >= Number(before), `uptime ${before} then ${now}`);
  assert.equal(await b.exited, 0, b.err());
});

test('a snapshot taken while the guest writes to an ext4 disk restores with the file system intact', { skip: noE2fs }, async () => {
  const img = join(dir, 'ext4.img');
  execFileSync(mke2fs!, ['-q', '-F', '-t', 'ext4', img, '64M']);
  const file = join(dir, 'io.snap');
  const a = run(['--save', file, '--memory', '128M', '--disk', img]);
  await a.waitFor(/tvisor guest: Linux/);
  // 300 files of 16 KiB from a background job, with a progress line every 20
  a.child.stdin!.write('mkdir -p /mnt && mount -t ext4 /dev/vda /mnt && (i=0; while [ $i -lt 300 ]; do ' +
    'dd if=/dev/urandom of=/mnt/f$i bs=4k count=4 2>/dev/null; i=$((i+1)); [ $((i % 20)) -eq 0 ] && echo P$i; done; echo LOOPDONE) &\n');
  await a.waitFor(/(^|\n)P40\r?\n/); // the job is writing: stop the VM now
  a.child.kill('SIGTERM');
  assert.equal(await a.exited, 0, a.err());
  assert.doesNotMatch(a.out(), /(^|\n)LOOPDONE/, 'saved while the writes went on (the console also echoes the command)');

  const b = run(['--restore', file]);
  b.child.stdin!.write('wait; echo COUNT $(ls /mnt | grep -c "^f"); sync; umount /mnt && echo UMOUNTED; poweroff\n');
  await b.waitFor(/(^|\n)UMOUNTED\r?\n/);
  assert.match(b.out(), /(^|\n)COUNT 300\r?\n/, 'the job went on after the restore and wrote every file');
  assert.equal(await b.exited, 0, b.err());
  execFileSync(e2fsck!, ['-fn', img], { stdio: 'ignore' }); // throws unless the file system is clean
});

test('--restore refuses a snapshot whose disk was written since', async () => {
  const disk = join(dir, 'disk.img');
  writeFileSync(disk, Buffer.alloc(1 << 20));
  const file = join(dir, 'with-disk.snap');
  const a = run(['--save', file, '--memory', '128M', '--disk', disk]);
  await a.waitFor(/tvisor guest: Linux/);
  a.child.stdin!.write('echo READY\n');
  await a.waitFor(/(^|\n)READY\r?\n/);
  a.child.kill('SIGTERM');
  assert.equal(await a.exited, 0, a.err());
  const later = new Date(Date.now() + 5000);
  utimesSync(disk, later, later); // as if another VM had written it
  const r = spawnSync(process.execPath, [cliPath, 'run', '--restore', file], { encoding: 'utf8' });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /the disk vda .*disk\.img is not the file the VM was saved with: it was modified since/);
});

test('--restore refuses a file that is not a snapshot and options that describe the machine; --save a place it cannot write', () => {
  const notSnap = join(dir, 'not.snap');
  writeFileSync(notSnap, 'hello\n');
  const r = spawnSync(process.execPath, [cliPath, 'run', '--restore', notSnap], { encoding: 'utf8' });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /--restore .*not\.snap: not a usable snapshot: it does not start as a tvisor snapshot does/);
  const both = spawnSync(process.execPath, [cliPath, 'run', '--restore', notSnap, '--memory', '64M', '--rng'], { encoding: 'utf8' });
  assert.equal(both.status, 2);
  assert.match(both.stderr, /--restore takes the machine from the snapshot: drop --memory, --rng/);
  const nowhere = spawnSync(process.execPath, [cliPath, 'run', '--save', join(dir, 'missing', 'x.snap')], { encoding: 'utf8' });
  assert.equal(nowhere.status, 2, 'refused before the guest runs, not when it is to be saved');
  assert.match(nowhere.stderr, /--save .*x\.snap: cannot write there/);
});
