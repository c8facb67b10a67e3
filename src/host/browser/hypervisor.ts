// The hypervisor in a browser tab: the daemon's VM manager (credit scheduler, virtual switch, VM threads) running
// in the page, with a Web Worker per VM thread, definitions kept in memory, and guest files from the page's
// origin held in shared memory. Its API (local-api.ts) is the daemon's, so the web console page drives it.
import { VmManager } from '../../hypervisor/manager.js';
import { ThreadPool } from '../../hypervisor/thread-pool.js';
import { specPaths } from '../../hypervisor/paths.js';
import { DEFAULT_CMDLINE } from '../../hypervisor/spec.js';
import { badKernel, fileMissing } from '../../hypervisor/errors.js';
import type { GuestImageInfo } from '../../hypervisor/model.js';
import { parseKernelImage } from '../../core/machine/linux.js';
import { RAM_BASE } from '../../core/machine/board.js';
import type { JitMode } from '../../core/jit/mode.js';
import { MemoryStore } from './store.js';
import { LocalApi } from './local-api.js';
import { spawnVmWorker } from './threads.js';

export interface BrowserHypervisorOptions {
  /** The files VMs may name (kernel, initrd, …), by path: what the page fetched. */
  files: ReadonlyMap<string, Uint8Array>;
  /** What GET /v1/images lists (the default guest, by the paths of `files`). */
  images: GuestImageInfo[];
  /** The VM worker's script (the vm-worker bundle). */
  workerUrl: string | URL;
  /** Worker threads the scheduler runs vCPUs on at once. */
  pcpus: number;
  /** Guest memory the page admits, in MiB. */
  memoryBudgetMib: number;
  /** VMs packed per worker (default 1: a worker each). */
  vmsPerThread?: number;
  jit?: JitMode;
  log?(line: string): void;
}

export interface BrowserHypervisor {
  manager: VmManager;
  api: LocalApi;
  /** Stops every VM and ends its worker. */
  shutdown(): void;
}

export function browserHypervisor(o: BrowserHypervisorOptions): BrowserHypervisor {
  const jit = o.jit ?? 'on';
  const pool = new ThreadPool(() => spawnVmWorker(o.workerUrl, o.files, jit), o.vmsPerThread ?? 1, o.pcpus);
  const file = (field: string, path: string) => {
    const bytes = o.files.get(path);
    if (!bytes) throw fileMissing(field, path, `this page has no such file (it has ${[...o.files.keys()].join(', ') || 'none'})`);
    return bytes;
  };
  const manager = new VmManager({
    pcpus: o.pcpus,
    memoryBudgetMib: o.memoryBudgetMib,
    store: new MemoryStore(),
    spawn: (opts) => pool.open(opts?.dedicated, opts?.avoid),
    nowNs: () => performance.now() * 1e6,
    checkKernel: (path) => {
      try {
        parseKernelImage(file('kernel', path), RAM_BASE);
      } catch (e) {
        if ((e as { code?: string }).code) throw e;
        throw badKernel('kernel', path, (e as Error).message);
      }
    },
    defaultCmdline: DEFAULT_CMDLINE,
    log: o.log ?? ((line) => console.log(line)),
  });
  const api = new LocalApi(manager, {
    // every file a definition names must be one the page holds (disks, too, for now)
    checkCreate: (spec) => {
      for (const { field, path } of specPaths(spec)) file(field, path);
    },
    images: async () => o.images,
  });
  return { manager, api, shutdown: () => manager.shutdown() };
}
