// virtio-balloon through the mock driver: target, inflate/deflate accounting, statistics, hostile PFNs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GuestRam } from '../../machine/memory.js';
import { DescFlag, Irq, Reg } from '../constants.js';
import { VirtioMmio, type VirtioEvent } from '../mmio.js';
import { MockDriver } from '../mock-driver.js';
import { VirtioBalloon } from './balloon.js';

const BASE = 0x8000_0000;

function setup() {
  const ram = new GuestRam(BASE, 4 << 20);
  const b = new VirtioBalloon({ ramBase: BASE, ramSize: ram.size });
  const dev = new VirtioMmio(b, ram, { set: () => {} });
  return { b, drv: new MockDriver(dev, ram), ram };
}

function setupWithEvents() {
  const ram = new GuestRam(BASE, 4 << 20);
  const b = new VirtioBalloon({ ramBase: BASE, ramSize: ram.size });
  const events: VirtioEvent[] = [];
  const dev = new VirtioMmio(b, ram, { set: () => {} }, (e) => events.push(e));
  return { b, drv: new MockDriver(dev, ram), ram, events };
}

const pfns = (...addrs: number[]) => {
  const a = new Uint8Array(4 * addrs.length);
  addrs.forEach((x, i) => new DataView(a.buffer).setUint32(4 * i, Math.floor(x / 4096), true));
  return a;
};

test('virtio-balloon: the target reaches the guest with a config interrupt', () => {
  const { b, drv } = setup();
  drv.init();
  drv.ackInterrupt();
  b.setTarget(1 << 20);
  assert.equal(drv.reg(Reg.Config), 256, 'num_pages');
  assert.equal(drv.ackInterrupt(), Irq.CONFIG_CHANGE);
  b.setTarget(64 << 20);
  assert.equal(drv.reg(Reg.Config), 1024, 'clamped to guest RAM');
});

test('virtio-balloon: inflated pages are accounted and zeroed, deflated ones given back', () => {
  const { b, drv, ram } = setup();
  drv.init();
  ram.u8.fill(0x5a, 0x200000, 0x202000);
  drv.add(0, [{ data: pfns(BASE + 0x200000, BASE + 0x201000, BASE + 0x201000) }]);
  drv.kick(0);
  assert.equal(b.returnedBytes, 8192, 'a repeated PFN counts once');
  assert.ok(ram.u8.subarray(0x200000, 0x202000).every((x) => x === 0));
  drv.setReg(Reg.Config + 4, 2); // actual
  assert.equal(b.actualBytes, 8192);
  drv.add(1, [{ data: pfns(BASE + 0x200000) }]);
  drv.kick(1);
  assert.equal(b.returnedBytes, 4096);
  drv.add(0, [{ data: pfns(0x1000, 2 ** 44) }]);
  drv.kick(0);
  assert.equal(b.invalidPfns, 2, 'PFNs outside RAM are ignored');
  assert.equal(drv.used(0).length, 2);
});

test('virtio-balloon: statistics arrive on statsq and are requested again by returning the buffer', () => {
  const { b, drv } = setup();
  drv.init();
  const entry = (tag: number, value: number) => {
    const e = new Uint8Array(10);
    const v = new DataView(e.buffer);
    v.setUint16(0, tag, true);
    v.setUint32(2, value, true);
    return e;
  };
  const stats = new Uint8Array([...entry(4, 1000), ...entry(5, 4096)]);
  drv.add(2, [{ data: stats }]);
  drv.kick(2);
  assert.deepEqual(b.guestStats, { free_memory: 1000, total_memory: 4096 });
  assert.equal(drv.used(2).length, 0, 'held until stats are wanted');
  assert.ok(b.requestStats());
  assert.equal(drv.used(2).length, 1);
  assert.equal(b.requestStats(), false, 'nothing held');
});

test('virtio-balloon: a chain longer than guest RAM has pages is read only that far (no host allocation of GiBs)', () => {
  const { b, drv, ram, events } = setupWithEvents();
  drv.init();
  // an indirect table of 512 descriptors, each covering all 4 MiB of RAM: 2 GiB of "page numbers"
  const table = drv.alloc(16 * 512, 16);
  for (let i = 0; i < 512; i++) drv.writeDesc(0, i, { addr: BASE, len: ram.size, flags: i < 511 ? DescFlag.NEXT : 0, next: i + 1 }, table);
  new DataView(ram.u8.buffer).setUint32(0, (BASE + 0x300000) / 4096, true); // the first PFN names a page in RAM
  drv.writeDesc(0, 0, { addr: table, len: 16 * 512, flags: DescFlag.INDIRECT, next: 0 });
  drv.publish(0, 0);
  drv.kick(0);
  assert.deepEqual(events, []);
  assert.equal(drv.used(0).length, 1);
  assert.equal(b.returnedBytes, 4096);
});
