// Execution of the F and D instructions (Unprivileged Spec chapters 11 and 12): mstatus.FS gating (Off makes
// every FP instruction illegal; any change to FP state sets FS = Dirty and SD), rounding-mode resolution (the
// static rm field, or frm for rm = 7; reserved values are illegal), NaN boxing, loads and stores.
import { Op } from '../ops.js';
import { S, F_BASE } from '../state.js';
import { MSTATUS } from '../bits.js';
import { CMP } from './soft.js';
import { fpInstructionBits } from './decode.js';
import type { Hart } from '../hart.js';
import { TLB_MASK } from '../area.js';

const TWO32 = 4294967296;
const FS_DIRTY = MSTATUS.FS;

/** The rounding mode of an OP-FP/FMA instruction word: its rm field, or frm when rm = 7 (dynamic). */
function roundingMode(h: Hart, bits: number): number {
  const rm = (bits >>> 12) & 7;
  if (rm !== 7) return rm;
  const frm = (h.s[S.FCSR] >>> 5) & 7;
  if (frm > 4) h.illegal(bits);
  return frm;
}

function markDirty(s: Int32Array, st: number): void {
  if ((st & FS_DIRTY) !== FS_DIRTY) {
    s[S.MSTATUS] = st | FS_DIRTY;
    s[S.MSTATUS + 1] |= MSTATUS.HI_SD;
  }
}

export function execFp(h: Hart, w: number, imm: number): void {
  const s = h.s;
  const st = s[S.MSTATUS];
  if ((st & MSTATUS.FS) === 0) h.illegal(fpInstructionBits(w, imm));
  const op = w & 0x1ff;
  const rd = (w >>> 9) & 0x7f;
  const rs1 = (w >>> 16) & 0x7f;
  const rs2 = (w >>> 23) & 0x7f;
  const fpu = h.fpu;
  const x = h.x;
  switch (op) {
    // ---- loads and stores: TLB hit on an aligned access goes straight to RAM ----
    case Op.FLD: case Op.FLW: {
      const size = op === Op.FLD ? 8 : 4;
      const sum = (x[rs1] >>> 0) + imm;
      const aLo = sum | 0;
      const aHi = (x[rs1 + 1] + (sum >= TWO32 ? 1 : sum < 0 ? -1 : 0)) | 0;
      const mmu = h.mmu;
      const e = (aLo >>> 12) & TLB_MASK;
      let lo: number, hi: number;
      if (mmu.rTag[e] === (aLo & -4096) && mmu.rTagHi[e] === aHi && (aLo & (size - 1)) === 0) {
        const i = (mmu.rOff[e] + (aLo & 0xfff)) >> 2;
        const i32 = h.ram.i32;
        lo = i32[i];
        hi = size === 8 ? i32[i + 1] : -1;
      } else {
        lo = h.readVirt(aLo, aHi, size);
        hi = size === 8 ? h.tmpHi : -1;
      }
      s[F_BASE + rd] = lo;
      s[F_BASE + rd + 1] = hi; // binary32 values are NaN-boxed
      break;
    }
    case Op.FSD: case Op.FSW: {
      const size = op === Op.FSD ? 8 : 4;
      const sum = (x[rs1] >>> 0) + imm;
      const aLo = sum | 0;
      const aHi = (x[rs1 + 1] + (sum >= TWO32 ? 1 : sum < 0 ? -1 : 0)) | 0;
      const mmu = h.mmu;
      const e = (aLo >>> 12) & TLB_MASK;
      const lo = s[F_BASE + rs2], hi = s[F_BASE + rs2 + 1];
      if (mmu.wTag[e] === (aLo & -4096) && mmu.wTagHi[e] === aHi && (aLo & (size - 1)) === 0) {
        const i = (mmu.wOff[e] + (aLo & 0xfff)) >> 2;
        const i32 = h.ram.i32;
        i32[i] = lo;
        if (size === 8) i32[i + 1] = hi;
      } else h.storeSlow(aLo, aHi, size, lo, size === 8 ? hi : 0);
      return; // FP state unchanged
    }
    // ---- arithmetic ----
    case Op.FADD_D: fpu.addD(rd, rs1, rs2, false, roundingMode(h, imm)); break;
    case Op.FSUB_D: fpu.addD(rd, rs1, rs2, true, roundingMode(h, imm)); break;
    case Op.FMUL_D: fpu.mulD(rd, rs1, rs2, roundingMode(h, imm)); break;
    case Op.FDIV_D: fpu.divD(rd, rs1, rs2, roundingMode(h, imm)); break;
    case Op.FSQRT_D: fpu.sqrtD(rd, rs1, roundingMode(h, imm)); break;
    case Op.FADD_S: fpu.addS(rd, rs1, rs2, false, roundingMode(h, imm)); break;
    case Op.FSUB_S: fpu.addS(rd, rs1, rs2, true, roundingMode(h, imm)); break;
    case Op.FMUL_S: fpu.mulS(rd, rs1, rs2, roundingMode(h, imm)); break;
    case Op.FDIV_S: fpu.divS(rd, rs1, rs2, roundingMode(h, imm)); break;
    case Op.FSQRT_S: fpu.sqrtS(rd, rs1, roundingMode(h, imm)); break;
    case Op.FMADD_D: case Op.FMSUB_D: case Op.FNMSUB_D: case Op.FNMADD_D: {
      const k = op - Op.FMADD_D;
      fpu.fmaD(rd, rs1, rs2, (imm >>> 27) * 2, k >= 2, k === 1 || k === 3, roundingMode(h, imm));
      break;
    }
    case Op.FMADD_S: case Op.FMSUB_S: case Op.FNMSUB_S: case Op.FNMADD_S: {
      const k = op - Op.FMADD_S;
      fpu.fmaS(rd, rs1, rs2, (imm >>> 27) * 2, k >= 2, k === 1 || k === 3, roundingMode(h, imm));
      break;
    }
    // ---- sign injection ----
    case Op.FSGNJ_D: case Op.FSGNJN_D: case Op.FSGNJX_D: {
      const a = s[F_BASE + rs1 + 1], b = s[F_BASE + rs2 + 1];
      const sign = op === Op.FSGNJ_D ? b : op === Op.FSGNJN_D ? ~b : a ^ b;
      s[F_BASE + rd] = s[F_BASE + rs1];
      s[F_BASE + rd + 1] = (a & 0x7fffffff) | (sign & (0x80000000 | 0));
      break;
    }
    case Op.FSGNJ_S: case Op.FSGNJN_S: case Op.FSGNJX_S: {
      const a = fpu.getSBits(rs1), b = fpu.getSBits(rs2);
      const sign = op === Op.FSGNJ_S ? b : op === Op.FSGNJN_S ? ~b : a ^ b;
      fpu.putSBits(rd, (a & 0x7fffffff) | (sign & (0x80000000 | 0)));
      break;
    }
    // ---- min/max, comparisons, classification ----
    case Op.FMIN_D: fpu.minMaxD(rd, rs1, rs2, false); break;
    case Op.FMAX_D: fpu.minMaxD(rd, rs1, rs2, true); break;
    case Op.FMIN_S: fpu.minMaxS(rd, rs1, rs2, false); break;
    case Op.FMAX_S: fpu.minMaxS(rd, rs1, rs2, true); break;
    case Op.FEQ_D: case Op.FLT_D: case Op.FLE_D: {
      const before = s[S.FCSR];
      x[rd] = fpu.compareD(rs1, rs2, op === Op.FEQ_D ? CMP.EQ : op === Op.FLT_D ? CMP.LT : CMP.LE);
      x[rd + 1] = 0;
      if (s[S.FCSR] !== before) markDirty(s, st);
      return;
    }
    case Op.FEQ_S: case Op.FLT_S: case Op.FLE_S: {
      const before = s[S.FCSR];
      x[rd] = fpu.compareS(rs1, rs2, op === Op.FEQ_S ? CMP.EQ : op === Op.FLT_S ? CMP.LT : CMP.LE);
      x[rd + 1] = 0;
      if (s[S.FCSR] !== before) markDirty(s, st);
      return;
    }
    case Op.FCLASS_D: x[rd] = fpu.classD(rs1); x[rd + 1] = 0; return;
    case Op.FCLASS_S: x[rd] = fpu.classS(rs1); x[rd + 1] = 0; return;
    // ---- conversions ----
    case Op.FCVT_W_D: case Op.FCVT_WU_D: case Op.FCVT_L_D: case Op.FCVT_LU_D:
    case Op.FCVT_W_S: case Op.FCVT_WU_S: case Op.FCVT_L_S: case Op.FCVT_LU_S: {
      const double = op >= Op.FCVT_W_D;
      const k = op - (double ? Op.FCVT_W_D : Op.FCVT_W_S);
      const rm = roundingMode(h, imm);
      const before = s[S.FCSR];
      fpu.toInt(x, rd, rs1, double, k < 2 ? 32 : 64, (k & 1) === 0, rm);
      if (s[S.FCSR] !== before) markDirty(s, st);
      return;
    }
    case Op.FCVT_D_W: case Op.FCVT_D_WU: case Op.FCVT_D_L: case Op.FCVT_D_LU:
    case Op.FCVT_S_W: case Op.FCVT_S_WU: case Op.FCVT_S_L: case Op.FCVT_S_LU: {
      const double = op >= Op.FCVT_D_W;
      const k = op - (double ? Op.FCVT_D_W : Op.FCVT_S_W);
      fpu.fromInt(rd, x[rs1], x[rs1 + 1], double, k < 2 ? 32 : 64, (k & 1) === 0, roundingMode(h, imm));
      break;
    }
    case Op.FCVT_S_D: fpu.cvtSD(rd, rs1, roundingMode(h, imm)); break;
    case Op.FCVT_D_S: fpu.cvtDS(rd, rs1, roundingMode(h, imm)); break;
    // ---- moves (bits unchanged) ----
    case Op.FMV_X_D: x[rd] = s[F_BASE + rs1]; x[rd + 1] = s[F_BASE + rs1 + 1]; return;
    case Op.FMV_X_W: { const v = s[F_BASE + rs1]; x[rd] = v; x[rd + 1] = v >> 31; return; }
    case Op.FMV_D_X: s[F_BASE + rd] = x[rs1]; s[F_BASE + rd + 1] = x[rs1 + 1]; break;
    case Op.FMV_W_X: fpu.putSBits(rd, x[rs1]); break;
    default:
      h.illegal(fpInstructionBits(w, imm));
  }
  markDirty(s, st);
}
