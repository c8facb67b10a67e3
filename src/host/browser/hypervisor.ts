// The hypervisor in a browser tab: the daemon's VM manager (credit scheduler, virtual switch, VM threads) running
// in the page, with a Web Worker per VM thread, definitions kept in memory (or the page's storage), guest files
// from the page's origin in shared memory, snapshots in the browser's storage. The page drives it through the
// daemon's API answered in-process (api/local-api.ts), with the checks and preparations given here.
import { VmManager } from '../../hypervisor/manager.js';
import { ThreadPool } from '../../hypervisor/thread-pool.js';
import { specPaths } from '../../hypervisor/paths.js';
import { DEFAULT_CMDLINE } from '../../hypervisor/spec.js';
import { ApiError, badKernel, fileMissing } from '../../hypervisor/errors.js';
import type { GuestImageInfo, VmSpec } from '../../hypervisor/model.js';
import { parseKernelImage } from '../../core/machine/linux.js';
import { RAM_BASE } from '../../core/machine/board.js';
import type { JitMode } from '../../core/jit/mode.js';
import { MemoryStore } from './store.js';
import { spawnVmWorker, type RemoteDisk } from './threads.js';

import { FileDigests, OPFS_PREFIX, TabSnapshots } from './snapshots.js';

export interface BrowserHypervisorOptions {
  /** The files VMs may name (kernel, initrd, …), by path: what the page fetched. */
  files: ReadonlyMap<string, Uint8Array>;
  /** Disk images on the page's origin VMs may name, by path (read in ranges as the guest reads them). */
  disks?: ReadonlyMap<string, RemoteDisk>;
  /** Where VM definitions are kept (default: in memory, for the page's life); those it loaded start again. */
  store?: MemoryStore;
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
  /** Throws the API's error unless every file a new VM names is one the page has (or an OPFS overlay). */
  checkCreate(spec: VmSpec): void;
  /** GET /v1/images. */
  images(): Promise<GuestImageInfo[]>;
  /** Reads the record of the snapshot at `path` (asynchronously, from OPFS) before a VM is defined from it. */
  prepareRestore(path: string): Promise<void>;
  /** Stops every VM and ends its worker. */
  shutdown(): void;
}

export function browserHypervisor(o: BrowserHypervisorOptions): BrowserHypervisor {
  const jit = o.jit ?? 'on';
  const log = o.log ?? ((line: string) => console.log(line));
  const disks = o.disks ?? new Map<string, RemoteDisk>();
  const pool = new ThreadPool(() => spawnVmWorker(o.workerUrl, o.files, disks, jit), o.vmsPerThread ?? 1, o.pcpus);
  const file = (field: string, path: string) => {
    const bytes = o.files.get(path);
    if (!bytes) throw fileMissing(field, path, `this page has no such file (it has ${[...o.files.keys(), ...disks.keys()].join(', ') || 'none'})`);
    return bytes;
  };
  const snapshots = new TabSnapshots(new FileDigests(o.files));
  const manager = new VmManager({
    pcpus: o.pcpus,
    memoryBudgetMib: o.memoryBudgetMib,
    store: o.store ?? new MemoryStore(),
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
    openSnapshot: (path) => snapshots.source(path),
    log,
  });
  const store = o.store;
  if (store) {
    const loaded = store.load();
    for (const p of loaded.problems) log(`tvisor: a kept VM definition was left out: ${p}`);
    manager.restore(loaded.vms);
  }
  return {
    manager,
    // every file a definition names must be one the page holds, a disk on its origin, or an overlay in OPFS
    checkCreate: (spec) => {
      if (spec.flash) throw new ApiError('bad_request', 'flash: firmware in flash is not supported in the browser yet');
      for (const { field, path } of specPaths(spec)) {
        if (field.endsWith('.overlay')) {
          if (!path.startsWith(OPFS_PREFIX) || !/^[A-Za-z0-9._-]+$/.test(path.slice(OPFS_PREFIX.length))) {
            throw fileMissing(field, path, `an overlay here is a file of this browser's storage: ${OPFS_PREFIX}NAME (letters, digits, . _ -)`);
          }
        } else if (!(field.startsWith('disks[') && disks.has(path))) file(field, path);
      }
    },
    images: async () => o.images,
    prepareRestore: (path) => snapshots.prepare(path),
    shutdown: () => manager.shutdown(),
  };
}
