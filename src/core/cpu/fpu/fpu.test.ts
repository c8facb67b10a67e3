// The FPU's JavaScript-double fast paths must give exactly what the exact BigInt core gives (result bits and
// flags), for every operation, on random operands and on constructed hard cases: ties, results next to
// powers of two, fma results on and next to midpoints, cancellation, operands at the edges of the fast paths'
// validity windows. Each test also checks that the fast path was actually taken for most of its inputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Fpu } from './fpu.js';
import { F32, F64, RM, add, mul, div, sqrt, fma, convert, fromInt, toInt, compare, minMax, classify } from './soft.js';
import { S, STATE_SLOTS, F_BASE } from '../state.js';

const s = new Int32Array(STATE_SLOTS);
const fpu = new Fpu(s);
/** Register slots (number × 2) used by the tests. */
const A = 2, B = 4, C = 6, D = 8;

const dv = new DataView(new ArrayBuffer(8));
const d2b = (v: number): bigint => (dv.setFloat64(0, v), dv.getBigUint64(0));
const b2d = (b: bigint): number => (dv.setBigUint64(0, b), dv.getFloat64(0));
const h = (v: bigint) => '0x' + v.toString(16);

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>>= 0);
  };
}
const u64 = (r: () => number): bigint => (BigInt(r()) << 32n) | BigInt(r());

/** Runs `op` on the FPU; returns the fcsr flags and whether the fast path handled it. */
function onFpu(op: () => void): { flags: number; fast: boolean } {
  s[S.FCSR] = 0;
  fpu.flags = -1; // the slow path resets this; the fast paths never touch it
  op();
  return { flags: s[S.FCSR], fast: fpu.flags === -1 };
}

class Counter {
  fast = 0;
  total = 0;
  note(fast: boolean) {
    this.total++;
    if (fast) this.fast++;
  }
  assertMostlyFast(min: number, what: string) {
    assert.ok(this.fast >= this.total * min, `${what}: fast path taken ${this.fast}/${this.total}`);
  }
}

/** Typical operand: moderate exponent, random significand (the common case the fast path is for). */
function randD(r: () => number, spread = 60): bigint {
  const kind = r() % 10;
  const sign = BigInt(r() & 1) << 63n;
  const frac = u64(r) & ((1n << 52n) - 1n);
  if (kind === 0) return sign | (BigInt(1023 + ((r() % 2000) - 1000)) << 52n) | frac; // wide
  if (kind === 1) return sign | (BigInt(r() % 2047) << 52n) | frac; // anything finite, subnormals too
  if (kind === 2) return sign | (BigInt(1023 + ((r() % spread) - spread / 2)) << 52n) | (frac & ~((1n << BigInt(r() % 52)) - 1n));
  return sign | (BigInt(1023 + ((r() % spread) - spread / 2)) << 52n) | frac;
}
function randS(r: () => number): bigint {
  const kind = r() % 10;
  const sign = BigInt(r() & 1) << 31n;
  const frac = BigInt(r() & 0x7fffff);
  if (kind === 0) return sign | (BigInt(r() % 255) << 23n) | frac;
  if (kind === 1) return sign | (BigInt(127 + ((r() % 30) - 15)) << 23n) | (frac & ~((1n << BigInt(r() % 23)) - 1n));
  return sign | (BigInt(127 + ((r() % 60) - 30)) << 23n) | frac;
}

function checkD2(name: string, fast: (rm: number) => void, slow: (fl: { flags: number }) => bigint, a: bigint, b: bigint, cnt: Counter) {
  fpu.putD(A, a);
  fpu.putD(B, b);
  const r = onFpu(() => fast(RM.RNE));
  const fl = { flags: 0 };
  const want = slow(fl);
  assert.equal(h(fpu.getD(D)), h(want), `${name}(${h(a)}, ${h(b)}) result`);
  assert.equal(r.flags, fl.flags, `${name}(${h(a)}, ${h(b)}) flags`);
  cnt.note(r.fast);
}

test('binary64 add/sub/mul/div/sqrt fast paths match the exact core', () => {
  const r = rng(1);
  const c = { add: new Counter(), mul: new Counter(), div: new Counter(), sqrt: new Counter() };
  for (let k = 0; k < 60000; k++) {
    const a = randD(r);
    let b = randD(r);
    const t = r() % 6;
    if (t === 0) b = a ^ (1n << 63n); // cancellation
    else if (t === 1) b = (a ^ (1n << 63n)) + BigInt((r() % 7) - 3); // near cancellation
    else if (t === 2) b = (a & (0xfffn << 52n)) ^ (BigInt(r() % 3) << 52n); // power of two near a
    checkD2('add', (rm) => fpu.addD(D, A, B, false, rm), (fl) => add(F64, a, b, false, RM.RNE, fl), a, b, c.add);
    checkD2('sub', (rm) => fpu.addD(D, A, B, true, rm), (fl) => add(F64, a, b, true, RM.RNE, fl), a, b, c.add);
    checkD2('mul', (rm) => fpu.mulD(D, A, B, rm), (fl) => mul(F64, a, b, RM.RNE, fl), a, b, c.mul);
    checkD2('div', (rm) => fpu.divD(D, A, B, rm), (fl) => div(F64, a, b, RM.RNE, fl), a, b, c.div);
    const pa = a & ~(1n << 63n);
    checkD2('sqrt', (rm) => fpu.sqrtD(D, A, rm), (fl) => sqrt(F64, pa, RM.RNE, fl), pa, b, c.sqrt);
    // exact products, quotients and roots: squares of short significands
    const m = BigInt(r() & 0x3ffffff) | 1n;
    const sq = d2b(Number(m) * Number(m) * 2 ** ((r() % 200) - 100));
    checkD2('sqrt', (rm) => fpu.sqrtD(D, A, rm), (fl) => sqrt(F64, sq, RM.RNE, fl), sq, b, c.sqrt);
    const q = d2b(Number(m) * 2 ** ((r() % 100) - 50));
    checkD2('div', (rm) => fpu.divD(D, A, B, rm), (fl) => div(F64, sq, q, RM.RNE, fl), sq, q, c.div);
  }
  c.add.assertMostlyFast(0.5, 'add');
  c.mul.assertMostlyFast(0.5, 'mul');
  c.div.assertMostlyFast(0.5, 'div');
  c.sqrt.assertMostlyFast(0.5, 'sqrt');
});

/** Operand triples for fma whose exact result sits on, or next to, a rounding boundary. */
function hardFma(r: () => number): [bigint, bigint, bigint] {
  const scale = 2 ** ((r() % 400) - 200);
  switch (r() % 5) {
    case 0: {
      // (1 + 2^-i)(1 + 2^-j) = 1 + 2^-i + 2^-j + 2^-(i+j); c cancels the leading part and leaves a tail at, just
      // above or just below a midpoint of the result's precision
      const i = 1 + (r() % 40), j = 1 + (r() % 40);
      const a = 1 + 2 ** -i, b = 1 + 2 ** -j;
      const tail = [0, 2 ** -(60 + (r() % 40)), -(2 ** -(60 + (r() % 40))), 2 ** -53, -(2 ** -53)][r() % 5];
      const c = -(1 + 2 ** -i + 2 ** -j) + tail + (r() % 2 ? 2 ** -53 : 0);
      return [d2b(a * scale), d2b(b), d2b(c * scale)];
    }
    case 1: {
      // c = -RN(a*b) ± a few ulps: the result is the product's rounding error (plus the nudge)
      const a = b2d(randD(r, 20)), b = b2d(randD(r, 20));
      const p = a * b;
      const c = d2b(-p) + BigInt((r() % 5) - 2);
      return [d2b(a), d2b(b), c];
    }
    case 2: {
      // short significands: exact sums that land on midpoints of the final rounding
      const a = (1 + (r() % 1024)) * 2 ** -(r() % 30);
      const b = (1 + (r() % 1024)) * 2 ** (r() % 30);
      const c = 2 ** (52 + (r() % 20)) * (r() % 2 ? 1 : -1) + (r() % 2 ? 0.5 : 0);
      return [d2b(a * scale), d2b(b), d2b(c * scale)];
    }
    case 3: {
      // addend far below the product: only sticky information survives
      const a = b2d(randD(r, 20)), b = b2d(randD(r, 20));
      return [d2b(a), d2b(b), d2b(a * b * 2 ** -(50 + (r() % 70)) * (r() % 2 ? 1 : -1))];
    }
    default:
      return [randD(r), randD(r), randD(r)];
  }
}

test('binary64 fma fast path (Boldo-Melquiond emulation) matches the exact core, hard cases included', () => {
  const r = rng(2);
  const cnt = new Counter();
  for (let k = 0; k < 200000; k++) {
    const [a, b, c] = hardFma(r);
    const negP = (r() & 1) === 1, negC = (r() & 1) === 1;
    fpu.putD(A, a);
    fpu.putD(B, b);
    fpu.putD(C, c);
    const got = onFpu(() => fpu.fmaD(D, A, B, C, negP, negC, RM.RNE));
    const fl = { flags: 0 };
    const want = fma(F64, a, b, c, negP, negC, RM.RNE, fl);
    const what = `fma(${h(a)}, ${h(b)}, ${h(c)}, ${negP}, ${negC})`;
    assert.equal(h(fpu.getD(D)), h(want), `${what} result`);
    assert.equal(got.flags, fl.flags, `${what} flags`);
    cnt.note(got.fast);
  }
  cnt.assertMostlyFast(0.6, 'fma.d');
});

test('binary32 arithmetic and fma fast paths match the exact core', () => {
  const r = rng(3);
  const cnt = new Counter();
  for (let k = 0; k < 100000; k++) {
    const a = randS(r), b = r() % 4 === 0 ? a ^ 0x80000001n : randS(r);
    let c = randS(r);
    if (r() % 2) {
      // addend cancelling the (binary64-exact) product, nudged
      dv.setUint32(0, Number(a));
      const x = dv.getFloat32(0);
      dv.setUint32(0, Number(b));
      const p = Math.fround(x * dv.getFloat32(0));
      dv.setFloat32(0, -p);
      c = (BigInt(dv.getUint32(0)) + BigInt((r() % 5) - 2)) & 0xffffffffn;
    }
    fpu.putS(A, a);
    fpu.putS(B, b);
    fpu.putS(C, c);
    const ops: Array<[string, () => void, (fl: { flags: number }) => bigint]> = [
      ['add', () => fpu.addS(D, A, B, false, RM.RNE), (fl) => add(F32, a, b, false, RM.RNE, fl)],
      ['sub', () => fpu.addS(D, A, B, true, RM.RNE), (fl) => add(F32, a, b, true, RM.RNE, fl)],
      ['mul', () => fpu.mulS(D, A, B, RM.RNE), (fl) => mul(F32, a, b, RM.RNE, fl)],
      ['div', () => fpu.divS(D, A, B, RM.RNE), (fl) => div(F32, a, b, RM.RNE, fl)],
      ['sqrt', () => fpu.sqrtS(D, A, RM.RNE), (fl) => sqrt(F32, a, RM.RNE, fl)],
      ['fma', () => fpu.fmaS(D, A, B, C, false, false, RM.RNE), (fl) => fma(F32, a, b, c, false, false, RM.RNE, fl)],
      ['fnmsub', () => fpu.fmaS(D, A, B, C, true, false, RM.RNE), (fl) => fma(F32, a, b, c, true, false, RM.RNE, fl)],
    ];
    for (const [name, fast, slow] of ops) {
      const got = onFpu(fast);
      const fl = { flags: 0 };
      const want = slow(fl);
      const what = `${name}.s(${h(a)}, ${h(b)}, ${h(c)})`;
      assert.equal(s[F_BASE + D + 1], -1, `${what}: NaN-boxed`);
      assert.equal(h(fpu.getS(D)), h(want), `${what} result`);
      assert.equal(got.flags, fl.flags, `${what} flags`);
      cnt.note(got.fast);
    }
  }
  cnt.assertMostlyFast(0.5, 'binary32');
});

test('improperly NaN-boxed binary32 operands read as the canonical NaN', () => {
  fpu.putD(A, 0x000000003f800000n); // 1.0f without the box
  fpu.putS(B, 0x3f800000n);
  let r = onFpu(() => fpu.addS(D, A, B, false, RM.RNE));
  assert.equal(fpu.getD(D), 0xffffffff7fc00000n);
  assert.equal(r.flags, 0);
  assert.equal(fpu.compareS(A, B, 0), 0);
  assert.equal(fpu.classS(A), 1 << 9);
  r = onFpu(() => fpu.minMaxS(D, A, B, false));
  assert.equal(fpu.getD(D), 0xffffffff3f800000n);
  fpu.putD(A, 0xfffffffe3f800000n);
  r = onFpu(() => fpu.toInt(s, 64, A, false, 32, true, RM.RNE));
  assert.equal(s[64], 0x7fffffff);
  assert.equal(r.flags, 16);
});

test('conversions, comparisons, min/max and class match the exact core', () => {
  const r = rng(4);
  const cvt = new Counter();
  const x = s; // integer results go to the x-register area (slot 10 = x5)
  for (let k = 0; k < 40000; k++) {
    const dbits = r() % 3 ? d2b((r() % 2 ? -1 : 1) * (r() / 2 ** 32) * 2 ** ((r() % 70) - 3)) : randD(r);
    const rm = r() % 5;
    fpu.putD(A, dbits);
    for (const [w, sg] of [[32, true], [32, false], [64, true], [64, false]] as const) {
      const got = onFpu(() => fpu.toInt(x, 10, A, true, w, sg, rm));
      const fl = { flags: 0 };
      let want = toInt(F64, dbits, w, sg, rm, fl);
      if (w === 32) want = BigInt.asIntN(32, want);
      const v = (BigInt(x[11]) << 32n) | BigInt(x[10] >>> 0);
      assert.equal(v, BigInt.asIntN(64, want), `fcvt ${w}${sg ? '' : 'u'} ${h(dbits)} rm ${rm}`);
      assert.equal(got.flags, fl.flags, `fcvt flags ${w}${sg ? '' : 'u'} ${h(dbits)} rm ${rm}`);
      if (rm === RM.RTZ) cvt.note(got.fast);
    }
    // binary32 source
    const sbits = randS(r);
    fpu.putS(B, sbits);
    const gotS = onFpu(() => fpu.toInt(x, 10, B, false, 32, true, rm));
    const flS = { flags: 0 };
    assert.equal(x[10], Number(BigInt.asIntN(32, toInt(F32, sbits, 32, true, rm, flS))));
    assert.equal(gotS.flags, flS.flags);
    // integer to float, both formats, 32- and 64-bit sources
    const iv = r() % 2 ? u64(r) >> BigInt(r() % 64) : BigInt(r() % 100000);
    const lo = Number(BigInt.asIntN(32, iv)), hi = Number(BigInt.asIntN(32, iv >> 32n));
    for (const [w, sg] of [[32, true], [32, false], [64, true], [64, false]] as const) {
      for (const dbl of [false, true]) {
        const got = onFpu(() => fpu.fromInt(D, lo, hi, dbl, w, sg, rm));
        const fl = { flags: 0 };
        let n = w === 32 ? BigInt(lo >>> 0) : iv;
        if (sg) n = BigInt.asIntN(w, n);
        const want = fromInt(dbl ? F64 : F32, n, rm, fl);
        assert.equal(dbl ? fpu.getD(D) : fpu.getS(D), want, `fcvt.${dbl ? 'd' : 's'}.${w}${sg ? '' : 'u'} ${h(iv)} rm ${rm}`);
        assert.equal(got.flags, fl.flags);
      }
    }
    // binary64 <-> binary32
    let got = onFpu(() => fpu.cvtSD(D, A, rm));
    let fl = { flags: 0 };
    assert.equal(fpu.getS(D), convert(F64, F32, dbits, rm, fl), `fcvt.s.d ${h(dbits)}`);
    assert.equal(got.flags, fl.flags);
    got = onFpu(() => fpu.cvtDS(D, B, rm));
    fl = { flags: 0 };
    assert.equal(fpu.getD(D), convert(F32, F64, sbits, rm, fl));
    assert.equal(got.flags, fl.flags);
    // comparisons, min/max, class (operands sometimes equal or ±0)
    const e = r() % 4 === 0 ? dbits : r() % 3 === 0 ? dbits ^ (1n << 63n) : randD(r);
    fpu.putD(B, e);
    for (const kind of [0, 1, 2]) {
      const g = onFpu(() => assert.equal(fpu.compareD(A, B, kind), compare(F64, dbits, e, kind, fl = { flags: 0 }) ? 1 : 0));
      assert.equal(g.flags, fl.flags);
    }
    for (const mx of [false, true]) {
      const g = onFpu(() => fpu.minMaxD(D, A, B, mx));
      fl = { flags: 0 };
      assert.equal(fpu.getD(D), minMax(F64, dbits, e, mx, fl));
      assert.equal(g.flags, fl.flags);
    }
    assert.equal(fpu.classD(A), classify(F64, dbits));
    assert.equal(fpu.classS(B), classify(F32, fpu.getS(B)));
  }
  cvt.assertMostlyFast(0.5, 'fcvt rtz');
});

test('min/max of ±0 and NaNs on the register file', () => {
  fpu.putD(A, 0n);
  fpu.putD(B, 1n << 63n);
  fpu.minMaxD(D, A, B, false);
  assert.equal(fpu.getD(D), 1n << 63n);
  fpu.minMaxD(D, B, A, true);
  assert.equal(fpu.getD(D), 0n);
  fpu.putD(A, 0x7ff0000000000001n); // signaling NaN
  fpu.putD(B, d2b(-7));
  const r = onFpu(() => fpu.minMaxD(D, A, B, true));
  assert.equal(b2d(fpu.getD(D)), -7);
  assert.equal(r.flags, 16);
});
