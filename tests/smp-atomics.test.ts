// Harts in different threads on one shared RAM (the groundwork of multi-vCPU VMs whose harts run in
// parallel): AMOs and LR/SC must stay atomic across threads and a spinlock built on them must protect plain
// loads and stores. tests/smp/atomics.S runs on 3 worker threads at once; any lost update shows in the sums.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildElf, repoRoot, tempDir, hasTool, GCC } from './lib/toolchain.js';
import { GuestRam } from '../src/core/machine/memory.js';
import { parseElf } from '../src/core/machine/elf.js';

const BASE = 0x8000_0000;
const DATA = 0x8010_0000;
const ITER = 200_000;
const HARTS = 3;

test(`AMOs, LR/SC and an AMO spinlock stay atomic with ${HARTS} harts in ${HARTS} threads on shared RAM`, { skip: !hasTool(GCC) && `${GCC} is not installed` }, async (t) => {
  const dir = tempDir();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const elf = buildElf([join(repoRoot, 'tests', 'smp', 'atomics.S')], join(dir, 'atomics.elf'), {
    args: [`-DITER=${ITER}`, '-T', join(repoRoot, 'tests', 'asm', 'link.ld')],
  });
  const ram = new GuestRam(BASE, 4 * 2 ** 20, { shared: true });
  assert.equal(ram.shared, true);
  const image = parseElf(new Uint8Array(readFileSync(elf)));
  for (const seg of image.segments) if (seg.data.length > 0) ram.write(Number(seg.paddr), seg.data);
  const started = performance.now();
  const results = await Promise.all(Array.from({ length: HARTS }, (_, hartId) => new Promise<{ retired: number; finished: boolean }>((resolve, reject) => {
    const w = new Worker(new URL('./lib/hart-worker.js', import.meta.url), {
      workerData: { memory: ram.memory, base: BASE, size: ram.size, hartId, harts: HARTS, entry: Number(image.entry), doneAddr: DATA + 56, doneValue: HARTS },
    });
    w.once('message', resolve);
    w.once('error', reject);
  })));
  const ms = performance.now() - started;
  for (const r of results) assert.ok(r.finished, 'every hart finished its rounds');
  const u64 = (off: number) => new DataView(ram.read(DATA + off, 8).buffer).getBigUint64(0, true);
  const i64 = (off: number) => new DataView(ram.read(DATA + off, 8).buffer).getBigInt64(0, true);
  const n = BigInt(HARTS * ITER);
  assert.equal(u64(0) & 0xffffffffn, n, 'amoadd.w');
  assert.equal(u64(8), n * 0x100000001n, 'amoadd.d (carries across the halves)');
  assert.equal(u64(16), n, 'lr.d/sc.d increments');
  assert.equal(u64(32), n, 'plain increments under the amoswap spinlock');
  assert.equal(u64(24) & 0xffffffffn, 0n, 'the lock is free');
  assert.equal(i64(40), BigInt(ITER), 'amomax.d');
  assert.equal(i64(48), -BigInt(ITER), 'amomin.d');
  t.diagnostic(`${HARTS} harts, ${results.reduce((a, r) => a + r.retired, 0)} instructions in ${ms.toFixed(0)} ms`);
});
