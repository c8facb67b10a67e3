// The VM thread's logic with a host that is not Node's (as a browser worker would give it): a VM is built,
// runs a slice and stops on its channel; pings are answered; a fault in one VM crashes that VM alone; a host
// without snapshot files refuses snapshots and restores with a clear message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VmThreadMain, type VmSlotHost } from './vm-slot.js';
import { buildDevices } from './devices.js';
import { idleKernel } from '../core/machine/test-images.js';
import type { FromHost, VmThreadConfig } from './protocol.js';
import type { MachineDescription } from './machine.js';

const machine: MachineDescription = { name: 'm', memoryBytes: 16 << 20, vcpus: 1, kernel: 'idle', cmdline: '', devices: [{ kind: 'rng' }] };

/** A thread whose host posts into `sent` (`take` the messages of one channel) and never runs its callbacks. */
function thread(over: Partial<VmSlotHost> = {}) {
  const sent: FromHost[] = [];
  const main = new VmThreadMain({
    jit: 'off',
    post: (m) => sent.push(m),
    loadImages: () => ({ kernel: idleKernel() }),
    buildDevices: (m, o) => buildDevices(m, {
      ...o,
      openDisk: () => assert.fail('no disks here'),
      diskSize: () => assert.fail('no disks here'),
      random: (n) => new Uint8Array(n),
    }),
    random: (n) => new Uint8Array(n),
    soon: () => {},
    later: () => {},
    ...over,
  });
  const take = (ch: number) => sent.splice(0).filter((s) => s.ch === ch).map((s) => s.m);
  return { main, sent, take };
}

const init = (config: Partial<VmThreadConfig> = {}) => ({ t: 'init', config: { id: 'a', machine, ...config } } as const);

test('a VM is built, runs a slice and stops on its channel; pings are answered; a gone VM still answers stop', () => {
  const { main, take } = thread();
  main.handle({ ch: 1, m: { t: 'ping' } });
  assert.deepEqual(take(1), [{ t: 'pong' }]);
  main.handle({ ch: 1, m: init() });
  assert.deepEqual(take(1), [{ t: 'ready' }]);
  main.handle({ ch: 1, m: { t: 'run', budgetNs: 1e6, stealNs: 0 } });
  const [slice] = take(1);
  assert.equal(slice.t, 'slice');
  main.handle({ ch: 1, m: { t: 'stop' } });
  assert.deepEqual(take(1), [{ t: 'stopped' }]);
  // gone: a second stop is answered, other messages are not
  main.handle({ ch: 1, m: { t: 'run', budgetNs: 1e6, stealNs: 0 } });
  main.handle({ ch: 1, m: { t: 'stop' } });
  assert.deepEqual(take(1), [{ t: 'stopped' }]);
});

test('a fault of one VM crashes that VM only', () => {
  // a balloon that throws stands for a fault of the thread's code
  const { main, sent, take } = thread({
    buildDevices: (m, o) => {
      const built = buildDevices(m, { ...o, openDisk: () => assert.fail(), diskSize: () => assert.fail(), random: (n) => new Uint8Array(n) });
      built.balloon = { setTarget: () => { throw new Error('boom'); } } as unknown as typeof built.balloon;
      return built;
    },
  });
  main.handle({ ch: 1, m: init() });
  main.handle({ ch: 2, m: init() });
  sent.splice(0);
  main.handle({ ch: 1, m: { t: 'balloon', bytes: 0 } });
  assert.deepEqual(take(1), [{ t: 'crash', reason: 'internal error: boom' }]);
  main.handle({ ch: 2, m: { t: 'run', budgetNs: 1e6, stealNs: 0 } });
  assert.equal(take(2)[0]?.t, 'slice');
  // the crashed VM is gone: a stop is answered for it as for any VM already gone
  main.handle({ ch: 1, m: { t: 'stop' } });
  assert.deepEqual(take(1), [{ t: 'stopped' }]);
});

test('a host without snapshot files refuses a snapshot and a restore, saying so', () => {
  const { main, take } = thread();
  main.handle({ ch: 1, m: init() });
  take(1);
  main.handle({ ch: 1, m: { t: 'snapshot', path: '/x.snap', settings: { weight: 256, cap: 0 } } });
  assert.deepEqual(take(1), [{ t: 'snapshot-error', message: 'snapshots are not supported by this host', refused: false }]);
  main.handle({ ch: 2, m: init({ restore: { snapshot: '/x.snap', fresh: [] } }) });
  assert.deepEqual(take(2), [{ t: 'init-error', message: 'restoring /x.snap: snapshots are not supported by this host' }]);
});

test('a message the host prepares asynchronously holds back those after it; a failed preparation of an init answers init-error', async () => {
  let release: () => void = () => {};
  let fail: (e: Error) => void = () => {};
  const { main, sent, take } = thread({
    prepare: ({ ch, m }) => {
      if (m.t !== 'init') return undefined;
      return new Promise<void>((resolve, reject) => (ch === 1 ? (release = resolve) : (fail = reject)));
    },
  });
  main.handle({ ch: 1, m: init() });
  main.handle({ ch: 9, m: { t: 'ping' } });
  assert.deepEqual(sent, [], 'the ping waits behind the init being prepared');
  release();
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(sent.splice(0), [{ ch: 1, m: { t: 'ready' } }, { ch: 9, m: { t: 'pong' } }], 'in order');
  main.handle({ ch: 2, m: init() });
  fail(new Error('passt ended'));
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(take(2), [{ t: 'init-error', message: 'passt ended' }]);
  main.handle({ ch: 9, m: { t: 'ping' } });
  assert.deepEqual(take(9), [{ t: 'pong' }], 'handled at once again');
});
