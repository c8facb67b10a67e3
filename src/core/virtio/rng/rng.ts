// virtio-rng, the entropy device (virtio 1.2 section 5.4): one request queue whose device-writable buffers
// are filled with bytes from the host's cryptographic random source.
import { DeviceId } from '../constants.js';
import type { VirtioContext, VirtioDevice } from '../mmio.js';
import { scatter } from '../queue.js';

/** Largest single fill, so one hostile descriptor cannot make the host draw gigabytes at once. */
const MAX_FILL = 64 * 1024;

export interface RngStats {
  requests: number;
  bytes: number;
}

export class VirtioRng implements VirtioDevice {
  readonly name = 'virtio-rng';
  readonly deviceId = DeviceId.Entropy;
  /** No configuration, no request format: nothing depends on VERSION_1. */
  readonly acceptsPreVersion1 = true;
  readonly deviceFeatures = 0n;
  readonly queueSizes = [64];
  readonly stats: RngStats = { requests: 0, bytes: 0 };
  private ctx!: VirtioContext;

  constructor(private readonly random: (n: number) => Uint8Array) {}

  attach(ctx: VirtioContext): void {
    this.ctx = ctx;
  }

  readConfig(): number {
    return 0; // no configuration space
  }

  writeConfig(): void {}

  activate(): void {}

  reset(): void {}

  notify(index: number): void {
    const q = this.ctx.queue(index);
    let any = false;
    for (let c = q.pop(); c; c = q.pop()) {
      const n = Math.min(c.writableLength, MAX_FILL);
      const written = n > 0 ? scatter(this.ctx.mem, c.writable, 0, this.random(n)) : 0;
      q.push(c.head, written);
      this.stats.requests++;
      this.stats.bytes += written;
      any = true;
    }
    if (any) this.ctx.usedBuffers(index);
  }
}
