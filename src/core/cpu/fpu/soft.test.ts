// Tests of the exact softfloat core: hand-derived vectors for every operation and corner of the rounding and
// flag rules, then randomized comparisons against independent oracles (JavaScript's own binary64 arithmetic is
// IEEE round-to-nearest-even; binary32 results equal Math.fround of the binary64 result for +,-,*,/,sqrt), and
// consistency properties of the directed rounding modes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  F32, F64, FLAG, RM, add, mul, div, sqrt, fma, convert, fromInt, toInt, compare, minMax, classify, isqrt, bitLength,
  type Fmt,
} from './soft.js';

const NX = FLAG.NX, UF = FLAG.UF, OF = FLAG.OF, DZ = FLAG.DZ, NV = FLAG.NV;

function run<T>(fn: (fl: { flags: number }) => T): [T, number] {
  const fl = { flags: 0 };
  const r = fn(fl);
  return [r, fl.flags];
}

const dv = new DataView(new ArrayBuffer(8));
function d2b(v: number): bigint {
  dv.setFloat64(0, v);
  return dv.getBigUint64(0);
}
function b2d(b: bigint): number {
  dv.setBigUint64(0, b);
  return dv.getFloat64(0);
}
function s2b(v: number): bigint {
  dv.setFloat32(0, v);
  return BigInt(dv.getUint32(0));
}
function b2s(b: bigint): number {
  dv.setUint32(0, Number(b));
  return dv.getFloat32(0);
}

const h = (v: bigint) => '0x' + v.toString(16);

test('bitLength and isqrt', () => {
  assert.equal(bitLength(1n), 1);
  assert.equal(bitLength(0xffn), 8);
  assert.equal(bitLength(0x100n), 9);
  assert.equal(bitLength(1n << 200n), 201);
  for (const n of [0n, 1n, 2n, 3n, 4n, 15n, 16n, 17n, (1n << 120n) - 1n, 1n << 121n, 12345678901234567890n]) {
    const r = isqrt(n);
    assert.ok(r * r <= n && (r + 1n) * (r + 1n) > n, `isqrt(${n})`);
  }
});

test('binary32 division rounds 1/3 in every mode', () => {
  const one = 0x3f800000n, three = 0x40400000n, mthree = 0xc0400000n;
  const expect: Array<[number, bigint, bigint]> = [
    [RM.RNE, 0x3eaaaaabn, 0xbeaaaaabn],
    [RM.RTZ, 0x3eaaaaaan, 0xbeaaaaaan],
    [RM.RDN, 0x3eaaaaaan, 0xbeaaaaabn],
    [RM.RUP, 0x3eaaaaabn, 0xbeaaaaaan],
    [RM.RMM, 0x3eaaaaabn, 0xbeaaaaabn],
  ];
  for (const [rm, pos, neg] of expect) {
    assert.deepEqual(run((fl) => div(F32, one, three, rm, fl)), [pos, NX], `rm ${rm}`);
    assert.deepEqual(run((fl) => div(F32, one, mthree, rm, fl)), [neg, NX], `rm ${rm} negative`);
  }
});

test('special operands: NaN propagation, invalid operations, signed zeros, division by zero', () => {
  const qnan = 0x7ff8000000000000n, snan = 0x7ff0000000000001n, inf = 0x7ff0000000000000n, ninf = 0xfff0000000000000n;
  const one = d2b(1), pz = 0n, nz = 1n << 63n;
  // any NaN operand gives the canonical NaN; only signaling NaNs raise NV
  assert.deepEqual(run((fl) => add(F64, 0x7ff800000000deadn, one, false, RM.RNE, fl)), [qnan, 0]);
  assert.deepEqual(run((fl) => add(F64, 0xfff800000000beefn, one, false, RM.RNE, fl)), [qnan, 0]);
  assert.deepEqual(run((fl) => mul(F64, snan, one, RM.RNE, fl)), [qnan, NV]);
  assert.deepEqual(run((fl) => add(F64, inf, ninf, false, RM.RNE, fl)), [qnan, NV]);
  assert.deepEqual(run((fl) => add(F64, inf, inf, true, RM.RNE, fl)), [qnan, NV]);
  assert.deepEqual(run((fl) => add(F64, inf, ninf, true, RM.RNE, fl)), [inf, 0]);
  assert.deepEqual(run((fl) => mul(F64, inf, pz, RM.RNE, fl)), [qnan, NV]);
  assert.deepEqual(run((fl) => mul(F64, ninf, d2b(-2), RM.RNE, fl)), [inf, 0]);
  assert.deepEqual(run((fl) => div(F64, pz, nz, RM.RNE, fl)), [qnan, NV]);
  assert.deepEqual(run((fl) => div(F64, inf, ninf, RM.RNE, fl)), [qnan, NV]);
  assert.deepEqual(run((fl) => div(F64, d2b(-3), pz, RM.RNE, fl)), [ninf, DZ]);
  assert.deepEqual(run((fl) => div(F64, d2b(3), nz, RM.RNE, fl)), [ninf, DZ]);
  assert.deepEqual(run((fl) => div(F64, inf, pz, RM.RNE, fl)), [inf, 0]); // ∞/0 is exact ∞, no DZ
  assert.deepEqual(run((fl) => div(F64, one, ninf, RM.RNE, fl)), [nz, 0]);
  assert.deepEqual(run((fl) => sqrt(F64, d2b(-1), RM.RNE, fl)), [qnan, NV]);
  assert.deepEqual(run((fl) => sqrt(F64, nz, RM.RNE, fl)), [nz, 0]);
  assert.deepEqual(run((fl) => sqrt(F64, ninf, RM.RNE, fl)), [qnan, NV]);
  assert.deepEqual(run((fl) => sqrt(F64, inf, RM.RNE, fl)), [inf, 0]);
  // exact zero sums: +0 except when rounding down; x + x keeps the sign of x
  for (const rm of [RM.RNE, RM.RTZ, RM.RUP, RM.RMM]) {
    assert.deepEqual(run((fl) => add(F64, one, one, true, rm, fl)), [pz, 0]);
    assert.deepEqual(run((fl) => add(F64, pz, nz, false, rm, fl)), [pz, 0]);
  }
  assert.deepEqual(run((fl) => add(F64, one, one, true, RM.RDN, fl)), [nz, 0]);
  assert.deepEqual(run((fl) => add(F64, pz, nz, false, RM.RDN, fl)), [nz, 0]);
  assert.deepEqual(run((fl) => add(F64, nz, nz, false, RM.RNE, fl)), [nz, 0]);
  assert.deepEqual(run((fl) => add(F64, nz, pz, true, RM.RNE, fl)), [nz, 0]);
  assert.deepEqual(run((fl) => mul(F64, nz, one, RM.RNE, fl)), [nz, 0]);
  // binary32 equivalents
  assert.deepEqual(run((fl) => add(F32, 0x7f800000n, 0xff800000n, false, RM.RNE, fl)), [0x7fc00000n, NV]);
  assert.deepEqual(run((fl) => sqrt(F32, 0x7f800001n, RM.RNE, fl)), [0x7fc00000n, NV]);
  assert.deepEqual(run((fl) => sqrt(F32, 0xffc00001n, RM.RNE, fl)), [0x7fc00000n, 0]);
});

test('overflow results depend on the rounding mode and sign', () => {
  const max = 0x7fefffffffffffffn, inf = 0x7ff0000000000000n;
  const nmax = max | (1n << 63n), ninf = inf | (1n << 63n);
  const cases: Array<[number, bigint, bigint]> = [
    [RM.RNE, inf, ninf], [RM.RTZ, max, nmax], [RM.RDN, max, ninf], [RM.RUP, inf, nmax], [RM.RMM, inf, ninf],
  ];
  for (const [rm, pos, neg] of cases) {
    assert.deepEqual(run((fl) => add(F64, max, max, false, rm, fl)), [pos, OF | NX], `rm ${rm}`);
    assert.deepEqual(run((fl) => mul(F64, nmax, d2b(2), rm, fl)), [neg, OF | NX], `rm ${rm}`);
  }
  // just below the overflow threshold: max + half an ulp rounds to ∞ in RNE, stays max in RTZ
  const halfUlp = d2b(2 ** 970);
  assert.deepEqual(run((fl) => add(F64, max, halfUlp, false, RM.RNE, fl)), [inf, OF | NX]);
  assert.deepEqual(run((fl) => add(F64, max, halfUlp, false, RM.RTZ, fl)), [max, NX]);
  const lessThanHalf = d2b(2 ** 969);
  assert.deepEqual(run((fl) => add(F64, max, lessThanHalf, false, RM.RNE, fl)), [max, NX]);
  assert.deepEqual(run((fl) => add(F64, max, lessThanHalf, false, RM.RUP, fl)), [inf, OF | NX]);
  // binary32
  assert.deepEqual(run((fl) => mul(F32, 0x7f7fffffn, 0x40000000n, RM.RTZ, fl)), [0x7f7fffffn, OF | NX]);
  assert.deepEqual(run((fl) => mul(F32, 0x7f7fffffn, 0xc0000000n, RM.RNE, fl)), [0xff800000n, OF | NX]);
});

test('underflow: tininess is detected after rounding, and only inexact tiny results raise UF', () => {
  // exact subnormal results raise nothing
  assert.deepEqual(run((fl) => mul(F32, 0x00800000n, 0x3f000000n, RM.RNE, fl)), [0x00400000n, 0]);
  assert.deepEqual(run((fl) => add(F64, 1n, 1n, false, RM.RNE, fl)), [2n, 0]);
  // (1 - 2^-24) * 2^-126 = 2^-126 - 2^-150: rounds (tie to even) up to 2^-126 in the format, but with an
  // unbounded exponent it is exactly representable and below 2^-126: tiny and inexact
  assert.deepEqual(run((fl) => mul(F32, 0x3f7fffffn, 0x00800000n, RM.RNE, fl)), [0x00800000n, UF | NX]);
  assert.deepEqual(run((fl) => mul(F32, 0x3f7fffffn, 0x00800000n, RM.RTZ, fl)), [0x007fffffn, UF | NX]);
  // 2^-126 - 2^-151 rounds to 2^-126 even with an unbounded exponent: not tiny after rounding, NX only
  const justBelow = d2b(2 ** -126 - 2 ** -151);
  assert.deepEqual(run((fl) => convert(F64, F32, justBelow, RM.RNE, fl)), [0x00800000n, NX]);
  // ... but toward zero it stays below: tiny
  assert.deepEqual(run((fl) => convert(F64, F32, justBelow, RM.RTZ, fl)), [0x007fffffn, UF | NX]);
  // smallest subnormal halved: rounds to 0 (tie to even) or up to the smallest subnormal
  assert.deepEqual(run((fl) => mul(F64, 1n, d2b(0.5), RM.RNE, fl)), [0n, UF | NX]);
  assert.deepEqual(run((fl) => mul(F64, 1n, d2b(0.5), RM.RUP, fl)), [1n, UF | NX]);
  assert.deepEqual(run((fl) => mul(F64, 1n, d2b(-0.5), RM.RMM, fl)), [(1n << 63n) | 1n, UF | NX]);
  assert.deepEqual(run((fl) => mul(F64, 1n, d2b(-0.5), RM.RNE, fl)), [1n << 63n, UF | NX]);
});

test('binary64 vectors: 0.1 + 0.2, sqrt(2) in all modes, fused multiply-add keeps the low product bits', () => {
  assert.deepEqual(run((fl) => add(F64, d2b(0.1), d2b(0.2), false, RM.RNE, fl)), [0x3fd3333333333334n, NX]);
  const two = d2b(2);
  const up = 0x3ff6a09e667f3bcdn, down = 0x3ff6a09e667f3bccn; // sqrt(2) = 1.41421356237309504880...
  assert.deepEqual(run((fl) => sqrt(F64, two, RM.RNE, fl)), [up, NX]);
  assert.deepEqual(run((fl) => sqrt(F64, two, RM.RTZ, fl)), [down, NX]);
  assert.deepEqual(run((fl) => sqrt(F64, two, RM.RDN, fl)), [down, NX]);
  assert.deepEqual(run((fl) => sqrt(F64, two, RM.RUP, fl)), [up, NX]);
  assert.deepEqual(run((fl) => sqrt(F64, d2b(0.25), RM.RUP, fl)), [d2b(0.5), 0]);
  // (1 + 2^-30)^2 - (1 + 2^-29) = 2^-60 exactly
  const a = d2b(1 + 2 ** -30);
  assert.deepEqual(run((fl) => fma(F64, a, a, d2b(1 + 2 ** -29), false, true, RM.RNE, fl)), [d2b(2 ** -60), 0]);
  assert.deepEqual(run((fl) => fma(F64, a, a, d2b(1 + 2 ** -29), true, false, RM.RNE, fl)), [d2b(-(2 ** -60)), 0]);
  // ∞ × 0 is invalid even with a quiet NaN addend; a quiet NaN addend alone raises nothing
  const qnan = 0x7ff8000000000000n;
  assert.deepEqual(run((fl) => fma(F64, 0x7ff0000000000000n, 0n, qnan, false, false, RM.RNE, fl)), [qnan, NV]);
  assert.deepEqual(run((fl) => fma(F64, d2b(2), d2b(3), qnan, false, false, RM.RNE, fl)), [qnan, 0]);
  assert.deepEqual(run((fl) => fma(F64, 0x7ff0000000000000n, d2b(1), 0xfff0000000000000n, false, false, RM.RNE, fl)), [qnan, NV]);
  // signed zero of an exact zero fma result
  assert.deepEqual(run((fl) => fma(F64, 0n, d2b(5), 1n << 63n, false, false, RM.RNE, fl)), [0n, 0]);
  assert.deepEqual(run((fl) => fma(F64, 1n << 63n, d2b(5), 1n << 63n, false, false, RM.RNE, fl)), [1n << 63n, 0]);
  assert.deepEqual(run((fl) => fma(F64, d2b(2), d2b(3), d2b(6), false, true, RM.RDN, fl)), [1n << 63n, 0]);
  assert.deepEqual(run((fl) => fma(F64, d2b(2), d2b(3), d2b(6), false, true, RM.RUP, fl)), [0n, 0]);
  // a tiny product added to a large addend is only visible through NX and directed rounding
  assert.deepEqual(run((fl) => fma(F64, 1n, 1n, d2b(1), false, false, RM.RUP, fl)), [d2b(1 + 2 ** -52), NX]);
  assert.deepEqual(run((fl) => fma(F64, 1n, 1n, d2b(1), false, false, RM.RNE, fl)), [d2b(1), NX]);
});

test('conversions to integers: rounding, saturation, NaN, signedness', () => {
  const f = (v: number) => s2b(v);
  const I = (fmtv: bigint, w: number, sg: boolean, rm: number) => run((fl) => toInt(F32, fmtv, w, sg, rm, fl));
  assert.deepEqual(I(f(2.5), 32, true, RM.RNE), [2n, NX]);
  assert.deepEqual(I(f(3.5), 32, true, RM.RNE), [4n, NX]);
  assert.deepEqual(I(f(2.5), 32, true, RM.RMM), [3n, NX]);
  assert.deepEqual(I(f(-2.5), 32, true, RM.RMM), [-3n, NX]);
  assert.deepEqual(I(f(-2.5), 32, true, RM.RDN), [-3n, NX]);
  assert.deepEqual(I(f(-2.5), 32, true, RM.RUP), [-2n, NX]);
  assert.deepEqual(I(f(-2.5), 32, true, RM.RTZ), [-2n, NX]);
  assert.deepEqual(I(0x7fc00000n, 32, true, RM.RNE), [0x7fffffffn, NV]);
  assert.deepEqual(I(0xffc00000n, 64, true, RM.RNE), [(1n << 63n) - 1n, NV]); // NaN of either sign: largest
  assert.deepEqual(I(0xff800000n, 32, true, RM.RNE), [-(1n << 31n), NV]);
  assert.deepEqual(I(0xff800000n, 32, false, RM.RNE), [0n, NV]);
  assert.deepEqual(I(0x7f800000n, 64, false, RM.RNE), [(1n << 64n) - 1n, NV]);
  assert.deepEqual(I(f(3e9), 32, true, RM.RNE), [0x7fffffffn, NV]);
  assert.deepEqual(I(f(3e9), 32, false, RM.RNE), [3000000000n, 0]);
  assert.deepEqual(I(f(-1), 32, false, RM.RNE), [0n, NV]);
  assert.deepEqual(I(f(-0.5), 32, false, RM.RTZ), [0n, NX]); // rounds to 0: in range
  assert.deepEqual(I(f(-0.5), 32, false, RM.RDN), [0n, NV]); // rounds to -1: out of range
  assert.deepEqual(I(f(-(2 ** 31)), 32, true, RM.RNE), [-(2n ** 31n), 0]);
  assert.deepEqual(I(0x80000000n, 64, false, RM.RNE), [0n, 0]); // -0
  const D = (v: number, w: number, sg: boolean, rm: number) => run((fl) => toInt(F64, d2b(v), w, sg, rm, fl));
  assert.deepEqual(D(2 ** 63, 64, true, RM.RNE), [(1n << 63n) - 1n, NV]);
  assert.deepEqual(D(2 ** 63, 64, false, RM.RNE), [1n << 63n, 0]);
  assert.deepEqual(D(-(2 ** 63), 64, true, RM.RNE), [-(1n << 63n), 0]);
  assert.deepEqual(D(2 ** 64, 64, false, RM.RNE), [(1n << 64n) - 1n, NV]);
  assert.deepEqual(D(2147483647.5, 32, true, RM.RNE), [0x7fffffffn, NV]); // rounds to 2^31: out of range
  assert.deepEqual(D(2147483647.5, 32, true, RM.RTZ), [0x7fffffffn, NX]);
  assert.deepEqual(D(-2147483648.5, 32, true, RM.RUP), [-(2n ** 31n), NX]);
  assert.deepEqual(D(4294967295.5, 32, false, RM.RDN), [0xffffffffn, NX]);
});

test('conversions from integers and between formats', () => {
  assert.deepEqual(run((fl) => fromInt(F32, 16777217n, RM.RNE, fl)), [0x4b800000n, NX]);
  assert.deepEqual(run((fl) => fromInt(F32, 16777217n, RM.RUP, fl)), [0x4b800001n, NX]);
  assert.deepEqual(run((fl) => fromInt(F32, 16777219n, RM.RNE, fl)), [0x4b800002n, NX]); // tie to even
  assert.deepEqual(run((fl) => fromInt(F32, -16777217n, RM.RDN, fl)), [0xcb800001n, NX]);
  assert.deepEqual(run((fl) => fromInt(F64, (1n << 64n) - 1n, RM.RNE, fl)), [d2b(2 ** 64), NX]);
  assert.deepEqual(run((fl) => fromInt(F64, (1n << 64n) - 1n, RM.RTZ, fl)), [d2b(2 ** 64 - 2048), NX]);
  assert.deepEqual(run((fl) => fromInt(F64, -(1n << 63n), RM.RNE, fl)), [d2b(-(2 ** 63)), 0]);
  assert.deepEqual(run((fl) => fromInt(F64, 0n, RM.RDN, fl)), [0n, 0]); // +0 in every mode
  // binary64 -> binary32 and back
  assert.deepEqual(run((fl) => convert(F64, F32, d2b(0.1), RM.RNE, fl)), [0x3dcccccdn, NX]);
  assert.deepEqual(run((fl) => convert(F64, F32, d2b(0.1), RM.RTZ, fl)), [0x3dccccccn, NX]);
  assert.deepEqual(run((fl) => convert(F64, F32, d2b(1e300), RM.RNE, fl)), [0x7f800000n, OF | NX]);
  assert.deepEqual(run((fl) => convert(F64, F32, d2b(1e-300), RM.RNE, fl)), [0n, UF | NX]);
  assert.deepEqual(run((fl) => convert(F64, F32, 0x7ff0000000000001n, RM.RNE, fl)), [0x7fc00000n, NV]);
  assert.deepEqual(run((fl) => convert(F64, F32, 0xfff8000000000123n, RM.RNE, fl)), [0x7fc00000n, 0]);
  assert.deepEqual(run((fl) => convert(F32, F64, 0x00000001n, RM.RNE, fl)), [d2b(2 ** -149), 0]);
  assert.deepEqual(run((fl) => convert(F32, F64, 0xff800000n, RM.RNE, fl)), [0xfff0000000000000n, 0]);
  assert.deepEqual(run((fl) => convert(F32, F64, 0x7f800001n, RM.RNE, fl)), [0x7ff8000000000000n, NV]);
});

test('comparisons: quiet feq, signaling flt/fle, -0 == +0', () => {
  const q = 0x7ff8000000000000n, sn = 0x7ff0000000000001n, one = d2b(1), two = d2b(2);
  const C = (a: bigint, b: bigint, k: number) => run((fl) => compare(F64, a, b, k, fl));
  assert.deepEqual(C(one, one, 0), [true, 0]);
  assert.deepEqual(C(0n, 1n << 63n, 0), [true, 0]);
  assert.deepEqual(C(0n, 1n << 63n, 1), [false, 0]);
  assert.deepEqual(C(1n << 63n, 0n, 2), [true, 0]);
  assert.deepEqual(C(one, two, 1), [true, 0]);
  assert.deepEqual(C(d2b(-2), d2b(-1), 1), [true, 0]);
  assert.deepEqual(C(d2b(-1), d2b(-2), 2), [false, 0]);
  assert.deepEqual(C(0xfff0000000000000n, d2b(-1e308), 1), [true, 0]);
  assert.deepEqual(C(q, one, 0), [false, 0]);
  assert.deepEqual(C(sn, one, 0), [false, NV]);
  assert.deepEqual(C(q, one, 1), [false, NV]);
  assert.deepEqual(C(one, q, 2), [false, NV]);
  assert.deepEqual(C(q, q, 0), [false, 0]);
});

test('fmin/fmax: -0 < +0, NaN operands, signaling NaNs', () => {
  const q = 0x7fc00000n, sn = 0x7f800001n, one = s2b(1), pz = 0n, nz = 0x80000000n;
  const M = (a: bigint, b: bigint, mx: boolean) => run((fl) => minMax(F32, a, b, mx, fl));
  assert.deepEqual(M(pz, nz, false), [nz, 0]);
  assert.deepEqual(M(nz, pz, false), [nz, 0]);
  assert.deepEqual(M(pz, nz, true), [pz, 0]);
  assert.deepEqual(M(nz, pz, true), [pz, 0]);
  assert.deepEqual(M(q, one, false), [one, 0]);
  assert.deepEqual(M(one, 0xffc01234n, true), [one, 0]);
  assert.deepEqual(M(sn, one, true), [one, NV]);
  assert.deepEqual(M(0x7fc01234n, sn, false), [q, NV]); // both NaN: canonical
  assert.deepEqual(M(s2b(-3), s2b(2), false), [s2b(-3), 0]);
  assert.deepEqual(M(s2b(-3), s2b(2), true), [s2b(2), 0]);
  assert.deepEqual(M(0xff800000n, s2b(-1e38), true), [s2b(-1e38), 0]);
});

test('fclass: one bit per class', () => {
  const cases: Array<[Fmt, bigint, number]> = [
    [F64, 0xfff0000000000000n, 0], [F64, d2b(-1), 1], [F64, (1n << 63n) | 1n, 2], [F64, 1n << 63n, 3], [F64, 0n, 4],
    [F64, 0x000fffffffffffffn, 5], [F64, 0x0010000000000000n, 6], [F64, 0x7ff0000000000000n, 7],
    [F64, 0x7ff0000000000001n, 8], [F64, 0x7ff8000000000000n, 9], [F64, 0xfff4000000000000n, 8],
    [F32, 0xff800000n, 0], [F32, 0xbf800000n, 1], [F32, 0x807fffffn, 2], [F32, 0x80000000n, 3], [F32, 0n, 4],
    [F32, 1n, 5], [F32, 0x7f7fffffn, 6], [F32, 0x7f800000n, 7], [F32, 0x7fbfffffn, 8], [F32, 0xffc00000n, 9],
  ];
  for (const [f, v, bit] of cases) assert.equal(classify(f, v), 1 << bit, `${f.width}-bit ${h(v)}`);
});

// ------------------------------------------------------------------------------------------------ random

/** Deterministic xorshift-style generator (no Math.random: failures must reproduce). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

/** Random binary64 patterns biased to the edges: subnormals, tiny/huge exponents, short significands. */
function randD(r: () => number): bigint {
  const sign = BigInt(r() & 1) << 63n;
  const frac = ((BigInt(r()) << 32n) | BigInt(r())) & ((1n << 52n) - 1n);
  const kind = r() % 8;
  let e: number;
  if (kind === 0) e = 0;
  else if (kind === 1) e = r() % 40;
  else if (kind === 2) e = 2046 - (r() % 40);
  else if (kind === 3) e = r() % 2047;
  else e = 1023 + ((r() % 120) - 60);
  const f = kind === 4 ? frac & ~((1n << BigInt(r() % 52)) - 1n) : frac;
  return sign | (BigInt(e) << 52n) | f;
}
function randS(r: () => number): bigint {
  const sign = BigInt(r() & 1) << 31n;
  const frac = BigInt(r() & 0x7fffff);
  const kind = r() % 8;
  let e: number;
  if (kind === 0) e = 0;
  else if (kind === 1) e = r() % 30;
  else if (kind === 2) e = 254 - (r() % 30);
  else if (kind === 3) e = r() % 255;
  else e = 127 + ((r() % 60) - 30);
  const f = kind === 4 ? frac & ~((1n << BigInt(r() % 23)) - 1n) : frac;
  return sign | (BigInt(e) << 23n) | f;
}

const CANON_D = 0x7ff8000000000000n, CANON_S = 0x7fc00000n;

test('binary64 round-to-nearest results equal JavaScript arithmetic (independent oracle)', () => {
  const r = rng(12345);
  for (let k = 0; k < 40000; k++) {
    const a = randD(r), b = randD(r);
    const x = b2d(a), y = b2d(b);
    const check = (got: bigint, want: number, what: string) => {
      if (Number.isNaN(want)) assert.equal(got, CANON_D, what);
      else assert.equal(got, d2b(want), `${what}: ${h(a)} ${h(b)}`);
    };
    check(run((fl) => add(F64, a, b, false, RM.RNE, fl))[0], x + y, 'add');
    check(run((fl) => add(F64, a, b, true, RM.RNE, fl))[0], x - y, 'sub');
    check(run((fl) => mul(F64, a, b, RM.RNE, fl))[0], x * y, 'mul');
    check(run((fl) => div(F64, a, b, RM.RNE, fl))[0], x / y, 'div');
    check(run((fl) => sqrt(F64, a, RM.RNE, fl))[0], Math.sqrt(x), 'sqrt');
    const [c] = run((fl) => compare(F64, a, b, 1, fl));
    assert.equal(c, x < y);
  }
});

test('binary32 round-to-nearest results equal Math.fround of the binary64 result (independent oracle)', () => {
  const r = rng(777);
  for (let k = 0; k < 40000; k++) {
    const a = randS(r), b = randS(r);
    const x = b2s(a), y = b2s(b);
    const check = (got: bigint, want: number, what: string) => {
      if (Number.isNaN(want)) assert.equal(got, CANON_S, what);
      else assert.equal(got, s2b(Math.fround(want)), `${what}: ${h(a)} ${h(b)}`);
    };
    check(run((fl) => add(F32, a, b, false, RM.RNE, fl))[0], x + y, 'add');
    check(run((fl) => mul(F32, a, b, RM.RNE, fl))[0], x * y, 'mul');
    check(run((fl) => div(F32, a, b, RM.RNE, fl))[0], x / y, 'div');
    check(run((fl) => sqrt(F32, a, RM.RNE, fl))[0], Math.sqrt(x), 'sqrt');
    check(run((fl) => convert(F64, F32, d2b(x * 1.0000001), RM.RNE, fl))[0], x * 1.0000001, 'cvt');
    // binary32 fma whose binary64 sum is exact rounds like Math.fround of that sum
    const c = randS(r), z = b2s(c);
    const p = x * y, s = p + z;
    if (Number.isFinite(s) && s - p === z && s - z === p) {
      check(run((fl) => fma(F32, a, b, c, false, false, RM.RNE, fl))[0], s, 'fma');
    }
  }
});

/** Adjacent-or-equal check for directed results of the same operation. */
function orderedBits(f: Fmt, lo: bigint, hi: bigint): boolean {
  // map sign-magnitude to a monotonic integer key
  const key = (v: bigint) => ((v & f.signBit) !== 0n ? -(v & ~f.signBit) : v);
  const d = key(hi) - key(lo);
  return d === 0n || d === 1n || (key(hi) === 0n && key(lo) === -1n) || (key(lo) === 0n && key(hi) === 1n);
}

test('directed rounding modes bracket the exact result and agree with each other', () => {
  const r = rng(4242);
  const ops: Array<[string, (f: Fmt, a: bigint, b: bigint, c: bigint, rm: number, fl: { flags: number }) => bigint]> = [
    ['add', (f, a, b, _c, rm, fl) => add(f, a, b, false, rm, fl)],
    ['mul', (f, a, b, _c, rm, fl) => mul(f, a, b, rm, fl)],
    ['div', (f, a, b, _c, rm, fl) => div(f, a, b, rm, fl)],
    ['sqrt', (f, a, _b, _c, rm, fl) => sqrt(f, a & ~f.signBit, rm, fl)],
    ['fma', (f, a, b, c, rm, fl) => fma(f, a, b, c, false, false, rm, fl)],
  ];
  for (let k = 0; k < 6000; k++) {
    for (const f of [F32, F64]) {
      const a = f === F64 ? randD(r) : randS(r), b = f === F64 ? randD(r) : randS(r), c = f === F64 ? randD(r) : randS(r);
      for (const [name, op] of ops) {
        const res = [0, 1, 2, 3, 4].map((rm) => run((fl) => op(f, a, b, c, rm, fl)));
        const [rne, rtz, rdn, rup, rmm] = res.map((x) => x[0]);
        const what = `${name}/${f.width} ${h(a)} ${h(b)} ${h(c)}`;
        if (rne === f.defaultNaN) {
          for (const [v, fl] of res) assert.deepEqual([v, fl], [f.defaultNaN, res[0][1]], what);
          continue;
        }
        const exact = (res[0][1] & NX) === 0;
        for (const [, fl] of res) assert.equal((fl & NX) === 0, exact, `${what}: NX must not depend on the mode`);
        if (exact) {
          for (const [v] of res) assert.equal(v, rne, `${what}: exact results agree`);
          continue;
        }
        const neg = (rne & f.signBit) !== 0n;
        assert.ok(orderedBits(f, rdn, rup) && rdn !== rup, `${what}: rdn ${h(rdn)} / rup ${h(rup)} adjacent`);
        assert.equal(rtz, neg ? rup : rdn, `${what}: rtz`);
        assert.ok(rne === rdn || rne === rup, `${what}: rne is one of the neighbours`);
        assert.ok(rmm === rdn || rmm === rup, `${what}: rmm is one of the neighbours`);
      }
    }
  }
});

test('integer conversions agree with JavaScript for values below 2^53', () => {
  const r = rng(99);
  const roundJs = (v: number, rm: number): number => {
    const t = Math.trunc(v), fr = v - t;
    switch (rm) {
      case RM.RTZ: return t;
      case RM.RDN: return Math.floor(v);
      case RM.RUP: return Math.ceil(v);
      case RM.RMM: return Math.abs(fr) >= 0.5 ? t + Math.sign(fr) : t;
      default: return Math.abs(fr) > 0.5 || (Math.abs(fr) === 0.5 && t % 2 !== 0) ? t + Math.sign(fr) : t;
    }
  };
  for (let k = 0; k < 20000; k++) {
    const mag = 2 ** (r() % 40);
    const v = ((r() / 2 ** 32) * 2 - 1) * mag;
    const rm = r() % 5;
    const [got, fl] = run((f) => toInt(F64, d2b(v), 64, true, rm, f));
    assert.equal(got, BigInt(roundJs(v, rm)), `toInt(${v}, rm ${rm})`);
    assert.equal(fl, Number.isInteger(v) ? 0 : NX);
    const n = BigInt(Math.trunc(v * 1024));
    const [fb] = run((f) => fromInt(F64, n, rm, f));
    assert.equal(b2d(fb), Number(n));
  }
});
