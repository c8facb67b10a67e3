// Tests of VmManager with fake VM threads: starts queue behind a few threads being set up (admission control),
// a VM paused before a daemon restart comes back paused without running a slice, and deleting a VM closes
// its consoles.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FromVm, ToVm } from './protocol.js';
import type { StoredVm } from './stored-vm.js';
import { fakeManager, type FakeThread } from './test-manager.js';
import type { VmSpec } from './model.js';

function setup(maxStarting?: number) {
  return fakeManager({ maxStarting, nowNs: () => performance.now() * 1e6 });
}

const spec = (name: string): VmSpec => ({ name, vcpus: 1, memory_mib: 16, kernel: '/k', weight: 256, cap: 0, disks: [], nics: [] });
/** Lets the manager's admission timer (setTimeout 0) run. */
const turn = () => new Promise((r) => setTimeout(r, 5));
const init = (t: FakeThread) => t.sent.find((m) => m.t === 'init') as Extract<ToVm, { t: 'init' }> | undefined;

test('admission: starts answer at once; threads are set up at most maxStarting at a time, in order', async () => {
  const { manager, threads } = setup(2);
  const ids = Array.from({ length: 7 }, (_, i) => manager.create(spec(`vm${i}`)).id);
  for (const id of ids) assert.equal(manager.start(id).state, 'running', 'running to the API from the start');
  await turn();
  assert.equal(threads.length, 2, 'two threads being set up, the other five wait');
  assert.deepEqual(threads.map((t) => init(t)?.config.id), ids.slice(0, 2));

  // a queued VM can be stopped: it leaves the queue and never gets a thread
  assert.equal(manager.stop(ids[2]).state, 'stopped');
  threads[0].emit({ t: 'ready' } as FromVm);
  await turn();
  assert.deepEqual(threads.map((t) => init(t)?.config.id), [ids[0], ids[1], ids[3]], 'ready frees a slot for the next in line');
  threads[1].emit({ t: 'init-error', message: 'no such file' } as FromVm);
  await turn();
  assert.equal(manager.inspect(ids[1]).state, 'crashed');
  assert.equal(threads.length, 4, 'a failed setup frees its slot too');
  for (const t of threads.slice(2)) t.emit({ t: 'ready' } as FromVm);
  await turn();
  for (const t of threads.slice(4)) t.emit({ t: 'ready' } as FromVm);
  await turn();
  assert.deepEqual(threads.map((t) => init(t)?.config.id), [ids[0], ids[1], ids[3], ids[4], ids[5], ids[6]], 'every started VM got its thread, in order');
  manager.shutdown();
});

test('admission: a shutdown with starts still queued sets up no more threads and keeps them to start next time', async () => {
  const { manager, threads, lastSaved } = setup(1);
  const ids = Array.from({ length: 3 }, (_, i) => manager.create(spec(`vm${i}`)).id);
  for (const id of ids) manager.start(id);
  manager.pause(ids[2]);
  manager.shutdown();
  await turn();
  assert.equal(threads.length, 1);
  for (const id of ids) assert.equal(manager.inspect(id).state, 'stopped');
  assert.deepEqual(ids.map((id) => lastSaved(id)!.desired), ['running', 'running', 'paused'], 'stored to start again as they were');
});

test('restore: a VM that was paused comes back paused and runs no slice until it is resumed', async () => {
  const { manager, threads } = setup();
  const stored: StoredVm = {
    id: '0000abcd', spec: spec('sleeper'), balloon_mib: 0, desired: 'paused', state: 'paused', created_at: new Date(0).toISOString(),
  };
  manager.restore([stored]);
  assert.equal(manager.inspect('0000abcd').state, 'paused');
  await turn();
  assert.equal(threads.length, 1, 'its machine is built');
  threads[0].emit({ t: 'ready' } as FromVm);
  await turn();
  assert.equal(threads[0].sent.filter((m) => m.t === 'run').length, 0, 'no slice while paused');
  assert.equal(manager.resume('0000abcd').state, 'running');
  assert.ok(threads[0].sent.some((m) => m.t === 'run'), 'resumed: it runs');
  manager.shutdown();
});

test('remove: the consoles of a deleted VM are told it is gone', () => {
  const { manager } = setup();
  const id = manager.create(spec('gone')).id;
  const closed: string[] = [];
  manager.attachConsole(id, { data: () => {}, closed: (reason) => closed.push(reason) });
  manager.attachConsole(id, { data: () => {} }); // a sink without the hook is fine
  manager.remove(id);
  assert.deepEqual(closed, ['VM deleted']);
});
