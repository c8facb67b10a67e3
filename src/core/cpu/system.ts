// Privileged instructions and CSRs (Privileged Spec 2, 3.1, 3.3, 4.1; Zicntr, Sstc, Zicbom/Zicboz).
// Runs after the interpreter stored the next pc in the state block; may replace it (xRET) or raise.
import { Op } from './ops.js';
import { S, PMP_COUNT, X_SINK } from './state.js';
import {
  CAUSE, MSTATUS, MSTATUS_WMASK, SSTATUS_MASK, PRIV, MEDELEG_MASK, S_INTERRUPTS, ALL_INTERRUPTS, MIP_SSIP,
  MIP_STIP, MIP_SEIP, ENVCFG, COUNTEREN, CBO_BLOCK,
} from './bits.js';
import { Access } from '../mmu/pmp.js';
import type { Hart } from './hart.js';

const TWO32 = 4294967296;

/** misa: MXL = 2 (64-bit) and the extension letters A, C, D, F, I, M, S, U. */
export const MISA_LO = (1 << 0) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 8) | (1 << 12) | (1 << 18) | (1 << 20);
export const MISA_HI = 0x80000000 | 0;

export function execSystem(h: Hart, w: number, imm: number, pcLo: number, pcHi: number): void {
  const s = h.s;
  const priv = s[S.PRIV];
  const op = w & 0x1ff;
  const bits = () => instructionBits(w, imm);
  switch (op) {
    case Op.ECALL:
      if (h.ecallHook !== null && h.ecallHook(h)) return;
      h.raise(priv === PRIV.U ? CAUSE.ECALL_U : priv === PRIV.S ? CAUSE.ECALL_S : CAUSE.ECALL_M, 0, 0);
    case Op.EBREAK:
      h.raise(CAUSE.BREAKPOINT, pcLo, pcHi);
    case Op.MRET: {
      if (priv !== PRIV.M) h.illegal(bits());
      const dataPriv = h.mmu.dataPriv();
      let m = s[S.MSTATUS];
      const mpp = (m & MSTATUS.MPP) >>> MSTATUS.MPP_SHIFT;
      m = (m & ~MSTATUS.MIE) | (m & MSTATUS.MPIE ? MSTATUS.MIE : 0);
      m = (m | MSTATUS.MPIE) & ~MSTATUS.MPP; // MPP ← U (the least-privileged mode)
      if (mpp !== PRIV.M) m &= ~MSTATUS.MPRV;
      s[S.MSTATUS] = m;
      s[S.PRIV] = mpp;
      s[S.PC] = s[S.MEPC] & ~1;
      s[S.PC + 1] = s[S.MEPC + 1];
      h.mmu.flushIfModeChanged(priv, dataPriv);
      return;
    }
    case Op.SRET: {
      if (priv === PRIV.U || (priv === PRIV.S && s[S.MSTATUS] & MSTATUS.TSR)) h.illegal(bits());
      const dataPriv = h.mmu.dataPriv();
      let m = s[S.MSTATUS];
      const spp = m & MSTATUS.SPP ? PRIV.S : PRIV.U;
      m = (m & ~MSTATUS.SIE) | (m & MSTATUS.SPIE ? MSTATUS.SIE : 0);
      m = (m | MSTATUS.SPIE) & ~MSTATUS.SPP;
      m &= ~MSTATUS.MPRV; // SRET always returns below M
      s[S.MSTATUS] = m;
      s[S.PRIV] = spp;
      s[S.PC] = s[S.SEPC] & ~1;
      s[S.PC + 1] = s[S.SEPC + 1];
      h.mmu.flushIfModeChanged(priv, dataPriv);
      return;
    }
    case Op.WFI:
      if (priv === PRIV.U || (priv === PRIV.S && s[S.MSTATUS] & MSTATUS.TW)) h.illegal(bits());
      if (!h.wakeable()) h.waiting = true;
      return;
    case Op.SFENCE_VMA: {
      const rs1 = (w >>> 16) & 0x7f;
      if (!sfenceVma(h, rs1 === 0, h.x[rs1], h.x[rs1 + 1])) h.illegal(bits());
      return;
    }
    case Op.CBO:
      return cbo(h, w, imm);
    case Op.CSRRW: case Op.CSRRS: case Op.CSRRC: case Op.CSRRWI: case Op.CSRRSI: case Op.CSRRCI:
      return csrInstruction(h, op, w, imm);
  }
  h.illegal(bits());
}

/** Reconstructs the 32-bit encoding for mtval where the decoded form suffices. */
function instructionBits(w: number, imm: number): number {
  const op = w & 0x1ff;
  const rd = ((w >>> 9) & 0x7f) === X_SINK ? 0 : ((w >>> 9) & 0x7f) >>> 1;
  const rs1 = ((w >>> 16) & 0x7f) >>> 1;
  const rs2 = ((w >>> 23) & 0x7f) >>> 1;
  switch (op) {
    case Op.MRET: return 0x30200073;
    case Op.SRET: return 0x10200073;
    case Op.WFI: return 0x10500073;
    case Op.SFENCE_VMA: return (0x09 << 25) | (rs2 << 20) | (rs1 << 15) | 0x73;
    case Op.CBO: return (imm << 20) | (rs1 << 15) | (2 << 12) | 0x0f;
    case Op.CSRRW: case Op.CSRRS: case Op.CSRRC: case Op.CSRRWI: case Op.CSRRSI: case Op.CSRRCI: {
      const f3 = [1, 2, 3, 5, 6, 7][op - Op.CSRRW];
      return (imm << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | 0x73;
    }
  }
  return 0;
}

/**
 * SFENCE.VMA (Privileged Spec 4.2.1): drops every cached translation (`all`: rs1 = x0) or those of one virtual
 * address, for every address space (there are no ASIDs to tell apart). False, doing nothing, when the
 * privilege may not (U-mode, or S-mode under mstatus.TVM): the caller raises the illegal instruction.
 */
export function sfenceVma(h: Hart, all: boolean, vaLo: number, vaHi: number): boolean {
  const priv = h.s[S.PRIV];
  if (priv === PRIV.U || (priv === PRIV.S && h.s[S.MSTATUS] & MSTATUS.TVM)) return false;
  if (all) h.mmu.flush();
  else h.mmu.flushPage(vaLo, vaHi);
  return true;
}

function csrInstruction(h: Hart, op: number, w: number, csr: number): void {
  const x = h.x;
  const rdSlot = (w >>> 9) & 0x7f;
  const rs1Slot = (w >>> 16) & 0x7f;
  const rs1Num = rs1Slot >>> 1;
  const immForm = op >= Op.CSRRWI;
  const srcLo = immForm ? rs1Num : x[rs1Slot];
  const srcHi = immForm ? 0 : x[rs1Slot + 1];
  const kind = immForm ? op - Op.CSRRWI : op - Op.CSRRW; // 0 = write, 1 = set, 2 = clear
  const writes = kind === 0 || rs1Num !== 0;
  const priv = h.s[S.PRIV];
  const illegal = () => h.illegal(instructionBits(w, csr));
  if (priv < ((csr >>> 8) & 3)) illegal();
  if (writes && (csr >>> 10) === 3) illegal();
  const v = csrRead(h, csr);
  if (v === null) illegal();
  const [oLo, oHi] = v!;
  if (writes) {
    // Privileged Spec 3.1.9: CSRRS/CSRRC on mip read-modify-write only the software-writable SEIP bit,
    // not its OR with the external interrupt line (else a transient PLIC line would latch forever).
    const base = csr === 0x344 ? (oLo & ~MIP_SEIP) | (h.s[S.MIP] & MIP_SEIP) : oLo;
    let nLo = srcLo, nHi = srcHi;
    if (kind === 1) { nLo = base | srcLo; nHi = oHi | srcHi; }
    else if (kind === 2) { nLo = base & ~srcLo; nHi = oHi & ~srcHi; }
    if (!csrWrite(h, csr, nLo, nHi)) illegal();
  }
  x[rdSlot] = oLo; // rd = x0 lands in the sink slot
  x[rdSlot + 1] = oHi;
}

function counterAllowed(h: Hart, bit: number): boolean {
  const s = h.s;
  const priv = s[S.PRIV];
  if (priv < PRIV.M && ((s[S.MCOUNTEREN] >>> bit) & 1) === 0) return false;
  if (priv < PRIV.S && ((s[S.SCOUNTEREN] >>> bit) & 1) === 0) return false;
  return true;
}

const split = (v: number): [number, number] => [v % TWO32 | 0, Math.floor(v / TWO32) | 0];

function mcycle(h: Hart): number {
  return h.s[S.MCOUNTINHIBIT] & 1 ? h.cycleOffset : h.retired + h.inflight + h.cycleOffset;
}
function minstret(h: Hart): number {
  return h.s[S.MCOUNTINHIBIT] & 4 ? h.instretOffset : h.retired + h.inflight + h.instretOffset;
}

/** Reads a CSR; null when it does not exist or may not be accessed at the current privilege. */
export function csrRead(h: Hart, csr: number): [number, number] | null {
  const s = h.s;
  const pair = (i: number): [number, number] => [s[i], s[i + 1]];
  switch (csr) {
    // ---- floating point (F/D): inaccessible while mstatus.FS = Off ----
    case 0x001: return fpOff(h) ? null : [s[S.FCSR] & 0x1f, 0];
    case 0x002: return fpOff(h) ? null : [(s[S.FCSR] >>> 5) & 7, 0];
    case 0x003: return fpOff(h) ? null : [s[S.FCSR] & 0xff, 0];
    // ---- unprivileged counters (Zicntr) ----
    case 0xc00: return counterAllowed(h, 0) ? split(mcycle(h)) : null;
    case 0xc01: return counterAllowed(h, 1) ? split(h.clint.timebase.now()) : null;
    case 0xc02: return counterAllowed(h, 2) ? split(minstret(h)) : null;
    // ---- supervisor ----
    case 0x100: {
      const m = s[S.MSTATUS];
      return [m & SSTATUS_MASK, (s[S.MSTATUS + 1] & (MSTATUS.HI_SD | 3))];
    }
    case 0x104: return [s[S.MIE] & s[S.MIDELEG], 0];
    case 0x105: return pair(S.STVEC);
    case 0x106: return [s[S.SCOUNTEREN], 0];
    case 0x10a: return pair(S.SENVCFG);
    case 0x140: return pair(S.SSCRATCH);
    case 0x141: return pair(S.SEPC);
    case 0x142: return pair(S.SCAUSE);
    case 0x143: return pair(S.STVAL);
    case 0x144: return [h.mip() & s[S.MIDELEG], 0];
    case 0x14d:
      if (!stimecmpAllowed(h)) return null;
      return pair(S.STIMECMP);
    case 0x180:
      if (s[S.PRIV] === PRIV.S && s[S.MSTATUS] & MSTATUS.TVM) return null;
      return pair(S.SATP);
    // ---- machine information ----
    case 0xf11: case 0xf12: case 0xf13: case 0xf15: return [0, 0];
    case 0xf14: return [h.hartId, 0];
    // ---- machine trap setup and handling ----
    case 0x300: return pair(S.MSTATUS);
    case 0x301: return [MISA_LO, MISA_HI];
    case 0x302: return pair(S.MEDELEG);
    case 0x303: return pair(S.MIDELEG);
    case 0x304: return pair(S.MIE);
    case 0x305: return pair(S.MTVEC);
    case 0x306: return [s[S.MCOUNTEREN], 0];
    case 0x30a: return pair(S.MENVCFG);
    case 0x320: return [s[S.MCOUNTINHIBIT], 0];
    case 0x340: return pair(S.MSCRATCH);
    case 0x341: return pair(S.MEPC);
    case 0x342: return pair(S.MCAUSE);
    case 0x343: return pair(S.MTVAL);
    case 0x344: return [h.mip(), 0];
    case 0xb00: return split(mcycle(h));
    case 0xb02: return split(minstret(h));
  }
  // Sdtrig with no triggers: tselect reads 0 and tdata1 type 0 says "no trigger here"; tinfo = 1 likewise
  if (csr >= 0x7a0 && csr <= 0x7a3) return [0, 0];
  if (csr === 0x7a4) return [1, 0];
  if (csr >= 0xc03 && csr <= 0xc1f) return counterAllowed(h, csr - 0xc00) ? [0, 0] : null; // hpmcounter3-31
  if (csr >= 0xb03 && csr <= 0xb1f) return [0, 0]; // mhpmcounter3-31
  if (csr >= 0x323 && csr <= 0x33f) return [0, 0]; // mhpmevent3-31
  if (csr >= 0x3a0 && csr <= 0x3af) {
    if (csr & 1) return null; // odd pmpcfg registers do not exist in RV64
    const first = (csr - 0x3a0) * 4;
    if (first >= PMP_COUNT) return [0, 0];
    let lo = 0, hi = 0;
    for (let k = 0; k < 4; k++) lo |= (s[S.PMPCFG + first + k] & 0xff) << (8 * k);
    for (let k = 0; k < 4; k++) hi |= (s[S.PMPCFG + first + 4 + k] & 0xff) << (8 * k);
    return [lo, hi];
  }
  if (csr >= 0x3b0 && csr <= 0x3ef) {
    const i = csr - 0x3b0;
    return i < PMP_COUNT ? pair(S.PMPADDR + 2 * i) : [0, 0];
  }
  return null;
}

function fpOff(h: Hart): boolean {
  return (h.s[S.MSTATUS] & MSTATUS.FS) === 0;
}

function stimecmpAllowed(h: Hart): boolean {
  const s = h.s;
  if (s[S.PRIV] === PRIV.M) return true;
  return (s[S.MENVCFG + 1] & ENVCFG.HI_STCE) !== 0 && (s[S.MCOUNTEREN] & COUNTEREN.TM) !== 0;
}

/** Writes a CSR with its WARL rules; false when the write is not allowed. */
export function csrWrite(h: Hart, csr: number, lo: number, hi: number): boolean {
  const s = h.s;
  switch (csr) {
    case 0x001: case 0x002: case 0x003: {
      if (fpOff(h)) return false;
      const f = s[S.FCSR];
      s[S.FCSR] = csr === 0x001 ? (f & ~0x1f) | (lo & 0x1f) : csr === 0x002 ? (f & 0x1f) | ((lo & 7) << 5) : lo & 0xff;
      writeMstatus(h, s[S.MSTATUS] | MSTATUS.FS); // FP state changed: FS = Dirty
      return true;
    }
    case 0x100: {
      const mask = SSTATUS_MASK & (MSTATUS.SIE | MSTATUS.SPIE | MSTATUS.SPP | MSTATUS.FS | MSTATUS.SUM | MSTATUS.MXR);
      writeMstatus(h, (s[S.MSTATUS] & ~mask) | (lo & mask));
      return true;
    }
    case 0x104: {
      const d = s[S.MIDELEG];
      s[S.MIE] = (s[S.MIE] & ~d) | (lo & d & S_INTERRUPTS);
      return true;
    }
    case 0x105: return writeTvec(s, S.STVEC, lo, hi);
    case 0x106: s[S.SCOUNTEREN] = lo; return true;
    case 0x10a: s[S.SENVCFG] = envcfgLo(lo); s[S.SENVCFG + 1] = 0; return true;
    case 0x140: s[S.SSCRATCH] = lo; s[S.SSCRATCH + 1] = hi; return true;
    case 0x141: s[S.SEPC] = lo & ~1; s[S.SEPC + 1] = hi; return true;
    case 0x142: s[S.SCAUSE] = lo; s[S.SCAUSE + 1] = hi & (0x80000000 | 0); return true;
    case 0x143: s[S.STVAL] = lo; s[S.STVAL + 1] = hi; return true;
    case 0x144: {
      const m = s[S.MIDELEG] & MIP_SSIP;
      s[S.MIP] = (s[S.MIP] & ~m) | (lo & m);
      return true;
    }
    case 0x14d: s[S.STIMECMP] = lo; s[S.STIMECMP + 1] = hi; return true;
    case 0x180: {
      const mode = hi >>> 28;
      if (mode !== 0 && mode !== 8 && mode !== 9 && mode !== 10) return true; // unsupported mode: no effect
      s[S.SATP] = lo;
      s[S.SATP + 1] = hi;
      h.mmu.flush();
      return true;
    }
    case 0x300: writeMstatus(h, lo); return true;
    case 0x301: return true; // misa: writes ignored (fixed ISA)
    case 0x302: s[S.MEDELEG] = lo & MEDELEG_MASK; return true;
    case 0x303: s[S.MIDELEG] = lo & S_INTERRUPTS; return true;
    case 0x304: s[S.MIE] = lo & ALL_INTERRUPTS; return true;
    case 0x305: return writeTvec(s, S.MTVEC, lo, hi);
    case 0x306: s[S.MCOUNTEREN] = lo; return true;
    case 0x30a: s[S.MENVCFG] = envcfgLo(lo); s[S.MENVCFG + 1] = hi & ENVCFG.HI_STCE; return true;
    case 0x320: {
      const cy = mcycle(h), ir = minstret(h);
      s[S.MCOUNTINHIBIT] = lo & 5;
      // keep the visible value continuous across inhibit changes
      h.cycleOffset = lo & 1 ? cy : cy - (h.retired + h.inflight);
      h.instretOffset = lo & 4 ? ir : ir - (h.retired + h.inflight);
      return true;
    }
    case 0x340: s[S.MSCRATCH] = lo; s[S.MSCRATCH + 1] = hi; return true;
    case 0x341: s[S.MEPC] = lo & ~1; s[S.MEPC + 1] = hi; return true;
    case 0x342: s[S.MCAUSE] = lo; s[S.MCAUSE + 1] = hi & (0x80000000 | 0); return true;
    case 0x343: s[S.MTVAL] = lo; s[S.MTVAL + 1] = hi; return true;
    case 0x344: {
      let m = MIP_SSIP | MIP_SEIP;
      if ((s[S.MENVCFG + 1] & ENVCFG.HI_STCE) === 0) m |= MIP_STIP;
      s[S.MIP] = (s[S.MIP] & ~m) | (lo & m);
      return true;
    }
    case 0xb00: {
      const v = (hi >>> 0) * TWO32 + (lo >>> 0);
      // the writing instruction itself retires after the write: it must not count
      h.cycleOffset = s[S.MCOUNTINHIBIT] & 1 ? v : v - (h.retired + h.inflight + 1);
      return true;
    }
    case 0xb02: {
      const v = (hi >>> 0) * TWO32 + (lo >>> 0);
      h.instretOffset = s[S.MCOUNTINHIBIT] & 4 ? v : v - (h.retired + h.inflight + 1);
      return true;
    }
  }
  // read-only zero / writes ignored: mhpmcounters, mhpmevents, trigger registers
  if ((csr >= 0xb03 && csr <= 0xb1f) || (csr >= 0x323 && csr <= 0x33f) || (csr >= 0x7a0 && csr <= 0x7a4)) return true;
  if (csr >= 0x3a0 && csr <= 0x3af) {
    const first = (csr - 0x3a0) * 4;
    if (first >= PMP_COUNT) return true;
    for (let k = 0; k < 8; k++) {
      const i = first + k;
      if (h.mmu.pmp.locked(i)) continue;
      let cfg = (k < 4 ? lo >>> (8 * k) : hi >>> (8 * (k - 4))) & 0x9f;
      if ((cfg & 3) === 2) cfg &= ~2; // W without R is reserved: drop W
      s[S.PMPCFG + i] = cfg;
    }
    h.mmu.pmp.update();
    h.mmu.flush();
    return true;
  }
  if (csr >= 0x3b0 && csr <= 0x3ef) {
    const i = csr - 0x3b0;
    if (i < PMP_COUNT && !h.mmu.pmp.addrLocked(i)) {
      s[S.PMPADDR + 2 * i] = lo;
      s[S.PMPADDR + 2 * i + 1] = hi & 0x3fffff;
      h.mmu.pmp.update();
      h.mmu.flush();
    }
    return true;
  }
  return false;
}

function envcfgLo(lo: number): number {
  let v = lo & (ENVCFG.FIOM | ENVCFG.CBIE | ENVCFG.CBCFE | ENVCFG.CBZE);
  if ((v & ENVCFG.CBIE) === 2 << 4) v &= ~ENVCFG.CBIE; // reserved CBIE encoding reads as 00
  return v;
}

function writeTvec(s: Int32Array, at: number, lo: number, hi: number): boolean {
  // MODE 0 (direct) or 1 (vectored); reserved modes keep the previous mode
  const mode = (lo & 3) < 2 ? lo & 3 : s[at] & 3;
  s[at] = (lo & ~3) | mode;
  s[at + 1] = hi;
  return true;
}

function writeMstatus(h: Hart, lo: number): void {
  const s = h.s;
  const old = s[S.MSTATUS];
  let v = (old & ~MSTATUS_WMASK) | (lo & MSTATUS_WMASK);
  if (((v & MSTATUS.MPP) >>> MSTATUS.MPP_SHIFT) === 2) v = (v & ~MSTATUS.MPP) | (old & MSTATUS.MPP); // reserved
  s[S.MSTATUS] = v;
  const fs = (v & MSTATUS.FS) >>> MSTATUS.FS_SHIFT;
  s[S.MSTATUS + 1] = MSTATUS.HI_XL | (fs === 3 ? MSTATUS.HI_SD : 0);
  // what changes the rules cached translations were checked under: the privilege of M-mode data accesses
  // (MPRV, and MPP while MPRV is set), or fewer pages allowed (SUM or MXR cleared; setting them allows more)
  const changed = old ^ v;
  if (changed & MSTATUS.MPRV || (v & MSTATUS.MPRV && changed & MSTATUS.MPP) || changed & old & MSTATUS.MXR) h.mmu.flush();
  else if (changed & old & MSTATUS.SUM) h.mmu.dropSumEntries();
}

/** Zicbom / Zicboz (cbo.inval, cbo.clean, cbo.flush, cbo.zero): enable checks, then access checks. */
function cbo(h: Hart, w: number, kind: number): void {
  const s = h.s;
  const priv = s[S.PRIV];
  const rs1 = (w >>> 16) & 0x7f;
  const bits = (kind << 20) | ((rs1 >>> 1) << 15) | (2 << 12) | 0x0f;
  const menv = s[S.MENVCFG], senv = s[S.SENVCFG];
  if (kind === 4) {
    if ((priv < PRIV.M && !(menv & ENVCFG.CBZE)) || (priv < PRIV.S && !(senv & ENVCFG.CBZE))) h.illegal(bits);
  } else if (kind === 0) {
    if ((priv < PRIV.M && !(menv & ENVCFG.CBIE)) || (priv < PRIV.S && !(senv & ENVCFG.CBIE))) h.illegal(bits);
  } else if ((priv < PRIV.M && !(menv & ENVCFG.CBCFE)) || (priv < PRIV.S && !(senv & ENVCFG.CBCFE))) h.illegal(bits);
  const x = h.x;
  const lo = x[rs1] & ~(CBO_BLOCK - 1);
  const hi = x[rs1 + 1];
  if (kind === 4) {
    const pa = h.dataAddr(lo, hi, CBO_BLOCK, Access.WRITE);
    for (let k = 0; k < CBO_BLOCK; k += 8) h.writePhys(pa + k, 8, 0, 0, lo, hi);
  } else {
    // management operations need read or write permission; faults are reported as store faults.
    // Memory is always coherent here, so they change nothing.
    h.dataAddr(lo, hi, CBO_BLOCK, Access.READ, Access.WRITE);
  }
}
