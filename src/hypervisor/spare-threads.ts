// Threads started ahead of need. A new VM thread loads tvisor's code and warms its interpreter up before it
// can build a machine: a few hundred milliseconds that a VM's start, a snapshot's restore or a live migration's
// arrival would otherwise wait for. The daemon keeps one such thread ready and hands it out on the next
// request; its replacement is started a moment later, so that it does not compete with the start it served.

/** A thread as the spares see it (HostWorker and VmThread both are). */
export interface SpareThread {
  /** The function given last is called (the taker's replaces the spare's own). */
  onExit(fn: (reason: string) => void): void;
  terminate(): void;
}

export interface SpareOptions {
  /** Threads kept ready. */
  count: number;
  /** Runs `fn` after `ms` (setTimeout). */
  later(fn: () => void, ms: number): void;
  /** How long after a take its replacement starts (default 1000 ms). */
  refillMs?: number;
  /** Start the spares now; else only after the first take (threads of a kind a daemon may never need). */
  eager?: boolean;
}

export class SpareThreads<T extends SpareThread> {
  private readonly ready: T[] = [];
  private refilling = false;
  private closed = false;

  constructor(private readonly spawn: () => T, private readonly o: SpareOptions) {
    if (o.eager) this.refill();
  }

  /** Threads ready now. */
  get spares(): number {
    return this.ready.length;
  }

  /** A thread: a spare if one is ready, else a new one. */
  take(): T {
    const t = this.ready.shift() ?? this.spawn();
    this.refillSoon();
    return t;
  }

  /** Ends the spares (the daemon stops). */
  close(): void {
    this.closed = true;
    for (const t of this.ready.splice(0)) t.terminate();
  }

  private refillSoon(): void {
    if (this.refilling || this.closed) return;
    this.refilling = true;
    this.o.later(() => {
      this.refilling = false;
      this.refill();
    }, this.o.refillMs ?? 1000);
  }

  private refill(): void {
    while (!this.closed && this.ready.length < this.o.count) {
      const t = this.spawn();
      // a spare that dies before it is taken is dropped, and replaced only after the next take (a thread that
      // cannot start is not restarted in a loop); once taken, the taker's onExit is called instead
      t.onExit(() => {
        const i = this.ready.indexOf(t);
        if (i >= 0) this.ready.splice(i, 1);
      });
      this.ready.push(t);
    }
  }
}
