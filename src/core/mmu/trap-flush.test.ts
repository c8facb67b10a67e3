// Traps and xRET drop the TLB only when the privilege translation runs with changes (issue 14, point 4): a
// trap from S to S, what a kernel takes for every interrupt and many faults, keeps the cached translations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GuestRam } from '../machine/memory.js';
import { Bus } from '../devices/bus.js';
import { Clint, Timebase } from '../devices/clint.js';
import { CodeCache } from './codecache.js';
import { Hart } from '../cpu/hart.js';
import { S } from '../cpu/state.js';
import { CAUSE, PRIV } from '../cpu/bits.js';
import { TLB_INVALID } from './mmu.js';
import { execSystem } from '../cpu/system.js';
import { decode32 } from '../cpu/decode.js';

const BASE = 0x8000_0000;

function hart(): Hart {
  const ram = new GuestRam(BASE, 1 << 20);
  return new Hart({ hartId: 0, ram, bus: new Bus(), code: new CodeCache(ram), clint: new Clint(new Timebase({ nowNs: () => 0 }), 1), jit: 'off' });
}

/** Puts a read entry for virtual page 0x4000 in the TLB. */
function cache(h: Hart): void {
  h.mmu.rTag[4] = 0x4000;
  h.mmu.rTagHi[4] = 0;
  h.mmu.rOff[4] = 0x4000;
}
const cached = (h: Hart) => h.mmu.rTag[4] !== TLB_INVALID;

function sret(h: Hart): void {
  const w = new Int32Array(2);
  decode32(0x10200073, w, 0);
  execSystem(h, w[0], w[1], h.s[S.PC], h.s[S.PC + 1]);
}

test('a trap from S to S and an sret back to S keep the TLB; U to S and S to U drop it', () => {
  const h = hart();
  h.s[S.MEDELEG] = 1 << CAUSE.LOAD_PAGE_FAULT;
  h.s[S.PRIV] = PRIV.S;
  cache(h);
  h.takeTrap(CAUSE.LOAD_PAGE_FAULT, false, 0, 0, 0x1000, 0);
  assert.equal(h.s[S.PRIV], PRIV.S);
  assert.ok(cached(h), 'S to S keeps the entry');
  sret(h); // SPP = S: back to S
  assert.equal(h.s[S.PRIV], PRIV.S);
  assert.ok(cached(h), 'sret to S keeps the entry');
  h.s[S.PRIV] = PRIV.U;
  h.takeTrap(CAUSE.LOAD_PAGE_FAULT, false, 0, 0, 0x1000, 0);
  assert.equal(h.s[S.PRIV], PRIV.S);
  assert.ok(!cached(h), 'U to S drops it');
  cache(h);
  sret(h); // SPP = U now
  assert.equal(h.s[S.PRIV], PRIV.U);
  assert.ok(!cached(h), 'sret to U drops it');
});

test('a trap from S to M drops the TLB', () => {
  const h = hart();
  h.s[S.PRIV] = PRIV.S;
  cache(h);
  h.takeTrap(CAUSE.LOAD_PAGE_FAULT, false, 0, 0, 0x1000, 0);
  assert.equal(h.s[S.PRIV], PRIV.M);
  assert.ok(!cached(h));
});
