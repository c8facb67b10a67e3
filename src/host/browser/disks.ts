// Disks of the in-tab guests, for the VM worker (virtio-blk calls its backend synchronously, which a worker can
// serve): a base image on the page's origin read on demand in chunks (synchronous HTTP range requests, allowed
// in workers), under a copy-on-write overlay of 4 KiB blocks that takes every write — in memory, or in the
// browser's origin private file system (OPFS, through synchronous access handles) when the guest's writes are
// to outlive the page. The base is never written.
import { BlockIoError, type BlockBackend } from '../../core/virtio/blk/backend.js';

/** Bytes fetched per range request. */
const CHUNK = 256 * 1024;
/** Base chunks kept in memory at most (then the oldest go: they are fetched again when read). */
const MAX_CHUNKS = 256;
/** The overlay's block: a partial write copies the rest of its block from the base first. */
const BLOCK = 4096;

/** A read-only image at `url` on this origin, of `size` bytes, read by range requests as the guest reads it. */
export class HttpRangeDisk implements BlockBackend {
  readonly readOnly = true;
  private readonly chunks = new Map<number, Uint8Array>();

  constructor(private readonly url: string, readonly size: number) {
    if (size % 512 !== 0) throw new RangeError(`${url}: a disk's size must be a multiple of 512 bytes, not ${size}`);
  }

  private chunk(i: number): Uint8Array {
    const have = this.chunks.get(i);
    if (have) {
      // most recently used last
      this.chunks.delete(i);
      this.chunks.set(i, have);
      return have;
    }
    const start = i * CHUNK;
    const end = Math.min(this.size, start + CHUNK) - 1;
    const xhr = new XMLHttpRequest();
    xhr.open('GET', this.url, false);
    xhr.responseType = 'arraybuffer';
    xhr.setRequestHeader('Range', `bytes=${start}-${end}`);
    try {
      xhr.send();
    } catch (e) {
      throw new BlockIoError(`${this.url}: ${(e as Error).message}`);
    }
    const body = new Uint8Array(xhr.response as ArrayBuffer);
    if (xhr.status !== 206 || body.length !== end - start + 1) {
      throw new BlockIoError(`${this.url}: bytes ${start}-${end} answered ${xhr.status} with ${body.length} bytes`);
    }
    this.chunks.set(i, body);
    if (this.chunks.size > MAX_CHUNKS) this.chunks.delete(this.chunks.keys().next().value!);
    return body;
  }

  read(offset: number, dst: Uint8Array): void {
    if (offset < 0 || offset + dst.length > this.size) throw new BlockIoError('read past the end of the disk');
    for (let done = 0; done < dst.length;) {
      const at = offset + done;
      const c = this.chunk(Math.floor(at / CHUNK));
      const from = at % CHUNK;
      const n = Math.min(dst.length - done, c.length - from);
      dst.set(c.subarray(from, from + n), done);
      done += n;
    }
  }

  write(): void {
    throw new BlockIoError('read-only disk');
  }

  flush(): void {}
  discard(): void {}
  writeZeroes(): void {
    throw new BlockIoError('read-only disk');
  }
  close(): void {
    this.chunks.clear();
  }
}

/** Where an overlay keeps its blocks and which blocks it has. */
export interface OverlayStore {
  /** Bit b set: block b is the overlay's. */
  readonly map: Uint8Array;
  readBlock(b: number, dst: Uint8Array): void;
  writeBlock(b: number, src: Uint8Array): void;
  /** Makes the blocks and the map durable. */
  flush(): void;
  close(): void;
}

/** An overlay in memory: the guest's writes last as long as the VM's worker. */
export class MemoryOverlayStore implements OverlayStore {
  readonly map: Uint8Array;
  private readonly blocks = new Map<number, Uint8Array>();

  constructor(size: number) {
    this.map = new Uint8Array(Math.ceil(size / BLOCK / 8));
  }

  readBlock(b: number, dst: Uint8Array): void {
    dst.set(this.blocks.get(b)!);
  }

  writeBlock(b: number, src: Uint8Array): void {
    this.blocks.set(b, src.slice());
  }

  flush(): void {}
  close(): void {
    this.blocks.clear();
  }
}

/** The synchronous access handle of an OPFS file (File System Standard §4.4), as far as an overlay needs it. */
export interface SyncHandle {
  read(buffer: Uint8Array, options: { at: number }): number;
  write(buffer: Uint8Array, options: { at: number }): number;
  getSize(): number;
  truncate(size: number): void;
  flush(): void;
  close(): void;
}

/** "tvisor-overlay" then the disk's size (little-endian u64): the map file's header. */
const MAP_MAGIC = new TextEncoder().encode('tvisor-overlay\0\0');
const MAP_HEADER = MAP_MAGIC.length + 8;

/**
 * An overlay in two OPFS files: the blocks at their disk offsets, and a map file (a header naming the disk's
 * size, then one bit per block). The map is written at every flush (the guest's, and at close): a block
 * written after the last flush may be lost with the page, as a disk's volatile cache would.
 */
export class OpfsOverlayStore implements OverlayStore {
  readonly map: Uint8Array;

  constructor(private readonly data: SyncHandle, private readonly mapFile: SyncHandle, private readonly size: number, name: string) {
    this.map = new Uint8Array(Math.ceil(size / BLOCK / 8));
    const existing = mapFile.getSize();
    if (existing === 0) return;
    const header = new Uint8Array(MAP_HEADER);
    mapFile.read(header, { at: 0 });
    const sized = new DataView(header.buffer).getBigUint64(MAP_MAGIC.length, true);
    if (!MAP_MAGIC.every((b, i) => header[i] === b)) throw new BlockIoError(`overlay ${name}: not a tvisor overlay map`);
    if (sized !== BigInt(size)) throw new BlockIoError(`overlay ${name}: made for a disk of ${sized} bytes, this one has ${size}`);
    mapFile.read(this.map, { at: MAP_HEADER });
  }

  readBlock(b: number, dst: Uint8Array): void {
    if (this.data.read(dst, { at: b * BLOCK }) !== dst.length) throw new BlockIoError(`overlay block ${b}: short read`);
  }

  writeBlock(b: number, src: Uint8Array): void {
    if (this.data.write(src, { at: b * BLOCK }) !== src.length) throw new BlockIoError(`overlay block ${b}: short write (is the browser's storage full?)`);
  }

  flush(): void {
    const header = new Uint8Array(MAP_HEADER);
    header.set(MAP_MAGIC);
    new DataView(header.buffer).setBigUint64(MAP_MAGIC.length, BigInt(this.size), true);
    this.mapFile.write(header, { at: 0 });
    this.mapFile.write(this.map, { at: MAP_HEADER });
    this.data.flush();
    this.mapFile.flush();
  }

  close(): void {
    try {
      this.flush();
    } finally {
      this.data.close();
      this.mapFile.close();
    }
  }
}

/** A base disk under an overlay that takes every write, block by block. */
export class OverlayDisk implements BlockBackend {
  readonly readOnly = false;
  readonly size: number;
  private readonly scratch = new Uint8Array(BLOCK);

  constructor(private readonly base: BlockBackend, private readonly store: OverlayStore) {
    this.size = base.size;
  }

  private has(b: number): boolean {
    return (this.store.map[b >> 3] & (1 << (b & 7))) !== 0;
  }

  /** Block `b` as the guest sees it, into `dst` (BLOCK bytes; the last block of a disk may be shorter). */
  private block(b: number, dst: Uint8Array): void {
    if (this.has(b)) this.store.readBlock(b, dst);
    else this.base.read(b * BLOCK, dst);
  }

  private check(offset: number, length: number): void {
    if (offset < 0 || offset + length > this.size) throw new BlockIoError('access past the end of the disk');
  }

  read(offset: number, dst: Uint8Array): void {
    this.check(offset, dst.length);
    for (let done = 0; done < dst.length;) {
      const at = offset + done;
      const b = Math.floor(at / BLOCK);
      const from = at % BLOCK;
      const n = Math.min(dst.length - done, BLOCK - from, this.size - b * BLOCK - from);
      const whole = this.scratch.subarray(0, Math.min(BLOCK, this.size - b * BLOCK));
      this.block(b, whole);
      dst.set(whole.subarray(from, from + n), done);
      done += n;
    }
  }

  /** Writes `n` bytes at `at` (within one block) from `fill(dst)`. */
  private put(at: number, n: number, fill: (dst: Uint8Array) => void): void {
    const b = Math.floor(at / BLOCK);
    const from = at % BLOCK;
    const whole = this.scratch.subarray(0, Math.min(BLOCK, this.size - b * BLOCK));
    if (from !== 0 || n !== whole.length) this.block(b, whole);
    fill(whole.subarray(from, from + n));
    this.store.writeBlock(b, whole);
    this.store.map[b >> 3] |= 1 << (b & 7);
  }

  write(offset: number, src: Uint8Array): void {
    this.check(offset, src.length);
    for (let done = 0; done < src.length;) {
      const at = offset + done;
      const n = Math.min(src.length - done, BLOCK - (at % BLOCK));
      const part = src.subarray(done, done + n);
      this.put(at, n, (dst) => dst.set(part));
      done += n;
    }
  }

  writeZeroes(offset: number, length: number): void {
    this.check(offset, length);
    for (let done = 0; done < length;) {
      const at = offset + done;
      const n = Math.min(length - done, BLOCK - (at % BLOCK));
      this.put(at, n, (dst) => dst.fill(0));
      done += n;
    }
  }

  flush(): void {
    this.store.flush();
  }

  discard(): void {}

  close(): void {
    try {
      this.store.close();
    } finally {
      this.base.close();
    }
  }
}
