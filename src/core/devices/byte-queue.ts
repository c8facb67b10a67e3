// A bounded FIFO of bytes on a ring buffer: the UART's receive FIFO and the host line that feeds it. Pushing
// takes what fits and says how much; nothing ever grows past the capacity.
export class ByteQueue {
  private buf: Uint8Array | null = null;
  private head = 0;
  private count = 0;

  /** The ring is allocated at the first push, so an idle queue costs nothing. */
  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`ByteQueue capacity must be a whole number ≥ 1, got ${capacity}`);
  }

  get length(): number {
    return this.count;
  }

  get free(): number {
    return this.capacity - this.count;
  }

  /** Appends as many of `bytes` as fit; returns how many were taken (the rest is the caller's to count). */
  push(bytes: Uint8Array): number {
    const n = Math.min(bytes.length, this.free);
    if (n === 0) return 0;
    const buf = (this.buf ??= new Uint8Array(this.capacity));
    const tail = (this.head + this.count) % this.capacity;
    const first = Math.min(n, this.capacity - tail);
    buf.set(bytes.subarray(0, first), tail);
    if (n > first) buf.set(bytes.subarray(first, n), 0);
    this.count += n;
    return n;
  }

  /** Appends one byte if there is room. */
  pushByte(b: number): boolean {
    if (this.count === this.capacity) return false;
    const buf = (this.buf ??= new Uint8Array(this.capacity));
    buf[(this.head + this.count) % this.capacity] = b;
    this.count++;
    return true;
  }

  /** The oldest byte, or -1 when empty. */
  shift(): number {
    if (this.count === 0) return -1;
    const b = this.buf![this.head];
    this.head = (this.head + 1) % this.capacity;
    this.count--;
    return b;
  }

  clear(): void {
    this.head = 0;
    this.count = 0;
  }

  /** The queued bytes, oldest first (for a saved state). */
  contents(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.count; i++) out.push(this.buf![(this.head + i) % this.capacity]);
    return out;
  }
}
