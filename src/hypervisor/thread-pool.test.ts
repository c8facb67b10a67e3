// The pool of shared VM threads, with fake workers: placement (spread over the pCPUs first, then the thread
// with the fewest VMs, never more than N per thread, dedicated threads for multi-vCPU VMs), messages routed by
// channel, a thread ended with its last VM, and the death of a thread reported to each of its VMs. Then the
// manager on such a pool: two VMs of one thread never get slices at the same time, even with a pCPU free.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ThreadPool, type HostWorker } from './thread-pool.js';
import { VmManager } from './manager.js';
import type { FromHost, FromVm, ToHost } from './protocol.js';
import type { VmSpec } from './model.js';

interface FakeWorker extends HostWorker {
  sent: ToHost[];
  emit(m: FromHost): void;
  die(reason: string): void;
  terminated: boolean;
}

function fakeWorkers(): { spawn: () => HostWorker; workers: FakeWorker[] } {
  const workers: FakeWorker[] = [];
  const spawn = (): HostWorker => {
    let onMessage: (m: FromHost) => void = () => {};
    let onExit: (r: string) => void = () => {};
    const w: FakeWorker = {
      sent: [], terminated: false,
      send: (m) => w.sent.push(m),
      onMessage: (fn) => (onMessage = fn),
      onExit: (fn) => (onExit = fn),
      terminate: () => (w.terminated = true),
      emit: (m) => onMessage(m),
      die: (r) => onExit(r),
    };
    workers.push(w);
    return w;
  };
  return { spawn, workers };
}

test('VMs spread over minThreads threads, then fill the least loaded up to N; dedicated ones stay alone', () => {
  const { spawn, workers } = fakeWorkers();
  const pool = new ThreadPool(spawn, 3, 2);
  const a = pool.open();
  const b = pool.open();
  assert.equal(workers.length, 2, 'one thread per pCPU first');
  assert.notEqual(a.host, b.host);
  const c = pool.open();
  const d = pool.open();
  assert.deepEqual(pool.load, [2, 2]);
  const big = pool.open(true);
  assert.equal(workers.length, 3);
  assert.deepEqual(pool.load, [2, 2, 1]);
  pool.open();
  pool.open();
  assert.deepEqual(pool.load, [3, 3, 1], 'the dedicated thread takes no one else');
  pool.open();
  assert.deepEqual(pool.load, [3, 3, 1, 1], 'all full: a new thread');
  assert.ok([c.host, d.host].every((h) => h === a.host || h === b.host));
  assert.notEqual(big.host, a.host);
});

test('messages travel on their channel; a thread ends with its last VM', () => {
  const { spawn, workers } = fakeWorkers();
  const pool = new ThreadPool(spawn, 4);
  const a = pool.open();
  const b = pool.open();
  assert.equal(workers.length, 1);
  const got: string[] = [];
  a.onMessage((m) => got.push(`a ${m.t}`));
  b.onMessage((m) => got.push(`b ${m.t}`));
  a.send({ t: 'input', bytes: new Uint8Array([1]) });
  b.send({ t: 'balloon', bytes: 0 });
  const [chA, chB] = workers[0].sent.map((m) => m.ch);
  assert.notEqual(chA, chB);
  workers[0].emit({ ch: chB, m: { t: 'ready' } });
  workers[0].emit({ ch: chA, m: { t: 'stopped' } });
  workers[0].emit({ ch: 999, m: { t: 'ready' } }); // nobody's: dropped
  assert.deepEqual(got, ['b ready', 'a stopped']);
  a.terminate();
  assert.equal(workers[0].terminated, false, 'b still lives there');
  assert.deepEqual(workers[0].sent.at(-1), { ch: chA, m: { t: 'stop' } }, "a's slot is freed");
  a.send({ t: 'input', bytes: new Uint8Array([2]) });
  assert.equal(workers[0].sent.length, 3, 'a closed channel sends nothing');
  b.terminate();
  assert.equal(workers[0].terminated, true);
  assert.deepEqual(pool.load, []);
  pool.open();
  assert.equal(workers.length, 2, 'a new VM gets a new thread');
});

test('a thread that dies takes each of its VMs with it, and only those', () => {
  const { spawn, workers } = fakeWorkers();
  const pool = new ThreadPool(spawn, 2, 2);
  const vms = [pool.open(), pool.open(), pool.open(), pool.open()];
  const exits: string[] = [];
  vms.forEach((v, i) => v.onExit((r) => exits.push(`${i}: ${r}`)));
  workers[0].die('exit code 1');
  assert.deepEqual(exits, ['0: exit code 1', '2: exit code 1']);
  assert.deepEqual(pool.load, [2]);
});

test('the manager never runs two VMs of one thread at once, and gives the free pCPU to another thread', () => {
  const { spawn, workers } = fakeWorkers();
  const pool = new ThreadPool(spawn, 2, 1);
  let ids = 0;
  const manager = new VmManager({
    pcpus: 2, memoryBudgetMib: 4096,
    store: { save: () => {}, remove: () => true, newId: () => `vm${++ids}` },
    spawn: (o) => pool.open(o?.dedicated),
    nowNs: () => 0, checkKernel: () => {}, defaultCmdline: '', log: () => {},
  });
  const spec = (name: string): VmSpec => ({ name, vcpus: 1, memory_mib: 64, kernel: '/k', weight: 256, cap: 0, disks: [], nics: [] });
  const ids3 = ['a', 'b', 'c'].map((n) => manager.create(spec(n)).id);
  for (const id of ids3) manager.start(id);
  assert.deepEqual(pool.load, [2, 1]);
  const runs = () => workers.flatMap((w, i) => w.sent.filter((m) => m.m.t === 'run').map((m) => `${i}:${m.ch}`));
  const ready = (w: number, ch: number) => workers[w].emit({ ch, m: { t: 'ready' } });
  const inits = workers.map((w) => w.sent.filter((m) => m.m.t === 'init').map((m) => m.ch));
  ready(0, inits[0][0]);
  ready(0, inits[0][1]);
  assert.equal(runs().length, 1, 'a and b share a thread: one of them runs, the other pCPU stays free');
  ready(1, inits[1][0]);
  assert.equal(runs().length, 2, 'c (another thread) takes the free pCPU');
  const first = runs()[0];
  const [w, ch] = first.split(':').map(Number);
  const slice: FromVm = { t: 'slice', instructions: 1, elapsedNs: 1e6, idle: false, idleForNs: 0, exit: null };
  workers[w].emit({ ch, m: slice });
  assert.equal(runs().length, 3, 'the thread is free again: its other VM runs');
  assert.notEqual(runs()[2], first);
});

test('a VM moved off busy threads (avoid) goes to another thread with room, or to a new one', () => {
  const { spawn, workers } = fakeWorkers();
  const pool = new ThreadPool(spawn, 3, 2);
  const a = pool.open();
  const b = pool.open();
  const c = pool.open();
  assert.equal(c.host, a.host);
  const moved = pool.open(false, new Set([a.host!]));
  assert.equal(moved.host, b.host, 'the other thread, which has room');
  const again = pool.open(false, new Set([a.host!, b.host!]));
  assert.equal(workers.length, 3, 'every thread avoided: a new one');
  assert.deepEqual([a, b, again].map((t) => t.host!.id), [1, 2, 3], 'threads are numbered from 1');
});
