// The translator against the interpreter: the same program run with the JIT off and with every block translated
// (`all`) must end in the same architectural state: registers, memory, pc, traps (epc, cause, tval) and the
// instruction count. Random programs (fast-check) cover the integer instructions, loads and stores (aligned,
// misaligned, page-crossing, faulting), branches and loops; fixed ones cover traps mid-block and code that
// rewrites itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { GuestRam } from '../machine/memory.js';
import { Bus } from '../devices/bus.js';
import { Clint, Timebase } from '../devices/clint.js';
import { CodeCache } from '../mmu/codecache.js';
import { Hart } from '../cpu/hart.js';
import { S } from '../cpu/state.js';
import type { JitMode } from './mode.js';
import { translatePage } from './translate.js';

const BASE = 0x8000_0000;
const DATA = BASE + 0x8000; // a data page the programs load from and store to
const TRAP_VEC = BASE + 0x7000; // mtvec: csrr s11, minstret; j .

// ---- a few encoders (Unprivileged Spec chapter 2, instruction formats) ----
const R = (f7: number, rs2: number, rs1: number, f3: number, rd: number, opc: number) =>
  ((f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | opc) >>> 0;
const I = (imm: number, rs1: number, f3: number, rd: number, opc: number) =>
  (((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | opc) >>> 0;
const Sx = (imm: number, rs2: number, rs1: number, f3: number) =>
  ((((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 0x1f) << 7) | 0x23) >>> 0;
const B = (imm: number, rs2: number, rs1: number, f3: number) =>
  ((((imm >> 12) & 1) << 31) | (((imm >> 5) & 0x3f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) |
    (((imm >> 1) & 0xf) << 8) | (((imm >> 11) & 1) << 7) | 0x63) >>> 0;
const J = (imm: number, rd: number) =>
  ((((imm >> 20) & 1) << 31) | (((imm >> 1) & 0x3ff) << 21) | (((imm >> 11) & 1) << 20) | (((imm >> 12) & 0xff) << 12) |
    (rd << 7) | 0x6f) >>> 0;
const U = (imm: number, rd: number, opc: number) => ((imm & 0xfffff000) | (rd << 7) | opc) >>> 0;
const CSRR = (rd: number, csr: number) => I(csr, 0, 2, rd, 0x73);
const JSELF = J(0, 0);

/** Register-register ops: [funct7, funct3, opcode] (RV64IM, Zba, Zbb, Zbs, Zicond, W forms). */
const RR: [number, number, number][] = [
  [0, 0, 0x33], [0x20, 0, 0x33], [0, 1, 0x33], [0, 2, 0x33], [0, 3, 0x33], [0, 4, 0x33], [0, 5, 0x33], [0x20, 5, 0x33],
  [0, 6, 0x33], [0, 7, 0x33],
  [1, 0, 0x33], [1, 1, 0x33], [1, 2, 0x33], [1, 3, 0x33], [1, 4, 0x33], [1, 5, 0x33], [1, 6, 0x33], [1, 7, 0x33],
  [0, 0, 0x3b], [0x20, 0, 0x3b], [0, 1, 0x3b], [0, 5, 0x3b], [0x20, 5, 0x3b],
  [1, 0, 0x3b], [1, 4, 0x3b], [1, 5, 0x3b], [1, 6, 0x3b], [1, 7, 0x3b],
  [0x10, 2, 0x33], [0x10, 4, 0x33], [0x10, 6, 0x33], [4, 0, 0x3b], [0x10, 2, 0x3b], [0x10, 4, 0x3b], [0x10, 6, 0x3b],
  [0x20, 7, 0x33], [0x20, 6, 0x33], [0x20, 4, 0x33], [5, 4, 0x33], [5, 5, 0x33], [5, 6, 0x33], [5, 7, 0x33],
  [0x30, 1, 0x33], [0x30, 5, 0x33], [0x30, 1, 0x3b], [0x30, 5, 0x3b],
  [0x24, 1, 0x33], [0x24, 5, 0x33], [0x34, 1, 0x33], [0x14, 1, 0x33], [7, 5, 0x33], [7, 7, 0x33],
];
/** Register-immediate ops as encoders of (rd, rs1, arbitrary int). */
const RI: ((rd: number, rs1: number, v: number) => number)[] = [
  (d, s, v) => I(v, s, 0, d, 0x13), (d, s, v) => I(v, s, 2, d, 0x13), (d, s, v) => I(v, s, 3, d, 0x13),
  (d, s, v) => I(v, s, 4, d, 0x13), (d, s, v) => I(v, s, 6, d, 0x13), (d, s, v) => I(v, s, 7, d, 0x13),
  (d, s, v) => I(v & 63, s, 1, d, 0x13), (d, s, v) => I(v & 63, s, 5, d, 0x13), (d, s, v) => I(0x400 | (v & 63), s, 5, d, 0x13),
  (d, s, v) => I(v, s, 0, d, 0x1b), (d, s, v) => I(v & 31, s, 1, d, 0x1b), (d, s, v) => I(v & 31, s, 5, d, 0x1b),
  (d, s, v) => I(0x400 | (v & 31), s, 5, d, 0x1b),
  (d, _s, v) => U(v << 12, d, 0x37), (d, _s, v) => U(v << 12, d, 0x17),
  (d, s, v) => I(0x080 | (v & 63), s, 1, d, 0x1b), // slli.uw
  (d, s) => I(0x600, s, 1, d, 0x13), (d, s) => I(0x601, s, 1, d, 0x13), (d, s) => I(0x602, s, 1, d, 0x13), // clz ctz cpop
  (d, s) => I(0x600, s, 1, d, 0x1b), (d, s) => I(0x601, s, 1, d, 0x1b), (d, s) => I(0x602, s, 1, d, 0x1b), // w forms
  (d, s) => I(0x604, s, 1, d, 0x13), (d, s) => I(0x605, s, 1, d, 0x13), (d, s) => R(4, 0, s, 4, d, 0x3b), // sext zext.h
  (d, s, v) => I(0x600 | (v & 63), s, 5, d, 0x13), (d, s, v) => I(0x600 | (v & 31), s, 5, d, 0x1b), // rori roriw
  (d, s) => I(0x287, s, 5, d, 0x13), (d, s) => I(0x6b8, s, 5, d, 0x13), // orc.b rev8
  (d, s, v) => I(0x480 | (v & 63), s, 1, d, 0x13), (d, s, v) => I(0x480 | (v & 63), s, 5, d, 0x13), // bclri bexti
  (d, s, v) => I(0x680 | (v & 63), s, 1, d, 0x13), (d, s, v) => I(0x280 | (v & 63), s, 1, d, 0x13), // binvi bseti
];

/** Registers the random programs use: x5..x15 (x1..x4 hold the data base and loop state, x0 reads 0). */
const REG = fc.integer({ min: 0, max: 15 }).map((r) => (r >= 1 && r <= 4 ? r + 10 : r));
const VALUE = fc.oneof(
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.constantFrom(0n, 1n, -1n, -(2n ** 63n), 2n ** 63n - 1n, 2n ** 31n, -(2n ** 31n), 0xffffffffn),
);
const BASE_REG = fc.oneof({ weight: 12, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.constant(2) });
type Insn = { kind: 'rr'; i: number; rd: number; a: number; b: number }
  | { kind: 'ri'; i: number; rd: number; a: number; v: number }
  | { kind: 'ld'; f3: number; rd: number; off: number; base: number }
  | { kind: 'st'; f3: number; rs: number; off: number; base: number }
  | { kind: 'br'; f3: number; a: number; b: number; skip: number }
  | { kind: 'amo'; f5: number; d: boolean; rd: number; rs: number; base: number };
const INSN: fc.Arbitrary<Insn> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('rr' as const), i: fc.nat(RR.length - 1), rd: REG, a: REG, b: REG }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('ri' as const), i: fc.nat(RI.length - 1), rd: REG, a: REG, v: fc.integer({ min: -2048, max: 2047 }) }) },
  // offsets from x1 (the data page + 0x800): any alignment, some crossing into the next page; now and then
  // from x2 (0x100, page 0: not RAM, so the access faults; its TLB entry is empty)
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('ld' as const), f3: fc.constantFrom(0, 1, 2, 3, 4, 5, 6), rd: REG, off: fc.integer({ min: -2048, max: 2047 }), base: BASE_REG }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('st' as const), f3: fc.constantFrom(0, 1, 2, 3), rs: REG, off: fc.integer({ min: -2048, max: 2047 }), base: BASE_REG }) },
  // AMOs, LR and SC through x1 (aligned), x2 (faults) or x4 (misaligned: data + 0x802)
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('amo' as const), f5: fc.constantFrom(0x00, 0x01, 0x04, 0x0c, 0x08, 0x10, 0x14, 0x18, 0x1c, 0x02, 0x03, 0x02, 0x03), d: fc.boolean(), rd: REG, rs: REG, base: fc.constantFrom(1, 1, 1, 1, 1, 1, 2, 4) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('br' as const), f3: fc.constantFrom(0, 1, 4, 5, 6, 7), a: REG, b: REG, skip: fc.integer({ min: 1, max: 3 }) }) },
);

function encode(p: Insn): number {
  switch (p.kind) {
    case 'rr': { const [f7, f3, opc] = RR[p.i]; return R(f7, p.b, p.a, f3, p.rd, opc); }
    case 'ri': return RI[p.i](p.rd, p.a, p.v);
    case 'ld': return I(p.base === 2 ? p.off & 0xff : p.off, p.base, p.f3, p.rd, 0x03);
    case 'st': return Sx(p.base === 2 ? p.off & 0xff : p.off, p.rs, p.base, p.f3);
    case 'br': return B(4 * (p.skip + 1), p.b, p.a, p.f3);
    case 'amo': return ((p.f5 << 27) | ((p.f5 === 0x02 ? 0 : p.rs) << 20) | (p.base << 15) | ((p.d ? 3 : 2) << 12) | (p.rd << 7) | 0x2f) >>> 0;
  }
}

interface Final {
  x: bigint[];
  pc: bigint;
  mepc: bigint;
  mcause: number;
  mtval: bigint;
  retired: number;
  data: Uint8Array;
}

const word64 = (s: Int32Array, i: number) => BigInt.asIntN(64, (BigInt(s[i + 1]) << 32n) | BigInt(s[i] >>> 0));

/** Runs `words` at BASE in a fresh hart until it has spent `budget` instructions or more; returns its state. */
function runProgram(mode: JitMode, words: number[], regs: bigint[], budget: number): Final {
  return run(mode, words, regs, budget).final;
}

function run(mode: JitMode, words: number[], regs: bigint[], budget: number, setup?: (h: Hart) => void): { final: Final; hart: Hart } {
  const ram = new GuestRam(BASE, 1 << 16);
  const code = new CodeCache(ram);
  const h = new Hart({ hartId: 0, ram, bus: new Bus(), code, clint: new Clint(new Timebase({ nowNs: () => 0 }), 1), jit: mode });
  ram.write(BASE, new Uint8Array(new Uint32Array(words).buffer));
  ram.write(TRAP_VEC, new Uint8Array(new Uint32Array([CSRR(27, 0xb02), JSELF]).buffer));
  const data = new Uint8Array(4096);
  for (let i = 0; i < data.length; i++) data[i] = (i * 131 + 7) & 0xff;
  ram.write(DATA, data);
  h.reset(BASE | 0, 0);
  regs.forEach((v, i) => {
    if (i === 0) return;
    h.x[2 * i] = Number(BigInt.asIntN(32, v));
    h.x[2 * i + 1] = Number(BigInt.asIntN(32, v >> 32n));
  });
  const s = h.s;
  s[S.MTVEC] = TRAP_VEC | 0;
  s[S.MTVEC + 1] = 0;
  setup?.(h);
  let left = budget;
  while (left > 0) left -= h.run(Math.min(left, 5000));
  const final = {
    x: Array.from({ length: 32 }, (_, i) => word64(h.x, 2 * i)),
    pc: word64(s, S.PC), mepc: word64(s, S.MEPC), mcause: s[S.MCAUSE], mtval: word64(s, S.MTVAL),
    retired: h.retired, data: ram.read(DATA, 4096),
  };
  return { final, hart: h };
}

/** A program: x1 = data + 0x800, x2 = an address outside RAM, x3 = loop count, x4 = x1 + 2; the body `loops`
 *  times; j . */
function program(body: Insn[], loops: number): number[] {
  const words = [
    U(DATA + 0x1000, 1, 0x37), // lui x1, data+0x1000 (bit 31 set: sign-extended, made positive below)
    R(4, 0, 1, 0, 1, 0x3b), // add.uw x1, x1, x0: zero-extend
    I(-0x800, 1, 0, 1, 0x13), // x1 = data + 0x800
    I(0x100, 0, 0, 2, 0x13), // x2 = 0x100 (not RAM: a load or store through it faults)
    I(loops, 0, 0, 3, 0x13),
    I(2, 1, 0, 4, 0x13), // x4 = x1 + 2: misaligned for atomics
  ];
  const top = words.length;
  for (const p of body) words.push(encode(p));
  // a branch at the body's end may skip past it: pad with nops
  for (let k = 0; k < 3; k++) words.push(I(0, 0, 0, 0, 0x13));
  words.push(I(-1, 3, 0, 3, 0x13)); // x3 -= 1
  words.push(B(4 * (top - words.length), 0, 3, 1)); // bnez x3, top
  words.push(JSELF);
  return words;
}

test('random integer programs end in the same state translated and interpreted', () => {
  fc.assert(
    fc.property(fc.array(INSN, { minLength: 1, maxLength: 40 }), fc.array(VALUE, { minLength: 32, maxLength: 32 }), fc.integer({ min: 1, max: 30 }), (body, regs, loops) => {
      const words = program(body, loops);
      // enough instructions to finish, or to reach the trap handler's self-loop
      const budget = 60 * (body.length + 10) * loops + 1000;
      const off = runProgram('off', words, regs, budget);
      const all = runProgram('all', words, regs, budget);
      // the counts differ only by the extra turns of the final `j .` (translated code checks its budget at
      // backward jumps), so compare everything else
      assert.deepEqual({ ...all, retired: 0 }, { ...off, retired: 0 });
      assert.equal(all.x[27], off.x[27], 'minstret read in the trap handler');
    }),
    { numRuns: 300 },
  );
});

test('a load that faults in the middle of a translated block traps precisely', () => {
  const words = [
    I(5, 0, 0, 5, 0x13), // x5 = 5
    I(6, 0, 0, 6, 0x13), // x6 = 6
    I(0x100, 0, 0, 2, 0x13),
    I(8, 2, 3, 7, 0x03), // ld x7, 8(x2): access fault
    I(9, 0, 0, 8, 0x13), // never runs
    JSELF,
  ];
  for (const mode of ['off', 'all'] as const) {
    const f = runProgram(mode, words, new Array(32).fill(0n), 50);
    assert.equal(f.mcause, 5, `${mode}: load access fault`);
    assert.equal(f.mepc, BigInt(BASE + 12), `${mode}: epc is the load`);
    assert.equal(f.mtval, 0x108n, `${mode}: tval is the address`);
    assert.deepEqual([f.x[5], f.x[6], f.x[8]], [5n, 6n, 0n], `${mode}: registers before the fault are written`);
    assert.equal(f.x[27], 3n, `${mode}: minstret counts the three instructions before the fault`);
  }
});

test('code that stores over its own translated page runs the new instructions', () => {
  // loop 3 times: patch the instruction at `slot` to `addi x10, x10, k` with k = 1, 2, 3 (rewriting the
  // immediate), fence.i, run it. The result is 1 + 2 + 3 = 6 only if every patch is seen.
  const slot = 9 * 4;
  const words = [
    U(BASE, 1, 0x37), R(4, 0, 1, 0, 1, 0x3b), // x1 = BASE
    I(3, 0, 0, 3, 0x13), // x3 = 3 (loop counter)
    I(0, 0, 0, 4, 0x13), // x4 = 0 (k)
    // loop:
    I(1, 4, 0, 4, 0x13), // k += 1
    I(20, 4, 1, 5, 0x13), // x5 = k << 20 (imm field)
    R(0, 5, 6, 6, 5, 0x33), // x5 |= x6, with x6 = the encoding of addi x10, x10, 0
    Sx(slot, 5, 1, 2), // sw x5, slot(x1)
    I(0, 0, 1, 0, 0x0f), // fence.i
    I(0, 10, 0, 10, 0x13), // slot: addi x10, x10, 0 (patched)
    I(-1, 3, 0, 3, 0x13),
    B(-7 * 4, 0, 3, 1), // bnez x3, loop
    JSELF,
  ];
  const regs = new Array(32).fill(0n);
  regs[6] = BigInt(I(0, 10, 0, 10, 0x13));
  for (const mode of ['off', 'all', 'on'] as const) {
    const f = runProgram(mode, words, regs, 200);
    assert.equal(f.x[10], 6n, `${mode}: each patched addi ran`);
  }
});

test('translated pages that call each other run from page to page in wasm, and a fault there traps precisely', () => {
  // page 0 calls a function on each of pages 1, 2 and 3, 20 times; in the last turn page 1's load faults (the
  // last page entered from JavaScript is page 3: the fault is in a page reached through the trampoline)
  const words = new Array<number>(4 * 1024).fill(I(0, 0, 0, 0, 0x13));
  const at = (page: number, list: number[]) => list.forEach((w, i) => { words[page * 1024 + i] = w; });
  const RET = I(0, 1, 0, 0, 0x67); // jalr x0, 0(ra)
  at(0, [
    I(-1, 3, 0, 3, 0x13), // loop: x3 -= 1
    B(8, 0, 3, 1), // bnez x3, +8
    I(0x100, 0, 0, 9, 0x13), // x9 = 0x100: not RAM
    J(0x1000 - 12, 1), // jal ra, page 1
    J(0x2000 - 16, 1), // jal ra, page 2
    J(0x3000 - 20, 1), // jal ra, page 3
    J(-24, 0), // j loop
  ]);
  at(1, [I(1, 10, 0, 10, 0x13), Sx(0, 10, 2, 3), I(0, 2, 3, 11, 0x03), I(8, 9, 3, 7, 0x03), R(0, 11, 12, 0, 12, 0x33),
    R(0, 7, 16, 0, 16, 0x33), RET]);
  at(2, [R(1, 11, 10, 0, 13, 0x33), R(0, 13, 14, 0, 14, 0x33), RET]);
  at(3, [I(3, 15, 0, 15, 0x13), RET]);
  const regs = new Array(32).fill(0n);
  regs[2] = BigInt(DATA + 0x800);
  regs[3] = 20n;
  regs[9] = BigInt(DATA);
  const off = run('off', words, regs, 2000).final;
  const { final: all, hart } = run('all', words, regs, 2000);
  assert.equal(off.mcause, 5, `load access fault (${off.mcause} at 0x${off.mepc.toString(16)}, tval 0x${off.mtval.toString(16)})`);
  assert.equal(off.mepc, BigInt(BASE + 0x100c), 'at the load on page 1');
  assert.deepEqual({ ...all, retired: 0 }, { ...off, retired: 0 });
  assert.equal(all.x[27], off.x[27], 'minstret read in the trap handler');
  const st = hart.jit!.stats;
  assert.ok(st.runs - st.entered >= 50, `calls from page to page stayed in wasm (${st.runs} calls, ${st.entered} from JavaScript)`);
});

const CSR = (f3: number, rd: number, csr: number, rs1: number) => I(csr, rs1, f3, rd, 0x73);
const CBO_ZERO = (rs1: number) => I(4, rs1, 2, 0, 0x0f);
const SSTATUS = 0x100;
const SFENCE = (rs1: number) => ((0x09 << 25) | (rs1 << 15) | 0x73) >>> 0;

test('sstatus reads, sets and clears, and cbo.zero, end in the same state translated and interpreted', () => {
  // writes of SIE and SUM run translated; SPP, or clearing SUM, is left to the interpreter mid-block
  const words = [
    CSR(6, 5, SSTATUS, 2), // csrrsi x5, sstatus, SIE
    CSR(7, 6, SSTATUS, 2), // csrrci x6, sstatus, SIE
    CSR(2, 7, SSTATUS, 8), // csrrs x7, sstatus, x8 (SUM | SIE)
    CSR(3, 9, SSTATUS, 10), // csrrc x9, sstatus, x10 (SUM: the interpreter)
    CSR(2, 11, SSTATUS, 12), // csrrs x11, sstatus, x12 (SPP: the interpreter)
    CSR(3, 11, SSTATUS, 12), // csrrc x11, sstatus, x12
    CSR(2, 13, SSTATUS, 0), // csrr x13, sstatus
    CBO_ZERO(14), // zero the block of data + 0x45
    I(64, 14, 0, 14, 0x13), // next block
    I(-1, 3, 0, 3, 0x13),
    B(-40, 0, 3, 1), // bnez x3, top
    CSR(2, 15, SSTATUS, 0),
    JSELF,
  ];
  const regs = new Array(32).fill(0n);
  regs[3] = 5n;
  regs[8] = (1n << 18n) | 2n;
  regs[10] = 1n << 18n;
  regs[12] = 1n << 8n;
  regs[14] = BigInt(DATA + 0x45);
  const off = runProgram('off', words, regs, 500);
  const all = runProgram('all', words, regs, 500);
  assert.equal(off.mcause, 0, 'no trap');
  assert.ok(off.data.subarray(0x40, 0x40 + 5 * 64).every((b) => b === 0), 'five blocks zeroed');
  assert.notEqual(off.data[0x40 + 5 * 64], 0, 'and no more');
  assert.equal(off.x[15], off.x[13], 'sstatus ends as it was after the first turn');
  assert.deepEqual({ ...all, retired: 0 }, { ...off, retired: 0 });
});

/**
 * Words that leave M-mode for privilege `mpp` (0: U, 1: S) at the instruction after them, with PMP entry 0
 * granting everything; they use x20 and the values `lowerModeRegs` puts in x21-x24.
 */
function toLowerMode(mpp: 0 | 1): number[] {
  return [
    CSR(1, 0, 0x3b0, 21), // pmpaddr0 = all: the lower mode may fetch and access everything
    CSR(1, 0, 0x3a0, 22), // pmpcfg0 = NAPOT, RWX
    CSR(3, 0, 0x300, 23), // mstatus.MPP = U
    ...(mpp === 1 ? [CSR(2, 0, 0x300, 24)] : []), // mstatus.MPP = S
    U(0, 20, 0x17), // auipc x20, 0
    I(16, 20, 0, 20, 0x13), // x20 += 16: the instruction after mret
    CSR(1, 0, 0x341, 20), // mepc = x20
    0x30200073, // mret
  ];
}
function lowerModeRegs(regs: bigint[]): bigint[] {
  regs[21] = -1n;
  regs[22] = 0x1fn;
  regs[23] = 3n << 11n;
  regs[24] = 1n << 11n;
  return regs;
}

test('cbo.zero in S-mode without menvcfg.CBZE is an illegal instruction, translated or not', () => {
  const words = [
    ...toLowerMode(1),
    CBO_ZERO(14), // in S-mode: illegal
    JSELF,
  ];
  const regs = lowerModeRegs(new Array(32).fill(0n));
  regs[14] = BigInt(DATA);
  for (const mode of ['off', 'all'] as const) {
    const f = runProgram(mode, words, regs, 200);
    assert.equal(f.mcause, 2, `${mode}: illegal instruction`);
    assert.equal(f.mepc, BigInt(BASE + 32), `${mode}: at the cbo.zero`);
    assert.equal(f.data[0], (7) & 0xff, `${mode}: the block is not zeroed`);
  }
});

test('the translator keeps in wasm the sstatus writes of SIE and SUM, cbo.zero, sfence.vma, and fence.i when it needs nothing', () => {
  const ram = new GuestRam(BASE, 1 << 16);
  const words = [
    CSR(6, 5, SSTATUS, 2), CSR(7, 6, SSTATUS, 2), CSR(2, 7, SSTATUS, 8), CSR(3, 9, SSTATUS, 10), CBO_ZERO(14),
    I(0, 0, 1, 0, 0x0f), // fence.i
    SFENCE(5), SFENCE(0),
    JSELF,
  ];
  ram.write(BASE, new Uint8Array(new Uint32Array(words).buffer));
  const mem = { pages: ram.memory.buffer.byteLength / 65536, shared: ram.shared, ramBase: BASE };
  const local = translatePage(ram.u16, 0, [0], ram.hartArea(0), mem, { localFenceI: true });
  assert.equal(local?.instructions, words.length, 'every instruction translated');
  const remote = translatePage(ram.u16, 0, [0], ram.hartArea(0), mem, { localFenceI: false });
  assert.equal(remote?.instructions, words.length - 1, 'fence.i left to the interpreter: harts in other threads');
  // csrrwi, a csrrsi of another bit and cbo.clean go to the interpreter
  ram.write(BASE, new Uint8Array(new Uint32Array([CSR(5, 5, SSTATUS, 2), CSR(6, 5, SSTATUS, 8), I(1, 14, 2, 0, 0x0f), JSELF, 0, 0, 0, 0, 0, 0, 0]).buffer));
  assert.equal(translatePage(ram.u16, 0, [0, 4, 8, 12], ram.hartArea(0), mem, { localFenceI: true })?.instructions, 1, 'only the jump');
});

test('an interrupt pending when translated code sets sstatus.SIE is taken right after that instruction', () => {
  // S-mode, a supervisor software interrupt pending and delegated; the loop enables interrupts for one
  // instruction each turn, its backward jump runs with them disabled
  const words = [
    CSR(6, 5, SSTATUS, 2), // csrrsi x5, sstatus, SIE: the interrupt is taken after this
    CSR(7, 0, SSTATUS, 2), // csrrci x0, sstatus, SIE
    I(1, 6, 0, 6, 0x13), // x6 += 1: never runs
    J(-12, 0), // j 0
  ];
  const setup = (h: Hart) => {
    const s = h.s;
    s[S.PMPADDR] = -1;
    s[S.PMPADDR + 1] = 0x3fffff;
    s[S.PMPCFG] = 0x1f; // NAPOT, RWX: S-mode may fetch
    h.mmu.pmp.update();
    s[S.PRIV] = 1; // S
    s[S.MIDELEG] = 2; // SSI to S
    s[S.MIE] = 2;
    s[S.MIP] = 2; // SSIP pending
    s[S.STVEC] = TRAP_VEC | 0;
    s[S.STVEC + 1] = 0;
  };
  for (const mode of ['off', 'all'] as const) {
    const { hart: h, final: f } = run(mode, words, new Array(32).fill(0n), 20_000, setup);
    assert.equal(h.s[S.SCAUSE + 1] >>> 31, 1, `${mode}: an interrupt trap`);
    assert.equal(h.s[S.SCAUSE], 1, `${mode}: the supervisor software interrupt`);
    assert.equal(h.s[S.SEPC], (BASE + 4) | 0, `${mode}: taken after the csrrsi`);
    assert.equal(f.x[6], 0n, `${mode}: the loop never went on`);
  }
});

test('sfence.vma runs translated in M-mode and is an illegal instruction in U-mode, translated or not', () => {
  const words = [
    I(1, 6, 0, 6, 0x13), SFENCE(5), I(1, 6, 0, 6, 0x13), SFENCE(0), I(1, 6, 0, 6, 0x13), // M-mode: allowed
    ...toLowerMode(0),
    SFENCE(5), // in U-mode: illegal
    JSELF,
  ];
  const regs = lowerModeRegs(new Array(32).fill(0n));
  regs[5] = BigInt(DATA);
  for (const mode of ['off', 'all'] as const) {
    const f = runProgram(mode, words, regs, 200);
    assert.equal(f.x[6], 3n, `${mode}: the M-mode fences went through`);
    assert.equal(f.mcause, 2, `${mode}: illegal instruction`);
    assert.equal(f.mepc, BigInt(BASE + 48), `${mode}: at the U-mode sfence.vma`);
  }
});
