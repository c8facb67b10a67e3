// Boot images (kernel, initrd, firmware) as a VM loads them: bytes in memory, or a file the host reads
// straight into guest RAM, so that no copy of tens of MiB stays behind in the host's heap after a boot.

/** A file the host reads on demand (src/host/node/boot-file.ts reads one from disk). */
export interface BootFile {
  readonly size: number;
  /** Fills `into` with the file's bytes from `position` on; throws when the file no longer has them. */
  read(into: Uint8Array, position: number): void;
}

export type BootImage = Uint8Array | BootFile;

export function imageSize(b: BootImage): number {
  return b instanceof Uint8Array ? b.length : b.size;
}

/** The first `n` bytes (fewer if the image is shorter). */
export function imageHead(b: BootImage, n: number): Uint8Array {
  if (b instanceof Uint8Array) return b.subarray(0, n);
  const head = new Uint8Array(Math.min(n, b.size));
  b.read(head, 0);
  return head;
}

/** `length` bytes of `b` from `offset` on, as an image of its own (a view: a file's bytes are read when loaded). */
export function sliceImage(b: BootImage, offset: number, length: number): BootImage {
  if (offset < 0 || length < 0 || offset + length > imageSize(b)) throw new RangeError(`sliceImage: ${length} bytes at ${offset} of ${imageSize(b)}`);
  if (b instanceof Uint8Array) return b.subarray(offset, offset + length);
  return { size: length, read: (into, position) => b.read(into, offset + position) };
}

/** All of it, in memory. */
export function imageBytes(b: BootImage): Uint8Array {
  return imageHead(b, imageSize(b));
}

/** Copies the whole image into `into` (exactly its size). */
export function copyImage(b: BootImage, into: Uint8Array): void {
  if (into.length !== imageSize(b)) throw new RangeError(`copyImage: ${into.length} bytes of room for ${imageSize(b)}`);
  if (b instanceof Uint8Array) into.set(b);
  else b.read(into, 0);
}
