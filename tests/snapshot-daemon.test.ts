// Snapshots of the daemon's VMs, end to end with the default Debian guest (issue 15): a guest counting in a loop
// onto an ext4 disk (an overlay) is saved while it runs on; two VMs restored from the file go on counting from
// where it was, each on an overlay of its own made from the copy saved with the snapshot (which stays as it
// was: a third restore after the clones wrote still works); a VM defined from a snapshot keeps that across a
// daemon restart; `after: stopped` saves and stops. Bad requests get one clear error each and change nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { e2fsTool } from './lib/toolchain.js';
import { api, collectConsole, startDaemon, stopDaemon, typeLine, waitFor, type Daemon } from './lib/daemon.js';
import { ensureDefaultGuest, type GuestImage } from '../src/images/index.js';

const mke2fs = e2fsTool('mke2fs');
let guest: GuestImage;
let dir: string;
const daemons: Daemon[] = [];

before(async () => {
  guest = await ensureDefaultGuest({ log: (line) => process.stderr.write(`# ${line}\n`) });
  dir = mkdtempSync(join(tmpdir(), 'tvisor-snapd-'));
});
after(async () => {
  for (const d of daemons) await stopDaemon(d);
  rmSync(dir, { recursive: true, force: true });
});

async function daemon(state: string): Promise<Daemon> {
  const d = await startDaemon(join(dir, state), ['--allow-dir', dir, '--allow-dir', guest.dir]);
  daemons.push(d);
  return d;
}

/** The numbers of the C<n> lines the counting loop printed, in order. */
const counts = (text: string) => [...text.matchAll(/(?:^|\n)C(\d+)(?=\r?\n)/g)].map((m) => Number(m[1]));

test('a running VM saved to a snapshot goes on; two clones restored from it go on counting where it was, each on its own disk', { skip: !mke2fs && 'needs mke2fs (apt-get install e2fsprogs)' }, async () => {
  const img = join(dir, 'base.img');
  execFileSync(mke2fs!, ['-q', '-F', '-t', 'ext4', img, '64M']);
  const d = await daemon('state');
  const vm = (await api(d, 'POST', '/v1/vms', {
    name: 'web', kernel: guest.kernel, initrd: guest.initrd, disks: [{ path: img, overlay: join(dir, 'web.overlay') }],
  })).json;
  const con = await collectConsole(d, vm.id);
  await api(d, 'POST', `/v1/vms/${vm.id}/start`);
  await con.waitFor(/tvisor guest: Linux/);
  await typeLine(d, vm.id, 'mkdir -p /mnt && mount /dev/vda /mnt && (i=0; while true; do i=$((i+1)); echo $i > /mnt/count; echo C$i; sleep 1; done) &');
  await con.waitFor(/(^|\n)C3\r?\n/);

  // bad requests first: each refused with its own error, the VM untouched
  const snap = join(dir, 'web.snap');
  writeFileSync(join(dir, 'notes.txt'), 'mine');
  const over = await api(d, 'POST', `/v1/vms/${vm.id}/snapshot`, { path: join(dir, 'notes.txt') });
  assert.equal(over.status, 409);
  assert.match(over.json.error.message, /notes\.txt exists and is not a tvisor snapshot; tvisor will not replace it/);
  assert.equal(readFileSync(join(dir, 'notes.txt'), 'utf8'), 'mine');
  assert.equal((await api(d, 'POST', `/v1/vms/${vm.id}/snapshot`, { path: '/etc/web.snap' })).json.error.code, 'forbidden_path');
  assert.equal((await api(d, 'POST', `/v1/vms/${vm.id}/snapshot`, { path: snap, after: 'later' })).status, 400);

  const r = await api(d, 'POST', `/v1/vms/${vm.id}/snapshot`, { path: snap });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.json.vm.state, 'running');
  assert.deepEqual(r.json.saved_disks, [`${snap}.vda.overlay`]);
  assert.equal(r.json.bytes, statSync(snap).size);
  assert.ok(r.json.bytes < 256 << 20, 'RAM is saved sparsely');
  const savedAt = counts(con.text()).at(-1)!;
  // the original runs on
  await con.waitFor(new RegExp(`(^|\\n)C${savedAt + 2}\\r?\\n`));

  // restores: errors first
  const bad = await api(d, 'POST', '/v1/vms', { snapshot: join(dir, 'notes.txt'), name: 'x' });
  assert.equal(bad.status, 422);
  assert.equal(bad.json.error.code, 'bad_snapshot');
  assert.equal((await api(d, 'POST', '/v1/vms', { snapshot: snap })).json.error.code, 'conflict', 'the name "web" is taken');
  assert.match((await api(d, 'POST', '/v1/vms', { snapshot: snap, name: 'y', kernel: guest.kernel })).json.error.message, /kernel comes from the snapshot/);
  assert.match((await api(d, 'POST', '/v1/vms', { snapshot: snap, name: 'y', overlays: { vda: join(dir, 'web.overlay') } })).json.error.message, /exists already; tvisor never replaces a file/);

  const clones = [];
  for (const [name, body] of [['a', {}], ['b', { overlays: { vda: join(dir, 'b.overlay') } }]] as const) {
    const c = await api(d, 'POST', '/v1/vms', { snapshot: snap, name, ...body });
    assert.equal(c.status, 201, JSON.stringify(c.json));
    assert.equal(c.json.resumes_from, snap);
    assert.equal(c.json.config.disks[0].overlay, name === 'a' ? `${snap}.a.vda` : join(dir, 'b.overlay'));
    const cc = await collectConsole(d, c.json.id);
    await api(d, 'POST', `/v1/vms/${c.json.id}/start`);
    clones.push({ id: c.json.id as string, name, con: cc });
  }
  for (const c of clones) {
    // the console shows the screen as it was saved, then the loop goes on from the saved count
    await c.con.waitFor(new RegExp(`(^|\\n)C${savedAt + 2}\\r?\\n`));
    const seen = counts(c.con.text());
    assert.deepEqual(seen, seen.map((_, i) => seen[0] + i), `${c.name} counts on without a gap or a restart: ${seen.join(' ')}`);
    assert.ok(!c.con.text().includes('Linux version'), `${c.name} did not boot`);
    const info = await waitFor(d, c.id, (v) => v.state === 'running', `${c.name} running`);
    assert.equal(info.resumes_from, undefined, 'restored: later starts boot the definition');
    // each writes its name to its disk
    await typeLine(d, c.id, `echo ${c.name} > /mnt/who && sync && echo WROTE-$(cat /mnt/who)`);
    await c.con.waitFor(new RegExp(`WROTE-${c.name}\\r?\\n`));
  }
  // the clones' overlays are their own files, apart from the copy saved with the snapshot, which a third restore still takes
  const third = await api(d, 'POST', '/v1/vms', { snapshot: snap, name: 'c' });
  assert.equal(third.status, 201, JSON.stringify(third.json));

  // after: stopped
  const stopped = await api(d, 'POST', `/v1/vms/${clones[1].id}/snapshot`, { path: join(dir, 'b.snap'), after: 'stopped' });
  assert.equal(stopped.status, 200, JSON.stringify(stopped.json));
  assert.equal(stopped.json.vm.state, 'stopped');
  assert.equal((await api(d, 'POST', `/v1/vms/${clones[1].id}/snapshot`, { path: join(dir, 'b.snap') })).status, 409, 'a stopped VM has no machine to save');
  assert.ok(existsSync(join(dir, 'b.snap.vda.overlay')));
});

test('a VM defined from a snapshot (its RAM compressed) still resumes it after a daemon restart', async () => {
  const state = 'state-restart';
  const d1 = await daemon(state);
  const vm = (await api(d1, 'POST', '/v1/vms', { name: 'src', kernel: guest.kernel, initrd: guest.initrd, memory_mib: 128 })).json;
  const con = await collectConsole(d1, vm.id);
  await api(d1, 'POST', `/v1/vms/${vm.id}/start`);
  await con.waitFor(/tvisor guest: Linux/);
  await typeLine(d1, vm.id, 'echo marker-$((6*7)) > /tmp/m; echo SET');
  await con.waitFor(/(^|\n)SET\r?\n/);
  const snap = join(dir, 'src.snap');
  const saved = await api(d1, 'POST', `/v1/vms/${vm.id}/snapshot`, { path: snap, after: 'paused', compress: true });
  assert.equal(saved.json.vm.state, 'paused');
  const touched = saved.json.vm.stats.memory_touched_bytes;
  assert.ok(saved.json.bytes < touched / 2, `compressed: ${saved.json.bytes} bytes for ${touched} bytes of RAM written`);
  const clone = (await api(d1, 'POST', '/v1/vms', { snapshot: snap, name: 'later' })).json;
  await stopDaemon(d1);

  const d2 = await daemon(state);
  const info = (await api(d2, 'GET', `/v1/vms/${clone.id}`)).json;
  assert.equal(info.state, 'created');
  assert.equal(info.resumes_from, snap);
  const cc = await collectConsole(d2, clone.id);
  await api(d2, 'POST', `/v1/vms/${clone.id}/start`);
  await typeLine(d2, clone.id, 'cat /tmp/m');
  await cc.waitFor(/marker-42/);
});

test('a VM whose two vCPUs run in threads of their own is saved and restored, both harts going on', async () => {
  const d = await daemon('state-smp');
  const vm = (await api(d, 'POST', '/v1/vms', { name: 'duo', kernel: guest.kernel, initrd: guest.initrd, memory_mib: 128, vcpus: 2 })).json;
  const con = await collectConsole(d, vm.id);
  await api(d, 'POST', `/v1/vms/${vm.id}/start`);
  await con.waitFor(/tvisor guest: Linux/);
  await typeLine(d, vm.id, 'echo duo-$((6*7)) > /tmp/m; echo online=$(cat /sys/devices/system/cpu/online)');
  await con.waitFor(/online=0-1\r?\n/);
  const snap = join(dir, 'duo.snap');
  const saved = await api(d, 'POST', `/v1/vms/${vm.id}/snapshot`, { path: snap });
  assert.equal(saved.status, 200, JSON.stringify(saved.json));
  await typeLine(d, vm.id, 'echo STILL-$((6*7))');
  await con.waitFor(/(^|\n)STILL-42/);
  await api(d, 'POST', `/v1/vms/${vm.id}/stop`);

  const clone = (await api(d, 'POST', '/v1/vms', { snapshot: snap, name: 'duo2' })).json;
  assert.equal(clone.config.vcpus, 2);
  const cc = await collectConsole(d, clone.id);
  await api(d, 'POST', `/v1/vms/${clone.id}/start`);
  // two busy loops: hart 1 (in its own thread, restored there) must run one of them
  await typeLine(d, clone.id, 'cat /tmp/m; (while :; do :; done &); (while :; do :; done &); ' +
    "a=$(grep '^cpu1 ' /proc/stat | cut -d' ' -f2); sleep 3; b=$(grep '^cpu1 ' /proc/stat | cut -d' ' -f2); echo CPU1-$a-$b");
  await cc.waitFor(/duo-42/);
  await cc.waitFor(/CPU1-\d+-\d+\r?\n/);
  const [, a, b] = /CPU1-(\d+)-(\d+)/.exec(cc.text())!.map(Number);
  assert.ok(b > a, `hart 1 ran the guest's work after the restore (cpu1 user ticks ${a} -> ${b})`);
  const info = (await api(d, 'GET', `/v1/vms/${clone.id}`)).json;
  assert.equal(info.state, 'running');
});
