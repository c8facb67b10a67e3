// 64-bit integer helpers on (lo, hi) int32 pairs, and BigInt conversions for the rare wide operations.

const TWO32 = 4294967296;

/** Signed 64-bit BigInt from (lo, hi). */
export function big(lo: number, hi: number): bigint {
  return (BigInt(hi) << 32n) | BigInt(lo >>> 0);
}
/** Unsigned 64-bit BigInt from (lo, hi). */
export function bigU(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}
/** Low and high int32 words of a BigInt (taken modulo 2^64). */
export function loOf(v: bigint): number {
  return Number(BigInt.asIntN(32, v));
}
export function hiOf(v: bigint): number {
  return Number(BigInt.asIntN(32, v >> 32n));
}

/** High 32 bits of the unsigned 64-bit product of two uint32 values. */
export function mulhu32(a: number, b: number): number {
  const a0 = a & 0xffff, a1 = a >>> 16, b0 = b & 0xffff, b1 = b >>> 16;
  const m1 = a1 * b0, m2 = a0 * b1;
  const t = ((a0 * b0) >>> 16) + (m1 & 0xffff) + (m2 & 0xffff);
  return (a1 * b1 + (m1 >>> 16) + (m2 >>> 16) + Math.floor(t / 65536)) | 0;
}

/** Signed value of (lo, hi) as a double when it is exactly representable (|v| < 2^53), else NaN. */
export function safeNum(lo: number, hi: number): number {
  if (hi >= -0x200000 && hi < 0x200000) return hi * TWO32 + (lo >>> 0);
  return NaN;
}

export function ctz32(x: number): number {
  return x === 0 ? 32 : 31 - Math.clz32(x & -x);
}

export function popcount32(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}
