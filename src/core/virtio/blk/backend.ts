// The host side of a virtio-blk disk, as the core sees it: byte-addressed, synchronous storage. Node files
// (raw, read-only, copy-on-write overlay) implement it in src/host/node; tests use memory.

/** A host I/O failure; the device turns it into VIRTIO_BLK_S_IOERR for that request only. */
export class BlockIoError extends Error {
  override name = 'BlockIoError';
}

export interface BlockBackend {
  /** Capacity in bytes (a multiple of 512). */
  readonly size: number;
  /** Writes, discards and write-zeroes are refused by the device (VIRTIO_BLK_S_IOERR) when true. */
  readonly readOnly: boolean;
  /** Fills `dst` from byte `offset`. Throws BlockIoError on a host failure. */
  read(offset: number, dst: Uint8Array): void;
  /** Stores `src` at byte `offset` (may stay in a volatile cache until flush). Throws BlockIoError. */
  write(offset: number, src: Uint8Array): void;
  /** Makes every completed write durable (fsync). Throws BlockIoError. */
  flush(): void;
  /** The range's contents are no longer needed (a hint: may do nothing). */
  discard(offset: number, length: number): void;
  /** The range reads as zeroes afterwards. */
  writeZeroes(offset: number, length: number): void;
  /** Releases host resources (file handles, locks). */
  close(): void;
}

/** A disk held in memory (tests, and browser hosts without storage). */
export class MemoryBlockBackend implements BlockBackend {
  readonly size: number;

  constructor(readonly data: Uint8Array, readonly readOnly = false) {
    if (data.length % 512 !== 0) throw new RangeError('disk size must be a multiple of 512 bytes');
    this.size = data.length;
  }

  read(offset: number, dst: Uint8Array): void {
    if (offset < 0 || offset + dst.length > this.size) throw new BlockIoError('read past the end of the disk');
    dst.set(this.data.subarray(offset, offset + dst.length));
  }

  write(offset: number, src: Uint8Array): void {
    if (this.readOnly) throw new BlockIoError('read-only disk');
    if (offset < 0 || offset + src.length > this.size) throw new BlockIoError('write past the end of the disk');
    this.data.set(src, offset);
  }

  flush(): void {}

  discard(): void {}

  writeZeroes(offset: number, length: number): void {
    if (this.readOnly) throw new BlockIoError('read-only disk');
    if (offset < 0 || offset + length > this.size) throw new BlockIoError('write past the end of the disk');
    this.data.fill(0, offset, offset + length);
  }

  close(): void {}
}

/**
 * A disk whose file is opened later (a guest arriving by live migration: its machine is built while the VM it
 * leaves still holds the file, which is handed over at the switch). Of known size until attach(); every access
 * before that is a host failure (the guest does not run until then).
 */
export class DeferredBlockBackend implements BlockBackend {
  private backend: BlockBackend | null = null;

  constructor(readonly size: number, readonly readOnly: boolean, private readonly label: string) {}

  /** The real disk, of the size this one was made with; throws otherwise (the caller closes it). */
  attach(b: BlockBackend): void {
    if (b.size !== this.size || b.readOnly !== this.readOnly) {
      throw new Error(`${this.label}: is ${b.size} bytes${b.readOnly ? ', read-only' : ''} now, not the ${this.size} bytes${this.readOnly ? ', read-only' : ''} it had`);
    }
    this.backend = b;
  }

  private get b(): BlockBackend {
    if (!this.backend) throw new BlockIoError(`${this.label}: not attached yet`);
    return this.backend;
  }

  read(offset: number, dst: Uint8Array): void {
    this.b.read(offset, dst);
  }

  write(offset: number, src: Uint8Array): void {
    this.b.write(offset, src);
  }

  flush(): void {
    this.b.flush();
  }

  discard(offset: number, length: number): void {
    this.b.discard(offset, length);
  }

  writeZeroes(offset: number, length: number): void {
    this.b.writeZeroes(offset, length);
  }

  close(): void {
    this.backend?.close();
    this.backend = null;
  }
}
