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
  // system and memory ordering: imm = CSR number for CSR ops (rs1 field = uimm for the I forms)
  FENCE, FENCE_I, ECALL, EBREAK, MRET, SRET, WFI, SFENCE_VMA,
  CSRRW, CSRRS, CSRRC, CSRRWI, CSRRSI, CSRRCI,
  // Zicbom / Zicboz: imm = 0 inval, 1 clean, 2 flush, 4 zero
  CBO,
  COUNT,
}

/** Bit 30 of a decoded word: the instruction is 4 bytes long (else 2). */
export const DEC_32BIT = 1 << 30;
