// Decoder: RV64I, M, A, C, Zba, Zbb, Zbs, Zicond, Zicsr, Zifencei, Zicbom/Zicboz, privileged instructions
// (RISC-V Unprivileged Spec chapters 2, 7, 8, 16, 28; Privileged Spec 3.3). Unknown encodings become ILLEGAL.
import { Op, DEC_32BIT } from './ops.js';
import { X_SINK } from './state.js';
import { decodeFp16, decodeFp32 } from './fpu/decode.js';

/** Result of a decode: the packed word goes to out[0], the immediate to out[1]. */
function pack(out: Int32Array, at: number, op: Op, rd: number, rs1: number, rs2: number, imm: number, is32: boolean) {
  const rdSlot = rd === 0 ? X_SINK : rd * 2;
  out[at] = op | (rdSlot << 9) | ((rs1 * 2) << 16) | ((rs2 * 2) << 23) | (is32 ? DEC_32BIT : 0);
  out[at + 1] = imm | 0;
}

function illegal(out: Int32Array, at: number, bits: number, is32: boolean) {
  pack(out, at, Op.ILLEGAL, 0, 0, 0, bits, is32);
}

/** Decodes a 32-bit instruction (low two bits 11) into out[at], out[at+1]. */
export function decode32(i: number, out: Int32Array, at: number): void {
  const opcode = i & 0x7f;
  const rd = (i >>> 7) & 31;
  const f3 = (i >>> 12) & 7;
  const rs1 = (i >>> 15) & 31;
  const rs2 = (i >>> 20) & 31;
  const f7 = i >>> 25;
  const immI = i >> 20;
  let op: Op = Op.ILLEGAL;
  let imm = 0;
  switch (opcode) {
    case 0x07: case 0x27: case 0x43: case 0x47: case 0x4b: case 0x4f: case 0x53:
      return decodeFp32(i, out, at); // F and D
    case 0x37: op = Op.LUI; imm = i & 0xfffff000; break;
    case 0x17: op = Op.AUIPC; imm = i & 0xfffff000; break;
    case 0x6f:
      op = Op.JAL;
      imm = ((i >> 11) & 0xfff00000) | (i & 0xff000) | ((i >>> 9) & 0x800) | ((i >>> 20) & 0x7fe);
      break;
    case 0x67: if (f3 === 0) { op = Op.JALR; imm = immI; } break;
    case 0x63: {
      const ops = [Op.BEQ, Op.BNE, Op.ILLEGAL, Op.ILLEGAL, Op.BLT, Op.BGE, Op.BLTU, Op.BGEU];
      op = ops[f3];
      imm = ((i >> 19) & 0xfffff000) | ((i << 4) & 0x800) | ((i >>> 20) & 0x7e0) | ((i >>> 7) & 0x1e);
      break;
    }
    case 0x03: {
      const ops = [Op.LB, Op.LH, Op.LW, Op.LD, Op.LBU, Op.LHU, Op.LWU, Op.ILLEGAL];
      op = ops[f3]; imm = immI;
      break;
    }
    case 0x23: {
      const ops = [Op.SB, Op.SH, Op.SW, Op.SD];
      if (f3 < 4) { op = ops[f3]; imm = ((i >> 20) & ~31) | rd; }
      break;
    }
    case 0x13: {
      imm = immI;
      const f6 = i >>> 26;
      const sh = (i >>> 20) & 63;
      switch (f3) {
        case 0: op = Op.ADDI; break;
        case 2: op = Op.SLTI; break;
        case 3: op = Op.SLTIU; break;
        case 4: op = Op.XORI; break;
        case 6: op = Op.ORI; break;
        case 7: op = Op.ANDI; break;
        case 1:
          imm = sh;
          if (f6 === 0) op = Op.SLLI;
          else if (f6 === 0x12) op = Op.BCLRI;
          else if (f6 === 0x1a) op = Op.BINVI;
          else if (f6 === 0x0a) op = Op.BSETI;
          else if (f7 === 0x30) {
            const sub = [Op.CLZ, Op.CTZ, Op.CPOP, Op.ILLEGAL, Op.SEXT_B, Op.SEXT_H];
            if (rs2 < sub.length) op = sub[rs2];
          }
          break;
        case 5:
          imm = sh;
          if (f6 === 0) op = Op.SRLI;
          else if (f6 === 0x10) op = Op.SRAI;
          else if (f6 === 0x12) op = Op.BEXTI;
          else if (f6 === 0x18) op = Op.RORI;
          else if ((i >>> 20) === 0x287) op = Op.ORC_B;
          else if ((i >>> 20) === 0x6b8) op = Op.REV8;
          break;
      }
      break;
    }
    case 0x1b: {
      const sh = (i >>> 20) & 31;
      if (f3 === 0) { op = Op.ADDIW; imm = immI; }
      else if (f3 === 1) {
        if (f7 === 0) { op = Op.SLLIW; imm = sh; }
        else if ((i >>> 26) === 0x02) { op = Op.SLLI_UW; imm = (i >>> 20) & 63; }
        else if (f7 === 0x30) {
          const sub = [Op.CLZW, Op.CTZW, Op.CPOPW];
          if (rs2 < 3) op = sub[rs2];
        }
      } else if (f3 === 5) {
        imm = sh;
        if (f7 === 0) op = Op.SRLIW;
        else if (f7 === 0x20) op = Op.SRAIW;
        else if (f7 === 0x30) op = Op.RORIW;
      }
      break;
    }
    case 0x33:
      switch (f7) {
        case 0x00: op = [Op.ADD, Op.SLL, Op.SLT, Op.SLTU, Op.XOR, Op.SRL, Op.OR, Op.AND][f3]; break;
        case 0x20: op = [Op.SUB, Op.ILLEGAL, Op.ILLEGAL, Op.ILLEGAL, Op.XNOR, Op.SRA, Op.ORN, Op.ANDN][f3]; break;
        case 0x01: op = [Op.MUL, Op.MULH, Op.MULHSU, Op.MULHU, Op.DIV, Op.DIVU, Op.REM, Op.REMU][f3]; break;
        case 0x10: op = [Op.ILLEGAL, Op.ILLEGAL, Op.SH1ADD, Op.ILLEGAL, Op.SH2ADD, Op.ILLEGAL, Op.SH3ADD, Op.ILLEGAL][f3]; break;
        case 0x05: op = [Op.ILLEGAL, Op.ILLEGAL, Op.ILLEGAL, Op.ILLEGAL, Op.MIN, Op.MINU, Op.MAX, Op.MAXU][f3]; break;
        case 0x30: if (f3 === 1) op = Op.ROL; else if (f3 === 5) op = Op.ROR; break;
        case 0x24: if (f3 === 1) op = Op.BCLR; else if (f3 === 5) op = Op.BEXT; break;
        case 0x34: if (f3 === 1) op = Op.BINV; break;
        case 0x14: if (f3 === 1) op = Op.BSET; break;
        case 0x07: if (f3 === 5) op = Op.CZERO_EQZ; else if (f3 === 7) op = Op.CZERO_NEZ; break;
      }
      break;
    case 0x3b:
      switch (f7) {
        case 0x00: if (f3 === 0) op = Op.ADDW; else if (f3 === 1) op = Op.SLLW; else if (f3 === 5) op = Op.SRLW; break;
        case 0x20: if (f3 === 0) op = Op.SUBW; else if (f3 === 5) op = Op.SRAW; break;
        case 0x01: op = [Op.MULW, Op.ILLEGAL, Op.ILLEGAL, Op.ILLEGAL, Op.DIVW, Op.DIVUW, Op.REMW, Op.REMUW][f3]; break;
        case 0x04: if (f3 === 0) op = Op.ADD_UW; else if (f3 === 4 && rs2 === 0) op = Op.ZEXT_H; break;
        case 0x10: op = [Op.ILLEGAL, Op.ILLEGAL, Op.SH1ADD_UW, Op.ILLEGAL, Op.SH2ADD_UW, Op.ILLEGAL, Op.SH3ADD_UW, Op.ILLEGAL][f3]; break;
        case 0x30: if (f3 === 1) op = Op.ROLW; else if (f3 === 5) op = Op.RORW; break;
      }
      break;
    case 0x0f:
      if (f3 === 0) op = Op.FENCE; // includes PAUSE (Zihintpause) and FENCE.TSO
      else if (f3 === 1) op = Op.FENCE_I;
      else if (f3 === 2 && rd === 0) {
        const kind = i >>> 20;
        if (kind === 0 || kind === 1 || kind === 2 || kind === 4) { op = Op.CBO; imm = kind; }
      }
      break;
    case 0x73:
      if (f3 === 0) {
        if (i === 0x00000073) op = Op.ECALL;
        else if (i === 0x00100073) op = Op.EBREAK;
        else if (i === 0x30200073) op = Op.MRET;
        else if (i === 0x10200073) op = Op.SRET;
        else if (i === 0x10500073) op = Op.WFI;
        else if (f7 === 0x09 && rd === 0) op = Op.SFENCE_VMA;
      } else if (f3 !== 4) {
        op = [Op.ILLEGAL, Op.CSRRW, Op.CSRRS, Op.CSRRC, Op.ILLEGAL, Op.CSRRWI, Op.CSRRSI, Op.CSRRCI][f3];
        imm = i >>> 20;
      }
      break;
    case 0x2f:
      if (f3 === 2 || f3 === 3) {
        const f5 = i >>> 27;
        imm = f3 - 2; // 1 = doubleword
        switch (f5) {
          case 0x02: if (rs2 === 0) op = Op.LR; break;
          case 0x03: op = Op.SC; break;
          case 0x01: op = Op.AMOSWAP; break;
          case 0x00: op = Op.AMOADD; break;
          case 0x04: op = Op.AMOXOR; break;
          case 0x0c: op = Op.AMOAND; break;
          case 0x08: op = Op.AMOOR; break;
          case 0x10: op = Op.AMOMIN; break;
          case 0x14: op = Op.AMOMAX; break;
          case 0x18: op = Op.AMOMINU; break;
          case 0x1c: op = Op.AMOMAXU; break;
        }
      }
      break;
  }
  if (op === Op.ILLEGAL) illegal(out, at, i, true);
  else pack(out, at, op, rd, rs1, rs2, imm, true);
}

const sext = (v: number, bits: number) => (v << (32 - bits)) >> (32 - bits);

/** Decodes a 16-bit compressed instruction (RV64C) into its 32-bit equivalent op. */
export function decode16(i: number, out: Int32Array, at: number): void {
  const f3 = (i >>> 13) & 7;
  const rdp = 8 + ((i >>> 2) & 7); // rd' / rs2'
  const rs1p = 8 + ((i >>> 7) & 7); // rs1' / rd'
  const rd = (i >>> 7) & 31;
  const rs2 = (i >>> 2) & 31;
  const imm6 = sext(((i >>> 7) & 0x20) | ((i >>> 2) & 0x1f), 6);
  const sh6 = ((i >>> 7) & 0x20) | ((i >>> 2) & 0x1f);
  const P = (op: Op, d: number, s1: number, s2: number, imm: number) => pack(out, at, op, d, s1, s2, imm, false);
  switch (i & 3) {
    case 0:
      switch (f3) {
        case 1: case 5: return decodeFp16(i, out, at); // c.fld / c.fsd
        case 0: { // c.addi4spn
          const u = ((i >>> 7) & 0x30) | ((i >>> 1) & 0x3c0) | ((i >>> 4) & 4) | ((i >>> 2) & 8);
          if (u === 0) break; // includes the all-zero illegal parcel
          return P(Op.ADDI, rdp, 2, 0, u);
        }
        case 2: return P(Op.LW, rdp, rs1p, 0, ((i >>> 7) & 0x38) | ((i >>> 4) & 4) | ((i << 1) & 0x40));
        case 3: return P(Op.LD, rdp, rs1p, 0, ((i >>> 7) & 0x38) | ((i << 1) & 0xc0));
        case 6: return P(Op.SW, 0, rs1p, rdp, ((i >>> 7) & 0x38) | ((i >>> 4) & 4) | ((i << 1) & 0x40));
        case 7: return P(Op.SD, 0, rs1p, rdp, ((i >>> 7) & 0x38) | ((i << 1) & 0xc0));
      }
      break; // reserved encodings
    case 1:
      switch (f3) {
        case 0: return P(Op.ADDI, rd, rd, 0, imm6); // c.addi (c.nop when rd = 0)
        case 1: if (rd === 0) break; return P(Op.ADDIW, rd, rd, 0, imm6); // c.addiw
        case 2: return P(Op.ADDI, rd, 0, 0, imm6); // c.li
        case 3:
          if (rd === 2) { // c.addi16sp
            const v = sext(((i >>> 3) & 0x200) | ((i >>> 2) & 0x10) | ((i << 1) & 0x40) | ((i << 4) & 0x180) | ((i << 3) & 0x20), 10);
            if (v === 0) break;
            return P(Op.ADDI, 2, 2, 0, v);
          } else { // c.lui
            const v = sext((((i >>> 12) & 1) << 17) | (((i >>> 2) & 0x1f) << 12), 18);
            if (v === 0) break;
            return P(Op.LUI, rd, 0, 0, v);
          }
        case 4:
          switch ((i >>> 10) & 3) {
            case 0: return P(Op.SRLI, rs1p, rs1p, 0, sh6);
            case 1: return P(Op.SRAI, rs1p, rs1p, 0, sh6);
            case 2: return P(Op.ANDI, rs1p, rs1p, 0, imm6);
            case 3: {
              const f = (i >>> 5) & 3;
              if ((i & 0x1000) === 0) return P([Op.SUB, Op.XOR, Op.OR, Op.AND][f], rs1p, rs1p, rdp, 0);
              if (f === 0) return P(Op.SUBW, rs1p, rs1p, rdp, 0);
              if (f === 1) return P(Op.ADDW, rs1p, rs1p, rdp, 0);
              break;
            }
          }
          break;
        case 5: { // c.j
          const v = ((i >>> 1) & 0x800) | ((i >>> 7) & 0x10) | ((i >>> 1) & 0x300) | ((i << 2) & 0x400) |
            ((i >>> 1) & 0x40) | ((i << 1) & 0x80) | ((i >>> 2) & 0xe) | ((i << 3) & 0x20);
          return P(Op.JAL, 0, 0, 0, sext(v, 12));
        }
        case 6: case 7: { // c.beqz / c.bnez
          const v = ((i >>> 4) & 0x100) | ((i >>> 7) & 0x18) | ((i << 1) & 0xc0) | ((i >>> 2) & 6) | ((i << 3) & 0x20);
          return P(f3 === 6 ? Op.BEQ : Op.BNE, 0, rs1p, 0, sext(v, 9));
        }
      }
      break;
    case 2:
      switch (f3) {
        case 1: case 5: return decodeFp16(i, out, at); // c.fldsp / c.fsdsp
        case 0: return P(Op.SLLI, rd, rd, 0, sh6); // c.slli
        case 2: if (rd === 0) break; return P(Op.LW, rd, 2, 0, ((i >>> 7) & 0x20) | ((i >>> 2) & 0x1c) | ((i << 4) & 0xc0));
        case 3: if (rd === 0) break; return P(Op.LD, rd, 2, 0, ((i >>> 7) & 0x20) | ((i >>> 2) & 0x18) | ((i << 4) & 0x1c0));
        case 4:
          if ((i & 0x1000) === 0) {
            if (rs2 === 0) { if (rd === 0) break; return P(Op.JALR, 0, rd, 0, 0); } // c.jr
            return P(Op.ADD, rd, 0, rs2, 0); // c.mv
          }
          if (rs2 === 0) {
            if (rd === 0) return P(Op.EBREAK, 0, 0, 0, 0); // c.ebreak
            return P(Op.JALR, 1, rd, 0, 0); // c.jalr
          }
          return P(Op.ADD, rd, rd, rs2, 0); // c.add
        case 6: return P(Op.SW, 0, 2, rs2, ((i >>> 7) & 0x3c) | ((i >>> 1) & 0xc0));
        case 7: return P(Op.SD, 0, 2, rs2, ((i >>> 7) & 0x38) | ((i >>> 1) & 0x1c0));
      }
      break;
  }
  illegal(out, at, i, false);
}
