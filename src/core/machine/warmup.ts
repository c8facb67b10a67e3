// Warms the interpreter up before a guest runs: every case of Hart.run() executes on scratch harts first.
//
// Why: V8 compiles Hart.run() (one large function) with TurboFan once it is hot, from the type feedback the
// function has gathered so far. A case the guest had not executed by then has no feedback, and its first
// execution later throws the optimized code away ("insufficient type feedback"). Until TurboFan has compiled
// the function again (tens to hundreds of milliseconds for a function this size, on the threads that also
// compile the JIT's WebAssembly) the guest runs in V8's baseline tiers, several times slower. A Linux boot met
// 18 such deoptimizations and spent about 1 s of its 6.6 s unoptimized; warmed up, it meets none.
// Feedback belongs to the function, not to a hart or a VM: the host calls warmUp() once per thread, before
// its first VM runs, and keeps what it returns. V8's feedback names the hidden classes (maps) of the objects it
// saw, weakly: once every object of a class is gone, the garbage collector drops the class and the feedback
// for it, and a machine made later gets a new class with the same shape that the feedback no longer knows.
import { Op, DEC_32BIT } from '../cpu/ops.js';
import { S } from '../cpu/state.js';
import { AREA, TLB_ENTRIES, TLB_MASK } from '../cpu/area.js';
import { ENVCFG, MSTATUS, MIP_MEIP, MIP_SEIP, PRIV } from '../cpu/bits.js';
import { Hart } from '../cpu/hart.js';
import { Bus } from '../devices/bus.js';
import { Clint, Timebase } from '../devices/clint.js';
import { CodeCache } from '../mmu/codecache.js';
import { monotonicClock } from '../host/clock.js';
import type { JitMode } from '../jit/mode.js';
import { GuestRam } from './memory.js';

const BASE = 0x8000_0000;
const CODE = 0x1000; // RAM offset of the page the decoded instructions are placed in
const AT = 0x100; // their offset in it
const VEC = 0x2000; // RAM offset of the trap vector (real instructions)
const DATA = 0x8000; // RAM offset of the data loads and stores reach
const RD = 10, RS1 = 12, RS2 = 14; // x5, x6, x7 in decoded fields (register number × 2)

/**
 * Operands (rs1 lo, hi, rs2 lo, hi): each branch is taken and not taken, signed and unsigned comparisons
 * disagree once, shifts by register take both halves, and arithmetic leaves the int32 range.
 */
const OPERANDS: readonly (readonly [number, number, number, number])[] = [
  [5, 0, 3, 0],
  [-16, -1, 0x8000_0000 | 0, 0x7fff_ffff],
  [7, 0, 7, 0],
  [3, 0x8000_0000 | 0, 0x8000_0028 | 0, 0],
  [-1, -16, 0x7fff_ffff, -1], // the partial products of MUL's upper word overflow int32
];

/** An immediate for `op` in pass `pass` (ops.ts says what imm means per op): each path where there are several. */
function immediate(op: Op, pass: number): number {
  const odd = (pass & 1) === 1;
  if (op >= Op.SLLI && op <= Op.SRAI) return [5, 40, 0][pass % 3]; // either half of a 64-bit shift, or none
  if (op >= Op.SLLIW && op <= Op.SRAIW) return [0, 17, 31][pass % 3];
  if ((op >= Op.LB && op <= Op.SD) || (op >= Op.FLW && op <= Op.FSD)) return odd ? 0xffd : 0; // aligned, then across a page
  if (op >= Op.CSRRW && op <= Op.CSRRCI) return 0x340; // mscratch
  if (op === Op.CBO) return odd ? 2 : 4; // flush, zero
  if (op === Op.LUI || op === Op.AUIPC) return odd ? 0x8000_0000 | 0 : 0x1000;
  return odd ? -2048 : 8;
}

/** True for the ops whose rs1 is an address. */
const addresses = (op: Op): boolean =>
  (op >= Op.LB && op <= Op.SD) || (op >= Op.LR && op <= Op.AMOMAXU) || (op >= Op.FLW && op <= Op.FSD) || op === Op.CBO;

/** The scratch machine of a warm-up: held by the host so the hidden classes the feedback names stay alive. */
export interface WarmUp {
  readonly harts: readonly Hart[];
}

/**
 * Runs every case of the interpreter on scratch harts: every op (of F and D, the loads and stores: the rest run
 * in fpu/exec.ts) with several operands, TLB misses and hits, a page-crossing fetch, traps, interrupts, WFI,
 * stores that stop the hart, budgets of many chunks; with the JIT not off, also translated code. Touches nothing
 * but its own scratch memory; takes some tens of milliseconds. Keep the result as long as machines may be made.
 */
export function warmUp(jit: JitMode): WarmUp {
  const ram = new GuestRam(BASE, 0x10000, { harts: 2 });
  const code = new CodeCache(ram);
  const bus = new Bus();
  // Real clocks (their readings are not small integers), two of them made by different functions: a VM brings
  // its own, and the clock call inlined into Hart.run() must not be specialized for the warm-up's.
  const clint = new Clint(new Timebase(monotonicClock()), 2);
  const clint2 = new Clint(new Timebase({ nowNs: () => Date.now() * 1e6 }), 2);
  // all harts first: each listens to the code cache, whose calls to them must not be specialized for one either
  const h = new Hart({ hartId: 0, ram, bus, code, clint, jit: 'off' });
  const h2 = new Hart({ hartId: 1, ram, bus, code, clint: clint2, jit: 'off' });
  const h3 = jit === 'off' ? null : new Hart({ hartId: 1, ram, bus, code, clint: clint2, jit: 'all' });
  ram.i32[VEC >> 2] = 0x13; // addi x0, x0, 0
  ram.u16[(VEC + 4) >> 1] = 0x1; // c.nop
  // then csrw mie, x0 and wfi: the hart sleeps. Written by halfwords: they are not word-aligned.
  for (const [at, word] of [[6, 0x30401073], [10, 0x10500073]]) {
    ram.u16[(VEC + at) >> 1] = word & 0xffff;
    ram.u16[(VEC + at + 2) >> 1] = word >>> 16;
  }
  ram.u16[(CODE + 0xffe) >> 1] = 0x13; // with the vector's first halfword: addi x0, x0, 1 across two pages
  ram.i32[(CODE + AT + 4) >> 2] = 0x13; // what follows each op: addi x0, x0, 0 (traps are slow in V8's interpreter)
  // V8 records feedback only once a function has run for a while (lazy feedback allocation): the ops once, then
  // the rare paths, so that should V8 optimize Hart.run() while the warm-up runs, they are in; then the rest
  everyOp(h, code, 0, 1);
  interruptAndWfi(h2);
  watchedStores(h, code, ram);
  if (h3 !== null) throughTranslations(h3, ram);
  everyOp(h, code, 1, OPERANDS.length);
  return { harts: h3 === null ? [h, h2] : [h, h2, h3] };
}

/** Places decoded instruction `op` (imm `imm`) at halfword `at` of the code page. */
function place(code: CodeCache, at: number, op: Op, imm: number): void {
  const d = code.page(CODE >>> 12);
  d[at] = op | (RD << 9) | (RS1 << 16) | (RS2 << 23) | DEC_32BIT;
  d[at + 1] = imm;
}

/** Resets `h` to M-mode at RAM offset `pc` with the trap vector and the FPU on. */
function start(h: Hart, pc: number): void {
  h.reset(BASE + pc, 0);
  h.s[S.MTVEC] = BASE + VEC;
  h.s[S.MSTATUS] |= MSTATUS.FS;
}

/**
 * A hart waiting in WFI, not woken, then woken by an interrupt it takes; an S-mode hart with a delegated
 * interrupt pending, masked by SIE, then taken. Budgets of many chunks, as a VM gives: the vector masks the
 * interrupt and sleeps (from S-mode, its csrw mie first traps to M-mode).
 */
function interruptAndWfi(h: Hart): void {
  const s = h.s;
  start(h, VEC);
  s[S.MIE] = MIP_MEIP;
  s[S.MSTATUS] |= MSTATUS.MIE;
  h.waiting = true;
  h.run(2);
  h.irqLines = MIP_MEIP;
  h.run(1 << 20);
  start(h, VEC);
  s[S.STVEC] = BASE + VEC;
  s[S.MIDELEG] = MIP_SEIP;
  s[S.MENVCFG + 1] = ENVCFG.HI_STCE; // Sstc, with no deadline (all ones, as Linux writes): a 64-bit count
  s[S.STIMECMP] = -1;
  s[S.STIMECMP + 1] = -1;
  h.irqLines = MIP_SEIP;
  for (const sie of [0, MSTATUS.SIE]) {
    s[S.PRIV] = PRIV.S;
    s[S.MIE] = MIP_SEIP;
    s[S.MSTATUS] = (s[S.MSTATUS] & ~MSTATUS.SIE) | sie;
    h.waiting = false;
    h.run(1 << 20);
  }
  h.irqLines = 0;
}

/** Stores into a page the host watches, which stop the hart (as HTIF's tohost does). */
function watchedStores(h: Hart, code: CodeCache, ram: GuestRam): void {
  ram.pageFlags[DATA >>> 12] |= 2;
  h.onWatchedStore = () => { h.stop = true; };
  for (const op of [Op.SB, Op.SH, Op.SW, Op.SD]) {
    start(h, CODE + AT);
    h.x[RS1] = BASE + DATA;
    place(code, AT, op, 0);
    h.run(2);
  }
  ram.pageFlags[DATA >>> 12] &= ~2;
  h.onWatchedStore = null;
  h.stop = false;
}

/**
 * Translated code (every block translated at its first run): a loop across two pages ending in a fault; the same
 * loop again with the second page's chaining link gone, as when its TLB entry is refilled for another page (the
 * tier's own loop between pages then runs); a store into the page being run. The interpreter's paths into and
 * out of the tier, and the tier's.
 */
function throughTranslations(h: Hart, ram: GuestRam): void {
  const A = 0x4000, B = 0x5000, C = 0x6000;
  const put = (at: number, words: number[]) => words.forEach((w, i) => { ram.i32[(at >> 2) + i] = w | 0; });
  put(A, [
    0x00128293, // addi x5, x5, 1
    0x7fd0006f, // j B
  ]);
  put(B, [
    0x8062c063, // blt x5, x6, A
    0x00003383, // ld x7, 0(x0): an access fault
  ]);
  put(C, [
    0x00000397, // auipc x7, 0
    0x0403b023, // sd x0, 64(x7): a store into this page's code
    0x0000006f, // j .
  ]);
  put(VEC + 0x100, [0x0000006f]); // j .
  const s = h.s, x = h.x;
  h.reset(BASE + A, 0);
  s[S.MTVEC] = BASE + VEC + 0x100;
  x[12] = 20; // 20 turns of 3 instructions, then the fault
  h.run(200);
  // many times: V8 records feedback for the tier's functions only once they have run for a while
  for (let i = 0; i < 16; i++) {
    new Int32Array(ram.memory.buffer, h.area + AREA.X_SLOT, TLB_ENTRIES)[(B >>> 12) & TLB_MASK] = 0;
    s[S.PC] = BASE + A; // the trap left the TLB as it was
    x[10] = 0;
    h.run(200);
  }
  h.reset(BASE + C, 0);
  h.run(20);
}

/** Every op with operand sets [from, to), twice each time: a load or store misses the TLB, then hits it. */
function everyOp(h: Hart, code: CodeCache, from: number, to: number): void {
  const s = h.s, x = h.x;
  for (let pass = from; pass < to; pass++) {
    const [aLo, aHi, bLo, bHi] = OPERANDS[pass];
    for (let op = Op.CROSS; op < Op.COUNT; op++) {
      if (op > Op.FSD && op <= Op.FCLASS_D) continue; // of F and D, the loads and stores (the rest: fpu/exec.ts)
      const at = op === Op.CROSS ? 0xffe : AT; // a 32-bit instruction straddling two pages
      start(h, CODE + at);
      for (let i = 0; i < 2; i++) {
        s[S.PC] = BASE + CODE + at;
        s[S.PRIV] = PRIV.M;
        h.waiting = false;
        x[RS1] = addresses(op) ? BASE + DATA : aLo;
        x[RS1 + 1] = addresses(op) ? 0 : aHi;
        x[RS2] = bLo;
        x[RS2 + 1] = bHi;
        // the decoder makes CROSS of the instruction placed there (addi x0, x0, 1): undecoded first, then CROSS
        if (op === Op.CROSS) place(code, at, i === 0 ? Op.UNDECODED : Op.CROSS, 0);
        else place(code, at, op, immediate(op, pass));
        h.run(2); // then what follows, or the trap vector's first instruction: the decoders' paths
      }
    }
  }
}
