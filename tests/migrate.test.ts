// Live migration (issue 15), end to end with the default Debian guest: within one daemon, a VM that receives a
// TCP stream from another VM over the virtual switch (and has an ext4 disk mounted) is moved to a thread of its
// own twice while the stream goes on; every line arrives, in order, without a gap, and its disk still works.
// Between two daemons, a counting VM moves and goes on counting there; a refusal (token, name taken) and an
// unreachable daemon leave it running where it was.
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

/** The numbers of the L<n> (C<n>) lines in a console, in order. */
const lines = (text: string) => [...text.matchAll(/(?:^|\n)L(\d+)(?=\r?\n)/g)].map((m) => Number(m[1]));
const counts = (text: string) => [...text.matchAll(/(?:^|\n)C(\d+)(?=\r?\n)/g)].map((m) => Number(m[1]));

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

  assert.equal((await api(d, 'POST', `/v1/vms/${b.id}/migrate`, { to: 'somewhere' })).status, 400, 'to must be http://HOST:PORT');
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

test('a VM moves to another daemon, live, and goes on counting there; refusals and an unreachable daemon leave it running here', async () => {
  const d1 = await startDaemon(join(dir, 'state1'), ['--allow-dir', dir, '--allow-dir', guest.dir]);
  const d2 = await startDaemon(join(dir, 'state2'), ['--allow-dir', guest.dir], { TVISOR_TOKEN: 'secret-2' });
  try {
    const vm = (await api(d1, 'POST', '/v1/vms', { name: 'w', kernel: guest.kernel, initrd: guest.initrd, memory_mib: 128, nics: [{}] })).json;
    const c1 = await collectConsole(d1, vm.id);
    await api(d1, 'POST', `/v1/vms/${vm.id}/start`);
    await c1.waitFor(/tvisor guest: Linux/);
    await typeLine(d1, vm.id, '(i=0; while true; do i=$((i+1)); echo C$i; usleep 200000; done) &');
    await c1.waitFor(/(^|\n)C5\r?\n/);

    // refused: no token, a name taken there, nobody listening; each time the VM runs on here
    const noToken = await api(d1, 'POST', `/v1/vms/${vm.id}/migrate`, { to: d2.url });
    assert.equal(noToken.status, 500);
    assert.match(noToken.json.error.message, /cannot reach .*HTTP 401: missing or wrong API token.*; it runs on/);
    const taken = await fetch(`${d2.url}/v1/vms`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer secret-2' },
      body: JSON.stringify({ name: 'w', kernel: guest.kernel }),
    });
    assert.equal(taken.status, 201);
    const clash = await api(d1, 'POST', `/v1/vms/${vm.id}/migrate`, { to: d2.url, token: 'secret-2' });
    assert.equal(clash.status, 409);
    assert.match(clash.json.error.message, /refused the VM: a VM named "w" already exists .*; it runs on here/);
    assert.equal((await api(d1, 'POST', `/v1/vms/${vm.id}/migrate`, { to: 'http://127.0.0.1:1' })).status, 500);
    assert.equal((await api(d1, 'GET', `/v1/vms/${vm.id}`)).json.state, 'running');
    const before = counts(c1.text()).at(-1)!;
    await c1.waitFor(new RegExp(`(^|\\n)C${before + 3}\\r?\\n`));
    await fetch(`${d2.url}/v1/vms/${(taken.ok ? await taken.json() : null).id}`, { method: 'DELETE', headers: { authorization: 'Bearer secret-2' } });

    const r = await api(d1, 'POST', `/v1/vms/${vm.id}/migrate`, { to: d2.url, token: 'secret-2' });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.to, d2.url);
    assert.equal(r.json.vm.name, 'w');
    assert.equal(r.json.vm.state, 'running');
    assert.equal((await api(d1, 'GET', `/v1/vms/${vm.id}`)).status, 404, 'gone from the daemon it left');
    const last = counts(c1.text()).at(-1)!;
    // there it goes on counting from where it was
    const ws = await import('ws');
    const out = await new Promise<string>((resolve, reject) => {
      const sock = new ws.default(`${d2.url.replace(/^http/, 'ws')}/v1/vms/${r.json.vm.id}/console`, { headers: { authorization: 'Bearer secret-2' } });
      let text = '';
      sock.on('message', (data, binary) => {
        if (binary) text += Buffer.from(data as Buffer).toString('latin1');
        if (counts(text).some((n) => n >= last + 5)) {
          sock.close();
          resolve(text);
        }
      });
      sock.on('error', reject);
      setTimeout(() => reject(new Error(`no count past C${last + 5} on the other daemon: ${text.slice(-500)}`)), 120_000);
    });
    const there = counts(out);
    assert.ok(there[0] <= last + 2, `it went on from C${last}: ${there.join(' ')}`);
    assert.deepEqual(there, there.map((_, i) => there[0] + i));
  } finally {
    await stopDaemon(d1);
    await stopDaemon(d2);
  }
});

test('a VM whose two vCPUs run in threads of their own moves twice, live, with work on both: no write of either hart is lost', async () => {
  const d3 = await startDaemon(join(dir, 'state3'), ['--allow-dir', guest.dir, '--pcpus', '2']);
  try {
    const vm = (await api(d3, 'POST', '/v1/vms', { name: 'duo', kernel: guest.kernel, initrd: guest.initrd, memory_mib: 128, vcpus: 2 })).json;
    const con = await collectConsole(d3, vm.id);
    await api(d3, 'POST', `/v1/vms/${vm.id}/start`);
    await con.waitFor(/tvisor guest: Linux/);
    // two writers (the guest spreads them over both harts), each appending its count to a file in RAM (tmpfs),
    // until told to stop
    await typeLine(d3, vm.id, 'for n in 1 2; do (i=0; while [ ! -e /tmp/stop ]; do i=$((i+1)); echo $i >> /tmp/s$n; done &); done; sleep 1; echo STARTED');
    await con.waitFor(/(^|\n)STARTED\r?\n/);
    for (let i = 0; i < 2; i++) {
      const r = await api(d3, 'POST', `/v1/vms/${vm.id}/migrate`);
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.equal(r.json.vm.state, 'running');
      assert.ok(r.json.rounds >= 2, JSON.stringify(r.json));
    }
    // each file holds 1, 2, 3, … without a gap or a repeat, and hart 1 did its share after the moves
    await typeLine(d3, vm.id, "a=$(grep '^cpu1 ' /proc/stat | cut -d' ' -f2); sleep 3; b=$(grep '^cpu1 ' /proc/stat | cut -d' ' -f2); touch /tmp/stop; sleep 1; " +
      "for n in 1 2; do awk -v n=$n 'NR != $1 { print \"GAP-\" n \"-at-\" NR; exit } END { print \"LINES-\" n \"-\" NR }' /tmp/s$n; done; echo CPU1-$a-$b");
    await con.waitFor(/CPU1-\d+-\d+\r?\n/);
    const text = con.text();
    assert.doesNotMatch(text, /GAP-\d/, 'a write lost or repeated');
    const lines = [...text.matchAll(/LINES-(\d)-(\d+)/g)].map((m) => Number(m[2]));
    assert.equal(lines.length, 2);
    assert.ok(lines.every((n) => n > 20), `both writers went on: ${lines.join(', ')} lines`);
    const [, a, b] = /CPU1-(\d+)-(\d+)/.exec(text)!.map(Number);
    assert.ok(b > a, `hart 1 ran after the moves (cpu1 user ticks ${a} -> ${b})`);
  } finally {
    await stopDaemon(d3);
  }
});
