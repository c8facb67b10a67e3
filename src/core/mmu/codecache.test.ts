// The decoded-instruction cache's bound: never more pages than maxPages, the clock evicts pages not fetched
// from since the hand passed, dropped pages give their slot and array back, and a hart running code spread
// over more pages than the bound still computes the right result.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GuestRam } from '../machine/memory.js';
import { Bus } from '../devices/bus.js';
import { Clint, Timebase } from '../devices/clint.js';
import { Hart } from '../cpu/hart.js';
import { CodeCache, DECODE_SLOTS, defaultMaxPages } from './codecache.js';

const BASE = 0x8000_0000;

test('the cache holds at most maxPages pages, evicts by clock and tells its listeners', () => {
  const ram = new GuestRam(BASE, 1 << 20);
  const code = new CodeCache(ram, 4);
  const events: string[] = [];
  code.listen((p, dropped) => events.push(`${dropped ? 'drop' : 'load'} ${p}`));
  const arrays = [0, 1, 2, 3].map((p) => code.page(p));
  assert.equal(code.size, 4);
  arrays[1][10] = 123; // as if decoded
  assert.equal(code.page(1), arrays[1], 'a cached page keeps its array');
  // every page was fetched from since the hand last passed: one turn clears them, the hand then takes page 0
  const d4 = code.page(4);
  assert.equal(code.size, 4);
  assert.equal(code.evictions, 1);
  assert.equal(d4, arrays[0], "the evicted page's array is reused");
  assert.ok(d4.every((w) => w === 0), 'and comes back zeroed');
  assert.equal(ram.pageFlags[0] & 1, 0, 'page 0 is no longer code: stores to it go the fast way');
  assert.equal(ram.pageFlags[4] & 1, 1);
  assert.deepEqual(events.slice(-2), ['drop 0', 'load 4']);
  // page 2 fetched again, page 1 not: the hand (at page 1's slot) skips nothing and takes page 1
  code.page(2);
  code.page(5);
  assert.equal(events.at(-2), 'drop 1');
  assert.equal(code.page(2), arrays[2], 'the referenced page stayed');
  for (let p = 6; p < 200; p++) {
    code.page(p);
    assert.ok(code.size <= 4, `size ${code.size} after page ${p}`);
  }
  assert.equal(code.loads, 200, 'one load per page asked for while not cached: pages 0-199 once each');
});

test('a page its keeper vouches for (its translation ran) is passed over by the clock', () => {
  const ram = new GuestRam(BASE, 1 << 20);
  const code = new CodeCache(ram, 4);
  const dropped: number[] = [];
  code.listen((p, d) => { if (d) dropped.push(p); });
  let running = true; // page 0 runs translated: nothing fetches it through the cache
  code.listenKeep((p) => p === 0 && running);
  for (const p of [0, 1, 2, 3]) code.page(p);
  for (let p = 4; p < 20; p++) code.page(p);
  assert.ok(!dropped.includes(0), `page 0 stays while it runs (dropped: ${dropped})`);
  assert.equal(dropped.length, 16);
  running = false;
  for (let p = 20; p < 30; p++) code.page(p);
  assert.ok(dropped.includes(0), 'and goes once it no longer does');
});

test('a page dropped by a store gives its slot and its array to the next page', () => {
  const ram = new GuestRam(BASE, 1 << 20);
  const code = new CodeCache(ram, 2);
  const a = code.page(7);
  code.page(8);
  ram.write(BASE + 7 * 4096, new Uint8Array(4096)); // a whole-page write (a loader or DMA) drops the page
  assert.equal(code.size, 1);
  const b = code.page(9);
  assert.equal(b, a, 'no new array while a dropped one is spare');
  assert.equal(code.evictions, 0, 'the free slot was taken, nothing evicted');
  assert.equal(b.length, DECODE_SLOTS);
  code.clear();
  assert.equal(code.size, 0);
  assert.throws(() => new CodeCache(ram, 1), /maxPages must be an integer from 2/);
});

// RV64I encodings for the program below
const addi = (rd: number, rs1: number, imm: number) => ((imm & 0xfff) << 20) | (rs1 << 15) | (rd << 7) | 0x13;
const jal = (rd: number, off: number) =>
  (((off >> 20) & 1) << 31) | (((off >> 1) & 0x3ff) << 21) | (((off >> 11) & 1) << 20) | (((off >> 12) & 0xff) << 12) | (rd << 7) | 0x6f;
const beq = (rs1: number, rs2: number, off: number) =>
  (((off >> 12) & 1) << 31) | (((off >> 5) & 0x3f) << 25) | (rs2 << 20) | (rs1 << 15) | (((off >> 1) & 0xf) << 8) | (((off >> 11) & 1) << 7) | 0x63;

test('a hart running code on six pages through a two-page cache computes the same result', () => {
  const ram = new GuestRam(BASE, 1 << 20);
  const code = new CodeCache(ram, 2);
  const h = new Hart({ hartId: 0, ram, bus: new Bus(), code, clint: new Clint(new Timebase({ nowNs: () => 0 }), 1) });
  const put = (addr: number, words: number[]) => ram.write(addr, new Uint8Array(new Uint32Array(words.map((w) => w >>> 0)).buffer));
  // page k (0-4): a0 += k+1, jump to the next page; page 5: a0 += 6, a1 -= 1, back to page 0 until a1 = 0
  for (let k = 0; k < 5; k++) put(BASE + k * 4096, [addi(10, 10, k + 1), jal(0, 4092)]);
  put(BASE + 5 * 4096, [addi(10, 10, 6), addi(11, 11, -1), beq(11, 0, 8), jal(0, -(5 * 4096 + 12)), jal(0, 0)]);
  h.reset(BASE | 0, 0);
  h.x[22] = 10; // a1: ten rounds
  h.run(1000);
  assert.equal(h.x[20], 10 * (1 + 2 + 3 + 4 + 5 + 6), 'a0 after ten rounds');
  assert.equal(h.x[22], 0);
  assert.ok(code.size <= 2);
  assert.ok(code.evictions >= 50, `pages were evicted and decoded again (${code.evictions} evictions)`);
});

test('the default bound grows with guest RAM: 512 pages for small guests, 2048 for 1 GiB, at most 4096', () => {
  assert.equal(defaultMaxPages(128 * 2 ** 20), 512);
  assert.equal(defaultMaxPages(256 * 2 ** 20), 512);
  assert.equal(defaultMaxPages(2 ** 30), 2048);
  assert.equal(defaultMaxPages(16 * 2 ** 30), 4096);
});
