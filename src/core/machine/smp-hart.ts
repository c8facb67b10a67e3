// One hart of a multi-vCPU VM running in a thread of its own (see smp.ts): it shares the VM's RAM, reaches the
// devices through the SmpLink's mailbox, keeps its own decoded-instruction cache and TLB, and runs the SBI for
// itself (timers locally; IPIs, hart starts and fences to other harts through the link).
import { GuestRam } from './memory.js';
import { Bus, type Device } from '../devices/bus.js';
import { Clint, Timebase } from '../devices/clint.js';
import { CodeCache } from '../mmu/codecache.js';
import { Hart } from '../cpu/hart.js';
import { Sbi, HartState, type ResetKind } from '../sbi/sbi.js';
import { restoreHart, saveHart, type RemoteHartState } from '../snapshot/hart.js';
import { SmpLink } from './smp.js';
import { prepareSupervisorHart, stuckReason } from './vm.js';
import type { Clock } from '../host/clock.js';
import type { JitMode } from '../jit/mode.js';

export interface RemoteHartConfig {
  hartId: number;
  /** Harts in the VM. */
  harts: number;
  /** The VM's shared RAM (GuestRam.memory of the device thread). */
  memory: WebAssembly.Memory;
  /** GuestRam.touchedBuffer of the device thread. */
  touched?: SharedArrayBuffer;
  ramBase: number;
  ramSize: number;
  /** SmpLink.buffer of the device thread. */
  link: SharedArrayBuffer;
  /** The device thread's MMIO map (Vm.mmioLayout()). */
  mmio: { base: number; size: number; name: string }[];
  /** The clock all threads of the VM share (mtime 0 at its epoch). */
  clock: Clock;
  /** SBI debug-console output from this hart. */
  console(bytes: Uint8Array): void;
  /** The guest asked for a shutdown or reboot from this hart. */
  reset(kind: ResetKind): void;
  /** A hart (of another thread) has something to do: its vCPU should run. */
  wake(hart: number): void;
  /** When the hart translates guest code to WebAssembly (default: on). */
  jit?: JitMode;
  /** mtime's lead over the shared clock (the device thread's Timebase.offsetTicks: a restored VM's is not 0). */
  mtimeOffset?: number;
}


export interface RemoteSlice {
  instructions: number;
  /** The hart waits (WFI, or stopped): nothing to do until idleForNs() or a wake. */
  idle: boolean;
  elapsedNs: number;
  /** Set when the hart can make no progress (a trap loop): the VM should end as crashed. */
  crashed?: string;
}

/** Instructions per turn of the run loop; the clock is checked between turns. */
const TURN = 200_000;

/** A device of the VM reached through the device thread. */
class RemoteDevice implements Device {
  private readonly out = { value: 0n };
  constructor(private readonly link: SmpLink, private readonly hart: number, private readonly base: number) {}

  read(offset: number, width: number): number | bigint {
    if (!this.link.mmio(this.hart, false, this.base + offset, width, 0n, this.out)) throw new RangeError('device access fault');
    return width === 8 ? this.out.value : Number(BigInt.asUintN(32, this.out.value));
  }

  write(offset: number, width: number, value: number | bigint): void {
    if (!this.link.mmio(this.hart, true, this.base + offset, width, BigInt(value), this.out)) throw new RangeError('device access fault');
  }

  reset(): void {}
}

export class RemoteHartMachine {
  readonly hart: Hart;
  readonly ram: GuestRam;
  readonly sbi: Sbi;
  private readonly link: SmpLink;
  private readonly clock: Clock;
  private readonly code: CodeCache;
  private readonly clint: Clint;

  constructor(cfg: RemoteHartConfig) {
    this.clock = cfg.clock;
    this.link = new SmpLink(cfg.harts, cfg.link);
    this.ram = GuestRam.attach(cfg.memory, cfg.ramBase, cfg.ramSize, cfg.touched);
    this.code = new CodeCache(this.ram);
    const bus = new Bus();
    for (const m of cfg.mmio) bus.map(m.base, m.size, m.name, new RemoteDevice(this.link, cfg.hartId, m.base));
    this.clint = new Clint(new Timebase(this.clock, 0), cfg.harts);
    if (cfg.mtimeOffset) this.clint.timebase.set(this.clint.timebase.now() + cfg.mtimeOffset);
    this.hart = new Hart({ hartId: cfg.hartId, ram: this.ram, bus, code: this.code, clint: this.clint, jit: cfg.jit });
    const harts: (Hart | null)[] = Array.from({ length: cfg.harts }, (_, i) => (i === cfg.hartId ? this.hart : null));
    this.sbi = new Sbi({
      harts,
      smp: { link: this.link, wake: (h) => cfg.wake(h), flushCode: () => this.code.clear() },
      memory: this.ram,
      consoleWrite: (b) => cfg.console(b),
      consoleRead: () => new Uint8Array(0),
      reset: (kind) => {
        this.hart.stop = true;
        cfg.reset(kind);
      },
      wake: () => {},
    });
    this.sbi.attach(this.hart);
    this.hart.reset(0, 0);
    prepareSupervisorHart(this.hart);
    this.hart.waiting = true;
    this.hart.chunkHook = () => this.sync();
    this.hart.onFenceI = () => this.code.clear();
  }

  /**
   * The hart's state, between slices, for a snapshot of its VM: what other threads asked of it (a start, an
   * IPI) is taken first, so that it is in the record rather than in the link.
   */
  save(): RemoteHartState {
    this.sync();
    return { hart: saveHart(this.hart), sbi: this.sbi.save() };
  }

  /** Takes a saved state (RemoteHartState) into this hart, refusing a bad record before changing anything. */
  restore(record: RemoteHartState): void {
    restoreHart(this.hart, record.hart);
    this.sbi.restore(record.sbi);
    this.code.clear();
  }

  /**
   * Live migration, between slices, while no hart of the VM runs: marks the device thread's dirty log (its
   * buffer, the first time) and drops the write translations, so that the next store to each page is logged.
   */
  logWrites(buffer?: SharedArrayBuffer): void {
    if (buffer) this.ram.attachDirtyLog(buffer);
    this.hart.mmu.dropWrites();
  }

  /** The migration is over: no more logging. */
  stopLog(): void {
    this.ram.stopDirtyLog();
  }

  /** Takes what other threads asked of this hart: start, IPIs, fences, the PLIC's lines. */
  private sync(): void {
    const h = this.hart;
    const id = h.hartId;
    this.sbi.syncLocal(h);
    h.irqLines = this.link.lines(id);
    // the VM rebooted (or the hart was stopped from elsewhere): park until started again
    if (this.link.hsmState(id) === HartState.STOPPED) h.waiting = true;
  }

  /** Runs the hart for about `budgetNs` of host time. */
  runSlice(budgetNs: number): RemoteSlice {
    const h = this.hart;
    const id = h.hartId;
    const start = this.clock.nowNs();
    this.link.setRunning(id, true);
    let instructions = 0;
    try {
      for (;;) {
        this.sync();
        if (this.link.hsmState(id) === HartState.STOPPED || (h.waiting && !h.wakeable())) {
          return { instructions, idle: true, elapsedNs: this.clock.nowNs() - start };
        }
        h.stop = false;
        instructions += h.run(TURN);
        const elapsedNs = this.clock.nowNs() - start;
        if (h.stuck) return { instructions, idle: false, elapsedNs, crashed: stuckReason(id, h.stuck) };
        if (elapsedNs >= budgetNs || h.stop) return { instructions, idle: false, elapsedNs };
      }
    } finally {
      this.link.setRunning(id, false);
    }
  }

  /** Host ns until this idle hart's timer fires (Infinity when stopped or no timer is armed). */
  idleForNs(): number {
    if (this.link.hsmState(this.hart.hartId) === HartState.STOPPED) return Infinity;
    return this.clint.timebase.nsUntil(this.hart.timerDeadline());
  }

  setStealTime(stealNs: number, preempted: boolean): void {
    this.sbi.setSteal(this.hart.hartId, stealNs, preempted);
  }
}
