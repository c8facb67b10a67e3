// The SBI (RISC-V Supervisor Binary Interface v2.0) that tvisor offers a guest kernel entered in S-mode:
// Base, legacy console/timer/IPI/shutdown, TIME, IPI, RFENCE, HSM, SRST, DBCN and STA (chapters 3-12).
import type { Hart } from '../cpu/hart.js';
import { S } from '../cpu/state.js';
import { FENCE_I, FENCE_VMA, type SmpLink } from '../machine/smp.js';
import { MIP_SSIP, MSTATUS, PRIV } from '../cpu/bits.js';
import type { GuestMemory } from '../machine/memory.js';
import { RecordReader, u64Text } from '../snapshot/state.js';

/** SBI error codes (SBI spec 3.2). */
export const enum SbiError {
  SUCCESS = 0,
  FAILED = -1,
  NOT_SUPPORTED = -2,
  INVALID_PARAM = -3,
  DENIED = -4,
  INVALID_ADDRESS = -5,
  ALREADY_AVAILABLE = -6,
  ALREADY_STARTED = -7,
  ALREADY_STOPPED = -8,
}

/** Extension IDs. */
export const enum Eid {
  LEGACY_SET_TIMER = 0x00,
  LEGACY_PUTCHAR = 0x01,
  LEGACY_GETCHAR = 0x02,
  LEGACY_CLEAR_IPI = 0x03,
  LEGACY_SEND_IPI = 0x04,
  LEGACY_FENCE_I = 0x05,
  LEGACY_SFENCE_VMA = 0x06,
  LEGACY_SFENCE_VMA_ASID = 0x07,
  LEGACY_SHUTDOWN = 0x08,
  BASE = 0x10,
  TIME = 0x54494d45,
  IPI = 0x735049,
  RFENCE = 0x52464e43,
  HSM = 0x48534d,
  SRST = 0x53525354,
  DBCN = 0x4442434e,
  STA = 0x535441,
}

/** HSM hart states (SBI spec 9.1). */
export const enum HartState {
  STARTED = 0,
  STOPPED = 1,
  START_PENDING = 2,
  STOP_PENDING = 3,
  SUSPENDED = 4,
}

/** SBI spec version 2.0: major in bits 30:24, minor in 23:0. */
export const SBI_SPEC_VERSION = 2 << 24;
/** Implementation ID reported by Base get_impl_id (not from the official registry: "tv"). */
export const SBI_IMPL_ID = 0x7476;
export const SBI_IMPL_VERSION = 1;

const SUPPORTED = new Set<number>([
  Eid.LEGACY_SET_TIMER, Eid.LEGACY_PUTCHAR, Eid.LEGACY_GETCHAR, Eid.LEGACY_CLEAR_IPI, Eid.LEGACY_SEND_IPI,
  Eid.LEGACY_FENCE_I, Eid.LEGACY_SFENCE_VMA, Eid.LEGACY_SFENCE_VMA_ASID, Eid.LEGACY_SHUTDOWN,
  Eid.BASE, Eid.TIME, Eid.IPI, Eid.RFENCE, Eid.HSM, Eid.SRST, Eid.DBCN, Eid.STA,
]);

export type ResetKind = 'shutdown' | 'cold-reboot' | 'warm-reboot';

/** Harts of the VM that run in other threads (see machine/smp.ts). */
export interface SbiSmp {
  link: SmpLink;
  /** A remote hart has something to do (IPI, start): its vCPU should be made runnable. */
  wake(hart: number): void;
  /** Flushes this thread's decoded-instruction cache (a remote hart may have written code). */
  flushCode(): void;
  /** Serves other harts' device accesses (the VM thread), so a hart waiting here for their fences cannot
   *  deadlock with a hart waiting for a device access. */
  serve?(): void;
}

/** What the SBI needs from the machine around it. */
export interface SbiHost {
  /** Every hart of the VM by id; null for harts that run in another thread (then `smp` is set). */
  readonly harts: readonly (Hart | null)[];
  readonly smp?: SbiSmp;
  readonly memory: GuestMemory;
  /** Guest console output (DBCN and legacy putchar). */
  consoleWrite(bytes: Uint8Array): void;
  /** Up to `max` bytes of pending console input (may be empty). */
  consoleRead(max: number): Uint8Array;
  /** System reset or shutdown requested by the guest. */
  reset(kind: ResetKind, reason: number): void;
  /** A hart's state changed (started, interrupt sent): the scheduler should look again. */
  wake(): void;
}

const TWO32 = 4294967296;
// registers a0..a7 as slot indices in the x array (x10..x17, two int32 slots each)
const A0 = 20, A1 = 22, A2 = 24, A6 = 32, A7 = 34;

/** An SBI's saved state (save/restore): HSM states per hart, STA record addresses (null: off). */
export interface SbiState {
  version: 1;
  hsm: number[];
  sta: (string | null)[];
}

export class Sbi {
  /** HSM state per hart. */
  readonly state: Uint8Array;
  /** STA shared-memory physical address per hart (-1 = off). */
  readonly staShmem: Float64Array;

  constructor(private readonly host: SbiHost) {
    this.state = new Uint8Array(host.harts.length).fill(HartState.STOPPED);
    this.staShmem = new Float64Array(host.harts.length).fill(-1);
  }

  /** Makes hart `h` handle its S-mode ECALLs through this SBI. */
  attach(h: Hart): void {
    h.ecallHook = (hart) => (hart.s[S.PRIV] === PRIV.S ? (this.call(hart), true) : false);
  }

  reset(): void {
    this.state.fill(HartState.STOPPED);
    if (this.host.smp) for (let id = 0; id < this.host.harts.length; id++) this.host.smp.link.setHsmState(id, HartState.STOPPED);
    this.staShmem.fill(-1);
  }

  /** The SBI's state: each hart's HSM state and steal-time record address (STA). */
  save(): SbiState {
    return {
      version: 1,
      hsm: Array.from({ length: this.host.harts.length }, (_, id) => this.hsmState(id)),
      sta: Array.from(this.staShmem, (a) => (a < 0 ? null : u64Text(BigInt(a)))),
    };
  }

  /** Takes a saved state (of an SBI with as many harts), refusing a bad record before changing anything. */
  restore(record: unknown): void {
    const n = this.host.harts.length;
    const r = new RecordReader(record, 'sbi', 1);
    const hsm = r.uints('hsm', n, HartState.SUSPENDED); // the HSM states are 0..4
    const sta = r.u64OrNullArray('sta', n);
    hsm.forEach((st, id) => this.setHsm(id, st));
    sta.forEach((a, id) => { this.staShmem[id] = a === null ? -1 : Number(a); });
  }

  /** True when the scheduler may run hart i. */
  runnable(i: number): boolean {
    const st = this.hsmState(i);
    return st === HartState.STARTED || st === HartState.SUSPENDED || st === HartState.START_PENDING;
  }

  /** HSM state of hart `id` (shared with the other threads of an SMP VM). */
  hsmState(id: number): number {
    const smp = this.host.smp;
    return smp ? smp.link.hsmState(id) : this.state[id];
  }

  private setHsm(id: number, state: HartState): void {
    const smp = this.host.smp;
    if (smp) smp.link.setHsmState(id, state);
    else this.state[id] = state;
  }

  /** Starts hart `id` in S-mode at `pc` with a0 = hartid, a1 = opaque (SBI spec 9.2; also used at boot). A
   *  hart in another thread is left START_PENDING with its entry in the link; its thread starts it. */
  startHart(id: number, pcLo: number, pcHi: number, opaqueLo: number, opaqueHi: number): void {
    const h = this.host.harts[id];
    if (!h) {
      const smp = this.host.smp!;
      smp.link.setStart(id, pcLo, pcHi, opaqueLo, opaqueHi);
      smp.link.setHsmState(id, HartState.START_PENDING);
      smp.wake(id);
      return;
    }
    const s = h.s;
    s[S.PRIV] = PRIV.S;
    s[S.PC] = pcLo;
    s[S.PC + 1] = pcHi;
    s[S.SATP] = s[S.SATP + 1] = 0;
    s[S.MSTATUS] &= ~MSTATUS.SIE;
    h.x[A0] = id;
    h.x[A0 + 1] = 0;
    h.x[A1] = opaqueLo;
    h.x[A1 + 1] = opaqueHi;
    h.waiting = false;
    h.mmu.flush();
    this.setHsm(id, HartState.STARTED);
    this.host.wake();
  }

  /**
   * For a hart of this thread in an SMP VM, at the start of a slice and between instruction chunks: takes
   * what other threads asked of it (IPI, fences) and, for a START_PENDING hart, starts it.
   */
  syncLocal(h: Hart): void {
    const smp = this.host.smp;
    if (!smp) return;
    const link = smp.link;
    const id = h.hartId;
    if (link.hsmState(id) === HartState.START_PENDING) {
      const [pcLo, pcHi, opLo, opHi] = link.start(id);
      smp.flushCode(); // RAM may hold other code than when this hart last ran (a reboot, a new kernel)
      this.startHart(id, pcLo, pcHi, opLo, opHi);
    }
    if (link.takeIpi(id)) h.s[S.MIP] |= MIP_SSIP;
    const f = link.takeFences(id);
    if (f & FENCE_VMA) h.mmu.flush();
    if (f & FENCE_I) smp.flushCode();
  }

  /** Handles one SBI call from hart `h` (a7 = EID, a6 = FID, arguments in a0-a5). */
  call(h: Hart): void {
    const x = h.x;
    const eid = x[A7] >>> 0;
    const fid = x[A6] >>> 0;
    if (x[A7 + 1] !== 0) return this.ret(h, SbiError.NOT_SUPPORTED, 0);
    if (eid <= Eid.LEGACY_SHUTDOWN) return this.legacy(h, eid);
    switch (eid) {
      case Eid.BASE: return this.base(h, fid);
      case Eid.TIME:
        if (fid !== 0) return this.ret(h, SbiError.NOT_SUPPORTED, 0);
        this.setTimer(h);
        return this.ret(h, SbiError.SUCCESS, 0);
      case Eid.IPI:
        if (fid !== 0) return this.ret(h, SbiError.NOT_SUPPORTED, 0);
        return this.ret(h, this.forHarts(h, (t) => this.sendIpi(t)), 0);
      case Eid.RFENCE:
        // fence.i, sfence.vma and sfence.vma.asid: TLBs are flushed whole
        if (fid > 2) return this.ret(h, SbiError.NOT_SUPPORTED, 0);
        return this.ret(h, this.forHarts(h, (t) => this.fence(h, t, fid === 0 ? FENCE_I : FENCE_VMA)), 0);
      case Eid.HSM: return this.hsm(h, fid);
      case Eid.SRST: return this.srst(h, fid);
      case Eid.DBCN: return this.dbcn(h, fid);
      case Eid.STA: return this.sta(h, fid);
    }
    this.ret(h, SbiError.NOT_SUPPORTED, 0);
  }

  private ret(h: Hart, error: number, value: number | bigint): void {
    const x = h.x;
    x[A0] = error;
    x[A0 + 1] = error >> 31;
    if (typeof value === 'bigint') {
      x[A1] = Number(BigInt.asIntN(32, value));
      x[A1 + 1] = Number(BigInt.asIntN(32, value >> 32n));
    } else {
      x[A1] = value | 0;
      x[A1 + 1] = Math.floor(value / TWO32) | 0;
    }
  }

  private u64(h: Hart, slot: number): number {
    return (h.x[slot + 1] >>> 0) * TWO32 + (h.x[slot] >>> 0);
  }

  private setTimer(h: Hart): void {
    h.sbiTimer = this.u64(h, A0);
  }

  private sendIpi(id: number): void {
    const t = this.host.harts[id];
    if (t) {
      t.s[S.MIP] |= MIP_SSIP;
      this.host.wake();
    } else {
      this.host.smp!.link.raiseIpi(id);
      this.host.smp!.wake(id);
    }
  }

  /** A fence on hart `id` asked by hart `h`: at once for a hart of this thread; a hart running in another
   *  thread is asked and awaited (one not running serves it before it runs again). */
  private fence(h: Hart, id: number, kind: number): void {
    const t = this.host.harts[id];
    const smp = this.host.smp;
    if (t) {
      if (kind & FENCE_VMA) t.mmu.flush();
      if (kind & FENCE_I && smp) smp.flushCode();
      return;
    }
    smp!.link.requestFence(id, kind);
    smp!.link.awaitFences(id, () => {
      smp!.serve?.();
      this.syncLocal(h);
    });
  }

  /** Applies `fn` to the hart ids named by (hart_mask in a0, hart_mask_base in a1) (SBI spec 3.1). */
  private forHarts(h: Hart, fn: (id: number) => void): number {
    const n = this.host.harts.length;
    const x = h.x;
    if (x[A1] === -1 && x[A1 + 1] === -1) {
      for (let id = 0; id < n; id++) fn(id);
      return SbiError.SUCCESS;
    }
    const base = this.u64(h, A1);
    const targets: number[] = [];
    for (let bit = 0; bit < 64; bit++) {
      const set = bit < 32 ? (x[A0] >>> bit) & 1 : (x[A0 + 1] >>> (bit - 32)) & 1;
      if (!set) continue;
      const id = base + bit;
      if (id >= n || this.hsmState(id) === HartState.STOPPED) return SbiError.INVALID_PARAM;
      targets.push(id);
    }
    for (const id of targets) fn(id);
    return SbiError.SUCCESS;
  }

  private legacy(h: Hart, eid: number): void {
    const x = h.x;
    let value = 0;
    switch (eid) {
      case Eid.LEGACY_SET_TIMER: this.setTimer(h); break;
      case Eid.LEGACY_PUTCHAR: this.host.consoleWrite(Uint8Array.of(x[A0] & 0xff)); break;
      case Eid.LEGACY_GETCHAR: {
        const b = this.host.consoleRead(1);
        value = b.length > 0 ? b[0] : -1;
        break;
      }
      case Eid.LEGACY_CLEAR_IPI: h.s[S.MIP] &= ~MIP_SSIP; break;
      case Eid.LEGACY_SEND_IPI:
      case Eid.LEGACY_FENCE_I:
      case Eid.LEGACY_SFENCE_VMA:
      case Eid.LEGACY_SFENCE_VMA_ASID: {
        // a0 points to a hart mask in guest memory (virtual in principle; Linux passes a physical-equal address
        // only when paging is off, so read it through the hart's own translation)
        let mask: bigint = 0n;
        if (x[A0] !== 0 || x[A0 + 1] !== 0) {
          const lo = h.readVirt(x[A0], x[A0 + 1], 8);
          mask = (BigInt(h.tmpHi >>> 0) << 32n) | BigInt(lo >>> 0);
        } else mask = (1n << BigInt(this.host.harts.length)) - 1n;
        for (let i = 0; i < this.host.harts.length; i++) {
          if (((mask >> BigInt(i)) & 1n) === 0n) continue;
          if (eid === Eid.LEGACY_SEND_IPI) this.sendIpi(i);
          else this.fence(h, i, eid === Eid.LEGACY_FENCE_I ? FENCE_I : FENCE_VMA);
        }
        break;
      }
      case Eid.LEGACY_SHUTDOWN: this.host.reset('shutdown', 0); break;
    }
    x[A0] = value;
    x[A0 + 1] = value >> 31;
  }

  private base(h: Hart, fid: number): void {
    switch (fid) {
      case 0: return this.ret(h, SbiError.SUCCESS, SBI_SPEC_VERSION);
      case 1: return this.ret(h, SbiError.SUCCESS, SBI_IMPL_ID);
      case 2: return this.ret(h, SbiError.SUCCESS, SBI_IMPL_VERSION);
      case 3: {
        const eid = h.x[A0] >>> 0;
        return this.ret(h, SbiError.SUCCESS, h.x[A0 + 1] === 0 && SUPPORTED.has(eid) ? 1 : 0);
      }
      case 4: case 5: case 6: return this.ret(h, SbiError.SUCCESS, 0); // mvendorid, marchid, mimpid
    }
    this.ret(h, SbiError.NOT_SUPPORTED, 0);
  }

  private hsm(h: Hart, fid: number): void {
    const x = h.x;
    const harts = this.host.harts;
    switch (fid) {
      case 0: { // hart_start(hartid, start_addr, opaque)
        const id = this.u64(h, A0);
        if (id >= harts.length) return this.ret(h, SbiError.INVALID_PARAM, 0);
        const addr = this.u64(h, A1);
        if (!this.host.memory.contains(addr, 2)) return this.ret(h, SbiError.INVALID_ADDRESS, 0);
        if (this.host.smp) {
          // claim the hart atomically: two harts starting it at once must not both succeed
          if (!this.host.smp.link.casHsmState(id, HartState.STOPPED, HartState.START_PENDING)) return this.ret(h, SbiError.ALREADY_AVAILABLE, 0);
        } else if (this.state[id] !== HartState.STOPPED) return this.ret(h, SbiError.ALREADY_AVAILABLE, 0);
        this.startHart(id, x[A1], x[A1 + 1], x[A2], x[A2 + 1]);
        return this.ret(h, SbiError.SUCCESS, 0);
      }
      case 1: // hart_stop: does not return on success
        this.setHsm(h.hartId, HartState.STOPPED);
        h.waiting = true;
        this.host.wake();
        return this.ret(h, SbiError.SUCCESS, 0);
      case 2: { // hart_get_status(hartid)
        const id = this.u64(h, A0);
        if (id >= harts.length) return this.ret(h, SbiError.INVALID_PARAM, 0);
        const st = this.hsmState(id);
        return this.ret(h, SbiError.SUCCESS, st === HartState.SUSPENDED ? HartState.STARTED : st);
      }
      case 3: { // hart_suspend(type, resume_addr, opaque): the default retentive type behaves as WFI
        const type = x[A0] >>> 0;
        if (x[A0 + 1] !== 0 || (type !== 0 && type !== 0x80000000)) return this.ret(h, SbiError.INVALID_PARAM, 0);
        if (type !== 0) return this.ret(h, SbiError.NOT_SUPPORTED, 0);
        if (!h.wakeable()) h.waiting = true;
        return this.ret(h, SbiError.SUCCESS, 0);
      }
    }
    this.ret(h, SbiError.NOT_SUPPORTED, 0);
  }

  private srst(h: Hart, fid: number): void {
    if (fid !== 0) return this.ret(h, SbiError.NOT_SUPPORTED, 0);
    const type = h.x[A0] >>> 0, reason = h.x[A1] >>> 0;
    if (h.x[A0 + 1] !== 0 || type > 2) return this.ret(h, SbiError.INVALID_PARAM, 0);
    if (reason > 1 && reason < 0xe0000000) return this.ret(h, SbiError.INVALID_PARAM, 0);
    this.host.reset(type === 0 ? 'shutdown' : type === 1 ? 'cold-reboot' : 'warm-reboot', reason);
    this.ret(h, SbiError.SUCCESS, 0);
  }

  private dbcn(h: Hart, fid: number): void {
    const x = h.x;
    switch (fid) {
      case 0: case 1: { // console_write / console_read (num_bytes, base_addr_lo, base_addr_hi)
        const n = this.u64(h, A0);
        const addr = (x[A2] >>> 0) * TWO32 + (x[A1] >>> 0);
        if (!this.host.memory.contains(addr, n)) return this.ret(h, SbiError.INVALID_PARAM, 0);
        if (fid === 0) {
          this.host.consoleWrite(this.host.memory.read(addr, n));
          return this.ret(h, SbiError.SUCCESS, n);
        }
        const data = this.host.consoleRead(n);
        this.host.memory.write(addr, data);
        return this.ret(h, SbiError.SUCCESS, data.length);
      }
      case 2:
        this.host.consoleWrite(Uint8Array.of(x[A0] & 0xff));
        return this.ret(h, SbiError.SUCCESS, 0);
    }
    this.ret(h, SbiError.NOT_SUPPORTED, 0);
  }

  /** STA: steal-time accounting record (SBI spec 12): sequence u32, flags u32, steal u64, preempted u8. */
  /**
   * Publishes a hart's steal time (ns it was runnable but not running, since boot) and whether it is
   * preempted right now, in the STA record the guest registered (spec 12.1: le32 sequence, le32 flags, le64
   * steal, u8 preempted). The sequence is bumped by two, so a guest reading around the update sees it change
   * and retries; the hart is not running while this is written. Nothing happens without a registration.
   */
  setSteal(hart: number, stealNs: number, preempted: boolean): void {
    const addr = this.staShmem[hart];
    if (!(addr >= 0)) return;
    const rec = this.host.memory.view(addr, 17);
    const dv = new DataView(rec.buffer, rec.byteOffset, 17);
    dv.setUint32(0, (dv.getUint32(0, true) + 2) >>> 0, true);
    dv.setBigUint64(8, BigInt(Math.max(0, Math.floor(stealNs))), true);
    rec[16] = preempted ? 1 : 0;
    this.host.memory.written(addr, 17);
  }

  private sta(h: Hart, fid: number): void {
    const x = h.x;
    if (fid !== 0) return this.ret(h, SbiError.NOT_SUPPORTED, 0);
    if (x[A2] !== 0 || x[A2 + 1] !== 0) return this.ret(h, SbiError.INVALID_PARAM, 0);
    if (x[A0] === -1 && x[A1] === -1) {
      this.staShmem[h.hartId] = -1;
      return this.ret(h, SbiError.SUCCESS, 0);
    }
    const addr = (x[A1] >>> 0) * TWO32 + (x[A0] >>> 0);
    if (addr % 64 !== 0) return this.ret(h, SbiError.INVALID_PARAM, 0);
    if (!this.host.memory.contains(addr, 64)) return this.ret(h, SbiError.INVALID_ADDRESS, 0);
    this.staShmem[h.hartId] = addr;
    this.host.memory.write(addr, new Uint8Array(64)); // sequence 0, steal 0: no steal yet
    this.ret(h, SbiError.SUCCESS, 0);
  }
}
