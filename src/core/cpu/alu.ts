// Less frequent integer instructions: M-extension divides and high multiplies, A (LR/SC/AMO), Zba, Zbb,
// Zbs, Zicond (Unprivileged Spec chapters 7, 8, 28, 29). The hot ones live inline in hart.ts.
import { Op } from './ops.js';
import { S } from './state.js';
import { CAUSE } from './bits.js';
import { big, bigU, loOf, hiOf, safeNum, ctz32, popcount32, mulhu32 } from './i64.js';
import { Access } from '../mmu/pmp.js';
import type { Hart } from './hart.js';

const TWO32 = 4294967296;

function set(x: Int32Array, rd: number, lo: number, hi: number) {
  x[rd] = lo;
  x[rd + 1] = hi;
}
function setW(x: Int32Array, rd: number, v: number) {
  x[rd] = v;
  x[rd + 1] = v >> 31;
}
function setBig(x: Int32Array, rd: number, v: bigint) {
  x[rd] = loOf(v);
  x[rd + 1] = hiOf(v);
}
/** 64-bit shift left of (lo, hi) by 0..63 into x[rd]. */
function shl(x: Int32Array, rd: number, lo: number, hi: number, sh: number) {
  if (sh === 0) set(x, rd, lo, hi);
  else if (sh < 32) set(x, rd, lo << sh, (hi << sh) | (lo >>> (32 - sh)));
  else set(x, rd, 0, lo << (sh - 32));
}
function add64(x: Int32Array, rd: number, aLo: number, aHi: number, bLo: number, bHi: number) {
  const sum = (aLo >>> 0) + (bLo >>> 0);
  set(x, rd, sum | 0, (aHi + bHi + (sum >= TWO32 ? 1 : 0)) | 0);
}
function ltS(aLo: number, aHi: number, bLo: number, bHi: number): boolean {
  return aHi < bHi || (aHi === bHi && aLo >>> 0 < bLo >>> 0);
}
function ltU(aLo: number, aHi: number, bLo: number, bHi: number): boolean {
  return aHi >>> 0 < bHi >>> 0 || (aHi === bHi && aLo >>> 0 < bLo >>> 0);
}
function rotl64(lo: number, hi: number, sh: number): [number, number] {
  sh &= 63;
  if (sh >= 32) {
    [lo, hi] = [hi, lo];
    sh -= 32;
  }
  if (sh === 0) return [lo, hi];
  return [(lo << sh) | (hi >>> (32 - sh)), (hi << sh) | (lo >>> (32 - sh))];
}
function orcb(v: number): number {
  let r = 0;
  for (let k = 0; k < 32; k += 8) if ((v >>> k) & 0xff) r |= 0xff << k;
  return r;
}
function bswap(v: number): number {
  return ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24);
}

/**
 * High 64 bits of the 128-bit product (MULHU), in int32 pieces: the four 32×32 partial products summed by
 * column. Signed forms correct the unsigned result: for a < 0 subtract b, for b < 0 subtract a (mod 2^64).
 */
function mulhu64(x: Int32Array, rd: number, aLo: number, aHi: number, bLo: number, bHi: number, aSigned: boolean, bSigned: boolean) {
  const lo1 = Math.imul(aLo, bHi) >>> 0, hi1 = mulhu32(aLo, bHi) >>> 0;
  const lo2 = Math.imul(aHi, bLo) >>> 0, hi2 = mulhu32(aHi, bLo) >>> 0;
  const lo3 = Math.imul(aHi, bHi) >>> 0, hi3 = mulhu32(aHi, bHi) >>> 0;
  const w1 = (mulhu32(aLo, bLo) >>> 0) + lo1 + lo2; // bits 32..63 of the product, plus carries
  const w2 = hi1 + hi2 + lo3 + Math.floor(w1 / TWO32);
  let rLo = w2 >>> 0;
  let rHi = (hi3 + Math.floor(w2 / TWO32)) | 0;
  if (aSigned && aHi < 0) {
    const d = rLo - (bLo >>> 0);
    rLo = d >>> 0;
    rHi = (rHi - bHi - (d < 0 ? 1 : 0)) | 0;
  }
  if (bSigned && bHi < 0) {
    const d = rLo - (aLo >>> 0);
    rLo = d >>> 0;
    rHi = (rHi - aHi - (d < 0 ? 1 : 0)) | 0;
  }
  set(x, rd, rLo | 0, rHi);
}

function div64(aLo: number, aHi: number, bLo: number, bHi: number, signed: boolean, rem: boolean): bigint | [number, number] {
  if (bLo === 0 && bHi === 0) return rem ? [aLo, aHi] : [-1, -1];
  if (signed) {
    const a = safeNum(aLo, aHi), b = safeNum(bLo, bHi);
    if (a === a && b === b) {
      // exact in doubles: |a| < 2^53, so the truncated quotient is exact
      const q = Math.trunc(a / b);
      const r = a - q * b;
      const v = rem ? r : q;
      return [v | 0, Math.floor(v / TWO32) | 0];
    }
    const A = big(aLo, aHi), B = big(bLo, bHi);
    if (B === -1n) return rem ? 0n : -A; // covers the INT64_MIN / -1 overflow (wraps to INT64_MIN)
    return rem ? A % B : A / B;
  }
  if (aHi >= 0 && aHi < 0x200000 && bHi >= 0 && bHi < 0x200000) {
    const a = aHi * TWO32 + (aLo >>> 0), b = bHi * TWO32 + (bLo >>> 0);
    const q = Math.floor(a / b);
    const v = rem ? a - q * b : q;
    return [v | 0, Math.floor(v / TWO32) | 0];
  }
  const A = bigU(aLo, aHi), B = bigU(bLo, bHi);
  return rem ? A % B : A / B;
}

/** Executes an instruction that is not handled inline by the interpreter loop. */
export function execOther(h: Hart, w: number, imm: number): void {
  const x = h.x;
  const rd = (w >>> 9) & 0x7f;
  const rs1 = (w >>> 16) & 0x7f;
  const rs2 = (w >>> 23) & 0x7f;
  const aLo = x[rs1], aHi = x[rs1 + 1], bLo = x[rs2], bHi = x[rs2 + 1];
  switch (w & 0x1ff) {
    case Op.MULHU: return mulhu64(x, rd, aLo, aHi, bLo, bHi, false, false);
    case Op.MULH: return mulhu64(x, rd, aLo, aHi, bLo, bHi, true, true);
    case Op.MULHSU: return mulhu64(x, rd, aLo, aHi, bLo, bHi, true, false);
    case Op.DIV: case Op.DIVU: case Op.REM: case Op.REMU: {
      const op = w & 0x1ff;
      const r = div64(aLo, aHi, bLo, bHi, op === Op.DIV || op === Op.REM, op === Op.REM || op === Op.REMU);
      if (typeof r === 'bigint') setBig(x, rd, r);
      else set(x, rd, r[0], r[1]);
      return;
    }
    case Op.DIVW:
      if (bLo === 0) setW(x, rd, -1);
      else if (aLo === -0x80000000 && bLo === -1) setW(x, rd, aLo);
      else setW(x, rd, (aLo / bLo) | 0);
      return;
    case Op.DIVUW:
      setW(x, rd, bLo === 0 ? -1 : ((aLo >>> 0) / (bLo >>> 0)) | 0);
      return;
    case Op.REMW:
      if (bLo === 0) setW(x, rd, aLo);
      else if (aLo === -0x80000000 && bLo === -1) setW(x, rd, 0);
      else setW(x, rd, aLo % bLo);
      return;
    case Op.REMUW:
      setW(x, rd, bLo === 0 ? aLo : ((aLo >>> 0) % (bLo >>> 0)) | 0);
      return;
    // ---- A ----
    case Op.LR: case Op.SC: case Op.AMOSWAP: case Op.AMOADD: case Op.AMOXOR: case Op.AMOAND:
    case Op.AMOOR: case Op.AMOMIN: case Op.AMOMAX: case Op.AMOMINU: case Op.AMOMAXU:
      return atomic(h, w & 0x1ff, rd, aLo, aHi, bLo, bHi, imm === 1);
    // ---- Zba ----
    case Op.ADD_UW: return add64(x, rd, aLo, 0, bLo, bHi);
    case Op.SH1ADD: case Op.SH2ADD: case Op.SH3ADD: case Op.SH1ADD_UW: case Op.SH2ADD_UW: case Op.SH3ADD_UW: {
      const op = w & 0x1ff;
      const n = op === Op.SH1ADD || op === Op.SH1ADD_UW ? 1 : op === Op.SH2ADD || op === Op.SH2ADD_UW ? 2 : 3;
      const hi = op >= Op.SH1ADD_UW ? 0 : aHi;
      add64(x, rd, aLo << n, (hi << n) | (aLo >>> (32 - n)), bLo, bHi);
      return;
    }
    case Op.SLLI_UW: return shl(x, rd, aLo, 0, imm);
    // ---- Zbb ----
    case Op.ANDN: return set(x, rd, aLo & ~bLo, aHi & ~bHi);
    case Op.ORN: return set(x, rd, aLo | ~bLo, aHi | ~bHi);
    case Op.XNOR: return set(x, rd, ~(aLo ^ bLo), ~(aHi ^ bHi));
    case Op.CLZ: return set(x, rd, aHi !== 0 ? Math.clz32(aHi) : 32 + Math.clz32(aLo), 0);
    case Op.CLZW: return set(x, rd, Math.clz32(aLo), 0);
    case Op.CTZ: return set(x, rd, aLo !== 0 ? ctz32(aLo) : 32 + ctz32(aHi), 0);
    case Op.CTZW: return set(x, rd, ctz32(aLo), 0);
    case Op.CPOP: return set(x, rd, popcount32(aLo) + popcount32(aHi), 0);
    case Op.CPOPW: return set(x, rd, popcount32(aLo), 0);
    case Op.MAX: return ltS(aLo, aHi, bLo, bHi) ? set(x, rd, bLo, bHi) : set(x, rd, aLo, aHi);
    case Op.MAXU: return ltU(aLo, aHi, bLo, bHi) ? set(x, rd, bLo, bHi) : set(x, rd, aLo, aHi);
    case Op.MIN: return ltS(aLo, aHi, bLo, bHi) ? set(x, rd, aLo, aHi) : set(x, rd, bLo, bHi);
    case Op.MINU: return ltU(aLo, aHi, bLo, bHi) ? set(x, rd, aLo, aHi) : set(x, rd, bLo, bHi);
    case Op.SEXT_B: return setW(x, rd, (aLo << 24) >> 24);
    case Op.SEXT_H: return setW(x, rd, (aLo << 16) >> 16);
    case Op.ZEXT_H: return set(x, rd, aLo & 0xffff, 0);
    case Op.ROL: { const [l, hh] = rotl64(aLo, aHi, bLo); return set(x, rd, l, hh); }
    case Op.ROR: { const [l, hh] = rotl64(aLo, aHi, 64 - (bLo & 63)); return set(x, rd, l, hh); }
    case Op.RORI: { const [l, hh] = rotl64(aLo, aHi, 64 - imm); return set(x, rd, l, hh); }
    case Op.ROLW: { const sh = bLo & 31; return setW(x, rd, sh === 0 ? aLo : (aLo << sh) | (aLo >>> (32 - sh))); }
    case Op.RORW: { const sh = bLo & 31; return setW(x, rd, sh === 0 ? aLo : (aLo >>> sh) | (aLo << (32 - sh))); }
    case Op.RORIW: return setW(x, rd, imm === 0 ? aLo : (aLo >>> imm) | (aLo << (32 - imm)));
    case Op.ORC_B: return set(x, rd, orcb(aLo), orcb(aHi));
    case Op.REV8: return set(x, rd, bswap(aHi), bswap(aLo));
    // ---- Zbs ----
    case Op.BCLR: case Op.BCLRI: case Op.BINV: case Op.BINVI: case Op.BSET: case Op.BSETI: case Op.BEXT: case Op.BEXTI: {
      const op = w & 0x1ff;
      const sh = (op === Op.BCLRI || op === Op.BINVI || op === Op.BSETI || op === Op.BEXTI ? imm : bLo) & 63;
      const mLo = sh < 32 ? 1 << sh : 0, mHi = sh >= 32 ? 1 << (sh - 32) : 0;
      if (op === Op.BCLR || op === Op.BCLRI) return set(x, rd, aLo & ~mLo, aHi & ~mHi);
      if (op === Op.BINV || op === Op.BINVI) return set(x, rd, aLo ^ mLo, aHi ^ mHi);
      if (op === Op.BSET || op === Op.BSETI) return set(x, rd, aLo | mLo, aHi | mHi);
      return set(x, rd, (aLo & mLo) !== 0 || (aHi & mHi) !== 0 ? 1 : 0, 0);
    }
    // ---- Zicond ----
    case Op.CZERO_EQZ: return bLo === 0 && bHi === 0 ? set(x, rd, 0, 0) : set(x, rd, aLo, aHi);
    case Op.CZERO_NEZ: return bLo !== 0 || bHi !== 0 ? set(x, rd, 0, 0) : set(x, rd, aLo, aHi);
  }
  // anything else that reaches here was decoded but not implemented: an illegal instruction for the guest
  h.illegal(0);
}

/**
 * LR/SC and AMOs (Unprivileged Spec chapter 8): naturally aligned, RAM only. They go through Atomics, so they
 * stay atomic when harts in other threads share the RAM: AMOs are one atomic read-modify-write (a
 * compare-and-swap loop for min/max and for doublewords), and SC stores only if the reservation is valid
 * and memory still holds what LR read (compare-and-swap; a store of the same value in between goes unseen,
 * which the ISA permits: it only requires SC to fail when it cannot be atomic).
 * rd is a register slot (X_SINK for x0).
 */
export function atomic(h: Hart, op: Op, rd: number, aLo: number, aHi: number, bLo: number, bHi: number, dword: boolean): void {
  const x = h.x;
  const s = h.s;
  const size = dword ? 8 : 4;
  if ((aLo & (size - 1)) !== 0) h.raise(op === Op.LR ? CAUSE.MISALIGNED_LOAD : CAUSE.MISALIGNED_STORE, aLo, aHi);
  const ram = h.ram;
  if (op === Op.LR) {
    const pa = h.dataAddr(aLo, aHi, size, Access.READ);
    if (!ram.contains(pa, size)) h.raise(CAUSE.LOAD_ACCESS, aLo, aHi);
    const off = pa - ram.base;
    let lo: number, hi: number;
    if (dword) {
      const v = Atomics.load(ram.i64, off >> 3);
      lo = Number(BigInt.asIntN(32, v));
      hi = Number(v >> 32n);
      set(x, rd, lo, hi);
    } else {
      lo = Atomics.load(ram.i32, off >> 2);
      hi = lo >> 31;
      setW(x, rd, lo);
    }
    s[S.RES_VALID] = 1;
    s[S.RES_ADDR] = pa % TWO32;
    s[S.RES_ADDR + 1] = Math.floor(pa / TWO32);
    s[S.RES_VAL] = lo;
    s[S.RES_VAL + 1] = hi;
    return;
  }
  const pa = h.dataAddr(aLo, aHi, size, Access.WRITE);
  if (!ram.contains(pa, size)) h.raise(CAUSE.STORE_ACCESS, aLo, aHi);
  const off = pa - ram.base;
  if (op === Op.SC) {
    let ok = s[S.RES_VALID] === 1 && s[S.RES_ADDR] === (pa % TWO32 | 0) && s[S.RES_ADDR + 1] === Math.floor(pa / TWO32);
    s[S.RES_VALID] = 0;
    if (ok) {
      if (dword) {
        const expect = pair64(s[S.RES_VAL], s[S.RES_VAL + 1]);
        ok = Atomics.compareExchange(ram.i64, off >> 3, expect, pair64(bLo, bHi)) === expect;
      } else {
        ok = Atomics.compareExchange(ram.i32, off >> 2, s[S.RES_VAL], bLo) === s[S.RES_VAL];
      }
      if (ok) stored(h, pa, off, size);
    }
    set(x, rd, ok ? 0 : 1, 0);
    return;
  }
  if (!dword) {
    const i = off >> 2;
    const a = ram.i32;
    let old: number;
    switch (op) {
      case Op.AMOSWAP: old = Atomics.exchange(a, i, bLo); break;
      case Op.AMOADD: old = Atomics.add(a, i, bLo); break;
      case Op.AMOXOR: old = Atomics.xor(a, i, bLo); break;
      case Op.AMOAND: old = Atomics.and(a, i, bLo); break;
      case Op.AMOOR: old = Atomics.or(a, i, bLo); break;
      default:
        for (;;) {
          old = Atomics.load(a, i);
          const keepOld = op === Op.AMOMIN ? old < bLo : op === Op.AMOMAX ? old > bLo
            : op === Op.AMOMINU ? old >>> 0 < bLo >>> 0 : old >>> 0 > bLo >>> 0;
          if (Atomics.compareExchange(a, i, old, keepOld ? old : bLo) === old) break;
        }
    }
    stored(h, pa, off, 4);
    setW(x, rd, old);
    return;
  }
  const i = off >> 3;
  const a = ram.i64;
  for (;;) {
    const ov = Atomics.load(a, i);
    const oLo = Number(BigInt.asIntN(32, ov));
    const oHi = Number(ov >> 32n);
    let nLo: number, nHi: number;
    switch (op) {
      case Op.AMOSWAP: nLo = bLo; nHi = bHi; break;
      case Op.AMOADD: {
        const sum = (oLo >>> 0) + (bLo >>> 0);
        nLo = sum | 0;
        nHi = (oHi + bHi + (sum >= TWO32 ? 1 : 0)) | 0;
        break;
      }
      case Op.AMOXOR: nLo = oLo ^ bLo; nHi = oHi ^ bHi; break;
      case Op.AMOAND: nLo = oLo & bLo; nHi = oHi & bHi; break;
      case Op.AMOOR: nLo = oLo | bLo; nHi = oHi | bHi; break;
      case Op.AMOMIN: [nLo, nHi] = ltS(oLo, oHi, bLo, bHi) ? [oLo, oHi] : [bLo, bHi]; break;
      case Op.AMOMAX: [nLo, nHi] = ltS(oLo, oHi, bLo, bHi) ? [bLo, bHi] : [oLo, oHi]; break;
      case Op.AMOMINU: [nLo, nHi] = ltU(oLo, oHi, bLo, bHi) ? [oLo, oHi] : [bLo, bHi]; break;
      default: [nLo, nHi] = ltU(oLo, oHi, bLo, bHi) ? [bLo, bHi] : [oLo, oHi]; break; // AMOMAXU
    }
    if (Atomics.compareExchange(a, i, ov, pair64(nLo, nHi)) === ov) {
      stored(h, pa, off, 8);
      set(x, rd, oLo, oHi);
      return;
    }
  }
}

/** A 64-bit value from its (lo, hi) int32 halves, as Atomics on a BigInt64Array take it. */
function pair64(lo: number, hi: number): bigint {
  return (BigInt(hi) << 32n) | BigInt(lo >>> 0);
}

/** What a store to RAM owes besides the bytes: code caches and host watches (the touched-memory account
 *  was kept by the write translation, as for every store). */
function stored(h: Hart, pa: number, off: number, size: number): void {
  const flags = h.ram.pageFlags[off >>> 12];
  if (flags & 1) h.ram.noteWrite(off, size);
  if (flags & 2 && h.onWatchedStore) h.onWatchedStore(pa);
}
