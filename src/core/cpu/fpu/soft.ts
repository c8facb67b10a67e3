// Exact IEEE 754-2008 binary32/binary64 arithmetic on bit patterns, the way the RISC-V F and D extensions
// (Unprivileged Spec chapters 11 and 12) define it: five rounding modes, the five exception flags (tininess is
// detected after rounding, underflow is signalled only when the result is also inexact), the canonical NaN for
// every generated NaN, and RISC-V's integer conversion rules (saturation, NaN converts to the largest value).
//
// Every operation computes the exact result as an integer significand times a power of two (BigInt), or, for
// division and square root, enough quotient/root bits plus a sticky bit, and rounds it once in roundPack().
// This is the slow path the hart falls back to whenever its JavaScript-double fast paths cannot prove their
// result exact (see fpu.ts); it is also the reference those fast paths are tested against.
//
// Bit patterns are unsigned BigInts (binary32 values in the low 32 bits). Functions OR exception flags into
// `fl.flags` and never clear them.

/** fflags bits (fcsr bits 4:0). */
export const enum FLAG {
  NX = 1, // inexact
  UF = 2, // underflow
  OF = 4, // overflow
  DZ = 8, // divide by zero
  NV = 16, // invalid operation
}

/** Rounding modes (the rm field / frm encoding). */
export const enum RM {
  RNE = 0, // to nearest, ties to even
  RTZ = 1, // toward zero
  RDN = 2, // toward -infinity
  RUP = 3, // toward +infinity
  RMM = 4, // to nearest, ties away from zero
}

/** Where an operation reports its exception flags. */
export interface FlagSink {
  flags: number;
}

/** A binary interchange format. */
export interface Fmt {
  readonly width: number; // total bits
  readonly expBits: number;
  readonly fracBits: number; // stored fraction bits
  readonly p: number; // precision, hidden bit included
  readonly bias: number;
  readonly emin: number; // exponent of the smallest normal number
  readonly expMax: number; // all-ones exponent field (infinities and NaNs)
  readonly signBit: bigint;
  readonly fracMask: bigint;
  readonly quietBit: bigint;
  readonly inf: bigint;
  readonly maxFinite: bigint;
  readonly defaultNaN: bigint; // the canonical NaN
}

function makeFmt(expBits: number, fracBits: number): Fmt {
  const width = 1 + expBits + fracBits;
  const bias = (1 << (expBits - 1)) - 1;
  const expMax = (1 << expBits) - 1;
  const fracMask = (1n << BigInt(fracBits)) - 1n;
  const inf = BigInt(expMax) << BigInt(fracBits);
  return Object.freeze({
    width, expBits, fracBits, p: fracBits + 1, bias, emin: 1 - bias, expMax,
    signBit: 1n << BigInt(width - 1),
    fracMask,
    quietBit: 1n << BigInt(fracBits - 1),
    inf,
    maxFinite: inf - 1n,
    defaultNaN: inf | (1n << BigInt(fracBits - 1)),
  });
}

export const F32: Fmt = makeFmt(8, 23);
export const F64: Fmt = makeFmt(11, 52);

// ------------------------------------------------------------------------------------------------ unpacking

const enum K {
  ZERO,
  FINITE, // nonzero finite
  INF,
  QNAN,
  SNAN,
}

/** An unpacked operand: value = (-1)^s * m * 2^e for finite numbers. */
interface U {
  k: K;
  s: number;
  m: bigint;
  e: number;
}

function unpack(f: Fmt, a: bigint): U {
  const s = (a & f.signBit) !== 0n ? 1 : 0;
  const ex = Number((a >> BigInt(f.fracBits)) & BigInt(f.expMax));
  const fr = a & f.fracMask;
  if (ex === f.expMax) {
    if (fr === 0n) return { k: K.INF, s, m: 0n, e: 0 };
    return { k: (fr & f.quietBit) !== 0n ? K.QNAN : K.SNAN, s, m: 0n, e: 0 };
  }
  if (ex === 0) {
    if (fr === 0n) return { k: K.ZERO, s, m: 0n, e: 0 };
    return { k: K.FINITE, s, m: fr, e: f.emin - f.fracBits };
  }
  return { k: K.FINITE, s, m: fr | (1n << BigInt(f.fracBits)), e: ex - f.bias - f.fracBits };
}

const isNaN_ = (u: U): boolean => u.k === K.QNAN || u.k === K.SNAN;

export function isSignalingNaN(f: Fmt, a: bigint): boolean {
  return unpack(f, a).k === K.SNAN;
}
export function isNaNBits(f: Fmt, a: bigint): boolean {
  return isNaN_(unpack(f, a));
}

/** Number of significant bits of v > 0. */
export function bitLength(v: bigint): number {
  const hex = v.toString(16);
  return (hex.length - 1) * 4 + (32 - Math.clz32(parseInt(hex[0], 16)));
}

const zero = (f: Fmt, s: number): bigint => (s ? f.signBit : 0n);
const infinity = (f: Fmt, s: number): bigint => (s ? f.signBit | f.inf : f.inf);

// ------------------------------------------------------------------------------------------------ rounding

/**
 * Rounds m * 2^-shift (m >= 0, shift >= 1) to an integer in mode rm for a value of sign s.
 * Returns the rounded integer; `inexact` tells whether anything was discarded.
 */
function roundShift(m: bigint, shift: number, s: number, rm: number): { r: bigint; inexact: boolean } {
  const sh = BigInt(shift);
  const r = m >> sh;
  const rem = m - (r << sh);
  if (rem === 0n) return { r, inexact: false };
  const half = 1n << (sh - 1n);
  let up: boolean;
  switch (rm) {
    case RM.RNE: up = rem > half || (rem === half && (r & 1n) === 1n); break;
    case RM.RTZ: up = false; break;
    case RM.RDN: up = s === 1; break;
    case RM.RUP: up = s === 0; break;
    default: up = rem >= half; break; // RMM
  }
  return { r: up ? r + 1n : r, inexact: true };
}

/**
 * Rounds the value (-1)^s * (m + sticky') * 2^e to format f, where m > 0 and, when `sticky`, the exact value
 * lies strictly between m*2^e and (m+1)*2^e (callers then supply at least p+1 significant bits in m).
 * Raises OF/UF/NX as RISC-V specifies (tininess after rounding) and returns the packed result.
 */
export function roundPack(f: Fmt, s: number, m: bigint, e: number, sticky: boolean, rm: number, fl: FlagSink): bigint {
  if (sticky) {
    // Fold the sticky information into one extra low bit: with at least one bit discarded below, rounding
    // decisions about (m + something in (0,1)) and (m + 1/2) agree.
    m = (m << 1n) | 1n;
    e -= 1;
  }
  const n = bitLength(m);
  const E = e + n - 1; // m*2^e lies in [2^E, 2^(E+1))
  const q = (E > f.emin ? E : f.emin) - (f.p - 1); // exponent of the result's last significand bit
  let r: bigint;
  let inexact = false;
  if (q <= e) {
    r = m << BigInt(e - q);
  } else {
    const rr = roundShift(m, q - e, s, rm);
    r = rr.r;
    inexact = rr.inexact;
  }
  let qq = q;
  const pBig = BigInt(f.p);
  if (r >> pBig !== 0n) {
    // rounding carried into a new bit: r = 2^p
    r >>= 1n;
    qq += 1;
  }
  const normal = r >> (pBig - 1n) !== 0n;
  const biased = normal ? qq + (f.p - 1) + f.bias : 0;
  if (biased >= f.expMax) {
    fl.flags |= FLAG.OF | FLAG.NX;
    const toInf = rm === RM.RNE || rm === RM.RMM || (rm === RM.RDN && s === 1) || (rm === RM.RUP && s === 0);
    return (s ? f.signBit : 0n) | (toInf ? f.inf : f.maxFinite);
  }
  if (inexact) {
    fl.flags |= FLAG.NX;
    if (isTinyAfterRounding(f, s, m, e, E, rm)) fl.flags |= FLAG.UF;
  }
  const sign = s ? f.signBit : 0n;
  if (!normal) return sign | r; // subnormal or zero
  return sign | (BigInt(biased) << BigInt(f.fracBits)) | (r & f.fracMask);
}

/** Tininess after rounding: the result rounded to p bits with an unbounded exponent is below 2^emin. */
function isTinyAfterRounding(f: Fmt, s: number, m: bigint, e: number, E: number, rm: number): boolean {
  if (E >= f.emin) return false;
  if (E < f.emin - 1) return true;
  // E = emin - 1: tiny unless rounding to p bits carries up to 2^emin
  const qU = E - (f.p - 1);
  if (qU <= e) return true; // exact at p bits: the value itself is below 2^emin
  const { r } = roundShift(m, qU - e, s, rm);
  return r >> BigInt(f.p) === 0n;
}

// ------------------------------------------------------------------------------------------------ arithmetic

/** a + b (negB: a - b). */
export function add(f: Fmt, a: bigint, b: bigint, negB: boolean, rm: number, fl: FlagSink): bigint {
  const x = unpack(f, a), y = unpack(f, b);
  if (negB) y.s ^= 1;
  if (isNaN_(x) || isNaN_(y)) {
    if (x.k === K.SNAN || y.k === K.SNAN) fl.flags |= FLAG.NV;
    return f.defaultNaN;
  }
  return addU(f, x, y, rm, fl);
}

function addU(f: Fmt, x: U, y: U, rm: number, fl: FlagSink): bigint {
  if (x.k === K.INF || y.k === K.INF) {
    if (x.k === K.INF && y.k === K.INF && x.s !== y.s) {
      fl.flags |= FLAG.NV;
      return f.defaultNaN;
    }
    return infinity(f, x.k === K.INF ? x.s : y.s);
  }
  if (x.k === K.ZERO && y.k === K.ZERO) return zero(f, x.s === y.s ? x.s : rm === RM.RDN ? 1 : 0);
  if (x.k === K.ZERO) return roundPack(f, y.s, y.m, y.e, false, rm, fl);
  if (y.k === K.ZERO) return roundPack(f, x.s, x.m, x.e, false, rm, fl);
  return addExact(f, x.s, x.m, x.e, y.s, y.m, y.e, rm, fl);
}

/** Rounds the exact sum of two nonzero finite values. */
function addExact(f: Fmt, s1: number, m1: bigint, e1: number, s2: number, m2: bigint, e2: number, rm: number, fl: FlagSink): bigint {
  const e = e1 < e2 ? e1 : e2;
  let a = m1 << BigInt(e1 - e);
  let b = m2 << BigInt(e2 - e);
  if (s1) a = -a;
  if (s2) b = -b;
  const sum = a + b;
  if (sum === 0n) return zero(f, rm === RM.RDN ? 1 : 0);
  return sum < 0n ? roundPack(f, 1, -sum, e, false, rm, fl) : roundPack(f, 0, sum, e, false, rm, fl);
}

export function mul(f: Fmt, a: bigint, b: bigint, rm: number, fl: FlagSink): bigint {
  const x = unpack(f, a), y = unpack(f, b);
  if (isNaN_(x) || isNaN_(y)) {
    if (x.k === K.SNAN || y.k === K.SNAN) fl.flags |= FLAG.NV;
    return f.defaultNaN;
  }
  const s = x.s ^ y.s;
  if (x.k === K.INF || y.k === K.INF) {
    if (x.k === K.ZERO || y.k === K.ZERO) {
      fl.flags |= FLAG.NV;
      return f.defaultNaN;
    }
    return infinity(f, s);
  }
  if (x.k === K.ZERO || y.k === K.ZERO) return zero(f, s);
  return roundPack(f, s, x.m * y.m, x.e + y.e, false, rm, fl);
}

/**
 * Fused multiply-add with a single rounding: (±a*b) + (±c). negProd negates the product, negC the addend
 * (fmsub: negC; fnmsub: negProd; fnmadd: both).
 */
export function fma(f: Fmt, a: bigint, b: bigint, c: bigint, negProd: boolean, negC: boolean, rm: number, fl: FlagSink): bigint {
  const x = unpack(f, a), y = unpack(f, b), z = unpack(f, c);
  if (x.k === K.SNAN || y.k === K.SNAN || z.k === K.SNAN) fl.flags |= FLAG.NV;
  // ∞ × 0 is invalid even when the addend is a quiet NaN
  if ((x.k === K.INF && y.k === K.ZERO) || (x.k === K.ZERO && y.k === K.INF)) {
    fl.flags |= FLAG.NV;
    return f.defaultNaN;
  }
  if (isNaN_(x) || isNaN_(y) || isNaN_(z)) return f.defaultNaN;
  const ps = x.s ^ y.s ^ (negProd ? 1 : 0);
  const zs = z.s ^ (negC ? 1 : 0);
  if (x.k === K.INF || y.k === K.INF) {
    if (z.k === K.INF && zs !== ps) {
      fl.flags |= FLAG.NV;
      return f.defaultNaN;
    }
    return infinity(f, ps);
  }
  if (z.k === K.INF) return infinity(f, zs);
  const pZero = x.k === K.ZERO || y.k === K.ZERO;
  if (pZero && z.k === K.ZERO) return zero(f, ps === zs ? ps : rm === RM.RDN ? 1 : 0);
  if (pZero) return roundPack(f, zs, z.m, z.e, false, rm, fl);
  const pm = x.m * y.m, pe = x.e + y.e;
  if (z.k === K.ZERO) return roundPack(f, ps, pm, pe, false, rm, fl);
  return addExact(f, ps, pm, pe, zs, z.m, z.e, rm, fl);
}

export function div(f: Fmt, a: bigint, b: bigint, rm: number, fl: FlagSink): bigint {
  const x = unpack(f, a), y = unpack(f, b);
  if (isNaN_(x) || isNaN_(y)) {
    if (x.k === K.SNAN || y.k === K.SNAN) fl.flags |= FLAG.NV;
    return f.defaultNaN;
  }
  const s = x.s ^ y.s;
  if (x.k === K.INF) {
    if (y.k === K.INF) {
      fl.flags |= FLAG.NV;
      return f.defaultNaN;
    }
    return infinity(f, s);
  }
  if (y.k === K.INF) return zero(f, s);
  if (y.k === K.ZERO) {
    if (x.k === K.ZERO) {
      fl.flags |= FLAG.NV;
      return f.defaultNaN;
    }
    fl.flags |= FLAG.DZ;
    return infinity(f, s);
  }
  if (x.k === K.ZERO) return zero(f, s);
  // quotient with at least p+2 significant bits, remainder folded into a sticky bit
  const k = f.p + 2 + bitLength(y.m) - bitLength(x.m) + 1;
  const sh = k > 0 ? k : 0;
  const num = x.m << BigInt(sh);
  const q = num / y.m;
  const sticky = q * y.m !== num;
  return roundPack(f, s, q, x.e - y.e - sh, sticky, rm, fl);
}

/** Integer square root: floor(sqrt(n)) for n >= 0. */
export function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  // start above the root and descend with Newton's iteration
  let x = 1n << BigInt((bitLength(n) >> 1) + 1);
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

export function sqrt(f: Fmt, a: bigint, rm: number, fl: FlagSink): bigint {
  const x = unpack(f, a);
  if (isNaN_(x)) {
    if (x.k === K.SNAN) fl.flags |= FLAG.NV;
    return f.defaultNaN;
  }
  if (x.k === K.ZERO) return a; // sqrt(±0) = ±0
  if (x.s === 1) {
    fl.flags |= FLAG.NV;
    return f.defaultNaN;
  }
  if (x.k === K.INF) return a;
  let m = x.m, e = x.e;
  if (e & 1) {
    m <<= 1n;
    e -= 1;
  }
  // scale by 4^k so the root has at least p+2 bits
  const need = 2 * (f.p + 2) - bitLength(m);
  const k = need > 0 ? (need >> 1) + 1 : 0;
  const n = m << BigInt(2 * k);
  const r = isqrt(n);
  return roundPack(f, 0, r, e / 2 - k, r * r !== n, rm, fl);
}

// ------------------------------------------------------------------------------------------------ conversions

/** Converts between the two formats (or rounds within one). */
export function convert(from: Fmt, to: Fmt, a: bigint, rm: number, fl: FlagSink): bigint {
  const x = unpack(from, a);
  switch (x.k) {
    case K.SNAN: fl.flags |= FLAG.NV; return to.defaultNaN;
    case K.QNAN: return to.defaultNaN;
    case K.INF: return infinity(to, x.s);
    case K.ZERO: return zero(to, x.s);
  }
  return roundPack(to, x.s, x.m, x.e, false, rm, fl);
}

/** Converts a (mathematical) integer to format f. */
export function fromInt(f: Fmt, v: bigint, rm: number, fl: FlagSink): bigint {
  if (v === 0n) return 0n;
  return v < 0n ? roundPack(f, 1, -v, 0, false, rm, fl) : roundPack(f, 0, v, 0, false, rm, fl);
}

/**
 * Converts to a `width`-bit (32 or 64) signed or unsigned integer with RISC-V's rules: out-of-range values and
 * infinities saturate, NaN gives the largest value, both raise NV (and not NX). Returns the mathematical value.
 */
export function toInt(f: Fmt, a: bigint, width: number, signed: boolean, rm: number, fl: FlagSink): bigint {
  const x = unpack(f, a);
  const max = signed ? (1n << BigInt(width - 1)) - 1n : (1n << BigInt(width)) - 1n;
  const min = signed ? -(1n << BigInt(width - 1)) : 0n;
  if (isNaN_(x)) {
    fl.flags |= FLAG.NV;
    return max;
  }
  if (x.k === K.INF) {
    fl.flags |= FLAG.NV;
    return x.s ? min : max;
  }
  if (x.k === K.ZERO) return 0n;
  let r: bigint, inexact = false;
  if (x.e >= 0) r = x.m << BigInt(x.e);
  else {
    const rr = roundShift(x.m, -x.e, x.s, rm);
    r = rr.r;
    inexact = rr.inexact;
  }
  const v = x.s ? -r : r;
  if (v > max || v < min) {
    fl.flags |= FLAG.NV;
    return x.s ? min : max;
  }
  if (inexact) fl.flags |= FLAG.NX;
  return v;
}

// ------------------------------------------------------------------------------------------------ comparisons

/** Orders two non-NaN values: -1, 0, 1 (with -0 == +0). */
function cmpU(x: U, y: U): number {
  const key = (u: U): [number, bigint, number] => {
    // (class rank, significand, exponent) comparisons on magnitude
    if (u.k === K.ZERO) return [0, 0n, 0];
    if (u.k === K.INF) return [2, 0n, 0];
    return [1, u.m, u.e];
  };
  const mag = (a: U, b: U): number => {
    const [ka, ma, ea] = key(a), [kb, mb, eb] = key(b);
    if (ka !== kb) return ka < kb ? -1 : 1;
    if (ka !== 1) return 0;
    const e = ea < eb ? ea : eb;
    const va = ma << BigInt(ea - e), vb = mb << BigInt(eb - e);
    return va < vb ? -1 : va > vb ? 1 : 0;
  };
  if (x.k === K.ZERO && y.k === K.ZERO) return 0;
  if (x.s !== y.s) return x.s ? -1 : 1;
  const c = mag(x, y);
  return x.s ? -c : c;
}

/** Comparison kinds: feq (quiet), flt and fle (signaling). */
export const enum CMP {
  EQ = 0,
  LT = 1,
  LE = 2,
}

export function compare(f: Fmt, a: bigint, b: bigint, kind: number, fl: FlagSink): boolean {
  const x = unpack(f, a), y = unpack(f, b);
  if (isNaN_(x) || isNaN_(y)) {
    if (kind !== CMP.EQ || x.k === K.SNAN || y.k === K.SNAN) fl.flags |= FLAG.NV;
    return false;
  }
  const c = cmpU(x, y);
  return kind === CMP.EQ ? c === 0 : kind === CMP.LT ? c < 0 : c <= 0;
}

/** fmin/fmax (IEEE 754-2019 minimumNumber/maximumNumber as RISC-V adopted them): -0 < +0. */
export function minMax(f: Fmt, a: bigint, b: bigint, max: boolean, fl: FlagSink): bigint {
  const x = unpack(f, a), y = unpack(f, b);
  if (x.k === K.SNAN || y.k === K.SNAN) fl.flags |= FLAG.NV;
  if (isNaN_(x) && isNaN_(y)) return f.defaultNaN;
  if (isNaN_(x)) return b;
  if (isNaN_(y)) return a;
  let c = cmpU(x, y);
  if (c === 0 && x.k === K.ZERO) c = x.s === y.s ? 0 : x.s ? -1 : 1;
  return (c < 0) !== max ? a : b;
}

/** fclass: a one-hot 10-bit mask. */
export function classify(f: Fmt, a: bigint): number {
  const x = unpack(f, a);
  switch (x.k) {
    case K.INF: return x.s ? 1 << 0 : 1 << 7;
    case K.ZERO: return x.s ? 1 << 3 : 1 << 4;
    case K.SNAN: return 1 << 8;
    case K.QNAN: return 1 << 9;
  }
  const sub = (a & (BigInt(f.expMax) << BigInt(f.fracBits))) === 0n;
  if (x.s) return sub ? 1 << 2 : 1 << 1;
  return sub ? 1 << 5 : 1 << 6;
}
