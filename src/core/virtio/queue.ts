// The device side of a split virtqueue (virtio 1.2 section 2.7): descriptor chains (direct and indirect),
// the available and used rings, and notification suppression (flags or event index). Every index and
// address read from the guest is checked; a protocol violation throws VirtqueueError, after which the
// transport sets DEVICE_NEEDS_RESET. Nothing outside guest RAM is ever read or written.
import type { GuestMemory } from '../machine/memory.js';
import { DescFlag, MAX_QUEUE_SIZE } from './constants.js';

/** The driver broke the virtqueue protocol; the device must be reset before it works again. */
export class VirtqueueError extends Error {
  override name = 'VirtqueueError';
}

/** One guest buffer of a chain: guest-physical address and length (both checked to lie in RAM). */
export interface Segment {
  addr: number;
  len: number;
}

/** A descriptor chain taken from the available ring: device-readable buffers first, then writable ones. */
export interface DescriptorChain {
  /** The head descriptor index, returned in the used ring. */
  head: number;
  readable: Segment[];
  writable: Segment[];
  readableLength: number;
  writableLength: number;
}

const DESC_SIZE = 16;

const u16 = (v: number) => v & 0xffff;

function viewOf(mem: GuestMemory, addr: number, len: number): DataView {
  const v = mem.view(addr, len);
  return new DataView(v.buffer, v.byteOffset, v.byteLength);
}

/** A virtqueue's saved state (part of its transport's record): guest-physical addresses as numbers (< 2^53). */
export interface QueueState {
  size: number;
  desc: number;
  driver: number;
  device: number;
  ready: boolean;
  indirect: boolean;
  eventIdx: boolean;
  lastAvail: number;
  usedIdx: number;
  signalled: number;
}

export class Virtqueue {
  /** QueueNum: the size the driver chose (a power of 2, at most maxSize). */
  size: number;
  descAddr = 0;
  driverAddr = 0;
  deviceAddr = 0;
  ready = false;
  /** Negotiated features that change the ring format. */
  indirect = false;
  eventIdx = false;
  private lastAvail = 0;
  private usedIdx = 0;
  /** The used index when the driver was last considered for an interrupt. */
  private signalled = 0;
  private desc: DataView | null = null;
  private avail: DataView | null = null;
  private used: DataView | null = null;

  constructor(
    private readonly mem: GuestMemory,
    readonly maxSize: number,
  ) {
    this.size = maxSize;
  }

  reset(): void {
    this.size = this.maxSize;
    this.descAddr = this.driverAddr = this.deviceAddr = 0;
    this.ready = false;
    this.lastAvail = this.usedIdx = this.signalled = 0;
    this.desc = this.avail = this.used = null;
  }

  /** The queue's state: the driver's layout, negotiated ring features, and the device's ring indexes. */
  save(): QueueState {
    return {
      size: this.size, desc: this.descAddr, driver: this.driverAddr, device: this.deviceAddr, ready: this.ready,
      indirect: this.indirect, eventIdx: this.eventIdx, lastAvail: this.lastAvail, usedIdx: this.usedIdx, signalled: this.signalled,
    };
  }

  /**
   * Takes a saved state (already read from its record), mapping the rings of a ready queue again; throws
   * VirtqueueError when the layout does not fit this queue and RAM (a record that could not have been saved).
   */
  restore(q: QueueState): void {
    this.reset();
    this.size = q.size;
    this.descAddr = q.desc;
    this.driverAddr = q.driver;
    this.deviceAddr = q.device;
    this.indirect = q.indirect;
    this.eventIdx = q.eventIdx;
    if (q.ready) this.enable();
    this.lastAvail = q.lastAvail;
    this.usedIdx = q.usedIdx;
    this.signalled = q.signalled;
  }

  /**
   * Puts the last `n` chains taken back on the available ring, to be taken again: how a restored device gets
   * the chains it held when saved (always the last it took, as devices complete in order).
   */
  rewind(n: number): void {
    this.lastAvail = u16(this.lastAvail - n);
  }

  /** QueueReady = 1: checks the driver's layout and maps the rings; throws VirtqueueError when unusable. */
  enable(): void {
    const n = this.size;
    if (n === 0 || n > this.maxSize || (n & (n - 1)) !== 0) {
      throw new VirtqueueError(`queue size ${n} is not a power of 2 up to ${this.maxSize}`);
    }
    if (this.descAddr % 16 !== 0 || this.driverAddr % 2 !== 0 || this.deviceAddr % 4 !== 0) {
      throw new VirtqueueError('misaligned virtqueue ring');
    }
    const availLen = 6 + 2 * n;
    const usedLen = 6 + 8 * n;
    const m = this.mem;
    if (!m.contains(this.descAddr, DESC_SIZE * n) || !m.contains(this.driverAddr, availLen) || !m.contains(this.deviceAddr, usedLen)) {
      throw new VirtqueueError('virtqueue ring outside guest RAM');
    }
    this.desc = viewOf(m, this.descAddr, DESC_SIZE * n);
    this.avail = viewOf(m, this.driverAddr, availLen);
    this.used = viewOf(m, this.deviceAddr, usedLen);
    this.ready = true;
  }

  /** Takes the next available chain, or null when there is none. */
  pop(): DescriptorChain | null {
    const avail = this.avail;
    if (!avail || !this.ready) return null;
    const n = this.size;
    const idx = avail.getUint16(2, true);
    const waiting = u16(idx - this.lastAvail);
    if (waiting === 0) {
      if (this.eventIdx) {
        // avail_event: ask to be notified as soon as the driver adds anything past what we have taken
        this.used!.setUint16(4 + 8 * n, this.lastAvail, true);
        this.mem.written(this.deviceAddr + 4 + 8 * n, 2);
      }
      return null;
    }
    if (waiting > n) throw new VirtqueueError(`available index moved ${waiting} entries ahead in a queue of ${n}`);
    const head = avail.getUint16(4 + 2 * (this.lastAvail & (n - 1)), true);
    this.lastAvail = u16(this.lastAvail + 1);
    return this.walk(head);
  }

  /** Follows a chain from `head` (2.7.5, 2.7.5.3): loops, bad indices and stray addresses are errors. */
  private walk(head: number): DescriptorChain {
    const n = this.size;
    if (head >= n) throw new VirtqueueError(`descriptor index ${head} outside a queue of ${n}`);
    const readable: Segment[] = [];
    const writable: Segment[] = [];
    let readableLength = 0;
    let writableLength = 0;
    let table = this.desc!;
    let tableLen = n;
    let i = head;
    let seen = 0;
    let inIndirect = false;
    for (;;) {
      if (++seen > tableLen) throw new VirtqueueError('descriptor chain loops or is longer than its table');
      const o = i * DESC_SIZE;
      const addr = table.getUint32(o, true) + table.getUint32(o + 4, true) * 2 ** 32;
      const len = table.getUint32(o + 8, true);
      const flags = table.getUint16(o + 12, true);
      const next = table.getUint16(o + 14, true);
      if (flags & DescFlag.INDIRECT) {
        if (!this.indirect) throw new VirtqueueError('indirect descriptor without VIRTIO_F_RING_INDIRECT_DESC');
        if (inIndirect) throw new VirtqueueError('indirect descriptor inside an indirect table');
        if (flags & DescFlag.NEXT) throw new VirtqueueError('indirect descriptor with NEXT set');
        if (len === 0 || len % DESC_SIZE !== 0 || len / DESC_SIZE > MAX_QUEUE_SIZE) {
          throw new VirtqueueError(`indirect table length ${len} is not a multiple of 16 up to 32768 entries`);
        }
        if (!this.mem.contains(addr, len)) throw new VirtqueueError('indirect table outside guest RAM');
        table = viewOf(this.mem, addr, len);
        tableLen = len / DESC_SIZE;
        inIndirect = true;
        i = 0;
        seen = 0;
        continue;
      }
      if (len > 0) {
        if (!this.mem.contains(addr, len)) throw new VirtqueueError(`buffer 0x${addr.toString(16)}+${len} outside guest RAM`);
        if (flags & DescFlag.WRITE) {
          writable.push({ addr, len });
          writableLength += len;
        } else {
          if (writable.length > 0) throw new VirtqueueError('device-readable buffer after a device-writable one');
          readable.push({ addr, len });
          readableLength += len;
        }
      }
      if (!(flags & DescFlag.NEXT)) break;
      if (next >= tableLen) throw new VirtqueueError(`next descriptor ${next} outside a table of ${tableLen}`);
      i = next;
    }
    return { head, readable, writable, readableLength, writableLength };
  }

  /** Returns a chain to the driver with the number of bytes written into its writable buffers. */
  push(head: number, written: number): void {
    const used = this.used;
    if (!used || !this.ready) return;
    const n = this.size;
    const slot = 4 + 8 * (this.usedIdx & (n - 1));
    used.setUint32(slot, head, true);
    used.setUint32(slot + 4, written, true);
    this.usedIdx = u16(this.usedIdx + 1);
    used.setUint16(2, this.usedIdx, true);
    this.mem.written(this.deviceAddr + slot, 8);
    this.mem.written(this.deviceAddr + 2, 2);
  }

  /**
   * Whether the driver wants an interrupt for the buffers pushed since the last call (2.7.7, 2.7.10):
   * with the event index, when used_event lies in the range just published; otherwise unless
   * VIRTQ_AVAIL_F_NO_INTERRUPT is set.
   */
  needsInterrupt(): boolean {
    const avail = this.avail;
    if (!avail) return false;
    const old = this.signalled;
    const now = this.usedIdx;
    this.signalled = now;
    if (old === now) return false;
    if (this.eventIdx) {
      const usedEvent = avail.getUint16(4 + 2 * this.size, true);
      return u16(now - usedEvent - 1) < u16(now - old);
    }
    return (avail.getUint16(0, true) & 1) === 0;
  }
}

/** Copies `length` bytes starting `offset` bytes into the segments (as one stream) into a new array. */
export function gather(mem: GuestMemory, segs: Segment[], offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let done = 0;
  for (const s of segs) {
    if (done >= length) break;
    if (offset >= s.len) {
      offset -= s.len;
      continue;
    }
    const take = Math.min(s.len - offset, length - done);
    out.set(mem.view(s.addr + offset, take), done);
    done += take;
    offset = 0;
  }
  if (done < length) throw new RangeError(`chain holds fewer than ${length} bytes`);
  return out;
}

/** Writes `data` into the segments starting `offset` bytes in; returns the bytes written (may be short). */
export function scatter(mem: GuestMemory, segs: Segment[], offset: number, data: Uint8Array): number {
  let done = 0;
  for (const s of segs) {
    if (done >= data.length) break;
    if (offset >= s.len) {
      offset -= s.len;
      continue;
    }
    const take = Math.min(s.len - offset, data.length - done);
    mem.view(s.addr + offset, take).set(data.subarray(done, done + take));
    mem.written(s.addr + offset, take);
    done += take;
    offset = 0;
  }
  return done;
}
