// One RV64 hart: the interpreter loop with TLB fast paths, traps and interrupts (Privileged Spec 3.1.6-3.1.9,
// 3.3), and the slow paths for loads, stores and fetches that cross pages, hit MMIO or miss the TLB.
import { Op, DEC_32BIT } from './ops.js';
import { S, STATE_SLOTS, X_SINK } from './state.js';
import { AREA, TLB_MASK } from './area.js';
import { CAUSE, IRQ, MIP_MSIP, MIP_MTIP, MIP_STIP, MSTATUS, ENVCFG, PRIV } from './bits.js';
import { decode16, decode32 } from './decode.js';
import { mulhu32 } from './i64.js';
import { atomic as atomicOp, execOther } from './alu.js';
import { execSystem, sfenceVma } from './system.js';
import { Fpu } from './fpu/fpu.js';
import { execFp } from './fpu/exec.js';
import { Mmu, Access, TLB_INVALID } from '../mmu/mmu.js';
import type { CodeCache } from '../mmu/codecache.js';
import type { GuestRam } from '../machine/memory.js';
import type { Bus } from '../devices/bus.js';
import type { Clint } from '../devices/clint.js';
import { DEFAULT_JIT_MODE, type JitMode } from '../jit/mode.js';
import { Jit, Exit } from '../jit/jit.js';

/** Thrown (never allocated per trap) to unwind from a slow path to the interpreter loop. */
const TRAP = Object.freeze({ trap: true });
/** Traps in a row without a retired instruction after which a hart counts as stuck (see Hart.stuck). */
export const STUCK_TRAPS = 10_000;
const TWO32 = 4294967296;
/** Instructions between interrupt and timer checks. */
const CHUNK = 8192;
const EMPTY: Int32Array = new Int32Array(0);

const LOAD_SIZE: Record<number, number> = { [Op.LB]: 1, [Op.LBU]: 1, [Op.LH]: 2, [Op.LHU]: 2, [Op.LW]: 4, [Op.LWU]: 4, [Op.LD]: 8 };
/** Interrupt priority (Privileged Spec 3.1.9): MEI, MSI, MTI, SEI, SSI, STI. */
const IRQ_ORDER = [IRQ.MEI, IRQ.MSI, IRQ.MTI, IRQ.SEI, IRQ.SSI, IRQ.STI];

export interface HartOptions {
  hartId: number;
  ram: GuestRam;
  bus: Bus;
  code: CodeCache;
  clint: Clint;
  /** When guest code is translated to WebAssembly (default: on). */
  jit?: JitMode;
}

export class Hart {
  readonly hartId: number;
  /** Byte offset of this hart's area in the VM's memory (cpu/area.ts). */
  readonly area: number;
  /** The architectural state block (layout in state.ts). */
  readonly s: Int32Array;
  /** Integer registers as (lo, hi) pairs over the same buffer. */
  readonly x: Int32Array;
  readonly ram: GuestRam;
  readonly bus: Bus;
  readonly code: CodeCache;
  readonly clint: Clint;
  readonly mmu: Mmu;
  /** When guest code is translated to WebAssembly (jit/mode.ts). */
  jitMode: JitMode;
  /** The translation tier, made at the first run() with jitMode on or all. */
  private jitTier: Jit | null = null;
  /** Instructions retired (drives minstret/mcycle). */
  retired = 0;
  /** Retired within the current run() call up to the instruction being executed (for counter CSRs). */
  inflight = 0;
  /** Offsets and freeze values of mcycle/minstret (writes and mcountinhibit). */
  cycleOffset = 0;
  instretOffset = 0;
  /** Parked in WFI until an interrupt is pending. */
  waiting = false;
  /** Set by the machine (HTIF/syscon) to leave run() after the current instruction. */
  stop = false;
  /**
   * Set when the hart takes STUCK_TRAPS traps in a row without retiring an instruction (its trap vector
   * faults again and again, like an x86 triple fault): it can make no progress, and the machine should end.
   */
  stuck: { cause: number; pcLo: number; pcHi: number } | null = null;
  /** Supervisor timer deadline (mtime ticks) set through SBI TIME when no M-mode firmware runs. */
  sbiTimer = Infinity;
  /** Handles ECALL before it traps (the hypervisor's SBI); returns true when it did. */
  ecallHook: ((h: Hart) => boolean) | null = null;
  /** Interrupt lines driven by devices (MEIP, SEIP bits). */
  irqLines = 0;
  /** Called between chunks of instructions (every few thousand): an SMP VM's thread serves other threads'
   *  requests there (device accesses, IPIs, fences). */
  chunkHook: (() => void) | null = null;
  /** Called by fence.i when other threads may have stored to code (an SMP VM's harts): drops decoded pages. */
  onFenceI: (() => void) | null = null;
  /** Called after a store lands in a page flagged as watched (HTIF tohost). */
  onWatchedStore: ((paddr: number) => void) | null = null;
  /** The last fetchPage() found the page executable as a whole (PMP), so the loop may keep it. */
  private fetchUniform = true;
  /** A store invalidated decoded code: the loop must re-validate its fetch page. */
  fetchDirty = false;
  // pending trap
  trapCause = 0;
  trapTvalLo = 0;
  trapTvalHi = 0;
  /** Value of the upper word from 64-bit slow-path reads. */
  tmpHi = 0;
  private scratch = new Int32Array(2);
  /** F/D execution state (scratch buffers, views of the f registers). */
  readonly fpu: Fpu;

  constructor(o: HartOptions) {
    this.hartId = o.hartId;
    this.ram = o.ram;
    this.bus = o.bus;
    this.code = o.code;
    this.clint = o.clint;
    this.jitMode = o.jit ?? DEFAULT_JIT_MODE;
    // the state block and TLB live in this hart's area of the VM's memory, where generated code reaches them
    this.area = o.ram.hartArea(o.hartId);
    this.s = new Int32Array(o.ram.memory.buffer, this.area + AREA.STATE, STATE_SLOTS);
    this.x = this.s.subarray(0, 66);
    this.fpu = new Fpu(this.s);
    this.mmu = new Mmu(this.s, this.ram, this.area, (c, lo, hi) => this.raise(c, lo, hi));
    o.code.listen((page, dropped) => {
      if (!dropped) this.mmu.dropWritable(page);
      this.fetchDirty = true;
    });
    this.reset(0, 0);
  }

  /** Resets to M-mode at `pc` (Privileged Spec 3.4). */
  reset(pcLo: number, pcHi: number): void {
    this.s.fill(0);
    const s = this.s;
    s[S.PRIV] = PRIV.M;
    s[S.MSTATUS + 1] = MSTATUS.HI_XL;
    s[S.PC] = pcLo;
    s[S.PC + 1] = pcHi;
    this.x[20] = this.hartId; // a0 = hartid
    this.waiting = false;
    this.stop = false;
    this.retired = this.cycleOffset = this.instretOffset = 0;
    this.mmu.pmp.update();
    this.mmu.flush();
  }

  /** The hart's translation tier (null when jitMode is off). */
  get jit(): Jit | null {
    if (this.jitMode === 'off') return null;
    if (this.jitTier === null) {
      const clock = globalThis.performance;
      this.jitTier = new Jit(this.ram, this.code, this.area, this.jitMode, {
        load: (lo, hi, op) => this.loadSlow(X_SINK, lo, hi, op),
        store: (lo, hi, size, vLo, vHi) => this.storeSlow(lo, hi, size, vLo, vHi),
        atomic: (lo, hi, vLo, vHi, op) => atomicOp(this, op & 0x1ff, op >>> 10, lo, hi, vLo, vHi, (op & 0x200) !== 0),
        sfence: (lo, hi, all) => sfenceVma(this, all, lo, hi),
        stopped: () => this.stop,
        isTrap: (e) => e === TRAP,
        localFenceI: () => this.onFenceI === null,
      }, clock ? () => clock.now() : undefined);
    }
    return this.jitTier;
  }

  get pc(): bigint {
    return (BigInt(this.s[S.PC + 1] >>> 0) << 32n) | BigInt(this.s[S.PC] >>> 0);
  }

  /** Raises a synchronous exception: unwinds to the interpreter loop, which takes the trap. */
  raise(cause: number, tvalLo: number, tvalHi: number): never {
    this.trapCause = cause;
    this.trapTvalLo = tvalLo;
    this.trapTvalHi = tvalHi;
    throw TRAP;
  }

  illegal(bits: number): never {
    return this.raise(CAUSE.ILLEGAL_INSTRUCTION, bits, 0);
  }

  /** mip as software reads it: stored bits plus device lines and timers. */
  mip(): number {
    const s = this.s;
    let v = s[S.MIP] | this.irqLines;
    const now = this.clint.timebase.now();
    if (this.clint.mtip(this.hartId, now)) v |= MIP_MTIP;
    if (this.clint.msip[this.hartId]) v |= MIP_MSIP;
    if (s[S.MENVCFG + 1] & ENVCFG.HI_STCE) v &= ~MIP_STIP; // Sstc: STIP is stimecmp's, not software's
    if (now >= this.stimerDeadline()) v |= MIP_STIP;
    return v;
  }

  /** mtime at which STIP rises: stimecmp when Sstc is enabled, and the SBI timer (Infinity when unarmed). */
  stimerDeadline(): number {
    const s = this.s;
    if ((s[S.MENVCFG + 1] & ENVCFG.HI_STCE) === 0) return this.sbiTimer;
    return Math.min(this.sbiTimer, (s[S.STIMECMP + 1] >>> 0) * TWO32 + (s[S.STIMECMP] >>> 0));
  }

  /** mtime at which this hart's next timer interrupt (M or S) can become pending. */
  timerDeadline(): number {
    return Math.min(this.clint.mtimecmp[this.hartId], this.stimerDeadline());
  }

  /** The interrupt to take now (cause number), or -1 (Privileged Spec 3.1.9). */
  pendingInterrupt(): number {
    const s = this.s;
    const pend = this.mip() & s[S.MIE];
    if (pend === 0) return -1;
    const priv = s[S.PRIV];
    const mstatus = s[S.MSTATUS];
    const deleg = s[S.MIDELEG];
    let m = pend & ~deleg;
    if (priv === PRIV.M && (mstatus & MSTATUS.MIE) === 0) m = 0;
    let sv = pend & deleg;
    if (priv === PRIV.M || (priv === PRIV.S && (mstatus & MSTATUS.SIE) === 0)) sv = 0;
    const take = m !== 0 ? m : sv;
    if (take === 0) return -1;
    for (const irq of IRQ_ORDER) if (take & (1 << irq)) return irq;
    return -1;
  }

  /** True when WFI should end: some interrupt is pending and locally enabled (global enables ignored). */
  wakeable(): boolean {
    return (this.mip() & this.s[S.MIE]) !== 0;
  }

  /** Takes a trap: selects M or S by delegation, saves state, jumps to the vector. */
  takeTrap(cause: number, interrupt: boolean, tvalLo: number, tvalHi: number, epcLo: number, epcHi: number): void {
    const s = this.s;
    const priv = s[S.PRIV];
    const dataPriv = this.mmu.dataPriv();
    const deleg = interrupt ? s[S.MIDELEG] : s[S.MEDELEG];
    let mstatus = s[S.MSTATUS];
    let vec: number;
    if (priv <= PRIV.S && (deleg >>> cause) & 1) {
      s[S.SCAUSE] = cause;
      s[S.SCAUSE + 1] = interrupt ? 0x80000000 | 0 : 0;
      s[S.SEPC] = epcLo & ~1;
      s[S.SEPC + 1] = epcHi;
      s[S.STVAL] = tvalLo;
      s[S.STVAL + 1] = tvalHi;
      mstatus = (mstatus & ~(MSTATUS.SPIE | MSTATUS.SPP | MSTATUS.SIE)) |
        (mstatus & MSTATUS.SIE ? MSTATUS.SPIE : 0) | (priv === PRIV.S ? MSTATUS.SPP : 0);
      s[S.PRIV] = PRIV.S;
      vec = S.STVEC;
    } else {
      s[S.MCAUSE] = cause;
      s[S.MCAUSE + 1] = interrupt ? 0x80000000 | 0 : 0;
      s[S.MEPC] = epcLo & ~1;
      s[S.MEPC + 1] = epcHi;
      s[S.MTVAL] = tvalLo;
      s[S.MTVAL + 1] = tvalHi;
      mstatus = (mstatus & ~(MSTATUS.MPIE | MSTATUS.MPP | MSTATUS.MIE)) |
        (mstatus & MSTATUS.MIE ? MSTATUS.MPIE : 0) | (priv << MSTATUS.MPP_SHIFT);
      s[S.PRIV] = PRIV.M;
      vec = S.MTVEC;
    }
    s[S.MSTATUS] = mstatus;
    const base = s[vec] & ~3;
    const off = interrupt && (s[vec] & 3) === 1 ? 4 * cause : 0;
    const sum = (base >>> 0) + off;
    s[S.PC] = sum | 0;
    s[S.PC + 1] = (s[vec + 1] + (sum >= TWO32 ? 1 : 0)) | 0;
    this.waiting = false;
    this.mmu.flushIfModeChanged(priv, dataPriv);
  }

  /**
   * Runs up to `budget` instructions; returns how many retired. Stops early on WFI (`waiting`) or `stop`.
   */
  run(budget: number): number {
    const s = this.s;
    const x = this.x;
    const mmu = this.mmu;
    const rTag = mmu.rTag, rTagHi = mmu.rTagHi, rOff = mmu.rOff;
    const wTag = mmu.wTag, wTagHi = mmu.wTagHi, wOff = mmu.wOff;
    const ram = this.ram;
    const u8 = ram.u8, i8 = ram.i8, u16 = ram.u16, i16 = ram.i16, i32 = ram.i32, code16 = ram.code16;
    const code = this.code;
    const scratch = this.scratch;
    let pcLo = s[S.PC], pcHi = s[S.PC + 1];
    let curLo = pcLo, curHi = pcHi;
    let n = budget;
    let fTag = TLB_INVALID, fTagHi = 0, fOff = 0;
    let d: Int32Array = EMPTY;
    // traps in a row with no instruction retired in between (a trap loop never leaves this call otherwise)
    let trapStreak = 0;
    let trapMark = -1;
    const jit = this.jit;
    let jitMark = n; // n at the last lookup: the instructions interpreted since then tell the JIT what is hot
    if (this.waiting) {
      if (!this.wakeable()) return 0;
      this.waiting = false;
    }
    outer: for (;;) {
      // with a translation tier, look up the pc at every chunk: a hot loop inside one page gets translated
      if (jit !== null) fTag = TLB_INVALID;
      if (this.chunkHook !== null) {
        this.chunkHook();
        // the hook may have dropped decoded pages (a remote fence.i) or TLB entries (a remote sfence.vma):
        // fetch the page again rather than decode into an array the code cache recycles for another page
        fTag = TLB_INVALID;
      }
      if (this.stop || this.waiting) break;
      const irq = this.pendingInterrupt();
      if (irq >= 0) {
        this.takeTrap(irq, true, 0, 0, pcLo, pcHi);
        pcLo = s[S.PC];
        pcHi = s[S.PC + 1];
        fTag = TLB_INVALID;
      }
      if (n <= 0) break;
      const chunkEnd = n > CHUNK ? n - CHUNK : 0;
      try {
        while (n > chunkEnd) {
          curLo = pcLo;
          curHi = pcHi;
          if ((pcLo & -4096) !== fTag || pcHi !== fTagHi) {
            fOff = this.fetchPage(pcLo, pcHi);
            d = code.page(fOff >>> 12);
            // a page PMP grants only in part is re-checked on every instruction
            fTag = this.fetchUniform ? pcLo & -4096 : TLB_INVALID;
            fTagHi = pcHi;
            this.fetchDirty = false;
            if (jit !== null && this.fetchUniform) {
              const k = jit.run(fOff >>> 12, pcLo, pcHi, n - chunkEnd, jitMark - n);
              jitMark = n;
              if (k >= 0) {
                n -= k;
                jitMark = n;
                pcLo = s[S.PC];
                pcHi = s[S.PC + 1];
                fTag = TLB_INVALID; // look up where it left
                if (jit.status === Exit.TRAP) {
                  curLo = pcLo;
                  curHi = pcHi;
                  throw TRAP;
                }
                if (this.stop) break outer;
                // it enabled interrupts (an sstatus write): take a pending one now, as after any CSR write
                if (jit.status === Exit.INTERRUPTS) continue outer;
                if (k > 0) continue;
              }
            }
          }
          const o = pcLo & 0xffe;
          let w = d[o];
          let imm = d[o + 1];
          dispatch: for (;;) {
            const rd = (w >>> 9) & 0x7f;
            const rs1 = (w >>> 16) & 0x7f;
            const rs2 = (w >>> 23) & 0x7f;
            const len = 2 + ((w >>> 29) & 2);
            const op = w & 0x1ff;
            pcLo = (curLo + len) | 0;
            if (pcLo >>> 0 < len) pcHi = (curHi + 1) | 0;
            switch (op) {
              case Op.UNDECODED: {
                const h = code16[(fOff + o) >>> 1];
                if ((h & 3) !== 3) decode16(h, d, o);
                else if (o === 0xffe) {
                  d[o] = Op.CROSS | DEC_32BIT;
                  d[o + 1] = 0;
                } else decode32(h | (code16[(fOff + o + 2) >>> 1] << 16), d, o);
                w = d[o];
                imm = d[o + 1];
                pcHi = curHi;
                continue dispatch;
              }
              case Op.CROSS:
                this.fetchCross(curLo, curHi, fOff, scratch);
                w = scratch[0];
                imm = scratch[1];
                pcHi = curHi;
                continue dispatch;
              case Op.ILLEGAL:
                this.raise(CAUSE.ILLEGAL_INSTRUCTION, imm, 0);
              case Op.LUI:
                x[rd] = imm;
                x[rd + 1] = imm >> 31;
                break;
              case Op.AUIPC: {
                const sum = (curLo >>> 0) + imm;
                x[rd] = sum | 0;
                x[rd + 1] = (curHi + (sum >= TWO32 ? 1 : sum < 0 ? -1 : 0)) | 0;
                break;
              }
              case Op.JAL: {
                const sum = (curLo >>> 0) + imm;
                x[rd] = pcLo;
                x[rd + 1] = pcHi;
                pcLo = sum | 0;
                pcHi = (curHi + (sum >= TWO32 ? 1 : sum < 0 ? -1 : 0)) | 0;
                break;
              }
              case Op.JALR: {
                const sum = (x[rs1] >>> 0) + imm;
                const tHi = (x[rs1 + 1] + (sum >= TWO32 ? 1 : sum < 0 ? -1 : 0)) | 0;
                x[rd] = pcLo;
                x[rd + 1] = pcHi;
                pcLo = sum & ~1;
                pcHi = tHi;
                break;
              }
              case Op.BEQ:
                if (x[rs1] === x[rs2] && x[rs1 + 1] === x[rs2 + 1]) {
                  const sum = (curLo >>> 0) + imm;
                  pcLo = sum | 0;
                  pcHi = (curHi + (sum >= TWO32 ? 1 : sum < 0 ? -1 : 0)) | 0;
                }
                break;
              case Op.BNE:
                if (x[rs1] !== x[rs2] || x[rs1 + 1] !== x[rs2 + 1]) {
                  const sum = (curLo >>> 0) + imm;
                  pcLo = sum | 0;
                  pcHi = (curHi + (sum >= TWO32 ? 1 : sum < 0 ? -1 : 0)) | 0;
                }
                break;
              case Op.BLT: {
                const ah = x[rs1 + 1], bh = x[rs2 + 1];
                if (ah < bh || (ah === bh && x[rs1] >>> 0 < x[rs2] >>> 0)) {
                  const sum = (curLo >>> 0) + imm;
                  pcLo = sum | 0;
                  pcHi = (curHi + (sum >= TWO32 ? 1 : sum < 0 ? -1 : 0)) | 0;
                }
                break;
              }
              case Op.BGE: {
                const ah = x[rs1 + 1], bh = x[rs2 + 1];
                if (ah > bh || (ah === bh && x[rs1] >>> 0 >= x[rs2] >>> 0)) {
                  const sum = (curLo >>> 0) + imm;
                  pcLo = sum | 0;
                  pcHi = (curHi + (sum >= TWO32 ? 1 : sum < 0 ? -1 : 0)) | 0;
                }
                break;
              }
              case Op.BLTU: {
                const ah = x[rs1 + 1] >>> 0, bh = x[rs2 + 1] >>> 0;
                if (ah < bh || (ah === bh && x[rs1] >>> 0 < x[rs2] >>> 0)) {
                  const sum = (curLo >>> 0) + imm;
                  pcLo = sum | 0;
                  pcHi = (curHi + (sum >= TWO32 ? 1 : sum < 0 ? -1 : 0)) | 0;
                }
                break;
              }
              case Op.BGEU: {
                const ah = x[rs1 + 1] >>> 0, bh = x[rs2 + 1] >>> 0;
                if (ah > bh || (ah === bh && x[rs1] >>> 0 >= x[rs2] >>> 0)) {
                  const sum = (curLo >>> 0) + imm;
                  pcLo = sum | 0;
                  pcHi = (curHi + (sum >= TWO32 ? 1 : sum < 0 ? -1 : 0)) | 0;
                }
                break;
              }
              // ---- loads: TLB hit on an aligned access reads RAM directly ----
              case Op.LD: {
                const sum = (x[rs1] >>> 0) + imm;
                const aLo = sum | 0;
                const aHi = (x[rs1 + 1] + (sum >= TWO32 ? 1 : sum < 0 ? -1 : 0)) | 0;
                const e = (aLo >>> 12) & TLB_MASK;
                if (rTag[e] === (aLo & -4096) && rTagHi[e] === aHi && (aLo & 7) === 0) {
                  const i = (rOff[e] + (aLo & 0xfff)) >> 2;
                  x[rd] = i32[i];
                  x[rd + 1] = i32[i + 1];
                } else this.loadSlow(rd, aLo, aHi, Op.LD);
                break;
              }
              case Op.LW: {
                const sum = (x[rs1] >>> 0) + imm;
                const aLo = sum | 0;
                const aHi = (x[rs1 + 1] + (sum >= TWO32 ? 1 : sum < 0 ? -1 : 0)) | 0;
                const e = (aLo >>> 12) & TLB_MASK;
                if (rTag[e] === (aLo & -4096) && rTagHi[e] === aHi && (aLo & 3) === 0) {
                  const v = i32[(rOff[e] + (aLo & 0xfff)) >> 2];
                  x[rd] = v;
                  x[rd + 1] = v >> 31;
                } else this.loadSlow(rd, aLo, aHi, Op.LW);
                break;
              }
              case Op.LWU: {
                const sum = (x[rs1] >>> 0) + imm;
                const aLo = sum | 0;
                const aHi = (x[rs1 + 1] + (sum >= TWO32 ? 1 : sum < 0 ? -1 : 0)) | 0;
                const e = (aLo >>> 12) & TLB_MASK;
                if (rTag[e] === (aLo & -4096) && rTagHi[e] === aHi && (aLo & 3) === 0) {
                  x[rd] = i32[(rOff[e] + (aLo & 0xfff)) >> 2];
                  x[rd + 1] = 0;
                } else this.loadSlow(rd, aLo, aHi, Op.LWU);
                break;
              }
              case Op.LH: {
                const sum = (x[rs1] >>> 0) + imm;
                const aLo = sum | 0;
                const aHi = (x[rs1 + 1] + (sum >= TWO32 ? 1 : sum < 0 ? -1 : 0)) | 0;
                const e = (aLo >>> 12) & TLB_MASK;
                if (rTag[e] === (aLo & -4096) && rTagHi[e] === aHi && (aLo & 1) === 0) {
                  const v = i16[(rOff[e] + (aLo & 0xfff)) >> 1];
                  x[rd] = v;
                  x[rd + 1] = v >> 31;
                } else this.loadSlow(rd, aLo, aHi, Op.LH);
                break;
              }
              case Op.LHU: {
                const sum = (x[rs1] >>> 0) + imm;
                const aLo = sum | 0;
                const aHi = (x[rs1 + 1] + (sum >= TWO32 ? 1 : sum < 0 ? -1 : 0)) | 0;
                const e = (aLo >>> 12) & TLB_MASK;
                if (rTag[e] === (aLo & -4096) && rTagHi[e] === aHi && (aLo & 1) === 0) {
                  x[rd] = u16[(rOff[e] + (aLo & 0xfff)) >> 1];
                  x[rd + 1] = 0;
                } else this.loadSlow(rd, aLo, aHi, Op.LHU);
                break;
              }
              case Op.LB: {
                const sum = (x[rs1] >>> 0) + imm;
                const aLo = sum | 0;
                const aHi = (x[rs1 + 1] + (sum >= TWO32 ? 1 : sum < 0 ? -1 : 0)) | 0;
                const e = (aLo >>> 12) & TLB_MASK;
                if (rTag[e] === (aLo & -4096) && rTagHi[e] === aHi) {
                  const v = i8[rOff[e] + (aLo & 0xfff)];
                  x[rd] = v;
                  x[rd + 1] = v >> 31;
                } else this.loadSlow(rd, aLo, aHi, Op.LB);
                break;
              }
              case Op.LBU: {
                const sum = (x[rs1] >>> 0) + imm;
                const aLo = sum | 0;
                const aHi = (x[rs1 + 1] + (sum >= TWO32 ? 1 : sum < 0 ? -1 : 0)) | 0;
                const e = (aLo >>> 12) & TLB_MASK;
                if (rTag[e] === (aLo & -4096) && rTagHi[e] === aHi) {
                  x[rd] = u8[rOff[e] + (aLo & 0xfff)];
                  x[rd + 1] = 0;
                } else this.loadSlow(rd, aLo, aHi, Op.LBU);
                break;
              }
              // ---- stores: TLB write entries exist only for pages without code or host watches ----
              case Op.SD: {
                const sum = (x[rs1] >>> 0) + imm;
                const aLo = sum | 0;
                const aHi = (x[rs1 + 1] + (sum >= TWO32 ? 1 : sum < 0 ? -1 : 0)) | 0;
                const e = (aLo >>> 12) & TLB_MASK;
                if (wTag[e] === (aLo & -4096) && wTagHi[e] === aHi && (aLo & 7) === 0) {
                  const i = (wOff[e] + (aLo & 0xfff)) >> 2;
                  i32[i] = x[rs2];
                  i32[i + 1] = x[rs2 + 1];
                } else {
                  this.storeSlow(aLo, aHi, 8, x[rs2], x[rs2 + 1]);
                  if (this.fetchDirty) fTag = TLB_INVALID;
                  if (this.stop) { n--; break outer; }
                }
                break;
              }
              case Op.SW: {
                const sum = (x[rs1] >>> 0) + imm;
                const aLo = sum | 0;
                const aHi = (x[rs1 + 1] + (sum >= TWO32 ? 1 : sum < 0 ? -1 : 0)) | 0;
                const e = (aLo >>> 12) & TLB_MASK;
                if (wTag[e] === (aLo & -4096) && wTagHi[e] === aHi && (aLo & 3) === 0) {
                  i32[(wOff[e] + (aLo & 0xfff)) >> 2] = x[rs2];
                } else {
                  this.storeSlow(aLo, aHi, 4, x[rs2], 0);
                  if (this.fetchDirty) fTag = TLB_INVALID;
                  if (this.stop) { n--; break outer; }
                }
                break;
              }
              case Op.SH: {
                const sum = (x[rs1] >>> 0) + imm;
                const aLo = sum | 0;
                const aHi = (x[rs1 + 1] + (sum >= TWO32 ? 1 : sum < 0 ? -1 : 0)) | 0;
                const e = (aLo >>> 12) & TLB_MASK;
                if (wTag[e] === (aLo & -4096) && wTagHi[e] === aHi && (aLo & 1) === 0) {
                  u16[(wOff[e] + (aLo & 0xfff)) >> 1] = x[rs2];
                } else {
                  this.storeSlow(aLo, aHi, 2, x[rs2], 0);
                  if (this.fetchDirty) fTag = TLB_INVALID;
                  if (this.stop) { n--; break outer; }
                }
                break;
              }
              case Op.SB: {
                const sum = (x[rs1] >>> 0) + imm;
                const aLo = sum | 0;
                const aHi = (x[rs1 + 1] + (sum >= TWO32 ? 1 : sum < 0 ? -1 : 0)) | 0;
                const e = (aLo >>> 12) & TLB_MASK;
                if (wTag[e] === (aLo & -4096) && wTagHi[e] === aHi) {
                  u8[wOff[e] + (aLo & 0xfff)] = x[rs2];
                } else {
                  this.storeSlow(aLo, aHi, 1, x[rs2], 0);
                  if (this.fetchDirty) fTag = TLB_INVALID;
                  if (this.stop) { n--; break outer; }
                }
                break;
              }
              // ---- integer register-immediate ----
              case Op.ADDI: {
                const sum = (x[rs1] >>> 0) + imm;
                x[rd + 1] = (x[rs1 + 1] + (imm >> 31) + (sum > 0xffffffff || (sum >= 0 && imm < 0) ? 1 : 0)) | 0;
                x[rd] = sum | 0;
                break;
              }
              case Op.SLTI: {
                const ah = x[rs1 + 1], bh = imm >> 31;
                x[rd] = ah < bh || (ah === bh && x[rs1] >>> 0 < imm >>> 0) ? 1 : 0;
                x[rd + 1] = 0;
                break;
              }
              case Op.SLTIU: {
                const ah = x[rs1 + 1] >>> 0, bh = (imm >> 31) >>> 0;
                x[rd] = ah < bh || (ah === bh && x[rs1] >>> 0 < imm >>> 0) ? 1 : 0;
                x[rd + 1] = 0;
                break;
              }
              case Op.XORI:
                x[rd + 1] = x[rs1 + 1] ^ (imm >> 31);
                x[rd] = x[rs1] ^ imm;
                break;
              case Op.ORI:
                x[rd + 1] = x[rs1 + 1] | (imm >> 31);
                x[rd] = x[rs1] | imm;
                break;
              case Op.ANDI:
                x[rd + 1] = x[rs1 + 1] & (imm >> 31);
                x[rd] = x[rs1] & imm;
                break;
              case Op.SLLI: {
                const lo = x[rs1], hi = x[rs1 + 1];
                if (imm === 0) { x[rd] = lo; x[rd + 1] = hi; }
                else if (imm < 32) { x[rd + 1] = (hi << imm) | (lo >>> (32 - imm)); x[rd] = lo << imm; }
                else { x[rd + 1] = lo << (imm - 32); x[rd] = 0; }
                break;
              }
              case Op.SRLI: {
                const lo = x[rs1], hi = x[rs1 + 1];
                if (imm === 0) { x[rd] = lo; x[rd + 1] = hi; }
                else if (imm < 32) { x[rd] = (lo >>> imm) | (hi << (32 - imm)); x[rd + 1] = hi >>> imm; }
                else { x[rd] = hi >>> (imm - 32); x[rd + 1] = 0; }
                break;
              }
              case Op.SRAI: {
                const lo = x[rs1], hi = x[rs1 + 1];
                if (imm === 0) { x[rd] = lo; x[rd + 1] = hi; }
                else if (imm < 32) { x[rd] = (lo >>> imm) | (hi << (32 - imm)); x[rd + 1] = hi >> imm; }
                else { x[rd] = hi >> (imm - 32); x[rd + 1] = hi >> 31; }
                break;
              }
              // ---- integer register-register ----
              case Op.ADD: {
                const sum = (x[rs1] >>> 0) + (x[rs2] >>> 0);
                x[rd + 1] = (x[rs1 + 1] + x[rs2 + 1] + (sum > 0xffffffff ? 1 : 0)) | 0;
                x[rd] = sum | 0;
                break;
              }
              case Op.SUB: {
                const dif = (x[rs1] >>> 0) - (x[rs2] >>> 0);
                x[rd + 1] = (x[rs1 + 1] - x[rs2 + 1] - (dif < 0 ? 1 : 0)) | 0;
                x[rd] = dif | 0;
                break;
              }
              case Op.SLL: {
                const sh = x[rs2] & 63, lo = x[rs1], hi = x[rs1 + 1];
                if (sh === 0) { x[rd] = lo; x[rd + 1] = hi; }
                else if (sh < 32) { x[rd + 1] = (hi << sh) | (lo >>> (32 - sh)); x[rd] = lo << sh; }
                else { x[rd + 1] = lo << (sh - 32); x[rd] = 0; }
                break;
              }
              case Op.SRL: {
                const sh = x[rs2] & 63, lo = x[rs1], hi = x[rs1 + 1];
                if (sh === 0) { x[rd] = lo; x[rd + 1] = hi; }
                else if (sh < 32) { x[rd] = (lo >>> sh) | (hi << (32 - sh)); x[rd + 1] = hi >>> sh; }
                else { x[rd] = hi >>> (sh - 32); x[rd + 1] = 0; }
                break;
              }
              case Op.SRA: {
                const sh = x[rs2] & 63, lo = x[rs1], hi = x[rs1 + 1];
                if (sh === 0) { x[rd] = lo; x[rd + 1] = hi; }
                else if (sh < 32) { x[rd] = (lo >>> sh) | (hi << (32 - sh)); x[rd + 1] = hi >> sh; }
                else { x[rd] = hi >> (sh - 32); x[rd + 1] = hi >> 31; }
                break;
              }
              case Op.SLT: {
                const ah = x[rs1 + 1], bh = x[rs2 + 1];
                x[rd] = ah < bh || (ah === bh && x[rs1] >>> 0 < x[rs2] >>> 0) ? 1 : 0;
                x[rd + 1] = 0;
                break;
              }
              case Op.SLTU: {
                const ah = x[rs1 + 1] >>> 0, bh = x[rs2 + 1] >>> 0;
                x[rd] = ah < bh || (ah === bh && x[rs1] >>> 0 < x[rs2] >>> 0) ? 1 : 0;
                x[rd + 1] = 0;
                break;
              }
              case Op.XOR:
                x[rd] = x[rs1] ^ x[rs2];
                x[rd + 1] = x[rs1 + 1] ^ x[rs2 + 1];
                break;
              case Op.OR:
                x[rd] = x[rs1] | x[rs2];
                x[rd + 1] = x[rs1 + 1] | x[rs2 + 1];
                break;
              case Op.AND:
                x[rd] = x[rs1] & x[rs2];
                x[rd + 1] = x[rs1 + 1] & x[rs2 + 1];
                break;
              // ---- 32-bit (W) forms: results sign-extended ----
              case Op.ADDIW: {
                const v = (x[rs1] + imm) | 0;
                x[rd] = v;
                x[rd + 1] = v >> 31;
                break;
              }
              case Op.SLLIW: {
                const v = x[rs1] << imm;
                x[rd] = v;
                x[rd + 1] = v >> 31;
                break;
              }
              case Op.SRLIW: {
                const v = (x[rs1] >>> imm) | 0;
                x[rd] = v;
                x[rd + 1] = v >> 31;
                break;
              }
              case Op.SRAIW: {
                const v = x[rs1] >> imm;
                x[rd] = v;
                x[rd + 1] = v >> 31;
                break;
              }
              case Op.ADDW: {
                const v = (x[rs1] + x[rs2]) | 0;
                x[rd] = v;
                x[rd + 1] = v >> 31;
                break;
              }
              case Op.SUBW: {
                const v = (x[rs1] - x[rs2]) | 0;
                x[rd] = v;
                x[rd + 1] = v >> 31;
                break;
              }
              case Op.SLLW: {
                const v = x[rs1] << (x[rs2] & 31);
                x[rd] = v;
                x[rd + 1] = v >> 31;
                break;
              }
              case Op.SRLW: {
                const v = (x[rs1] >>> (x[rs2] & 31)) | 0;
                x[rd] = v;
                x[rd + 1] = v >> 31;
                break;
              }
              case Op.SRAW: {
                const v = x[rs1] >> (x[rs2] & 31);
                x[rd] = v;
                x[rd + 1] = v >> 31;
                break;
              }
              case Op.MUL: {
                const aLo = x[rs1], aHi = x[rs1 + 1], bLo = x[rs2], bHi = x[rs2 + 1];
                x[rd + 1] = (mulhu32(aLo, bLo) + Math.imul(aHi, bLo) + Math.imul(aLo, bHi)) | 0;
                x[rd] = Math.imul(aLo, bLo);
                break;
              }
              case Op.MULW: {
                const v = Math.imul(x[rs1], x[rs2]);
                x[rd] = v;
                x[rd + 1] = v >> 31;
                break;
              }
              case Op.FENCE:
                break;
              case Op.FENCE_I:
                // This thread's stores and DMA keep its decoded pages coherent, but stores by harts in other
                // threads do not reach them: fence.i (Zifencei) is where software makes such stores fetchable.
                if (this.onFenceI !== null) {
                  this.onFenceI();
                  fTag = TLB_INVALID;
                }
                break;
              default:
                if (op >= Op.ECALL) {
                  // privileged and CSR instructions may change privilege, translation or interrupt state
                  s[S.PC] = pcLo;
                  s[S.PC + 1] = pcHi;
                  this.inflight = budget - n;
                  execSystem(this, w, imm, curLo, curHi);
                  pcLo = s[S.PC];
                  pcHi = s[S.PC + 1];
                  fTag = TLB_INVALID;
                  n--;
                  continue outer;
                }
                if (op >= Op.FLW && op <= Op.FCLASS_D) execFp(this, w, imm); // F and D
                else execOther(this, w, imm);
                // translated code may go on after this instruction, which it left to the interpreter
                if (this.fetchDirty || jit !== null) fTag = TLB_INVALID;
                if (this.stop) { n--; break outer; }
            }
            break;
          }
          n--;
        }
      } catch (e) {
        if (e !== TRAP) throw e;
        // A trap retires nothing; count traps in a row without progress, so a trap loop cannot spin forever.
        trapStreak = n === trapMark ? trapStreak + 1 : 1;
        trapMark = n;
        if (trapStreak >= STUCK_TRAPS) {
          this.stuck = { cause: this.trapCause, pcLo: curLo, pcHi: curHi };
          break outer;
        }
        this.takeTrap(this.trapCause, false, this.trapTvalLo, this.trapTvalHi, curLo, curHi);
        pcLo = s[S.PC];
        pcHi = s[S.PC + 1];
        fTag = TLB_INVALID;
      }
    }
    s[S.PC] = pcLo;
    s[S.PC + 1] = pcHi;
    const done = budget - n;
    this.retired += done;
    return done;
  }

  // ---------------------------------------------------------------- fetch

  /** Translates pc for execution; returns the RAM byte offset of its page. */
  private fetchPage(pcLo: number, pcHi: number): number {
    const mmu = this.mmu;
    const e = (pcLo >>> 12) & TLB_MASK;
    this.fetchUniform = true;
    if (mmu.xTag[e] === (pcLo & -4096) && mmu.xTagHi[e] === pcHi) return mmu.xOff[e];
    const pa = mmu.translate(pcLo, pcHi, Access.EXEC);
    // code runs from RAM or the ROM window (a flash bank executed in place); pc is even, so 2 bytes fit
    const off = this.ram.codeOffset(pa);
    if (off < 0 || !mmu.pmp.check(pa, 2, Access.EXEC, mmu.lastPriv)) {
      this.raise(CAUSE.FETCH_ACCESS, pcLo, pcHi);
    }
    // translate() fills the execute TLB only when PMP grants the whole page
    this.fetchUniform = mmu.xTag[e] === (pcLo & -4096) && mmu.xTagHi[e] === pcHi;
    return off - (off & 0xfff);
  }

  /** Decodes the 32-bit instruction at the end of a page whose upper half lies on the next page. */
  private fetchCross(pcLo: number, pcHi: number, fOff: number, out: Int32Array): void {
    const lo = this.ram.code16[(fOff + 0xffe) >>> 1];
    const sum = (pcLo >>> 0) + 2;
    const nLo = sum | 0;
    const nHi = (pcHi + (sum >= TWO32 ? 1 : 0)) | 0;
    const off = this.fetchPage(nLo, nHi);
    const hi = this.ram.code16[off >>> 1];
    decode32(lo | (hi << 16), out, 0);
  }

  // ---------------------------------------------------------------- data slow paths

  /** Physical address for a data access of `size` bytes, with PMP checked; faults raise. */
  dataAddr(vaLo: number, vaHi: number, size: number, access: Access, faultAs: Access = access): number {
    const mmu = this.mmu;
    const pa = mmu.translate(vaLo, vaHi, access, faultAs);
    if (!mmu.pmp.check(pa, size, access, mmu.lastPriv)) {
      this.raise(faultAs === Access.READ ? CAUSE.LOAD_ACCESS : CAUSE.STORE_ACCESS, vaLo, vaHi);
    }
    return pa;
  }

  /** Reads `size` bytes at physical `pa`; returns the low word, the high word in tmpHi. */
  readPhys(pa: number, size: number, vaLo: number, vaHi: number): number {
    const ram = this.ram;
    const off = pa - ram.base;
    if (off >= 0 && off + size <= ram.size) {
      this.tmpHi = 0;
      if (size === 8 && (off & 3) === 0) {
        this.tmpHi = ram.i32[(off >> 2) + 1];
        return ram.i32[off >> 2];
      }
      if (size === 4 && (off & 3) === 0) return ram.i32[off >> 2];
      const u8 = ram.u8;
      let lo = 0;
      const n = size < 4 ? size : 4;
      for (let k = 0; k < n; k++) lo |= u8[off + k] << (8 * k);
      if (size === 8) this.tmpHi = u8[off + 4] | (u8[off + 5] << 8) | (u8[off + 6] << 16) | (u8[off + 7] << 24);
      return lo;
    }
    const m = this.bus.find(pa, size);
    if (m === undefined || ((pa & (size - 1)) !== 0 && m.device.unalignedReads !== true)) this.raise(CAUSE.LOAD_ACCESS, vaLo, vaHi);
    const v = m.device.read(pa - m.base, size);
    if (typeof v === 'bigint') {
      this.tmpHi = Number(BigInt.asIntN(32, v >> 32n));
      return Number(BigInt.asIntN(32, v));
    }
    this.tmpHi = 0;
    return v | 0;
  }

  /** Writes `size` bytes at physical `pa` (RAM or MMIO); keeps code caches and host watches informed. */
  writePhys(pa: number, size: number, lo: number, hi: number, vaLo: number, vaHi: number): void {
    const ram = this.ram;
    const off = pa - ram.base;
    if (off >= 0 && off + size <= ram.size) {
      const u8 = ram.u8;
      if ((off & 3) === 0 && size >= 4) {
        ram.i32[off >> 2] = lo;
        if (size === 8) ram.i32[(off >> 2) + 1] = hi;
      } else {
        for (let k = 0; k < size; k++) u8[off + k] = k < 4 ? lo >>> (8 * k) : hi >>> (8 * (k - 4));
      }
      const flags = ram.pageFlags[off >>> 12] | ram.pageFlags[(off + size - 1) >>> 12];
      if (flags !== 0) {
        if (flags & 1) ram.noteWrite(off, size);
        if (flags & 2 && this.onWatchedStore) this.onWatchedStore(pa);
      }
      return;
    }
    const m = this.bus.find(pa, size);
    if (m === undefined || (pa & (size - 1)) !== 0) this.raise(CAUSE.STORE_ACCESS, vaLo, vaHi);
    if (size === 8) m.device.write(pa - m.base, 8, (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0));
    else m.device.write(pa - m.base, size, size === 4 ? lo >>> 0 : lo & ((1 << (8 * size)) - 1));
  }

  /** A load that missed the fast path: MMIO, TLB miss, misaligned or page-crossing. */
  loadSlow(rd: number, vaLo: number, vaHi: number, op: Op): void {
    let lo = this.readVirt(vaLo, vaHi, LOAD_SIZE[op]);
    let hi = this.tmpHi;
    const x = this.x;
    switch (op) {
      case Op.LB: lo = (lo << 24) >> 24; hi = lo >> 31; break;
      case Op.LBU: lo &= 0xff; hi = 0; break;
      case Op.LH: lo = (lo << 16) >> 16; hi = lo >> 31; break;
      case Op.LHU: lo &= 0xffff; hi = 0; break;
      case Op.LW: hi = lo >> 31; break;
      case Op.LWU: hi = 0; break;
    }
    x[rd] = lo;
    x[rd + 1] = hi;
  }

  /** Reads `size` bytes at a virtual address (any alignment, page-crossing too): low word, high word in tmpHi. */
  readVirt(vaLo: number, vaHi: number, size: number): number {
    let lo: number, hi: number;
    const first = 4096 - (vaLo & 0xfff);
    if (size > first) {
      // page-crossing: translate both parts before reading either
      const sum = (vaLo >>> 0) + first;
      const bLo = sum | 0, bHi = (vaHi + (sum >= TWO32 ? 1 : 0)) | 0;
      const pa1 = this.dataAddr(vaLo, vaHi, first, Access.READ);
      const pa2 = this.dataAddr(bLo, bHi, size - first, Access.READ);
      const bytes = [];
      for (let k = 0; k < size; k++) {
        const pa = k < first ? pa1 + k : pa2 + (k - first);
        bytes.push(this.readPhys(pa, 1, vaLo, vaHi) & 0xff);
      }
      lo = bytes[0] | (bytes[1] << 8) | ((bytes[2] ?? 0) << 16) | ((bytes[3] ?? 0) << 24);
      hi = size === 8 ? bytes[4] | (bytes[5] << 8) | (bytes[6] << 16) | (bytes[7] << 24) : 0;
    } else {
      const pa = this.dataAddr(vaLo, vaHi, size, Access.READ);
      lo = this.readPhys(pa, size, vaLo, vaHi);
      hi = this.tmpHi;
    }
    this.tmpHi = hi;
    return lo;
  }

  /** A store that missed the fast path. */
  storeSlow(vaLo: number, vaHi: number, size: number, lo: number, hi: number): void {
    const first = 4096 - (vaLo & 0xfff);
    if (size > first) {
      const sum = (vaLo >>> 0) + first;
      const bLo = sum | 0, bHi = (vaHi + (sum >= TWO32 ? 1 : 0)) | 0;
      const pa1 = this.dataAddr(vaLo, vaHi, first, Access.WRITE);
      const pa2 = this.dataAddr(bLo, bHi, size - first, Access.WRITE);
      for (let k = 0; k < size; k++) {
        const b = k < 4 ? lo >>> (8 * k) : hi >>> (8 * (k - 4));
        this.writePhys(k < first ? pa1 + k : pa2 + (k - first), 1, b & 0xff, 0, vaLo, vaHi);
      }
      return;
    }
    const pa = this.dataAddr(vaLo, vaHi, size, Access.WRITE);
    this.writePhys(pa, size, lo, hi, vaLo, vaHi);
  }
}

