// Internal operation numbers the decoder produces and the interpreter dispatches on.
// A decoded instruction is one int32 word: op (bits 8:0) | rd*2 (15:9) | rs1*2 (22:16) | rs2*2 (29:23) | 32-bit (30)
// plus one int32 immediate. Compressed instructions decode to the same ops as their 32-bit expansions.

export const enum Op {
  UNDECODED = 0, // cache slot not yet decoded
  CROSS = 1, // a 32-bit instruction that straddles a page boundary: decoded on every execution
  ILLEGAL = 2, // imm = instruction bits (mtval)
  LUI, AUIPC, JAL, JALR,
  BEQ, BNE, BLT, BGE, BLTU, BGEU,
  LB, LH, LW, LD, LBU, LHU, LWU,
  SB, SH, SW, SD,
  ADDI, SLTI, SLTIU, XORI, ORI, ANDI, SLLI, SRLI, SRAI,
  ADD, SUB, SLL, SLT, SLTU, XOR, SRL, SRA, OR, AND,
  ADDIW, SLLIW, SRLIW, SRAIW, ADDW, SUBW, SLLW, SRLW, SRAW,
  // M
  MUL, MULH, MULHSU, MULHU, DIV, DIVU, REM, REMU, MULW, DIVW, DIVUW, REMW, REMUW,
  // A: imm bit 0 = D (64-bit) form
  LR, SC, AMOSWAP, AMOADD, AMOXOR, AMOAND, AMOOR, AMOMIN, AMOMAX, AMOMINU, AMOMAXU,
  // Zba
  ADD_UW, SH1ADD, SH2ADD, SH3ADD, SH1ADD_UW, SH2ADD_UW, SH3ADD_UW, SLLI_UW,
  // Zbb
  ANDN, ORN, XNOR, CLZ, CLZW, CTZ, CTZW, CPOP, CPOPW, MAX, MAXU, MIN, MINU, SEXT_B, SEXT_H, ZEXT_H,
  ROL, ROLW, ROR, RORI, RORIW, RORW, ORC_B, REV8,
  // Zbs
  BCLR, BCLRI, BEXT, BEXTI, BINV, BINVI, BSET, BSETI,
  // Zicond
  CZERO_EQZ, CZERO_NEZ,
  // F and D (fpu/decode.ts, fpu/exec.ts): register fields are register numbers × 2, f-register destinations are
  // never mapped to X_SINK; imm = the instruction word (OP-FP, FMA) or the byte offset (loads, stores).
  // The order inside each group is relied on by the decoder (base op + funct).
  FLW, FLD, FSW, FSD,
  FMADD_S, FMSUB_S, FNMSUB_S, FNMADD_S, FMADD_D, FMSUB_D, FNMSUB_D, FNMADD_D,
  FADD_S, FSUB_S, FMUL_S, FDIV_S, FADD_D, FSUB_D, FMUL_D, FDIV_D, FSQRT_S, FSQRT_D,
  FSGNJ_S, FSGNJN_S, FSGNJX_S, FSGNJ_D, FSGNJN_D, FSGNJX_D,
  FMIN_S, FMAX_S, FMIN_D, FMAX_D,
  FEQ_S, FLT_S, FLE_S, FEQ_D, FLT_D, FLE_D,
  FCVT_W_S, FCVT_WU_S, FCVT_L_S, FCVT_LU_S, FCVT_W_D, FCVT_WU_D, FCVT_L_D, FCVT_LU_D,
  FCVT_S_W, FCVT_S_WU, FCVT_S_L, FCVT_S_LU, FCVT_D_W, FCVT_D_WU, FCVT_D_L, FCVT_D_LU,
  FCVT_S_D, FCVT_D_S,
  FMV_X_W, FMV_W_X, FMV_X_D, FMV_D_X,
  FCLASS_S, FCLASS_D,
  // system and memory ordering: imm = CSR number for CSR ops (rs1 field = uimm for the I forms)
  FENCE, FENCE_I, ECALL, EBREAK, MRET, SRET, WFI, SFENCE_VMA,
  CSRRW, CSRRS, CSRRC, CSRRWI, CSRRSI, CSRRCI,
  // Zicbom / Zicboz: imm = 0 inval, 1 clean, 2 flush, 4 zero
  CBO,
  COUNT,
}

/** Bit 30 of a decoded word: the instruction is 4 bytes long (else 2). */
export const DEC_32BIT = 1 << 30;
