// Decoding of the F and D extensions (Unprivileged Spec chapters 11, 12 and 16.3 for C.FLD/C.FSD/C.FLDSP/
// C.FSDSP). Decoded form (see ops.ts): the rd, rs1, rs2 fields hold register numbers times two. Destination
// f registers keep their number (f0 is a real register); integer destinations use X_SINK for x0 like every
// other instruction. imm is the instruction word itself for OP-FP and the fused multiply-adds (rm, rs3 and
// funct bits are taken from it at execution; it is also mtval when the instruction turns out to be illegal),
// and the byte offset for loads and stores.
import { Op, DEC_32BIT } from '../ops.js';
import { X_SINK } from '../state.js';

function put(out: Int32Array, at: number, op: Op, rdSlot: number, rs1: number, rs2: number, imm: number, is32: boolean): void {
  out[at] = op | (rdSlot << 9) | ((rs1 * 2) << 16) | ((rs2 * 2) << 23) | (is32 ? DEC_32BIT : 0);
  out[at + 1] = imm | 0;
}

const xSlot = (r: number): number => (r === 0 ? X_SINK : r * 2);

/** A rounding-mode field that is valid statically (5 and 6 are reserved; 7 = dynamic is checked at run time). */
const rmOk = (rm: number): boolean => rm !== 5 && rm !== 6;

/** Decodes a 32-bit F/D instruction (opcodes 0x07, 0x27, 0x43, 0x47, 0x4b, 0x4f, 0x53) into out[at], out[at+1]. */
export function decodeFp32(i: number, out: Int32Array, at: number): void {
  const opcode = i & 0x7f;
  const rd = (i >>> 7) & 31;
  const f3 = (i >>> 12) & 7;
  const rs1 = (i >>> 15) & 31;
  const rs2 = (i >>> 20) & 31;
  const f7 = i >>> 25;
  const fmt = f7 & 3; // 0 = S, 1 = D (H and Q are not implemented)
  const d = fmt === 1;
  let op: Op = Op.ILLEGAL;
  let rdSlot = rd * 2; // f-register destination
  let imm = i;
  switch (opcode) {
    case 0x07: // LOAD-FP
      if (f3 === 2) op = Op.FLW;
      else if (f3 === 3) op = Op.FLD;
      imm = i >> 20;
      break;
    case 0x27: // STORE-FP
      if (f3 === 2) op = Op.FSW;
      else if (f3 === 3) op = Op.FSD;
      imm = ((i >> 20) & ~31) | rd;
      rdSlot = 0;
      break;
    case 0x43: case 0x47: case 0x4b: case 0x4f:
      if (fmt < 2 && rmOk(f3)) {
        const k = (opcode - 0x43) >>> 2; // 0 fmadd, 1 fmsub, 2 fnmsub, 3 fnmadd
        op = (d ? Op.FMADD_D : Op.FMADD_S) + k;
      }
      break;
    case 0x53:
      if (fmt > 1) break;
      switch (f7 >>> 2) {
        case 0x00: case 0x01: case 0x02: case 0x03:
          if (rmOk(f3)) op = (d ? Op.FADD_D : Op.FADD_S) + (f7 >>> 2);
          break;
        case 0x0b:
          if (rs2 === 0 && rmOk(f3)) op = d ? Op.FSQRT_D : Op.FSQRT_S;
          break;
        case 0x04:
          if (f3 < 3) op = (d ? Op.FSGNJ_D : Op.FSGNJ_S) + f3;
          break;
        case 0x05:
          if (f3 < 2) op = (d ? Op.FMIN_D : Op.FMIN_S) + f3;
          break;
        case 0x08:
          if (!rmOk(f3)) break;
          if (!d && rs2 === 1) op = Op.FCVT_S_D;
          else if (d && rs2 === 0) op = Op.FCVT_D_S;
          break;
        case 0x14:
          if (f3 < 3) {
            op = (d ? Op.FEQ_D : Op.FEQ_S) + [2, 1, 0][f3]; // f3: 2 feq, 1 flt, 0 fle
            rdSlot = xSlot(rd);
          }
          break;
        case 0x18:
          if (rs2 < 4 && rmOk(f3)) {
            op = (d ? Op.FCVT_W_D : Op.FCVT_W_S) + rs2;
            rdSlot = xSlot(rd);
          }
          break;
        case 0x1a:
          if (rs2 < 4 && rmOk(f3)) op = (d ? Op.FCVT_D_W : Op.FCVT_S_W) + rs2;
          break;
        case 0x1c:
          if (rs2 !== 0) break;
          if (f3 === 0) op = d ? Op.FMV_X_D : Op.FMV_X_W;
          else if (f3 === 1) op = d ? Op.FCLASS_D : Op.FCLASS_S;
          rdSlot = xSlot(rd);
          break;
        case 0x1e:
          if (rs2 === 0 && f3 === 0) op = d ? Op.FMV_D_X : Op.FMV_W_X;
          break;
      }
      break;
  }
  if (op === Op.ILLEGAL) put(out, at, Op.ILLEGAL, X_SINK, 0, 0, i, true);
  else put(out, at, op, rdSlot, rs1, rs2, imm, true);
}

/** Decodes C.FLD / C.FSD (quadrant 0) and C.FLDSP / C.FSDSP (quadrant 2), funct3 1 and 5. */
export function decodeFp16(i: number, out: Int32Array, at: number): void {
  const f3 = (i >>> 13) & 7;
  const rdp = 8 + ((i >>> 2) & 7);
  const rs1p = 8 + ((i >>> 7) & 7);
  if ((i & 3) === 0) {
    const off = ((i >>> 7) & 0x38) | ((i << 1) & 0xc0);
    if (f3 === 1) return put(out, at, Op.FLD, rdp * 2, rs1p, 0, off, false);
    if (f3 === 5) return put(out, at, Op.FSD, 0, rs1p, rdp, off, false);
  } else if ((i & 3) === 2) {
    if (f3 === 1) {
      const off = ((i >>> 7) & 0x20) | ((i >>> 2) & 0x18) | ((i << 4) & 0x1c0);
      return put(out, at, Op.FLD, ((i >>> 7) & 31) * 2, 2, 0, off, false);
    }
    if (f3 === 5) return put(out, at, Op.FSD, 0, 2, (i >>> 2) & 31, ((i >>> 7) & 0x38) | ((i >>> 1) & 0x1c0), false);
  }
  put(out, at, Op.ILLEGAL, X_SINK, 0, 0, i & 0xffff, false);
}

/** The instruction bits of a decoded FP instruction, for mtval when it is illegal (mstatus.FS = Off, bad frm). */
export function fpInstructionBits(w: number, imm: number): number {
  const op = w & 0x1ff;
  if (op !== Op.FLW && op !== Op.FLD && op !== Op.FSW && op !== Op.FSD) return imm;
  const rd = ((w >>> 9) & 0x7f) >>> 1;
  const rs1 = ((w >>> 16) & 0x7f) >>> 1;
  const rs2 = ((w >>> 23) & 0x7f) >>> 1;
  const load = op === Op.FLW || op === Op.FLD;
  if ((w & DEC_32BIT) === 0) {
    // compressed: only the D forms exist in RV64C
    if (rs1 === 2) {
      if (load) return 0x2002 | ((imm & 0x20) << 7) | ((imm & 0x18) << 2) | ((imm & 0x1c0) >>> 4) | (rd << 7);
      return 0xa002 | ((imm & 0x38) << 7) | ((imm & 0x1c0) << 1) | (rs2 << 2);
    }
    const base = ((imm & 0x38) << 7) | ((imm & 0xc0) >>> 1) | ((rs1 - 8) << 7);
    return load ? 0x2000 | base | ((rd - 8) << 2) : 0xa000 | base | ((rs2 - 8) << 2);
  }
  const width = op === Op.FLW || op === Op.FSW ? 2 : 3;
  if (load) return (imm << 20) | (rs1 << 15) | (width << 12) | (rd << 7) | 0x07;
  return ((imm >> 5) << 25) | (rs2 << 20) | (rs1 << 15) | (width << 12) | ((imm & 31) << 7) | 0x27;
}
