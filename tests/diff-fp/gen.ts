// Operand and program generator for the F/D differential test (tvisor bare vs qemu-riscv64 user mode).
//
// A program runs every F and D instruction over a table of operand sets in every rounding mode: for each
// instruction, one loop per static rm (rne, rtz, rdn, rup, rmm) and one per dynamic mode (rm = dyn with frm set to
// each of the five modes); instructions without an rm field get a single loop. Each loop iteration loads the
// operands (raw 64-bit patterns with fld, or integers with ld), clears fflags, executes the instruction once,
// and appends a 16-byte record: the destination register's 64 bits (f registers stored with fsd, so NaN boxing
// is compared too) and fflags. The record buffer is written to stdout (Linux write syscall under QEMU, the HTIF
// syscall proxy under tvisor) and compared byte for byte.
//
// Operands: for each instruction, a systematic part (all pairs/triples of a small set of special values) and a
// random part drawn from distributions aimed at the edges: ±0, subnormals, the normal/subnormal boundary,
// infinities, quiet and signaling NaNs (with payloads, either sign), values near the overflow threshold, few-bit
// significands (exact results), integers and half-integers, values next to integer limits, and related operands
// (x and -x for cancellation, neighbours a few ulps apart, fma addends that cancel the rounded product).
// binary32 operands are usually NaN-boxed; a few are not, which must read as the canonical NaN.
import { Rng, randomValue } from '../diff/gen.js';

export type Fmt = 'S' | 'D';

export interface FpInsn {
  /** Assembly mnemonic. */
  name: string;
  /** Operand kinds: f = f register of format `fmt` (or `srcFmt`), x = integer register. */
  src: 'f' | 'ff' | 'fff' | 'x';
  dst: 'f' | 'x';
  /** Format of the floating-point sources. */
  fmt: Fmt;
  /** Has a rounding-mode field. */
  rm: boolean;
  /** Raw encoding for `.insn r` when the assembler does not accept an rm operand: [funct7, rs2]. */
  insn?: [number, number];
}

const RMS = ['rne', 'rtz', 'rdn', 'rup', 'rmm'] as const;

function buildInsns(): FpInsn[] {
  const out: FpInsn[] = [];
  for (const f of ['S', 'D'] as const) {
    const s = f.toLowerCase();
    for (const op of ['fadd', 'fsub', 'fmul', 'fdiv']) out.push({ name: `${op}.${s}`, src: 'ff', dst: 'f', fmt: f, rm: true });
    out.push({ name: `fsqrt.${s}`, src: 'f', dst: 'f', fmt: f, rm: true });
    for (const op of ['fmadd', 'fmsub', 'fnmsub', 'fnmadd']) out.push({ name: `${op}.${s}`, src: 'fff', dst: 'f', fmt: f, rm: true });
    for (const op of ['fsgnj', 'fsgnjn', 'fsgnjx', 'fmin', 'fmax']) out.push({ name: `${op}.${s}`, src: 'ff', dst: 'f', fmt: f, rm: false });
    for (const op of ['feq', 'flt', 'fle']) out.push({ name: `${op}.${s}`, src: 'ff', dst: 'x', fmt: f, rm: false });
    out.push({ name: `fclass.${s}`, src: 'f', dst: 'x', fmt: f, rm: false });
    for (const t of ['w', 'wu', 'l', 'lu']) out.push({ name: `fcvt.${t}.${s}`, src: 'f', dst: 'x', fmt: f, rm: true });
    ['w', 'wu', 'l', 'lu'].forEach((t, k) => {
      const exact = f === 'D' && k < 2; // fcvt.d.w/wu: binutils 2.40 takes no rm operand
      out.push({ name: `fcvt.${s}.${t}`, src: 'x', dst: 'f', fmt: f, rm: true, insn: exact ? [0x69, k] : undefined });
    });
  }
  out.push({ name: 'fcvt.s.d', src: 'f', dst: 'f', fmt: 'D', rm: true });
  out.push({ name: 'fcvt.d.s', src: 'f', dst: 'f', fmt: 'S', rm: true, insn: [0x21, 0] });
  out.push({ name: 'fmv.x.w', src: 'f', dst: 'x', fmt: 'S', rm: false });
  out.push({ name: 'fmv.x.d', src: 'f', dst: 'x', fmt: 'D', rm: false });
  out.push({ name: 'fmv.w.x', src: 'x', dst: 'f', fmt: 'S', rm: false });
  out.push({ name: 'fmv.d.x', src: 'x', dst: 'f', fmt: 'D', rm: false });
  return out;
}

export const FP_INSNS: readonly FpInsn[] = buildInsns();

/** One loop of the program: an instruction in one rounding-mode variant. */
export interface Loop {
  insn: FpInsn;
  /** Static rounding-mode name, 'dyn', or '' (no rm field). */
  rm: string;
  /** frm value while the loop runs (dynamic variants). */
  frm: number;
  /** Index into Program.tables. */
  table: number;
  /** Index of the loop's first record in the output. */
  first: number;
}

export interface Program {
  seed: number;
  /** Operand sets per instruction: [a, b, c] as unsigned 64-bit patterns. */
  tables: bigint[][][];
  loops: Loop[];
  records: number;
}

export const RECORD = 16;

// ---------------------------------------------------------------------------------------------- values

const M64 = (1n << 64n) - 1n;
const BOX = 0xffffffff00000000n;

interface FmtInfo {
  expBits: number;
  fracBits: number;
  bias: number;
}
const INFO: Record<Fmt, FmtInfo> = { S: { expBits: 8, fracBits: 23, bias: 127 }, D: { expBits: 11, fracBits: 52, bias: 1023 } };

function pack(f: Fmt, sign: number, exp: number, frac: bigint): bigint {
  const i = INFO[f];
  return (BigInt(sign) << BigInt(i.expBits + i.fracBits)) | (BigInt(exp) << BigInt(i.fracBits)) | (frac & ((1n << BigInt(i.fracBits)) - 1n));
}

/** Bits of a JS double converted to format f (binary32 via Math.fround). */
function bitsOf(f: Fmt, v: number): bigint {
  const dv = new DataView(new ArrayBuffer(8));
  if (f === 'D') {
    dv.setFloat64(0, v);
    return dv.getBigUint64(0);
  }
  dv.setFloat32(0, v);
  return BigInt(dv.getUint32(0));
}
function valueOf(f: Fmt, b: bigint): number {
  const dv = new DataView(new ArrayBuffer(8));
  if (f === 'D') {
    dv.setBigUint64(0, b & M64);
    return dv.getFloat64(0);
  }
  dv.setUint32(0, Number(b & 0xffffffffn));
  return dv.getFloat32(0);
}

/** Special values of each format (unsigned patterns, unboxed). */
function specials(f: Fmt): bigint[] {
  const i = INFO[f];
  const maxE = (1 << i.expBits) - 1;
  const fm = (1n << BigInt(i.fracBits)) - 1n;
  const q = 1n << BigInt(i.fracBits - 1);
  const v = (sign: number, e: number, fr: bigint) => pack(f, sign, e, fr);
  const list: bigint[] = [];
  for (const s of [0, 1]) {
    list.push(
      v(s, 0, 0n), v(s, 0, 1n), v(s, 0, fm), v(s, 0, q), v(s, 1, 0n), v(s, 1, 1n), v(s, maxE - 1, fm), v(s, maxE - 1, 0n),
      v(s, maxE, 0n), v(s, i.bias, 0n), v(s, i.bias, 1n), v(s, i.bias - 1, fm), v(s, i.bias + 1, 0n), v(s, i.bias - 1, 0n),
      v(s, i.bias + 1, q), v(s, i.bias - 2, fm / 3n), bitsOf(f, s ? -0.1 : 0.1), bitsOf(f, s ? -2.5 : 2.5),
      bitsOf(f, s ? -1.5 : 1.5), bitsOf(f, s ? -0.5 : 0.5),
    );
  }
  // NaNs: quiet/signaling, payloads, both signs
  list.push(v(0, maxE, q), v(1, maxE, q), v(0, maxE, q | 1n), v(0, maxE, 1n), v(1, maxE, fm), v(0, maxE, q >> 1n));
  // integer limits and neighbours
  for (const x of [2 ** 31, 2 ** 31 - 1, 2 ** 31 + 1, 2 ** 32, 2 ** 32 - 1, 2 ** 63, 2 ** 64, 2 ** 53, 2 ** 24, 2 ** 31 - 0.5, 2 ** 32 - 0.5]) {
    list.push(bitsOf(f, x), bitsOf(f, -x));
  }
  return list;
}

/** The small set used for the systematic all-pairs part. */
function core(f: Fmt): bigint[] {
  const i = INFO[f];
  const maxE = (1 << i.expBits) - 1;
  const fm = (1n << BigInt(i.fracBits)) - 1n;
  const q = 1n << BigInt(i.fracBits - 1);
  return [
    pack(f, 0, 0, 0n), pack(f, 1, 0, 0n), pack(f, 0, 0, 1n), pack(f, 1, 0, fm), pack(f, 0, 1, 0n),
    pack(f, 0, i.bias, 0n), pack(f, 1, i.bias, 1n), pack(f, 0, maxE - 1, fm), pack(f, 1, maxE, 0n), pack(f, 0, maxE, 0n),
    pack(f, 0, maxE, q), pack(f, 1, maxE, 1n), bitsOf(f, 2.5), bitsOf(f, -3),
  ];
}

function randFrac(rng: Rng, f: Fmt): bigint {
  const fb = INFO[f].fracBits;
  const r = rng.u64() & ((1n << BigInt(fb)) - 1n);
  switch (rng.int(0, 5)) {
    case 0: { // few significant bits
      const keep = rng.int(0, Math.min(fb, 12));
      return (r >> BigInt(fb - keep)) << BigInt(fb - keep);
    }
    case 1: return (1n << BigInt(fb)) - 1n - BigInt(rng.int(0, 3)); // all ones (next to a power of two)
    case 2: return BigInt(rng.int(0, 3)); // just above a power of two
    default: return r;
  }
}

/** A random floating-point pattern of format f (unboxed). */
export function randFloat(rng: Rng, f: Fmt): bigint {
  const i = INFO[f];
  const maxE = (1 << i.expBits) - 1;
  const sign = rng.chance(0.5) ? 1 : 0;
  switch (rng.int(0, 11)) {
    case 0: case 1: return rng.pick(specials(f));
    case 2: return rng.u64() & ((1n << BigInt(1 + i.expBits + i.fracBits)) - 1n); // any bits
    case 3: case 4: case 5: return pack(f, sign, i.bias + rng.int(-12, 12), randFrac(rng, f)); // moderate
    case 6: return pack(f, sign, rng.int(0, 3), randFrac(rng, f)); // subnormal / tiny normal
    case 7: return pack(f, sign, maxE - 1 - rng.int(0, 3), randFrac(rng, f)); // near overflow
    case 8: { // integers and half-integers, some near integer limits
      const mag = rng.pick([rng.int(0, 100), rng.int(0, 2 ** 20), 2 ** 31, 2 ** 32, 2 ** 63, 2 ** 64, 2 ** rng.int(0, 70)]);
      const frac = rng.pick([0, 0.5, 0.25, 0.75, -0.5, 1, -1]);
      return bitsOf(f, (sign ? -1 : 1) * (mag + frac));
    }
    case 9: return pack(f, sign, rng.int(1, maxE - 1), randFrac(rng, f)); // any normal
    case 10: return pack(f, sign, i.bias + rng.int(-100, 100), randFrac(rng, f));
    default: { // a NaN with a random payload
      const fr = (rng.u64() & ((1n << BigInt(i.fracBits)) - 1n)) | 1n;
      return pack(f, sign, maxE, fr);
    }
  }
}

/** Same value a few ulps away (bit pattern ± k), staying a valid pattern of the format. */
function nudge(rng: Rng, f: Fmt, b: bigint): bigint {
  const width = BigInt(1 + INFO[f].expBits + INFO[f].fracBits);
  const v = b + BigInt(rng.int(-3, 3));
  return v & ((1n << width) - 1n);
}

const negate = (f: Fmt, b: bigint): bigint => b ^ (1n << BigInt(INFO[f].expBits + INFO[f].fracBits));

/** Boxes a binary32 pattern into 64 bits (occasionally not properly: that must read as the canonical NaN). */
function box(rng: Rng, f: Fmt, b: bigint): bigint {
  if (f === 'D') return b;
  if (rng.chance(0.03)) return rng.pick([0n, 0xfffffffe00000000n, 0x7fffffff00000000n, rng.u64() & 0xffffffff00000000n]) | b;
  return BOX | b;
}

/** A related second operand: cancellation, neighbours, scaled, product-boundary exponents. */
function related(rng: Rng, f: Fmt, a: bigint, forMul: boolean): bigint {
  const i = INFO[f];
  const maxE = (1 << i.expBits) - 1;
  const ea = Number((a >> BigInt(i.fracBits)) & BigInt(maxE));
  switch (rng.int(0, 6)) {
    case 0: return negate(f, a);
    case 1: return nudge(rng, f, negate(f, a));
    case 2: return nudge(rng, f, a);
    case 3: { // exponent a little or a lot away
      const d = rng.pick([1, 2, i.fracBits, i.fracBits + 1, i.fracBits + 2, i.fracBits + 3, rng.int(1, 60)]);
      const e = ea + (rng.chance(0.5) ? d : -d);
      if (e < 1 || e >= maxE) return randFloat(rng, f);
      return pack(f, rng.chance(0.5) ? 1 : 0, e, randFrac(rng, f));
    }
    case 4: if (forMul) { // product near the overflow or underflow threshold
      const ua = ea - i.bias;
      const target = rng.chance(0.5) ? i.bias + rng.int(-2, 1) : -i.bias - i.fracBits + rng.int(-2, i.fracBits + 4);
      const e = target - ua + i.bias;
      if (e < 1 || e >= maxE) return pack(f, rng.chance(0.5) ? 1 : 0, Math.min(maxE - 1, Math.max(0, e)), randFrac(rng, f));
      return pack(f, rng.chance(0.5) ? 1 : 0, e, randFrac(rng, f));
    }
    // fall through
    default: return randFloat(rng, f);
  }
}

/** An fma addend that (nearly) cancels the rounded product a*b. */
function cancelAddend(rng: Rng, f: Fmt, a: bigint, b: bigint): bigint {
  const p = valueOf(f, a) * valueOf(f, b);
  if (!Number.isFinite(p)) return randFloat(rng, f);
  const pb = bitsOf(f, f === 'S' ? Math.fround(p) : p);
  const c = negate(f, pb);
  return rng.chance(0.4) ? c : nudge(rng, f, c);
}

/** A random 64-bit integer operand aimed at conversion boundaries. */
function randIntOperand(rng: Rng): bigint {
  switch (rng.int(0, 5)) {
    case 0: return randomValue(rng);
    case 1: { // odd significands of 24..64 bits at random positions: rounding ties and neighbours
      const bits = rng.pick([24, 25, 26, 53, 54, 55, rng.int(2, 64)]);
      let m = (rng.u64() & ((1n << BigInt(bits)) - 1n)) | (1n << BigInt(bits - 1));
      if (rng.chance(0.5)) m = (m & ~((1n << BigInt(Math.max(0, bits - 25))) - 1n)) | (1n << BigInt(Math.max(0, bits - 26)));
      const v = m << BigInt(rng.int(0, 64 - bits));
      return (rng.chance(0.5) ? -v : v) & M64;
    }
    case 2: return BigInt(rng.int(-1000, 1000)) & M64;
    case 3: return (rng.u64() & 0xffffffff00000000n) | BigInt(rng.u32()); // garbage upper half for .w forms
    default: return rng.u64();
  }
}

const INT_SPECIALS: readonly bigint[] = [
  0n, 1n, M64, 2n, 3n, 0x7fffffffn, 0x80000000n, 0xffffffff80000000n, 0xffffffffn, 0x100000000n,
  0x7fffffffffffffffn, 0x8000000000000000n, 0x8000000000000001n, 0xfffffffffffffffen, 0x1000001n, 0x1000003n,
  0xffffffn, 0x20000000000001n, 0x20000000000003n, 0x1fffffffffffffn, 0xfffffffffffff800n, 0xfffffffffffffc00n,
  0x7ffffffffffffc00n, 0x7ffffffffffffe00n, 0xffffffff00000001n, 0x00000000ffffff80n, 0x8000008000000000n,
];

// ---------------------------------------------------------------------------------------------- programs

function operandTable(rng: Rng, insn: FpInsn, randomCount: number): bigint[][] {
  const f = insn.fmt;
  const rows: bigint[][] = [];
  const B = (v: bigint) => box(rng, f, v);
  if (insn.src === 'x') {
    for (const v of INT_SPECIALS) rows.push([v, 0n, 0n]);
    for (let k = 0; k < randomCount; k++) rows.push([randIntOperand(rng), 0n, 0n]);
    return rows;
  }
  const c = core(f);
  const P = (v: bigint) => (f === 'S' ? BOX | v : v); // properly boxed
  if (insn.src === 'f') {
    for (const v of specials(f)) rows.push([P(v), 0n, 0n]);
  } else if (insn.src === 'ff') {
    for (const a of c) for (const b of c) rows.push([P(a), P(b), 0n]);
  } else {
    const c7 = c.filter((_, k) => k % 2 === 0);
    for (const a of c7) for (const b of c7) for (const d of c7) rows.push([P(a), P(b), P(d)]);
  }
  for (let k = 0; k < randomCount; k++) {
    const a = randFloat(rng, f);
    const mul = /^(fmul|fdiv|fn?m(add|sub))/.test(insn.name);
    const b = rng.chance(0.5) ? related(rng, f, a, mul) : randFloat(rng, f);
    let d = randFloat(rng, f);
    if (insn.src === 'fff' && rng.chance(0.5)) d = cancelAddend(rng, f, a, b);
    else if (insn.src === 'fff' && rng.chance(0.3)) d = related(rng, f, a, false);
    rows.push([B(a), B(b), B(d)]);
  }
  return rows;
}

/** Generates the program for `seed` with `randomCount` random operand sets per instruction. */
export function generate(seed: number, randomCount: number, only?: (i: FpInsn) => boolean): Program {
  const rng = new Rng(seed);
  const tables: bigint[][][] = [];
  const loops: Loop[] = [];
  let records = 0;
  for (const insn of FP_INSNS) {
    if (only && !only(insn)) continue;
    const table = tables.length;
    const rows = operandTable(rng, insn, randomCount);
    tables.push(rows);
    const variants: Array<[string, number]> = insn.rm
      ? [...RMS.map((r): [string, number] => [r, 0]), ...RMS.map((_, k): [string, number] => ['dyn', k])]
      : [['', 0]];
    for (const [rm, frm] of variants) {
      loops.push({ insn, rm, frm, table, first: records });
      records += rows.length;
    }
  }
  return { seed, tables, loops, records };
}

const RM_CODE: Record<string, number> = { rne: 0, rtz: 1, rdn: 2, rup: 3, rmm: 4, dyn: 7 };

/** The assembly text of the instruction under test (f4 / a0 destination; f1-f3 / a1 sources). */
export function insnText(insn: FpInsn, rm: string): string {
  const dst = insn.dst === 'f' ? 'f4' : 'a0';
  const srcs = insn.src === 'x' ? ['a1'] : ['f1', 'f2', 'f3'].slice(0, insn.src.length);
  if (insn.insn) {
    const [f7, rs2] = insn.insn;
    return `.insn r 0x53, ${RM_CODE[rm]}, 0x${f7.toString(16)}, ${dst}, ${srcs[0]}, x${rs2}`;
  }
  return `${insn.name} ${[dst, ...srcs].join(', ')}${rm ? `, ${rm}` : ''}`;
}

/** Emits one assembly source for both targets (compile with -DTVISOR for tvisor bare). */
export function emitSource(p: Program): string {
  const o: string[] = [`/* F/D differential test program: seed ${p.seed}, ${p.loops.length} loops, ${p.records} records */`];
  o.push('.option norelax', '.text', '.globl _start', '_start:');
  o.push('#ifdef TVISOR', '  li t0, 0x2000', '  csrs mstatus, t0 /* FS = Initial */', '#endif');
  o.push('  fscsr x0', '  lla s1, results');
  p.loops.forEach((l, k) => {
    const insn = l.insn;
    o.push(`/* loop ${k}: ${insn.name}${l.rm ? ' ' + l.rm : ''}${l.rm === 'dyn' ? ` frm=${l.frm}` : ''} */`);
    o.push(`  lla s0, table_${l.table}`, `  li s2, ${p.tables[l.table].length}`, `  fsrmi ${l.frm}`, '1:');
    if (insn.src === 'x') o.push('  ld a1, 0(s0)');
    else for (let r = 1; r <= insn.src.length; r++) o.push(`  fld f${r}, ${8 * (r - 1)}(s0)`);
    o.push('  fsflags x0', `  ${insnText(insn, l.rm)}`, '  frflags t0');
    o.push(insn.dst === 'f' ? '  fsd f4, 0(s1)' : '  sd a0, 0(s1)', '  sd t0, 8(s1)');
    o.push('  addi s0, s0, 24', '  addi s1, s1, 16', '  addi s2, s2, -1', '  bnez s2, 1b');
  });
  o.push('  fsrmi 0');
  o.push('  lla a1, results', `  li a2, ${p.records * RECORD}`);
  o.push(
    '#ifdef TVISOR',
    '  lla t1, magic', '  li t0, 64', '  sd t0, 0(t1)', '  li t0, 1', '  sd t0, 8(t1)', '  sd a1, 16(t1)', '  sd a2, 24(t1)',
    '  fence', '  lla t2, tohost', '  lla t3, fromhost', '  sd t1, 0(t2)',
    '2:', '  ld t0, 0(t3)', '  beqz t0, 2b', '  sd x0, 0(t3)', '  li t0, 1', '  sd t0, 0(t2)',
    '3:', '  j 3b',
    '.section .tohost, "aw", @progbits', '.balign 64', '.globl tohost', 'tohost: .dword 0', '.size tohost, 8',
    '.balign 64', '.globl fromhost', 'fromhost: .dword 0', '.size fromhost, 8',
    '.data', '.balign 64', 'magic: .zero 64',
    '#else',
    '  li a7, 64', '  li a0, 1', '  ecall',
    '  li a7, 93', '  li a0, 0', '  ecall',
    '#endif',
  );
  o.push('.data', '.balign 8');
  p.tables.forEach((rows, k) => {
    o.push(`table_${k}:`);
    for (const r of rows) o.push(`  .dword ${r.map((v) => '0x' + v.toString(16)).join(', ')}`);
  });
  o.push('.bss', '.balign 16', `results: .zero ${p.records * RECORD}`, '');
  return o.join('\n');
}
