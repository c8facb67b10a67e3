// Random straight-line RISC-V program generator for differential testing (tvisor bare vs qemu-riscv64 user mode).
//
// A program is: register/buffer initialisation, a list of "items" (one instruction, or a short fixed group such as
// "bne over one instruction" or "addi x31, base, off; amoadd.d ..."), then a dump of all registers and the scratch
// buffer. The same assembly source is used for both targets; `-DTVISOR` only selects the prologue/epilogue
// (Linux syscalls vs HTIF) and nothing inside the instruction stream, except for instructions that QEMU 7.2 (the
// installed qemu-riscv64) does not implement or gets wrong, which the QEMU variant replaces by an exact equivalent
// sequence (macros in PRELUDE): Zicond (czero.eqz/czero.nez), Zicboz cbo.zero (CMOs are illegal in QEMU's user
// mode; cbo.clean/flush/inval have no architecturally visible effect and become nothing there) and Zbb ctzw
// (QEMU 7.2 bug: ctzw of 0x0000001000000000 gives 36 instead of 32).
//
// Register conventions inside the stream:
//   x2 (sp)  = buffer start (used by c.lwsp/c.ldsp/c.swsp/c.sdsp/c.addi4spn/c.addi16sp), never an ALU operand;
//   x8 (s0)  = buffer start + 512, the base for every other load/store, never written;
//   x31 (t6) = address temporary for AMOs, LR/SC, CBOs and indirect jumps, never an ALU operand.
// Their values depend on where the program is linked, so the dump stores them as offsets from the buffer start.
// All other registers (x1, x3..x7, x9..x30) are random-initialised and freely used. x8 is page-aligned, so
// accesses near it cross a page boundary. Items whose results would depend on the link address (auipc, jal/jalr
// links) subtract the expected address, leaving a position-independent value. The stream is in a writable and
// executable section so that self-modifying-code items can patch it (followed by fence.i).
//
// Profiles (generate(seed, count, profile)) change the mix: mixed, alu, mem, control.

/** Small fast deterministic PRNG (sfc32 seeded through splitmix32). */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 16; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform integer in [lo, hi] (inclusive). */
  int(lo: number, hi: number): number {
    return lo + Math.floor((this.u32() / 0x1_0000_0000) * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.u32() / 0x1_0000_0000 < p;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(0, xs.length - 1)];
  }

  u64(): bigint {
    return (BigInt(this.u32()) << 32n) | BigInt(this.u32());
  }
}

const MASK64 = (1n << 64n) - 1n;
const u64 = (v: bigint): bigint => v & MASK64;

/** Interesting 64-bit values (as unsigned). */
const SPECIAL: readonly bigint[] = [
  0n, 1n, 2n, 3n, u64(-1n), u64(-2n),
  1n << 63n, (1n << 63n) - 1n, // INT64_MIN / INT64_MAX
  u64(-(1n << 31n)), (1n << 31n) - 1n, // INT32_MIN (sign-extended) / INT32_MAX
  0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, 0xffffffff00000000n, 0x00000000ffff8000n,
  0x7fn, 0x80n, 0xffn, 0x7fffn, 0x8000n, 0xffffn, u64(-0x80n), u64(-0x8000n),
  5n, 31n, 32n, 33n, 63n, 64n, 65n, 127n, u64(-31n), u64(-63n),
  0x8000000000000001n, 0xfffffffffffff800n, 0x7ffn, 0x5555555555555555n, 0xaaaaaaaaaaaaaaaan,
];

/** A random 64-bit value drawn from a mix of distributions that reach the edge cases. */
export function randomValue(rng: Rng): bigint {
  switch (rng.int(0, 9)) {
    case 0:
    case 1:
      return rng.pick(SPECIAL);
    case 2:
      return BigInt(rng.int(0, 70)); // small values, usable as shift amounts
    case 3: {
      const v = BigInt(rng.u32() | 0); // sign-extended 32-bit
      return u64(v);
    }
    case 4:
      return BigInt(rng.u32()); // zero-extended 32-bit
    case 5:
      return u64(rng.u64() | (1n << 63n)); // high bit set
    case 6:
      return u64(1n << BigInt(rng.int(0, 63))) ^ (rng.chance(0.5) ? MASK64 : 0n); // one-hot / one-cold
    case 7: {
      const b = BigInt(rng.int(0, 255));
      let v = 0n;
      for (let i = 0; i < 8; i++) v |= (rng.chance(0.7) ? b : 0n) << BigInt(8 * i); // byte patterns (orc.b/rev8)
      return v;
    }
    case 8:
      return u64(BigInt(rng.int(-2048, 2047)));
    default:
      return rng.u64();
  }
}

export const BUF_SIZE = 1024;
/** Offset of x8 (the load/store base) from the buffer start. */
export const BASE_OFF = 512;
/** Bytes in the dump before the buffer: 32 registers. */
export const REG_DUMP = 32 * 8;
export const DUMP_SIZE = REG_DUMP + BUF_SIZE;
/** Registers holding addresses (dumped as offsets from the buffer start). */
export const ADDR_REGS: readonly number[] = [2, 8, 31];
const RESERVED = new Set(ADDR_REGS);
/** Registers free for random use. */
export const POOL: readonly number[] = Array.from({ length: 32 }, (_, i) => i).filter((i) => i !== 0 && !RESERVED.has(i));
/** Free registers usable in the 3-bit fields of compressed instructions (x8..x15 minus the base x8). */
const CPOOL: readonly number[] = POOL.filter((r) => r >= 8 && r <= 15);

export const ABI = [
  'zero', 'ra', 'sp', 'gp', 'tp', 't0', 't1', 't2', 's0', 's1', 'a0', 'a1', 'a2', 'a3', 'a4', 'a5',
  'a6', 'a7', 's2', 's3', 's4', 's5', 's6', 's7', 's8', 's9', 's10', 's11', 't3', 't4', 't5', 't6',
] as const;

export interface Item {
  /** Assembly lines (may contain `@N` placeholders for unique label numbers, resolved at emit time). */
  lines: string[];
  /** Short human-readable description: the instruction(s) under test. */
  desc: string;
  /** Registers this item reads (for diagnostics). */
  reads: number[];
}

export interface Program {
  seed: number;
  profile: Profile;
  /** Initial values of x0..x31 (entries for x0 and the address registers are ignored). */
  init: bigint[];
  /** Initial buffer contents. */
  buffer: Uint8Array;
  items: Item[];
}

const x = (r: number): string => `x${r}`;
const hex = (v: bigint): string => `0x${v.toString(16)}`;

const R_OPS = [
  'add', 'sub', 'sll', 'slt', 'sltu', 'xor', 'srl', 'sra', 'or', 'and', 'addw', 'subw', 'sllw', 'srlw', 'sraw',
  'mul', 'mulh', 'mulhsu', 'mulhu', 'div', 'divu', 'rem', 'remu', 'mulw', 'divw', 'divuw', 'remw', 'remuw',
  'add.uw', 'sh1add', 'sh2add', 'sh3add', 'sh1add.uw', 'sh2add.uw', 'sh3add.uw',
  'andn', 'orn', 'xnor', 'max', 'maxu', 'min', 'minu', 'rol', 'rolw', 'ror', 'rorw',
  'bclr', 'bext', 'binv', 'bset',
  'czero.eqz', 'czero.nez',
] as const;
/** Base-ISA ALU operations only (allowed between LR and SC). */
const BASE_R_OPS = ['add', 'sub', 'sll', 'slt', 'sltu', 'xor', 'srl', 'sra', 'or', 'and', 'addw', 'subw', 'sllw', 'srlw', 'sraw'];
const UNARY_OPS = [
  'clz', 'clzw', 'ctz', 'ctzw', 'cpop', 'cpopw', 'sext.b', 'sext.h', 'zext.h', 'orc.b', 'rev8',
  'sext.w', 'zext.w', 'neg', 'negw', 'not', 'seqz', 'snez', 'sltz', 'sgtz', 'mv',
] as const;
const I_OPS = ['addi', 'slti', 'sltiu', 'xori', 'ori', 'andi', 'addiw'] as const;
const SHIFT_OPS = ['slli', 'srli', 'srai', 'rori', 'bclri', 'bexti', 'binvi', 'bseti', 'slli.uw'] as const;
const SHIFTW_OPS = ['slliw', 'srliw', 'sraiw', 'roriw'] as const;
const LOADS: ReadonlyArray<[string, number]> = [['lb', 1], ['lbu', 1], ['lh', 2], ['lhu', 2], ['lw', 4], ['lwu', 4], ['ld', 8]];
const STORES: ReadonlyArray<[string, number]> = [['sb', 1], ['sh', 2], ['sw', 4], ['sd', 8]];
const AMOS = ['amoswap', 'amoadd', 'amoxor', 'amoand', 'amoor', 'amomin', 'amomax', 'amominu', 'amomaxu'] as const;
const ORDER = ['', '.aq', '.rl', '.aqrl'] as const;
const BRANCHES = ['beq', 'bne', 'blt', 'bge', 'bltu', 'bgeu'] as const;

class Generator {
  private recent: number[] = [];

  constructor(private readonly rng: Rng) {}

  /** A source register: biased towards recently written ones so results feed into later instructions. */
  private src(allowZero = true): number {
    const r = this.rng;
    if (allowZero && r.chance(0.04)) return 0;
    if (this.recent.length > 0 && r.chance(0.45)) return r.pick(this.recent);
    return r.pick(POOL);
  }

  private csrc(): number {
    const r = this.rng;
    const rc = this.recent.filter((v) => CPOOL.includes(v));
    if (rc.length > 0 && r.chance(0.4)) return r.pick(rc);
    return r.pick(CPOOL);
  }

  private dst(allowZero = true): number {
    const r = this.rng;
    const d = allowZero && r.chance(0.03) ? 0 : r.pick(POOL);
    this.wrote(d);
    return d;
  }

  private cdst(): number {
    const d = this.rng.pick(CPOOL);
    this.wrote(d);
    return d;
  }

  private wrote(d: number): void {
    if (d === 0) return;
    this.recent.push(d);
    if (this.recent.length > 6) this.recent.shift();
  }

  private imm12(): number {
    const r = this.rng;
    if (r.chance(0.25)) return r.pick([0, 1, -1, 2, -2, 2047, -2048, 0x7f, 0x80, 0xff, 0x3ff, 0x400, -0x800 + 1, 31, 32, 63]);
    return r.int(-2048, 2047);
  }

  private imm6(nonzero: boolean): number {
    let v: number;
    do v = this.rng.chance(0.3) ? this.rng.pick([-32, -1, 0, 1, 31]) : this.rng.int(-32, 31);
    while (nonzero && v === 0);
    return v;
  }

  private shamt(max: number): number {
    return this.rng.chance(0.3) ? this.rng.pick([0, 1, max >> 1, (max >> 1) - 1, max - 1, max]) : this.rng.int(0, max);
  }

  /** A buffer offset (relative to x8) for an access of `width` bytes; aligned when `aligned`. */
  private memOff(width: number, aligned: boolean): number {
    const lo = -BASE_OFF;
    const hi = BUF_SIZE - BASE_OFF - width;
    // x8 is page-aligned: bias some offsets towards it so misaligned accesses straddle the page boundary.
    let off = this.rng.chance(0.2) ? this.rng.int(-width, 0) : this.rng.int(lo, hi);
    if (aligned) off -= ((off % width) + width) % width;
    return off;
  }

  /** Wraps an item's lines in `.option norvc` so the assembler cannot compress them. */
  private maybeNoRvc(it: Item): Item {
    if (this.rng.chance(0.3)) it.lines = ['.option push', '.option norvc', ...it.lines, '.option pop'];
    return it;
  }

  private one(line: string, reads: number[]): Item {
    return { lines: [line], desc: line, reads };
  }

  /** R-type ALU op, optionally restricted to base-ISA ops. */
  private rtype(baseOnly = false): Item {
    const op = this.rng.pick(baseOnly ? BASE_R_OPS : R_OPS);
    const a = this.src();
    const b = this.rng.chance(0.1) ? a : this.src();
    const d = this.dst();
    const text = `${op} ${x(d)}, ${x(a)}, ${x(b)}`;
    // Zicond goes through a macro so the QEMU variant can substitute an equivalent sequence.
    const line = op.startsWith('czero') ? `${op.replace('.', '_')} ${x(d)}, ${x(a)}, ${x(b)}` : text;
    return { lines: [line], desc: text, reads: [a, b] };
  }

  private unary(): Item {
    const op = this.rng.pick(UNARY_OPS);
    const a = this.src();
    const d = this.dst();
    const text = `${op} ${x(d)}, ${x(a)}`;
    // ctzw goes through a macro: QEMU 7.2 gets it wrong (see PRELUDE).
    return { lines: [op === 'ctzw' ? `ctzw_ ${x(d)}, ${x(a)}` : text], desc: text, reads: [a] };
  }

  private itype(baseOnly = false): Item {
    const r = this.rng;
    const kind = baseOnly ? r.int(0, 1) : r.int(0, 3);
    const a = this.src();
    if (kind === 0) {
      const op = r.pick(I_OPS);
      const imm = this.imm12();
      return this.one(`${op} ${x(this.dst())}, ${x(a)}, ${imm}`, [a]);
    }
    if (kind === 1) {
      const op = r.pick(['slli', 'srli', 'srai', 'slliw', 'srliw', 'sraiw']);
      const sh = this.shamt(op.endsWith('w') ? 31 : 63);
      return this.one(`${op} ${x(this.dst())}, ${x(a)}, ${sh}`, [a]);
    }
    if (kind === 2) {
      const op = r.pick(SHIFT_OPS);
      return this.one(`${op} ${x(this.dst())}, ${x(a)}, ${this.shamt(63)}`, [a]);
    }
    const op = r.pick(SHIFTW_OPS);
    return this.one(`${op} ${x(this.dst())}, ${x(a)}, ${this.shamt(31)}`, [a]);
  }

  private lui(): Item {
    const r = this.rng;
    const imm = r.chance(0.3) ? r.pick([0, 1, 0x7ffff, 0x80000, 0xfffff, 0x80001]) : r.int(0, 0xfffff);
    return this.one(`lui ${x(this.dst())}, ${hex(BigInt(imm))}`, []);
  }

  private li(): Item {
    return this.one(`li ${x(this.dst(false))}, ${hex(randomValue(this.rng))}`, []);
  }

  private load(): Item {
    const [op, w] = this.rng.pick(LOADS);
    const off = this.memOff(w, this.rng.chance(0.6));
    return this.one(`${op} ${x(this.dst())}, ${off}(x8)`, [8]);
  }

  private store(): Item {
    const [op, w] = this.rng.pick(STORES);
    const off = this.memOff(w, this.rng.chance(0.6));
    const s = this.src();
    return this.one(`${op} ${x(s)}, ${off}(x8)`, [s, 8]);
  }

  /** Explicitly compressed instructions. */
  private compressed(): Item {
    const r = this.rng;
    switch (r.int(0, 21)) {
      case 0: {
        const d = this.dstNonZero();
        return this.one(`c.addi ${x(d)}, ${this.imm6(true)}`, [d]);
      }
      case 1: {
        const d = this.dstNonZero();
        return this.one(`c.addiw ${x(d)}, ${this.imm6(false)}`, [d]);
      }
      case 2:
        return this.one(`c.li ${x(this.dstNonZero())}, ${this.imm6(false)}`, []);
      case 3: {
        const imm = r.chance(0.5) ? r.int(1, 31) : r.int(0xfffe0, 0xfffff);
        return this.one(`c.lui ${x(this.dstNonZero())}, ${hex(BigInt(imm))}`, []);
      }
      case 4:
      case 5: {
        const op = r.pick(['c.srli', 'c.srai']);
        const d = this.csrcThenDst();
        return this.one(`${op} ${x(d)}, ${r.int(1, 63)}`, [d]);
      }
      case 6: {
        const d = this.dstNonZero();
        return this.one(`c.slli ${x(d)}, ${r.int(1, 63)}`, [d]);
      }
      case 7: {
        const d = this.csrcThenDst();
        return this.one(`c.andi ${x(d)}, ${this.imm6(false)}`, [d]);
      }
      case 8:
      case 9: {
        const op = r.pick(['c.sub', 'c.xor', 'c.or', 'c.and', 'c.subw', 'c.addw']);
        const s = this.csrc();
        const d = this.csrcThenDst();
        return this.one(`${op} ${x(d)}, ${x(s)}`, [d, s]);
      }
      case 10: {
        const s = r.pick(POOL);
        return this.one(`c.mv ${x(this.dstNonZero())}, ${x(s)}`, [s]);
      }
      case 11: {
        const s = this.src(false);
        const d = this.dstNonZero();
        return this.one(`c.add ${x(d)}, ${x(s)}`, [d, s]);
      }
      case 12:
      case 13: {
        const [op, w] = r.pick([['c.lw', 4], ['c.ld', 8]] as const);
        const off = r.int(0, (w === 4 ? 124 : 248) / w) * w;
        return this.one(`${op} ${x(this.cdst())}, ${off}(x8)`, [8]);
      }
      case 14:
      case 15: {
        const [op, w] = r.pick([['c.sw', 4], ['c.sd', 8]] as const);
        const off = r.int(0, (w === 4 ? 124 : 248) / w) * w;
        const s = this.csrc();
        return this.one(`${op} ${x(s)}, ${off}(x8)`, [s, 8]);
      }
      case 16: {
        const [op, w] = r.pick([['c.lwsp', 4], ['c.ldsp', 8]] as const);
        const off = r.int(0, (w === 4 ? 252 : 504) / w) * w;
        return this.one(`${op} ${x(this.dstNonZero())}, ${off}(x2)`, [2]);
      }
      case 17: {
        const [op, w] = r.pick([['c.swsp', 4], ['c.sdsp', 8]] as const);
        const off = r.int(0, (w === 4 ? 252 : 504) / w) * w;
        const s = this.src();
        return this.one(`${op} ${x(s)}, ${off}(x2)`, [s, 2]);
      }
      case 18: {
        // c.addi4spn yields an address; subtracting sp makes the result position-independent.
        const d = this.cdst();
        const imm = r.int(1, 255) * 4;
        return { lines: [`c.addi4spn ${x(d)}, x2, ${imm}`, `sub ${x(d)}, ${x(d)}, x2`], desc: `c.addi4spn ${x(d)}, x2, ${imm}`, reads: [2] };
      }
      case 19: {
        // Move sp up, access through it, move it back.
        const k = r.int(1, 31) * 16;
        const [op, w] = r.pick([['c.ldsp', 8], ['c.sdsp', 8], ['c.lwsp', 4], ['c.swsp', 4]] as const);
        const off = r.int(0, (w === 4 ? 252 : 504) / w) * w;
        const reg = op.startsWith('c.l') ? this.dstNonZero() : this.src();
        return {
          lines: [`c.addi16sp x2, ${k}`, `${op} ${x(reg)}, ${off}(x2)`, `c.addi16sp x2, ${-k}`],
          desc: `c.addi16sp x2, ${k}; ${op} ${x(reg)}, ${off}(x2); c.addi16sp x2, ${-k}`,
          reads: [reg, 2],
        };
      }
      case 20:
        return this.one('c.nop', []);
      default: {
        const s = this.src(false);
        const d = this.dstNonZero();
        return this.one(`c.add ${x(d)}, ${x(s)}`, [d, s]);
      }
    }
  }

  private dstNonZero(): number {
    return this.dst(false);
  }

  /** A compressed register that is both read and written (c.srli etc.). */
  private csrcThenDst(): number {
    const d = this.csrc();
    this.wrote(d);
    return d;
  }

  private amo(): Item {
    const r = this.rng;
    const op = r.pick(AMOS);
    const w = r.chance(0.5) ? 4 : 8;
    const off = this.memOff(w, true);
    const s = this.src();
    const d = this.dst();
    const ins = `${op}.${w === 4 ? 'w' : 'd'}${r.pick(ORDER)} ${x(d)}, ${x(s)}, (x31)`;
    return { lines: [`addi x31, x8, ${off}`, ins], desc: `${ins}  [x31 = x8${off >= 0 ? '+' : ''}${off}]`, reads: [s, 31] };
  }

  /** LR, up to two base-ISA ALU instructions, then SC to the same address (must succeed); or a lone SC (must fail). */
  private lrsc(): Item {
    const r = this.rng;
    const sfx = r.chance(0.5) ? 'w' : 'd';
    const off = this.memOff(sfx === 'w' ? 4 : 8, true);
    const lines = [`addi x31, x8, ${off}`];
    const descs: string[] = [];
    const reads: number[] = [31];
    if (r.chance(0.85)) {
      const d = this.dst();
      const lr = `lr.${sfx}${r.pick(ORDER)} ${x(d)}, (x31)`;
      lines.push(lr);
      descs.push(lr);
      for (let i = r.int(0, 2); i > 0; i--) {
        const it = r.chance(0.5) ? this.rtype(true) : this.itype(true);
        lines.push(...it.lines);
        descs.push(it.desc);
        reads.push(...it.reads);
      }
    }
    const s = this.src();
    const sd = this.dst(false);
    const sc = `sc.${sfx}${r.pick(ORDER)} ${x(sd)}, ${x(s)}, (x31)`;
    // A failing SC writes an unspecified nonzero value: normalise it to 1.
    lines.push(sc, `snez ${x(sd)}, ${x(sd)}`);
    descs.push(sc, `snez ${x(sd)}, ${x(sd)}`);
    reads.push(s);
    return { lines, desc: `${descs.join('; ')}  [x31 = x8${off >= 0 ? '+' : ''}${off}]`, reads };
  }

  private cbo(): Item {
    const r = this.rng;
    const op = r.pick(['cbo_zero', 'cbo_zero', 'cbo_clean', 'cbo_flush', 'cbo_inval']);
    const off = r.int(-BASE_OFF, BUF_SIZE - BASE_OFF - 1);
    return { lines: [`addi x31, x8, ${off}`, `${op} x31`], desc: `${op.replace('_', '.')} (x31)  [x31 = x8${off >= 0 ? '+' : ''}${off}]`, reads: [31] };
  }

  /** Something that can sit in a skipped slot: a single simple item. */
  private simple(): Item {
    const r = this.rng;
    const k = r.int(0, 9);
    if (k < 3) return this.rtype();
    if (k < 5) return this.itype();
    if (k < 6) return this.unary();
    if (k < 7) return this.load();
    if (k < 8) return this.store();
    return this.compressed();
  }

  /**
   * Control transfers around one "inner" instruction, which runs only when the transfer is not taken. Direct
   * transfers (branches, c.beqz/c.bnez, j/c.j, jal) come in three layouts so that all immediate bits get used:
   *   near:     br .Le; inner; .Le:
   *   far fwd:  br .Le; inner; j .Le; <pad: zeros, never executed>; .Le:
   *   far back: j .Lf; .Lb: j .Le; <pad>; .Lf: br .Lb; inner; .Le:
   * Indirect ones (jalr, c.jr, c.jalr) use the near layout with the target in x31.
   */
  private control(): Item {
    const r = this.rng;
    const inner = this.simple();
    const end = '.Le@N';
    const ret = '.Lr@N';
    const k = r.int(0, 9);
    let br: ((target: string) => string[]) | undefined;
    let maxPad = 0;
    let head: string[] = [];
    let tail: string[] = [];
    let desc: string;
    let reads: number[] = [];
    if (k < 5) {
      const op = r.pick(BRANCHES);
      const a = this.src();
      const b = r.chance(0.25) ? a : this.src();
      br = (t) => [`${op} ${x(a)}, ${x(b)}, ${t}`];
      maxPad = 4000;
      desc = `${op} ${x(a)}, ${x(b)}`;
      reads = [a, b];
    } else if (k < 6) {
      const op = r.pick(['c.beqz', 'c.bnez']);
      const a = this.csrc();
      br = (t) => [`${op} ${x(a)}, ${t}`];
      maxPad = 200;
      desc = `${op} ${x(a)}`;
      reads = [a];
    } else if (k < 7) {
      const op = r.pick(['c.j', 'j']);
      br = (t) => [`${op} ${t}`];
      maxPad = op === 'c.j' ? 1950 : 300000;
      desc = op;
    } else if (k < 8) {
      // jal with a link register; the link is checked by subtracting the expected return address.
      const d = this.dst(false);
      br = (t) => [`jal ${x(d)}, ${t}`, `${ret}:`];
      maxPad = 300000;
      tail = [`lla x31, ${ret}`, `sub ${x(d)}, ${x(d)}, x31`, 'addi x31, x8, 0'];
      desc = `jal ${x(d)} (then ${x(d)} -= return address)`;
    } else if (k < 9) {
      // jalr with a nonzero immediate and an odd target (bit 0 must be cleared).
      const d = r.chance(0.3) ? 0 : this.dst(false);
      const imm = r.pick([0, 1, -1, 5, -7, 2047, -2048]);
      const odd = r.chance(0.5) ? 1 : 0;
      head = [`lla x31, ${end}+${odd - imm}`, `jalr ${x(d)}, ${imm}(x31)`, `${ret}:`];
      tail = d === 0 ? ['addi x31, x8, 0'] : [`lla x31, ${ret}`, `sub ${x(d)}, ${x(d)}, x31`, 'addi x31, x8, 0'];
      desc = `jalr ${x(d)}, ${imm}(x31) with x31 = target${odd - imm >= 0 ? '+' : ''}${odd - imm}` + (d ? ` (then ${x(d)} -= return address)` : '');
    } else {
      const op = r.pick(['c.jr', 'c.jalr']);
      head = [`lla x31, ${end}`, `${op} x31`, `${ret}:`];
      tail = op === 'c.jalr' ? [`lla x31, ${ret}`, 'sub x1, x1, x31', 'addi x31, x8, 0'] : ['addi x31, x8, 0'];
      if (op === 'c.jalr') this.wrote(1);
      desc = `${op} x31 (x31 = target)` + (op === 'c.jalr' ? ' (then x1 -= return address)' : '');
    }
    let lines: string[];
    if (!br) {
      lines = [...head, ...inner.lines, `${end}:`, ...tail];
    } else {
      const layout = r.int(0, 9);
      // Mostly pads below 4 KiB; jumps sometimes get pads that need the upper immediate bits.
      let pad = r.chance(0.1) ? r.int(0, maxPad) : r.int(0, Math.min(maxPad, r.chance(0.5) ? 300 : 4000));
      pad &= ~1;
      if (layout < 4) {
        lines = [...br(end), ...inner.lines, `${end}:`, ...tail];
        desc += ' over the next instruction';
      } else if (layout < 7) {
        lines = [...br(end), ...inner.lines, `j ${end}`, `.skip ${pad}`, `${end}:`, ...tail];
        desc += ` forward over it and ${pad} bytes`;
      } else {
        lines = ['j .Lf@N', '.Lb@N:', `j ${end}`, `.skip ${pad}`, '.Lf@N:', ...br('.Lb@N'), ...inner.lines, `${end}:`, ...tail];
        desc += ` backward by ${pad}+ bytes`;
      }
    }
    return {
      lines,
      desc: `${desc}; runs only if not taken: ${inner.desc}`,
      reads: [...reads, ...inner.reads],
    };
  }

  /** auipc, made position-independent by subtracting its own address. */
  private auipc(): Item {
    const d = this.dst(false);
    const imm = this.rng.chance(0.3) ? this.rng.pick([0, 1, 0x7ffff, 0x80000, 0xfffff]) : this.rng.int(0, 0xfffff);
    return {
      lines: ['.La@N:', `auipc ${x(d)}, ${hex(BigInt(imm))}`, 'lla x31, .La@N', `sub ${x(d)}, ${x(d)}, x31`, 'addi x31, x8, 0'],
      desc: `auipc ${x(d)}, ${hex(BigInt(imm))}  (then ${x(d)} -= pc)`,
      reads: [],
    };
  }

  /**
   * Self-modifying code: a one-instruction subroutine is called, patched (then fence.i), and called again; the
   * second call must run the new instruction. The 32-bit form replaces an I-type ALU instruction with another,
   * the 16-bit form replaces c.addi with c.li / c.addi. (The stream lives in a writable+executable section.)
   */
  private smc(): Item {
    const r = this.rng;
    const reg = this.src(false);
    this.wrote(reg);
    const wide = r.chance(0.6);
    let orig: string;
    let patched: string;
    let enc: number;
    if (wide) {
      const ops: ReadonlyArray<[string, number, number]> = [
        ['addi', 0, 0x13], ['slti', 2, 0x13], ['sltiu', 3, 0x13], ['xori', 4, 0x13], ['ori', 6, 0x13], ['andi', 7, 0x13], ['addiw', 0, 0x1b],
      ];
      const [op, f3, opc] = r.pick(ops);
      const imm = this.imm12();
      orig = `addi ${x(reg)}, ${x(reg)}, ${this.imm12()}`;
      patched = `${op} ${x(reg)}, ${x(reg)}, ${imm}`;
      enc = (((imm & 0xfff) << 20) | (reg << 15) | (f3 << 12) | (reg << 7) | opc) >>> 0;
    } else {
      const li = r.chance(0.5);
      const imm = this.imm6(!li);
      orig = `c.addi ${x(reg)}, ${this.imm6(true)}`;
      patched = `${li ? 'c.li' : 'c.addi'} ${x(reg)}, ${imm}`;
      enc = ((li ? 2 : 0) << 13) | (((imm >> 5) & 1) << 12) | (reg << 7) | ((imm & 0x1f) << 2) | 1;
    }
    const lines = [
      'j .Lb@N',
      '.Lt@N:',
      '.option push',
      '.option norvc',
      wide ? orig : '',
      '.option pop',
      wide ? '' : orig,
      '.option push',
      '.option norvc',
      'jalr x0, 0(x31)',
      '.option pop',
      '.Lb@N:',
      'jal x31, .Lt@N',
      'addi x2, x2, -16',
      'sd x1, 0(x2)',
      `li x1, ${hex(BigInt(enc))}`,
      'lla x31, .Lt@N',
      wide ? 'sw x1, 0(x31)' : 'sh x1, 0(x31)',
      'ld x1, 0(x2)',
      'addi x2, x2, 16',
      'fence.i',
      'jal x31, .Lt@N',
      'addi x31, x8, 0',
    ].filter((l) => l !== '');
    return { lines, desc: `self-modifying code: ${orig}; patch to ${patched} (0x${enc.toString(16)}); fence.i; run again`, reads: [reg] };
  }

  private misc(): Item {
    return this.one(this.rng.pick(['fence', 'fence.i', 'pause', 'nop', 'fence rw, rw', 'fence.tso', 'fence iorw, iorw']), []);
  }

  /** Item kinds with their weights, per profile. */
  private readonly kinds: Record<Profile, ReadonlyArray<[number, () => Item]>> = {
    mixed: [
      [22, () => this.maybeNoRvc(this.rtype())],
      [14, () => this.maybeNoRvc(this.itype())],
      [6, () => this.maybeNoRvc(this.unary())],
      [2, () => this.maybeNoRvc(this.lui())],
      [3, () => this.li()],
      [7, () => this.maybeNoRvc(this.load())],
      [7, () => this.maybeNoRvc(this.store())],
      [14, () => this.compressed()],
      [6, () => this.amo()],
      [3, () => this.lrsc()],
      [1, () => this.cbo()],
      [10, () => this.control()],
      [2, () => this.auipc()],
      [1, () => this.smc()],
      [2, () => this.misc()],
    ],
    // Register-register and immediate arithmetic, with frequent reloads of edge-case values.
    alu: [
      [40, () => this.maybeNoRvc(this.rtype())],
      [22, () => this.maybeNoRvc(this.itype())],
      [18, () => this.maybeNoRvc(this.unary())],
      [4, () => this.maybeNoRvc(this.lui())],
      [16, () => this.li()],
    ],
    // Loads, stores (misaligned, page-crossing), AMOs, LR/SC and CBOs.
    mem: [
      [24, () => this.maybeNoRvc(this.load())],
      [24, () => this.maybeNoRvc(this.store())],
      [14, () => this.compressed()],
      [14, () => this.amo()],
      [8, () => this.lrsc()],
      [4, () => this.cbo()],
      [6, () => this.li()],
      [6, () => this.maybeNoRvc(this.rtype())],
    ],
    // Branches, jumps, auipc and self-modifying code.
    control: [
      [50, () => this.control()],
      [10, () => this.auipc()],
      [6, () => this.smc()],
      [14, () => this.maybeNoRvc(this.rtype())],
      [10, () => this.compressed()],
      [10, () => this.li()],
    ],
  };

  item(profile: Profile = 'mixed'): Item {
    const kinds = this.kinds[profile];
    let k = this.rng.int(0, kinds.reduce((n, [w]) => n + w, 0) - 1);
    for (const [w, make] of kinds) {
      if (k < w) return make();
      k -= w;
    }
    throw new Error('unreachable');
  }
}

export const PROFILES = ['mixed', 'alu', 'mem', 'control'] as const;
export type Profile = (typeof PROFILES)[number];

/** Generates the program for `seed` with `count` items drawn according to `profile`. */
export function generate(seed: number, count: number, profile: Profile = 'mixed'): Program {
  const rng = new Rng(seed);
  const init: bigint[] = [];
  for (let i = 0; i < 32; i++) init.push(POOL.includes(i) ? randomValue(rng) : 0n);
  const buffer = new Uint8Array(BUF_SIZE);
  for (let i = 0; i < BUF_SIZE; i += 8) {
    const v = randomValue(rng);
    for (let j = 0; j < 8; j++) buffer[i + j] = Number((v >> BigInt(8 * j)) & 0xffn);
  }
  const gen = new Generator(rng);
  const items: Item[] = [];
  for (let i = 0; i < count; i++) items.push(gen.item(profile));
  return { seed, profile, init, buffer, items };
}

const PRELUDE = `
.option norelax
/* Zicond: QEMU 7.2 lacks it, so the QEMU variant uses an exact equivalent (reads rs2 before writing rd). */
.macro czero_eqz rd, rs1, rs2
#ifdef TVISOR
  .insn r 0x33, 5, 7, \\rd, \\rs1, \\rs2
#else
  beq \\rs2, x0, 901f
  addi \\rd, \\rs1, 0
  j 902f
901:
  addi \\rd, x0, 0
902:
#endif
.endm
.macro czero_nez rd, rs1, rs2
#ifdef TVISOR
  .insn r 0x33, 7, 7, \\rd, \\rs1, \\rs2
#else
  bne \\rs2, x0, 901f
  addi \\rd, \\rs1, 0
  j 902f
901:
  addi \\rd, x0, 0
902:
#endif
.endm
/* ctzw: QEMU 7.2 counts trailing zeros of all 64 bits (capped at 32 only for a zero register), e.g. it returns
   36 for 0x0000001000000000 where the spec says 32. The QEMU variant uses an exact equivalent. */
.macro ctzw_ rd, rs1
#ifdef TVISOR
  ctzw \\rd, \\rs1
#else
  slli \\rd, \\rs1, 32
  ctz \\rd, \\rd
  addi \\rd, \\rd, -32
#endif
.endm
/* CMOs are illegal in QEMU's user mode; cbo.zero zeroes the aligned 64-byte block (x31 is restored). */
.macro cbo_zero rs1
#ifdef TVISOR
  cbo.zero (\\rs1)
#else
  addi sp, sp, -16
  sd \\rs1, 0(sp)
  andi \\rs1, \\rs1, -64
  sd x0, 0(\\rs1)
  sd x0, 8(\\rs1)
  sd x0, 16(\\rs1)
  sd x0, 24(\\rs1)
  sd x0, 32(\\rs1)
  sd x0, 40(\\rs1)
  sd x0, 48(\\rs1)
  sd x0, 56(\\rs1)
  ld \\rs1, 0(sp)
  addi sp, sp, 16
#endif
.endm
.macro cbo_clean rs1
#ifdef TVISOR
  cbo.clean (\\rs1)
#endif
.endm
.macro cbo_flush rs1
#ifdef TVISOR
  cbo.flush (\\rs1)
#endif
.endm
.macro cbo_inval rs1
#ifdef TVISOR
  cbo.inval (\\rs1)
#endif
.endm
`;

/**
 * Emits the assembly source (one file for both targets; compile with -DTVISOR for tvisor) running the first
 * `n` items (all by default).
 */
export function emitSource(p: Program, n = p.items.length): string {
  const out: string[] = [`/* differential test program: seed ${p.seed}, profile ${p.profile}, ${n} of ${p.items.length} items */`, PRELUDE];
  // The code is writable so that items can patch it (self-modifying code).
  out.push('.section .stream, "awx", @progbits', '.globl _start', '_start:');
  out.push('  lla x8, buffer', `  addi x2, x8, 0`, `  addi x8, x8, ${BASE_OFF}`, '  addi x31, x8, 0');
  for (const r of POOL) out.push(`  li ${x(r)}, ${hex(p.init[r])}`);
  for (let i = 0; i < n; i++) {
    const it = p.items[i];
    out.push(`/* item ${i}: ${it.desc.replace(/\*\//g, '* /')} */`);
    out.push(`item_${i}:`);
    for (const l of it.lines) {
      const s = l.replace(/@N/g, String(i));
      out.push(s.endsWith(':') ? s : `  ${s}`);
    }
  }
  out.push('/* dump */', 'dump:');
  const slot = (r: number): number => -BASE_OFF - REG_DUMP + 8 * r;
  for (let r = 0; r < 32; r++) out.push(`  sd ${x(r)}, ${slot(r)}(x8)`);
  out.push('  lla x1, buffer');
  for (const r of ADDR_REGS) out.push(`  ld x5, ${slot(r)}(x8)`, '  sub x5, x5, x1', `  sd x5, ${slot(r)}(x8)`);
  out.push(`  addi x6, x8, ${slot(0)}`, `  li x7, ${DUMP_SIZE}`);
  out.push(
    '#ifdef TVISOR',
    '  lla x10, magic',
    '  li x5, 64', '  sd x5, 0(x10)',
    '  li x5, 1', '  sd x5, 8(x10)',
    '  sd x6, 16(x10)',
    '  sd x7, 24(x10)',
    '  fence',
    '  lla x11, tohost',
    '  lla x12, fromhost',
    '  sd x10, 0(x11)',
    '1:',
    '  ld x5, 0(x12)',
    '  beqz x5, 1b',
    '  sd x0, 0(x12)',
    '  li x5, 1',
    '  sd x5, 0(x11)',
    '2:',
    '  j 2b',
    '.section .tohost, "aw", @progbits',
    '.balign 64',
    '.globl tohost',
    'tohost: .dword 0',
    '.size tohost, 8',
    '.balign 64',
    '.globl fromhost',
    'fromhost: .dword 0',
    '.size fromhost, 8',
    '.data',
    '.balign 64',
    'magic: .zero 64',
    '#else',
    '  li x17, 64', '  li x10, 1', '  mv x11, x6', '  mv x12, x7', '  ecall',
    '  li x17, 93', '  li x10, 0', '  ecall',
    '#endif',
  );
  // The buffer is placed so that x8 (buffer + 512) is page-aligned: misaligned accesses near x8 cross a page.
  out.push('.data', '.balign 4096', `.zero ${4096 - BASE_OFF - REG_DUMP}`, `regdump: .zero ${REG_DUMP}`, 'buffer:');
  for (let i = 0; i < BUF_SIZE; i += 16) {
    out.push('  .byte ' + Array.from(p.buffer.subarray(i, i + 16), (b) => `0x${b.toString(16)}`).join(', '));
  }
  out.push('');
  return out.join('\n');
}
