// virtio-console (virtio 1.2 section 5.3), single port: Linux's hvc0. receiveq0 carries host input to the
// guest, transmitq0 the guest's output; the emergency write register prints one byte without a queue.
import { DeviceId } from '../constants.js';
import { ConfigSpace, type VirtioContext, type VirtioDevice } from '../mmio.js';
import { gather, scatter, VirtqueueError } from '../queue.js';
import { RecordReader } from '../../snapshot/state.js';

const F_SIZE = 1n << 0n; // cols/rows in the configuration space
const F_EMERG_WRITE = 1n << 2n; // emerg_wr register
/** Host input kept while the guest has posted no receive buffers; more is dropped. */
const INPUT_BACKLOG = 64 * 1024;
/** Largest output taken from one chain at once. */
const MAX_OUTPUT = 1 << 20;

export interface ConsoleStats {
  rxBytes: number;
  txBytes: number;
  rxDropped: number;
}

/** A virtio console's saved state. */
export interface ConsoleState {
  version: 1;
  cols: number;
  rows: number;
  /** Host input waiting for the guest, oldest first. */
  input: number[];
}

export class VirtioConsole implements VirtioDevice {
  readonly name = 'virtio-console';
  readonly deviceId = DeviceId.Console;
  readonly deviceFeatures = F_SIZE | F_EMERG_WRITE;
  readonly queueSizes = [64, 64];
  readonly stats: ConsoleStats = { rxBytes: 0, txBytes: 0, rxDropped: 0 };
  private ctx!: VirtioContext;
  private readonly config = new ConfigSpace(12); // cols u16, rows u16, max_nr_ports u32, emerg_wr u32
  private backlog: Uint8Array[] = [];
  private backlogBytes = 0;

  constructor(private readonly output: (bytes: Uint8Array) => void, size: { cols: number; rows: number } = { cols: 80, rows: 25 }) {
    this.config.write(0, 2, size.cols);
    this.config.write(2, 2, size.rows);
    this.config.write(4, 4, 1);
  }

  attach(ctx: VirtioContext): void {
    this.ctx = ctx;
  }

  readConfig(offset: number, width: number): number {
    return offset >= 8 ? 0 : this.config.read(offset, width);
  }

  writeConfig(offset: number, width: number, value: number): void {
    if (offset === 8 && (this.ctx.features & F_EMERG_WRITE) !== 0n) {
      this.output(Uint8Array.of(value & 0xff));
      this.stats.txBytes++;
    }
    void width;
  }

  /** The host terminal changed size: tells the guest (config change). */
  resize(cols: number, rows: number): void {
    this.config.write(0, 2, cols);
    this.config.write(2, 2, rows);
    if (this.ctx) this.ctx.configChanged();
  }

  /** Host input the guest has not taken yet. */
  get pendingInput(): number {
    return this.backlogBytes;
  }

  /** Host keyboard input for the guest. */
  receive(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    const room = INPUT_BACKLOG - this.backlogBytes;
    if (bytes.length > room) {
      this.stats.rxDropped += bytes.length - Math.max(room, 0);
      bytes = bytes.subarray(0, Math.max(room, 0));
    }
    if (bytes.length > 0) {
      this.backlog.push(bytes.slice());
      this.backlogBytes += bytes.length;
    }
    // outside the transport's guard (the host calls this, not an MMIO access): a guest protocol violation
    // found while delivering must end in DEVICE_NEEDS_RESET here, not in an exception thrown at the host
    try {
      this.deliver();
    } catch (e) {
      this.reset();
      if (e instanceof VirtqueueError) this.ctx.fail(e.message);
      else this.ctx.fail(`internal error in virtio-console receive: ${(e as Error)?.stack ?? String(e)}`);
    }
  }

  activate(): void {
    this.deliver();
  }

  reset(): void {
    this.backlog = [];
    this.backlogBytes = 0;
  }

  notify(index: number): void {
    if (index === 0) this.deliver();
    else if (index === 1) this.transmit();
  }

  /** The console's size and the host input the guest has not taken yet. */
  save(): ConsoleState {
    const input: number[] = [];
    for (const b of this.backlog) for (const x of b) input.push(x);
    return { version: 1, cols: this.config.read(0, 2), rows: this.config.read(2, 2), input };
  }

  restore(record: unknown): void {
    const r = new RecordReader(record, 'virtio-console', 1);
    const cols = r.uint('cols', 0xffff);
    const rows = r.uint('rows', 0xffff);
    const input = r.uints('input', -1, 0xff, INPUT_BACKLOG);
    this.config.write(0, 2, cols);
    this.config.write(2, 2, rows);
    this.backlog = input.length > 0 ? [Uint8Array.from(input)] : [];
    this.backlogBytes = input.length;
  }

  private deliver(): void {
    if (!this.ctx?.active || this.backlogBytes === 0) return;
    const q = this.ctx.queue(0);
    let any = false;
    while (this.backlogBytes > 0) {
      const c = q.pop();
      if (!c) break;
      const take = Math.min(c.writableLength, this.backlogBytes);
      const chunk = new Uint8Array(take);
      let o = 0;
      while (o < take) {
        const head = this.backlog[0];
        const n = Math.min(head.length, take - o);
        chunk.set(head.subarray(0, n), o);
        o += n;
        if (n === head.length) this.backlog.shift();
        else this.backlog[0] = head.subarray(n);
      }
      this.backlogBytes -= take;
      const written = scatter(this.ctx.mem, c.writable, 0, chunk);
      this.stats.rxBytes += written;
      q.push(c.head, written);
      any = true;
    }
    if (any) this.ctx.usedBuffers(0);
  }

  private transmit(): void {
    const q = this.ctx.queue(1);
    let any = false;
    for (let c = q.pop(); c; c = q.pop()) {
      const n = Math.min(c.readableLength, MAX_OUTPUT);
      if (n > 0) {
        this.output(gather(this.ctx.mem, c.readable, 0, n));
        this.stats.txBytes += n;
      }
      q.push(c.head, 0);
      any = true;
    }
    if (any) this.ctx.usedBuffers(1);
  }
}
