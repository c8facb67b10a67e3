// The page walker's A/D update must be atomic with respect to other harts' accesses to the PTE (Privileged
// Spec 4.3.1): with harts in other threads on shared RAM, a PTE read by the walk may be changed (Linux on
// another CPU unmapping the page) before the walk sets A or D. A plain store would bring the old PTE back.
// The race is made deterministic here: the PMP check that comes just before the update changes the PTE.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GuestRam } from '../machine/memory.js';
import { S, STATE_SLOTS } from '../cpu/state.js';
import { CAUSE, PRIV, PTE } from '../cpu/bits.js';
import { Mmu } from './mmu.js';
import { Access } from './pmp.js';

const BASE = 0x8000_0000;
const ROOT = BASE + 0x1000; // Sv39 tables: root, level 1, level 0
const L1 = BASE + 0x2000;
const L0 = BASE + 0x3000;
const LEAF = L0 + 1 * 8; // VA 0x1000 → index 1 at level 0
const PAGE = BASE + 0x10000;
const OTHER = BASE + 0x20000;

class Fault extends Error {
  constructor(readonly trap: number) {
    super(`trap ${trap}`);
  }
}

function setup(): { mmu: Mmu; ram: GuestRam; pte: (pa: number, flags: number) => void; read: () => number } {
  const ram = new GuestRam(BASE, 1 << 20, { shared: true });
  const s = new Int32Array(STATE_SLOTS);
  s[S.PRIV] = PRIV.S;
  s[S.SATP] = ROOT / 4096; // ppn
  s[S.SATP + 1] = 8 << 28; // Sv39
  const mmu = new Mmu(s, ram, ram.hartArea(0), (cause) => {
    throw new Fault(cause);
  });
  mmu.pmp.check = () => true; // PMP grants everything (its checks are tested in pmp.test.ts)
  const i32 = ram.i32;
  const put = (addr: number, pa: number, flags: number) => {
    i32[(addr - BASE) >>> 2] = ((pa / 4096) << 10) | flags;
    i32[((addr - BASE) >>> 2) + 1] = 0;
  };
  put(ROOT, L1, PTE.V);
  put(L1, L0, PTE.V);
  return { mmu, ram, pte: (pa, flags) => put(LEAF, pa, flags), read: () => i32[(LEAF - BASE) >>> 2] };
}

/** Makes the PMP check before the A/D update run `race` once (as if another hart stored to the PTE then). */
function raceOnce(mmu: Mmu, race: () => void): void {
  const check = mmu.pmp.check.bind(mmu.pmp);
  let done = false;
  mmu.pmp.check = (paddr, size, access, priv) => {
    if (paddr === LEAF && access === Access.WRITE && !done) {
      done = true;
      race();
    }
    return check(paddr, size, access, priv);
  };
}

test('the walk sets A on a read and A and D on a write', () => {
  const { mmu, pte, read } = setup();
  pte(PAGE, PTE.V | PTE.R | PTE.W);
  assert.equal(mmu.translate(0x1234, 0, Access.READ), PAGE + 0x234);
  assert.equal(read() & (PTE.A | PTE.D), PTE.A);
  assert.equal(mmu.translate(0x1234, 0, Access.WRITE), PAGE + 0x234);
  assert.equal(read() & (PTE.A | PTE.D), PTE.A | PTE.D);
});

test('a PTE cleared by another hart before the A/D update stays cleared, and the access page-faults', () => {
  const { mmu, pte, read } = setup();
  pte(PAGE, PTE.V | PTE.R | PTE.W);
  raceOnce(mmu, () => pte(0, 0));
  assert.throws(() => mmu.translate(0x1234, 0, Access.WRITE), (e) => e instanceof Fault && e.trap === CAUSE.STORE_PAGE_FAULT);
  assert.equal(read(), 0, 'the unmapped PTE was not written back');
});

test('a PTE changed by another hart before the A/D update is walked again: the new mapping is used and marked', () => {
  const { mmu, pte, read } = setup();
  pte(PAGE, PTE.V | PTE.R | PTE.W);
  raceOnce(mmu, () => pte(OTHER, PTE.V | PTE.R));
  assert.equal(mmu.translate(0x1234, 0, Access.READ), OTHER + 0x234);
  assert.equal(read(), ((OTHER / 4096) << 10) | PTE.V | PTE.R | PTE.A);
});
