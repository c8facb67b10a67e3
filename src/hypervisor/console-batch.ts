// Console output leaving a VM thread: bytes are gathered and posted to the manager in batches (when a batch
// fills, at the end of a slice, or shortly after the guest last wrote), never a message per byte, and what the
// manager has not yet taken is bounded: under a flood the oldest output is dropped and counted, so a guest
// never waits on the console and a busy manager never queues more than a few batches per VM.

/** A batch is posted once this much output is waiting. */
export const CONSOLE_BATCH_BYTES = 16 * 1024;
/** Output posted and not yet acknowledged by the manager (`console-ack`); beyond it output waits here. */
export const CONSOLE_IN_FLIGHT_BYTES = 64 * 1024;
/** Output kept while waiting: the newest this many bytes. */
export const CONSOLE_RING_BYTES = 64 * 1024;
/** Output written outside a slice's end (or in a slice that runs on) is posted after at most this long. */
export const CONSOLE_FLUSH_MS = 10;

export interface ConsoleBatcherOptions {
  /** Posts one batch; `dropped` = bytes of older output lost just before it. */
  post(bytes: Uint8Array, dropped: number): void;
  /** Runs `fn` after `ms` (setTimeout). */
  later(fn: () => void, ms: number): void;
}

export class ConsoleBatcher {
  private readonly ring = new Uint8Array(CONSOLE_RING_BYTES);
  private head = 0;
  private count = 0;
  private dropped = 0;
  private inFlight = 0;
  private timerArmed = false;
  /** Bytes lost to floods since the start. */
  droppedTotal = 0;

  constructor(private readonly o: ConsoleBatcherOptions) {}

  /** Output the guest wrote. */
  write(bytes: Uint8Array): void {
    if (bytes.length === 1) return this.writeByte(bytes[0]);
    // only the newest RING bytes of a write can survive it
    if (bytes.length > CONSOLE_RING_BYTES) {
      this.lose(bytes.length - CONSOLE_RING_BYTES);
      bytes = bytes.subarray(bytes.length - CONSOLE_RING_BYTES);
    }
    const over = this.count + bytes.length - CONSOLE_RING_BYTES;
    if (over > 0) this.discard(over);
    const tail = (this.head + this.count) % CONSOLE_RING_BYTES;
    const first = Math.min(bytes.length, CONSOLE_RING_BYTES - tail);
    this.ring.set(bytes.subarray(0, first), tail);
    if (bytes.length > first) this.ring.set(bytes.subarray(first), 0);
    this.count += bytes.length;
    this.written();
  }

  /** One byte (a UART transmit). */
  writeByte(b: number): void {
    if (this.count === CONSOLE_RING_BYTES) this.discard(1);
    this.ring[(this.head + this.count) % CONSOLE_RING_BYTES] = b;
    this.count++;
    this.written();
  }

  /** Posts what is waiting, as far as the in-flight bound allows (at a slice's end, and by the timer). */
  flush(): void {
    const room = CONSOLE_IN_FLIGHT_BYTES - this.inFlight;
    if (this.count === 0 || room <= 0) return;
    const n = Math.min(this.count, room);
    const out = new Uint8Array(n);
    const first = Math.min(n, CONSOLE_RING_BYTES - this.head);
    out.set(this.ring.subarray(this.head, this.head + first), 0);
    if (n > first) out.set(this.ring.subarray(0, n - first), first);
    this.head = (this.head + n) % CONSOLE_RING_BYTES;
    this.count -= n;
    this.inFlight += n;
    const dropped = this.dropped;
    this.dropped = 0;
    this.o.post(out, dropped);
  }

  /** The manager took `bytes` of posted output: room for more. */
  acked(bytes: number): void {
    this.inFlight = Math.max(0, this.inFlight - bytes);
    this.flush();
  }

  /** Output waiting to be posted. */
  get pending(): number {
    return this.count;
  }

  private written(): void {
    if (this.count >= CONSOLE_BATCH_BYTES) this.flush();
    if (this.count > 0 && !this.timerArmed) {
      this.timerArmed = true;
      this.o.later(() => {
        this.timerArmed = false;
        this.flush();
      }, CONSOLE_FLUSH_MS);
    }
  }

  /** Drops the oldest `n` waiting bytes. */
  private discard(n: number): void {
    this.head = (this.head + n) % CONSOLE_RING_BYTES;
    this.count -= n;
    this.lose(n);
  }

  private lose(n: number): void {
    this.dropped += n;
    this.droppedTotal += n;
  }
}
