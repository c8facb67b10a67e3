// Tests of virtio-blk (virtio 1.2 section 5.2) through the mock driver with a memory disk: every request type,
// read-only disks, host errors, malformed chains, and a fast-check model test of random request sequences.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { GuestRam } from '../../machine/memory.js';
import { concatBytes } from '../../test-bytes.js';
import { DescFlag, F_RING_INDIRECT_DESC, F_VERSION_1, Reg, Status } from '../constants.js';
import { VirtioMmio, type VirtioEvent } from '../mmio.js';
import { MockDriver, type MockBuffer } from '../mock-driver.js';
import { BlockIoError, MemoryBlockBackend, type BlockBackend } from './backend.js';
import {
  BlkStatus, BlkType, MAX_DISCARD_SEG, VIRTIO_BLK_F_BLK_SIZE, VIRTIO_BLK_F_DISCARD, VIRTIO_BLK_F_FLUSH,
  VIRTIO_BLK_F_RO, VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_F_SIZE_MAX, MAX_REQUEST_DATA, MAX_UNSEGMENTED_DATA, VIRTIO_BLK_F_WRITE_ZEROES, VirtioBlk,
} from './blk.js';

const BASE = 0x8000_0000;
const SECTOR = 512;

/** A backend that counts calls and fails the next call of a kind on demand. */
class TestBackend implements BlockBackend {
  failNext: 'read' | 'write' | 'flush' | 'writeZeroes' | 'discard' | 'weird' | null = null;
  calls: { op: string; offset?: number; length?: number }[] = [];
  constructor(readonly inner: MemoryBlockBackend) {}
  get size() { return this.inner.size; }
  get readOnly() { return this.inner.readOnly; }
  private check(op: string): void {
    if (this.failNext === 'weird') {
      this.failNext = null;
      throw new TypeError('backend bug');
    }
    if (this.failNext === op) {
      this.failNext = null;
      throw new BlockIoError(`injected ${op} failure`);
    }
  }
  read(offset: number, dst: Uint8Array): void {
    this.calls.push({ op: 'read', offset, length: dst.length });
    this.check('read');
    this.inner.read(offset, dst);
  }
  write(offset: number, src: Uint8Array): void {
    this.calls.push({ op: 'write', offset, length: src.length });
    this.check('write');
    this.inner.write(offset, src);
  }
  flush(): void {
    this.calls.push({ op: 'flush' });
    this.check('flush');
  }
  discard(offset: number, length: number): void {
    this.calls.push({ op: 'discard', offset, length });
    this.check('discard');
  }
  writeZeroes(offset: number, length: number): void {
    this.calls.push({ op: 'writeZeroes', offset, length });
    this.check('writeZeroes');
    this.inner.writeZeroes(offset, length);
  }
  close(): void {}
}

function pattern(n: number, seed = 1): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed * 13 + (i >> 9)) & 0xff);
}

function setup(opts: { sectors?: number; readOnly?: boolean; ramSize?: number; features?: bigint; serial?: string; lowOnly?: boolean } = {}) {
  const ram = new GuestRam(BASE, opts.ramSize ?? 1 << 20);
  const disk = pattern((opts.sectors ?? 64) * SECTOR);
  const backend = new TestBackend(new MemoryBlockBackend(disk, opts.readOnly ?? false));
  const blk = new VirtioBlk({ backend, serial: opts.serial ?? 'tvisor-test-disk' });
  const events: VirtioEvent[] = [];
  let raised = 0;
  const dev = new VirtioMmio(blk, ram, { set: (l) => { if (l) raised++; } }, (e) => events.push(e));
  const drv = new MockDriver(dev, ram);
  drv.init({ ...(opts.features === undefined ? {} : { features: opts.features }), lowOnly: opts.lowOnly });
  return { ram, disk, backend, blk, dev, drv, events, raised: () => raised };
}
type Env = ReturnType<typeof setup>;

function header(type: number, sector: number | bigint = 0): Uint8Array {
  const h = new Uint8Array(16);
  const v = new DataView(h.buffer);
  v.setUint32(0, type, true);
  v.setBigUint64(8, BigInt(sector), true);
  return h;
}

function segment(sector: number, count: number, flags = 0): Uint8Array {
  const s = new Uint8Array(16);
  const v = new DataView(s.buffer);
  v.setBigUint64(0, BigInt(sector), true);
  v.setUint32(8, count, true);
  v.setUint32(12, flags, true);
  return s;
}

/** Splits bytes into readable buffers at the given cut points. */
function pieces(bytes: Uint8Array, cuts: number[]): MockBuffer[] {
  const out: MockBuffer[] = [];
  let prev = 0;
  for (const c of [...cuts.filter((c) => c > 0 && c < bytes.length).sort((a, b) => a - b), bytes.length]) {
    if (c > prev) out.push({ data: bytes.slice(prev, c) });
    prev = c;
  }
  return out;
}

/** Submits one chain, notifies, and returns its used entry with the status (last writable byte) split off. */
function request(env: Env, bufs: MockBuffer[], indirect = false) {
  env.drv.add(0, bufs, { indirect });
  env.drv.kick(0);
  const used = env.drv.used(0);
  assert.equal(used.length, 1, 'one used entry');
  const { len, data } = used[0];
  return { len, status: data.length ? data[data.length - 1] : -1, data: data.subarray(0, data.length - 1), raw: data };
}

function write(env: Env, sector: number, data: Uint8Array, indirect = false) {
  return request(env, [{ data: header(BlkType.OUT, sector) }, ...pieces(data, [100, 700]), { writable: 1 }], indirect);
}

function read(env: Env, sector: number, count: number, indirect = false) {
  const len = count * SECTOR;
  const bufs: MockBuffer[] = len > 300 ? [{ writable: 300 }, { writable: len - 300 }, { writable: 1 }] : [{ writable: len + 1 }];
  return request(env, [{ data: header(BlkType.IN, sector) }, ...bufs], indirect);
}

function config(env: Env, offset: number, width: number): number | bigint {
  return env.dev.read(Reg.Config + offset, width);
}

test('virtio-blk offers its features and describes the disk in its configuration space', () => {
  const env = setup({ sectors: 64 });
  const f = env.drv.offeredFeatures();
  for (const bit of [VIRTIO_BLK_F_SIZE_MAX, VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_F_BLK_SIZE, VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_DISCARD, VIRTIO_BLK_F_WRITE_ZEROES]) {
    assert.ok(f & bit, `feature ${bit}`);
  }
  assert.equal(f & VIRTIO_BLK_F_RO, 0n);
  assert.equal(env.drv.reg(Reg.DeviceID), 2);
  env.drv.setReg(Reg.QueueSel, 0);
  assert.equal(env.drv.reg(Reg.QueueNumMax), 256);
  assert.equal(config(env, 0, 8), 64n, 'capacity in sectors');
  assert.equal(config(env, 8, 4), 65536, 'size_max');
  assert.equal(config(env, 12, 4), 254, 'seg_max');
  assert.equal(config(env, 20, 4), 512, 'blk_size');
  assert.ok(Number(config(env, 36, 4)) > 0 && config(env, 40, 4) === MAX_DISCARD_SEG, 'discard limits');
  assert.ok(Number(config(env, 48, 4)) > 0 && Number(config(env, 52, 4)) > 0, 'write zeroes limits');
  assert.equal(config(env, 56, 1), 0, 'write_zeroes_may_unmap: never deallocates');
});

test('write then read round trip across several segments, direct and indirect', () => {
  for (const indirect of [false, true]) {
    const env = setup();
    const data = pattern(3 * SECTOR, 99);
    const w = write(env, 5, data, indirect);
    assert.equal(w.status, BlkStatus.OK);
    assert.equal(w.len, 1, 'a write stores only the status byte');
    assert.deepEqual(env.disk.subarray(5 * SECTOR, 8 * SECTOR), data);
    const r = read(env, 5, 3, indirect);
    assert.equal(r.status, BlkStatus.OK);
    assert.equal(r.len, 3 * SECTOR + 1, 'data plus status');
    assert.deepEqual(r.data, data);
    assert.equal(env.blk.stats.readOps, 1);
    assert.equal(env.blk.stats.writeOps, 1);
    assert.equal(env.blk.stats.readBytes, 3 * SECTOR);
    assert.equal(env.blk.stats.writeBytes, 3 * SECTOR);
    assert.equal(env.blk.stats.errors, 0);
  }
});

test('the header, data and status may share buffers', () => {
  const env = setup();
  const data = pattern(SECTOR, 5);
  const one = new Uint8Array(16 + SECTOR);
  one.set(header(BlkType.OUT, 9));
  one.set(data, 16);
  assert.equal(request(env, [{ data: one.subarray(0, 10) }, { data: one.subarray(10) }, { writable: 1 }]).status, BlkStatus.OK);
  const r = request(env, [{ data: header(BlkType.IN, 9) }, { writable: SECTOR + 1 }]);
  assert.equal(r.status, BlkStatus.OK);
  assert.deepEqual(r.data, data);
});

test('a read larger than one backend chunk goes straight into guest RAM in bounded pieces', () => {
  const env = setup({ sectors: 8192, ramSize: 8 << 20 }); // 4 MiB disk
  const len = 3 * (1 << 20) + SECTOR;
  const r = request(env, [{ data: header(BlkType.IN, 1) }, { writable: len + 1 }]);
  assert.equal(r.status, BlkStatus.OK);
  assert.deepEqual(r.data, env.disk.subarray(SECTOR, SECTOR + len));
  const reads = env.backend.calls.filter((c) => c.op === 'read');
  assert.ok(reads.length >= 4 && reads.every((c) => (c.length ?? 0) <= 1 << 20), 'chunks of at most 1 MiB');
});

test('a request beyond seg_max segments or seg_max × size_max bytes fails without touching the disk', () => {
  const env = setup({ sectors: 65536, ramSize: 96 << 20 }); // 32 MiB disk; the mock driver never frees RAM
  assert.equal(MAX_REQUEST_DATA, 254 * 65536);
  const big = request(env, [{ data: header(BlkType.IN, 0) }, { writable: MAX_REQUEST_DATA + SECTOR + 1 }]);
  assert.equal(big.status, BlkStatus.IOERR);
  const many = request(env, [{ data: header(BlkType.IN, 0) }, ...Array.from({ length: 255 }, () => ({ writable: SECTOR })), { writable: 1 }], true);
  assert.equal(many.status, BlkStatus.IOERR, '255 data segments, one more than seg_max');
  const writes = request(env, [{ data: header(BlkType.OUT, 0) }, { data: new Uint8Array(MAX_REQUEST_DATA + SECTOR) }, { writable: 1 }]);
  assert.equal(writes.status, BlkStatus.IOERR);
  assert.equal(env.backend.calls.filter((c) => c.op === 'read' || c.op === 'write').length, 0, 'the disk was not touched');
  const most = request(env, [{ data: header(BlkType.IN, 0) }, ...Array.from({ length: 254 }, () => ({ writable: SECTOR })), { writable: 1 }], true);
  assert.equal(most.status, BlkStatus.OK, 'seg_max segments are fine');
  const largest = request(env, [{ data: header(BlkType.IN, 0) }, { writable: MAX_REQUEST_DATA + 1 }]);
  assert.equal(largest.status, BlkStatus.OK, 'and so is seg_max × size_max in one buffer');
});

test('GET_ID returns the serial, NUL-padded to 20 bytes; longer serials are truncated', () => {
  const env = setup();
  const r = request(env, [{ data: header(BlkType.GET_ID) }, { writable: 20 }, { writable: 1 }]);
  assert.equal(r.status, BlkStatus.OK);
  assert.equal(r.len, 21);
  assert.deepEqual(r.data, Uint8Array.from([...'tvisor-test-disk'].map((c) => c.charCodeAt(0)).concat([0, 0, 0, 0])));
  const long = setup({ serial: 'abcdefghijklmnopqrstuvwxyz' });
  assert.equal(new TextDecoder().decode(request(long, [{ data: header(BlkType.GET_ID) }, { writable: 21 }]).data), 'abcdefghijklmnopqrst');
  const short = request(env, [{ data: header(BlkType.GET_ID) }, { writable: 10 }]);
  assert.equal(short.status, BlkStatus.IOERR, 'a buffer shorter than 20 bytes is a driver error');
});

test('FLUSH reaches the backend', () => {
  const env = setup();
  assert.equal(request(env, [{ data: header(BlkType.FLUSH) }, { writable: 1 }]).status, BlkStatus.OK);
  assert.deepEqual(env.backend.calls.map((c) => c.op), ['flush']);
  assert.equal(env.blk.stats.flushOps, 1);
});

test('WRITE_ZEROES makes ranges read as zero (with or without unmap); DISCARD is passed on', () => {
  const env = setup();
  const before = env.disk.slice();
  const wz = request(env, [{ data: header(BlkType.WRITE_ZEROES) }, { data: concat(segment(2, 3), segment(10, 1, 1)) }, { writable: 1 }]);
  assert.equal(wz.status, BlkStatus.OK);
  assert.ok(read(env, 2, 3).data.every((b) => b === 0));
  assert.ok(read(env, 10, 1).data.every((b) => b === 0));
  assert.deepEqual(env.disk.subarray(0, 2 * SECTOR), before.subarray(0, 2 * SECTOR), 'neighbours untouched');
  assert.deepEqual(env.disk.subarray(5 * SECTOR, 10 * SECTOR), before.subarray(5 * SECTOR, 10 * SECTOR));
  const d = request(env, [{ data: header(BlkType.DISCARD) }, { data: segment(20, 4) }, { writable: 1 }]);
  assert.equal(d.status, BlkStatus.OK);
  assert.deepEqual(env.backend.calls.filter((c) => c.op === 'discard'), [{ op: 'discard', offset: 20 * SECTOR, length: 4 * SECTOR }]);
  assert.equal(env.blk.stats.discardOps, 1);
  assert.equal(env.blk.stats.writeZeroesOps, 1);
});

test('DISCARD/WRITE_ZEROES: bad flags and too many segments are UNSUPP, bad ranges IOERR, nothing applied', () => {
  const env = setup({ sectors: 64 });
  const snapshot = env.disk.slice();
  const dz = (type: number, ...segs: Uint8Array[]) => request(env, [{ data: header(type) }, { data: concat(...segs) }, { writable: 1 }]).status;
  assert.equal(dz(BlkType.DISCARD, segment(0, 1, 1)), BlkStatus.UNSUPP, 'unmap on discard');
  assert.equal(dz(BlkType.WRITE_ZEROES, segment(0, 1, 2)), BlkStatus.UNSUPP, 'unknown flag');
  assert.equal(dz(BlkType.WRITE_ZEROES, segment(0, 1), segment(4, 1, 0x80000000)), BlkStatus.UNSUPP, 'unknown flag in a later segment');
  const many = Array.from({ length: MAX_DISCARD_SEG + 1 }, (_, i) => segment(i, 1));
  assert.equal(dz(BlkType.DISCARD, ...many), BlkStatus.UNSUPP, 'more segments than max_discard_seg');
  assert.equal(dz(BlkType.WRITE_ZEROES, segment(0, 1), segment(63, 2)), BlkStatus.IOERR, 'past the end');
  assert.equal(dz(BlkType.WRITE_ZEROES, segment(2 ** 60, 1)), BlkStatus.IOERR, 'huge sector');
  assert.equal(dz(BlkType.WRITE_ZEROES, segment(0, 0xffffffff)), BlkStatus.IOERR, 'over max_write_zeroes_sectors');
  assert.equal(request(env, [{ data: header(BlkType.WRITE_ZEROES) }, { data: new Uint8Array(20) }, { writable: 1 }]).status, BlkStatus.IOERR, 'not a multiple of 16');
  assert.equal(request(env, [{ data: header(BlkType.WRITE_ZEROES) }, { writable: 1 }]).status, BlkStatus.IOERR, 'no segments');
  assert.deepEqual(env.disk, snapshot, 'no segment of a refused request was applied');
  assert.ok(!env.backend.calls.some((c) => c.op === 'writeZeroes' || c.op === 'discard'));
});

test('DISCARD and WRITE_ZEROES are unsupported when the driver did not negotiate them', () => {
  const env = setup({ features: (1n << 32n) | VIRTIO_BLK_F_FLUSH });
  assert.equal(request(env, [{ data: header(BlkType.DISCARD) }, { data: segment(0, 1) }, { writable: 1 }]).status, BlkStatus.UNSUPP);
  assert.equal(request(env, [{ data: header(BlkType.WRITE_ZEROES) }, { data: segment(0, 1) }, { writable: 1 }]).status, BlkStatus.UNSUPP);
});

test('a read-only disk offers RO (not DISCARD/WRITE_ZEROES), fails writes with IOERR and keeps its data', () => {
  const env = setup({ readOnly: true });
  const f = env.drv.offeredFeatures();
  assert.ok(f & VIRTIO_BLK_F_RO);
  assert.equal(f & (VIRTIO_BLK_F_DISCARD | VIRTIO_BLK_F_WRITE_ZEROES), 0n);
  const snapshot = env.disk.slice();
  assert.equal(write(env, 0, pattern(SECTOR, 3)).status, BlkStatus.IOERR);
  assert.equal(request(env, [{ data: header(BlkType.WRITE_ZEROES) }, { data: segment(0, 1) }, { writable: 1 }]).status, BlkStatus.UNSUPP);
  assert.deepEqual(env.disk, snapshot);
  assert.ok(!env.backend.calls.some((c) => c.op === 'write'), 'no data written');
  const r = read(env, 0, 2);
  assert.equal(r.status, BlkStatus.OK);
  assert.deepEqual(r.data, snapshot.subarray(0, 2 * SECTOR));
  assert.equal(request(env, [{ data: header(BlkType.FLUSH) }, { writable: 1 }]).status, BlkStatus.OK);
});

test('sectors out of range fail with IOERR and touch nothing', () => {
  const env = setup({ sectors: 64 });
  const snapshot = env.disk.slice();
  assert.equal(read(env, 64, 1).status, BlkStatus.IOERR, 'first sector past the end');
  assert.equal(read(env, 63, 2).status, BlkStatus.IOERR, 'straddles the end');
  assert.equal(read(env, 63, 1).status, BlkStatus.OK, 'last sector');
  assert.equal(request(env, [{ data: header(BlkType.IN, 2n ** 63n) }, { writable: SECTOR + 1 }]).status, BlkStatus.IOERR);
  assert.equal(request(env, [{ data: header(BlkType.IN, 2n ** 64n - 1n) }, { writable: SECTOR + 1 }]).status, BlkStatus.IOERR);
  assert.equal(write(env, 63, pattern(2 * SECTOR)).status, BlkStatus.IOERR);
  assert.deepEqual(env.disk, snapshot);
  const failed = request(env, [{ data: header(BlkType.IN, 100) }, { writable: SECTOR + 1 }]);
  assert.equal(failed.len, 1, 'only the status byte was written');
  assert.ok(failed.data.every((b) => b === 0xee), 'the data buffer is left as it was');
});

test('unknown request types get UNSUPP', () => {
  const env = setup();
  for (const t of [2, 3, 5, BlkType.GET_LIFETIME, BlkType.SECURE_ERASE, 16, 0x80000000, 0xffffffff]) {
    assert.equal(request(env, [{ data: header(t) }, { writable: 1 }]).status, BlkStatus.UNSUPP, `type ${t}`);
  }
});

test('a host error fails only its own request; the next one works', () => {
  const env = setup();
  for (const op of ['read', 'write', 'flush', 'writeZeroes', 'weird'] as const) {
    env.backend.failNext = op === 'weird' ? 'weird' : op;
    const status = op === 'read' || op === 'weird' ? read(env, 1, 2).status
      : op === 'write' ? write(env, 1, pattern(SECTOR)).status
      : op === 'flush' ? request(env, [{ data: header(BlkType.FLUSH) }, { writable: 1 }]).status
      : request(env, [{ data: header(BlkType.WRITE_ZEROES) }, { data: segment(0, 1) }, { writable: 1 }]).status;
    assert.equal(status, BlkStatus.IOERR, op);
    assert.equal(read(env, 1, 2).status, BlkStatus.OK, `after ${op}`);
  }
  assert.equal(env.blk.stats.errors, 5);
  assert.equal(env.events.length, 0, 'the device never needed a reset');
  assert.equal(env.drv.status() & Status.DEVICE_NEEDS_RESET, 0);
});

test('malformed chains: no status byte, short header, odd lengths', () => {
  const env = setup();
  const snapshot = env.disk.slice();
  // no writable byte at all: returned with used length 0
  env.drv.add(0, [{ data: header(BlkType.IN, 0) }]);
  env.drv.kick(0);
  assert.deepEqual(env.drv.used(0).map((u) => u.len), [0]);
  env.drv.add(0, [{ data: header(BlkType.OUT, 0) }, { data: pattern(SECTOR) }]);
  env.drv.kick(0);
  assert.deepEqual(env.drv.used(0).map((u) => u.len), [0]);
  assert.deepEqual(env.disk, snapshot, 'a write without a status byte is not performed');
  // header shorter than 16 bytes, or missing
  assert.equal(request(env, [{ data: header(BlkType.IN).subarray(0, 10) }, { writable: SECTOR + 1 }]).status, BlkStatus.IOERR);
  assert.equal(request(env, [{ writable: SECTOR + 1 }]).status, BlkStatus.IOERR);
  // data lengths that are not whole sectors
  assert.equal(request(env, [{ data: header(BlkType.IN, 0) }, { writable: 100 }]).status, BlkStatus.IOERR);
  assert.equal(request(env, [{ data: header(BlkType.IN, 0) }, { writable: SECTOR }]).status, BlkStatus.IOERR);
  assert.equal(request(env, [{ data: header(BlkType.OUT, 0) }, { data: pattern(SECTOR + 1) }, { writable: 1 }]).status, BlkStatus.IOERR);
  assert.deepEqual(env.disk, snapshot);
  assert.equal(env.events.length, 0);
  assert.equal(read(env, 0, 1).status, BlkStatus.OK, 'still working');
  assert.equal(env.blk.stats.errors, 7);
});

test('a batch of requests completes with one interrupt; nothing happens while the driver is not ready', () => {
  const env = setup();
  for (let i = 0; i < 3; i++) env.drv.add(0, [{ data: header(BlkType.IN, i) }, { writable: SECTOR + 1 }]);
  const before = env.raised();
  env.drv.kick(0);
  assert.equal(env.drv.used(0).length, 3);
  assert.equal(env.raised() - before, 1);
  // reset the device: requests are not served until DRIVER_OK
  env.drv.setReg(Reg.Status, 0);
  env.blk.notify(0);
  assert.equal(env.backend.calls.filter((c) => c.op === 'read').length, 3);
});

test('hostile descriptors still end in DEVICE_NEEDS_RESET from the queue, not an internal error', () => {
  const env = setup();
  const buf = env.drv.alloc(32);
  env.drv.writeDesc(0, 0, { addr: buf, len: 16, flags: DescFlag.NEXT, next: 1 });
  env.drv.writeDesc(0, 1, { addr: BASE + (1 << 20) - 4, len: 64, flags: DescFlag.WRITE, next: 0 });
  env.drv.publish(0, 0);
  env.drv.kick(0);
  assert.ok(env.drv.status() & Status.DEVICE_NEEDS_RESET);
  assert.equal(env.events[0].internal, false);
});

const concat = concatBytes;

/** The device-writable buffers of the chain at `head`, read back from the descriptor tables in guest RAM. */
function writableBuffers(env: Env, head: number): [number, number][] {
  const dv = (addr: number) => new DataView(env.ram.u8.buffer, addr - BASE, 16);
  const out: [number, number][] = [];
  let table = env.drv.layout(0).desc;
  let i = head;
  for (let steps = 0; steps < 512; steps++) {
    const d = dv(table + 16 * i);
    const addr = d.getUint32(0, true) + d.getUint32(4, true) * 2 ** 32;
    const len = d.getUint32(8, true);
    const flags = d.getUint16(12, true);
    if (flags & DescFlag.INDIRECT) {
      table = addr;
      i = 0;
      continue;
    }
    if (flags & DescFlag.WRITE) out.push([addr - BASE, addr - BASE + len]);
    if (!(flags & DescFlag.NEXT)) break;
    i = d.getUint16(14, true);
  }
  return out;
}

/** Throws when a byte outside the allowed [start, end) ranges differs (native compares between the ranges). */
function changedOutside(before: Uint8Array, after: Uint8Array, allowed: [number, number][], what: string): void {
  const ranges = [...allowed].sort((x, y) => x[0] - y[0]);
  let from = 0;
  for (const [a, b] of [...ranges, [after.length, after.length] as [number, number]]) {
    if (a > from && Buffer.compare(before.subarray(from, a), after.subarray(from, a)) !== 0) {
      const i = before.subarray(from, a).findIndex((v, k) => v !== after[from + k]) + from;
      throw new Error(`${what}: RAM+0x${i.toString(16)} changed outside the writable buffers`);
    }
    from = Math.max(from, b);
  }
}

// Model test: random sequences of reads, writes, write-zeroes, discards, flushes and odd requests, each split
// into random buffers. The disk must always equal a plain byte array updated by the same rules, every status
// must be what the model predicts, and no guest byte outside the chain's writable buffers may change.
test('model: random request sequences keep the disk equal to the model and RAM outside writable buffers intact', () => {
  const SECTORS = 32;
  const opArb = fc.oneof(
    fc.record({ kind: fc.constant('write' as const), sector: fc.integer({ min: 0, max: SECTORS + 2 }), count: fc.integer({ min: 0, max: 4 }), seed: fc.integer({ min: 0, max: 255 }), cuts: fc.array(fc.integer({ min: 0, max: 2048 }), { maxLength: 3 }), indirect: fc.boolean() }),
    fc.record({ kind: fc.constant('read' as const), sector: fc.integer({ min: 0, max: SECTORS + 2 }), count: fc.integer({ min: 0, max: 4 }), cuts: fc.array(fc.integer({ min: 0, max: 2048 }), { maxLength: 3 }), indirect: fc.boolean() }),
    fc.record({ kind: fc.constant('zeroes' as const), sector: fc.integer({ min: 0, max: SECTORS + 2 }), count: fc.integer({ min: 0, max: 6 }), unmap: fc.boolean() }),
    fc.record({ kind: fc.constant('discard' as const), sector: fc.integer({ min: 0, max: SECTORS + 2 }), count: fc.integer({ min: 0, max: 6 }) }),
    fc.record({ kind: fc.constant('other' as const), type: fc.constantFrom(BlkType.FLUSH, BlkType.GET_ID, 3, 14, 99) }),
  );
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 1, maxLength: 25 }), (ops) => {
      const env = setup({ sectors: SECTORS, ramSize: 256 * 1024 });
      const model = env.disk.slice();
      const used = env.drv.layout(0).used - BASE;
      for (const op of ops) {
        let bufs: MockBuffer[];
        let expect: number;
        let data: Uint8Array | null = null;
        const fits = 'sector' in op && op.sector + op.count <= SECTORS;
        if (op.kind === 'write') {
          data = pattern(op.count * SECTOR, op.seed);
          bufs = [...pieces(concat(header(BlkType.OUT, op.sector), data), op.cuts), { writable: 1 }];
          expect = fits ? BlkStatus.OK : BlkStatus.IOERR;
          if (fits) model.set(data, op.sector * SECTOR);
        } else if (op.kind === 'read') {
          const len = op.count * SECTOR + 1;
          const cuts = [...new Set(op.cuts.filter((c) => c > 0 && c < len))].sort((a, b) => a - b);
          bufs = [{ data: header(BlkType.IN, op.sector) }];
          let prev = 0;
          for (const c of [...cuts, len]) {
            bufs.push({ writable: c - prev });
            prev = c;
          }
          expect = fits ? BlkStatus.OK : BlkStatus.IOERR;
          if (fits) data = model.slice(op.sector * SECTOR, (op.sector + op.count) * SECTOR);
        } else if (op.kind === 'zeroes' || op.kind === 'discard') {
          const type = op.kind === 'zeroes' ? BlkType.WRITE_ZEROES : BlkType.DISCARD;
          bufs = [{ data: header(type) }, { data: segment(op.sector, op.count, op.kind === 'zeroes' && op.unmap ? 1 : 0) }, { writable: 1 }];
          expect = fits ? BlkStatus.OK : BlkStatus.IOERR;
          if (fits && op.kind === 'zeroes') model.fill(0, op.sector * SECTOR, (op.sector + op.count) * SECTOR);
        } else {
          bufs = [{ data: header(op.type) }, { writable: op.type === BlkType.GET_ID ? 21 : 1 }];
          expect = op.type === BlkType.FLUSH || op.type === BlkType.GET_ID ? BlkStatus.OK : BlkStatus.UNSUPP;
        }
        const head = env.drv.add(0, bufs, { indirect: 'indirect' in op && op.indirect });
        const allowed = [...writableBuffers(env, head), [used, used + 6 + 8 * 256] as [number, number]];
        const before = env.ram.u8.slice();
        env.drv.kick(0);
        changedOutside(before, env.ram.u8, allowed, op.kind);
        const [u] = env.drv.used(0);
        const status = u.data[u.data.length - 1];
        if (status !== expect) throw new Error(`${JSON.stringify(op)}: status ${status}, expected ${expect}`);
        if (op.kind === 'read' && expect === BlkStatus.OK) {
          assert.deepEqual(u.data.subarray(0, u.data.length - 1), data);
          assert.equal(u.len, u.data.length);
        }
        assert.deepEqual(env.disk, model);
      }
      return env.events.length === 0;
    }),
    { numRuns: 200 },
  );
});

test('a driver written for legacy devices (xv6\'s: low 32 feature bits, no VERSION_1) reads and writes the disk', () => {
  // xv6 clears RO, SCSI, CONFIG_WCE, MQ, ANY_LAYOUT, EVENT_IDX and INDIRECT_DESC from what is offered
  const env = setup({ features: 0n, lowOnly: true });
  assert.ok(env.drv.status() & Status.DRIVER_OK, 'FEATURES_OK and DRIVER_OK accepted without VERSION_1');
  const data = pattern(SECTOR, 9);
  assert.equal(write(env, 3, data).status, BlkStatus.OK);
  const r = read(env, 3, 1);
  assert.equal(r.status, BlkStatus.OK);
  assert.deepEqual(r.data, data);
});

test('a driver that did not negotiate seg_max and size_max (U-Boot 2025.01) may read tens of MiB in one buffer, up to a wide bound', () => {
  // 5.2.6.1 holds a driver to seg_max and size_max only when it negotiated them; U-Boot reads a kernel whole
  const env = setup({ sectors: 65536, ramSize: 320 << 20, features: F_VERSION_1 | F_RING_INDIRECT_DESC | VIRTIO_BLK_F_WRITE_ZEROES });
  const r = read(env, 0, 40960); // 20 MiB in one buffer (two descriptors here), beyond seg_max × size_max
  assert.equal(r.status, BlkStatus.OK);
  assert.deepEqual(r.data.subarray(0, 4096), env.disk.subarray(0, 4096));
  const many = request(env, [{ data: header(BlkType.IN, 0) }, ...Array.from({ length: 300 }, () => ({ writable: SECTOR })), { writable: 1 }], true);
  assert.equal(many.status, BlkStatus.OK, 'more segments than seg_max: not its limit');
  const touched = env.backend.calls.length;
  const huge = request(env, [{ data: header(BlkType.IN, 0) }, { writable: MAX_UNSEGMENTED_DATA + 1 }, { writable: 1 }]);
  assert.equal(huge.status, BlkStatus.IOERR, 'beyond MAX_UNSEGMENTED_DATA');
  assert.equal(env.backend.calls.length, touched, 'the disk was not touched');
});
