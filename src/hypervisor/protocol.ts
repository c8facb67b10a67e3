// Messages between the VM manager and the threads (workers) that hold VMs: the manager hands out time
// slices chosen by the credit scheduler; the VM thread runs them and reports back, and carries the VM's
// console and network frames. A VM thread may hold several VMs (serve --vms-per-thread): its messages are
// ToHost/FromHost, a VM's messages tagged with the VM's channel there. Plain data only (structured clone), so
// any host with threads can carry it.
import type { RateLimiterConfig } from './rate-limiter.js';
import type { MachineDescription } from './machine.js';
import type { RemoteHartState } from '../core/snapshot/hart.js';

/** What a VM thread needs to build its machine. Paths are host paths, checked at create and again when opened. */
export interface VmThreadConfig {
  id: string;
  /** The machine, as `tvisor run` describes one too; its NICs are ports on the manager's virtual switch. */
  machine: MachineDescription;
  /**
   * Directories every file (kernel, initrd, firmware, disks, overlays) must lie beneath; the thread opens them
   * confined (src/host/node/confined-open.ts), so the check holds at every start. Absent: anywhere.
   */
  allowedDirs?: string[];
  /**
   * Resume a guest instead of booting: the one saved in snapshot file `snapshot` (the machine is the
   * snapshot's; `fresh` names the overlays made for this VM from the snapshot's saved ones, which have no
   * earlier identity to check), or (`incoming`) one arriving by live migration: the machine is built with its
   * disks closed and answers 'incoming-ready'; its RAM comes in 'incoming-pages', and 'incoming-final' opens
   * the disks and resumes it.
   */
  restore?: { snapshot: string; fresh: string[] } | { incoming: true };
}

export interface DeviceCounters {
  diskReadBytes: number;
  diskWriteBytes: number;
  diskReadOps: number;
  diskWriteOps: number;
  netRxBytes: number;
  netTxBytes: number;
  netRxFrames: number;
  netTxFrames: number;
  /** Times a rate limiter made a disk queue, or a NIC's transmit or receive path, wait. */
  diskThrottled: number;
  netThrottled: number;
  balloonBytes: number;
  memoryTouchedBytes: number;
}

/**
 * A multi-vCPU VM whose harts run in parallel: what the VM thread (devices and hart 0) hands the manager so it
 * can start one hart thread per further hart on the same RAM (see core/machine/smp.ts).
 */
export interface SmpShare {
  memory: WebAssembly.Memory;
  /** GuestRam.touchedBuffer: the touched-memory account all threads add to. */
  touched: SharedArrayBuffer;
  link: SharedArrayBuffer;
  mmio: { base: number; size: number; name: string }[];
  /** performance.timeOrigin + performance.now() (ms) at which the VM's clock counted 0. */
  epochMs: number;
  /** mtime's lead over that count (a restored guest's mtime goes on from its saved value). */
  mtimeOffset: number;
  /** A restored guest: what hart 1, 2, … each restore (their records in the saved state). */
  restore?: RemoteHartState[];
  ramBase: number;
  ramSize: number;
  harts: number;
}

export type ToVm =
  | { t: 'init'; config: VmThreadConfig }
  /** To a hart thread: run hart `hartId` of the VM described by `smp` (restoring its saved state, if any). */
  | { t: 'init-hart'; hartId: number; smp: SmpShare }
  /** To a hart thread, between slices: its hart's state for a snapshot; answered by 'hart-state'. */
  | { t: 'hart-save' }
  /**
   * To a hart thread, between slices, while no hart of the VM runs (live migration): mark the VM thread's
   * dirty log (`buffer`, given once) and drop the write translations; answered by 'dirty-logged'.
   */
  | { t: 'dirty-log'; buffer?: SharedArrayBuffer }
  /** To a hart thread: the migration is over, no more logging. */
  | { t: 'dirty-stop' }
  /** Run a slice; stealNs = the vCPU's steal time so far, for the guest's STA record. */
  | { t: 'run'; budgetNs: number; stealNs: number }
  /**
   * Console input for the UART; answered in order by 'input-ack' once the UART's line has room again (flow
   * control: the manager holds the client back until then, and bounds what is in flight).
   */
  | { t: 'input'; bytes: Uint8Array }
  /** The manager took `bytes` of console output: the VM thread may post more (see console-batch.ts). */
  | { t: 'console-ack'; bytes: number }
  /** A frame for NIC `nic`; answered by 'frame-ack' (batched) once handed to the device. */
  | { t: 'frame'; nic: number; frame: Uint8Array }
  | { t: 'balloon'; bytes: number }
  /** New limits for one disk or NIC (index as in VmThreadConfig); null = unlimited. Balances are kept. */
  | { t: 'rate-limiter'; device: 'disk' | 'nic'; index: number; config: RateLimiterConfig | null }
  /**
   * Save the VM (its vCPUs are parked: this comes between slices) to `path`, with the daemon's `settings` in the
   * record (its RAM compressed if `compress`; `remote`: the harts in hart threads, saved there just before); answered by 'snapshot-done' or 'snapshot-error'.
   */
  | { t: 'snapshot'; path: string; settings: { weight: number; cap: number }; compress?: boolean; remote?: RemoteHartState[] }
  /**
   * Live migration's pre-copy, between slices (the VM runs on): `all`, every page the guest wrote so far, and
   * the dirty log starts; else the pages written since the last batch. Answered by 'migrate-pages'.
   */
  | { t: 'migrate-pages'; all: boolean }
  /**
   * Stop-and-copy (the vCPUs are parked): the last pages and the machine's state (`remote`: the harts in hart
   * threads, saved there just before); answered by 'migrate-final'.
   */
  | { t: 'migrate-final'; remote?: RemoteHartState[] }
  /** The migration was given up: the dirty log stops, the VM runs on here. */
  | { t: 'migrate-abort' }
  /** A batch of an arriving guest's RAM (core/snapshot/pages.ts), transferred; its page indices lie within RAM. */
  | { t: 'incoming-pages'; pages: ArrayBuffer }
  /**
   * The arriving guest's last word: its disks are opened (their lock files naming `owner`) and it resumes from
   * `state` (Vm.saveState()); answered by 'ready', or 'init-error' (the thread then closes what it opened).
   */
  | { t: 'incoming-final'; state: unknown; owner: string }
  /**
   * Answered by 'pong' once the thread has handled every earlier message (it is up; pages sent before are in; a
   * slice granted before has ended).
   */
  | { t: 'ping' }
  | { t: 'stop' };

export type FromVm =
  /** Built; `smp` when its further harts are to run in hart threads. */
  | { t: 'ready'; smp?: SmpShare }
  | { t: 'init-error'; message: string }
  /** An arriving guest's machine is built (VmThreadConfig restore.incoming): its pages may come. */
  | { t: 'incoming-ready' }
  | {
      t: 'slice';
      instructions: number;
      elapsedNs: number;
      idle: boolean;
      /** When idle: host ns until the VM's next timer (Infinity = only an interrupt wakes it). */
      idleForNs: number;
      exit: { kind: 'poweroff'; code: number } | { kind: 'stopped' } | { kind: 'crashed'; reason: string } | null;
      /** From the VM thread; hart threads have no devices and send none. */
      counters?: DeviceCounters;
    }
  /** A batch of console output; `dropped` = bytes of older output lost to a flood just before it. */
  | { t: 'console'; bytes: Uint8Array; dropped?: number }
  /** The oldest unanswered 'input' was taken: `bytes` of it, of which `dropped` did not fit the UART's line. */
  | { t: 'input-ack'; bytes: number; dropped: number }
  | { t: 'frame'; nic: number; frame: Uint8Array }
  /** `frames` frames for NIC `nic` were handed to the device (delivered, queued or dropped there). */
  | { t: 'frame-ack'; nic: number; frames: number }
  /** Something (interrupt, input, IPI, hart start) may have made hart `hart` (default 0) runnable. */
  | { t: 'wake'; hart?: number }
  /** A hart thread's guest asked for a shutdown or a reboot. */
  | { t: 'reset'; kind: 'shutdown' | 'cold-reboot' | 'warm-reboot' }
  | { t: 'device-event'; device: string; reason: string; internal: boolean }
  /** The guest rebooted within its thread (the machine reset itself; the manager only tells event subscribers). */
  | { t: 'rebooted' }
  | { t: 'snapshot-done'; bytes: number; savedDisks: string[] }
  /** `refused`: the request cannot be met (the path holds a file that is not a snapshot); else the host failed. */
  | { t: 'snapshot-error'; message: string; refused: boolean }
  /** A batch of `count` pages (core/snapshot/pages.ts), transferred. */
  | { t: 'migrate-pages'; pages: ArrayBuffer; count: number; dirty?: SharedArrayBuffer }
  | { t: 'migrate-final'; pages: ArrayBuffer; count: number; state: unknown }
  | { t: 'migrate-error'; message: string }
  | { t: 'pong' }
  /** A hart thread's hart, saved ('hart-save'), or why it could not be. */
  | { t: 'hart-state'; state: RemoteHartState }
  | { t: 'hart-error'; message: string }
  | { t: 'dirty-logged' }
  /** Answer to 'stop': disks are closed (flushed, unlocked); the thread may be ended. */
  | { t: 'stopped' }
  /** The VM thread's code failed for this VM (outside a slice): the VM has ended, its disks are closed. */
  | { t: 'crash'; reason: string };

/** To a VM thread: a message for the VM on channel `ch` ('init' opens the channel). */
export interface ToHost {
  ch: number;
  m: ToVm;
}

/** From a VM thread: a message of the VM on channel `ch`. */
export interface FromHost {
  ch: number;
  m: FromVm;
}
