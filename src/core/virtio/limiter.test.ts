// Tests of rate limiting in virtio-blk and virtio-net, with the hypervisor's token buckets and a fake clock:
// throttled queues serve only what the tokens allow, keep their order, lose nothing, resume on the device
// timer, and resume at once when the limits are lifted live.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { GuestRam } from '../machine/memory.js';
import { VirtioMmio } from './mmio.js';
import { MockDriver } from './mock-driver.js';
import { MemoryBlockBackend } from './blk/backend.js';
import { BlkType, VirtioBlk } from './blk/blk.js';
import { VirtioNet, NET_F_MRG_RXBUF } from './net/net.js';
import type { NetBackend } from './net/backend.js';
import type { IoLimiter } from './limiter.js';
import { RateLimiter, type RateLimiterConfig } from '../../hypervisor/rate-limiter.js';

const BASE = 0x8000_0000;
const SECTOR = 512;

/** A clock the test moves by hand, in ms. */
function fakeClock() {
  const c = { ms: 0, armed: 0 };
  return { c, host: { clock: { nowNs: () => c.ms * 1e6 }, timerArmed: () => c.armed++ } };
}

/** The device's timer deadline in ms (Infinity: none). */
const deadline = (dev: VirtioMmio) => dev.timerDeadlineNs / 1e6;

// ---- virtio-blk ----

function blkSetup(cfg: RateLimiterConfig | null, sectors = 256) {
  const { c, host } = fakeClock();
  const ram = new GuestRam(BASE, 2 << 20);
  const disk = Uint8Array.from({ length: sectors * SECTOR }, (_, i) => (i * 31 + (i >> 9)) & 0xff);
  const backend = new MemoryBlockBackend(disk);
  const limiter = cfg ? new RateLimiter(cfg, 0) : null;
  const blk = new VirtioBlk({ backend, serial: 'limited', limiter: limiter ?? undefined });
  const dev = new VirtioMmio(blk, ram, { set: () => {} }, () => {}, host);
  const drv = new MockDriver(dev, ram);
  drv.init();
  /** Moves the clock to `ms` and lets the device's timer fire if due (what the VM's run loop does). */
  const at = (ms: number) => {
    c.ms = ms;
    dev.pollTimer();
  };
  return { c, disk, backend, limiter, blk, dev, drv, at };
}

function header(type: number, sector: number): Uint8Array {
  const h = new Uint8Array(16);
  const v = new DataView(h.buffer);
  v.setUint32(0, type, true);
  v.setBigUint64(8, BigInt(sector), true);
  return h;
}

/** Queues a read of `count` sectors (data and status in separate buffers); returns the chain's head. */
const addRead = (drv: MockDriver, sector: number, count: number) =>
  drv.add(0, [{ data: header(BlkType.IN, sector) }, { writable: count * SECTOR }, { writable: 1 }]);

test('blk: a throttled queue serves requests only as the bandwidth allows, in ring order, none lost; the timer resumes it', () => {
  // 4 KiB per second, full at start: two 2 KiB reads at once, then one every 500 ms
  const { c, disk, blk, dev, drv, at } = blkSetup({ bandwidth: { size: 4096, refillTimeMs: 1000 } });
  const heads = Array.from({ length: 8 }, (_, i) => addRead(drv, 4 * i, 4));
  drv.kick(0);
  const done = drv.used(0);
  assert.deepEqual(done.map((u) => u.id), heads.slice(0, 2));
  assert.equal(blk.stats.throttled, 1);
  assert.equal(deadline(dev), 500, 'the timer is armed for when 2 KiB are back');
  assert.ok(c.armed >= 1, 'the machine was told about the new deadline');
  // the guest notifying again changes nothing while the queue waits
  drv.kick(0);
  assert.equal(drv.used(0).length, 0);
  assert.equal(blk.stats.throttled, 1, 'a waiting queue does not ask the limiter again');
  at(499.9);
  assert.equal(drv.used(0).length, 0, 'nothing before the deadline');
  const times: number[] = [0, 0];
  for (let t = 500; t <= 3000; t += 50) {
    at(t);
    for (const u of drv.used(0)) {
      done.push(u);
      times.push(t);
    }
  }
  assert.deepEqual(done.map((u) => u.id), heads, 'every request, in ring order');
  assert.deepEqual(times, [0, 0, 500, 1000, 1500, 2000, 2500, 3000]);
  done.forEach((u, i) => {
    assert.equal(u.len, 2048 + 1);
    assert.deepEqual(u.data.subarray(0, 2048), disk.subarray(i * 2048, (i + 1) * 2048), `data of request ${i}`);
    assert.equal(u.data[2048], 0, 'status OK');
  });
  assert.equal(blk.stats.readOps, 8);
  assert.equal(blk.stats.throttled, 6);
  assert.equal(deadline(dev), Infinity, 'no timer once the queue is empty');
});

test('blk: the ops bucket counts every request type, writes land in ring order', () => {
  const { backend, blk, drv, at } = blkSetup({ ops: { size: 2, refillTimeMs: 1000 } });
  const w = (sector: number, byte: number) => drv.add(0, [{ data: header(BlkType.OUT, sector) }, { data: new Uint8Array(SECTOR).fill(byte) }, { writable: 1 }]);
  const heads = [w(0, 1), drv.add(0, [{ data: header(BlkType.FLUSH, 0) }, { writable: 1 }]), w(0, 2), w(1, 3), w(0, 4)];
  drv.kick(0);
  assert.equal(drv.used(0).length, 2);
  at(499);
  assert.equal(drv.used(0).length, 0);
  at(500);
  assert.equal(drv.used(0).length, 1);
  assert.equal(backend.data[0], 2, 'the third request (a write) ran after the flush');
  at(1000);
  at(1500);
  assert.equal(drv.used(0).length, 2);
  assert.deepEqual([backend.data[0], backend.data[SECTOR]], [4, 3], 'the last write to sector 0 wins');
  assert.equal(blk.stats.flushOps, 1);
  assert.equal(blk.stats.writeOps, 4);
  assert.equal(heads.length, 5);
});

test('blk: lifting the limit live serves the waiting requests at once; a higher rate shortens the wait', () => {
  const { c, blk, limiter, dev, drv, at } = blkSetup({ bandwidth: { size: 8192, refillTimeMs: 1000 } });
  for (let i = 0; i < 20; i++) addRead(drv, 8 * i, 8); // 4 KiB each
  drv.kick(0);
  assert.equal(drv.used(0).length, 2);
  assert.equal(deadline(dev), 500);
  // raised in place: the balance is kept (no free burst), but tokens now come 64 times faster
  at(100);
  limiter!.update({ bandwidth: { size: 512 * 1024, refillTimeMs: 1000 } }, c.ms);
  blk.setLimiter(limiter);
  assert.equal(deadline(dev), 100, 'retried at once, not at the old deadline');
  at(100);
  const wait = deadline(dev) - 100;
  assert.ok(drv.used(0).length === 0 && wait > 0 && wait < 10, `throttled again for ${wait} ms at the new rate`);
  // removed: everything left is served on the next poll
  c.ms = 101;
  blk.setLimiter(null);
  at(101);
  assert.equal(drv.used(0).length, 18);
  assert.equal(deadline(dev), Infinity);
  // and a limiter added to a running queue applies to the next request
  blk.setLimiter(new RateLimiter({ ops: { size: 1, refillTimeMs: 1000 } }, c.ms));
  addRead(drv, 0, 1);
  addRead(drv, 0, 1);
  drv.kick(0);
  assert.equal(drv.used(0).length, 1);
  assert.equal(deadline(dev), 1101);
});

test('blk: a reset forgets the throttled request and cancels the timer', () => {
  const { blk, dev, drv, at } = blkSetup({ ops: { size: 1, refillTimeMs: 1000 } });
  addRead(drv, 0, 1);
  addRead(drv, 1, 1);
  drv.kick(0);
  assert.equal(drv.used(0).length, 1);
  assert.equal(deadline(dev), 1000);
  drv.init(); // status 0, then set up again
  assert.equal(deadline(dev), Infinity);
  at(1000);
  addRead(drv, 2, 1);
  drv.kick(0);
  const used = drv.used(0);
  assert.equal(used.length, 1, 'only the new request, not the one from before the reset');
  assert.equal(blk.stats.readOps, 2);
});

test('property: whatever the request sizes and the times the guest and the timer come, a blk queue never exceeds size + rate·t and serves all in order', () => {
  fc.assert(fc.property(
    fc.array(fc.integer({ min: 1, max: 16 }), { minLength: 1, maxLength: 30 }),
    fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 60 }),
    fc.integer({ min: 2048, max: 16384 }),
    (sizes, steps, size) => {
      const { blk, dev, drv, at, c } = blkSetup({ bandwidth: { size, refillTimeMs: 1000 } });
      const heads = sizes.map((n, i) => addRead(drv, i, n));
      drv.kick(0);
      const served: number[] = [];
      let bytes = 0;
      const collect = () => {
        for (const u of drv.used(0)) {
          served.push(u.id);
          bytes += u.len - 1;
        }
        // a request larger than the bucket may pass when it is full (and leaves a debt), hence one request of slack
        assert.ok(bytes <= size + (size * c.ms) / 1000 + 16 * SECTOR, `${bytes} bytes by ${c.ms} ms`);
      };
      collect();
      for (const s of steps) {
        at(c.ms + s);
        if (s % 3 === 0) drv.kick(0); // the guest notifies at random too
        collect();
      }
      // then let time run until the queue is empty
      for (let guard = 0; served.length < heads.length && guard < 1000; guard++) {
        at(Math.max(c.ms, deadline(dev)));
        collect();
      }
      assert.deepEqual(served, heads);
      assert.equal(blk.stats.readOps, sizes.length);
    },
  ), { numRuns: 100 });
});

// ---- virtio-net ----

class TestBackend implements NetBackend {
  sent: Uint8Array[] = [];
  receiver: ((f: Uint8Array) => void) | null = null;
  send(frame: Uint8Array): void {
    this.sent.push(frame.slice());
  }
  setReceiver(fn: (f: Uint8Array) => void): void {
    this.receiver = fn;
  }
  close(): void {}
}

function frameOf(len: number, seed: number): Uint8Array {
  const f = Uint8Array.from({ length: len }, (_, i) => (i * 7 + seed * 13 + 1) & 0xff);
  f.fill(0xff, 0, 6);
  return f;
}

function netSetup(tx: IoLimiter | null, rx: IoLimiter | null) {
  const { c, host } = fakeClock();
  const ram = new GuestRam(BASE, 4 << 20);
  const backend = new TestBackend();
  const net = new VirtioNet({ mac: Uint8Array.of(0x52, 0, 0, 0, 0, 1), backend, txLimiter: tx ?? undefined, rxLimiter: rx ?? undefined });
  const dev = new VirtioMmio(net, ram, { set: () => {} }, () => {}, host);
  const drv = new MockDriver(dev, ram);
  drv.init({ features: drv.offeredFeatures() & ~NET_F_MRG_RXBUF });
  const at = (ms: number) => {
    c.ms = ms;
    dev.pollTimer();
  };
  /** Frames received by the guest so far (one rx chain each, after the 12-byte header). */
  const received = () => drv.used(0).map((u) => u.data.subarray(12, u.len));
  const postRx = (n: number) => {
    for (let i = 0; i < n; i++) drv.add(0, [{ writable: 2048 }]);
    drv.kick(0);
  };
  return { c, backend, net, dev, drv, at, received, postRx, inject: (f: Uint8Array) => backend.receiver!(f) };
}

const txHeader = new Uint8Array(12);

test('net tx: frames leave only as the limiter allows, in order; a waiting chain is not returned early', () => {
  const { backend, net, dev, drv, at } = netSetup(new RateLimiter({ ops: { size: 3, refillTimeMs: 900 } }, 0), null);
  const frames = Array.from({ length: 7 }, (_, i) => frameOf(60 + i, i));
  for (const f of frames) drv.add(1, [{ data: txHeader }, { data: f }]);
  drv.kick(1);
  assert.equal(backend.sent.length, 3);
  assert.equal(drv.used(1).length, 3, 'the throttled chain stays with the device');
  assert.equal(net.stats.txThrottled, 1);
  assert.equal(deadline(dev), 300);
  drv.kick(1);
  assert.equal(backend.sent.length, 3);
  for (const t of [299, 300, 600, 900, 1200]) at(t);
  assert.deepEqual(backend.sent, frames);
  assert.equal(drv.used(1).length, 4);
  assert.equal(net.stats.txFrames, 7);
  assert.equal(deadline(dev), Infinity);
});

test('net rx: throttled frames wait in the backlog in order, overflow is tail-dropped and counted, the timer delivers the rest', () => {
  const { net, dev, at, received, postRx, inject } = netSetup(null, new RateLimiter({ bandwidth: { size: 1000, refillTimeMs: 1000 } }, 0));
  postRx(200);
  const frames = Array.from({ length: 300 }, (_, i) => frameOf(400, i));
  for (const f of frames) inject(f);
  let got = received();
  assert.equal(got.length, 2, '800 of the 1000 bytes');
  assert.equal(net.stats.rxThrottled, 1, 'counted once per stall, not per frame');
  assert.equal(net.stats.rxDropped, 300 - 2 - 256, 'the backlog holds 256 frames; later ones are dropped');
  assert.equal(deadline(dev), 200, '200 more bytes are needed for the third frame');
  // the guest posting buffers does not bypass the limiter
  postRx(10);
  assert.equal(received().length, 0);
  for (let t = 200; t <= 200 + 400 * 256; t += 400) {
    at(t);
    got = got.concat(received());
  }
  assert.equal(got.length, 2 + 208, 'one frame per 400 ms while buffers last (210 posted)');
  postRx(60);
  for (let i = 0; i < 100 && deadline(dev) !== Infinity; i++) {
    at(deadline(dev));
    got = got.concat(received());
  }
  got = got.concat(received());
  assert.deepEqual(got, frames.slice(0, 258), 'the first 258 frames, in order');
  assert.equal(net.stats.rxFrames, 258);
});

test('net rx: a frame that got its tokens but found no buffer is not charged again', () => {
  const { net, dev, received, postRx, inject } = netSetup(null, new RateLimiter({ ops: { size: 1, refillTimeMs: 1000 } }, 0));
  inject(frameOf(100, 1)); // takes the one token, then waits for a buffer
  assert.equal(net.stats.rxThrottled, 0);
  postRx(2);
  assert.deepEqual(received(), [frameOf(100, 1)]);
  inject(frameOf(100, 2));
  assert.equal(received().length, 0);
  assert.equal(net.stats.rxThrottled, 1);
  assert.equal(deadline(dev), 1000);
});

test('net: lifting both limits live resumes both directions at once', () => {
  const tx = new RateLimiter({ ops: { size: 1, refillTimeMs: 10_000 } }, 0);
  const rx = new RateLimiter({ ops: { size: 1, refillTimeMs: 10_000 } }, 0);
  const { backend, net, dev, drv, at, received, postRx, inject } = netSetup(tx, rx);
  postRx(5);
  for (let i = 0; i < 3; i++) drv.add(1, [{ data: txHeader }, { data: frameOf(80, i) }]);
  drv.kick(1);
  for (let i = 0; i < 3; i++) inject(frameOf(90, i));
  assert.equal(backend.sent.length, 1);
  assert.equal(received().length, 1);
  assert.equal(deadline(dev), 10_000);
  at(5);
  net.setLimiters(null, null);
  assert.equal(deadline(dev), 5);
  at(5);
  assert.equal(backend.sent.length, 3);
  assert.deepEqual(received(), [frameOf(90, 1), frameOf(90, 2)]);
  assert.equal(deadline(dev), Infinity);
});
