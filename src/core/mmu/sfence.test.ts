// SFENCE.VMA with an address drops only that address's translations (and every 4 KiB piece of a superpage that
// covers it); clearing mstatus.SUM drops only the user pages S-mode reached with it; setting it drops nothing.
// Each check reads the hart's real TLB after real walks of an Sv39 page table in guest RAM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GuestRam } from '../machine/memory.js';
import { Bus } from '../devices/bus.js';
import { Clint, Timebase } from '../devices/clint.js';
import { CodeCache } from './codecache.js';
import { Hart } from '../cpu/hart.js';
import { S } from '../cpu/state.js';
import { MSTATUS, PMPCFG, PRIV, PTE } from '../cpu/bits.js';
import { Access } from './mmu.js';
import { TLB_MASK } from '../cpu/area.js';
import { execSystem } from '../cpu/system.js';
import { decode32 } from '../cpu/decode.js';

const BASE = 0x8000_0000;
const ROOT = BASE + 0x1000; // level-2 table
const MID = BASE + 0x2000; // level-1 table for VA 0..1 GiB
const LEAF = BASE + 0x3000; // level-0 table for VA 0..2 MiB
const KERNEL_PAGE = 0x4000; // 4 KiB, supervisor
const USER_PAGE = 0x5000; // 4 KiB, user
const MEGA = 0x20_0000; // a 2 MiB megapage at VA 2 MiB (PA BASE + 2 MiB)

function pte(h: Hart, at: number, pa: number, flags: number): void {
  const i = (at - BASE) >>> 2;
  h.ram.i32[i] = ((pa / 4096) << 10) | flags;
  h.ram.i32[i + 1] = 0;
}

/** A hart in S-mode with Sv39 on: the three mappings above. */
function hart(): Hart {
  const ram = new GuestRam(BASE, 4 << 20);
  const h = new Hart({ hartId: 0, ram, bus: new Bus(), code: new CodeCache(ram), clint: new Clint(new Timebase({ nowNs: () => 0 }), 1), jit: 'off' });
  pte(h, ROOT, MID, PTE.V);
  pte(h, MID, LEAF, PTE.V);
  const rw = PTE.V | PTE.R | PTE.W | PTE.A | PTE.D;
  pte(h, LEAF + (KERNEL_PAGE >>> 12) * 8, BASE + 0x10000, rw);
  pte(h, LEAF + (USER_PAGE >>> 12) * 8, BASE + 0x11000, rw | PTE.U);
  pte(h, MID + 8, BASE + MEGA, rw);
  h.s[S.SATP] = ROOT / 4096;
  h.s[S.SATP + 1] = 8 << 28; // Sv39
  h.s[S.PRIV] = PRIV.S;
  h.s[S.MSTATUS] |= MSTATUS.SUM;
  // PMP entry 0 grants S-mode everything (NAPOT over the whole address space), as firmware leaves it
  h.s[S.PMPADDR] = -1;
  h.s[S.PMPADDR + 1] = 0x3fffff;
  h.s[S.PMPCFG] = PMPCFG.A | PMPCFG.R | PMPCFG.W | PMPCFG.X;
  h.mmu.pmp.update();
  h.mmu.flush();
  return h;
}

const cached = (h: Hart, va: number) => h.mmu.rTag[(va >>> 12) & TLB_MASK] === va;

/** Runs one SYSTEM instruction (encoded `word`) with x5 = `x5`. */
function exec(h: Hart, word: number, x5 = 0): void {
  h.x[10] = x5;
  h.x[11] = 0;
  const w = new Int32Array(2);
  decode32(word, w, 0);
  execSystem(h, w[0], w[1], h.s[S.PC], h.s[S.PC + 1]);
}
const SFENCE_X5 = (0x09 << 25) | (5 << 15) | 0x73; // sfence.vma x5, x0
const SFENCE_ALL = (0x09 << 25) | 0x73; // sfence.vma x0, x0
const CSRRS_SSTATUS_X5 = (0x100 << 20) | (5 << 15) | (2 << 12) | 0x73;
const CSRRC_SSTATUS_X5 = (0x100 << 20) | (5 << 15) | (3 << 12) | 0x73;

function fill(h: Hart): void {
  for (const va of [KERNEL_PAGE, USER_PAGE, MEGA + 0x3000, MEGA + 0x7000]) h.mmu.translate(va, 0, Access.READ);
  for (const va of [KERNEL_PAGE, USER_PAGE, MEGA + 0x3000, MEGA + 0x7000]) assert.ok(cached(h, va), `0x${va.toString(16)} cached`);
}

test('sfence.vma with an address drops that page only; x0 drops everything', () => {
  const h = hart();
  fill(h);
  exec(h, SFENCE_X5, KERNEL_PAGE + 0x123);
  assert.ok(!cached(h, KERNEL_PAGE), 'the fenced page is gone');
  assert.ok(cached(h, USER_PAGE) && cached(h, MEGA + 0x3000) && cached(h, MEGA + 0x7000), 'the others stay');
  exec(h, SFENCE_ALL);
  for (const va of [USER_PAGE, MEGA + 0x3000, MEGA + 0x7000]) assert.ok(!cached(h, va));
});

test('sfence.vma of any address in a megapage drops every 4 KiB piece of it the TLB holds', () => {
  const h = hart();
  fill(h);
  exec(h, SFENCE_X5, MEGA + 0x1f_f000); // the megapage's last 4 KiB, not itself cached
  assert.ok(!cached(h, MEGA + 0x3000) && !cached(h, MEGA + 0x7000), 'both pieces are gone');
  assert.ok(cached(h, KERNEL_PAGE) && cached(h, USER_PAGE), 'the 4 KiB pages stay');
});

test('setting SUM keeps the TLB; clearing it drops the user pages S-mode reached, and no others', () => {
  const h = hart();
  fill(h);
  exec(h, CSRRS_SSTATUS_X5, MSTATUS.SUM); // already set: no change
  exec(h, CSRRC_SSTATUS_X5, MSTATUS.SUM);
  assert.equal(h.s[S.MSTATUS] & MSTATUS.SUM, 0);
  assert.ok(!cached(h, USER_PAGE), 'the user page is gone');
  assert.ok(cached(h, KERNEL_PAGE) && cached(h, MEGA + 0x3000), 'the kernel pages stay');
  // without SUM, S-mode cannot read the user page: it faults instead of using a stale entry
  assert.throws(() => h.mmu.translate(USER_PAGE, 0, Access.READ));
  exec(h, CSRRS_SSTATUS_X5, MSTATUS.SUM);
  assert.ok(cached(h, KERNEL_PAGE) && cached(h, MEGA + 0x7000), 'setting SUM drops nothing');
  h.mmu.translate(USER_PAGE, 0, Access.READ);
  assert.ok(cached(h, USER_PAGE));
});
