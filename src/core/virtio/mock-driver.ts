// A minimal virtio driver that plays the guest against a VirtioMmio transport, for device tests and queue
// fuzzing: feature negotiation, queue setup in guest RAM, descriptor chains (direct or indirect), raw
// descriptor and ring writes for hostile inputs, and reading the used ring.
import type { GuestRam } from '../machine/memory.js';
import { DescFlag, F_VERSION_1, Reg, Status } from './constants.js';
import type { VirtioMmio } from './mmio.js';

export interface MockBuffer {
  /** Device-readable contents. */
  data?: Uint8Array;
  /** Or: a device-writable buffer of this many bytes. */
  writable?: number;
}

export interface RawDesc {
  addr: number;
  len: number;
  flags: number;
  next: number;
}

interface QueueLayout {
  size: number;
  desc: number;
  avail: number;
  used: number;
  nextDesc: number;
  availIdx: number;
  usedSeen: number;
}

export class MockDriver {
  private heap: number;
  private readonly queues: QueueLayout[] = [];
  /** Writable buffers of each chain by head, per queue, for reading results back. */
  private readonly pendingWritable = new Map<string, { addr: number; len: number }[]>();

  constructor(
    readonly dev: VirtioMmio,
    readonly ram: GuestRam,
    /** Where the driver's allocations start (bump allocator over guest RAM). */
    heapStart = ram.base + 0x10000,
  ) {
    this.heap = heapStart;
  }

  reg(offset: number): number {
    return Number(this.dev.read(offset, 4));
  }

  setReg(offset: number, value: number): void {
    this.dev.write(offset, 4, value >>> 0);
  }

  alloc(len: number, align = 16): number {
    this.heap = Math.ceil(this.heap / align) * align;
    const a = this.heap;
    this.heap += Math.max(len, 1);
    if (!this.ram.contains(a, len)) throw new Error('mock driver: out of guest RAM');
    return a;
  }

  offeredFeatures(): bigint {
    this.setReg(Reg.DeviceFeaturesSel, 0);
    const lo = BigInt(this.reg(Reg.DeviceFeatures));
    this.setReg(Reg.DeviceFeaturesSel, 1);
    return (BigInt(this.reg(Reg.DeviceFeatures)) << 32n) | lo;
  }

  /**
   * Negotiates `features` (default: everything offered), sets up `queueSizes` queues, sets DRIVER_OK. With
   * `lowOnly`, as a driver written for legacy devices (xv6's): only the low 32 feature bits are written, the
   * select registers left alone, and a negotiation without VERSION_1 is not an error.
   */
  init(opts: { features?: bigint; queueSizes?: number[]; lowOnly?: boolean } = {}): bigint {
    this.setReg(Reg.Status, 0);
    this.setReg(Reg.Status, Status.ACKNOWLEDGE);
    this.setReg(Reg.Status, Status.ACKNOWLEDGE | Status.DRIVER);
    const features = opts.features ?? this.offeredFeatures();
    if (opts.lowOnly) this.setReg(Reg.DriverFeatures, Number(features & 0xffffffffn));
    else {
      this.setReg(Reg.DriverFeaturesSel, 0);
      this.setReg(Reg.DriverFeatures, Number(features & 0xffffffffn));
      this.setReg(Reg.DriverFeaturesSel, 1);
      this.setReg(Reg.DriverFeatures, Number(features >> 32n));
    }
    this.setReg(Reg.Status, Status.ACKNOWLEDGE | Status.DRIVER | Status.FEATURES_OK);
    if (!(this.reg(Reg.Status) & Status.FEATURES_OK)) throw new Error('mock driver: the device refused the features');
    this.queues.length = 0;
    for (let i = 0; ; i++) {
      this.setReg(Reg.QueueSel, i);
      const max = this.reg(Reg.QueueNumMax);
      if (max === 0) break;
      const size = Math.min(max, opts.queueSizes?.[i] ?? max);
      const q: QueueLayout = {
        size,
        desc: this.alloc(16 * size, 16),
        avail: this.alloc(6 + 2 * size, 2),
        used: this.alloc(6 + 8 * size, 4),
        nextDesc: 0,
        availIdx: 0,
        usedSeen: 0,
      };
      this.setReg(Reg.QueueNum, size);
      this.setReg(Reg.QueueDescLow, q.desc);
      this.setReg(Reg.QueueDescHigh, 0);
      this.setReg(Reg.QueueDriverLow, q.avail);
      this.setReg(Reg.QueueDriverHigh, 0);
      this.setReg(Reg.QueueDeviceLow, q.used);
      this.setReg(Reg.QueueDeviceHigh, 0);
      this.setReg(Reg.QueueReady, 1);
      this.queues.push(q);
    }
    this.setReg(Reg.Status, Status.ACKNOWLEDGE | Status.DRIVER | Status.FEATURES_OK | Status.DRIVER_OK);
    if (!(features & F_VERSION_1) && !opts.lowOnly) throw new Error('mock driver: VERSION_1 not negotiated');
    return features;
  }

  status(): number {
    return this.reg(Reg.Status);
  }

  layout(q: number): Readonly<QueueLayout> {
    return this.queues[q];
  }

  private dv(addr: number, len: number): DataView {
    const v = this.ram.view(addr, len);
    return new DataView(v.buffer, v.byteOffset, len);
  }

  /** Writes descriptor `i` of queue `q` verbatim (for hostile chains). */
  writeDesc(q: number, i: number, d: RawDesc, table?: number): void {
    const base = table ?? this.queues[q].desc;
    const v = this.dv(base + 16 * i, 16);
    v.setUint32(0, d.addr % 2 ** 32, true);
    v.setUint32(4, Math.floor(d.addr / 2 ** 32), true);
    v.setUint32(8, d.len >>> 0, true);
    v.setUint16(12, d.flags, true);
    v.setUint16(14, d.next, true);
  }

  /** Puts `head` in the available ring and publishes it. */
  publish(q: number, head: number): void {
    const l = this.queues[q];
    const v = this.dv(l.avail, 6 + 2 * l.size);
    v.setUint16(4 + 2 * (l.availIdx % l.size), head, true);
    l.availIdx = (l.availIdx + 1) & 0xffff;
    v.setUint16(2, l.availIdx, true);
  }

  /** Sets the available ring's index directly (hostile tests). */
  setAvailIdx(q: number, idx: number): void {
    const l = this.queues[q];
    l.availIdx = idx & 0xffff;
    this.dv(l.avail, 4).setUint16(2, l.availIdx, true);
  }

  /** Sets used_event (the trailing field of the available ring) and the avail flags. */
  setUsedEvent(q: number, value: number): void {
    const l = this.queues[q];
    this.dv(l.avail + 4 + 2 * l.size, 2).setUint16(0, value, true);
  }

  setAvailFlags(q: number, flags: number): void {
    this.dv(this.queues[q].avail, 2).setUint16(0, flags, true);
  }

  /** avail_event, written by the device at the end of the used ring. */
  availEvent(q: number): number {
    const l = this.queues[q];
    return this.dv(l.used + 4 + 8 * l.size, 2).getUint16(0, true);
  }

  /** Builds a chain from `bufs` (readable ones must come first), publishes it; returns the head. */
  add(q: number, bufs: MockBuffer[], opts: { indirect?: boolean } = {}): number {
    const l = this.queues[q];
    const descs: RawDesc[] = [];
    const writable: { addr: number; len: number }[] = [];
    for (const b of bufs) {
      if (b.data) {
        const a = this.alloc(b.data.length, 8);
        this.ram.write(a, b.data);
        descs.push({ addr: a, len: b.data.length, flags: 0, next: 0 });
      } else {
        const len = b.writable ?? 0;
        const a = this.alloc(len, 8);
        this.ram.view(a, len).fill(0xee);
        descs.push({ addr: a, len, flags: DescFlag.WRITE, next: 0 });
        writable.push({ addr: a, len });
      }
    }
    let head: number;
    if (opts.indirect) {
      const table = this.alloc(16 * descs.length, 16);
      descs.forEach((d, i) => {
        const last = i === descs.length - 1;
        this.writeDesc(q, i, { ...d, flags: d.flags | (last ? 0 : DescFlag.NEXT), next: last ? 0 : i + 1 }, table);
      });
      head = l.nextDesc;
      l.nextDesc = (l.nextDesc + 1) % l.size;
      this.writeDesc(q, head, { addr: table, len: 16 * descs.length, flags: DescFlag.INDIRECT, next: 0 });
    } else {
      if (descs.length > l.size) throw new Error('mock driver: chain longer than the queue');
      const idx = descs.map(() => {
        const i = l.nextDesc;
        l.nextDesc = (l.nextDesc + 1) % l.size;
        return i;
      });
      head = idx[0];
      descs.forEach((d, i) => {
        const last = i === descs.length - 1;
        this.writeDesc(q, idx[i], { ...d, flags: d.flags | (last ? 0 : DescFlag.NEXT), next: last ? 0 : idx[i + 1] });
      });
    }
    this.pendingWritable.set(`${q}:${head}`, writable);
    this.publish(q, head);
    return head;
  }

  kick(q: number): void {
    this.setReg(Reg.QueueNotify, q);
  }

  /** New used-ring entries of queue q since the last call, with the bytes of each chain's writable buffers. */
  used(q: number): { id: number; len: number; data: Uint8Array }[] {
    const l = this.queues[q];
    const v = this.dv(l.used, 6 + 8 * l.size);
    const idx = v.getUint16(2, true);
    const out: { id: number; len: number; data: Uint8Array }[] = [];
    while (l.usedSeen !== idx) {
      const slot = 4 + 8 * (l.usedSeen % l.size);
      const id = v.getUint32(slot, true);
      const len = v.getUint32(slot + 4, true);
      const bufs = this.pendingWritable.get(`${q}:${id}`) ?? [];
      this.pendingWritable.delete(`${q}:${id}`);
      const total = bufs.reduce((n, b) => n + b.len, 0);
      const data = new Uint8Array(total);
      let o = 0;
      for (const b of bufs) {
        data.set(this.ram.view(b.addr, b.len), o);
        o += b.len;
      }
      out.push({ id, len, data });
      l.usedSeen = (l.usedSeen + 1) & 0xffff;
    }
    return out;
  }

  /** Reads and acknowledges the interrupt status. */
  ackInterrupt(): number {
    const s = this.reg(Reg.InterruptStatus);
    this.setReg(Reg.InterruptACK, s);
    return s;
  }
}
