// What an SMP VM's thread does between instruction chunks (chunkHook: serving other harts' remote fences) may
// drop decoded code pages and TLB entries under the running loop. The loop must fetch its page again after
// the hook: a dropped decode array is recycled for the next page cached, so decoding more of the old page
// into it would make another page run this page's instructions (a 2-vCPU Debian guest oopsed that way, in
// sized_strscpy, at an xori reported as a store page fault).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GuestRam } from '../machine/memory.js';
import { Bus } from '../devices/bus.js';
import { Clint, Timebase } from '../devices/clint.js';
import { CodeCache } from '../mmu/codecache.js';
import { Hart } from './hart.js';

const BASE = 0x8000_0000;
const reg = (h: Hart, r: number) => h.x[2 * r];

test('a code cache flush between chunks does not let a recycled decode array run another page', () => {
  const ram = new GuestRam(BASE, 1 << 20);
  const code = new CodeCache(ram);
  const h = new Hart({ hartId: 0, ram, bus: new Bus(), code, clint: new Clint(new Timebase({ nowNs: () => 0 }), 1) });
  // page A: t0 = 0x5000; loop: t0 -= 1; bnez t0, loop; j page B (longer than one chunk)
  ram.write(BASE, new Uint8Array(new Uint32Array([0x000052b7, 0xfff28293, 0xfe029ee3, 0x7f50006f]).buffer));
  // page B, at the same offsets: a0 = 42; a1 = 7; a2 = 9; j .
  ram.write(BASE + 0x1000, new Uint8Array(new Uint32Array([0x02a00513, 0x00700593, 0x00900613, 0x0000006f]).buffer));
  let calls = 0;
  h.chunkHook = () => {
    if (++calls === 2) code.clear(); // a remote fence.i served after the first chunk
  };
  h.reset(BASE | 0, 0);
  h.run(2 * 0x5000 + 100);
  assert.ok(calls >= 2, 'the loop ran more than one chunk');
  assert.deepEqual([reg(h, 5), reg(h, 10), reg(h, 11), reg(h, 12)], [0, 42, 7, 9]);
});

test('fence.i drops decoded code another thread stored over (onFenceI), and the loop decodes it afresh', () => {
  const ram = new GuestRam(BASE, 1 << 20);
  const code = new CodeCache(ram);
  const h = new Hart({ hartId: 0, ram, bus: new Bus(), code, clint: new Clint(new Timebase({ nowNs: () => 0 }), 1) });
  let fences = 0;
  h.onFenceI = () => {
    fences++;
    code.clear();
  };
  // a1 = 5; fence.i; j 0
  ram.write(BASE, new Uint8Array(new Uint32Array([0x00500593, 0x0000100f, 0xff9ff06f]).buffer));
  h.reset(BASE | 0, 0);
  h.run(1);
  assert.equal(reg(h, 11), 5);
  // a store by a hart of another thread: it reaches RAM, not this thread's decoded page
  ram.u8.set(new Uint8Array(new Uint32Array([0x00600593]).buffer), 0); // a1 = 6
  h.run(3); // fence.i; j 0; the new instruction
  assert.equal(fences, 1);
  assert.equal(reg(h, 11), 6);
});
