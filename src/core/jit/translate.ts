// Translates the code of one physical page into one WebAssembly function (a region: every block reachable from
// the page's known entry points without leaving the page). Branches inside the page stay in wasm: forward ones
// are direct `br`s, backward ones go through a br_table on the target's offset, with the instruction budget
// checked there. Registers live in the hart's state block: inside a block they are i64 locals loaded at first
// use, and every write goes to the state block too (write-through), so entering and leaving translated code
// costs nothing per register, an exit needs no code to save them, and the engine's optimiser sees no value
// live across blocks (whole-page register locals made V8's optimising compiler take seconds per module).
// Loads and stores check the hart's TLB inline and call the interpreter's slow paths only on a miss; a slow
// path that traps throws (through the wasm frames) to the caller, which knows the pc and count it was given.
import { Op, DEC_32BIT } from '../cpu/ops.js';
import { S, X_SINK } from '../cpu/state.js';
import { CBO_BLOCK, ENVCFG, MSTATUS, PRIV, SSTATUS_MASK } from '../cpu/bits.js';
import { AREA, TLB_ARRAY, TLB_MASK } from '../cpu/area.js';
import { decode16, decode32 } from '../cpu/decode.js';
import { ALU, type AluCtx } from './alu-table.js';
import { A, Code, T, W, encodeModule, type Func } from './wasm.js';

/** How a translated function ended (its return value). The exit pc is in the state block's pc. */
export const enum Exit {
  /** At an instruction the translator leaves to the interpreter, a pc outside the page, or the budget's end. */
  NORMAL = 0,
  /** A load or store trapped: the hart's pending trap is set, pc is the faulting instruction. */
  TRAP = 1,
  /** An sstatus write set SIE: pc is the next instruction, and an interrupt pending may be taken now. */
  INTERRUPTS = 2,
}

/** The function a translation exports: run(entry's halfword offset in the page, budget, page's virtual address
 *  lo, hi). It leaves the exit pc in the state block and the budget left in the area's scratch word. */
export type RegionFn = (entry: number, budget: number, pageLo: number, pageHi: number) => number;

/**
 * Imported slow paths. `at` is the instruction's page offset | its length << 12, `left` the budget left before
 * it runs: on a trap they throw, and the caller resumes at that instruction with that budget; a store that
 * makes translated code stale (or stops the machine) throws too, and the caller resumes after it.
 */
export interface SlowPaths {
  /** Loads into the state's x0 sink slot (sign/zero-extended as `op` says). */
  load(vaLo: number, vaHi: number, op: number, at: number, left: number): void;
  store(vaLo: number, vaHi: number, size: number, lo: number, hi: number, at: number, left: number): void;
  /** Runs an LR, SC or AMO (op | doubleword << 9 | rd's slot << 10) with rs2 = (lo, hi); writes rd. */
  atomic(vaLo: number, vaHi: number, lo: number, hi: number, op: number, at: number, left: number): void;
  /** SFENCE.VMA of one address, or of all when `all` is 1; returns 0, doing nothing, when the privilege may not. */
  sfence(vaLo: number, vaHi: number, all: number): number;
}

export interface Translation {
  /** Per halfword offset: 1 where a block doing work starts (entering elsewhere runs nothing), else 0. */
  readonly entries: Uint8Array;
  /** Instructions translated. */
  readonly instructions: number;
  /** Size of the module in bytes. */
  readonly bytes: number;
  readonly module: WebAssembly.Module;
}

const LOAD_OPS = new Map<Op, { size: number; w: W }>([
  [Op.LB, { size: 1, w: W.I64_LOAD8_S }], [Op.LBU, { size: 1, w: W.I64_LOAD8_U }],
  [Op.LH, { size: 2, w: W.I64_LOAD16_S }], [Op.LHU, { size: 2, w: W.I64_LOAD16_U }],
  [Op.LW, { size: 4, w: W.I64_LOAD32_S }], [Op.LWU, { size: 4, w: W.I64_LOAD32_U }],
  [Op.LD, { size: 8, w: W.I64_LOAD }],
]);
const STORE_OPS = new Map<Op, { size: number; w: W }>([
  [Op.SB, { size: 1, w: W.I64_STORE8 }], [Op.SH, { size: 2, w: W.I64_STORE16 }],
  [Op.SW, { size: 4, w: W.I64_STORE32 }], [Op.SD, { size: 8, w: W.I64_STORE }],
]);
/** AMOs done by one atomic read-modify-write: the word and doubleword instruction. */
const AMO_OPS = new Map<Op, [A, A]>([
  [Op.AMOSWAP, [A.I32_XCHG, A.I64_XCHG]], [Op.AMOADD, [A.I32_ADD, A.I64_ADD]], [Op.AMOXOR, [A.I32_XOR, A.I64_XOR]],
  [Op.AMOAND, [A.I32_AND, A.I64_AND]], [Op.AMOOR, [A.I32_OR, A.I64_OR]],
]);
/** AMOs done with a compare-and-exchange loop: the comparison that keeps the old value. */
const AMO_MINMAX = new Map<Op, { w32: W; w64: W }>([
  [Op.AMOMIN, { w32: W.I32_LT_S, w64: W.I64_LT_S }], [Op.AMOMAX, { w32: W.I32_GT_S, w64: W.I64_GT_S }],
  [Op.AMOMINU, { w32: W.I32_LT_U, w64: W.I64_LT_U }], [Op.AMOMAXU, { w32: W.I32_GT_U, w64: W.I64_GT_U }],
]);
const BRANCH_OPS = new Map<Op, W>([
  [Op.BEQ, W.I64_EQ], [Op.BNE, W.I64_NE], [Op.BLT, W.I64_LT_S], [Op.BGE, W.I64_GE_S],
  [Op.BLTU, W.I64_LT_U], [Op.BGEU, W.I64_GE_U],
]);

/** One decoded instruction of the page. */
interface Insn {
  off: number;
  len: number;
  op: Op;
  rd: number; // register number, 32 = discard (x0)
  rs1: number;
  rs2: number;
  imm: number;
  kind: Kind;
  /** Translated inline; otherwise the block ends here and the interpreter runs it. */
  inline: boolean;
}

const enum Kind { INLINE, BRANCH, JAL, JALR, STOP }

/** Ops that read rs2 (for the others the decoded field holds immediate bits). */
const READS_RS2 = new Set<Op>([
  Op.ADD, Op.SUB, Op.SLL, Op.SLT, Op.SLTU, Op.XOR, Op.SRL, Op.SRA, Op.OR, Op.AND,
  Op.ADDW, Op.SUBW, Op.SLLW, Op.SRLW, Op.SRAW,
  Op.MUL, Op.MULH, Op.MULHSU, Op.MULHU, Op.DIV, Op.DIVU, Op.REM, Op.REMU, Op.MULW, Op.DIVW, Op.DIVUW, Op.REMW, Op.REMUW,
  Op.ADD_UW, Op.SH1ADD, Op.SH2ADD, Op.SH3ADD, Op.SH1ADD_UW, Op.SH2ADD_UW, Op.SH3ADD_UW,
  Op.ANDN, Op.ORN, Op.XNOR, Op.MAX, Op.MAXU, Op.MIN, Op.MINU, Op.ROL, Op.ROLW, Op.ROR, Op.RORW,
  Op.BCLR, Op.BEXT, Op.BINV, Op.BSET, Op.CZERO_EQZ, Op.CZERO_NEZ,
  Op.SB, Op.SH, Op.SW, Op.SD, Op.BEQ, Op.BNE, Op.BLT, Op.BGE, Op.BLTU, Op.BGEU,
  Op.SC, Op.AMOSWAP, Op.AMOADD, Op.AMOXOR, Op.AMOAND, Op.AMOOR, Op.AMOMIN, Op.AMOMAX, Op.AMOMINU, Op.AMOMAXU,
]);
/** Ops that do not read rs1 (the CSR immediate forms hold a 5-bit value there). */
const NO_RS1 = new Set<Op>([Op.LUI, Op.AUIPC, Op.JAL, Op.FENCE, Op.FENCE_I, Op.CSRRSI, Op.CSRRCI]);

/** sstatus (Privileged Spec 4.1.1). */
const CSR_SSTATUS = 0x100;
/** sstatus bits translated code sets without the interpreter: SIE (Linux's local_irq_restore and
 *  local_irq_enable) and SUM (around each copy from or to user memory), neither of which drops a cached
 *  translation; it clears only SIE (local_irq_save, local_irq_disable): clearing SUM drops TLB entries. */
const SSTATUS_SET_INLINE = MSTATUS.SIE | MSTATUS.SUM;
const SSTATUS_CLEAR_INLINE = MSTATUS.SIE;
/** cbo.zero's operation number in the decoded immediate (ops.ts). */
const CBO_ZERO = 4;

/** What the translator must know of the hart beyond its code. */
export interface TranslateOptions {
  /** FENCE.I needs nothing done (no harts in other threads whose stores this thread's decoded pages miss). */
  localFenceI: boolean;
}

function kindOf(op: Op, imm: number, rs1: number, opt: TranslateOptions): Kind {
  if (BRANCH_OPS.has(op)) return Kind.BRANCH;
  if (op === Op.JAL) return Kind.JAL;
  if (op === Op.JALR) return Kind.JALR;
  if (op === Op.AUIPC || op === Op.FENCE || LOAD_OPS.has(op) || STORE_OPS.has(op) || ALU[op] !== undefined) return Kind.INLINE;
  if (op === Op.LR || op === Op.SC || AMO_OPS.has(op) || AMO_MINMAX.has(op)) return Kind.INLINE;
  if (op === Op.CBO && imm === CBO_ZERO) return Kind.INLINE;
  if (op === Op.FENCE_I && opt.localFenceI) return Kind.INLINE;
  if (op === Op.SFENCE_VMA) return Kind.INLINE;
  if (imm === CSR_SSTATUS && (op === Op.CSRRS || op === Op.CSRRC)) return Kind.INLINE; // other bits: checked when run
  if (imm === CSR_SSTATUS && op === Op.CSRRSI && (rs1 & ~SSTATUS_SET_INLINE) === 0) return Kind.INLINE;
  if (imm === CSR_SSTATUS && op === Op.CSRRCI && (rs1 & ~SSTATUS_CLEAR_INLINE) === 0) return Kind.INLINE;
  return Kind.STOP;
}

/** Decodes the instruction at page offset `off` (null when a 32-bit one would cross the page end). */
function decodeAt(u16: Uint16Array, pageOff: number, off: number, tmp: Int32Array, opt: TranslateOptions): Insn | null {
  const h = u16[(pageOff + off) >>> 1];
  if ((h & 3) !== 3) decode16(h, tmp, 0);
  else if (off === 0xffe) return null;
  else decode32(h | (u16[(pageOff + off + 2) >>> 1] << 16), tmp, 0);
  const w = tmp[0];
  const op = (w & 0x1ff) as Op;
  const rdSlot = (w >>> 9) & 0x7f;
  const rs1 = ((w >>> 16) & 0x7f) >>> 1;
  const kind = kindOf(op, tmp[1], rs1, opt);
  return {
    off, len: w & DEC_32BIT ? 4 : 2, op,
    rd: rdSlot === X_SINK ? 32 : rdSlot >>> 1,
    rs1,
    rs2: ((w >>> 23) & 0x7f) >>> 1,
    imm: tmp[1],
    kind,
    inline: kind !== Kind.STOP,
  };
}

/**
 * Finds the instructions reachable from `roots` inside the page (following fall-through and direct branches
 * and jumps; an instruction after a call or after one left to the interpreter is a root too, as control comes
 * back there), and the block leaders among them. Returns instructions sorted by offset.
 *
 * The instruction after an unconditional jump or a return is most often the start of the next function: it is
 * taken as a speculative root once everything certainly reachable is decoded (so a wrong guess never claims
 * halfwords real code needs), which spares most re-translations for a page's later entry points.
 */
function discover(u16: Uint16Array, pageOff: number, roots: Iterable<number>, opt: TranslateOptions): { insns: Insn[]; leaders: Set<number> } {
  const byOff = new Map<number, Insn>();
  /** halfwords covered by the second half of a 32-bit instruction */
  const inside = new Uint8Array(2048);
  const leaders = new Set<number>();
  const work: number[] = [];
  const guesses: number[] = [];
  const tmp = new Int32Array(2);
  const want = (off: number, leader: boolean) => {
    if (off < 0 || off >= 4096 || (off & 1)) return;
    if (leader) leaders.add(off);
    work.push(off);
  };
  for (const r of roots) want(r, true);
  while (work.length || guesses.length) {
    let off: number;
    if (work.length) off = work.pop()!;
    else {
      off = guesses.pop()!;
      if (off >= 4096 || byOff.has(off) || inside[off >>> 1]) continue;
      leaders.add(off);
    }
    if (byOff.has(off) || inside[off >>> 1]) continue;
    const ins = decodeAt(u16, pageOff, off, tmp, opt);
    if (ins === null) continue; // left to the interpreter (fetched across the page end)
    if (ins.len === 4 && byOff.has(off + 2)) continue; // its second half is a decoded instruction's start
    byOff.set(off, ins);
    if (ins.len === 4) inside[(off + 2) >>> 1] = 1;
    const next = off + ins.len;
    switch (ins.kind) {
      case Kind.INLINE: want(next, false); break;
      case Kind.BRANCH: want(off + ins.imm, true); want(next, true); break;
      case Kind.JAL: want(off + ins.imm, true); if (ins.rd !== 32) want(next, true); else guesses.push(next); break;
      case Kind.JALR: if (ins.rd !== 32) want(next, true); else guesses.push(next); break;
      case Kind.STOP: want(next, true); break;
    }
  }
  // an instruction whose first halfword another one covers cannot be a block start
  for (const off of [...leaders]) if (!byOff.has(off)) leaders.delete(off);
  const insns = [...byOff.values()].sort((a, b) => a.off - b.off);
  return { insns, leaders };
}

// parameters and locals of the generated function
const P_ENTRY = 0, P_BUDGET = 1, P_PAGE_LO = 2, P_PAGE_HI = 3;
const L_PAGE = 4; // i64: the page's virtual address
const L_N = 5; // i32: instructions left in the budget (may go below zero by less than a page's worth)
const L_T = 6; // i32: dispatch target (page offset / 2)
const L_EPC = 7; // i64: exit pc
const L_ST = 8; // i32: exit status
const L_A = 9; // i64: effective address
const L_ALO = 10; // i32: its low word
const L_E = 11; // i32: TLB entry index * 4
const L_TMP = 12; // i64 × 4: temporaries of the ALU emitters
const L_X = 16; // i64 × 31: x1..x31
const L_AREA = 47; // i32: the hart area's byte offset (memory offsets from it fit one or two bytes, not five)

// functions: the imports load (0), store (1), atomic (2) and sfence (3), the exported run (4), the slow paths'
// calls (5, 6)
const F_ATOMIC = 2, F_SFENCE = 3, F_LOAD = 5, F_STORE = 6;

const OUT = 0; // absolute label indices: the outer block (exit) and the dispatch loop
const TOP = 1;

/** Builds one region's function body. */
class Gen implements AluCtx {
  readonly c = new Code();
  readonly t0 = L_TMP;
  readonly t1 = L_TMP + 1;
  readonly t2 = L_TMP + 2;
  readonly t3 = L_TMP + 3;
  /** Open control structures (absolute label index = position). */
  private depth = 0;
  /** The current instruction and its position in its block, for exits from the middle of a block. */
  private ins!: Insn;
  private blockLen = 0;
  private indexInBlock = 0;
  /** The absolute label index of each leader's block, for forward branches. */
  readonly labelOf = new Map<number, number>();
  /** The page offsets blocks start at (the dispatcher's targets). */
  readonly blockStarts = new Set<number>();
  /** Registers held in locals in the current block. */
  private cached = 0;

  constructor(private readonly area: number, private readonly ramBase: number) {}

  /** Pushes the budget left before the current instruction (for a slow path's trap). */
  private left(): void {
    this.c.get(L_N).i32(this.blockLen - this.indexInBlock).op(W.I32_ADD);
  }
  /** Where the current instruction is, for a slow path: its page offset | its length << 12. */
  private at(): number {
    return this.ins.off | (this.ins.len << 12);
  }

  open(kind: 'block' | 'loop' | 'if', t: T = T.VOID): number {
    if (kind === 'block') this.c.block(t); else if (kind === 'loop') this.c.loop(t); else this.c.if(t);
    return this.depth++;
  }
  close(): void {
    this.c.end();
    this.depth--;
  }
  /** Branch to the structure opened with absolute index `label`. */
  br(label: number): void {
    this.c.br(this.depth - 1 - label);
  }
  rel(label: number): number {
    return this.depth - 1 - label;
  }

  /** Pushes register r (x0 reads 0). Its first read in a block must be on the block's straight path
   *  (prepare() loads an instruction's sources before any branching code of its own). */
  reg(r: number): void {
    if (r === 0 || r === 32) this.c.i64(0);
    else if (this.cached & (1 << r)) this.c.get(L_X + r - 1);
    else {
      this.c.get(L_AREA).mem(W.I64_LOAD, 3, AREA.STATE + r * 8).tee(L_X + r - 1);
      this.cached |= 1 << r;
    }
  }
  /** Loads the registers the current instruction reads into their locals. */
  private prepare(ins: Insn): void {
    for (const r of [NO_RS1.has(ins.op) ? 0 : ins.rs1, READS_RS2.has(ins.op) ? ins.rs2 : 0]) {
      if (r !== 0 && (this.cached & (1 << r)) === 0) {
        this.reg(r);
        this.c.op(W.DROP);
      }
    }
  }

  rs1 = (): void => this.reg(this.ins.rs1);
  rs2 = (): void => this.reg(this.ins.rs2);
  /** Pops the value into rd (dropped for x0). */
  setRd(): void {
    const rd = this.ins.rd;
    if (rd === 0 || rd === 32) this.c.op(W.DROP);
    else {
      this.c.set(L_X + rd - 1).get(L_AREA).get(L_X + rd - 1).mem(W.I64_STORE, 3, AREA.STATE + rd * 8);
      this.cached |= 1 << rd;
    }
  }
  /** Pushes pc + delta (i64) for the current instruction. */
  pcPlus(delta: number): void {
    this.c.get(L_PAGE).i64(this.ins.off + delta).op(W.I64_ADD);
  }

  /** Leaves with pc = page + `off` and status `st`, after adding back `unexecuted` instructions to the budget. */
  exitAt(off: number, st: Exit, unexecuted: number): void {
    const c = this.c;
    c.get(L_PAGE).i64(off).op(W.I64_ADD).set(L_EPC);
    if (st !== Exit.NORMAL) c.i32(st).set(L_ST);
    if (unexecuted) c.get(L_N).i32(unexecuted).op(W.I32_ADD).set(L_N);
    this.br(OUT);
  }
  /** Leaves with the pc (i64) on the stack. */
  exitDynamic(unexecuted: number): void {
    this.c.set(L_EPC);
    if (unexecuted) this.c.get(L_N).i32(unexecuted).op(W.I32_ADD).set(L_N);
    this.br(OUT);
  }

  /** Control goes to page offset `target`: a label ahead, the dispatcher behind, or an exit. */
  jumpTo(target: number): void {
    const label = this.labelOf.get(target);
    if (label !== undefined && target > this.ins.off) {
      this.br(label);
      return;
    }
    if (label !== undefined) {
      // a backward jump: the budget bounds every loop
      const c = this.c;
      c.get(L_N).i32(0).op(W.I32_LE_S).if();
      this.depth++;
      this.exitAt(target, Exit.NORMAL, 0);
      this.close();
      c.i32(target >>> 1).set(L_T);
      this.br(TOP);
      return;
    }
    this.exitAt(target, Exit.NORMAL, 0);
  }

  /** Emits one block: its instructions, then where control goes when it falls off its end. */
  block(insns: Insn[], from: number, to: number, nextLeader: number | undefined): void {
    const c = this.c;
    this.blockLen = 0;
    this.cached = 0;
    for (let i = from; i < to; i++) if (insns[i].inline) this.blockLen++;
    if (this.blockLen) c.get(L_N).i32(this.blockLen).op(W.I32_SUB).set(L_N);
    for (let i = from; i < to; i++) {
      const ins = insns[i];
      this.ins = ins;
      this.indexInBlock = i - from;
      if (!ins.inline) {
        this.exitAt(ins.off, Exit.NORMAL, 0); // the interpreter runs it
        return;
      }
      this.prepare(ins);
      if (this.insn(ins)) return; // the block ended with a jump
    }
    const last = insns[to - 1];
    const next = last.off + last.len;
    this.ins = last;
    if (nextLeader === next) return; // falls into the next block's code
    this.exitAt(next, Exit.NORMAL, 0);
  }

  /** Emits one instruction; returns true when control never falls through it. */
  private insn(ins: Insn): boolean {
    const c = this.c;
    const op = ins.op;
    const alu = ALU[op];
    if (alu !== undefined) {
      alu(this, ins.imm);
      this.setRd();
      return false;
    }
    const branch = BRANCH_OPS.get(op);
    if (branch !== undefined) {
      this.rs1(); this.rs2(); c.op(branch);
      this.open('if');
      this.jumpTo(ins.off + ins.imm);
      this.close();
      return false;
    }
    const load = LOAD_OPS.get(op);
    if (load !== undefined) { this.load(load.size, load.w); return false; }
    const store = STORE_OPS.get(op);
    if (store !== undefined) { this.store(store.size, store.w); return false; }
    if (op === Op.LR || op === Op.SC || AMO_OPS.has(op) || AMO_MINMAX.has(op)) {
      this.atomic(op, ins.imm === 1);
      return false;
    }
    switch (op) {
      case Op.AUIPC: this.pcPlus(ins.imm); this.setRd(); return false;
      case Op.FENCE: return false; // one hart's own accesses are in order; SMP harts use atomics
      case Op.FENCE_I: return false; // translated only when it needs nothing done (TranslateOptions)
      case Op.CBO: this.cboZero(); return false;
      case Op.SFENCE_VMA: this.sfence(); return false;
      case Op.CSRRS: case Op.CSRRC: case Op.CSRRSI: case Op.CSRRCI: this.sstatus(op); return false;
      case Op.JAL:
        if (ins.rd !== 32) { this.pcPlus(ins.len); this.setRd(); }
        this.jumpTo(ins.off + ins.imm);
        return true;
      case Op.JALR: {
        // target = (rs1 + imm) & ~1, computed before rd is written (rd may be rs1)
        this.rs1(); c.i64(ins.imm).op(W.I64_ADD).i64(-2).op(W.I64_AND).set(L_A);
        if (ins.rd !== 32) { this.pcPlus(ins.len); this.setRd(); }
        // leave: the target is looked up like any other (returns mostly go to another page)
        c.get(L_A);
        this.exitDynamic(0);
        return true;
      }
    }
    throw new Error(`translator: no emitter for op ${op}`);
  }

  /** Leaves translated code before the current instruction (nothing of it done): the interpreter runs it. */
  private bail(): void {
    this.exitAt(this.ins.off, Exit.NORMAL, this.blockLen - this.indexInBlock);
  }
  /** Bails when the i32 on the stack is nonzero. */
  private bailIf(): void {
    this.open('if');
    this.bail();
    this.close();
  }

  /**
   * cbo.zero (Zicboz): zeroes the 64-byte block holding rs1, on a write-TLB hit (never a code page: those take
   * the slow path) when the privilege may (M-mode, or menvcfg.CBZE and, below S, senvcfg.CBZE). Otherwise the
   * interpreter runs it, and raises what it must. Linux clears every page it hands out this way.
   */
  private cboZero(): void {
    const c = this.c, st = this.area + AREA.STATE;
    const priv = () => c.i32(0).mem(W.I32_LOAD, 2, st + S.PRIV * 4);
    const envcfg = (at: number) => c.i32(0).mem(W.I32_LOAD, 2, st + at * 4).i32(ENVCFG.CBZE).op(W.I32_AND).i32(0).op(W.I32_NE);
    priv(); c.i32(PRIV.M).op(W.I32_EQ);
    envcfg(S.MENVCFG);
    priv(); c.i32(PRIV.S).op(W.I32_EQ);
    envcfg(S.SENVCFG);
    c.op(W.I32_OR).op(W.I32_AND).op(W.I32_OR).op(W.I32_EQZ);
    this.bailIf();
    this.tlbHit(AREA.W_TAG, 1, 'block');
    c.op(W.I32_EQZ);
    this.bailIf();
    this.ramAddr(AREA.W_TAG);
    c.i32(0).i32(CBO_BLOCK).memoryFill();
  }

  /**
   * Reads and sets or clears bits of sstatus (Privileged Spec 4.1.1) when the bits written are among those
   * written here without side effects (SSTATUS_SET_INLINE, SSTATUS_CLEAR_INLINE) and the hart is not in
   * U-mode; otherwise the interpreter runs it. A write that sets SIE leaves translated code after it, so that an
   * interrupt pending is taken at once (Exit.INTERRUPTS).
   */
  private sstatus(op: Op): void {
    const c = this.c, st = this.area + AREA.STATE, ins = this.ins;
    const immForm = op === Op.CSRRSI || op === Op.CSRRCI;
    const set = op === Op.CSRRS || op === Op.CSRRSI;
    const writes = ins.rs1 !== 0;
    c.i32(0).mem(W.I32_LOAD, 2, st + S.PRIV * 4).op(W.I32_EQZ);
    if (!immForm && writes) {
      this.rs1(); c.i64(~(set ? SSTATUS_SET_INLINE : SSTATUS_CLEAR_INLINE)).op(W.I64_AND).op(W.I64_EQZ).op(W.I32_EQZ);
      c.op(W.I32_OR);
    }
    this.bailIf();
    c.i32(0).mem(W.I32_LOAD, 2, st + S.MSTATUS * 4).set(L_ALO);
    if (writes) {
      c.i32(0).get(L_ALO);
      if (immForm) c.i32(ins.rs1); else { this.rs1(); c.op(W.I32_WRAP_I64); }
      if (set) c.op(W.I32_OR); else c.i32(-1).op(W.I32_XOR).op(W.I32_AND);
      c.mem(W.I32_STORE, 2, st + S.MSTATUS * 4);
    }
    // rd = sstatus before the write: its bits of mstatus, and the high word's SD and UXL
    c.get(L_ALO).i32(SSTATUS_MASK).op(W.I32_AND).op(W.I64_EXTEND_I32_U);
    c.i32(0).mem(W.I32_LOAD, 2, st + S.MSTATUS * 4 + 4).i32(MSTATUS.HI_SD | 3).op(W.I32_AND).op(W.I64_EXTEND_I32_U);
    c.i64(32).op(W.I64_SHL).op(W.I64_OR);
    this.setRd();
    if (set && writes && (!immForm || ins.rs1 & MSTATUS.SIE)) {
      // SIE went from 0 to 1: leave after this instruction so a pending interrupt is taken now, as the
      // interpreter takes one after any CSR write. Waiting for the next budget check is not enough: a loop
      // whose backward branch runs with interrupts disabled would never see the check with SIE set.
      c.i32(0).mem(W.I32_LOAD, 2, st + S.MSTATUS * 4).get(L_ALO).i32(-1).op(W.I32_XOR).op(W.I32_AND);
      c.i32(MSTATUS.SIE).op(W.I32_AND);
      this.open('if');
      this.exitAt(ins.off + ins.len, Exit.INTERRUPTS, this.blockLen - this.indexInBlock - 1);
      this.close();
    }
  }

  /**
   * SFENCE.VMA through the hart (Linux fences one address after each PTE it changes: 99,000 in a boot); when the
   * privilege may not, the interpreter raises the illegal instruction. Translated code goes on in this page only
   * while the execute TLB still maps it (a fence of this page's address, or of all, leaves after the fence).
   */
  private sfence(): void {
    const c = this.c, ins = this.ins;
    this.rs1(); c.op(W.I32_WRAP_I64);
    this.rs1(); c.i64(32).op(W.I64_SHR_U).op(W.I32_WRAP_I64);
    c.i32(ins.rs1 === 0 ? 1 : 0).call(F_SFENCE).op(W.I32_EQZ);
    this.bailIf();
    // the entry of this page: (page >>> 12) & mask
    c.get(L_PAGE).op(W.I32_WRAP_I64).i32(10).op(W.I32_SHR_U).i32(TLB_MASK << 2).op(W.I32_AND).get(L_AREA).op(W.I32_ADD).tee(L_E);
    c.mem(W.I32_LOAD, 2, AREA.X_TAG).get(L_PAGE).op(W.I32_WRAP_I64).op(W.I32_NE);
    c.get(L_E).mem(W.I32_LOAD, 2, AREA.X_TAG_HI).get(L_PAGE).i64(32).op(W.I64_SHR_U).op(W.I32_WRAP_I64).op(W.I32_NE);
    c.op(W.I32_OR);
    this.open('if');
    this.exitAt(ins.off + ins.len, Exit.NORMAL, this.blockLen - this.indexInBlock - 1);
    this.close();
  }

  /** Pushes the effective address (rs1 + imm; rs1 alone for atomics; rs1's 64-byte block for cbo) into L_A /
   *  L_ALO and the TLB entry offset into L_E; leaves on the stack whether the entry of `tag` holds the page and
   *  the access is aligned. */
  private tlbHit(tag: number, size: number, address: 'imm' | 'rs1' | 'block' = 'imm'): void {
    const c = this.c;
    this.rs1();
    if (address === 'imm') c.i64(this.ins.imm).op(W.I64_ADD);
    else if (address === 'block') c.i64(-CBO_BLOCK).op(W.I64_AND);
    c.tee(L_A).op(W.I32_WRAP_I64).tee(L_ALO);
    c.i32(10).op(W.I32_SHR_U).i32(TLB_MASK << 2).op(W.I32_AND).get(L_AREA).op(W.I32_ADD).tee(L_E);
    // tags are page-aligned, so keeping the low alignment bits in the compared address checks alignment too
    c.mem(W.I32_LOAD, 2, tag).get(L_ALO).i32(-4096 | (size - 1)).op(W.I32_AND).op(W.I32_EQ);
    c.get(L_E).mem(W.I32_LOAD, 2, tag + TLB_ARRAY).get(L_A).i64(32).op(W.I64_SHR_U).op(W.I32_WRAP_I64).op(W.I32_EQ);
    c.op(W.I32_AND);
  }
  /** Pushes the RAM byte offset of the access that hit entry L_E (area + index * 4) of `tag`'s TLB. */
  private ramAddr(tag: number): void {
    this.c.get(L_E).mem(W.I32_LOAD, 2, tag + 2 * TLB_ARRAY).get(L_ALO).i32(0xfff).op(W.I32_AND).op(W.I32_ADD);
  }
  /**
   * LR, SC and AMOs (Unprivileged Spec chapter 8) on a TLB hit, with WebAssembly atomics so they stay atomic
   * when harts in other threads share the memory; the reservation is the interpreter's (alu.ts): LR records
   * the physical address and the value read, SC stores only if memory still holds that value. On a miss or a
   * misaligned address, the interpreter's atomic runs it through a slow path (and raises what it must).
   */
  private atomic(op: Op, dword: boolean): void {
    const c = this.c, ins = this.ins;
    this.tlbHit(op === Op.LR ? AREA.R_TAG : AREA.W_TAG, dword ? 8 : 4, 'rs1');
    this.open('if', T.I64);
    this.atomicHit(op, dword);
    c.else();
    // a miss, a misaligned address or not RAM: the interpreter's atomic writes rd (or raises), then rd is read
    const rdSlot = ins.rd === 32 || ins.rd === 0 ? X_SINK : ins.rd * 2;
    c.get(L_ALO).get(L_A).i64(32).op(W.I64_SHR_U).op(W.I32_WRAP_I64);
    this.rs2(); c.op(W.I32_WRAP_I64);
    this.rs2(); c.i64(32).op(W.I64_SHR_U).op(W.I32_WRAP_I64);
    c.i32(op | (dword ? 1 << 9 : 0) | (rdSlot << 10)).i32(this.at());
    this.left();
    c.call(F_ATOMIC);
    c.i32(0).mem(W.I64_LOAD, 3, this.area + AREA.STATE + rdSlot * 4);
    this.close();
    this.setRd();
  }

  /** An atomic whose TLB entry hit (the entry offset in L_E): pushes the value rd gets. */
  private atomicHit(op: Op, dword: boolean): void {
    const c = this.c, st = this.area + AREA.STATE;
    const lg = dword ? 3 : 2;
    this.ramAddr(op === Op.LR ? AREA.R_TAG : AREA.W_TAG);
    c.set(L_ALO); // from here on: the RAM byte offset
    const physical = () => c.get(L_ALO).op(W.I64_EXTEND_I32_U).i64(this.ramBase, 0).op(W.I64_ADD);
    if (op === Op.LR) {
      c.get(L_ALO);
      if (dword) c.atomic(A.I64_LOAD, 3, 0); else c.atomic(A.I32_LOAD, 2, 0).op(W.I64_EXTEND_I32_S);
      c.set(L_A);
      c.i32(0).i32(1).mem(W.I32_STORE, 2, st + S.RES_VALID * 4);
      c.i32(0).get(L_A).mem(W.I64_STORE, 3, st + S.RES_VAL * 4);
      c.i32(0); physical(); c.mem(W.I64_STORE, 3, st + S.RES_ADDR * 4);
      c.get(L_A);
      return;
    }
    if (op === Op.SC) {
      // valid and for this address; the reservation is used up either way
      c.i32(0).mem(W.I32_LOAD, 2, st + S.RES_VALID * 4).i32(1).op(W.I32_EQ);
      c.i32(0).mem(W.I64_LOAD, 3, st + S.RES_ADDR * 4); physical(); c.op(W.I64_EQ).op(W.I32_AND);
      c.i32(0).i32(0).mem(W.I32_STORE, 2, st + S.RES_VALID * 4);
      this.open('if', T.I32);
      c.get(L_ALO);
      if (dword) {
        c.i32(0).mem(W.I64_LOAD, 3, st + S.RES_VAL * 4);
        this.rs2();
        c.atomic(A.I64_CMPXCHG, 3, 0).i32(0).mem(W.I64_LOAD, 3, st + S.RES_VAL * 4).op(W.I64_EQ);
      } else {
        c.i32(0).mem(W.I32_LOAD, 2, st + S.RES_VAL * 4);
        this.rs2(); c.op(W.I32_WRAP_I64);
        c.atomic(A.I32_CMPXCHG, 2, 0).i32(0).mem(W.I32_LOAD, 2, st + S.RES_VAL * 4).op(W.I32_EQ);
      }
      c.else().i32(0);
      this.close();
      c.op(W.I32_EQZ).op(W.I64_EXTEND_I32_U); // rd = 0 on success, 1 on failure
      return;
    }
    const rmw = AMO_OPS.get(op);
    if (rmw !== undefined) {
      c.get(L_ALO);
      this.rs2();
      if (dword) c.atomic(rmw[1], lg, 0);
      else c.op(W.I32_WRAP_I64).atomic(rmw[0], lg, 0).op(W.I64_EXTEND_I32_S);
      return;
    }
    // min/max: read, choose, compare-and-exchange; again if another hart changed the word in between
    const mm = AMO_MINMAX.get(op)!;
    const old = this.t0, b = this.t1;
    this.rs2(); if (!dword) c.op(W.I32_WRAP_I64).op(W.I64_EXTEND_I32_S); c.set(b);
    const again = this.open('loop');
    c.get(L_ALO);
    if (dword) c.atomic(A.I64_LOAD, 3, 0); else c.atomic(A.I32_LOAD, 2, 0).op(W.I64_EXTEND_I32_S);
    c.set(old);
    c.get(L_ALO);
    if (dword) {
      c.get(old).get(old).get(b).get(old).get(b).op(mm.w64).op(W.SELECT);
      c.atomic(A.I64_CMPXCHG, 3, 0).get(old).op(W.I64_NE);
    } else {
      c.get(old).op(W.I32_WRAP_I64);
      c.get(old).get(b).get(old).op(W.I32_WRAP_I64).get(b).op(W.I32_WRAP_I64).op(mm.w32).op(W.SELECT).op(W.I32_WRAP_I64);
      c.atomic(A.I32_CMPXCHG, 2, 0).get(old).op(W.I32_WRAP_I64).op(W.I32_NE);
    }
    c.brIf(this.rel(again));
    this.close();
    c.get(old);
  }

  private load(size: number, w: W): void {
    const c = this.c;
    this.tlbHit(AREA.R_TAG, size);
    this.open('if', T.I64);
    this.ramAddr(AREA.R_TAG);
    c.mem(w, Math.log2(size), 0);
    c.else();
    c.get(L_A).i32(this.ins.op | (this.at() << 9));
    this.left();
    c.call(F_LOAD);
    this.close();
    this.setRd();
  }

  private store(size: number, w: W): void {
    const c = this.c;
    this.tlbHit(AREA.W_TAG, size);
    this.open('if');
    this.ramAddr(AREA.W_TAG);
    this.rs2();
    c.mem(w, Math.log2(size), 0);
    c.else();
    c.get(L_A);
    this.rs2();
    c.i32(size | (this.at() << 4));
    this.left();
    c.call(F_STORE);
    this.close();
  }

  /** The prologue, `body` (the blocks), and the epilogue that leaves the exit pc and the budget left. */
  wrap(body: () => void): void {
    const c = this.c, a = this.area;
    c.i32(a).set(L_AREA);
    c.get(P_BUDGET).set(L_N);
    c.get(P_ENTRY).set(L_T);
    c.get(P_PAGE_LO).op(W.I64_EXTEND_I32_U).get(P_PAGE_HI).op(W.I64_EXTEND_I32_U).i64(32).op(W.I64_SHL).op(W.I64_OR).set(L_PAGE);
    this.open('block'); // OUT
    this.open('loop'); // TOP
    body();
    this.close();
    this.close();
    c.i32(0).get(L_EPC).mem(W.I64_STORE, 3, a + AREA.STATE + S.PC * 4);
    c.i32(0).get(L_N).mem(W.I32_STORE, 2, a + AREA.SCRATCH);
    c.get(L_ST);
  }

  /** The dispatcher and the blocks, nested so that each block's label ends right before its code. */
  blocks(insns: Insn[], leaders: Set<number>): void {
    const c = this.c;
    // block boundaries: leaders, and after every instruction that ends a block
    const starts: number[] = [];
    for (let i = 0; i < insns.length; i++) {
      const prev = insns[i - 1];
      const gap = prev === undefined || prev.off + prev.len !== insns[i].off;
      if (gap || leaders.has(insns[i].off) || !prev.inline || prev.kind === Kind.JAL || prev.kind === Kind.JALR) {
        starts.push(i);
        leaders.add(insns[i].off);
      }
    }
    const k = starts.length;
    // open the blocks' labels, last block outermost; label of block j ends right before block j's code
    const labels: number[] = new Array(k);
    for (let j = k - 1; j >= 0; j--) {
      labels[j] = this.open('block');
      this.labelOf.set(insns[starts[j]].off, labels[j]);
    }
    for (const st of starts) this.blockStarts.add(insns[st].off);
    const none = this.open('block');
    // dispatch: br_table on the target's halfword offset (the caller passes the entry's, backward jumps their
    // target's), over the span of block starts; any other offset is not a block start
    const first = insns[starts[0]].off >>> 1;
    const span = (insns[starts[k - 1]].off >>> 1) - first + 1;
    const target = new Array<number>(span).fill(this.rel(none));
    for (let j = 0; j < k; j++) target[(insns[starts[j]].off >>> 1) - first] = this.rel(labels[j]);
    c.get(L_T).i32(first).op(W.I32_SUB).op(W.BR_TABLE).u32(span);
    for (const t of target) c.u32(t);
    c.u32(this.rel(none));
    this.close();
    // not a block start: leave where the caller asked to enter, having run nothing
    c.get(L_PAGE).get(L_T).i32(1).op(W.I32_SHL).op(W.I64_EXTEND_I32_U).op(W.I64_ADD);
    this.exitDynamic(0);
    for (let j = 0; j < k; j++) {
      this.close(); // label j: block j's code follows
      const end = j + 1 < k ? starts[j + 1] : insns.length;
      this.block(insns, starts[j], end, j + 1 < k ? insns[starts[j + 1]].off : undefined);
    }
    // the last block always leaves explicitly; the loop's end is never reached
    c.op(W.UNREACHABLE);
  }
}

const I32 = T.I32, I64 = T.I64;

/**
 * The slow paths' calls, out of line (a load or store site is some 20 bytes smaller): load(address,
 * op | at << 9, budget left) -> value, and store(address, value, size | at << 4, budget left), which call the
 * imports with the address and value split in 32-bit halves. `at` is the instruction's page offset | its
 * length << 12.
 */
function slowPaths(area: number): Func[] {
  const lo = (c: Code, l: number) => c.get(l).op(W.I32_WRAP_I64);
  const hi = (c: Code, l: number) => c.get(l).i64(32).op(W.I64_SHR_U).op(W.I32_WRAP_I64);
  const load = new Code();
  lo(load, 0); hi(load, 0);
  load.get(1).i32(0x1ff).op(W.I32_AND).get(1).i32(9).op(W.I32_SHR_U).get(2).call(0);
  load.i32(0).mem(W.I64_LOAD, 3, area + AREA.STATE + X_SINK * 4);
  const store = new Code();
  lo(store, 0); hi(store, 0);
  store.get(2).i32(15).op(W.I32_AND);
  lo(store, 1); hi(store, 1);
  store.get(2).i32(4).op(W.I32_SHR_U).get(3).call(1);
  return [
    { type: { params: [I64, I32, I32], results: [I64] }, locals: [], body: load },
    { type: { params: [I64, I64, I32, I32], results: [] }, locals: [], body: store },
  ];
}

/**
 * Translates the page at RAM byte offset `pageOff` from the given entry offsets. `area` is the hart's area
 * offset in memory, `memPages` / `shared` describe the VM's memory. Returns null when nothing is translatable.
 */
export function translatePage(u16: Uint16Array, pageOff: number, roots: Iterable<number>, area: number, mem: { pages: number; shared: boolean; ramBase: number }, opt: TranslateOptions): Translation | null {
  const { insns, leaders } = discover(u16, pageOff, roots, opt);
  if (!insns.some((i) => i.inline)) return null;
  const g = new Gen(area, mem.ramBase);
  g.wrap(() => g.blocks(insns, leaders));
  // entered only where a block does some work: a block that starts with an instruction left to the
  // interpreter would return at once, and the caller would ask again
  const entries = new Uint8Array(2048);
  const inline = new Set(insns.filter((i) => i.inline).map((i) => i.off));
  for (const off of g.blockStarts) if (inline.has(off)) entries[off >>> 1] = 1;
  const bytes = encodeModule({
    imports: [
      { name: 'load', type: { params: [I32, I32, I32, I32, I32], results: [] } },
      { name: 'store', type: { params: [I32, I32, I32, I32, I32, I32, I32], results: [] } },
      { name: 'atomic', type: { params: [I32, I32, I32, I32, I32, I32, I32], results: [] } },
      { name: 'sfence', type: { params: [I32, I32, I32], results: [I32] } },
    ],
    helpers: slowPaths(area),
    memory: { pages: mem.pages, shared: mem.shared },
    func: {
      type: { params: [I32, I32, I32, I32], results: [I32] },
      locals: [{ count: 1, type: I64 }, { count: 2, type: I32 }, { count: 1, type: I64 }, { count: 1, type: I32 },
        { count: 1, type: I64 }, { count: 2, type: I32 }, { count: 4, type: I64 }, { count: 31, type: I64 },
        { count: 1, type: I32 }],
      body: g.c,
    },
  });
  return { entries, instructions: insns.filter((i) => i.inline).length, bytes: bytes.length, module: new WebAssembly.Module(bytes) };
}
