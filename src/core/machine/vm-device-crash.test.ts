// A failure of tvisor's own device emulation (the device code throws) ends the VM as crashed with the
// device named in the reason; a guest that merely breaks the virtio protocol only resets that device.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Vm } from './vm.js';
import { idleKernel } from './test-images.js';
import { S } from '../cpu/state.js';
import { MockDriver } from '../virtio/mock-driver.js';
import { VirtioRng } from '../virtio/rng/rng.js';
import type { VirtioEvent } from '../virtio/mmio.js';

/** An entropy device with a bug: serving a request throws. */
class BuggyRng extends VirtioRng {
  override notify(): void {
    throw new TypeError('cannot read properties of undefined (reading "length")');
  }
}

function machine(device: VirtioRng) {
  const events: VirtioEvent[] = [];
  const vm = new Vm({
    memory: 16 * 2 ** 20, cpus: 1, kernel: idleKernel(), cmdline: '', console: () => {}, random: (n) => new Uint8Array(n),
    devices: [device], onDeviceEvent: (e) => events.push(e),
  });
  vm.harts[0].s[S.STIMECMP] = -1;
  vm.harts[0].s[S.STIMECMP + 1] = -1;
  return { vm, events, drv: new MockDriver(vm.virtio[0], vm.ram) };
}

test('a device that throws ends the VM as crashed, naming the device', () => {
  const { vm, events, drv } = machine(new BuggyRng((n) => new Uint8Array(n)));
  assert.equal(vm.runSlice(1e6).exit, null);
  drv.init();
  drv.add(0, [{ writable: 16 }]);
  drv.kick(0);
  assert.equal(events.length, 1);
  assert.equal(events[0].internal, true);
  const r = vm.runSlice(1e6);
  assert.equal(r.exit?.kind, 'crashed');
  assert.match((r.exit as { reason: string }).reason, /^virtio-rng: internal error in queue 0: TypeError: cannot read properties/);
});

test('a guest breaking the protocol only resets the device; the VM runs on', () => {
  const { vm, events, drv } = machine(new VirtioRng((n) => new Uint8Array(n)));
  drv.init();
  drv.publish(0, 9999); // a head beyond the descriptor table
  drv.kick(0);
  const r = vm.runSlice(1e6);
  assert.equal(r.exit, null, 'the VM keeps running');
  assert.equal(events.length, 1);
  assert.equal(events[0].internal, false);
  assert.match(events[0].reason, /9999/);
});
