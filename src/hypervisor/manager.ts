// The VM manager: lifecycle of the daemon's VMs (created → running ⇄ paused → stopped, or crashed), their
// definitions in the store, and the pCPU loop that hands time slices to VM threads in the order the credit
// scheduler chooses. Each VM lives in its own thread, so a VM that crashes or throws ends alone. For now a VM
// is one schedulable unit (its harts share its thread, round-robin); parallel harts come later.
import { vmNotFound, nameInUse, insufficientMemory, balloonTooLarge, deviceNotFound } from './errors.js';
import {
  stateError, type DevicePatch, type VmInfo, type VmPatch, type VmSpec, type VmState, type VmStats, type VmTargetedAction,
} from './model.js';
import { limiterConfigFromApi } from './rate-limiter.js';
import { diskHold, type DiskHold } from './disk-holds.js';
import { STOP_REASONS, transitionEvent, VmEventHub } from './events.js';
import { DeviceEventLog } from './device-event-log.js';
import { CreditScheduler } from './scheduler.js';
import { VirtualSwitch, type SwitchPort } from './switch.js';
import { macFromName, formatMac } from '../core/virtio/net/net.js';
import type { DeviceCounters, FromVm, SmpShare, ToVm, VmThreadConfig } from './protocol.js';
import { diskName, type DeviceDescription } from './machine.js';
import type { StoredVm } from './stored-vm.js';

/** A thread holding one VM (a Node worker in src/host/node), or a VM's channel on a shared thread. */
export interface VmThread {
  /** The OS thread it runs on when that may be shared (thread-pool.ts): VMs of one host never run at once. */
  readonly host?: object;
  send(m: ToVm): void;
  onMessage(fn: (m: FromVm) => void): void;
  /** The thread died (uncaught error or exit) — `reason` says how. */
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
  /** A thread for a VM; `dedicated` (multi-vCPU VMs) asks for one the VM has to itself. */
  spawn(opts?: { dedicated: boolean }): VmThread;
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
}

/**
 * Making a worker and building a machine cost the main thread and the CPU: 50 starts at once would compete
 * with the API and the running guests. Starts return at once and their threads are set up a few at a time.
 */
export const DEFAULT_MAX_STARTING = 4;

/** One schedulable vCPU: the VM thread (hart 0, or all harts) or a hart thread. */
interface Vcpu {
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

/** The images a VM thread has (or is about to have) open: each file's identity, with the field and path naming it. */
interface ManagedVm {
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
  console: Set<ConsoleSink>;
  /** The last 64 KiB of console output, for consoles that attach later. */
  backlog: Uint8Array[];
  backlogBytes: number;
  /** Console input sent to the VM thread and not yet acknowledged ('input-ack'). */
  inputInFlight: number;
  /** Per input message in flight, oldest first: its size and whom to tell once the VM took it. */
  inputWaiting: { bytes: number; done: () => void }[];
  /** Per NIC: frames sent to the VM thread and not yet acknowledged ('frame-ack'). */
  framesInFlight: number[];
  /** What was dropped on the way to or from the guest since the VM started (flood bounds), for its stats. */
  dropped: { consoleOutput: number; consoleInput: number; netRxFrames: number };
  /** Device-event log lines, rate-limited per VM. */
  deviceLog: DeviceEventLog;
}

/** A client attached to a VM's console: its output, and the VM's state changes (to say "stopped"). */
export interface ConsoleSink {
  data(bytes: Uint8Array): void;
  /** Output lost to a flood before it reached the manager (the VM thread kept only the newest). */
  skipped?(bytes: number): void;
  state?(state: VmState, reason?: string): void;
  /** The VM is gone (deleted): the client should be disconnected, telling it `reason`. */
  closed?(reason: string): void;
}

const EMPTY_COUNTERS: DeviceCounters = {
  diskReadBytes: 0, diskWriteBytes: 0, diskReadOps: 0, diskWriteOps: 0, netRxBytes: 0, netTxBytes: 0,
  netRxFrames: 0, netTxFrames: 0, diskThrottled: 0, netThrottled: 0, balloonBytes: 0, memoryTouchedBytes: 0,
};
const CONSOLE_BACKLOG = 64 * 1024;
/**
 * Console input in flight to a VM thread; more is dropped. The UART holds 64 KiB more on its line (a paste
 * waits there while the guest reads), so a VM that is paused or does not read costs at most these two.
 */
export const CONSOLE_INPUT_IN_FLIGHT = 64 * 1024;
/** How long a client whose input was dropped is held back before it may send more. */
const INPUT_DROP_PAUSE_MS = 20;
/** Frames in flight to one NIC of a VM thread; more are dropped (the device's own backlog holds 256). */
export const NIC_FRAMES_IN_FLIGHT = 256;

export class VmManager {
  readonly scheduler: CreditScheduler;
  readonly network = new VirtualSwitch();
  /** Lifecycle events, for GET /v1/events. */
  readonly events = new VmEventHub();
  private readonly vms = new Map<string, ManagedVm>();
  private readonly busy: ({ vm: ManagedVm; cpu: Vcpu } | null)[];
  /** Shared threads (VmThread.host) running a slice now: their other VMs wait. */
  private readonly hostsBusy = new Set<object>();
  private pumpTimer: ReturnType<typeof setTimeout> | null = null;
  /** Threads told to stop, with what ends them once they answer 'stopped' (or a timeout passes). */
  private readonly stopping = new Map<VmThread, () => void>();
  /** Started VMs waiting for a thread, oldest first. */
  private readonly startQueue: ManagedVm[] = [];
  /** VMs whose thread is being set up: spawned, not yet 'ready'. */
  private readonly starting = new Set<ManagedVm>();
  private admitTimer: ReturnType<typeof setTimeout> | null = null;
  /** Per VM thread (or per queued VM, until it has one), from start until the thread has closed its disks: the process-wide disk registry. */
  private readonly diskHolds = new Map<object, DiskHold>();

  constructor(private readonly o: ManagerOptions) {
    this.scheduler = new CreditScheduler({ pcpus: o.pcpus });
    this.busy = new Array<{ vm: ManagedVm; cpu: Vcpu } | null>(o.pcpus).fill(null);
  }

  /**
   * Takes VMs from the store at daemon start; those that were running start again, and those that were paused
   * start paused: their machine is built but the guest runs no slice until it is resumed.
   */
  restore(vms: StoredVm[]): void {
    for (const stored of vms) {
      const desired = stored.desired;
      const wasRunning = desired === 'running' || desired === 'paused';
      stored.state = stored.state === 'crashed' ? 'crashed' : wasRunning ? 'stopped' : stored.state;
      this.vms.set(stored.id, this.fresh(stored));
      if (wasRunning) {
        try {
          this.start(stored.id, { paused: desired === 'paused' });
        } catch (e) {
          this.o.log(`tvisor: cannot restart VM ${stored.id} (${stored.spec.name}): ${(e as Error).message}`);
        }
      }
    }
  }

  private fresh(stored: StoredVm): ManagedVm {
    return {
      stored, closing: null, thread: null, hartThreads: [], vcpus: [], paused: false, queued: false, counters: EMPTY_COUNTERS,
      instructions: 0, cpuNsBefore: 0, stealNsBefore: 0, ports: [], console: new Set(), backlog: [], backlogBytes: 0,
      inputInFlight: 0, inputWaiting: [], framesInFlight: [], dropped: { consoleOutput: 0, consoleInput: 0, netRxFrames: 0 },
      deviceLog: new DeviceEventLog(this.o.log, () => `tvisor: VM ${stored.id} (${stored.spec.name})`),
    };
  }

  private get(id: string): ManagedVm {
    const vm = this.vms.get(id);
    if (!vm) throw vmNotFound(id);
    return vm;
  }

  private check(kind: 'start' | 'stop' | 'pause' | 'resume' | 'delete', vm: ManagedVm): void {
    const e = stateError({ kind, id: vm.stored.id } as VmTargetedAction, vm.stored.state);
    if (e) throw e;
  }

  list(): VmInfo[] {
    return [...this.vms.values()].map((vm) => this.info(vm));
  }

  inspect(id: string): VmInfo {
    return this.info(this.get(id));
  }

  private info(vm: ManagedVm): VmInfo {
    const s = vm.stored;
    const info: VmInfo = { id: s.id, name: s.spec.name, state: s.state, config: s.spec, stats: this.stats(vm) };
    if (s.reason) info.reason = s.reason;
    return info;
  }

  private stats(vm: ManagedVm): VmStats {
    let cpu = vm.cpuNsBefore;
    let steal = vm.stealNsBefore;
    if (vm.vcpus.length > 0) {
      const st = this.scheduler.vmStats(vm.stored.id, this.o.nowNs());
      cpu += st.cpuTimeNs;
      steal += st.stealTimeNs;
    }
    const c = vm.counters;
    return {
      cpu_time_ns: Math.round(cpu),
      steal_time_ns: Math.round(steal),
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
      console_output_dropped_bytes: vm.dropped.consoleOutput,
      console_input_dropped_bytes: vm.dropped.consoleInput,
      net_rx_dropped_packets: vm.dropped.netRxFrames,
    };
  }

  private committedMib(): number {
    let n = 0;
    for (const vm of this.vms.values()) n += vm.stored.spec.memory_mib;
    return n;
  }

  create(spec: VmSpec): VmInfo {
    for (const vm of this.vms.values()) if (vm.stored.spec.name === spec.name) throw nameInUse(spec.name, vm.stored.id);
    const committed = this.committedMib();
    if (committed + spec.memory_mib > this.o.memoryBudgetMib) {
      throw insufficientMemory(spec.memory_mib, this.o.memoryBudgetMib - committed, this.o.memoryBudgetMib);
    }
    this.o.checkKernel(spec.kernel);
    const stored: StoredVm = {
      id: this.o.store.newId(), spec, balloon_mib: 0, desired: 'stopped', state: 'created', created_at: new Date().toISOString(),
    };
    this.o.store.save(stored);
    const vm = this.fresh(stored);
    this.vms.set(stored.id, vm);
    this.events.emit(stored, 'created');
    return this.info(vm);
  }

  /** `reason`: stored (a crash's); `why`: the event's reason (who stopped it), default `reason`. */
  private setState(vm: ManagedVm, state: VmState, reason?: string, why = reason): void {
    const before = vm.stored.state;
    vm.stored.state = state;
    if (reason !== undefined) vm.stored.reason = reason;
    else delete vm.stored.reason;
    if (state === 'running') vm.stored.desired = 'running';
    else if (state === 'paused') vm.stored.desired = 'paused';
    else vm.stored.desired = 'stopped';
    this.o.store.save(vm.stored);
    for (const c of vm.console) c.state?.(state, reason);
    this.events.emit(vm.stored, transitionEvent(before, state), why);
  }

  /** The disks `vm` would open, by file identity; throws disk_in_use (409) when another VM of this daemon writes one. */
  private diskHold(vm: ManagedVm): DiskHold {
    const s = vm.stored;
    return diskHold({ id: s.id, name: s.spec.name, disks: s.spec.disks }, this.diskHolds.values(), this.o.fileIdentity);
  }

  /**
   * Starts a VM (paused: with its vCPUs parked from the first instruction). It is running (or paused) at once
   * to the API; its thread is set up when its turn comes (admit()).
   */
  start(id: string, opts: { paused?: boolean } = {}): VmInfo {
    const vm = this.get(id);
    this.check('start', vm);
    // refused (409) now if another VM of this daemon writes one of its disks; held from now on, queued or not
    this.diskHolds.set(vm, this.diskHold(vm));
    vm.paused = opts.paused ?? false;
    vm.queued = true;
    this.startQueue.push(vm);
    this.setState(vm, vm.paused ? 'paused' : 'running');
    this.admit();
    return this.info(vm);
  }

  /** Runs admit() on a later turn of the event loop, so that setting up threads does not add up in one turn. */
  private admitSoon(): void {
    this.admitTimer ??= setTimeout(() => {
      this.admitTimer = null;
      this.admit();
    }, 0);
  }

  /** Gives queued VMs their threads, while fewer than maxStarting are being set up; one per turn of the event loop. */
  private admit(): void {
    if (this.starting.size >= (this.o.maxStarting ?? DEFAULT_MAX_STARTING)) return;
    const vm = this.startQueue.shift();
    if (!vm) return;
    vm.queued = false;
    this.starting.add(vm);
    try {
      this.spawnVm(vm);
    } catch (e) {
      this.ended(vm, 'crashed', `cannot start: ${(e as Error).message}`);
    }
    this.admitSoon();
  }

  /** The VM's thread has its machine (or failed to): the next queued VM may go. */
  private admitted(vm: ManagedVm): void {
    if (this.starting.delete(vm)) this.admitSoon();
  }

  private spawnVm(vm: ManagedVm): void {
    const hold = this.diskHolds.get(vm) ?? this.diskHold(vm);
    this.diskHolds.delete(vm);
    const s = vm.stored.spec;
    const nics = s.nics.map((n, i) => n.mac ?? formatMac(macFromName(`${vm.stored.id}/${i}`)));
    const owner = hold.owner;
    // the machine: the spec's disks and NICs (ports on the virtual switch), and always an rng and a balloon
    const devices: DeviceDescription[] = [
      ...s.disks.map((d, i): DeviceDescription => ({
        kind: 'block', path: d.path, serial: `${s.name}-${diskName(i)}`.slice(0, 20), owner,
        ...(d.readonly ? { readOnly: true } : {}), ...(d.overlay ? { overlay: d.overlay } : {}),
        ...(d.rate_limiter ? { rateLimiter: limiterConfigFromApi(d.rate_limiter) ?? undefined } : {}),
      })),
      ...s.nics.map((n, i): DeviceDescription => ({
        kind: 'net', mac: nics[i], backend: { kind: 'switch' },
        ...(n.rate_limiter ? { rateLimiter: limiterConfigFromApi(n.rate_limiter) ?? undefined } : {}),
      })),
      { kind: 'rng' },
      { kind: 'balloon', targetBytes: vm.stored.balloon_mib * 2 ** 20 },
    ];
    const config: VmThreadConfig = {
      id: vm.stored.id,
      machine: {
        name: s.name, memoryBytes: s.memory_mib * 2 ** 20, vcpus: s.vcpus, kernel: s.kernel, cmdline: s.cmdline ?? this.o.defaultCmdline,
        ...(s.initrd ? { initrd: s.initrd } : {}), ...(s.firmware ? { firmware: s.firmware } : {}), devices,
      },
      allowedDirs: this.o.allowedDirs ? [...this.o.allowedDirs] : undefined,
    };
    const thread = this.o.spawn({ dedicated: s.vcpus > 1 });
    this.diskHolds.set(thread, hold);
    vm.thread = thread;
    vm.counters = EMPTY_COUNTERS;
    vm.instructions = 0;
    vm.dropped = { consoleOutput: 0, consoleInput: 0, netRxFrames: 0 };
    vm.backlog = [];
    vm.backlogBytes = 0;
    this.releaseInput(vm);
    vm.framesInFlight = nics.map(() => 0);
    vm.ports = nics.map((_, i) => {
      const port = this.network.port(`${s.name}/eth${i}`);
      port.setReceiver((frame) => {
        // a VM thread that is busy or gone does not take frames: at most NIC_FRAMES_IN_FLIGHT wait for it
        if (vm.thread !== thread || vm.framesInFlight[i] >= NIC_FRAMES_IN_FLIGHT) {
          port.stats.drops++;
          vm.dropped.netRxFrames++;
          return;
        }
        vm.framesInFlight[i]++;
        const copy = frame.slice();
        thread.send({ t: 'frame', nic: i, frame: copy });
      });
      return port;
    });
    thread.onMessage((m) => this.onMessage(vm, thread, m));
    thread.onExit((reason) => {
      if (vm.thread !== thread) return;
      this.ended(vm, 'crashed', `the VM thread ended: ${reason}`);
    });
    // the VM's previous thread (a stop or reboot just now) must close its disks before this one opens them
    const init = () => {
      if (vm.thread === thread) thread.send({ t: 'init', config });
    };
    if (vm.closing) vm.closing.push(init);
    else init();
  }

  private onMessage(vm: ManagedVm, thread: VmThread, m: FromVm): void {
    if (m.t === 'stopped') {
      // the thread closed its disks after ended() let go of it: end it now rather than at the timeout
      this.stopping.get(thread)?.();
      return;
    }
    if (vm.thread !== thread) return;
    if (m.t === 'ready' || m.t === 'init-error') this.admitted(vm);
    switch (m.t) {
      case 'ready': {
        this.scheduler.addVm(vm.stored.id, { weight: vm.stored.spec.weight, cap: vm.stored.spec.cap });
        vm.vcpus = [this.newVcpu(vm, 0, thread, true)];
        if (m.smp) this.startHartThreads(vm, m.smp);
        this.wakeVcpu(vm, 0);
        break;
      }
      case 'init-error':
        this.ended(vm, 'crashed', `cannot start: ${m.message}`);
        break;
      case 'crash':
        this.ended(vm, 'crashed', m.reason);
        break;
      case 'slice':
        this.onSlice(vm, vm.vcpus[0], m);
        break;
      case 'console':
        this.consoleOut(vm, thread, m);
        break;
      case 'input-ack': {
        const w = vm.inputWaiting.shift();
        vm.inputInFlight = Math.max(0, vm.inputInFlight - m.bytes);
        vm.dropped.consoleInput += m.dropped;
        w?.done();
        break;
      }
      case 'frame':
        vm.ports[m.nic]?.send(m.frame);
        break;
      case 'frame-ack':
        if (vm.framesInFlight[m.nic] !== undefined) vm.framesInFlight[m.nic] = Math.max(0, vm.framesInFlight[m.nic] - m.frames);
        break;
      case 'wake':
        this.wakeVcpu(vm, m.hart ?? 0);
        break;
      case 'reset':
        this.guestReset(vm, m.kind);
        break;
      case 'rebooted':
        this.events.emit(vm.stored, 'rebooted', 'the guest rebooted');
        break;
      case 'device-event':
        vm.deviceLog.note(this.o.nowNs() / 1e6, `${m.device}: ${m.reason.split('\n')[0]}`);
        break;
    }
  }

  private newVcpu(vm: ManagedVm, index: number, thread: VmThread, ready: boolean): Vcpu {
    return { index, key: this.scheduler.addVcpu(vm.stored.id, index), thread, ready, wantWake: false, pcpu: -1, wakeTimer: null };
  }

  /** A multi-vCPU VM with parallel harts: one thread per further hart, on the VM thread's shared RAM. */
  private startHartThreads(vm: ManagedVm, smp: SmpShare): void {
    for (let j = 1; j < smp.harts; j++) {
      const t = this.o.spawnHart!();
      vm.hartThreads.push(t);
      const cpu = this.newVcpu(vm, j, t, false);
      vm.vcpus.push(cpu);
      t.onMessage((m) => {
        if (!vm.hartThreads.includes(t)) return;
        switch (m.t) {
          case 'ready':
            cpu.ready = true;
            if (cpu.wantWake) this.wakeVcpu(vm, j);
            break;
          case 'init-error':
            this.ended(vm, 'crashed', `cannot start hart ${j}: ${m.message}`);
            break;
          case 'slice':
            this.onSlice(vm, cpu, m);
            break;
          case 'console':
            this.consoleOut(vm, t, m);
            break;
          case 'wake':
            this.wakeVcpu(vm, m.hart ?? j);
            break;
          case 'reset':
            this.guestReset(vm, m.kind);
            break;
          default:
            break;
        }
      });
      t.onExit((reason) => {
        if (vm.hartThreads.includes(t)) this.ended(vm, 'crashed', `the thread of hart ${j} ended: ${reason}`);
      });
      t.send({ t: 'init-hart', hartId: j, smp });
    }
  }

  /** Hart `index` may have work (interrupt, IPI, start): make its vCPU runnable unless the VM is paused. */
  private wakeVcpu(vm: ManagedVm, index: number): void {
    const cpu = vm.vcpus[index];
    if (!cpu) return;
    if (!cpu.ready) {
      cpu.wantWake = true;
      return;
    }
    if (cpu.wakeTimer) clearTimeout(cpu.wakeTimer);
    cpu.wakeTimer = null;
    if (!vm.paused) this.scheduler.setRunnable(cpu.key, true, this.o.nowNs());
    this.pump();
  }

  /** SBI system reset from a guest whose harts run in threads: shutdown stops the VM, a reboot restarts it. */
  private guestReset(vm: ManagedVm, kind: 'shutdown' | 'cold-reboot' | 'warm-reboot'): void {
    if (!vm.thread) return;
    this.ended(vm, 'stopped', kind === 'shutdown' ? STOP_REASONS.guestPoweroff : STOP_REASONS.guestReboot);
    if (kind !== 'shutdown') this.start(vm.stored.id);
  }

  private onSlice(vm: ManagedVm, cpu: Vcpu | undefined, m: Extract<FromVm, { t: 'slice' }>): void {
    if (!cpu) return;
    const now = this.o.nowNs();
    this.release(cpu);
    vm.instructions += m.instructions;
    if (m.counters) vm.counters = m.counters;
    this.scheduler.charge(cpu.key, m.elapsedNs, now);
    if (m.exit) {
      if (m.exit.kind === 'crashed') this.ended(vm, 'crashed', m.exit.reason);
      else this.ended(vm, 'stopped', STOP_REASONS.guestPoweroff);
    } else if (m.idle) {
      this.scheduler.setRunnable(cpu.key, false, now);
      if (Number.isFinite(m.idleForNs)) {
        cpu.wakeTimer = setTimeout(() => {
          cpu.wakeTimer = null;
          if (vm.vcpus.includes(cpu) && !vm.paused) this.scheduler.setRunnable(cpu.key, true, this.o.nowNs());
          this.pump();
        }, Math.max(0, m.idleForNs / 1e6));
      }
    }
    this.pump();
  }

  /** The VM thread is gone or going: frees everything it held. */
  private ended(vm: ManagedVm, state: 'stopped' | 'crashed', reason?: string): void {
    if (vm.queued) {
      this.startQueue.splice(this.startQueue.indexOf(vm), 1);
      this.diskHolds.delete(vm);
    }
    vm.queued = false;
    this.admitted(vm);
    for (const cpu of vm.vcpus) {
      if (cpu.wakeTimer) clearTimeout(cpu.wakeTimer);
      cpu.wakeTimer = null;
      this.release(cpu);
    }
    if (vm.vcpus.length > 0) {
      const st = this.scheduler.vmStats(vm.stored.id, this.o.nowNs());
      vm.cpuNsBefore += st.cpuTimeNs;
      vm.stealNsBefore += st.stealTimeNs;
      this.scheduler.removeVm(vm.stored.id);
      vm.vcpus = [];
    }
    for (const t of vm.hartThreads.splice(0)) t.terminate();
    this.releaseInput(vm);
    vm.deviceLog.flush();
    for (const p of vm.ports) p.close();
    vm.ports = [];
    const thread = vm.thread;
    vm.thread = null;
    if (thread) {
      // let the thread close its disks (flush, unlock) before it is ended; a new start of this VM waits for it
      const waiting: (() => void)[] = [];
      vm.closing = waiting;
      const end = () => {
        clearTimeout(done);
        this.stopping.delete(thread);
        thread.terminate();
        const hold = this.diskHolds.get(thread);
        this.diskHolds.delete(thread);
        if (hold) this.o.releaseDiskLocks?.(hold.owner, [...new Set([...hold.writes.values()].map((f) => f.path))]);
        if (vm.closing === waiting) vm.closing = null;
        for (const f of waiting) f();
      };
      const done = setTimeout(end, 2000);
      this.stopping.set(thread, end);
      try {
        thread.send({ t: 'stop' });
      } catch {
        thread.terminate();
      }
    }
    if (reason && state === 'crashed') this.o.log(`tvisor: VM ${vm.stored.id} (${vm.stored.spec.name}) crashed: ${reason}`);
    this.setState(vm, state, state === 'crashed' ? reason : undefined, reason);
    this.pump();
  }

  /** `why` is the reason its stopped event gives. */
  stop(id: string, why: string = STOP_REASONS.api): VmInfo {
    const vm = this.get(id);
    this.check('stop', vm);
    this.ended(vm, 'stopped', why);
    return this.info(vm);
  }

  pause(id: string): VmInfo {
    const vm = this.get(id);
    this.check('pause', vm);
    vm.paused = true;
    for (const cpu of vm.vcpus) this.scheduler.setRunnable(cpu.key, false, this.o.nowNs());
    this.setState(vm, 'paused');
    return this.info(vm);
  }

  resume(id: string): VmInfo {
    const vm = this.get(id);
    this.check('resume', vm);
    vm.paused = false;
    // every vCPU runs once: the idle ones say so at once and park again
    for (const cpu of vm.vcpus) if (cpu.ready) this.scheduler.setRunnable(cpu.key, true, this.o.nowNs());
    this.setState(vm, 'running');
    this.pump();
    return this.info(vm);
  }

  remove(id: string): void {
    const vm = this.get(id);
    this.check('delete', vm);
    this.vms.delete(id);
    this.o.store.remove(id);
    for (const c of vm.console) c.closed?.('VM deleted');
    vm.console.clear();
    this.events.emit(vm.stored, 'deleted');
  }

  update(id: string, patch: VmPatch): VmInfo {
    const vm = this.get(id);
    const spec = vm.stored.spec;
    if (patch.balloon_mib !== undefined && patch.balloon_mib >= spec.memory_mib) throw balloonTooLarge(patch.balloon_mib, spec.memory_mib);
    if (patch.weight !== undefined) spec.weight = patch.weight;
    if (patch.cap !== undefined) spec.cap = patch.cap;
    if (patch.balloon_mib !== undefined) {
      vm.stored.balloon_mib = patch.balloon_mib;
      vm.thread?.send({ t: 'balloon', bytes: patch.balloon_mib * 2 ** 20 });
    }
    if (vm.vcpus.length > 0) this.scheduler.setParams(id, { weight: spec.weight, cap: spec.cap });
    this.o.store.save(vm.stored);
    return this.info(vm);
  }

  /**
   * Replaces the rate limiter of the VM's index-th disk or NIC (PATCH /v1/vms/{id}/disks|nics/{index}): null or
   * {} removes it. The definition is stored; a VM with a thread (running or paused) applies it at once,
   * keeping the buckets' balances.
   */
  updateDevice(id: string, device: 'disk' | 'nic', index: number, patch: DevicePatch): VmInfo {
    const vm = this.get(id);
    const e = stateError({ kind: device === 'disk' ? 'update-disk' : 'update-nic', id, index, patch }, vm.stored.state);
    if (e) throw e;
    const list = device === 'disk' ? vm.stored.spec.disks : vm.stored.spec.nics;
    const entry = list[index];
    if (!entry) throw deviceNotFound(id, device, index, list.length);
    const config = limiterConfigFromApi(patch.rate_limiter);
    if (config && patch.rate_limiter) entry.rate_limiter = patch.rate_limiter;
    else delete entry.rate_limiter;
    this.o.store.save(vm.stored);
    vm.thread?.send({ t: 'rate-limiter', device, index, config });
    return this.info(vm);
  }

  /**
   * Attaches a console client in any state (gets the recent output first, then everything the guest
   * writes, across stops and starts); returns input (dropped while the VM is not running) and detach.
   */
  attachConsole(id: string, sink: ConsoleSink): { input(bytes: Uint8Array, done: () => void): boolean; detach(): void } {
    const vm = this.get(id);
    for (const b of vm.backlog) sink.data(b);
    vm.console.add(sink);
    return {
      input: (bytes, done) => this.consoleIn(vm, bytes, done),
      detach: () => vm.console.delete(sink),
    };
  }

  /**
   * Console input for the VM, with flow control: `done` runs once the VM has taken it and its UART has room
   * again (the client should send nothing more until then; a paused VM holds it back for good). Returns false
   * when the input is dropped: the VM has no thread, or CONSOLE_INPUT_IN_FLIGHT is already on its way (several
   * clients at once); `done` then runs after INPUT_DROP_PAUSE_MS, so a client pouring input into a stopped VM
   * is slowed rather than served at full speed.
   */
  private consoleIn(vm: ManagedVm, bytes: Uint8Array, done: () => void): boolean {
    if (!vm.thread || vm.inputInFlight + bytes.length > CONSOLE_INPUT_IN_FLIGHT) {
      vm.dropped.consoleInput += bytes.length;
      setTimeout(done, INPUT_DROP_PAUSE_MS);
      return false;
    }
    vm.inputInFlight += bytes.length;
    vm.inputWaiting.push({ bytes: bytes.length, done });
    vm.thread.send({ t: 'input', bytes });
    return true;
  }

  /** The VM thread is gone or new: input waiting on the old one is let go (its clients may send again). */
  private releaseInput(vm: ManagedVm): void {
    vm.inputInFlight = 0;
    for (const w of vm.inputWaiting.splice(0)) w.done();
  }

  /** A batch of console output: kept in the backlog, given to every client, acknowledged to its thread. */
  private consoleOut(vm: ManagedVm, from: VmThread, m: Extract<FromVm, { t: 'console' }>): void {
    const bytes = m.bytes;
    from.send({ t: 'console-ack', bytes: bytes.length });
    vm.dropped.consoleOutput += m.dropped ?? 0;
    vm.backlog.push(bytes);
    vm.backlogBytes += bytes.length;
    while (vm.backlogBytes > CONSOLE_BACKLOG) {
      const over = vm.backlogBytes - CONSOLE_BACKLOG;
      const head = vm.backlog[0];
      if (head.length <= over) vm.backlog.shift();
      else vm.backlog[0] = head.subarray(over);
      vm.backlogBytes -= Math.min(head.length, over);
    }
    for (const c of vm.console) {
      if (m.dropped) c.skipped?.(m.dropped);
      c.data(bytes);
    }
  }

  /** The vCPU's slice is over (or its VM ended): its pCPU and its thread are free. */
  private release(cpu: Vcpu): void {
    if (cpu.pcpu < 0) return;
    this.busy[cpu.pcpu] = null;
    cpu.pcpu = -1;
    if (cpu.thread.host) this.hostsBusy.delete(cpu.thread.host);
  }

  /** Gives every free pCPU the vCPU the scheduler picks; sleeps until the scheduler's next event otherwise. */
  private pump(): void {
    const now = this.o.nowNs();
    const hostFree = (key: string) => {
      const host = this.byVcpu(key)?.cpu.thread.host;
      return !host || !this.hostsBusy.has(host);
    };
    for (let p = 0; p < this.busy.length; p++) {
      if (this.busy[p]) continue;
      const pick = this.scheduler.pick(p, now, this.hostsBusy.size > 0 ? hostFree : undefined);
      if (!pick) continue;
      const found = this.byVcpu(pick.vcpu);
      if (!found) {
        this.scheduler.charge(pick.vcpu, 0, now);
        continue;
      }
      this.busy[p] = found;
      found.cpu.pcpu = p;
      if (found.cpu.thread.host) this.hostsBusy.add(found.cpu.thread.host);
      found.cpu.thread.send({ t: 'run', budgetNs: pick.sliceNs, stealNs: this.scheduler.stats(pick.vcpu, now).stealTimeNs });
    }
    if (this.pumpTimer) clearTimeout(this.pumpTimer);
    this.pumpTimer = null;
    const next = this.scheduler.nextEventNs(now);
    if (Number.isFinite(next) && next > now && this.busy.some((b) => b === null)) {
      this.pumpTimer = setTimeout(() => {
        this.pumpTimer = null;
        this.pump();
      }, Math.max(1, (next - now) / 1e6));
    }
  }

  private byVcpu(key: string): { vm: ManagedVm; cpu: Vcpu } | undefined {
    const id = key.slice(0, key.lastIndexOf('/'));
    const vm = this.vms.get(id);
    const cpu = vm?.vcpus.find((c) => c.key === key);
    return vm && cpu && vm.thread ? { vm, cpu } : undefined;
  }

  /** Stops every VM (daemon shutdown); definitions keep their desired state so a restart resumes them. */
  shutdown(): void {
    for (const vm of this.vms.values()) {
      if (!vm.thread && !vm.queued) continue;
      const desired = vm.stored.desired;
      this.ended(vm, 'stopped', STOP_REASONS.shutdown);
      vm.stored.desired = desired;
      this.o.store.save(vm.stored);
    }
  }
}
