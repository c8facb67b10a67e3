// Unit tests of PMP address matching (Privileged Spec 3.7.1): TOR, NA4, NAPOT, priority, lock, M-mode.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pmp, Access } from './pmp.js';
import { S } from '../cpu/state.js';

const A_TOR = 1 << 3, A_NA4 = 2 << 3, A_NAPOT = 3 << 3, R = 1, W = 2, X = 4, L = 0x80;

function pmpWith(entries: [number, number | bigint][]): Pmp {
  const s = new Int32Array(S.SIZE);
  entries.forEach(([cfg, addr], i) => {
    const a = BigInt(addr);
    s[S.PMPCFG + i] = cfg;
    s[S.PMPADDR + 2 * i] = Number(BigInt.asIntN(32, a));
    s[S.PMPADDR + 2 * i + 1] = Number(BigInt.asIntN(32, a >> 32n));
  });
  const p = new Pmp(s);
  p.update();
  return p;
}

test('no entries: M-mode allowed, S/U denied', () => {
  const p = pmpWith([]);
  assert.equal(p.check(0x80000000, 4, Access.READ, 3), true);
  assert.equal(p.check(0x80000000, 4, Access.READ, 1), false);
  assert.equal(p.check(0x80000000, 4, Access.READ, 0), false);
});

test('NAPOT all-memory RWX entry (what OpenSBI leaves last) grants S/U everything', () => {
  const p = pmpWith([[A_NAPOT | R | W | X, (1n << 54n) - 1n]]);
  for (const a of [Access.READ, Access.WRITE, Access.EXEC]) assert.equal(p.check(0x80001234, 8, a, 1), true);
  assert.equal(p.check(2 ** 55, 8, Access.READ, 0), true);
});

test('NAPOT region: 0x80000000 size 64 KiB read-only', () => {
  // pmpaddr = (base >> 2) | (size/8 - 1)
  const p = pmpWith([[A_NAPOT | R, (0x80000000 / 4) + (65536 / 8 - 1)]]);
  assert.equal(p.check(0x80000000, 4, Access.READ, 1), true);
  assert.equal(p.check(0x8000fffc, 4, Access.READ, 1), true);
  assert.equal(p.check(0x8000fffc, 8, Access.READ, 1), false, 'straddles the end: partial match fails');
  assert.equal(p.check(0x80010000, 4, Access.READ, 1), false);
  assert.equal(p.check(0x80000000, 4, Access.WRITE, 1), false);
  assert.equal(p.check(0x80000000, 4, Access.WRITE, 3), true, 'M-mode ignores unlocked entries');
});

test('TOR uses the previous pmpaddr as the bottom; NA4 covers 4 bytes', () => {
  const p = pmpWith([
    [0, 0x80001000 / 4],
    [A_TOR | R | W, 0x80002000 / 4],
    [A_NA4 | X, 0x80003000 / 4],
  ]);
  assert.equal(p.check(0x80000ffc, 4, Access.READ, 1), false);
  assert.equal(p.check(0x80001000, 4, Access.WRITE, 1), true);
  assert.equal(p.check(0x80001ffc, 4, Access.READ, 0), true);
  assert.equal(p.check(0x80002000, 4, Access.READ, 1), false);
  assert.equal(p.check(0x80003000, 4, Access.EXEC, 1), true);
  assert.equal(p.check(0x80003004, 2, Access.EXEC, 1), false);
  assert.equal(p.check(0x80001000, 4096, Access.READ, 1), true, 'whole-page check inside one entry');
});

test('the lowest-numbered matching entry wins, and a locked entry binds M-mode', () => {
  const p = pmpWith([
    [A_NAPOT | L, (0x80000000 / 4) + (4096 / 8 - 1)], // locked, no permissions: firmware region
    [A_NAPOT | R | W | X, (1n << 54n) - 1n],
  ]);
  assert.equal(p.check(0x80000800, 4, Access.READ, 1), false);
  assert.equal(p.check(0x80000800, 4, Access.READ, 3), false, 'locked entries apply to M-mode');
  assert.equal(p.check(0x80001000, 4, Access.READ, 1), true);
  assert.equal(p.check(0x80000000, 8192, Access.READ, 1), false, 'a range overlapping the locked region fails');
  assert.equal(p.locked(0), true);
  assert.equal(p.addrLocked(0), true);
  assert.equal(p.locked(1), false);
});
