// Messages between the VM manager and the thread (worker) that holds one VM: the manager hands out time
// slices chosen by the credit scheduler; the VM thread runs them and reports back, and carries the VM's
// console and network frames. Plain data only (structured clone), so any host with threads can carry it.
import type { RateLimiterConfig } from './rate-limiter.js';

/** What a VM thread needs to build its machine. Paths are host paths, already checked by the manager. */
export interface VmThreadConfig {
  id: string;
  name: string;
  memoryBytes: number;
  vcpus: number;
  kernel: string;
  initrd?: string;
  cmdline: string;
  firmware?: string;
  /** `rateLimiter` paces the disk's requests; absent = unlimited. */
  disks: { path: string; readOnly?: boolean; overlay?: string; rateLimiter?: RateLimiterConfig }[];
  /** MACs of the NICs (xx:xx:xx:xx:xx:xx); frames travel to and from the manager's virtual switch. */
  nics: string[];
  /**
   * Per NIC (same order as `nics`; missing or null = unlimited): the limits each direction gets, separately
   * (transmitted frames, and frames delivered to the guest).
   */
  nicRateLimiters?: (RateLimiterConfig | null)[];
  /** Initial balloon target in bytes (the balloon device is always present under the daemon). */
  balloonBytes: number;
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

export type ToVm =
  | { t: 'init'; config: VmThreadConfig }
  /** Run a slice; stealNs = the vCPU's steal time so far, for the guest's STA record. */
  | { t: 'run'; budgetNs: number; stealNs: number }
  | { t: 'input'; bytes: Uint8Array }
  | { t: 'frame'; nic: number; frame: Uint8Array }
  | { t: 'balloon'; bytes: number }
  /** New limits for one disk or NIC (index as in VmThreadConfig); null = unlimited. Balances are kept. */
  | { t: 'rate-limiter'; device: 'disk' | 'nic'; index: number; config: RateLimiterConfig | null }
  | { t: 'stop' };

export type FromVm =
  | { t: 'ready' }
  | { t: 'init-error'; message: string }
  | {
      t: 'slice';
      instructions: number;
      elapsedNs: number;
      idle: boolean;
      /** When idle: host ns until the VM's next timer (Infinity = only an interrupt wakes it). */
      idleForNs: number;
      exit: { kind: 'poweroff'; code: number } | { kind: 'stopped' } | { kind: 'crashed'; reason: string } | null;
      counters: DeviceCounters;
    }
  | { t: 'console'; bytes: Uint8Array }
  | { t: 'frame'; nic: number; frame: Uint8Array }
  /** Something (interrupt, input) may have made the idle VM runnable. */
  | { t: 'wake' }
  | { t: 'device-event'; device: string; reason: string; internal: boolean }
  /** Answer to 'stop': disks are closed (flushed, unlocked); the thread may be ended. */
  | { t: 'stopped' };
