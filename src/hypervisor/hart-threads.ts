// The hart threads of a multi-vCPU VM whose vCPUs run in parallel (vcpus > 1 without firmware), for the VM
// manager: one thread per further hart on the VM thread's shared RAM (core/machine/smp.ts), started once the VM
// thread has built the machine, each a vCPU of the scheduler; and the questions the manager asks them between
// slices (a snapshot's saved harts, a live migration's dirty log), answered in hart order.
import type { FromVm, SmpShare, ToVm } from './protocol.js';
import type { RemoteHartState } from '../core/snapshot/hart.js';
import type { ManagedVm, Vcpu } from './managed-vm.js';
import type { VmThread } from './manager-host.js';

/** What the hart threads need from the manager. */
export interface HartThreadHost {
  spawnHart(): VmThread;
  /** A vCPU of the scheduler for hart `index`, run in `thread` (not ready until it says so). */
  newVcpu(vm: ManagedVm, index: number, thread: VmThread): Vcpu;
  wakeVcpu(vm: ManagedVm, index: number): void;
  ended(vm: ManagedVm, state: 'crashed', reason: string): void;
  onSlice(vm: ManagedVm, cpu: Vcpu, m: Extract<FromVm, { t: 'slice' }>): void;
  consoleOut(vm: ManagedVm, from: VmThread, m: Extract<FromVm, { t: 'console' }>): void;
  guestReset(vm: ManagedVm, kind: 'shutdown' | 'cold-reboot' | 'warm-reboot'): void;
}

export class HartThreads {
  /** Hart threads asked something, with what takes the answer. */
  private readonly requests = new Map<VmThread, (m: FromVm) => void>();

  constructor(private readonly h: HartThreadHost) {}

  /** One thread per further hart of the VM described by `smp` (restoring its saved hart, if `smp` has them). */
  start(vm: ManagedVm, smp: SmpShare): void {
    for (let j = 1; j < smp.harts; j++) {
      const t = this.h.spawnHart();
      vm.hartThreads.push(t);
      const cpu = this.h.newVcpu(vm, j, t);
      vm.vcpus.push(cpu);
      // a restored hart may have been running: it runs once (an idle one says so and waits for its timer)
      if (smp.restore) cpu.wantWake = true;
      t.onMessage((m) => {
        if (vm.hartThreads.includes(t)) this.onMessage(vm, t, cpu, j, m);
      });
      t.onExit((reason) => {
        if (vm.hartThreads.includes(t)) this.h.ended(vm, 'crashed', `the thread of hart ${j} ended: ${reason}`);
      });
      t.send({ t: 'init-hart', hartId: j, smp });
    }
  }

  private onMessage(vm: ManagedVm, t: VmThread, cpu: Vcpu, j: number, m: FromVm): void {
    switch (m.t) {
      case 'ready':
        cpu.ready = true;
        if (cpu.wantWake) this.h.wakeVcpu(vm, j);
        break;
      case 'init-error':
        this.h.ended(vm, 'crashed', `cannot start hart ${j}: ${m.message}`);
        break;
      case 'slice':
        this.h.onSlice(vm, cpu, m);
        break;
      case 'console':
        this.h.consoleOut(vm, t, m);
        break;
      case 'wake':
        this.h.wakeVcpu(vm, m.hart ?? j);
        break;
      case 'reset':
        this.h.guestReset(vm, m.kind);
        break;
      case 'hart-state':
      case 'hart-error':
      case 'dirty-logged':
        this.requests.get(t)?.(m);
        break;
      default:
        break;
    }
  }

  /** Ends the VM's hart threads; a question waiting on one of them fails. */
  end(vm: ManagedVm): void {
    for (const t of vm.hartThreads.splice(0)) {
      t.terminate();
      this.requests.get(t)?.({ t: 'stopped' });
    }
  }

  /** Each hart, saved in its thread (the VM is parked), in hart order; rejects if one cannot be. */
  async save(vm: ManagedVm): Promise<RemoteHartState[]> {
    return (await this.ask(vm, { t: 'hart-save' }, 'hart-state')).map((m) => (m as Extract<FromVm, { t: 'hart-state' }>).state);
  }

  /** Each thread drops its write translations and marks the VM thread's dirty log (`buffer`: the log, once). */
  async logWrites(vm: ManagedVm, buffer?: SharedArrayBuffer): Promise<void> {
    await this.ask(vm, buffer ? { t: 'dirty-log', buffer } : { t: 'dirty-log' }, 'dirty-logged');
  }

  /** The threads stop logging (a migration given up). */
  stopLogs(vm: ManagedVm): void {
    for (const t of vm.hartThreads) t.send({ t: 'dirty-stop' });
  }

  /** Sends `m` to each of the VM's hart threads; resolves with their `answer`s, in hart order (rejects if one fails or ends). */
  private ask(vm: ManagedVm, m: ToVm, answer: FromVm['t']): Promise<FromVm[]> {
    return Promise.all(vm.hartThreads.map((t) => new Promise<FromVm>((resolve, reject) => {
      this.requests.set(t, (a) => {
        this.requests.delete(t);
        if (a.t === answer) resolve(a);
        else reject(new Error(a.t === 'hart-error' ? a.message : 'its hart thread ended'));
      });
      t.send(m);
    })));
  }
}
