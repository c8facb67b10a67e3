// The translator's table of integer instructions: for each op, the WebAssembly that computes rd from rs1, rs2
// and the immediate with registers as i64 values (RV64I, M, Zba, Zbb, Zbs, Zicond: Unprivileged Spec chapters
// 2, 7, 13, 28, 29). Loads, stores, control flow and everything else are in translate.ts.
import { Op } from '../cpu/ops.js';
import { T, W, type Code } from './wasm.js';

/** What an emitter may use: the operand pushes and temporaries of the function being built. */
export interface AluCtx {
  c: Code;
  /** Pushes rs1 / rs2 (i64; x0 reads as 0). */
  rs1(): void;
  rs2(): void;
  /** Temporary i64 locals (free between instructions). */
  t0: number;
  t1: number;
  t2: number;
  t3: number;
}

/** Leaves the value of rd (i64) on the stack. */
export type AluEmitter = (g: AluCtx, imm: number) => void;

const MASK32 = 0xffffffff;

/** rd = rs1 OP rs2 */
function rr(op: W): AluEmitter {
  return (g) => { g.rs1(); g.rs2(); g.c.op(op); };
}
/** rd = rs1 OP sext(imm) */
function ri(op: W): AluEmitter {
  return (g, imm) => { g.rs1(); g.c.i64(imm); g.c.op(op); };
}
/** rd = sext32(rs1[31:0] OP rs2[31:0]) */
function rrW(op: W): AluEmitter {
  return (g) => {
    const c = g.c;
    g.rs1(); c.op(W.I32_WRAP_I64); g.rs2(); c.op(W.I32_WRAP_I64); c.op(op); c.op(W.I64_EXTEND_I32_S);
  };
}
/** rd = sext32(rs1[31:0] OP imm) */
function riW(op: W): AluEmitter {
  return (g, imm) => {
    const c = g.c;
    g.rs1(); c.op(W.I32_WRAP_I64); c.i32(imm); c.op(op); c.op(W.I64_EXTEND_I32_S);
  };
}
/** rd = (rs1 CMP rs2) ? 1 : 0 */
function cmp(op: W, withImm: boolean): AluEmitter {
  return (g, imm) => {
    g.rs1();
    if (withImm) g.c.i64(imm); else g.rs2();
    g.c.op(op).op(W.I64_EXTEND_I32_U);
  };
}
/** rd = (rs1 << sh) + rs2, with rs1 zero-extended from 32 bits first when `uw` (Zba). */
function shadd(sh: number, uw: boolean): AluEmitter {
  return (g) => {
    const c = g.c;
    g.rs1();
    if (uw) c.i64(MASK32, 0).op(W.I64_AND);
    if (sh) c.i64(sh).op(W.I64_SHL);
    g.rs2();
    c.op(W.I64_ADD);
  };
}
/** rd = select(a, b, a CMP b) for MIN/MAX forms. */
function minmax(op: W): AluEmitter {
  return (g) => {
    const c = g.c;
    g.rs1(); g.rs2(); g.rs1(); g.rs2(); c.op(op).op(W.SELECT);
  };
}
/** Pops (a, b) into t0, t1: a helper for forms that use each operand more than once. */
function operands(g: AluCtx, aUse: () => void, bUse: () => void): void {
  aUse(); g.c.set(g.t0);
  bUse(); g.c.set(g.t1);
}

/** High 64 bits of the unsigned 128-bit product of t0 and t1, left on the stack (t2, t3 are clobbered). */
function mulhu(g: AluCtx): void {
  const c = g.c, a = g.t0, b = g.t1, ll = g.t2, mid = g.t3;
  // a = ah:al, b = bh:bl; the product's bits 32..95 are summed in `mid` with its carries kept in bits 64+
  // by splitting each partial product: mid = (al*bl >> 32) + lo32(al*bh) + lo32(ah*bl)
  c.get(a).i64(MASK32, 0).op(W.I64_AND).get(b).i64(MASK32, 0).op(W.I64_AND).op(W.I64_MUL).set(ll);
  c.get(ll).i64(32).op(W.I64_SHR_U);
  c.get(a).i64(MASK32, 0).op(W.I64_AND).get(b).i64(32).op(W.I64_SHR_U).op(W.I64_MUL).tee(ll); // al*bh
  c.i64(MASK32, 0).op(W.I64_AND).op(W.I64_ADD);
  c.get(a).i64(32).op(W.I64_SHR_U).get(b).i64(MASK32, 0).op(W.I64_AND).op(W.I64_MUL).tee(mid); // ah*bl
  c.i64(MASK32, 0).op(W.I64_AND).op(W.I64_ADD);
  // stack: mid-sum (< 3 * 2^32); high = ah*bh + (al*bh >> 32) + (ah*bl >> 32) + (mid-sum >> 32)
  c.i64(32).op(W.I64_SHR_U);
  c.get(ll).i64(32).op(W.I64_SHR_U).op(W.I64_ADD);
  c.get(mid).i64(32).op(W.I64_SHR_U).op(W.I64_ADD);
  c.get(a).i64(32).op(W.I64_SHR_U).get(b).i64(32).op(W.I64_SHR_U).op(W.I64_MUL).op(W.I64_ADD);
}

/** Subtracts `other` from the value on the stack when `signed` operand is negative (signed high products). */
function fixSigned(g: AluCtx, signed: number, other: number): void {
  const c = g.c;
  c.get(other).i64(0).get(signed).i64(0).op(W.I64_LT_S).op(W.SELECT).op(W.I64_SUB);
}

/** Signed division with RISC-V's results for x/0 (-1) and MIN/-1 (MIN), which trap in WebAssembly. */
function div(signed: boolean, rem: boolean, word: boolean): AluEmitter {
  return (g) => {
    const c = g.c, a = g.t0, b = g.t1;
    operands(g, () => { g.rs1(); if (word) c.op(W.I32_WRAP_I64).op(W.I64_EXTEND_I32_S); },
      () => { g.rs2(); if (word) c.op(W.I32_WRAP_I64).op(W.I64_EXTEND_I32_S); });
    if (word && !signed) {
      // unsigned word forms work on the zero-extended low halves
      c.get(a).i64(MASK32, 0).op(W.I64_AND).set(a);
      c.get(b).i64(MASK32, 0).op(W.I64_AND).set(b);
    }
    c.get(b).op(W.I64_EQZ).if(T.I64);
    // division by zero: quotient all ones, remainder the dividend
    if (rem) c.get(a); else c.i64(-1);
    c.else();
    if (signed && !word) {
      // MIN / -1 overflows: quotient MIN, remainder 0; otherwise divide
      c.get(b).i64(-1).op(W.I64_EQ).get(a).i64(0, 0x80000000 | 0).op(W.I64_EQ).op(W.I32_AND).if(T.I64);
      if (rem) c.i64(0); else c.get(a);
      c.else();
      c.get(a).get(b).op(rem ? W.I64_REM_S : W.I64_DIV_S);
      c.end();
    } else {
      // 32-bit signed operands in 64 bits cannot overflow a 64-bit divide; the result is sign-extended below
      c.get(a).get(b).op(signed ? (rem ? W.I64_REM_S : W.I64_DIV_S) : (rem ? W.I64_REM_U : W.I64_DIV_U));
    }
    c.end();
    if (word) c.op(W.I32_WRAP_I64).op(W.I64_EXTEND_I32_S);
  };
}

/** Byte-reverses the i64 on the stack (REV8) with three swap rounds. */
function bswap64(g: AluCtx): void {
  const c = g.c, v = g.t0;
  c.set(v);
  c.get(v).i64(8).op(W.I64_SHR_U).i64(0x00ff00ff, 0x00ff00ff).op(W.I64_AND);
  c.get(v).i64(0x00ff00ff, 0x00ff00ff).op(W.I64_AND).i64(8).op(W.I64_SHL).op(W.I64_OR).set(v);
  c.get(v).i64(16).op(W.I64_SHR_U).i64(0x0000ffff, 0x0000ffff).op(W.I64_AND);
  c.get(v).i64(0x0000ffff, 0x0000ffff).op(W.I64_AND).i64(16).op(W.I64_SHL).op(W.I64_OR);
  c.i64(32).op(W.I64_ROTL);
}

const B7F = 0x7f7f7f7f, B80 = 0x80808080 | 0;

/** The integer ops the translator computes inline; any op absent here ends a translated block. */
export const ALU: Partial<Record<Op, AluEmitter>> = {
  [Op.LUI]: (g, imm) => { g.c.i64(imm); },
  [Op.ADDI]: ri(W.I64_ADD),
  [Op.SLTI]: cmp(W.I64_LT_S, true),
  [Op.SLTIU]: cmp(W.I64_LT_U, true),
  [Op.XORI]: ri(W.I64_XOR),
  [Op.ORI]: ri(W.I64_OR),
  [Op.ANDI]: ri(W.I64_AND),
  [Op.SLLI]: ri(W.I64_SHL),
  [Op.SRLI]: ri(W.I64_SHR_U),
  [Op.SRAI]: ri(W.I64_SHR_S),
  [Op.ADD]: rr(W.I64_ADD),
  [Op.SUB]: rr(W.I64_SUB),
  [Op.SLL]: rr(W.I64_SHL), // WebAssembly shifts take the count mod 64, as RV64 does
  [Op.SLT]: cmp(W.I64_LT_S, false),
  [Op.SLTU]: cmp(W.I64_LT_U, false),
  [Op.XOR]: rr(W.I64_XOR),
  [Op.SRL]: rr(W.I64_SHR_U),
  [Op.SRA]: rr(W.I64_SHR_S),
  [Op.OR]: rr(W.I64_OR),
  [Op.AND]: rr(W.I64_AND),
  [Op.ADDIW]: riW(W.I32_ADD),
  [Op.SLLIW]: riW(W.I32_SHL),
  [Op.SRLIW]: riW(W.I32_SHR_U),
  [Op.SRAIW]: riW(W.I32_SHR_S),
  [Op.ADDW]: rrW(W.I32_ADD),
  [Op.SUBW]: rrW(W.I32_SUB),
  [Op.SLLW]: rrW(W.I32_SHL), // and mod 32 for i32
  [Op.SRLW]: rrW(W.I32_SHR_U),
  [Op.SRAW]: rrW(W.I32_SHR_S),
  // M
  [Op.MUL]: rr(W.I64_MUL),
  [Op.MULW]: rrW(W.I32_MUL),
  [Op.MULHU]: (g) => { operands(g, g.rs1, g.rs2); mulhu(g); },
  [Op.MULH]: (g) => { operands(g, g.rs1, g.rs2); mulhu(g); fixSigned(g, g.t0, g.t1); fixSigned(g, g.t1, g.t0); },
  [Op.MULHSU]: (g) => { operands(g, g.rs1, g.rs2); mulhu(g); fixSigned(g, g.t0, g.t1); },
  [Op.DIV]: div(true, false, false),
  [Op.DIVU]: div(false, false, false),
  [Op.REM]: div(true, true, false),
  [Op.REMU]: div(false, true, false),
  [Op.DIVW]: div(true, false, true),
  [Op.DIVUW]: div(false, false, true),
  [Op.REMW]: div(true, true, true),
  [Op.REMUW]: div(false, true, true),
  // Zba
  [Op.ADD_UW]: shadd(0, true),
  [Op.SH1ADD]: shadd(1, false),
  [Op.SH2ADD]: shadd(2, false),
  [Op.SH3ADD]: shadd(3, false),
  [Op.SH1ADD_UW]: shadd(1, true),
  [Op.SH2ADD_UW]: shadd(2, true),
  [Op.SH3ADD_UW]: shadd(3, true),
  [Op.SLLI_UW]: (g, imm) => { g.rs1(); g.c.i64(MASK32, 0).op(W.I64_AND).i64(imm).op(W.I64_SHL); },
  // Zbb
  [Op.ANDN]: (g) => { g.rs1(); g.rs2(); g.c.i64(-1).op(W.I64_XOR).op(W.I64_AND); },
  [Op.ORN]: (g) => { g.rs1(); g.rs2(); g.c.i64(-1).op(W.I64_XOR).op(W.I64_OR); },
  [Op.XNOR]: (g) => { g.rs1(); g.rs2(); g.c.op(W.I64_XOR).i64(-1).op(W.I64_XOR); },
  [Op.CLZ]: (g) => { g.rs1(); g.c.op(W.I64_CLZ); },
  [Op.CTZ]: (g) => { g.rs1(); g.c.op(W.I64_CTZ); },
  [Op.CPOP]: (g) => { g.rs1(); g.c.op(W.I64_POPCNT); },
  [Op.CLZW]: (g) => { g.rs1(); g.c.op(W.I32_WRAP_I64).op(W.I32_CLZ).op(W.I64_EXTEND_I32_U); },
  [Op.CTZW]: (g) => { g.rs1(); g.c.op(W.I32_WRAP_I64).op(W.I32_CTZ).op(W.I64_EXTEND_I32_U); },
  [Op.CPOPW]: (g) => { g.rs1(); g.c.op(W.I32_WRAP_I64).op(W.I32_POPCNT).op(W.I64_EXTEND_I32_U); },
  [Op.MAX]: minmax(W.I64_GT_S),
  [Op.MAXU]: minmax(W.I64_GT_U),
  [Op.MIN]: minmax(W.I64_LT_S),
  [Op.MINU]: minmax(W.I64_LT_U),
  [Op.SEXT_B]: (g) => { g.rs1(); g.c.op(W.I64_EXTEND8_S); },
  [Op.SEXT_H]: (g) => { g.rs1(); g.c.op(W.I64_EXTEND16_S); },
  [Op.ZEXT_H]: (g) => { g.rs1(); g.c.i64(0xffff).op(W.I64_AND); },
  [Op.ROL]: rr(W.I64_ROTL),
  [Op.ROR]: rr(W.I64_ROTR),
  [Op.RORI]: ri(W.I64_ROTR),
  [Op.ROLW]: rrW(W.I32_ROTL),
  [Op.RORW]: rrW(W.I32_ROTR),
  [Op.RORIW]: riW(W.I32_ROTR),
  [Op.ORC_B]: (g) => {
    // per byte: the high bit is set when any bit of the byte is (x & 7f..) + 7f.. carries into it, or x has it
    const c = g.c, v = g.t0;
    g.rs1(); c.set(v);
    c.get(v).i64(B7F, B7F).op(W.I64_AND).i64(B7F, B7F).op(W.I64_ADD).get(v).op(W.I64_OR).i64(B80, B80).op(W.I64_AND);
    c.i64(7).op(W.I64_SHR_U).i64(0xff).op(W.I64_MUL);
  },
  [Op.REV8]: (g) => { g.rs1(); bswap64(g); },
  // Zbs
  [Op.BCLR]: (g) => { g.rs1(); g.c.i64(1); g.rs2(); g.c.op(W.I64_SHL).i64(-1).op(W.I64_XOR).op(W.I64_AND); },
  [Op.BCLRI]: (g, imm) => { g.rs1(); g.c.i64(1).i64(imm).op(W.I64_SHL).i64(-1).op(W.I64_XOR).op(W.I64_AND); },
  [Op.BEXT]: (g) => { g.rs1(); g.rs2(); g.c.op(W.I64_SHR_U).i64(1).op(W.I64_AND); },
  [Op.BEXTI]: (g, imm) => { g.rs1(); g.c.i64(imm).op(W.I64_SHR_U).i64(1).op(W.I64_AND); },
  [Op.BINV]: (g) => { g.rs1(); g.c.i64(1); g.rs2(); g.c.op(W.I64_SHL).op(W.I64_XOR); },
  [Op.BINVI]: (g, imm) => { g.rs1(); g.c.i64(1).i64(imm).op(W.I64_SHL).op(W.I64_XOR); },
  [Op.BSET]: (g) => { g.rs1(); g.c.i64(1); g.rs2(); g.c.op(W.I64_SHL).op(W.I64_OR); },
  [Op.BSETI]: (g, imm) => { g.rs1(); g.c.i64(1).i64(imm).op(W.I64_SHL).op(W.I64_OR); },
  // Zicond
  // select(a, b, c) is a when c is non-zero
  [Op.CZERO_EQZ]: (g) => { g.rs1(); g.c.i64(0); g.rs2(); g.c.op(W.I64_EQZ).op(W.I32_EQZ).op(W.SELECT); },
  [Op.CZERO_NEZ]: (g) => { g.rs1(); g.c.i64(0); g.rs2(); g.c.op(W.I64_EQZ).op(W.SELECT); },
};
