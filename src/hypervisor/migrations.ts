// Live migration of the daemon's VMs (issue 15), for the VM manager (manager.ts): a VM moves, while its guest
// runs, to a VM thread of its own or to another daemon (migrate), and arrives from another daemon (incoming).
// The pre-copy rounds, the stop-and-copy, the handing over of the disks and the undoing of what failed are here;
// the guest's machine is built in its new thread (an Arrival) while it still runs in the old one, and its pages go
// there as they are taken, so that the stop-and-copy has only the last pages and the state to carry;
// what they do to a VM (park it, let its thread go, give it a new one) is the manager's, through MigrationHost.
import { ApiError, API_ERROR_STATUS, migrationFailed } from './errors.js';
import { stateError, type MigrateRequest, type MigrationInfo, type VmInfo, type VmSpec, type VmState } from './model.js';
import {
  answer, packPages, PEER_ANSWER_MS, PRECOPY_ROUNDS, STOP_COPY_PAGES, within, type Destination, type IncomingMigration, type MigrationLink,
  type MigrationMessage,
} from './migration.js';
import { unpackPages } from '../core/snapshot/pages.js';
import { restoredMachine, type MachineDescription } from './machine.js';
import { busyWith, type ManagedVm } from './managed-vm.js';
import type { FromVm, ToVm } from './protocol.js';
import type { ManagerOptions, VmThread } from './manager-host.js';
import type { RemoteHartState } from '../core/snapshot/hart.js';

/** What a migration does to the manager's VMs: the manager's own operations, lent to Migrations. */
export interface MigrationHost {
  readonly o: ManagerOptions;
  /** The VM with this id (404 otherwise). */
  vm(id: string): ManagedVm;
  info(vm: ManagedVm): VmInfo;
  park(vm: ManagedVm, parked: boolean): void;
  setState(vm: ManagedVm, state: VmState): void;
  ended(vm: ManagedVm, state: 'stopped' | 'crashed', reason?: string): void;
  request(vm: ManagedVm, thread: VmThread, m: ToVm): Promise<FromVm>;
  dropVcpus(vm: ManagedVm): void;
  retireThread(vm: ManagedVm): void;
  /** A new thread for the VM; `arriving`: the one an Arrival built its machine in, to resume it from `state`. */
  spawnVm(vm: ManagedVm, arriving?: { thread: VmThread; state: unknown }): void;
  /** Throws unless a VM of this definition may be added here. */
  admissible(spec: VmSpec): void;
  /** Defines a VM (created) and returns it. */
  define(spec: VmSpec): ManagedVm;
  /** Each hart thread's hart saved there (the VM is parked; the VM thread's slice ends first). */
  saveHarts(vm: ManagedVm): Promise<RemoteHartState[]>;
  /**
   * Each hart thread, between slices (the VM is parked), drops its write translations and marks the VM
   * thread's dirty log from now on (`buffer`: the log, the first time).
   */
  logHartWrites(vm: ManagedVm, buffer?: SharedArrayBuffer): Promise<void>;
  /** The hart threads stop logging (a migration given up). */
  stopHartLogs(vm: ManagedVm): void;
  /** Tells event subscribers the VM moved to another thread of this daemon. */
  moved(vm: ManagedVm, why: string): void;
  /** The VM left this daemon: its definition goes. */
  forget(vm: ManagedVm, why: string): void;
  /** The VM's disks are held for it (409 when another VM of this daemon writes one). */
  holdDisks(vm: ManagedVm): void;
  /** The disks its current thread holds go with the VM to its next thread. */
  moveDiskHold(vm: ManagedVm): void;
  dropDiskHold(vm: ManagedVm): void;
}

/**
 * A thread building the machine of a guest that arrives by live migration (VmThreadConfig restore.incoming), its
 * disks left closed: its pages go in as they come, and the switch (MigrationHost.spawnVm with it) opens the disks
 * and resumes the guest there.
 */
interface Arrival {
  readonly thread: VmThread;
  /** A batch of pages, transferred. */
  pages(batch: ArrayBuffer): void;
  /** Resolves once the thread has taken everything sent so far (its machine built first); rejects if it could not. */
  drain(): Promise<void>;
  /** Given up before the switch: the thread ends. */
  cancel(): void;
}

export class Migrations {
  constructor(private readonly h: MigrationHost) {}

  /**
   * Moves a running or paused VM, live (POST /v1/vms/{id}/migrate): to a VM thread of its own, or (`req.to`) to
   * another daemon. Its RAM is copied while the guest runs (every page, then the pages written meanwhile, round
   * after round, each once the destination has taken the last, until few are left: the dirty log), then its
   * vCPUs are parked for the stop-and-copy of the rest and of the machine's state, the old thread closes its
   * disks, and the new one opens them and resumes the guest. Within the daemon its NICs stay ports of the same
   * switch, so its connections go on. A failure before the switch leaves the VM running where it was; a failure
   * of the other daemon after it resumes the guest here from the copy.
   */
  async migrate(id: string, req: MigrateRequest, opts: { avoid?: ReadonlySet<object>; why?: string } = {}): Promise<MigrationInfo> {
    const vm = this.h.vm(id);
    const e = stateError({ kind: 'migrate', id, request: req }, vm.stored.state);
    if (e) throw e;
    if (vm.busy) throw busyWith(vm, 'migrate');
    const thread = vm.thread;
    if (!thread || vm.vcpus.length === 0 || !vm.machine) throw migrationFailed(id, 'it is still being set up; try again in a moment', 'it runs on');
    const t0 = this.h.o.nowNs();
    const wasPaused = vm.paused;
    vm.busy = 'migration';
    let dest: Destination;
    try {
      dest = req.to === undefined ? this.localDestination(vm, opts.avoid) : await this.remoteDestination(vm, req.to, req.token, wasPaused);
    } catch (err) {
      vm.busy = null;
      throw err instanceof ApiError ? err : migrationFailed(id, (err as Error).message, 'it runs on');
    }
    const take = (m: FromVm) => {
      if (m.t === 'migrate-error') throw new Error(m.message);
      if (m.t !== 'migrate-pages' && m.t !== 'migrate-final') throw new Error(`unexpected answer ${m.t}`);
      dest.pages(m.pages);
      return m;
    };
    let rounds = 0;
    let pagesSent = 0;
    let downFrom = 0;
    let state: unknown;
    // harts in threads of their own (vcpus > 1) mark the log too: each round takes it with every hart
    // stopped between slices and its write translations dropped (writes through one cached would go unlogged)
    const smp = vm.hartThreads.length > 0;
    const round = async (all: boolean): Promise<Extract<FromVm, { t: 'migrate-pages' }>> => {
      if (!smp) return take(await this.h.request(vm, thread, { t: 'migrate-pages', all })) as Extract<FromVm, { t: 'migrate-pages' }>;
      this.h.park(vm, true);
      try {
        await this.h.logHartWrites(vm);
        const m = take(await this.h.request(vm, thread, { t: 'migrate-pages', all })) as Extract<FromVm, { t: 'migrate-pages' }>;
        if (m.dirty) await this.h.logHartWrites(vm, m.dirty);
        return m;
      } finally {
        if (vm.thread === thread) this.h.park(vm, wasPaused);
      }
    };
    try {
      // pre-copy: the guest runs on between the rounds; a round's pages are written while the last one travels
      for (let all = true; ; all = false) {
        const m = await round(all);
        rounds++;
        pagesSent += m.count;
        await dest.drain();
        if (!all && (m.count <= STOP_COPY_PAGES || rounds >= PRECOPY_ROUNDS)) break;
      }
      // stop-and-copy
      downFrom = this.h.o.nowNs();
      this.h.park(vm, true);
      const remote = smp ? await this.h.saveHarts(vm) : undefined;
      const last = take(await this.h.request(vm, thread, { t: 'migrate-final', ...(remote ? { remote } : {}) })) as Extract<FromVm, { t: 'migrate-final' }>;
      rounds++;
      pagesSent += last.count;
      state = last.state;
    } catch (err) {
      dest.abort();
      vm.busy = null;
      if (vm.thread !== thread) throw migrationFailed(id, (err as Error).message, `it is ${vm.stored.state}`);
      // given up before the switch: the guest runs on where it was
      thread.send({ t: 'migrate-abort' });
      this.h.stopHartLogs(vm);
      this.h.park(vm, wasPaused);
      throw migrationFailed(id, (err as Error).message, `it runs on as it did (${vm.stored.state})`);
    }
    try {
      const there = await dest.resume(state);
      const out = { rounds, pages_sent: pagesSent, bytes_sent: pagesSent * 4096, total_ms: 0, downtime_ms: 0 };
      if (there) this.h.forget(vm, `migrated to ${req.to}`);
      else {
        this.h.park(vm, wasPaused);
        this.h.moved(vm, opts.why ?? 'to a thread of its own, as asked');
      }
      const now = this.h.o.nowNs();
      out.total_ms = (now - t0) / 1e6;
      out.downtime_ms = (now - downFrom) / 1e6;
      return there ? { ...out, vm: there, to: req.to! } : { ...out, vm: this.h.info(vm) };
    } catch (err) {
      if (err instanceof ApiError) throw err;
      throw migrationFailed(id, (err as Error).message, `it is ${vm.stored.state}`);
    } finally {
      vm.busy = null;
      vm.onMoved = null;
      vm.pending = null;
    }
  }

  /** A new thread of the daemon, started at once, in which the guest's machine is built as its pages come. */
  private arrival(machine: MachineDescription, id: string, dedicated: boolean, avoid?: ReadonlySet<object>): Arrival {
    const thread = this.h.o.spawn(avoid ? { dedicated, avoid } : { dedicated });
    let built = false;
    let failed: Error | null = null;
    const waiting: { resolve(): void; reject(e: Error): void }[] = [];
    const fail = (e: Error) => {
      failed ??= e;
      for (const w of waiting.splice(0)) w.reject(failed);
    };
    thread.onMessage((m) => {
      if (m.t === 'incoming-ready') built = true;
      // after 'incoming-ready', an init-error is the switch's: the manager's (spawnVm) to handle
      else if (m.t === 'init-error' && !built) fail(new Error(`its machine cannot be built here: ${m.message}`));
      else if (m.t === 'pong') waiting.shift()?.resolve();
    });
    thread.onExit((reason) => fail(new Error(`its new thread ended: ${reason}`)));
    // the disks' owner is known at the switch ('incoming-final')
    thread.send({ t: 'init', config: { id, machine: restoredMachine(machine, ''), allowedDirs: this.h.o.allowedDirs ? [...this.h.o.allowedDirs] : undefined, restore: { incoming: true } } });
    return {
      thread,
      pages: (batch) => thread.send({ t: 'incoming-pages', pages: batch }, [batch]),
      drain: () => {
        if (failed) return Promise.reject(failed);
        const p = new Promise<void>((resolve, reject) => waiting.push({ resolve, reject }));
        thread.send({ t: 'ping' });
        return within(p, PEER_ANSWER_MS, 'its new thread did not answer');
      },
      cancel: () => thread.terminate(),
    };
  }

  /** The switch to an Arrival: its thread becomes the VM's and resumes the guest; resolves once it runs. */
  private resumeArrival(vm: ManagedVm, thread: VmThread, state: unknown): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      vm.onMoved = resolve;
      vm.pending = { resolve: () => {}, reject };
      this.h.spawnVm(vm, { thread, state });
    });
  }

  /**
   * A migration within the daemon: a new thread of its own takes the guest, or (`avoid`: rebalancing) a shared
   * one that is none of these.
   */
  private localDestination(vm: ManagedVm, avoid?: ReadonlySet<object>): Destination {
    const a = this.arrival(vm.machine!, vm.stored.id, !avoid, avoid);
    let used = false;
    return {
      pages: (batch) => a.pages(batch),
      drain: () => a.drain(),
      resume: async (state) => {
        used = true;
        // the disks go with the VM: the new thread opens them once the old one has closed them
        this.h.moveDiskHold(vm);
        void this.letGo(vm);
        await this.resumeArrival(vm, a.thread, state);
        return null;
      },
      abort: () => {
        if (!used) a.cancel();
      },
    };
  }

  /** A migration to another daemon, through its GET /v1/migrations/incoming. */
  private async remoteDestination(vm: ManagedVm, to: string, token: string | undefined, paused: boolean): Promise<Destination> {
    if (!this.h.o.connectDaemon) throw new ApiError('bad_request', 'this daemon cannot migrate VMs to another one');
    let link: MigrationLink;
    try {
      link = await this.h.o.connectDaemon(to, token);
    } catch (err) {
      throw migrationFailed(vm.stored.id, `cannot reach ${to}: ${(err as Error).message}`, 'it runs on');
    }
    // the definition goes with the NICs' MACs the guest has, so that later boots there keep them
    const macs = vm.machine!.devices.filter((d) => d.kind === 'net').map((d) => (d as { mac: string }).mac);
    const spec = { ...vm.stored.spec, nics: vm.stored.spec.nics.map((n, i) => ({ ...n, mac: n.mac ?? macs[i] })) };
    link.send({ t: 'begin', spec, machine: vm.machine!, balloon_mib: vm.stored.balloon_mib, paused });
    const ack = await answer(link, PEER_ANSWER_MS).catch((e: Error) => ({ t: 'error', code: 'migration_failed', message: e.message }) as const);
    if (ack.t !== 'accepted') {
      link.close();
      const code = ack.t === 'error' && ack.code in API_ERROR_STATUS ? ack.code : 'migration_failed';
      throw new ApiError(code, `${to} refused the VM: ${ack.t === 'error' ? ack.message : `it answered ${ack.t}`}; it runs on here`);
    }
    // the latest copy of each page sent: the guest resumes here from it if the other daemon fails after the switch
    const copy = new Map<number, Uint8Array>();
    return {
      pages: (batch) => {
        unpackPages(batch, (p, data) => copy.set(p, data));
        link.sendPages(batch);
      },
      drain: async () => {
        link.send({ t: 'sync' });
        const m = await answer(link, PEER_ANSWER_MS);
        if (m.t !== 'synced') throw new Error(`${to} ${m.t === 'error' ? `failed: ${m.message}` : `answered ${m.t}`}`);
      },
      resume: async (state) => {
        // the other daemon opens the disks once this one has closed them
        await this.letGo(vm);
        link.send({ t: 'final', state });
        try {
          const done = await answer(link, PEER_ANSWER_MS);
          if (done.t !== 'done') throw new Error(done.t === 'error' ? done.message : `it answered ${done.t}`);
          return done.vm;
        } catch (err) {
          link.close();
          // the other daemon could not take it after all: the guest resumes here, from the copy
          const here = await this.resumeHere(vm, copy, state).then(() => null, (e: Error) => e);
          if (!here) this.h.park(vm, paused);
          throw migrationFailed(vm.stored.id, (err as Error).message, here ? `it is ${vm.stored.state} (${here.message})`
            : `it runs on here (${vm.stored.state}), resumed from the copy`);
        }
      },
      abort: () => link.close(),
    };
  }

  /** The guest resumes in a new thread of this daemon from the pages and state it sent away. */
  private async resumeHere(vm: ManagedVm, copy: ReadonlyMap<number, Uint8Array>, state: unknown): Promise<void> {
    const a = this.arrival(vm.machine!, vm.stored.id, vm.stored.spec.vcpus > 1);
    try {
      a.pages(packPages(copy));
      await a.drain();
    } catch (e) {
      a.cancel();
      throw e;
    }
    await this.resumeArrival(vm, a.thread, state);
  }

  /** The VM's thread lets go of it (its vCPUs, NICs and disks); resolves once the thread has closed its disks. */
  private letGo(vm: ManagedVm): Promise<void> {
    this.h.dropVcpus(vm);
    this.h.retireThread(vm);
    const waiting = vm.closing;
    return new Promise((resolve) => (waiting ? waiting.push(resolve) : resolve()));
  }

  /**
   * The receiving end of a live migration from another daemon (GET /v1/migrations/incoming), one per connection:
   * begin() admits the VM (its definition must be valid and allowed here: the caller checks its files) and builds
   * its machine in a new thread; pages() puts the batches there, sync() answers once they are in; final() defines
   * the VM and resumes the guest, resolving with the VM.
   */
  incoming(): IncomingMigration {
    let m: Extract<MigrationMessage, { t: 'begin' }> | null = null;
    let a: Arrival | null = null;
    return {
      begin: async (msg) => {
        if (m) throw new ApiError('bad_request', 'the migration has begun already');
        this.h.admissible(msg.spec);
        m = msg;
        a = this.arrival(msg.machine, `incoming ${msg.spec.name}`, msg.spec.vcpus > 1);
        try {
          await a.drain();
        } catch (e) {
          throw new ApiError('migration_failed', (e as Error).message);
        }
      },
      pages: (batch) => {
        if (!m || !a) throw new ApiError('bad_request', 'pages before the migration began');
        const ramPages = m.spec.memory_mib * 256;
        try {
          unpackPages(batch, (p) => {
            if (p >= ramPages) throw new ApiError('bad_request', `page ${p} lies beyond the VM's ${m!.spec.memory_mib} MiB of RAM`);
          });
        } catch (e) {
          throw e instanceof RangeError ? new ApiError('bad_request', e.message) : e;
        }
        a.pages(batch);
      },
      sync: async () => {
        if (!a) throw new ApiError('bad_request', 'a sync before the migration began');
        await a.drain().catch((e: Error) => {
          throw new ApiError('migration_failed', e.message);
        });
      },
      final: async (state) => {
        if (!m || !a) throw new ApiError('bad_request', 'the end of a migration that did not begin');
        const begun = m;
        const thread = a.thread;
        a = null;
        // admitted at begin; the name or the budget may have been taken since
        try {
          this.h.admissible(begun.spec);
        } catch (e) {
          thread.terminate();
          throw e;
        }
        const vm = this.h.define(begun.spec);
        vm.stored.balloon_mib = begun.balloon_mib;
        vm.machine = begun.machine;
        try {
          this.h.holdDisks(vm);
          vm.paused = true;
          this.h.setState(vm, begun.paused ? 'paused' : 'running');
          await this.resumeArrival(vm, thread, state);
          vm.onMoved = null;
          vm.pending = null;
          this.h.park(vm, begun.paused);
          return this.h.info(vm);
        } catch (e) {
          vm.onMoved = null;
          vm.pending = null;
          if (vm.thread) this.h.ended(vm, 'stopped', 'the migration failed');
          else thread.terminate();
          this.h.dropDiskHold(vm);
          this.h.forget(vm, 'the migration failed');
          throw e instanceof ApiError ? e : new ApiError('migration_failed', `the guest could not be resumed here: ${(e as Error).message}`);
        }
      },
      abort: () => {
        a?.cancel();
        a = null;
      },
    };
  }
}
