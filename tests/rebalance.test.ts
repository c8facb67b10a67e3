// Thread rebalancing (issue 15), end to end with the default Debian guest: a daemon packing VMs
// (--vms-per-thread 4, 2 pCPUs) puts a third VM on the first VM's thread; when both turn busy while the
// second thread's VM idles, the daemon moves one of them, live, to the idle VM's thread, and it goes on there.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, collectConsole, startDaemon, stopDaemon, typeLine, type Daemon } from './lib/daemon.js';
import { ensureDefaultGuest, type GuestImage } from '../src/images/index.js';

let guest: GuestImage;
let dir: string;
let d: Daemon | null = null;

before(async () => {
  guest = await ensureDefaultGuest({ log: (line) => process.stderr.write(`# ${line}\n`) });
  dir = mkdtempSync(join(tmpdir(), 'tvisor-rebalance-'));
});
after(async () => {
  if (d) await stopDaemon(d);
  rmSync(dir, { recursive: true, force: true });
});

test('two busy VMs sharing a thread while a host CPU is free: one is moved, live, to a thread of idle VMs', async () => {
  d = await startDaemon(join(dir, 'state'), ['--allow-dir', guest.dir, '--pcpus', '2', '--vms-per-thread', '4']);
  const ids: string[] = [];
  const consoles = [];
  for (const name of ['a', 'b', 'c']) {
    const vm = (await api(d, 'POST', '/v1/vms', { name, kernel: guest.kernel, initrd: guest.initrd, memory_mib: 128 })).json;
    ids.push(vm.id);
    consoles.push(await collectConsole(d, vm.id));
  }
  const [a, b, c] = ids;
  const thread = async (id: string) => (await api(d!, 'GET', `/v1/vms/${id}`)).json.thread as number;
  const cpuNs = async (id: string) => (await api(d!, 'GET', `/v1/vms/${id}`)).json.stats.cpu_time_ns as number;
  // idle: under a tenth of a host CPU over 2 s (a guest's boot goes on busy a while after its first line)
  const settle = async (id: string) => {
    for (const end = Date.now() + 180_000; ;) {
      const [c0, t0] = [await cpuNs(id), performance.now()];
      await new Promise((r) => setTimeout(r, 2000));
      if ((await cpuNs(id)) - c0 < 0.1 * (performance.now() - t0) * 1e6) return;
      assert.ok(Date.now() < end, `VM ${id} idles within three minutes of its boot`);
    }
  };
  // a and b boot first, on threads of their own; then c, once a and b idle (c booting beside a still busy a
  // would be moved at once, and the balancer may move a onto b's idle thread as well: seen on a loaded machine)
  await api(d, 'POST', `/v1/vms/${a}/start`);
  await api(d, 'POST', `/v1/vms/${b}/start`);
  for (const con of consoles.slice(0, 2)) await con.waitFor(/tvisor guest: Linux/);
  const [ta, tb] = [await thread(a), await thread(b)];
  assert.ok(ta >= 1 && tb >= 1, 'a running VM says which thread it runs on');
  assert.notEqual(ta, tb, 'spread over the host CPUs first');
  await settle(a);
  await settle(b);
  assert.deepEqual([await thread(a), await thread(b)], [ta, tb], 'idle VMs stay where they are');
  await api(d, 'POST', `/v1/vms/${c}/start`);
  await consoles[2].waitFor(/tvisor guest: Linux/);
  const tc = await thread(c);
  assert.equal(tc, ta, 'then packed: c shares a\'s thread');

  await typeLine(d, a, 'while :; do :; done &');
  await typeLine(d, c, 'while :; do :; done &');
  let moved = '';
  for (const end = Date.now() + 180_000; !moved; await new Promise((r) => setTimeout(r, 500))) {
    for (const id of [a, c]) if ((await thread(id)) !== ta) moved = id;
    if (!moved && Date.now() > end) assert.fail(`neither a nor c moved off thread ${ta}\n${d.log()}`);
  }
  const stayed = moved === a ? c : a;
  assert.equal(await thread(moved), tb, 'onto the thread whose VM idles (it has room)');
  assert.equal(await thread(stayed), ta);
  assert.match(d.log(), new RegExp(`VM ${moved} \\([ac]\\) moved from thread ${ta} to thread ${tb}: it shared one with another busy VM`));
  // the moved guest goes on: its shell answers
  const con = consoles[ids.indexOf(moved)];
  await typeLine(d, moved, 'echo MOVED-$((6*7))');
  await con.waitFor(/(^|\n)MOVED-42/);
  for (const x of consoles) x.close();
});
