// A virtio-mmio transport's saved state, with its queues: a driver that set a device up and used it goes on
// using a fresh transport restored from the record (over a copy of its RAM) as if nothing happened.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GuestRam } from '../machine/memory.js';
import { F_RING_EVENT_IDX, F_VERSION_1, Irq, Reg, Status } from '../virtio/constants.js';
import { VirtioMmio } from '../virtio/mmio.js';
import { MockDriver } from '../virtio/mock-driver.js';
import { VirtioRng } from '../virtio/rng/rng.js';
import { VirtioConsole } from '../virtio/console/console.js';
import { VirtioBalloon } from '../virtio/balloon/balloon.js';
import { VirtioBlk } from '../virtio/blk/blk.js';
import { MemoryBlockBackend } from '../virtio/blk/backend.js';
import { VirtioNet } from '../virtio/net/net.js';
import type { NetBackend } from '../virtio/net/backend.js';
import { RateLimiter } from '../../hypervisor/rate-limiter.js';
import { SnapshotError } from './state.js';

const BASE = 0x8000_0000;
const json = <T>(v: T): unknown => JSON.parse(JSON.stringify(v));

function transport(ram: GuestRam) {
  let level = false;
  const rng = new VirtioRng((n) => new Uint8Array(n).fill(0x5a));
  const dev = new VirtioMmio(rng, ram, { set: (l) => (level = l) });
  return { dev, irq: () => level };
}

test('a used virtqueue goes on from a restored transport: indexes, features, interrupt status', () => {
  const ram = new GuestRam(BASE, 1 << 20);
  const a = transport(ram);
  const drv = new MockDriver(a.dev, ram);
  drv.init({ features: F_VERSION_1 | F_RING_EVENT_IDX });
  for (let i = 0; i < 3; i++) {
    drv.add(0, [{ writable: 8 }]);
    drv.kick(0);
  }
  assert.equal(drv.used(0).length, 3);
  assert.ok(a.irq(), 'an interrupt is pending (not yet acknowledged)');
  const saved = json(a.dev.save());

  const ram2 = new GuestRam(BASE, 1 << 20);
  ram2.u8.set(ram.u8.subarray(0, 1 << 20));
  const b = transport(ram2);
  b.dev.restore(saved);
  assert.deepEqual(json(b.dev.save()), saved);
  assert.ok(b.irq(), 'the pending interrupt is asserted again');
  (drv as unknown as { dev: VirtioMmio; ram: GuestRam }).dev = b.dev;
  (drv as unknown as { dev: VirtioMmio; ram: GuestRam }).ram = ram2;
  assert.equal(drv.ackInterrupt(), Irq.USED_BUFFER);
  assert.equal(b.irq(), false);
  assert.equal(drv.status() & Status.DRIVER_OK, Status.DRIVER_OK);
  drv.setUsedEvent(0, 3); // event index: interrupt once the used index passes 3
  const head = drv.add(0, [{ writable: 4 }]);
  drv.kick(0);
  const used = drv.used(0);
  assert.deepEqual(used.map((u) => [u.id, u.len, [...u.data]]), [[head, 4, [0x5a, 0x5a, 0x5a, 0x5a]]], 'the fourth request, in the next used slot');
  assert.ok(b.irq(), 'the driver\'s used_event is honoured with the restored signalled index');
});

test('a transport record for another device type, queue layout or features is refused by name', () => {
  const ram = new GuestRam(BASE, 1 << 20);
  const a = transport(ram);
  new MockDriver(a.dev, ram).init({ features: F_VERSION_1 });
  const good = a.dev.save();
  const b = transport(ram);
  const q = good.queues[0];
  const cases: [unknown, RegExp][] = [
    [{ ...good, version: 0 }, /virtio virtio-rng is of version 0/],
    [{ ...good, features: String(1n << 50n) }, /features holds bits this device does not offer/],
    [{ ...good, queues: [] }, /virtio virtio-rng\.queues must be an array of 1 records/],
    [{ ...good, queues: [{ ...q, size: 65 }] }, /queues\[0\]\.size must be a whole number from 0 to 64/],
    [{ ...good, queues: [{ ...q, desc: 0x4000_0000 }] }, /virtio virtio-rng: virtqueue ring outside guest RAM/],
    [{ ...good, queues: [{ ...q, size: 48 }] }, /queue size 48 is not a power of 2/],
  ];
  for (const [rec, why] of cases) assert.throws(() => b.dev.restore(rec), (e: unknown) => e instanceof SnapshotError && why.test(e.message), String(why));
  const con = new VirtioMmio(new VirtioConsole(() => {}, { cols: 80, rows: 25 }), ram, { set: () => {} });
  assert.throws(() => con.restore(good), /holds the state of device type 4, not 3/);
  assert.equal(b.dev.read(Reg.Status, 4), 0, 'a refused restore leaves the transport reset');
});

/** Moves a mock driver over to a restored transport and its copy of RAM. */
function handOver(drv: MockDriver, dev: VirtioMmio, ram: GuestRam): void {
  Object.assign(drv as unknown as { dev: VirtioMmio; ram: GuestRam }, { dev, ram });
}

/** A copy of `ram` (same base and size). */
function copyOf(ram: GuestRam): GuestRam {
  const c = new GuestRam(BASE, ram.size);
  c.u8.set(ram.u8.subarray(0, ram.size));
  return c;
}

test('virtio-console: its size and the input the guest had not taken yet come back', () => {
  const ram = new GuestRam(BASE, 1 << 20);
  const con = new VirtioConsole(() => {}, { cols: 132, rows: 43 });
  const dev = new VirtioMmio(con, ram, { set: () => {} });
  const drv = new MockDriver(dev, ram);
  drv.init({ features: F_VERSION_1 });
  con.receive(new TextEncoder().encode('typed before the guest had buffers'));
  const saved = json(dev.save());
  const ram2 = copyOf(ram);
  const con2 = new VirtioConsole(() => {}, { cols: 80, rows: 25 });
  const dev2 = new VirtioMmio(con2, ram2, { set: () => {} });
  dev2.restore(saved);
  assert.deepEqual(json(dev2.save()), saved);
  assert.equal(dev2.read(0x100, 2), 132, 'cols');
  handOver(drv, dev2, ram2);
  drv.add(0, [{ writable: 64 }]);
  drv.kick(0);
  const [got] = drv.used(0);
  assert.equal(new TextDecoder().decode(got.data.subarray(0, got.len)), 'typed before the guest had buffers');
});

test('virtio-balloon: the pages in the balloon, the statistics and the held statistics buffer come back', () => {
  const ram = new GuestRam(BASE, 4 << 20);
  const b = new VirtioBalloon({ ramBase: BASE, ramSize: ram.size });
  const dev = new VirtioMmio(b, ram, { set: () => {} });
  const drv = new MockDriver(dev, ram);
  drv.init();
  b.setTarget(3 * 4096);
  const pfns = new Uint8Array(12);
  [0x100, 0x101, 0x200].forEach((p, i) => new DataView(pfns.buffer).setUint32(4 * i, (BASE >>> 12) + p, true));
  drv.add(0, [{ data: pfns }]);
  drv.kick(0);
  const stat = new Uint8Array(10);
  new DataView(stat.buffer).setUint16(0, 4, true);
  new DataView(stat.buffer).setUint32(2, 777, true);
  drv.add(2, [{ data: stat }]);
  drv.kick(2);
  assert.equal(b.returnedBytes, 3 * 4096);
  const saved = json(dev.save()) as { device: { runs: number[] } };
  assert.deepEqual(saved.device.runs, [0x100, 2, 0x200, 1]);
  const ram2 = copyOf(ram);
  const b2 = new VirtioBalloon({ ramBase: BASE, ramSize: ram2.size });
  const dev2 = new VirtioMmio(b2, ram2, { set: () => {} });
  dev2.restore(saved);
  assert.deepEqual(json(dev2.save()), saved);
  assert.equal(b2.returnedBytes, 3 * 4096);
  assert.equal(b2.targetBytes, 3 * 4096);
  assert.deepEqual(b2.guestStats, { free_memory: 777 });
  handOver(drv, dev2, ram2);
  assert.ok(b2.requestStats(), 'the held buffer is given back to ask for fresh statistics');
  assert.equal(drv.used(2).length, 1);
  assert.throws(() => dev2.restore({ ...saved, device: { ...saved.device, runs: [0x3ff, 2] } }), /virtio-balloon\.runs\[0\] reaches beyond guest RAM/);
});

/** A transport on a clock the test moves by hand (ms), for devices with rate limiters. */
function clocked(device: ConstructorParameters<typeof VirtioMmio>[0], ram: GuestRam, startMs: number) {
  const c = { ms: startMs };
  const dev = new VirtioMmio(device, ram, { set: () => {} }, () => {}, { clock: { nowNs: () => c.ms * 1e6 } });
  const at = (ms: number) => {
    c.ms = ms;
    dev.pollTimer();
  };
  return { dev, at };
}

test('virtio-blk: the request its limiter held and the tokens left come back; the queue resumes in order', () => {
  const cfg = { bandwidth: { size: 4096, refillTimeMs: 1000 } }; // 4 KiB/s: two 2 KiB reads at once, then one per 500 ms
  const disk = Uint8Array.from({ length: 64 * 512 }, (_, i) => (i * 7) & 0xff);
  const ram = new GuestRam(BASE, 2 << 20);
  const blk = new VirtioBlk({ backend: new MemoryBlockBackend(disk), serial: 's', limiter: new RateLimiter(cfg, 0) });
  const a = clocked(blk, ram, 0);
  const drv = new MockDriver(a.dev, ram);
  drv.init();
  const header = (sector: number) => {
    const h = new Uint8Array(16);
    new DataView(h.buffer).setBigUint64(8, BigInt(sector), true); // type 0: read
    return h;
  };
  const heads = Array.from({ length: 4 }, (_, i) => drv.add(0, [{ data: header(4 * i) }, { writable: 2048 }, { writable: 1 }]));
  drv.kick(0);
  assert.deepEqual(drv.used(0).map((u) => u.id), heads.slice(0, 2));
  a.at(100); // 409.6 bytes of tokens back
  const saved = json(a.dev.save()) as { device: { throttled: boolean } };
  assert.equal(saved.device.throttled, true);

  const ram2 = copyOf(ram);
  const blk2 = new VirtioBlk({ backend: new MemoryBlockBackend(disk), serial: 's', limiter: new RateLimiter(cfg, 5000) }); // full
  const b = clocked(blk2, ram2, 5000); // another clock
  b.dev.restore(saved);
  handOver(drv, b.dev, ram2);
  b.at(5000);
  assert.equal(drv.used(0).length, 0, 'the tokens are the saved ones, not a full bucket');
  b.at(5399);
  assert.equal(drv.used(0).length, 0);
  b.at(5400);
  const third = drv.used(0);
  assert.deepEqual(third.map((u) => u.id), [heads[2]], 'the held request first');
  assert.deepEqual(third[0].data.subarray(0, 2048), disk.subarray(8 * 512, 12 * 512));
  b.at(5900);
  assert.deepEqual(drv.used(0).map((u) => u.id), [heads[3]]);
});

test('virtio-net: frames waiting for rx buffers and the carrier come back; the guest receives them after a restore', () => {
  let deliver: (f: Uint8Array) => void = () => {};
  const backend = (): NetBackend => ({ send: () => {}, setReceiver: (fn) => { deliver = fn; }, close: () => {} });
  const ram = new GuestRam(BASE, 2 << 20);
  const net = new VirtioNet({ mac: Uint8Array.of(2, 0, 0, 0, 0, 1), backend: backend() });
  const dev = new VirtioMmio(net, ram, { set: () => {} });
  const drv = new MockDriver(dev, ram);
  drv.init();
  const frames = [60, 61, 62].map((n) => Uint8Array.from({ length: n }, (_, i) => (i + n) & 0xff));
  for (const f of frames) deliver(f); // no rx buffers yet: the backlog holds them
  const saved = json(dev.save()) as { device: { backlog: string[] } };
  assert.equal(saved.device.backlog.length, 3);
  const ram2 = copyOf(ram);
  const net2 = new VirtioNet({ mac: Uint8Array.of(2, 0, 0, 0, 0, 1), backend: backend() });
  const dev2 = new VirtioMmio(net2, ram2, { set: () => {} });
  dev2.restore(saved);
  assert.deepEqual(json(dev2.save()), saved);
  handOver(drv, dev2, ram2);
  for (let i = 0; i < 3; i++) drv.add(0, [{ writable: 1526 }]);
  drv.kick(0);
  const got = drv.used(0).map((u) => u.data.subarray(12, u.len)); // after the 12-byte virtio-net header
  assert.deepEqual(got, frames);
  assert.throws(() => dev2.restore({ ...saved, device: { ...saved.device, backlog: ['not base64!'] } }), /backlog\[0\] must be base64/);
});
