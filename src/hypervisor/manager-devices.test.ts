// Tests of VmManager.updateDevice (PATCH /v1/vms/{id}/disks|nics/{index}) with fake VM threads: limits reach
// the thread at start and live, the stored definition follows, and wrong indices or states change nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fakeManager } from './test-manager.js';
import { ApiError } from './errors.js';
import type { VmSpec } from './model.js';

function setup() {
  const { manager, saves: saved, threads } = fakeManager({ memoryBudgetMib: 4096 });
  return { manager, saved, threads };
}

const spec = (): VmSpec => ({
  name: 'limited', vcpus: 1, memory_mib: 64, kernel: '/k', weight: 256, cap: 0,
  disks: [{ path: '/a.img', readonly: false, rate_limiter: { bandwidth: { size: 2 << 20, refill_time_ms: 1000 } } }, { path: '/b.img', readonly: true }],
  nics: [{ rate_limiter: { ops: { size: 1000, refill_time_ms: 1000, one_time_burst: 50 } } }],
});

function fails(fn: () => unknown, code: string, message: RegExp): void {
  assert.throws(fn, (e) => e instanceof ApiError && e.code === code && message.test(e.message));
}

test('updateDevice: stored before start, handed to the VM thread at start and live, removed with null or {}', () => {
  const { manager, saved, threads } = setup();
  const id = manager.create(spec()).id;
  const info = manager.updateDevice(id, 'disk', 1, { rate_limiter: { ops: { size: 100, refill_time_ms: 1000 } } });
  assert.deepEqual(info.config.disks[1].rate_limiter, { ops: { size: 100, refill_time_ms: 1000 } });
  assert.deepEqual(saved.at(-1)!.spec.disks[1].rate_limiter, { ops: { size: 100, refill_time_ms: 1000 } }, 'the definition is stored');

  manager.start(id);
  const init = threads[0].sent[0];
  assert.ok(init.t === 'init');
  const devices = init.config.machine.devices;
  assert.deepEqual(devices.filter((d) => d.kind === 'block').map((d) => d.rateLimiter), [
    { bandwidth: { size: 2 << 20, refillTimeMs: 1000 } },
    { ops: { size: 100, refillTimeMs: 1000 } },
  ]);
  assert.deepEqual(devices.filter((d) => d.kind === 'net').map((d) => d.rateLimiter), [{ ops: { size: 1000, refillTimeMs: 1000, oneTimeBurst: 50 } }]);
  assert.deepEqual(devices.map((d) => d.kind), ['block', 'block', 'net', 'rng', 'balloon'], 'the machine the daemon gives every VM');

  manager.updateDevice(id, 'nic', 0, { rate_limiter: { bandwidth: { size: 1 << 20, refill_time_ms: 500 } } });
  assert.deepEqual(threads[0].sent.at(-1), { t: 'rate-limiter', device: 'nic', index: 0, config: { bandwidth: { size: 1 << 20, refillTimeMs: 500 } } });
  manager.updateDevice(id, 'disk', 0, { rate_limiter: null });
  assert.deepEqual(threads[0].sent.at(-1), { t: 'rate-limiter', device: 'disk', index: 0, config: null });
  assert.equal('rate_limiter' in manager.inspect(id).config.disks[0], false, 'null removes it from the definition');
  manager.updateDevice(id, 'disk', 1, { rate_limiter: {} });
  assert.deepEqual(threads[0].sent.at(-1), { t: 'rate-limiter', device: 'disk', index: 1, config: null });
  assert.equal('rate_limiter' in saved.at(-1)!.spec.disks[1], false, '{} removes it too');

  manager.pause(id);
  manager.updateDevice(id, 'disk', 1, { rate_limiter: { ops: { size: 5, refill_time_ms: 1000 } } });
  assert.equal(threads[0].sent.at(-1)!.t, 'rate-limiter', 'a paused VM gets the change too');
});

test('updateDevice: a device the VM does not have is 404, a crashed VM 409, and nothing changes', () => {
  const { manager, saved, threads } = setup();
  const id = manager.create(spec()).id;
  const before = saved.length;
  fails(() => manager.updateDevice(id, 'disk', 2, { rate_limiter: null }), 'not_found', /^VM 00000001 has no disk 2; its 2 disks are numbered from 0/);
  fails(() => manager.updateDevice(id, 'nic', 1, { rate_limiter: null }), 'not_found', /^VM 00000001 has no nic 1; its nic is numbered from 0/);
  fails(() => manager.updateDevice('0000beef', 'nic', 0, { rate_limiter: null }), 'not_found', /no VM with id/);
  const bare = manager.create({ ...spec(), name: 'bare', nics: [] }).id;
  fails(() => manager.updateDevice(bare, 'nic', 0, { rate_limiter: null }), 'not_found', /has no nic 0; it has no nics$/);
  manager.restore([{ id: '000000cc', spec: { ...spec(), name: 'dead' }, balloon_mib: 0, desired: 'stopped', state: 'crashed', created_at: '' }]);
  fails(() => manager.updateDevice('000000cc', 'disk', 0, { rate_limiter: null }), 'conflict', /it is crashed; update-disk is allowed only when it is created, running, paused or stopped/);
  assert.deepEqual(manager.inspect('000000cc').config.disks[0].rate_limiter, spec().disks[0].rate_limiter);
  assert.equal(saved.length, before + 1, 'only the second create was stored');
  assert.equal(threads.length, 0);
});
