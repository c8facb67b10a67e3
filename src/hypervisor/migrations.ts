// Live migration of the daemon's VMs (issue 15), for the VM manager (manager.ts): a VM moves, while its guest
// runs, to a VM thread of its own or to another daemon (migrate), and arrives from another daemon (incoming).
// The pre-copy rounds, the stop-and-copy, the handing over of the disks and the undoing of what failed are here;
// what they do to a VM (park it, let its thread go, give it a new one) is the manager's, through MigrationHost.
import { ApiError, API_ERROR_STATUS, migrationFailed } from './errors.js';
import { stateError, type MigrateRequest, type MigrationInfo, type VmInfo, type VmSpec, type VmState } from './model.js';
import {
  answer, packPages, PEER_ANSWER_MS, PRECOPY_ROUNDS, STOP_COPY_PAGES, withTimeout, type Destination, type IncomingMigration, type MigrationLink,
  type MigrationMessage,
} from './migration.js';
import { unpackPages } from '../core/snapshot/pages.js';
import { busyWith, THREAD_UP_MS, type ManagedVm } from './managed-vm.js';
import type { FromVm, ToVm } from './protocol.js';
import type { ManagerOptions, VmThread } from './manager-host.js';

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
  spawnVm(vm: ManagedVm, moved?: { pages: ArrayBuffer[]; state: unknown }, given?: VmThread): void;
  /** Throws unless a VM of this definition may be added here. */
  admissible(spec: VmSpec): void;
  /** Defines a VM (created) and returns it. */
  define(spec: VmSpec): ManagedVm;
  /** The VM left this daemon: its definition goes. */
  forget(vm: ManagedVm, why: string): void;
  /** The VM's disks are held for it (409 when another VM of this daemon writes one). */
  holdDisks(vm: ManagedVm): void;
  /** The disks its current thread holds go with the VM to its next thread. */
  moveDiskHold(vm: ManagedVm): void;
  dropDiskHold(vm: ManagedVm): void;
}

export class Migrations {
  constructor(private readonly h: MigrationHost) {}

  /**
   * Moves a running or paused VM, live (POST /v1/vms/{id}/migrate): to a VM thread of its own, or (`req.to`) to
   * another daemon. Its RAM is copied while the guest runs (every page, then the pages written meanwhile, round
   * after round, until few are left: the dirty log), then its vCPUs are parked for the stop-and-copy of the rest
   * and of the machine's state, the old thread closes its disks, and the new one resumes the guest. Within the
   * daemon its NICs stay ports of the same switch, so its connections go on. A failure before the switch leaves
   * the VM running where it was; a failure of the other daemon after it resumes the guest here from the copy.
   */
  async migrate(id: string, req: MigrateRequest): Promise<MigrationInfo> {
    const vm = this.h.vm(id);
    const e = stateError({ kind: 'migrate', id, request: req }, vm.stored.state);
    if (e) throw e;
    if (vm.busy) throw busyWith(vm, 'migrate');
    const s = vm.stored.spec;
    if (s.vcpus > 1 && !s.firmware) throw migrationFailed(id, 'its vCPUs run in parallel threads (vcpus > 1 without firmware), whose writes cannot be logged yet', 'it runs on');
    const thread = vm.thread;
    if (!thread || vm.vcpus.length === 0 || !vm.machine) throw migrationFailed(id, 'it is still being set up; try again in a moment', 'it runs on');
    const t0 = this.h.o.nowNs();
    const wasPaused = vm.paused;
    vm.busy = 'migration';
    let dest: Destination;
    try {
      dest = req.to === undefined ? this.localDestination(vm) : await this.remoteDestination(vm, req.to, req.token, wasPaused);
    } catch (err) {
      vm.busy = null;
      throw err instanceof ApiError ? err : migrationFailed(id, (err as Error).message, 'it runs on');
    }
    const copy = new Map<number, Uint8Array>();
    const take = (m: FromVm) => {
      if (m.t === 'migrate-error') throw new Error(m.message);
      if (m.t !== 'migrate-pages' && m.t !== 'migrate-final') throw new Error(`unexpected answer ${m.t}`);
      unpackPages(m.pages, (p, data) => copy.set(p, data));
      dest.pages(m.pages);
      return m;
    };
    let rounds = 0;
    let pagesSent = 0;
    let downFrom = 0;
    let state: unknown;
    try {
      // pre-copy: the guest runs on between the rounds
      for (let all = true; ; all = false) {
        const m = take(await this.h.request(vm, thread, { t: 'migrate-pages', all }));
        rounds++;
        pagesSent += m.count;
        if (!all && (m.count <= STOP_COPY_PAGES || rounds >= PRECOPY_ROUNDS)) break;
      }
      // stop-and-copy, once the destination is up (a worker takes a while: not while the guest stands still)
      await dest.ready();
      downFrom = this.h.o.nowNs();
      this.h.park(vm, true);
      const last = take(await this.h.request(vm, thread, { t: 'migrate-final' })) as Extract<FromVm, { t: 'migrate-final' }>;
      rounds++;
      pagesSent += last.count;
      state = last.state;
    } catch (err) {
      dest.abort();
      vm.busy = null;
      if (vm.thread !== thread) throw migrationFailed(id, (err as Error).message, `it is ${vm.stored.state}`);
      // given up before the switch: the guest runs on where it was
      thread.send({ t: 'migrate-abort' });
      this.h.park(vm, wasPaused);
      throw migrationFailed(id, (err as Error).message, `it runs on as it did (${vm.stored.state})`);
    }
    const moved = () => ({ pages: [packPages(copy)], state });
    try {
      const there = await dest.resume(state, moved);
      const now = this.h.o.nowNs();
      const out = { rounds, pages_sent: pagesSent, bytes_sent: pagesSent * 4096, total_ms: (now - t0) / 1e6, downtime_ms: (now - downFrom) / 1e6 };
      if (there) {
        this.h.forget(vm, `migrated to ${req.to}`);
        return { ...out, vm: there, to: req.to! };
      }
      this.h.park(vm, wasPaused);
      return { ...out, downtime_ms: (this.h.o.nowNs() - downFrom) / 1e6, vm: this.h.info(vm) };
    } catch (err) {
      if (req.to === undefined || vm.thread) throw migrationFailed(id, (err as Error).message, `it is ${vm.stored.state}`);
      // the other daemon could not take it after all: the guest resumes here, from the copy
      await this.resumeMoved(vm, moved()).catch(() => {});
      if (vm.thread) this.h.park(vm, wasPaused);
      throw migrationFailed(id, (err as Error).message, vm.thread ? `it runs on here (${vm.stored.state}), resumed from the copy` : `it is ${vm.stored.state}`);
    } finally {
      vm.busy = null;
      vm.onMoved = null;
      vm.pending = null;
    }
  }

  /** A migration within the daemon: a new thread, started at once, takes the guest at the switch. */
  private localDestination(vm: ManagedVm): Destination {
    const next = this.h.o.spawn({ dedicated: true });
    const up = new Promise<void>((resolve) => next.onMessage((m) => m.t === 'pong' && resolve()));
    next.send({ t: 'ping' });
    let used = false;
    return {
      pages: () => {},
      ready: () => withTimeout(up, THREAD_UP_MS),
      resume: async (_state, moved) => {
        used = true;
        // the disks go with the VM: the new thread opens them once the old one has closed them
        this.h.moveDiskHold(vm);
        this.letGo(vm);
        await this.resumeMoved(vm, moved(), next);
        return null;
      },
      abort: () => {
        if (!used) next.terminate();
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
    return {
      pages: (batch) => link.sendPages(batch),
      ready: async () => {},
      resume: async (state) => {
        // the other daemon opens the disks once this one has closed them
        await this.letGo(vm);
        link.send({ t: 'final', state });
        const done = await answer(link, PEER_ANSWER_MS);
        if (done.t !== 'done') throw new Error(done.t === 'error' ? done.message : `it answered ${done.t}`);
        return done.vm;
      },
      abort: () => link.close(),
    };
  }

  /** The VM's thread lets go of it (its vCPUs, NICs and disks); resolves once the thread has closed its disks. */
  private letGo(vm: ManagedVm): Promise<void> {
    this.h.dropVcpus(vm);
    this.h.retireThread(vm);
    const waiting = vm.closing;
    return new Promise((resolve) => (waiting ? waiting.push(resolve) : resolve()));
  }

  /** A new thread resumes the guest `moved` (spawned now, or `next`); resolves once it runs, rejects if it cannot. */
  private resumeMoved(vm: ManagedVm, moved: { pages: ArrayBuffer[]; state: unknown }, next?: VmThread): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      vm.onMoved = resolve;
      vm.pending = { resolve: () => {}, reject };
      this.h.spawnVm(vm, moved, next);
    });
  }

  /**
   * The receiving end of a live migration from another daemon (GET /v1/migrations/incoming), one per connection:
   * begin() admits the VM (its definition must be valid and allowed here: the caller checks its files) and starts
   * its thread; pages() takes the batches; final() defines the VM and resumes the guest, resolving with the VM.
   */
  incoming(): IncomingMigration {
    let m: Extract<MigrationMessage, { t: 'begin' }> | null = null;
    let next: VmThread | null = null;
    const copy = new Map<number, Uint8Array>();
    return {
      begin: (msg) => {
        if (m) throw new ApiError('bad_request', 'the migration has begun already');
        this.h.admissible(msg.spec);
        m = msg;
        next = this.h.o.spawn({ dedicated: msg.spec.vcpus > 1 });
      },
      pages: (batch) => {
        if (!m) throw new ApiError('bad_request', 'pages before the migration began');
        const ramPages = m.spec.memory_mib * 256;
        // copied out of the message: what is held stays within the VM's RAM, however many batches come
        try {
          unpackPages(batch, (p, data) => {
            if (p >= ramPages) throw new ApiError('bad_request', `page ${p} lies beyond the VM's ${m!.spec.memory_mib} MiB of RAM`);
            copy.set(p, data.slice());
          });
        } catch (e) {
          throw e instanceof RangeError ? new ApiError('bad_request', e.message) : e;
        }
      },
      final: async (state) => {
        if (!m || !next) throw new ApiError('bad_request', 'the end of a migration that did not begin');
        const begun = m;
        const thread = next;
        next = null;
        // admitted at begin; the name or the budget may have been taken since
        this.h.admissible(begun.spec);
        const vm = this.h.define(begun.spec);
        vm.stored.balloon_mib = begun.balloon_mib;
        vm.machine = begun.machine;
        try {
          this.h.holdDisks(vm);
          vm.paused = true;
          this.h.setState(vm, begun.paused ? 'paused' : 'running');
          await this.resumeMoved(vm, { pages: [packPages(copy)], state }, thread);
          vm.onMoved = null;
          vm.pending = null;
          this.h.park(vm, begun.paused);
          return this.h.info(vm);
        } catch (e) {
          vm.onMoved = null;
          vm.pending = null;
          if (vm.thread) this.h.ended(vm, 'stopped', 'the migration failed');
          this.h.dropDiskHold(vm);
          this.h.forget(vm, 'the migration failed');
          throw e instanceof ApiError ? e : new ApiError('migration_failed', `the guest could not be resumed here: ${(e as Error).message}`);
        }
      },
      abort: () => {
        next?.terminate();
        next = null;
      },
    };
  }
}
