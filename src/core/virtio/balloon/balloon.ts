// virtio-balloon, the traditional memory balloon (virtio 1.2 section 5.5): the host sets a target
// (num_pages), the guest inflates by handing page frame numbers back on inflateq and takes them again on
// deflateq; statsq carries the guest's memory statistics on request. Pages in the balloon are accounted as
// returned to the host. (A WebAssembly.Memory cannot give pages back to the OS, so "returned" is accounting:
// the pages are zeroed so a later snapshot or migration can skip them.)
import { DeviceId } from '../constants.js';
import { ConfigSpace, type VirtioContext, type VirtioDevice } from '../mmio.js';
import { gather, type DescriptorChain } from '../queue.js';
import { RecordReader, SnapshotError } from '../../snapshot/state.js';

const F_STATS_VQ = 1n << 1n; // statsq present
const F_DEFLATE_ON_OOM = 1n << 2n; // the guest may deflate on its own when short of memory
/** Balloon page size (VIRTIO_BALLOON_PFN_SHIFT 12), independent of the guest's page size. */
export const BALLOON_PAGE = 4096;

/** Statistics tags (5.5.6.3) and the names used in reports. */
const STAT_NAMES = [
  'swap_in', 'swap_out', 'major_faults', 'minor_faults', 'free_memory', 'total_memory', 'available_memory',
  'disk_caches', 'hugetlb_allocations', 'hugetlb_failures', 'oom_kills', 'alloc_stalls', 'async_scans',
  'direct_scans', 'async_reclaims', 'direct_reclaims',
];

export interface BalloonOptions {
  /** Guest RAM base and size: PFNs outside it are ignored. */
  ramBase: number;
  ramSize: number;
  /** Offer VIRTIO_BALLOON_F_DEFLATE_ON_OOM (the guest keeps its MemTotal and deflates under pressure). */
  deflateOnOom?: boolean;
}

/** A balloon's saved state. */
export interface BalloonState {
  version: 1;
  /** The host's target and the guest's actual, in 4 KiB pages. */
  numPages: number;
  actual: number;
  /** The pages in the balloon (by page index in RAM) as (start, length) runs. */
  runs: number[];
  stats: [string, number][];
  statsHeld: boolean;
}

export class VirtioBalloon implements VirtioDevice {
  readonly name = 'virtio-balloon';
  readonly deviceId = DeviceId.Balloon;
  readonly deviceFeatures: bigint;
  readonly queueSizes = [256, 256, 8];
  /** Latest statistics from the guest (bytes or counts, by name), with the host time they arrived. */
  guestStats: Record<string, number> = {};
  /** PFNs the guest named that lie outside RAM (ignored). */
  invalidPfns = 0;
  private ctx!: VirtioContext;
  private readonly config = new ConfigSpace(8); // num_pages u32 (device), actual u32 (driver)
  private readonly inBalloon: Uint8Array;
  private pages = 0;
  private statsChain: DescriptorChain | null = null;

  constructor(private readonly opts: BalloonOptions) {
    this.deviceFeatures = F_STATS_VQ | (opts.deflateOnOom ? F_DEFLATE_ON_OOM : 0n);
    this.inBalloon = new Uint8Array(Math.ceil(opts.ramSize / BALLOON_PAGE));
  }

  attach(ctx: VirtioContext): void {
    this.ctx = ctx;
  }

  /** The host's target: how many bytes the guest should give back. */
  setTarget(bytes: number): void {
    const pages = Math.max(0, Math.min(Math.floor(bytes / BALLOON_PAGE), this.inBalloon.length));
    if (pages === this.config.read(0, 4)) return;
    this.config.write(0, 4, pages);
    this.ctx?.configChanged();
  }

  get targetBytes(): number {
    return this.config.read(0, 4) * BALLOON_PAGE;
  }

  /** What the guest reports as in the balloon (the `actual` field). */
  get actualBytes(): number {
    return this.config.read(4, 4) * BALLOON_PAGE;
  }

  /** Pages the device has received on inflateq and not yet seen on deflateq, in bytes. */
  get returnedBytes(): number {
    return this.pages * BALLOON_PAGE;
  }

  readConfig(offset: number, width: number): number {
    return this.config.read(offset, width);
  }

  writeConfig(offset: number, width: number, value: number): void {
    if (offset >= 4) this.config.write(offset, width, value); // num_pages is the device's
  }

  activate(): void {}

  reset(): void {
    this.inBalloon.fill(0);
    this.pages = 0;
    this.statsChain = null;
    this.config.write(4, 4, 0);
  }

  /**
   * The balloon's state: the host's target, the guest's `actual`, the pages in the balloon (as runs), the
   * guest's last statistics, and whether the device holds the guest's statistics buffer.
   */
  save(): BalloonState {
    const runs: number[] = [];
    for (let p = 0; p < this.inBalloon.length; p++) {
      if (!this.inBalloon[p]) continue;
      const start = p;
      while (p + 1 < this.inBalloon.length && this.inBalloon[p + 1]) p++;
      runs.push(start, p - start + 1);
    }
    return {
      version: 1, numPages: this.config.read(0, 4), actual: this.config.read(4, 4), runs,
      stats: Object.entries(this.guestStats).map(([k, v]) => [k, v]), statsHeld: this.statsChain !== null,
    };
  }

  restore(record: unknown): void {
    const n = this.inBalloon.length;
    const r = new RecordReader(record, 'virtio-balloon', 1);
    const numPages = r.uint('numPages', n);
    const actual = r.uint('actual', 0xffffffff);
    const runs = r.uints('runs', -1, n, 2 * n);
    if (runs.length % 2 !== 0) throw new SnapshotError('snapshot: virtio-balloon.runs must hold (start, length) pairs');
    for (let i = 0; i < runs.length; i += 2) {
      if (runs[i] + runs[i + 1] > n) throw new SnapshotError(`snapshot: virtio-balloon.runs[${i}] reaches beyond guest RAM`);
    }
    const stats = r.pairs('stats');
    const statsHeld = r.bool('statsHeld');
    this.reset();
    this.config.write(0, 4, numPages);
    this.config.write(4, 4, actual);
    for (let i = 0; i < runs.length; i += 2) this.inBalloon.fill(1, runs[i], runs[i] + runs[i + 1]);
    this.pages = this.inBalloon.reduce((a, b) => a + b, 0);
    this.guestStats = Object.fromEntries(stats);
    if (statsHeld) {
      // the buffer held was the last the guest gave on statsq: take it again
      const q = this.ctx.queue(2);
      q.rewind(1);
      this.statsChain = q.pop();
      if (!this.statsChain) throw new SnapshotError('snapshot: virtio-balloon held a statistics buffer its queue does not have');
    }
  }

  /** Asks the guest for fresh statistics (returns the buffer it left on statsq); false if none is held. */
  requestStats(): boolean {
    const c = this.statsChain;
    if (!c || !this.ctx.active) return false;
    this.statsChain = null;
    this.ctx.queue(2).push(c.head, 0);
    this.ctx.usedBuffers(2);
    return true;
  }

  notify(index: number): void {
    if (index === 2) {
      this.takeStats();
      return;
    }
    if (index !== 0 && index !== 1) return;
    const q = this.ctx.queue(index);
    let any = false;
    for (let c = q.pop(); c; c = q.pop()) {
      // at most as many page numbers as guest RAM has pages: a longer chain can only repeat pages or name
      // pages outside RAM, and gathering it whole (up to 32768 descriptors, each as long as RAM) would make
      // the host allocate gigabytes (or, at 2 GiB, throw: `& ~3` went negative there)
      const n = Math.min(c.readableLength - (c.readableLength % 4), 4 * this.inBalloon.length);
      const pfns = gather(this.ctx.mem, c.readable, 0, n);
      const view = new DataView(pfns.buffer);
      for (let o = 0; o < n; o += 4) this.mark(view.getUint32(o, true), index === 0);
      q.push(c.head, 0);
      any = true;
    }
    if (any) this.ctx.usedBuffers(index);
  }

  private mark(pfn: number, inflate: boolean): void {
    const addr = pfn * BALLOON_PAGE;
    const page = (addr - this.opts.ramBase) / BALLOON_PAGE;
    if (addr < this.opts.ramBase || page >= this.inBalloon.length) {
      this.invalidPfns++;
      return;
    }
    if (inflate && !this.inBalloon[page]) {
      this.inBalloon[page] = 1;
      this.pages++;
      const v = this.ctx.mem.view(addr, BALLOON_PAGE);
      v.fill(0);
      this.ctx.mem.written(addr, BALLOON_PAGE);
    } else if (!inflate && this.inBalloon[page]) {
      this.inBalloon[page] = 0;
      this.pages--;
    }
  }

  private takeStats(): void {
    const q = this.ctx.queue(2);
    for (let c = q.pop(); c; c = q.pop()) {
      if (this.statsChain) q.push(this.statsChain.head, 0); // keep only the newest buffer
      this.statsChain = c;
      const n = Math.min(c.readableLength - (c.readableLength % 10), 10 * 64);
      const bytes = gather(this.ctx.mem, c.readable, 0, n);
      const v = new DataView(bytes.buffer);
      const stats: Record<string, number> = {};
      for (let o = 0; o < n; o += 10) {
        const tag = v.getUint16(o, true);
        const value = v.getUint32(o + 2, true) + v.getUint32(o + 6, true) * 2 ** 32;
        stats[STAT_NAMES[tag] ?? `tag_${tag}`] = value;
      }
      this.guestStats = stats;
    }
    this.ctx.usedBuffers(2);
  }
}
