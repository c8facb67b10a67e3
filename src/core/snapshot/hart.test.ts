// A hart's saved state: a program stopped part-way, saved with its RAM, and restored into a fresh hart and
// memory ends exactly as the same program run without a stop (registers, CSRs, memory, pc, counters).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GuestRam } from '../machine/memory.js';
import { Bus } from '../devices/bus.js';
import { Clint, Timebase } from '../devices/clint.js';
import { CodeCache } from '../mmu/codecache.js';
import { Hart } from '../cpu/hart.js';
import { S } from '../cpu/state.js';
import { SnapshotError } from './state.js';
import { restoreHart, saveHart } from './hart.js';

const BASE = 0x8000_0000;
const I = (imm: number, rs1: number, f3: number, rd: number, opc: number) => (((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | opc) >>> 0;
const R = (f7: number, rs2: number, rs1: number, f3: number, rd: number, opc: number) => ((f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | opc) >>> 0;
const B = (imm: number, rs2: number, rs1: number, f3: number) =>
  ((((imm >> 12) & 1) << 31) | (((imm >> 5) & 0x3f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (((imm >> 1) & 0xf) << 8) | (((imm >> 11) & 1) << 7) | 0x63) >>> 0;
const S_ = (imm: number, rs2: number, rs1: number, f3: number) => ((((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 0x1f) << 7) | 0x23) >>> 0;

/** sum = 1000 + 999 + … + 1, multiplied into a product, written to memory and mscratch; then wfi forever. */
const PROGRAM = [
  I(0, 0, 0, 5, 0x13), // addi x5, x0, 0
  I(1000, 0, 0, 6, 0x13), // addi x6, x0, 1000
  I(1, 0, 0, 8, 0x13), // addi x8, x0, 1
  R(0, 6, 5, 0, 5, 0x33), // loop: add x5, x5, x6
  R(1, 6, 8, 0, 8, 0x33), // mul x8, x8, x6
  I(-1, 6, 0, 6, 0x13), // addi x6, x6, -1
  B(-12, 0, 6, 1), // bne x6, x0, loop
  0x00000397, // auipc x7, 0
  S_(0x400, 5, 7, 3), // sd x5, 0x400(x7)
  S_(0x408, 8, 7, 3), // sd x8, 0x408(x7)
  I(0x340, 5, 1, 0, 0x73), // csrw mscratch, x5
  0x10500073, // wfi
  0xffdff06f, // j -4
];

function machine(program?: number[]) {
  const ram = new GuestRam(BASE, 1 << 16);
  const h = new Hart({ hartId: 0, ram, bus: new Bus(), code: new CodeCache(ram), clint: new Clint(new Timebase({ nowNs: () => 0 }), 1), jit: 'off' });
  if (program) program.forEach((w, i) => { ram.i32[i] = w | 0; });
  h.reset(BASE, 0);
  return { ram, h };
}

test('a program saved part-way and restored elsewhere ends as the one that never stopped', () => {
  const whole = machine(PROGRAM);
  let n = 0;
  while (!whole.h.waiting && n < 100_000) n += whole.h.run(1000);
  assert.ok(whole.h.waiting, 'the program ends in wfi');

  const first = machine(PROGRAM);
  first.h.run(1234); // mid-loop
  const saved = JSON.parse(JSON.stringify(saveHart(first.h)));
  const memory = first.ram.u8.slice(0, 1 << 16);

  const second = machine();
  second.ram.u8.set(memory);
  restoreHart(second.h, saved);
  let m = 0;
  while (!second.h.waiting && m < 100_000) m += second.h.run(1000);
  assert.deepEqual(saveHart(second.h), saveHart(whole.h), 'registers, pc, CSRs and counters');
  assert.deepEqual(second.ram.u8.slice(0x400, 0x420), whole.ram.u8.slice(0x400, 0x420));
  assert.equal(second.h.s[S.MSCRATCH], 500500);
});

test('a hart record with a bad state block or privilege is refused and changes nothing', () => {
  const { h } = machine(PROGRAM);
  h.run(10);
  const good = saveHart(h);
  const before = JSON.stringify(good);
  const bad = (patch: object) => ({ ...good, ...patch });
  assert.throws(() => restoreHart(h, bad({ state: good.state.slice(1) })), /hart 0\.state must be an array of 236 numbers/);
  assert.throws(() => restoreHart(h, bad({ state: good.state.map((v, i) => (i === S.PRIV ? 2 : v)) })), SnapshotError);
  assert.throws(() => restoreHart(h, bad({ retired: 1.5 })), /hart 0\.retired must be a whole number/);
  assert.throws(() => restoreHart(h, bad({ sbiTimer: 'soon' })), /hart 0\.sbiTimer must be an unsigned 64-bit number/);
  assert.equal(JSON.stringify(saveHart(h)), before);
});
