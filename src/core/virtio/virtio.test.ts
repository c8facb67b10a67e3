// Tests of the virtio-mmio transport and split virtqueues through the mock driver (virtio-rng as the device),
// including property-based fuzzing of hostile descriptor tables with fast-check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { GuestRam } from '../machine/memory.js';
import { DescFlag, F_RING_EVENT_IDX, F_RING_INDIRECT_DESC, F_VERSION_1, Irq, Reg, Status } from './constants.js';
import { VirtioMmio, type VirtioDevice, type VirtioEvent } from './mmio.js';
import { MockDriver } from './mock-driver.js';
import { VirtioRng } from './rng/rng.js';

const BASE = 0x8000_0000;

function setup(ramSize = 1 << 20) {
  const ram = new GuestRam(BASE, ramSize);
  let level = false;
  const events: VirtioEvent[] = [];
  let counter = 0;
  const draws: number[] = [];
  const rng = new VirtioRng((n) => {
    draws.push(n);
    return Uint8Array.from({ length: n }, () => (counter++ % 251) + 1);
  });
  const dev = new VirtioMmio(rng, ram, { set: (l) => (level = l) }, (e) => events.push(e));
  const drv = new MockDriver(dev, ram);
  return { ram, dev, drv, rng, events, draws, irq: () => level };
}

test('virtio-mmio identifies itself as a version 2 device and offers the transport features', () => {
  const { drv } = setup();
  assert.equal(drv.reg(Reg.MagicValue), 0x74726976);
  assert.equal(drv.reg(Reg.Version), 2);
  assert.equal(drv.reg(Reg.DeviceID), 4);
  assert.equal(drv.reg(Reg.VendorID), 0x554d4551, 'QEMU\'s vendor id, which drivers written for its virt board check (xv6)');
  const f = drv.offeredFeatures();
  assert.ok(f & F_VERSION_1 && f & F_RING_INDIRECT_DESC && f & F_RING_EVENT_IDX);
  drv.setReg(Reg.QueueSel, 0);
  assert.equal(drv.reg(Reg.QueueNumMax), 64);
  drv.setReg(Reg.QueueSel, 1);
  assert.equal(drv.reg(Reg.QueueNumMax), 0, 'no second queue');
});

test('feature negotiation refuses features not offered, and VERSION_1 missing unless the device accepts that', () => {
  const { drv, ram } = setup();
  assert.throws(() => drv.init({ features: F_VERSION_1 | (1n << 40n) }), /refused/);
  assert.equal(drv.status() & Status.FEATURES_OK, 0);
  // a device whose behaviour depends on VERSION_1 (here: a stand-in that does not say otherwise) refuses
  const device: VirtioDevice = {
    name: 'strict', deviceId: 4, deviceFeatures: 0n, queueSizes: [8],
    attach() {}, readConfig: () => 0, writeConfig() {}, activate() {}, notify() {}, reset() {},
  };
  const strict = new VirtioMmio(device, ram, { set() {} }, () => {});
  const strictDrv = new MockDriver(strict, ram);
  assert.throws(() => strictDrv.init({ features: F_RING_INDIRECT_DESC }), /refused/);
  assert.equal(strictDrv.status() & Status.FEATURES_OK, 0);
  assert.equal(drv.init({ features: F_VERSION_1 }), F_VERSION_1);
  assert.ok(drv.status() & Status.DRIVER_OK);
});

test('a driver written for legacy devices (xv6\'s) negotiates the low 32 bits without VERSION_1 where the device allows it', () => {
  // spec 6.2: a device MAY fail to operate if VERSION_1 is not accepted; QEMU goes on, and so does virtio-rng here
  const { drv, irq } = setup();
  const offered = drv.offeredFeatures();
  assert.equal(drv.init({ features: offered & 0xffffffffn & ~F_RING_INDIRECT_DESC & ~F_RING_EVENT_IDX, lowOnly: true }), 0n);
  assert.ok(drv.status() & Status.DRIVER_OK);
  drv.add(0, [{ writable: 8 }]);
  drv.kick(0);
  assert.equal(drv.used(0)[0].len, 8, 'and the device serves it');
  assert.ok(irq());
});

test('a direct chain is filled with host random bytes and returned with the written length', () => {
  const { drv, irq } = setup();
  drv.init({ features: F_VERSION_1 });
  drv.add(0, [{ writable: 10 }, { writable: 6 }]);
  drv.kick(0);
  const used = drv.used(0);
  assert.equal(used.length, 1);
  assert.equal(used[0].len, 16);
  assert.deepEqual([...used[0].data], Array.from({ length: 16 }, (_, i) => i + 1));
  assert.ok(irq());
  assert.equal(drv.ackInterrupt(), Irq.USED_BUFFER);
  assert.equal(irq(), false);
});

test('indirect descriptors are followed', () => {
  const { drv } = setup();
  drv.init();
  drv.add(0, [{ writable: 3 }, { writable: 5 }], { indirect: true });
  drv.kick(0);
  const [u] = drv.used(0);
  assert.equal(u.len, 8);
  assert.deepEqual([...u.data], [1, 2, 3, 4, 5, 6, 7, 8]);
});

test('readable buffers are not written; a chain with no writable space completes with length 0', () => {
  const { drv, ram } = setup();
  drv.init();
  drv.add(0, [{ data: Uint8Array.of(9, 9, 9) }]);
  drv.kick(0);
  const [u] = drv.used(0);
  assert.equal(u.len, 0);
  assert.ok(ram.u8.includes(9));
});

test('event index: interrupts only when used_event is crossed; avail_event follows the ring', () => {
  const { drv, irq } = setup();
  drv.init(); // EVENT_IDX negotiated
  drv.setUsedEvent(0, 5); // "interrupt me when the used index passes 5"
  for (let i = 0; i < 5; i++) {
    drv.add(0, [{ writable: 1 }]);
    drv.kick(0);
    assert.equal(irq(), false, `no interrupt at used index ${i + 1}`);
  }
  assert.equal(drv.availEvent(0), 5, 'device asks to be notified after avail index 5');
  drv.add(0, [{ writable: 1 }]);
  drv.kick(0);
  assert.ok(irq(), 'interrupt when used index reaches 6 (crossing used_event 5)');
  assert.equal(drv.used(0).length, 6);
});

test('without the event index, VIRTQ_AVAIL_F_NO_INTERRUPT suppresses interrupts', () => {
  const { drv, irq } = setup();
  drv.init({ features: F_VERSION_1 });
  drv.setAvailFlags(0, 1);
  drv.add(0, [{ writable: 4 }]);
  drv.kick(0);
  assert.equal(irq(), false);
  drv.setAvailFlags(0, 0);
  drv.add(0, [{ writable: 4 }]);
  drv.kick(0);
  assert.ok(irq());
});

test('hostile: a descriptor loop sets DEVICE_NEEDS_RESET with a config interrupt; a reset recovers', () => {
  const { drv, events, irq } = setup();
  drv.init();
  const buf = drv.alloc(16);
  drv.writeDesc(0, 0, { addr: buf, len: 8, flags: DescFlag.WRITE | DescFlag.NEXT, next: 1 });
  drv.writeDesc(0, 1, { addr: buf, len: 8, flags: DescFlag.WRITE | DescFlag.NEXT, next: 0 });
  drv.publish(0, 0);
  drv.kick(0);
  assert.ok(drv.status() & Status.DEVICE_NEEDS_RESET);
  assert.ok(irq());
  assert.equal(drv.ackInterrupt() & Irq.CONFIG_CHANGE, Irq.CONFIG_CHANGE);
  assert.equal(events.length, 1);
  assert.match(events[0].reason, /loop/);
  assert.equal(events[0].internal, false);
  assert.equal(drv.used(0).length, 0, 'nothing returned');
  // recovery: reset and initialise again
  drv.init();
  assert.equal(drv.status() & Status.DEVICE_NEEDS_RESET, 0);
  drv.add(0, [{ writable: 4 }]);
  drv.kick(0);
  assert.equal(drv.used(0)[0].len, 4);
});

test('hostile: buffers outside RAM, a readable buffer after a writable one, indirect misuse', () => {
  const cases: { name: string; descs: [number, { addr: number; len: number; flags: number; next: number }][]; features?: bigint; reason: RegExp }[] = [
    { name: 'address past RAM', descs: [[0, { addr: BASE + (1 << 20) - 4, len: 8, flags: DescFlag.WRITE, next: 0 }]], reason: /outside guest RAM/ },
    { name: 'address below RAM', descs: [[0, { addr: 0x1000, len: 8, flags: DescFlag.WRITE, next: 0 }]], reason: /outside guest RAM/ },
    { name: 'huge address', descs: [[0, { addr: 2 ** 64 - 4096, len: 4096, flags: DescFlag.WRITE, next: 0 }]], reason: /outside guest RAM/ },
    { name: 'huge length', descs: [[0, { addr: BASE + 0x20000, len: 0xffffffff, flags: DescFlag.WRITE, next: 0 }]], reason: /outside guest RAM/ },
    {
      name: 'readable after writable',
      descs: [[0, { addr: BASE + 0x20000, len: 8, flags: DescFlag.WRITE | DescFlag.NEXT, next: 1 }], [1, { addr: BASE + 0x20100, len: 8, flags: 0, next: 0 }]],
      reason: /readable buffer after/,
    },
    { name: 'next out of range', descs: [[0, { addr: BASE + 0x20000, len: 8, flags: DescFlag.WRITE | DescFlag.NEXT, next: 999 }]], reason: /outside a table/ },
    { name: 'indirect with NEXT', descs: [[0, { addr: BASE + 0x20000, len: 32, flags: DescFlag.INDIRECT | DescFlag.NEXT, next: 1 }]], reason: /NEXT/ },
    { name: 'indirect with odd length', descs: [[0, { addr: BASE + 0x20000, len: 24, flags: DescFlag.INDIRECT, next: 0 }]], reason: /multiple of 16/ },
    { name: 'indirect not negotiated', features: F_VERSION_1, descs: [[0, { addr: BASE + 0x20000, len: 16, flags: DescFlag.INDIRECT, next: 0 }]], reason: /without VIRTIO_F_RING_INDIRECT_DESC/ },
  ];
  for (const c of cases) {
    const { drv, events } = setup();
    drv.init(c.features ? { features: c.features } : {});
    for (const [i, d] of c.descs) drv.writeDesc(0, i, d);
    drv.publish(0, 0);
    drv.kick(0);
    assert.ok(drv.status() & Status.DEVICE_NEEDS_RESET, c.name);
    assert.match(events[0]?.reason ?? '', c.reason, c.name);
  }
});

test('hostile: an available index far ahead of the ring and a head index out of range', () => {
  for (const bad of ['idx', 'head'] as const) {
    const { drv, events } = setup();
    drv.init();
    if (bad === 'idx') drv.setAvailIdx(0, 1000);
    else drv.publish(0, 60000);
    drv.kick(0);
    assert.ok(drv.status() & Status.DEVICE_NEEDS_RESET, bad);
    assert.equal(events.length, 1);
  }
});

test('hostile: rings placed outside RAM never become ready', () => {
  const { drv, events } = setup();
  drv.setReg(Reg.Status, Status.ACKNOWLEDGE | Status.DRIVER);
  drv.setReg(Reg.DriverFeaturesSel, 1);
  drv.setReg(Reg.DriverFeatures, 1);
  drv.setReg(Reg.Status, Status.ACKNOWLEDGE | Status.DRIVER | Status.FEATURES_OK);
  drv.setReg(Reg.QueueSel, 0);
  drv.setReg(Reg.QueueNum, 64);
  drv.setReg(Reg.QueueDescLow, 0x1000);
  drv.setReg(Reg.QueueReady, 1);
  assert.equal(drv.reg(Reg.QueueReady), 0);
  assert.ok(drv.status() & Status.DEVICE_NEEDS_RESET);
  assert.match(events[0].reason, /outside guest RAM/);
});

test('a device bug is contained: DEVICE_NEEDS_RESET, reported as internal, no exception escapes', () => {
  const { drv, rng, events } = setup();
  drv.init();
  (rng as unknown as { random: unknown }).random = () => {
    throw new Error('entropy source failed');
  };
  drv.add(0, [{ writable: 4 }]);
  assert.doesNotThrow(() => drv.kick(0));
  assert.ok(drv.status() & Status.DEVICE_NEEDS_RESET);
  assert.equal(events[0].internal, true);
  assert.match(events[0].reason, /entropy source failed/);
});

test('config generation and registers read at the wrong width', () => {
  const { dev, drv } = setup();
  assert.equal(dev.read(Reg.MagicValue, 2), 0);
  assert.equal(dev.read(Reg.MagicValue, 8), 0n);
  const g = drv.reg(Reg.ConfigGeneration);
  dev.configChanged();
  assert.equal(drv.reg(Reg.ConfigGeneration), (g + 1) >>> 0);
});

// Property-based fuzzing: arbitrary descriptor tables, indirect tables and ring indices. Whatever the guest
// writes, the transport must not throw, must only write into RAM the guest marked device-writable or the used
// ring, and must either complete chains with lengths within their writable space or set DEVICE_NEEDS_RESET.
test('fuzz: hostile descriptor tables never escape the guest\'s writable buffers', () => {
  const RAM = 256 * 1024;
  const addrArb = fc.oneof(
    fc.integer({ min: BASE, max: BASE + RAM - 1 }),
    fc.integer({ min: BASE + RAM - 64, max: BASE + RAM + 64 }),
    fc.constantFrom(0, 0x1000, BASE - 8, 2 ** 32 - 8, 2 ** 52, 2 ** 64 - 16),
  );
  const lenArb = fc.oneof(fc.integer({ min: 0, max: 4096 }), fc.constantFrom(0, 1, 0xffff, 0x7fffffff, 0xffffffff));
  const descArb = fc.record({
    addr: addrArb,
    len: lenArb,
    flags: fc.integer({ min: 0, max: 7 }),
    next: fc.oneof(fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 0xffff })),
  });
  fc.assert(
    fc.property(
      fc.array(descArb, { minLength: 16, maxLength: 16 }),
      fc.array(descArb, { minLength: 1, maxLength: 8 }),
      fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 6 }),
      fc.integer({ min: 0, max: 0xffff }),
      fc.boolean(),
      (table, indirectTable, heads, availIdx, indirect) => {
        const { ram, drv, draws } = setup(RAM);
        drv.init({ features: F_VERSION_1 | F_RING_EVENT_IDX | (indirect ? F_RING_INDIRECT_DESC : 0n), queueSizes: [16] });
        const itab = drv.alloc(16 * indirectTable.length, 16);
        indirectTable.forEach((d, i) => drv.writeDesc(0, i, d, itab));
        // point some descriptors at the indirect table so that path gets exercised
        table.forEach((d, i) => drv.writeDesc(0, i, d.flags & DescFlag.INDIRECT && i % 2 === 0 ? { ...d, addr: itab, len: 16 * indirectTable.length } : d));
        for (const h of heads) drv.publish(0, h);
        if (availIdx % 3 === 0) drv.setAvailIdx(0, availIdx);
        // which bytes may change: writable buffers named in either table, and the used ring. A guest may
        // point a writable buffer at its own rings (its business, not the host's); then the tables change
        // under the device and only "no exception, nothing outside RAM" is checked.
        const allowed: [number, number][] = [];
        const read = (t: number, n: number) => Array.from({ length: n }, (_, i) => {
          const v = new DataView(ram.u8.buffer, t - BASE + 16 * i, 16);
          return { addr: v.getUint32(0, true) + v.getUint32(4, true) * 2 ** 32, len: v.getUint32(8, true), flags: v.getUint16(12, true) };
        });
        for (const d of [...read(drv.layout(0).desc, 16), ...read(itab, indirectTable.length)]) {
          if (d.flags & DescFlag.WRITE) allowed.push([d.addr - BASE, d.addr - BASE + d.len]);
        }
        const l = drv.layout(0);
        const rings: [number, number][] = [[l.desc - BASE, l.desc - BASE + 256], [itab - BASE, itab - BASE + 16 * indirectTable.length], [l.avail - BASE, l.avail - BASE + 38]];
        const selfOverwrite = allowed.some(([a, b]) => rings.some(([c, d]) => a < d && c < b));
        const used = l.used - BASE;
        allowed.push([used, used + 6 + 8 * 16]);
        const before = ram.u8.slice();
        drv.kick(0);
        for (let i = 0; i < RAM && !selfOverwrite; i++) {
          if (before[i] !== ram.u8[i] && !allowed.some(([a, b]) => i >= a && i < b)) {
            throw new Error(`byte at RAM+0x${i.toString(16)} changed outside any writable buffer`);
          }
        }
        for (const u of drv.used(0)) {
          if (u.len > u.data.length && u.data.length > 0) throw new Error('used length exceeds the writable space');
        }
        if (draws.some((n) => n > 65536)) throw new Error('drew more than the fill limit');
        return true;
      },
    ),
    { numRuns: 400 },
  );
});
