// What the VM manager (manager.ts) needs from the host it runs on: threads for VMs and harts, a store for
// definitions, a clock, checks of files, and its settings. src/cli/serve.ts gives Node's; tests give fakes.
import type { FromVm, ToVm } from './protocol.js';
import type { StoredVm } from './stored-vm.js';
import type { SnapshotSource } from './restore.js';
import type { MigrationLink } from './migration.js';

/** A thread holding one VM (a Node worker in src/host/node), or a VM's channel on a shared thread. */
export interface VmThread {
  /**
   * The OS thread it runs on when that may be shared (thread-pool.ts): VMs of one host never run at once. Its
   * `id` numbers the host's threads (VmInfo.thread).
   */
  readonly host?: { readonly id: number };
  /** `transfer`: buffers of `m` handed over to the thread rather than copied. */
  send(m: ToVm, transfer?: ArrayBuffer[]): void;
  /** Where the thread's messages go from now on (the function given last takes them). */
  onMessage(fn: (m: FromVm) => void): void;
  /** The thread died (uncaught error or exit) — `reason` says how (the function given last is called). */
  onExit(fn: (reason: string) => void): void;
  terminate(): void;
}

export interface Store {
  save(vm: StoredVm): void;
  remove(id: string): boolean;
  newId(): string;
}

export interface ManagerOptions {
  pcpus: number;
  /** Sum of guest memory the daemon admits, in MiB. */
  memoryBudgetMib: number;
  store: Store;
  /**
   * A thread for a VM; `dedicated` (multi-vCPU VMs) asks for one the VM has to itself; `avoid`: not on one of
   * these hosts (VmThread.host), a VM moved away from busy ones.
   */
  spawn(opts?: { dedicated: boolean; avoid?: ReadonlySet<object> }): VmThread;
  /** A thread for one further hart of a multi-vCPU VM (harts in parallel); absent: harts share the VM thread. */
  spawnHart?(): VmThread;
  nowNs(): number;
  /** Throws ApiError (bad_kernel) when the file is not a RISC-V Linux Image or ELF kernel. */
  checkKernel(path: string): void;
  /**
   * Directories every file of a VM must lie beneath: its VM thread opens them confined (confined-open.ts) at
   * every start, so a file swapped for a symlink, or a narrower list after a daemon restart, stops the start.
   * Absent: anywhere.
   */
  allowedDirs?: readonly string[];
  /** A file's identity (e.g. device and inode), so that no two VMs of this daemon write one image; absent: its path. */
  fileIdentity?(path: string): string;
  /**
   * Called once a VM thread has ended (closed or not): removes the disk locks `owner` may have left on `paths`
   * (a thread terminated or dead without closing its disks), so they do not stay held by this process.
   */
  releaseDiskLocks?(owner: string, paths: string[]): void;
  defaultCmdline: string;
  log(line: string): void;
  /** VM threads set up at once (spawned, not yet ready); further starts wait their turn. Default DEFAULT_MAX_STARTING. */
  maxStarting?: number;
  /** Opens a snapshot file to restore (throws ApiError: bad_snapshot, or the file's); absent: restores are refused. */
  openSnapshot?(path: string): SnapshotSource;
  /** Connects to another daemon's GET /v1/migrations/incoming (`to`: http://HOST:PORT); absent: such migrations are refused. */
  connectDaemon?(to: string, token?: string): Promise<MigrationLink>;
  /**
   * How often (ms) to look for busy VMs sharing a thread while a host CPU is free, and move one (rebalance.ts);
   * absent or 0: never.
   */
  rebalanceMs?: number;
}

/**
 * Making a worker and building a machine cost the main thread and the CPU: 50 starts at once would compete
 * with the API and the running guests. Starts return at once and their threads are set up a few at a time.
 */
export const DEFAULT_MAX_STARTING = 4;
