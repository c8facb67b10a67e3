// The hart's floating-point unit: F and D operations on the f registers in the hart's state block.
//
// Registers hold integer bit patterns ((lo, hi) int32 pairs at F_BASE, binary32 values NaN-boxed: hi = -1).
// Fast paths read them through Float64Array/Float32Array views as JavaScript doubles, compute in round-to-
// nearest-even, and use the result only when it and every exception flag are provably exact:
//   - binary64 +,-: Knuth's TwoSum error term gives inexactness; sums never underflow inexactly.
//   - binary64 *, /, sqrt: Dekker's exact product (Veltkamp splitting) checks the result (x*y - r, q*y - x,
//     r*r - x); only applied well inside the exponent range, where splitting and products cannot underflow.
//   - binary64 fma: Boldo & Melquiond's emulation (exact product, TwoSum, a round-to-odd addition, one final
//     rounding), with the exact residual deciding NX.
//   - binary32 +,-,*,/,sqrt: computed in binary64 and rounded with Math.fround; double rounding is innocuous
//     because 53 >= 2*24 + 2 (Figueroa); binary32 fma rounds the binary64 sum to odd first (53 >= 24 + 2).
//   - results must be normal (strictly above the smallest normal, so no tininess question) and finite.
// Anything else (NaN or infinite operands, other rounding modes, possible underflow/overflow, operands near the
// exponent limits) goes to the exact BigInt implementation in soft.ts. NaNs never pass through JS doubles.
import { S, F_BASE } from '../state.js';
import {
  FLAG, RM, F32, F64, add, mul, div, sqrt, fma, convert, fromInt, toInt, compare, minMax, type FlagSink,
} from './soft.js';

const TWO32 = 4294967296;
const MIN_NORMAL_D = 2 ** -1022;
const MIN_NORMAL_S = 2 ** -126;
/** Veltkamp splitting constant 2^27 + 1. */
const SPLIT = 134217729;
/** Magnitude window in which Dekker's product is exact (no overflow when splitting, no underflow in parts). */
const DEK_LO = 2 ** -960;
const DEK_HI = 2 ** 995;
/** Index of f0 in a Float64Array over the state block. */
const F64_BASE = F_BASE >> 1;
const CANON_S = 0x7fc00000;

/** Error of the floating-point product p = RN(a*b): a*b - p exactly (Dekker), inside the DEK window. */
function prodErr(a: number, b: number, p: number): number {
  const ca = SPLIT * a;
  const ah = ca - (ca - a);
  const al = a - ah;
  const cb = SPLIT * b;
  const bh = cb - (cb - b);
  const bl = b - bh;
  return ((ah * bh - p) + ah * bl + al * bh) + al * bl;
}

const inDek = (v: number): boolean => {
  const a = Math.abs(v);
  return a > DEK_LO && a < DEK_HI;
};

export class Fpu implements FlagSink {
  /** Flags raised by the current slow-path operation. */
  flags = 0;
  private readonly s: Int32Array;
  private readonly f64: Float64Array;
  private readonly f32: Float32Array;
  /** Scratch for looking at the bits of a double. */
  private readonly sd = new Float64Array(1);
  private readonly si = new Int32Array(this.sd.buffer);

  constructor(s: Int32Array) {
    if (s.byteOffset % 8 !== 0) throw new Error('state block must be 8-byte aligned');
    this.s = s;
    this.f64 = new Float64Array(s.buffer, s.byteOffset, s.length >> 1);
    this.f32 = new Float32Array(s.buffer, s.byteOffset, s.length);
  }

  // ---------------------------------------------------------------------------------------------- registers
  // `r` arguments are f-register numbers times two (the decoded slot).

  getD(r: number): bigint {
    const s = this.s;
    return (BigInt(s[F_BASE + r + 1] >>> 0) << 32n) | BigInt(s[F_BASE + r] >>> 0);
  }
  putD(r: number, v: bigint): void {
    this.s[F_BASE + r] = Number(BigInt.asIntN(32, v));
    this.s[F_BASE + r + 1] = Number(BigInt.asIntN(32, v >> 32n));
  }
  /** The binary32 value of an f register: improperly NaN-boxed values read as the canonical NaN. */
  getSBits(r: number): number {
    const s = this.s;
    return s[F_BASE + r + 1] === -1 ? s[F_BASE + r] : CANON_S;
  }
  getS(r: number): bigint {
    return BigInt(this.getSBits(r) >>> 0);
  }
  putS(r: number, v: bigint): void {
    this.s[F_BASE + r] = Number(BigInt.asIntN(32, v));
    this.s[F_BASE + r + 1] = -1;
  }
  putSBits(r: number, v: number): void {
    this.s[F_BASE + r] = v;
    this.s[F_BASE + r + 1] = -1;
  }

  private raise(flags: number): void {
    this.s[S.FCSR] |= flags;
  }
  private begin(): FlagSink {
    this.flags = 0;
    return this;
  }
  private end(): void {
    if (this.flags !== 0) this.s[S.FCSR] |= this.flags;
  }

  // ---------------------------------------------------------------------------------------------- binary64

  /** rd = rs1 + rs2 (neg: rs1 - rs2). */
  addD(rd: number, a: number, b: number, neg: boolean, rm: number): void {
    const f = this.f64;
    if (rm === RM.RNE) {
      const x = f[F64_BASE + (a >> 1)];
      const y = neg ? -f[F64_BASE + (b >> 1)] : f[F64_BASE + (b >> 1)];
      const r = x + y;
      if (Math.abs(r) < Infinity) { // false for NaN and overflow
        const bb = r - x;
        if ((x - (r - bb)) + (y - bb) !== 0) this.raise(FLAG.NX);
        f[F64_BASE + (rd >> 1)] = r;
        return;
      }
    }
    const fl = this.begin();
    this.putD(rd, add(F64, this.getD(a), this.getD(b), neg, rm, fl));
    this.end();
  }

  mulD(rd: number, a: number, b: number, rm: number): void {
    const f = this.f64;
    if (rm === RM.RNE) {
      const x = f[F64_BASE + (a >> 1)], y = f[F64_BASE + (b >> 1)];
      const r = x * y;
      if (inDek(r) && inDek(x) && inDek(y)) {
        if (prodErr(x, y, r) !== 0) this.raise(FLAG.NX);
        f[F64_BASE + (rd >> 1)] = r;
        return;
      }
    }
    const fl = this.begin();
    this.putD(rd, mul(F64, this.getD(a), this.getD(b), rm, fl));
    this.end();
  }

  divD(rd: number, a: number, b: number, rm: number): void {
    const f = this.f64;
    if (rm === RM.RNE) {
      const x = f[F64_BASE + (a >> 1)], y = f[F64_BASE + (b >> 1)];
      const q = x / y;
      if (inDek(q) && inDek(x) && inDek(y)) {
        const p = q * y;
        if (p !== x || prodErr(q, y, p) !== 0) this.raise(FLAG.NX);
        f[F64_BASE + (rd >> 1)] = q;
        return;
      }
    }
    const fl = this.begin();
    this.putD(rd, div(F64, this.getD(a), this.getD(b), rm, fl));
    this.end();
  }

  sqrtD(rd: number, a: number, rm: number): void {
    const f = this.f64;
    if (rm === RM.RNE) {
      const x = f[F64_BASE + (a >> 1)];
      if (x > DEK_LO && x < DEK_HI) {
        const r = Math.sqrt(x);
        const p = r * r;
        if (p !== x || prodErr(r, r, p) !== 0) this.raise(FLAG.NX);
        f[F64_BASE + (rd >> 1)] = r;
        return;
      }
    }
    const fl = this.begin();
    this.putD(rd, sqrt(F64, this.getD(a), rm, fl));
    this.end();
  }

  /** Round-to-odd correction: z = RN(x) with error e != 0; returns the odd neighbour of z on e's side if z is even. */
  private toOdd(z: number, e: number): number {
    const sd = this.sd, si = this.si;
    sd[0] = z;
    const lo = si[0];
    if ((lo & 1) !== 0) return z;
    // z is even: step one unit in the last place towards the exact value (|z| grows iff e has z's sign)
    if ((z > 0) === (e > 0)) si[0] = lo + 1; // lo even: no carry
    else if (lo !== 0) si[0] = lo - 1;
    else {
      si[0] = -1;
      si[1] = si[1] - 1;
    }
    return sd[0];
  }

  /** rd = (±rs1*rs2) ± rs3 with one rounding. */
  fmaD(rd: number, a: number, b: number, c: number, negProd: boolean, negC: boolean, rm: number): void {
    const f = this.f64;
    if (rm === RM.RNE) {
      const x = f[F64_BASE + (a >> 1)];
      const y = negProd ? -f[F64_BASE + (b >> 1)] : f[F64_BASE + (b >> 1)];
      const z = negC ? -f[F64_BASE + (c >> 1)] : f[F64_BASE + (c >> 1)];
      const uh = x * y;
      if (inDek(uh) && inDek(x) && inDek(y) && Math.abs(z) < DEK_HI) {
        const ul = prodErr(x, y, uh); // x*y = uh + ul exactly
        // (th, tl) = TwoSum(z, uh)
        const th = z + uh;
        const t1 = th - z;
        const tl = (z - (th - t1)) + (uh - t1);
        // v = RO(tl + ul)
        const z2 = tl + ul;
        const t2 = z2 - tl;
        const e = (tl - (z2 - t2)) + (ul - t2);
        const v = e === 0 ? z2 : this.toOdd(z2, e);
        // r = RN(th + v), e3 its error
        const r = th + v;
        const ar = Math.abs(r);
        if (ar > MIN_NORMAL_D && ar < Infinity) {
          const t3 = r - th;
          const e3 = (th - (r - t3)) + (v - t3);
          let inexact: boolean;
          if (e === 0) inexact = e3 !== 0;
          else {
            // exact value - r = e3 + (z2 - v) + e; z2 - v is 0 or one ulp (exact)
            const d = z2 - v;
            const g = d + e;
            const gt = g - d;
            const gErr = (d - (g - gt)) + (e - gt);
            inexact = gErr !== 0 || e3 !== -g;
          }
          if (inexact) this.raise(FLAG.NX);
          f[F64_BASE + (rd >> 1)] = r;
          return;
        }
      }
    }
    const fl = this.begin();
    this.putD(rd, fma(F64, this.getD(a), this.getD(b), this.getD(c), negProd, negC, rm, fl));
    this.end();
  }

  // ---------------------------------------------------------------------------------------------- binary32

  /** The binary32 value of register slot r as a double, or NaN when it is not a properly boxed non-NaN. */
  private readS(r: number): number {
    return this.s[F_BASE + r + 1] === -1 ? this.f32[F_BASE + r] : NaN;
  }
  private writeS(rd: number, v: number): void {
    this.f32[F_BASE + rd] = v;
    this.s[F_BASE + rd + 1] = -1;
  }

  addS(rd: number, a: number, b: number, neg: boolean, rm: number): void {
    if (rm === RM.RNE) {
      const x = this.readS(a);
      const y = neg ? -this.readS(b) : this.readS(b);
      const d = x + y;
      const r = Math.fround(d);
      if (Math.abs(r) < Infinity) {
        const bb = d - x;
        if (r !== d || (x - (d - bb)) + (y - bb) !== 0) this.raise(FLAG.NX);
        this.writeS(rd, r);
        return;
      }
    }
    const fl = this.begin();
    this.putS(rd, add(F32, this.getS(a), this.getS(b), neg, rm, fl));
    this.end();
  }

  mulS(rd: number, a: number, b: number, rm: number): void {
    if (rm === RM.RNE) {
      const d = this.readS(a) * this.readS(b); // exact: 48-bit product within binary64's range
      const r = Math.fround(d);
      const ar = Math.abs(r);
      if ((ar > MIN_NORMAL_S && ar < Infinity) || d === 0) {
        if (r !== d) this.raise(FLAG.NX);
        this.writeS(rd, r);
        return;
      }
    }
    const fl = this.begin();
    this.putS(rd, mul(F32, this.getS(a), this.getS(b), rm, fl));
    this.end();
  }

  divS(rd: number, a: number, b: number, rm: number): void {
    if (rm === RM.RNE) {
      const x = this.readS(a), y = this.readS(b);
      const d = x / y;
      const r = Math.fround(d);
      const ar = Math.abs(r);
      if (ar > MIN_NORMAL_S && ar < Infinity) {
        if (r !== d || r * y !== x) this.raise(FLAG.NX); // r*y: 48-bit product, exact
        this.writeS(rd, r);
        return;
      }
    }
    const fl = this.begin();
    this.putS(rd, div(F32, this.getS(a), this.getS(b), rm, fl));
    this.end();
  }

  sqrtS(rd: number, a: number, rm: number): void {
    if (rm === RM.RNE) {
      const x = this.readS(a);
      if (x > 0 && x < Infinity) {
        const d = Math.sqrt(x);
        const r = Math.fround(d);
        if (r !== d || r * r !== x) this.raise(FLAG.NX);
        this.writeS(rd, r);
        return;
      }
    }
    const fl = this.begin();
    this.putS(rd, sqrt(F32, this.getS(a), rm, fl));
    this.end();
  }

  fmaS(rd: number, a: number, b: number, c: number, negProd: boolean, negC: boolean, rm: number): void {
    if (rm === RM.RNE) {
      const x = this.readS(a);
      const y = negProd ? -this.readS(b) : this.readS(b);
      const z = negC ? -this.readS(c) : this.readS(c);
      const p = x * y; // exact
      const d = p + z;
      const t = d - p;
      const e = (p - (d - t)) + (z - t);
      const o = e === 0 ? d : this.toOdd(d, e);
      const r = Math.fround(o);
      const ar = Math.abs(r);
      if (ar > MIN_NORMAL_S && ar < Infinity) {
        if (e !== 0 || r !== o) this.raise(FLAG.NX);
        this.writeS(rd, r);
        return;
      }
    }
    const fl = this.begin();
    this.putS(rd, fma(F32, this.getS(a), this.getS(b), this.getS(c), negProd, negC, rm, fl));
    this.end();
  }

  // ---------------------------------------------------------------------------------------------- conversions

  /** fcvt.s.d */
  cvtSD(rd: number, a: number, rm: number): void {
    if (rm === RM.RNE) {
      const x = this.f64[F64_BASE + (a >> 1)];
      const r = Math.fround(x);
      const ar = Math.abs(r);
      if ((ar > MIN_NORMAL_S && ar < Infinity) || x === 0) {
        if (r !== x) this.raise(FLAG.NX);
        this.writeS(rd, r);
        return;
      }
    }
    const fl = this.begin();
    this.putS(rd, convert(F64, F32, this.getD(a), rm, fl));
    this.end();
  }

  /** fcvt.d.s (exact except for NaNs) */
  cvtDS(rd: number, a: number, rm: number): void {
    const x = this.readS(a);
    if (x === x) {
      this.f64[F64_BASE + (rd >> 1)] = x;
      return;
    }
    const fl = this.begin();
    this.putD(rd, convert(F32, F64, this.getS(a), rm, fl));
    this.end();
  }

  /**
   * Float to integer (fcvt.{w,wu,l,lu}.{s,d}): writes the result to integer slot xd of `x` (32-bit results
   * sign-extended, as RV64 specifies even for the unsigned forms).
   */
  toInt(x: Int32Array, xd: number, a: number, double: boolean, width: number, signed: boolean, rm: number): void {
    const v = double ? this.f64[F64_BASE + (a >> 1)] : this.readS(a);
    if (Math.abs(v) < 9007199254740992) { // 2^53; false for NaN
      let t = Math.trunc(v);
      const fr = v - t; // exact
      if (fr !== 0) {
        switch (rm) {
          case RM.RNE: {
            const af = Math.abs(fr);
            if (af > 0.5 || (af === 0.5 && t % 2 !== 0)) t += fr > 0 ? 1 : -1;
            break;
          }
          case RM.RDN: if (fr < 0) t -= 1; break;
          case RM.RUP: if (fr > 0) t += 1; break;
          case RM.RMM: if (Math.abs(fr) >= 0.5) t += fr > 0 ? 1 : -1; break;
        }
      }
      let ok: boolean;
      if (width === 32) ok = signed ? t >= -2147483648 && t <= 2147483647 : t >= 0 && t <= 4294967295;
      else ok = signed || t >= 0;
      if (ok) {
        if (fr !== 0) this.raise(FLAG.NX);
        if (width === 32) {
          const w = t | 0;
          x[xd] = w;
          x[xd + 1] = w >> 31;
        } else {
          const hi = Math.floor(t / TWO32);
          x[xd] = (t - hi * TWO32) | 0;
          x[xd + 1] = hi | 0;
        }
        return;
      }
    }
    const fl = this.begin();
    let r = toInt(double ? F64 : F32, double ? this.getD(a) : this.getS(a), width, signed, rm, fl);
    if (width === 32) r = BigInt.asIntN(32, r);
    x[xd] = Number(BigInt.asIntN(32, r));
    x[xd + 1] = Number(BigInt.asIntN(32, r >> 32n));
    this.end();
  }

  /** Integer (lo, hi) to float (fcvt.{s,d}.{w,wu,l,lu}); `width` 32 uses lo only. */
  fromInt(rd: number, lo: number, hi: number, double: boolean, width: number, signed: boolean, rm: number): void {
    let v: number;
    if (width === 32) v = signed ? lo : lo >>> 0;
    else if (signed ? hi >= -0x200000 && hi < 0x200000 : hi >>> 0 < 0x200000) v = hi * TWO32 + (lo >>> 0);
    else v = NaN; // beyond 2^53: exact path
    if (v === v) {
      // v is exact; binary64 holds every such value, binary32 rounds once with Math.fround in RNE
      if (double) {
        this.f64[F64_BASE + (rd >> 1)] = v;
        return;
      }
      const r = Math.fround(v);
      if (r === v || rm === RM.RNE) {
        if (r !== v) this.raise(FLAG.NX);
        this.writeS(rd, r);
        return;
      }
    }
    let big: bigint;
    if (width === 32) big = BigInt(signed ? lo : lo >>> 0);
    else {
      big = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
      if (signed) big = BigInt.asIntN(64, big);
    }
    const fl = this.begin();
    if (double) this.putD(rd, fromInt(F64, big, rm, fl));
    else this.putS(rd, fromInt(F32, big, rm, fl));
    this.end();
  }

  // ---------------------------------------------------------------------------------------------- compare, min/max, class

  /** feq/flt/fle (kind 0/1/2): 1 or 0. */
  compareD(a: number, b: number, kind: number): number {
    const x = this.f64[F64_BASE + (a >> 1)], y = this.f64[F64_BASE + (b >> 1)];
    if (x === x && y === y) return (kind === 0 ? x === y : kind === 1 ? x < y : x <= y) ? 1 : 0;
    const fl = this.begin();
    const r = compare(F64, this.getD(a), this.getD(b), kind, fl);
    this.end();
    return r ? 1 : 0;
  }

  compareS(a: number, b: number, kind: number): number {
    const x = this.readS(a), y = this.readS(b);
    if (x === x && y === y) return (kind === 0 ? x === y : kind === 1 ? x < y : x <= y) ? 1 : 0;
    const fl = this.begin();
    const r = compare(F32, this.getS(a), this.getS(b), kind, fl);
    this.end();
    return r ? 1 : 0;
  }

  minMaxD(rd: number, a: number, b: number, max: boolean): void {
    const x = this.f64[F64_BASE + (a >> 1)], y = this.f64[F64_BASE + (b >> 1)];
    const s = this.s;
    if (x === x && y === y) {
      let pickA: boolean;
      if (x !== y) pickA = (x < y) !== max;
      else pickA = (s[F_BASE + a + 1] < 0) !== max; // equal: only ±0 differ, -0 is the smaller
      const src = pickA ? a : b;
      s[F_BASE + rd] = s[F_BASE + src];
      s[F_BASE + rd + 1] = s[F_BASE + src + 1];
      return;
    }
    const fl = this.begin();
    this.putD(rd, minMax(F64, this.getD(a), this.getD(b), max, fl));
    this.end();
  }

  minMaxS(rd: number, a: number, b: number, max: boolean): void {
    const x = this.readS(a), y = this.readS(b);
    const s = this.s;
    if (x === x && y === y) {
      let pickA: boolean;
      if (x !== y) pickA = (x < y) !== max;
      else pickA = (s[F_BASE + a] < 0) !== max;
      this.putSBits(rd, s[F_BASE + (pickA ? a : b)]);
      return;
    }
    const fl = this.begin();
    this.putS(rd, minMax(F32, this.getS(a), this.getS(b), max, fl));
    this.end();
  }

  /** fclass.d: one-hot mask (bit 0 -inf .. 7 +inf, 8 signaling NaN, 9 quiet NaN). */
  classD(a: number): number {
    const hi = this.s[F_BASE + a + 1], lo = this.s[F_BASE + a];
    const ex = (hi >>> 20) & 0x7ff;
    const fracZero = (hi & 0xfffff) === 0 && lo === 0;
    return classBits(hi < 0, ex === 0x7ff, ex === 0, fracZero, (hi & 0x80000) !== 0);
  }
  classS(a: number): number {
    const v = this.getSBits(a);
    const ex = (v >>> 23) & 0xff;
    return classBits(v < 0, ex === 0xff, ex === 0, (v & 0x7fffff) === 0, (v & 0x400000) !== 0);
  }
}

function classBits(neg: boolean, maxExp: boolean, zeroExp: boolean, fracZero: boolean, quiet: boolean): number {
  if (maxExp) return fracZero ? (neg ? 1 << 0 : 1 << 7) : quiet ? 1 << 9 : 1 << 8;
  if (zeroExp) {
    if (fracZero) return neg ? 1 << 3 : 1 << 4;
    return neg ? 1 << 2 : 1 << 5;
  }
  return neg ? 1 << 1 : 1 << 6;
}
