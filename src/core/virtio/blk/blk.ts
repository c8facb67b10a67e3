// virtio-blk, the block device (virtio 1.2 section 5.2): one request queue, the configuration space, and the
// IN/OUT/FLUSH/GET_ID/DISCARD/WRITE_ZEROES requests served synchronously from a BlockBackend, in order,
// optionally paced by a rate limiter.
import { DeviceId } from '../constants.js';
import { ConfigSpace, type VirtioContext, type VirtioDevice } from '../mmio.js';
import { gather, type DescriptorChain, type Segment } from '../queue.js';
import { MIN_THROTTLE_MS, type IoLimiter, type LimiterState } from '../limiter.js';
import { RecordReader, SnapshotError } from '../../snapshot/state.js';
import type { BlockBackend } from './backend.js';

/** Device feature bits (5.2.3). */
export const VIRTIO_BLK_F_SIZE_MAX = 1n << 1n; // size_max is valid
export const VIRTIO_BLK_F_SEG_MAX = 1n << 2n; // seg_max is valid
export const VIRTIO_BLK_F_RO = 1n << 5n; // the disk is read-only
export const VIRTIO_BLK_F_BLK_SIZE = 1n << 6n; // blk_size is valid
export const VIRTIO_BLK_F_FLUSH = 1n << 9n; // VIRTIO_BLK_T_FLUSH exists (the device has a writeback cache)
export const VIRTIO_BLK_F_DISCARD = 1n << 13n; // VIRTIO_BLK_T_DISCARD and its limits
export const VIRTIO_BLK_F_WRITE_ZEROES = 1n << 14n; // VIRTIO_BLK_T_WRITE_ZEROES and its limits

/** Request types (5.2.6). */
export const enum BlkType {
  IN = 0, // read sectors into the writable data
  OUT = 1, // write the readable data to sectors
  FLUSH = 4, // make completed writes durable
  GET_ID = 8, // the 20-byte device id string
  GET_LIFETIME = 10, // not supported (no wear metrics)
  DISCARD = 11, // ranges no longer needed
  WRITE_ZEROES = 13, // ranges read as zero afterwards
  SECURE_ERASE = 14, // not supported
}

/** Request status byte (5.2.6). */
export const enum BlkStatus {
  OK = 0,
  IOERR = 1, // device or driver error
  UNSUPP = 2, // request not supported by the device
}

/** Configuration space offsets (struct virtio_blk_config, 5.2.4). */
const enum Cfg {
  Capacity = 0, // le64, in 512-byte sectors
  SizeMax = 8,
  SegMax = 12,
  Geometry = 16,
  BlkSize = 20,
  Topology = 24,
  Writeback = 32,
  NumQueues = 34,
  MaxDiscardSectors = 36,
  MaxDiscardSeg = 40,
  DiscardSectorAlignment = 44,
  MaxWriteZeroesSectors = 48,
  MaxWriteZeroesSeg = 52,
  WriteZeroesMayUnmap = 56,
  Size = 96, // through the zoned characteristics, all zero here
}

const SECTOR = 512;
const HEADER = 16; // le32 type, le32 reserved, le64 sector
const SEGMENT = 16; // struct virtio_blk_discard_write_zeroes: le64 sector, le32 num_sectors, le32 flags
const ID_BYTES = 20;
const FLAG_UNMAP = 1;
export const BLK_QUEUE_SIZE = 256;
/** Linux puts the header and status in descriptors of their own, so two fewer than the queue can hold. */
const SEG_MAX = BLK_QUEUE_SIZE - 2;
/** Largest segment a driver may use (size_max); Linux's requests stay within 1280 KiB by default anyway. */
const SIZE_MAX = 64 * 1024;
/**
 * The most data one request may carry: what seg_max segments of size_max hold (15.9 MiB). A request is served
 * synchronously on its VM's thread, so this bounds the host work (and the stall of VMs sharing the thread)
 * one request can cause; without it a chain of many descriptors, each covering all of RAM, could ask for the
 * whole disk at once.
 */
export const MAX_REQUEST_DATA = SEG_MAX * SIZE_MAX;
/**
 * The most data one request may carry from a driver that did not negotiate seg_max and size_max, which the
 * spec then does not hold it to (5.2.6.1): U-Boot 2025.01 (Debian trixie's) reads a whole kernel or initrd
 * (tens of MiB) in one buffer. Still a bound on one request's host work, but a wide one.
 */
export const MAX_UNSEGMENTED_DATA = 256 * 2 ** 20;
/** Per-segment limits keep one discard/write-zeroes request to a bounded amount of host work (32 MiB). */
export const MAX_DISCARD_SECTORS = 65536;
export const MAX_DISCARD_SEG = 16;
export const MAX_WRITE_ZEROES_SECTORS = 65536;
export const MAX_WRITE_ZEROES_SEG = 16;
/** Largest single backend call: bounds one host syscall, never host memory (data goes straight to RAM). */
const IO_CHUNK = 1 << 20;

export interface BlkStats {
  readOps: number;
  writeOps: number;
  flushOps: number;
  discardOps: number;
  writeZeroesOps: number;
  readBytes: number;
  writeBytes: number;
  /** Requests completed with a status other than OK, or returned without one (no status byte). */
  errors: number;
  /** Times the rate limiter refused a request, so the queue waited for tokens. */
  throttled: number;
}

export interface VirtioBlkOptions {
  backend: BlockBackend;
  /** The device id string returned by GET_ID (ASCII, truncated to 20 bytes). */
  serial: string;
  name?: string;
  /** Paces requests (bytes = the request's data, one operation each); absent = unlimited. See setLimiter. */
  limiter?: IoLimiter;
}

/** A virtio-blk device's saved state (its disk is the machine description's). */
export interface BlkState {
  version: 1;
  /** A request the limiter refused was held (it is the last the device took from its queue). */
  throttled: boolean;
  limiter: LimiterState | null;
}

export class VirtioBlk implements VirtioDevice {
  readonly name: string;
  readonly deviceId = DeviceId.Block;
  /** virtio_blk_req and the configuration space have one layout with or without VERSION_1 (5.2.6.3, 5.2.4). */
  readonly acceptsPreVersion1 = true;
  readonly deviceFeatures: bigint;
  readonly queueSizes = [BLK_QUEUE_SIZE];
  readonly stats: BlkStats = {
    readOps: 0, writeOps: 0, flushOps: 0, discardOps: 0, writeZeroesOps: 0, readBytes: 0, writeBytes: 0, errors: 0, throttled: 0,
  };
  private readonly backend: BlockBackend;
  private readonly config = new ConfigSpace(Cfg.Size);
  private readonly id = new Uint8Array(ID_BYTES);
  /** Capacity in sectors. */
  private readonly sectors: number;
  private ctx!: VirtioContext;
  /** Bytes of data the current request stored into its writable buffers (excluding the status byte). */
  private dataWritten = 0;
  private limiter: IoLimiter | null;
  /**
   * The request the limiter refused, taken from the available ring but not yet served: it stays first, so
   * nothing is lost or reordered. While it is set the queue waits for the timer (or a limiter change).
   */
  private throttledRequest: DescriptorChain | null = null;

  constructor(opts: VirtioBlkOptions) {
    this.backend = opts.backend;
    this.limiter = opts.limiter ?? null;
    this.name = opts.name ?? 'virtio-blk';
    const size = opts.backend.size;
    if (!Number.isSafeInteger(size) || size <= 0 || size % SECTOR !== 0) {
      throw new RangeError(`virtio-blk: disk size ${size} is not a positive multiple of 512 bytes`);
    }
    this.sectors = size / SECTOR;
    // 5.2.6: NUL-padded, no terminator when all 20 bytes are used; non-ASCII is replaced rather than mis-encoded
    for (let i = 0; i < Math.min(opts.serial.length, ID_BYTES); i++) {
      const c = opts.serial.charCodeAt(i);
      this.id[i] = c < 0x80 ? c : 0x3f;
    }
    let features = VIRTIO_BLK_F_SIZE_MAX | VIRTIO_BLK_F_SEG_MAX | VIRTIO_BLK_F_BLK_SIZE | VIRTIO_BLK_F_FLUSH;
    // discard and write zeroes modify the disk, so a read-only disk does not offer them
    features |= opts.backend.readOnly ? VIRTIO_BLK_F_RO : VIRTIO_BLK_F_DISCARD | VIRTIO_BLK_F_WRITE_ZEROES;
    this.deviceFeatures = features;

    const v = this.config.view;
    v.setUint32(Cfg.Capacity, this.sectors % 2 ** 32, true);
    v.setUint32(Cfg.Capacity + 4, Math.floor(this.sectors / 2 ** 32), true);
    v.setUint32(Cfg.SizeMax, SIZE_MAX, true);
    v.setUint32(Cfg.SegMax, SEG_MAX, true);
    v.setUint32(Cfg.BlkSize, SECTOR, true);
    v.setUint32(Cfg.MaxDiscardSectors, MAX_DISCARD_SECTORS, true);
    v.setUint32(Cfg.MaxDiscardSeg, MAX_DISCARD_SEG, true);
    v.setUint32(Cfg.DiscardSectorAlignment, 8, true); // 4 KiB: the guest's page and the overlay's block
    v.setUint32(Cfg.MaxWriteZeroesSectors, MAX_WRITE_ZEROES_SECTORS, true);
    v.setUint32(Cfg.MaxWriteZeroesSeg, MAX_WRITE_ZEROES_SEG, true);
    // 5.2.6.2: cleared because write zeroes never deallocates here (backends write real zeroes)
    v.setUint8(Cfg.WriteZeroesMayUnmap, 0);
  }

  attach(ctx: VirtioContext): void {
    this.ctx = ctx;
  }

  readConfig(offset: number, width: number): number {
    return this.config.read(offset, width);
  }

  /** Every field is read-only without VIRTIO_BLK_F_CONFIG_WCE, which is not offered. */
  writeConfig(): void {}

  activate(): void {}

  /** Requests complete synchronously; only a throttled request is held, and the reset forgets it. */
  reset(): void {
    this.throttledRequest = null;
  }

  /** The request held by the limiter (taken again from the queue at restore) and the limiter's tokens. */
  save(): BlkState {
    return { version: 1, throttled: this.throttledRequest !== null, limiter: this.limiter?.save?.(this.ctx.nowMs()) ?? null };
  }

  restore(record: unknown): void {
    const r = new RecordReader(record, this.name, 1);
    const throttled = r.bool('throttled');
    const limiter = r.limiter('limiter');
    this.throttledRequest = null;
    if (limiter) this.limiter?.restore?.(limiter, this.ctx.nowMs());
    if (throttled) {
      const q = this.ctx.queue(0);
      q.rewind(1);
      this.throttledRequest = q.pop();
      if (!this.throttledRequest) throw new SnapshotError(`snapshot: ${this.name} held a request its queue does not have`);
      this.ctx.setTimer(this.ctx.nowMs()); // the machine's loop retries it
    }
  }

  /** New requests wait behind a throttled one until the timer says the limiter has tokens again. */
  notify(_index: number): void {
    if (this.throttledRequest) return;
    this.process();
  }

  timer(): void {
    this.process();
  }

  /**
   * Replaces the rate limiter (null = unlimited). Also call it after reconfiguring the limiter in place: a
   * throttled queue is then retried at once (through the timer, so inside the machine's run loop) rather than
   * at the deadline the old limits gave.
   */
  setLimiter(limiter: IoLimiter | null): void {
    this.limiter = limiter;
    if (this.throttledRequest && this.ctx) this.ctx.setTimer(this.ctx.nowMs());
  }

  /** Serves requests in ring order until the queue is empty or the limiter refuses one. */
  private process(): void {
    if (!this.ctx.active) return;
    const q = this.ctx.queue(0);
    let any = false;
    for (let c = this.throttledRequest ?? q.pop(); c; c = q.pop()) {
      if (!this.admit(c)) {
        this.throttledRequest = c;
        break;
      }
      this.throttledRequest = null;
      q.push(c.head, this.serve(c));
      any = true;
    }
    if (any) this.ctx.usedBuffers(0);
  }

  /**
   * Asks the limiter for one request; its bytes are the data buffers (what follows the 16-byte header, and
   * the writable space before the status byte), so a read and a write of the same size cost the same. When
   * refused, arms the timer for when the tokens will be there.
   */
  private admit(c: DescriptorChain): boolean {
    const limiter = this.limiter;
    if (!limiter) return true;
    const bytes = Math.max(0, c.readableLength - HEADER) + Math.max(0, c.writableLength - 1);
    const now = this.ctx.nowMs();
    if (limiter.consume(bytes, now)) return true;
    this.stats.throttled++;
    this.ctx.setTimer(now + Math.max(MIN_THROTTLE_MS, limiter.waitMs(bytes, now)));
    return false;
  }

  /** Serves one request; returns the used length (data bytes written plus the status byte). */
  private serve(c: DescriptorChain): number {
    if (c.writableLength === 0) {
      // nowhere to put a status: return the chain untouched so the driver sees used length 0
      this.stats.errors++;
      return 0;
    }
    this.dataWritten = 0;
    const status = c.readableLength < HEADER || this.oversized(c) ? BlkStatus.IOERR : this.execute(c);
    const last = c.writable[c.writable.length - 1];
    const at = last.addr + last.len - 1;
    const mem = this.ctx.mem;
    mem.view(at, 1)[0] = status;
    mem.written(at, 1);
    if (status !== BlkStatus.OK) this.stats.errors++;
    return this.dataWritten + 1;
  }

  /**
   * A request beyond what the driver agreed to (5.2.6.1: with SEG_MAX and SIZE_MAX negotiated, it MUST NOT
   * exceed seg_max segments nor carry more than seg_max × size_max; without them, MAX_UNSEGMENTED_DATA): failed
   * without touching the disk, so one request's host work stays bounded. Segments are counted with the
   * descriptors for header and status, which Linux gives descriptors of their own.
   */
  private oversized(c: DescriptorChain): boolean {
    const f = this.ctx.features;
    const segments = (f & VIRTIO_BLK_F_SEG_MAX) !== 0n;
    if (segments && c.readable.length + c.writable.length > SEG_MAX + 2) return true;
    const max = segments && (f & VIRTIO_BLK_F_SIZE_MAX) !== 0n ? MAX_REQUEST_DATA : MAX_UNSEGMENTED_DATA;
    return c.readableLength - HEADER > max || c.writableLength - 1 > max;
  }

  private execute(c: DescriptorChain): BlkStatus {
    const h = gather(this.ctx.mem, c.readable, 0, HEADER);
    const hv = new DataView(h.buffer);
    const type = hv.getUint32(0, true);
    // a sector above 2^53 loses precision but still compares as out of range, which is all that matters
    const sector = hv.getUint32(8, true) + hv.getUint32(12, true) * 2 ** 32;
    switch (type) {
      case BlkType.IN: return this.read(c, sector);
      case BlkType.OUT: return this.write(c, sector);
      case BlkType.FLUSH:
        this.stats.flushOps++;
        return this.host(() => this.backend.flush());
      case BlkType.GET_ID: return this.getId(c);
      case BlkType.DISCARD:
      case BlkType.WRITE_ZEROES:
        return this.ranges(c, type);
      default:
        return BlkStatus.UNSUPP;
    }
  }

  /** Whether [sector, sector + count) lies on the disk. */
  private inRange(sector: number, count: number): boolean {
    return sector <= this.sectors && count <= this.sectors - sector;
  }

  private read(c: DescriptorChain, sector: number): BlkStatus {
    this.stats.readOps++;
    const len = c.writableLength - 1; // the last writable byte is the status
    if (len % SECTOR !== 0 || !this.inRange(sector, len / SECTOR)) return BlkStatus.IOERR;
    const mem = this.ctx.mem;
    let pos = sector * SECTOR;
    return this.host(() => {
      forEachPiece(c.writable, 0, len, (addr, n) => {
        try {
          this.backend.read(pos, mem.view(addr, n));
        } finally {
          mem.written(addr, n); // even a failed read may have stored part of the chunk
        }
        pos += n;
        this.dataWritten += n;
        this.stats.readBytes += n;
      });
    });
  }

  private write(c: DescriptorChain, sector: number): BlkStatus {
    this.stats.writeOps++;
    const len = c.readableLength - HEADER;
    if (this.backend.readOnly) return BlkStatus.IOERR; // 5.2.6.2: and write no data
    if (len % SECTOR !== 0 || !this.inRange(sector, len / SECTOR)) return BlkStatus.IOERR;
    const mem = this.ctx.mem;
    let pos = sector * SECTOR;
    return this.host(() => {
      forEachPiece(c.readable, HEADER, len, (addr, n) => {
        this.backend.write(pos, mem.view(addr, n));
        pos += n;
        this.stats.writeBytes += n;
      });
    });
  }

  private getId(c: DescriptorChain): BlkStatus {
    const len = c.writableLength - 1;
    if (len < ID_BYTES) return BlkStatus.IOERR; // 5.2.6.1: the driver must offer exactly 20 bytes
    const mem = this.ctx.mem;
    let o = 0;
    forEachPiece(c.writable, 0, ID_BYTES, (addr, n) => {
      mem.view(addr, n).set(this.id.subarray(o, o + n));
      mem.written(addr, n);
      o += n;
    });
    this.dataWritten = ID_BYTES;
    return BlkStatus.OK;
  }

  /** DISCARD and WRITE_ZEROES: a list of segments, all validated before any is acted on. */
  private ranges(c: DescriptorChain, type: BlkType.DISCARD | BlkType.WRITE_ZEROES): BlkStatus {
    const discard = type === BlkType.DISCARD;
    if (discard) this.stats.discardOps++;
    else this.stats.writeZeroesOps++;
    const feature = discard ? VIRTIO_BLK_F_DISCARD : VIRTIO_BLK_F_WRITE_ZEROES;
    if ((this.ctx.features & feature) === 0n) return BlkStatus.UNSUPP;
    if (this.backend.readOnly) return BlkStatus.IOERR;
    const len = c.readableLength - HEADER;
    if (len === 0 || len % SEGMENT !== 0) return BlkStatus.IOERR;
    const count = len / SEGMENT;
    // more segments than advertised: a request shape this device does not support
    if (count > (discard ? MAX_DISCARD_SEG : MAX_WRITE_ZEROES_SEG)) return BlkStatus.UNSUPP;
    const segs = gather(this.ctx.mem, c.readable, HEADER, len);
    const v = new DataView(segs.buffer);
    const maxSectors = discard ? MAX_DISCARD_SECTORS : MAX_WRITE_ZEROES_SECTORS;
    for (let i = 0; i < count; i++) {
      const o = i * SEGMENT;
      const flags = v.getUint32(o + 12, true);
      // 5.2.6.2: unknown flags, or unmap on a discard, are unsupported
      if (flags & ~FLAG_UNMAP || (discard && flags & FLAG_UNMAP)) return BlkStatus.UNSUPP;
      const sector = v.getUint32(o, true) + v.getUint32(o + 4, true) * 2 ** 32;
      const n = v.getUint32(o + 8, true);
      if (n > maxSectors || !this.inRange(sector, n)) return BlkStatus.IOERR;
    }
    return this.host(() => {
      for (let i = 0; i < count; i++) {
        const o = i * SEGMENT;
        const offset = (v.getUint32(o, true) + v.getUint32(o + 4, true) * 2 ** 32) * SECTOR;
        const length = v.getUint32(o + 8, true) * SECTOR;
        if (length === 0) continue;
        // unmap on write zeroes is only a permission to deallocate; the range must read as zero either way
        if (discard) this.backend.discard(offset, length);
        else this.backend.writeZeroes(offset, length);
      }
    });
  }

  /**
   * Runs backend calls: any host failure becomes IOERR for this request only. Not just BlockIoError: a backend
   * that throws something else must still not take the device down, and the request has already been taken.
   */
  private host(fn: () => void): BlkStatus {
    try {
      fn();
      return BlkStatus.OK;
    } catch {
      return BlkStatus.IOERR;
    }
  }
}

/**
 * Calls fn(addr, n) for each piece of the segments' byte stream in [offset, offset + length), at most IO_CHUNK
 * bytes each, so big transfers go straight between the backend and guest RAM without a host copy.
 */
function forEachPiece(segs: Segment[], offset: number, length: number, fn: (addr: number, n: number) => void): void {
  for (const s of segs) {
    if (length <= 0) return;
    if (offset >= s.len) {
      offset -= s.len;
      continue;
    }
    let addr = s.addr + offset;
    let left = Math.min(s.len - offset, length);
    length -= left;
    offset = 0;
    while (left > 0) {
      const n = Math.min(left, IO_CHUNK);
      fn(addr, n);
      addr += n;
      left -= n;
    }
  }
}
