// The VM manager's record of one VM (ManagedVm): its definition, its threads and vCPUs, what it counts, and
// the snapshot or migration in progress; with the functions that need nothing else of the manager.
import type { DeviceCounters, FromVm } from './protocol.js';
import type { VmStats } from './model.js';
import type { MachineDescription } from './machine.js';
import type { StoredVm } from './stored-vm.js';
import type { SwitchPort } from './switch.js';
import type { VmThread } from './manager-host.js';
import { ApiError } from './errors.js';
import { DeviceEventLog } from './device-event-log.js';
import { VmConsole } from './vm-console.js';

/** One schedulable vCPU: the VM thread (hart 0, or all harts) or a hart thread. */
export interface Vcpu {
  readonly index: number;
  /** The scheduler's key. */
  readonly key: string;
  readonly thread: VmThread;
  /** The thread has built its hart. */
  ready: boolean;
  /** A wake arrived before the thread was ready. */
  wantWake: boolean;
  pcpu: number;
  wakeTimer: ReturnType<typeof setTimeout> | null;
}

/** The manager's record of one VM: its definition, its threads and vCPUs, and what it counts. */
export interface ManagedVm {
  stored: StoredVm;
  /** Starts waiting for this VM's previous thread to close its disks (it answers 'stopped'); null: none. */
  closing: (() => void)[] | null;
  /** The VM thread (devices and hart 0); null when the VM is not running. */
  thread: VmThread | null;
  /** Hart threads of a multi-vCPU VM, besides `thread`. */
  hartThreads: VmThread[];
  /** Scheduled vCPUs; empty until the VM thread is ready. */
  vcpus: Vcpu[];
  paused: boolean;
  /** Started (running or paused to the API) and waiting for its turn to get a thread (admit()). */
  queued: boolean;
  counters: DeviceCounters;
  instructions: number;
  cpuNsBefore: number;
  stealNsBefore: number;
  ports: SwitchPort[];
  console: VmConsole;
  /** Per NIC: frames sent to the VM thread and not yet acknowledged ('frame-ack'). */
  framesInFlight: number[];
  /** Frames dropped on the way to the guest since the VM started (flood bounds), for its stats. */
  netRxDropped: number;
  /** Device-event log lines, rate-limited per VM. */
  deviceLog: DeviceEventLog;
  /** A snapshot or migration in progress (its name, for messages); other lifecycle actions wait for it. */
  busy: 'snapshot' | 'migration' | null;
  /** The VM thread's answer awaited by request(): settled by it, or rejected when the thread ends first. */
  pending: { resolve(m: FromVm): void; reject(e: Error): void } | null;
  /** Called when a thread the VM was moved to (migrate()) has resumed the guest. */
  onMoved: (() => void) | null;
  /** The machine its thread runs (null before its first start). */
  machine: MachineDescription | null;
}

export const EMPTY_COUNTERS: DeviceCounters = {
  diskReadBytes: 0, diskWriteBytes: 0, diskReadOps: 0, diskWriteOps: 0, netRxBytes: 0, netTxBytes: 0,
  netRxFrames: 0, netTxFrames: 0, diskThrottled: 0, netThrottled: 0, balloonBytes: 0, memoryTouchedBytes: 0,
};

/** A VM as the manager first holds it: no thread, nothing counted. */
export function newManagedVm(stored: StoredVm, deviceLog: DeviceEventLog): ManagedVm {
  return {
    stored, closing: null, thread: null, hartThreads: [], vcpus: [], paused: false, queued: false, counters: EMPTY_COUNTERS,
    instructions: 0, cpuNsBefore: 0, stealNsBefore: 0, ports: [], console: new VmConsole(), framesInFlight: [], netRxDropped: 0,
    deviceLog, busy: null, pending: null, onMoved: null, machine: null,
  };
}

/** What GET /v1/vms/{id} reports of a VM, given its CPU and steal time so far. */
export function vmStats(vm: ManagedVm, cpuNs: number, stealNs: number): VmStats {
  const c = vm.counters;
  return {
    cpu_time_ns: Math.round(cpuNs),
    steal_time_ns: Math.round(stealNs),
    instructions: vm.instructions,
    memory_touched_bytes: c.memoryTouchedBytes,
    balloon_mib: Math.floor(c.balloonBytes / 2 ** 20),
    disk_read_bytes: c.diskReadBytes,
    disk_write_bytes: c.diskWriteBytes,
    disk_read_ops: c.diskReadOps,
    disk_write_ops: c.diskWriteOps,
    net_rx_bytes: c.netRxBytes,
    net_tx_bytes: c.netTxBytes,
    net_rx_packets: c.netRxFrames,
    net_tx_packets: c.netTxFrames,
    disk_throttled: c.diskThrottled,
    net_throttled: c.netThrottled,
    console_output_dropped_bytes: vm.console.droppedOutput,
    console_input_dropped_bytes: vm.console.droppedInput,
    net_rx_dropped_packets: vm.netRxDropped,
  };
}

/** The 409 for a lifecycle action on a VM that a snapshot or migration is busy with. */
export function busyWith(vm: ManagedVm, action: string): ApiError {
  return new ApiError('conflict', `cannot ${action} VM ${vm.stored.id}: a ${vm.busy} of it is in progress; try again once it is done`);
}
