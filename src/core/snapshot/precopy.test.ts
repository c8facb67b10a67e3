// Live migration's pre-copy, inside one process (issue 15): the dirty log names every page written since it was
// last taken (stores through the MMU, whatever the write-TLB held, and DMA), so a machine copied while it runs
// (all pages, then the pages dirtied meanwhile, round after round, then the last ones with the state once it is
// stopped) is an exact copy that goes on where the original stopped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Vm } from '../machine/vm.js';
import { tinyImage } from '../machine/test-images.js';
import { restoreRam } from './file.js';

/**
 * S-mode kernel: t0 = its address + 0x400, t2 = its address + 0x10400; for (;;) { (*t0)++; *(t2 + ((*t0 & 15) << 12)) = *t0 }
 * — a counter, and a store to one of 16 further pages chosen by the count, so pages go dirty again and again.
 */
const WRITER = tinyImage([
  0x00000297, // auipc t0, 0
  0x40028293, // addi t0, t0, 0x400
  0x000103b7, // lui t2, 0x10
  0x005383b3, // add t2, t2, t0
  0x0002b303, // ld t1, 0(t0)          loop:
  0x00130313, // addi t1, t1, 1
  0x0062b023, // sd t1, 0(t0)
  0x00f37e13, // andi t3, t1, 15
  0x00ce1e13, // slli t3, t3, 12
  0x01c38e33, // add t3, t2, t3
  0x006e3023, // sd t1, 0(t3)
  0xfe5ff06f, // j loop
]);

function vm(): Vm {
  return new Vm({
    memory: 16 << 20, cpus: 1, kernel: WRITER, cmdline: '', console: () => {}, random: (n) => crypto.getRandomValues(new Uint8Array(n)), jit: 'off',
  });
}

const KERNEL = 0x200000 + 0x40; // where the code lies in RAM (tinyImage's load address + its header)
const counter = (m: Vm) => new DataView(m.ram.u8.buffer).getBigUint64(KERNEL + 0x400, true);

test('the dirty log names the pages written since it was last taken: stores, cached write translations and DMA', () => {
  const a = vm();
  a.runSlice(1e6);
  a.startDirtyLog();
  assert.deepEqual(a.takeDirtyPages(), [], 'nothing written yet');
  a.runSlice(2e6);
  const pages = a.takeDirtyPages();
  const counterPage = (KERNEL + 0x400) >>> 12;
  assert.ok(pages.includes(counterPage), 'the counter\'s page');
  assert.ok(pages.length >= 17, `and the 16 pages it writes in turn: ${pages.length}`);
  a.runSlice(2e6);
  assert.ok(a.takeDirtyPages().includes(counterPage), 'again after the log was taken (its write translation was dropped)');
  a.ram.write(a.ram.base + 0x700000, new Uint8Array([1]));
  assert.ok(a.takeDirtyPages().includes(0x700), 'DMA');
  // a guest reboot zeroes what was written: the copy must be zeroed too
  const touched = [...a.ram.touched.keys()].filter((p) => a.ram.touched[p] !== 0);
  a.ram.zeroTouched();
  assert.deepEqual(a.takeDirtyPages(), touched);
  a.stopDirtyLog();
  assert.equal(a.ram.dirty, null);
});

test('a machine copied while it runs, then stopped and its state sent, is an exact copy that goes on counting', () => {
  const a = vm();
  a.runSlice(2e6);
  a.startDirtyLog();
  // round 0: every page written so far, while the guest runs on
  const copy = new Map<number, Uint8Array>();
  const send = (pages: number[]) => {
    for (const p of pages) copy.set(p, a.ram.u8.slice(p << 12, (p + 1) << 12));
  };
  send([...a.ram.touched.keys()].filter((p) => a.ram.touched[p] !== 0));
  const rounds: number[] = [];
  for (let r = 0; r < 4; r++) {
    a.runSlice(1e6);
    const dirty = a.takeDirtyPages();
    rounds.push(dirty.length);
    send(dirty);
  }
  assert.ok(rounds.every((n) => n > 0 && n <= 20), `each round sends only what was written meanwhile: ${rounds.join(', ')}`);
  // stop-and-copy: the last dirty pages and the machine's state
  send(a.takeDirtyPages());
  const state = a.saveState();
  const b = vm();
  restoreRam(b.ram, { meta: null, ramPages: a.ram.size >>> 12, pages: [...copy].sort((x, y) => x[0] - y[0]).map(([index, data]) => ({ index, data })) });
  b.restoreState(state);
  const same = (p: number) => a.ram.u8.subarray(p << 12, (p + 1) << 12).every((x, i) => x === b.ram.u8[(p << 12) + i]);
  const differs = [...a.ram.touched.keys()].filter((p) => !same(p));
  assert.deepEqual(differs, [], 'RAM copied exactly: no page differs');
  const count = counter(a);
  b.runSlice(1e6);
  assert.ok(counter(b) > count, 'the copy goes on counting from where the original stopped');
});
