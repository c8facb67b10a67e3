// Tests that the VM runs virtio device timers (rate limiting) on its own clock: an idle VM's deadline includes
// a throttled device's timer, the run loop fires it, and arming it wakes a parked VM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Vm } from './vm.js';
import { idleKernel } from './test-images.js';
import { S } from '../cpu/state.js';
import { MockDriver } from '../virtio/mock-driver.js';
import { MemoryBlockBackend } from '../virtio/blk/backend.js';
import { BlkType, VirtioBlk } from '../virtio/blk/blk.js';
import { RateLimiter } from '../../hypervisor/rate-limiter.js';

function readRequest(drv: MockDriver, sector: number): void {
  const h = new Uint8Array(16);
  new DataView(h.buffer).setUint32(0, BlkType.IN, true);
  new DataView(h.buffer).setBigUint64(8, BigInt(sector), true);
  drv.add(0, [{ data: h }, { writable: 512 }, { writable: 1 }]);
}

test('a throttled device\'s timer counts in the idle deadline, fires from the run loop, and wakes a parked VM', () => {
  const clock = { ns: 0, nowNs() { return this.ns; } };
  const blk = new VirtioBlk({
    backend: new MemoryBlockBackend(new Uint8Array(64 * 512)),
    serial: 'timed',
    limiter: new RateLimiter({ ops: { size: 1, refillTimeMs: 1000 } }, 0),
  });
  const vm = new Vm({
    memory: 16 * 2 ** 20, cpus: 1, kernel: idleKernel(), cmdline: '', console: () => {}, random: (n) => new Uint8Array(n), clock, devices: [blk],
  });
  // stimecmp as a guest that wants no timer leaves it (all ones), so only the device can set a deadline
  vm.harts[0].s[S.STIMECMP] = -1;
  vm.harts[0].s[S.STIMECMP + 1] = -1;
  let wakes = 0;
  vm.onWake = () => wakes++;
  assert.equal(vm.runSlice(1e6).idle, true);
  assert.ok(vm.idleForNs() > 1e12, 'no timer anywhere: the VM would sleep until an interrupt');

  const drv = new MockDriver(vm.virtio[0], vm.ram);
  drv.init();
  wakes = 0;
  readRequest(drv, 0);
  readRequest(drv, 1);
  drv.kick(0);
  assert.equal(drv.used(0).length, 1, 'one token: one request now');
  assert.equal(blk.stats.throttled, 1);
  assert.ok(wakes > 0, 'arming the timer woke the VM, so a parked VM recomputes its deadline');
  assert.equal(vm.idleForNs(), 1e9, 'the idle deadline is the device timer');
  clock.ns = 0.6e9;
  assert.equal(vm.runSlice(1e6).idle, true);
  assert.equal(drv.used(0).length, 0, 'not before the deadline');
  assert.equal(vm.idleForNs(), 0.4e9);
  clock.ns = 1e9;
  vm.runSlice(1e6);
  assert.equal(drv.used(0).length, 1, 'the run loop fired the device timer');
  assert.ok(vm.idleForNs() > 1e12, 'and nothing is armed any more');
});
