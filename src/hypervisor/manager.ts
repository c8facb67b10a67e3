// The VM manager: lifecycle of the daemon's VMs (created → running ⇄ paused → stopped, or crashed), their
// definitions in the store, and the pCPU loop that hands time slices to VM threads in the order the credit
// scheduler chooses. Each VM lives in its own thread, so a VM that crashes or throws ends alone; the harts of a
// multi-vCPU VM run in hart threads of their own. What the manager needs from its host is in manager-host.ts.
import {
  vmNotFound, nameInUse, insufficientMemory, balloonTooLarge, deviceNotFound, snapshotUnsupported, snapshotFailed, ApiError,
} from './errors.js';
import {
  stateError, type DevicePatch, type MigrateRequest, type MigrationInfo, type RestoreRequest, type SnapshotInfo, type SnapshotRequest, type VmInfo,
  type VmPatch, type VmSpec, type VmState, type VmStats, type VmTargetedAction,
} from './model.js';
import { checkPathsAllowed } from './paths.js';
import { checkRestorePaths, planRestore } from './restore.js';
import type { IncomingMigration } from './migration.js';
import { Migrations } from './migrations.js';
import { Rebalancer, type VmLoad } from './rebalance.js';
import { limiterConfigFromApi } from './rate-limiter.js';
import { diskHold, type DiskHold } from './disk-holds.js';
import { STOP_REASONS, transitionEvent, VmEventHub } from './events.js';
import { DeviceEventLog } from './device-event-log.js';
import { CreditScheduler } from './scheduler.js';
import { VirtualSwitch } from './switch.js';
import { macFromName, formatMac } from '../core/virtio/net/net.js';
import type { FromVm, ToVm, VmThreadConfig } from './protocol.js';
import { HartThreads } from './hart-threads.js';
import type { RemoteHartState } from '../core/snapshot/hart.js';
import { machineFromSpec, restoredMachine } from './machine.js';
import type { StoredVm } from './stored-vm.js';
import type { ConsoleSink } from './vm-console.js';
import { DEFAULT_MAX_STARTING, type ManagerOptions, type VmThread } from './manager-host.js';
import { busyWith, EMPTY_COUNTERS, newManagedVm, vmStats, type ManagedVm, type Vcpu } from './managed-vm.js';
import type { HostCapacity } from './stats.js';

export { CONSOLE_INPUT_IN_FLIGHT, type ConsoleSink } from './vm-console.js';
export { DEFAULT_MAX_STARTING, type ManagerOptions, type Store, type VmThread } from './manager-host.js';

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

  /** The hart threads of multi-vCPU VMs (hart-threads.ts). */
  private readonly harts: HartThreads;
  /** Live migrations (migrations.ts), doing their work on the VMs through the manager's own operations. */
  private readonly migrations: Migrations;
  /** Moves busy VMs off shared threads while a host CPU is free (ManagerOptions.rebalanceMs). */
  private readonly rebalanceTimer: ReturnType<typeof setInterval> | null = null;
  /** The host CPUs and guest memory this manager shares among its VMs. */
  readonly capacity: HostCapacity;

  constructor(private readonly o: ManagerOptions) {
    this.capacity = { pcpus: o.pcpus, memory_budget_mib: o.memoryBudgetMib };
    this.scheduler = new CreditScheduler({ pcpus: o.pcpus });
    this.harts = new HartThreads({
      spawnHart: () => o.spawnHart!(),
      newVcpu: (vm, index, thread) => this.newVcpu(vm, index, thread, false),
      wakeVcpu: (vm, index) => this.wakeVcpu(vm, index),
      ended: (vm, state, reason) => this.ended(vm, state, reason),
      onSlice: (vm, cpu, m) => this.onSlice(vm, cpu, m),
      consoleOut: (vm, from, m) => this.consoleOut(vm, from, m),
      guestReset: (vm, kind) => this.guestReset(vm, kind),
    });
    this.busy = new Array<{ vm: ManagedVm; cpu: Vcpu } | null>(o.pcpus).fill(null);
    this.migrations = new Migrations({
      o,
      vm: (id) => this.get(id),
      info: (vm) => this.info(vm),
      park: (vm, parked) => this.park(vm, parked),
      setState: (vm, state) => this.setState(vm, state),
      ended: (vm, state, reason) => this.ended(vm, state, reason),
      request: (vm, thread, m) => this.request(vm, thread, m),
      dropVcpus: (vm) => this.dropVcpus(vm),
      retireThread: (vm) => this.retireThread(vm),
      spawnVm: (vm, arriving) => this.spawnVm(vm, arriving),
      admissible: (spec) => this.admissible(spec),
      define: (spec) => this.vms.get(this.define(spec).id)!,
      forget: (vm, why) => this.forget(vm, why),
      moved: (vm, why) => this.events.emit(vm.stored, 'migrated', why),
      saveHarts: (vm) => this.saveHarts(vm, vm.thread!),
      logHartWrites: (vm, buffer) => this.harts.logWrites(vm, buffer),
      stopHartLogs: (vm) => this.harts.stopLogs(vm),
      holdDisks: (vm) => this.diskHolds.set(vm, this.diskHold(vm)),
      moveDiskHold: (vm) => {
        const hold = vm.thread ? this.diskHolds.get(vm.thread) : undefined;
        if (vm.thread) this.diskHolds.delete(vm.thread);
        if (hold) this.diskHolds.set(vm, hold);
      },
      dropDiskHold: (vm) => this.diskHolds.delete(vm),
    });
    if (o.rebalanceMs) {
      const r = new Rebalancer({ vms: () => this.loads(), move: (id, avoid) => this.rebalance(id, avoid), nowNs: o.nowNs }, o.pcpus);
      this.rebalanceTimer = setInterval(() => r.tick(), o.rebalanceMs);
    }
  }

  /** The running VMs with their CPU time so far, for the Rebalancer. */
  private loads(): VmLoad[] {
    const out: VmLoad[] = [];
    for (const vm of this.vms.values()) {
      if (!vm.thread?.host || vm.vcpus.length === 0 || vm.paused) continue;
      const s = vm.stored.spec;
      out.push({ id: vm.stored.id, host: vm.thread.host, cpuNs: this.stats(vm).cpu_time_ns, movable: !vm.busy && s.flash === undefined && (s.vcpus === 1 || s.firmware !== undefined) });
    }
    return out;
  }

  /** Moves a busy VM off a thread it shares with another busy one (the Rebalancer's choice), and says so. */
  private async rebalance(id: string, avoid: ReadonlySet<object>): Promise<void> {
    const vm = this.vms.get(id);
    const before = vm?.thread?.host?.id;
    try {
      const r = await this.migrations.migrate(id, {}, { avoid, why: 'rebalanced: it shared a thread with another busy VM while a host CPU was free' });
      this.o.log(`tvisor: VM ${id} (${r.vm.name}) moved from thread ${before} to thread ${r.vm.thread}: it shared one with another busy VM while a host CPU was free (the guest stopped ${r.downtime_ms.toFixed(0)} ms)`);
    } catch (e) {
      this.o.log(`tvisor: VM ${id} could not be moved to another thread: ${(e as Error).message}`);
      throw e;
    }
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
    return newManagedVm(stored, new DeviceEventLog(this.o.log, () => `tvisor: VM ${stored.id} (${stored.spec.name})`));
  }

  private get(id: string): ManagedVm {
    const vm = this.vms.get(id);
    if (!vm) throw vmNotFound(id);
    return vm;
  }

  private check(kind: 'start' | 'stop' | 'pause' | 'resume' | 'delete', vm: ManagedVm): void {
    const e = stateError({ kind, id: vm.stored.id } as VmTargetedAction, vm.stored.state);
    if (e) throw e;
    if (vm.busy) throw busyWith(vm, kind);
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
    if (s.restore) info.resumes_from = s.restore.snapshot;
    if (vm.thread?.host) info.thread = vm.thread.host.id;
    return info;
  }

  private stats(vm: ManagedVm): VmStats {
    const now = vm.vcpus.length > 0 ? this.scheduler.vmStats(vm.stored.id, this.o.nowNs()) : { cpuTimeNs: 0, stealTimeNs: 0 };
    return vmStats(vm, vm.cpuNsBefore + now.cpuTimeNs, vm.stealNsBefore + now.stealTimeNs);
  }

  private committedMib(): number {
    let n = 0;
    for (const vm of this.vms.values()) n += vm.stored.spec.memory_mib;
    return n;
  }

  create(spec: VmSpec): VmInfo {
    this.admissible(spec);
    return this.define(spec);
  }

  /** Throws unless a VM of this definition may be added: its name is free, the memory budget holds it, its kernel loads. */
  private admissible(spec: VmSpec): void {
    for (const vm of this.vms.values()) if (vm.stored.spec.name === spec.name) throw nameInUse(spec.name, vm.stored.id);
    const committed = this.committedMib();
    if (committed + spec.memory_mib > this.o.memoryBudgetMib) {
      throw insufficientMemory(spec.memory_mib, this.o.memoryBudgetMib - committed, this.o.memoryBudgetMib);
    }
    if (spec.kernel !== undefined) this.o.checkKernel(spec.kernel);
  }

  private define(spec: VmSpec, restore?: StoredVm['restore']): VmInfo {
    const stored: StoredVm = {
      id: this.o.store.newId(), spec, balloon_mib: 0, desired: 'stopped', state: 'created', created_at: new Date().toISOString(),
      ...(restore ? { restore } : {}),
    };
    this.o.store.save(stored);
    const vm = this.fresh(stored);
    this.vms.set(stored.id, vm);
    this.events.emit(stored, 'created');
    return this.info(vm);
  }

  /**
   * Defines a VM from a snapshot (POST /v1/vms with `snapshot`): the machine saved there, with a new overlay for
   * each disk saved with one (made now, from the saved copy). Its first start resumes the saved guest.
   */
  createFromSnapshot(req: RestoreRequest): VmInfo {
    if (!this.o.openSnapshot) throw new ApiError('bad_request', 'this daemon cannot restore snapshots');
    checkRestorePaths(req, this.o.allowedDirs);
    const src = this.o.openSnapshot(req.snapshot);
    // the definition as it will be, checked before any file is made
    const { spec, overlays } = planRestore(src, req, this.o.allowedDirs);
    this.admissible(spec);
    const { machine, made } = src.clone(spec.name, overlays);
    try {
      return this.define(spec, { snapshot: req.snapshot, machine, fresh: made });
    } catch (e) {
      src.discard(made);
      throw e;
    }
  }

  /**
   * Saves a running or paused VM to `req.path` (POST /v1/vms/{id}/snapshot): its vCPUs are parked, its thread
   * writes the snapshot between two slices (disks flushed, writable overlays copied beside it), then the VM runs
   * on, stays paused or stops, as `req.after` asks (default: as it was).
   */
  async snapshot(id: string, req: SnapshotRequest): Promise<SnapshotInfo> {
    const vm = this.get(id);
    const e = stateError({ kind: 'snapshot', id, request: req }, vm.stored.state);
    if (e) throw e;
    if (vm.busy) throw busyWith(vm, 'snapshot');
    const s = vm.stored.spec;
    if (this.o.allowedDirs) checkPathsAllowed([{ field: 'path', path: req.path }], this.o.allowedDirs);
    const thread = vm.thread;
    if (!thread) throw snapshotUnsupported(id, 'it waits for its turn to be set up; try again in a moment');
    const t0 = this.o.nowNs();
    const before = vm.stored.state as 'running' | 'paused';
    const after = req.after ?? before;
    // parked: a slice already sent ends first (the thread takes messages in order), no new one is granted
    const wasPaused = vm.paused;
    this.park(vm, true);
    vm.busy = 'snapshot';
    let saved: Extract<FromVm, { t: 'snapshot-done' }>;
    try {
      // harts in hart threads first: saved there, written with the rest by the VM thread
      const remote = vm.hartThreads.length > 0 ? await this.saveHarts(vm, thread) : undefined;
      const m = await this.request(vm, thread, {
        t: 'snapshot', path: req.path, settings: { weight: s.weight, cap: s.cap }, ...(req.compress ? { compress: true } : {}), ...(remote ? { remote } : {}),
      });
      if (m.t === 'snapshot-error') throw m.refused ? new ApiError('conflict', m.message) : new Error(m.message);
      saved = m as Extract<FromVm, { t: 'snapshot-done' }>;
    } catch (err) {
      if (vm.thread === thread) this.park(vm, wasPaused);
      if (err instanceof ApiError) throw err;
      throw snapshotFailed(req.path, (err as Error).message, vm.thread === thread ? `the VM is ${vm.stored.state}` : 'the VM ended meanwhile');
    } finally {
      vm.busy = null;
    }
    if (after === 'stopped') this.ended(vm, 'stopped', STOP_REASONS.snapshot);
    else {
      this.park(vm, after === 'paused');
      if (after !== before) this.setState(vm, after);
    }
    return { path: req.path, bytes: saved.bytes, saved_disks: saved.savedDisks, elapsed_ms: (this.o.nowNs() - t0) / 1e6, vm: this.info(vm) };
  }

  /** Moves a running or paused VM, live, to a thread of its own or to another daemon (see migrations.ts). */
  migrate(id: string, req: MigrateRequest = {}): Promise<MigrationInfo> {
    return this.migrations.migrate(id, req);
  }

  /** The receiving end of a live migration from another daemon (see migrations.ts), one per connection. */
  incomingMigration(): IncomingMigration {
    return this.migrations.incoming();
  }

  /** The VM leaves this daemon (it moved to another): its definition is deleted. */
  private forget(vm: ManagedVm, why: string): void {
    this.vms.delete(vm.stored.id);
    this.o.store.remove(vm.stored.id);
    vm.console.close(why);
    this.events.emit(vm.stored, 'deleted', why);
  }

  /** Sends `m` to the VM thread and resolves with its answer; rejects if the thread ends first. */
  private request(vm: ManagedVm, thread: VmThread, m: ToVm): Promise<FromVm> {
    return new Promise((resolve, reject) => {
      vm.pending = { resolve, reject };
      thread.send(m);
    }).finally(() => {
      vm.pending = null;
    }) as Promise<FromVm>;
  }

  /** Parks (or unparks) a VM's vCPUs without changing its state: what pause and resume do underneath. */
  private park(vm: ManagedVm, parked: boolean): void {
    vm.paused = parked;
    const now = this.o.nowNs();
    // unparked, every vCPU runs once: the idle ones say so at once and park again
    for (const cpu of vm.vcpus) if (parked || cpu.ready) this.scheduler.setRunnable(cpu.key, !parked, now);
    if (!parked) this.pump();
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
    vm.console.state(state, reason);
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

  /**
   * A new thread for the VM: a boot, a snapshot's restore, or (`arriving`) the thread a live migration built the
   * guest's machine in (its RAM there already), which opens the disks and resumes the guest from `state`.
   */
  private spawnVm(vm: ManagedVm, arriving?: { thread: VmThread; state: unknown }): void {
    const hold = this.diskHolds.get(vm) ?? this.diskHold(vm);
    this.diskHolds.delete(vm);
    const s = vm.stored.spec;
    const nics = s.nics.map((n, i) => n.mac ?? formatMac(macFromName(`${vm.stored.id}/${i}`)));
    const owner = hold.owner;
    const restore = vm.stored.restore;
    // an arriving guest keeps the machine it has (a snapshot's, say, until its next boot)
    const config: VmThreadConfig | null = arriving ? null : {
      id: vm.stored.id,
      machine: restore ? restoredMachine(restore.machine, owner)
        : machineFromSpec(s, { macs: nics, owner, balloonBytes: vm.stored.balloon_mib * 2 ** 20, defaultCmdline: this.o.defaultCmdline }),
      allowedDirs: this.o.allowedDirs ? [...this.o.allowedDirs] : undefined,
      ...(restore ? { restore: { snapshot: restore.snapshot, fresh: restore.fresh } } : {}),
    };
    const thread = arriving?.thread ?? this.o.spawn({ dedicated: s.vcpus > 1 });
    this.diskHolds.set(thread, hold);
    vm.thread = thread;
    vm.machine = config ? config.machine : restoredMachine(vm.machine!, owner);
    if (!arriving) {
      // a new run: its counters start at 0 (a moved guest goes on with its own)
      vm.counters = EMPTY_COUNTERS;
      vm.instructions = 0;
      vm.netRxDropped = 0;
      vm.console.restart();
    }
    vm.framesInFlight = nics.map(() => 0);
    vm.ports = nics.map((_, i) => {
      const port = this.network.port(`${s.name}/eth${i}`);
      port.setReceiver((frame) => {
        // a VM thread that is busy or gone does not take frames: at most NIC_FRAMES_IN_FLIGHT wait for it
        if (vm.thread !== thread || vm.framesInFlight[i] >= NIC_FRAMES_IN_FLIGHT) {
          port.stats.drops++;
          vm.netRxDropped++;
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
      if (vm.thread !== thread) return;
      if (config) thread.send({ t: 'init', config });
      else thread.send({ t: 'incoming-final', state: arriving!.state, owner });
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
        vm.onMoved?.();
        if (vm.stored.restore && !vm.onMoved) {
          // resumed: later starts boot the definition
          delete vm.stored.restore;
          this.o.store.save(vm.stored);
        }
        this.scheduler.addVm(vm.stored.id, { weight: vm.stored.spec.weight, cap: vm.stored.spec.cap });
        vm.vcpus = [this.newVcpu(vm, 0, thread, true)];
        if (m.smp) this.harts.start(vm, m.smp);
        this.wakeVcpu(vm, 0);
        break;
      }
      case 'init-error':
        this.ended(vm, 'crashed', `cannot ${vm.onMoved ? 'resume the moved guest' : 'start'}: ${m.message}`);
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
      case 'input-ack':
        vm.console.inputTaken(m.bytes, m.dropped);
        break;
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
      case 'snapshot-done':
      case 'snapshot-error':
      case 'migrate-pages':
      case 'migrate-final':
      case 'migrate-error':
      case 'pong':
        vm.pending?.resolve(m);
        break;
    }
  }

  /**
   * The harts of a parked VM's hart threads, saved there, once hart 0 (the VM thread) is out of its slice too:
   * an IPI it sent a hart already saved would stay in the link, which a restore does not have.
   */
  private async saveHarts(vm: ManagedVm, thread: VmThread): Promise<RemoteHartState[]> {
    await this.request(vm, thread, { t: 'ping' });
    return this.harts.save(vm);
  }

  private newVcpu(vm: ManagedVm, index: number, thread: VmThread, ready: boolean): Vcpu {
    return { index, key: this.scheduler.addVcpu(vm.stored.id, index), thread, ready, wantWake: false, pcpu: -1, wakeTimer: null };
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
    if (vm.pending) {
      vm.pending.reject(new Error(`the VM ${state === 'crashed' ? 'crashed' : 'stopped'} meanwhile${reason ? ` (${reason})` : ''}`));
      vm.pending = null;
    }
    if (vm.queued) {
      this.startQueue.splice(this.startQueue.indexOf(vm), 1);
      this.diskHolds.delete(vm);
    }
    vm.queued = false;
    this.admitted(vm);
    this.dropVcpus(vm);
    vm.deviceLog.flush();
    this.retireThread(vm);
    if (reason && state === 'crashed') this.o.log(`tvisor: VM ${vm.stored.id} (${vm.stored.spec.name}) crashed: ${reason}`);
    this.setState(vm, state, state === 'crashed' ? reason : undefined, reason);
    this.pump();
  }

  /** The VM's vCPUs leave the scheduler (their CPU and steal time kept) and their pCPUs; hart threads end. */
  private dropVcpus(vm: ManagedVm): void {
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
    this.harts.end(vm);
  }

  /**
   * The VM's thread is let go: input waiting on it is released, its NICs leave the switch, and it is told to
   * stop and ended once it has closed its disks (or after 2 s); a new thread of the VM waits for that.
   */
  private retireThread(vm: ManagedVm): void {
    vm.console.releaseInput();
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
    this.park(vm, true);
    this.setState(vm, 'paused');
    return this.info(vm);
  }

  resume(id: string): VmInfo {
    const vm = this.get(id);
    this.check('resume', vm);
    this.park(vm, false);
    this.setState(vm, 'running');
    return this.info(vm);
  }

  remove(id: string): void {
    const vm = this.get(id);
    this.check('delete', vm);
    this.vms.delete(id);
    this.o.store.remove(id);
    vm.console.close('VM deleted');
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
   * writes, across stops and starts); returns input (dropped while the VM is not running; see VmConsole.input)
   * and detach.
   */
  attachConsole(id: string, sink: ConsoleSink): { input(bytes: Uint8Array, done: () => void): boolean; detach(): void } {
    const vm = this.get(id);
    return {
      input: (bytes, done) => {
        const thread = vm.thread;
        return vm.console.input(thread ? (b) => thread.send({ t: 'input', bytes: b }) : null, bytes, done);
      },
      detach: vm.console.attach(sink),
    };
  }

  /** A batch of console output: kept, given to every client, acknowledged to its thread. */
  private consoleOut(vm: ManagedVm, from: VmThread, m: Extract<FromVm, { t: 'console' }>): void {
    from.send({ t: 'console-ack', bytes: m.bytes.length });
    vm.console.output(m.bytes, m.dropped);
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
    if (this.rebalanceTimer) clearInterval(this.rebalanceTimer);
    for (const vm of this.vms.values()) {
      if (!vm.thread && !vm.queued) continue;
      const desired = vm.stored.desired;
      this.ended(vm, 'stopped', STOP_REASONS.shutdown);
      vm.stored.desired = desired;
      this.o.store.save(vm.stored);
    }
  }
}
