// Live migration inside one daemon (issue 15), end to end with the default Debian guest: a VM that receives a
// TCP stream from another VM over the virtual switch (and has an ext4 disk mounted) is moved to a thread of its
// own twice while the stream goes on; every line arrives, in order, without a gap, and its disk still works.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { e2fsTool } from './lib/toolchain.js';
import { api, collectConsole, startDaemon, stopDaemon, typeLine, waitFor, type Daemon } from './lib/daemon.js';
import { ensureDefaultGuest, type GuestImage } from '../src/images/index.js';

const mke2fs = e2fsTool('mke2fs');
let guest: GuestImage;
let dir: string;
let d: Daemon | null = null;

before(async () => {
  guest = await ensureDefaultGuest({ log: (line) => process.stderr.write(`# ${line}\n`) });
  dir = mkdtempSync(join(tmpdir(), 'tvisor-migrate-'));
});
after(async () => {
  if (d) await stopDaemon(d);
  rmSync(dir, { recursive: true, force: true });
});

/** The numbers of the L<n> lines in a console, in order. */
const lines = (text: string) => [...text.matchAll(/(?:^|\n)L(\d+)(?=\r?\n)/g)].map((m) => Number(m[1]));

test('a VM receiving a TCP stream from another VM is moved twice, live: the stream goes on without a gap', { skip: !mke2fs && 'needs mke2fs (apt-get install e2fsprogs)' }, async () => {
  const img = join(dir, 'a.img');
  execFileSync(mke2fs!, ['-q', '-F', '-t', 'ext4', img, '32M']);
  d = await startDaemon(join(dir, 'state'), ['--allow-dir', dir, '--allow-dir', guest.dir]);
  const vm = async (name: string, disks: object[] = []) =>
    (await api(d!, 'POST', '/v1/vms', { name, kernel: guest.kernel, initrd: guest.initrd, memory_mib: 128, nics: [{}], disks })).json;
  const a = await vm('a', [{ path: img, overlay: join(dir, 'a.overlay') }]);
  const b = await vm('b');
  const ca = await collectConsole(d, a.id);
  const cb = await collectConsole(d, b.id);
  for (const v of [a, b]) await api(d, 'POST', `/v1/vms/${v.id}/start`);
  await ca.waitFor(/tvisor guest: Linux/);
  await cb.waitFor(/tvisor guest: Linux/);
  // nc in the background (its input a pipe that never ends), so a's shell stays free
  await typeLine(d, a.id, 'mkdir -p /mnt && mount /dev/vda /mnt && ifconfig eth0 10.9.0.1 netmask 255.255.255.0 up && (sleep 100000 | nc -l -p 5000 &)');
  await typeLine(d, b.id, 'ifconfig eth0 10.9.0.2 netmask 255.255.255.0 up; sleep 2; (i=0; while true; do i=$((i+1)); echo L$i; usleep 200000; done) | nc 10.9.0.1 5000');
  await ca.waitFor(/(^|\n)L5\r?\n/);

  assert.equal((await api(d, 'POST', `/v1/vms/${b.id}/migrate`, '{}')).status, 400, 'the route takes no body');
  for (let i = 0; i < 2; i++) {
    const r = await api(d, 'POST', `/v1/vms/${a.id}/migrate`);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.vm.state, 'running');
    assert.ok(r.json.rounds >= 2 && r.json.pages_sent > 1000, JSON.stringify(r.json));
    assert.ok(r.json.downtime_ms <= r.json.total_ms);
    const at = lines(ca.text()).at(-1)!;
    await ca.waitFor(new RegExp(`(^|\\n)L${at + 5}\\r?\\n`));
  }
  const seen = lines(ca.text());
  assert.deepEqual(seen, seen.map((_, i) => seen[0] + i), `every line, in order: ${seen.join(' ')}`);
  assert.ok(seen[0] <= 2, 'from the first line or so (L1 may follow the prompt on its line)');

  // its disk was closed by the old thread and opened by the new one
  await typeLine(d, a.id, 'echo moved > /mnt/f && sync && echo DISK-$(cat /mnt/f)');
  await ca.waitFor(/DISK-moved/);
  const info = await waitFor(d, a.id, (v) => v.state === 'running', 'a running');
  assert.ok(info.stats.instructions > 0, 'its counters went on');
  const paused = await api(d, 'POST', `/v1/vms/${a.id}/pause`);
  assert.equal(paused.json.state, 'paused');
  assert.equal((await api(d, 'POST', `/v1/vms/${a.id}/migrate`)).json.vm.state, 'paused', 'a paused VM moves and stays paused');
  await api(d, 'POST', `/v1/vms/${a.id}/stop`);
  assert.equal((await api(d, 'POST', `/v1/vms/${a.id}/migrate`)).status, 409, 'a stopped VM has no guest to move');
});
