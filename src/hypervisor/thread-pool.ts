// VM threads shared by several VMs (`serve --vms-per-thread N`): a Node worker costs ~8 MiB before it holds
// anything, more than the whole per-VM budget, so dense hosts pack idle VMs into fewer threads. Each VM gets
// a channel (a VmThread to the manager) on the thread with room that holds the fewest VMs, or on a new one
// while there are fewer threads than pCPUs (so VMs that are busy at once can use them all); a thread ends
// when its last VM does. VMs of one thread never run at the same time: the manager schedules
// them as one host (VmThread.host). With N = 1 every VM has a thread of its own, as before.
import type { FromHost, FromVm, ToHost } from './protocol.js';
import type { VmThread } from './manager.js';

/** A worker that speaks the channel protocol (vm-slot.ts, in a Node worker: src/host/node/vm-thread.ts). */
export interface HostWorker {
  send(m: ToHost, transfer?: ArrayBuffer[]): void;
  onMessage(fn: (m: FromHost) => void): void;
  /** The worker died (uncaught error or exit): every VM on it is gone. */
  onExit(fn: (reason: string) => void): void;
  terminate(): void;
}

interface Channel {
  message: ((m: FromVm) => void) | null;
  exit: ((reason: string) => void) | null;
  open: boolean;
}

interface Host {
  /** Numbers the pool's threads, from 1 (VmInfo.thread). */
  id: number;
  worker: HostWorker;
  channels: Map<number, Channel>;
  /** Holds one VM whatever N is (a multi-vCPU VM, whose hart threads call on it at any time). */
  dedicated: boolean;
  dead: boolean;
}

export class ThreadPool {
  private readonly hosts: Host[] = [];
  private nextChannel = 1;
  private nextHost = 1;

  /** `minThreads`: shared threads to spread over before packing (the pCPUs). */
  constructor(private readonly spawn: () => HostWorker, readonly vmsPerThread: number, readonly minThreads = 1) {
    if (!Number.isInteger(vmsPerThread) || vmsPerThread < 1) throw new Error(`vmsPerThread must be a whole number ≥ 1, got ${vmsPerThread}`);
  }

  /** VMs on each live thread. */
  get load(): number[] {
    return this.hosts.map((h) => h.channels.size);
  }

  /** A channel for one VM; `dedicated` puts it on a thread of its own; `avoid`: on none of these threads. */
  open(dedicated = false, avoid?: ReadonlySet<object>): VmThread {
    let host: Host | undefined;
    const shared = this.hosts.filter((h) => !h.dedicated && !h.dead);
    if (!dedicated && shared.length >= this.minThreads) {
      for (const h of shared) {
        if (h.channels.size >= this.vmsPerThread || avoid?.has(h)) continue;
        if (!host || h.channels.size < host.channels.size) host = h;
      }
    }
    host ??= this.start(dedicated);
    const h = host;
    const ch = this.nextChannel++;
    const c: Channel = { message: null, exit: null, open: true };
    h.channels.set(ch, c);
    return {
      host: h,
      send: (m, transfer) => {
        if (c.open && !h.dead) h.worker.send({ ch, m }, transfer);
      },
      onMessage: (fn) => (c.message = fn),
      onExit: (fn) => (c.exit = fn),
      terminate: () => {
        if (!c.open) return;
        c.open = false;
        h.channels.delete(ch);
        if (h.channels.size > 0) {
          // frees the VM's slot if it is still there (after a stop that timed out); a no-op otherwise
          h.worker.send({ ch, m: { t: 'stop' } });
          return;
        }
        h.dead = true;
        this.hosts.splice(this.hosts.indexOf(h), 1);
        h.worker.terminate();
      },
    };
  }

  private start(dedicated: boolean): Host {
    const worker = this.spawn();
    const host: Host = { id: this.nextHost++, worker, channels: new Map(), dedicated, dead: false };
    worker.onMessage(({ ch, m }) => {
      const c = host.channels.get(ch);
      if (c?.open) c.message?.(m);
    });
    worker.onExit((reason) => {
      if (host.dead) return;
      host.dead = true;
      const i = this.hosts.indexOf(host);
      if (i >= 0) this.hosts.splice(i, 1);
      const channels = [...host.channels.values()];
      host.channels.clear();
      for (const c of channels) {
        c.open = false;
        c.exit?.(reason);
      }
    });
    this.hosts.push(host);
    return host;
  }
}
