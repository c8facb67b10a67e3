// Unit tests of the hypervisor's SBI (SBI spec v2.0): calls are made the way a guest makes them, with a7/a6
// and a0-a5 in the hart's registers, and the results read back from a0/a1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GuestRam } from '../machine/memory.js';
import { Bus } from '../devices/bus.js';
import { Clint, Timebase } from '../devices/clint.js';
import { CodeCache } from '../mmu/codecache.js';
import { Hart } from '../cpu/hart.js';
import { S } from '../cpu/state.js';
import { MIP_SSIP, MIP_STIP, PRIV } from '../cpu/bits.js';
import { Sbi, Eid, HartState, SbiError, SBI_SPEC_VERSION, type ResetKind } from './sbi.js';

const BASE = 0x8000_0000;

function setup(harts = 2) {
  const ram = new GuestRam(BASE, 1 << 20);
  const code = new CodeCache(ram);
  const clock = { ns: 0, nowNs: () => clock.ns };
  const clint = new Clint(new Timebase(clock), harts);
  const hs = Array.from({ length: harts }, (_, i) => new Hart({ hartId: i, ram, bus: new Bus(), code, clint }));
  const out: number[] = [];
  const resets: ResetKind[] = [];
  const sbi = new Sbi({
    harts: hs, memory: ram, consoleWrite: (b) => out.push(...b), consoleRead: () => new Uint8Array(0),
    reset: (k) => resets.push(k), wake: () => {},
  });
  sbi.startHart(0, BASE | 0, 0, 0, 0);
  return { ram, clock, hs, sbi, out, resets };
}

/** Makes an SBI call on hart h: returns [error, value] as signed numbers (values below 2^53). */
function call(sbi: Sbi, h: Hart, eid: number, fid: number, ...args: (number | bigint)[]): [number, number] {
  const x = h.x;
  const set = (reg: number, v: number | bigint) => {
    const b = BigInt.asUintN(64, BigInt(v));
    x[2 * reg] = Number(BigInt.asIntN(32, b));
    x[2 * reg + 1] = Number(BigInt.asIntN(32, b >> 32n));
  };
  args.forEach((a, i) => set(10 + i, a));
  set(16, fid);
  set(17, eid);
  h.s[S.PRIV] = PRIV.S;
  sbi.call(h);
  return [x[20], x[22] + x[23] * 2 ** 32];
}

test('Base: spec version 2.0, probe says yes for implemented extensions and no for others', () => {
  const { sbi, hs } = setup();
  assert.deepEqual(call(sbi, hs[0], Eid.BASE, 0), [0, SBI_SPEC_VERSION]);
  for (const eid of [Eid.TIME, Eid.IPI, Eid.RFENCE, Eid.HSM, Eid.SRST, Eid.DBCN, Eid.STA, Eid.LEGACY_PUTCHAR]) {
    assert.deepEqual(call(sbi, hs[0], Eid.BASE, 3, eid), [0, 1], `probe 0x${eid.toString(16)}`);
  }
  assert.deepEqual(call(sbi, hs[0], Eid.BASE, 3, 0x504d55), [0, 0], 'PMU is not offered');
  assert.deepEqual(call(sbi, hs[0], 0x12345678, 0), [SbiError.NOT_SUPPORTED, 0], 'unknown extension');
  assert.deepEqual(call(sbi, hs[0], Eid.BASE, 99), [SbiError.NOT_SUPPORTED, 0], 'unknown function');
});

test('HSM: start a stopped hart in S-mode with a0 = hartid, a1 = opaque; status; errors', () => {
  const { sbi, hs } = setup();
  assert.deepEqual(call(sbi, hs[0], Eid.HSM, 2, 1), [0, HartState.STOPPED]);
  assert.deepEqual(call(sbi, hs[0], Eid.HSM, 0, 1, BASE + 0x1000, 0xabcd), [0, 0]);
  const t = hs[1];
  assert.equal(t.s[S.PRIV], PRIV.S);
  assert.equal(t.s[S.PC] >>> 0, BASE + 0x1000);
  assert.equal(t.x[20], 1);
  assert.equal(t.x[22], 0xabcd);
  assert.deepEqual(call(sbi, hs[0], Eid.HSM, 2, 1), [0, HartState.STARTED]);
  assert.deepEqual(call(sbi, hs[0], Eid.HSM, 0, 1, BASE, 0), [SbiError.ALREADY_AVAILABLE, 0]);
  assert.deepEqual(call(sbi, hs[0], Eid.HSM, 0, 7, BASE, 0), [SbiError.INVALID_PARAM, 0], 'no such hart');
  assert.deepEqual(call(sbi, hs[0], Eid.HSM, 2, 7), [SbiError.INVALID_PARAM, 0]);
  call(sbi, t, Eid.HSM, 1);
  assert.equal(sbi.state[1], HartState.STOPPED);
  assert.equal(t.waiting, true, 'a stopped hart stops executing');
  assert.deepEqual(call(sbi, hs[0], Eid.HSM, 0, 1, 0x1000, 0), [SbiError.INVALID_ADDRESS, 0], 'start address outside RAM');
});

test('IPI sets SSIP on the named harts; TIME arms the supervisor timer', () => {
  const { sbi, hs, clock } = setup();
  call(sbi, hs[0], Eid.HSM, 0, 1, BASE, 0);
  assert.deepEqual(call(sbi, hs[0], Eid.IPI, 0, 0b10, 0), [0, 0]);
  assert.equal(hs[1].s[S.MIP] & MIP_SSIP, MIP_SSIP);
  assert.equal(hs[0].s[S.MIP] & MIP_SSIP, 0);
  assert.deepEqual(call(sbi, hs[0], Eid.IPI, 0, 0, -1), [0, 0], 'hart_mask_base = -1: all harts');
  assert.equal(hs[0].s[S.MIP] & MIP_SSIP, MIP_SSIP);
  assert.deepEqual(call(sbi, hs[0], Eid.IPI, 0, 0b100, 0), [SbiError.INVALID_PARAM, 0]);
  assert.deepEqual(call(sbi, hs[0], Eid.TIME, 0, 1000), [0, 0]);
  assert.equal(hs[0].mip() & MIP_STIP, 0);
  clock.ns = 1000 * 100; // mtime reaches 1000
  assert.equal(hs[0].mip() & MIP_STIP, MIP_STIP);
  call(sbi, hs[0], Eid.TIME, 0, 5000);
  assert.equal(hs[0].mip() & MIP_STIP, 0, 'a new deadline clears the pending timer');
});

test('DBCN writes guest memory to the console; SRST reports shutdown and reboots', () => {
  const { sbi, hs, ram, out, resets } = setup();
  ram.write(BASE + 0x100, new TextEncoder().encode('hello'));
  assert.deepEqual(call(sbi, hs[0], Eid.DBCN, 0, 5, BASE + 0x100, 0), [0, 5]);
  assert.equal(String.fromCharCode(...out), 'hello');
  call(sbi, hs[0], Eid.DBCN, 2, 0x21);
  assert.equal(out[5], 0x21);
  assert.deepEqual(call(sbi, hs[0], Eid.DBCN, 0, 5, 0x10, 0), [SbiError.INVALID_PARAM, 0], 'not RAM');
  assert.deepEqual(call(sbi, hs[0], Eid.SRST, 0, 0, 0), [0, 0]);
  assert.deepEqual(call(sbi, hs[0], Eid.SRST, 0, 1, 0), [0, 0]);
  assert.deepEqual(call(sbi, hs[0], Eid.SRST, 0, 9, 0), [SbiError.INVALID_PARAM, 0]);
  assert.deepEqual(resets, ['shutdown', 'cold-reboot']);
});

test('STA: shared memory must be 64-byte aligned RAM; the record reports zero steal; -1 disables', () => {
  const { sbi, hs, ram } = setup();
  ram.write(BASE + 0x200, new Uint8Array(64).fill(0xee));
  assert.deepEqual(call(sbi, hs[0], Eid.STA, 0, BASE + 0x208, 0, 0), [SbiError.INVALID_PARAM, 0], 'misaligned');
  assert.deepEqual(call(sbi, hs[0], Eid.STA, 0, 0x1000, 0, 0), [SbiError.INVALID_ADDRESS, 0], 'not RAM');
  assert.deepEqual(call(sbi, hs[0], Eid.STA, 0, BASE + 0x200, 0, 1), [SbiError.INVALID_PARAM, 0], 'flags must be 0');
  assert.deepEqual(call(sbi, hs[0], Eid.STA, 0, BASE + 0x200, 0, 0), [0, 0]);
  assert.deepEqual([...ram.read(BASE + 0x200, 24)], new Array(24).fill(0), 'sequence, flags, steal = 0');
  assert.equal(sbi.staShmem[0], BASE + 0x200);
  assert.deepEqual(call(sbi, hs[0], Eid.STA, 0, -1, -1, 0), [0, 0]);
  assert.equal(sbi.staShmem[0], -1);
});

test('STA: setSteal publishes steal and preempted with the sequence bumped by two; nothing without a record', () => {
  const { sbi, hs, ram } = setup();
  ram.write(BASE + 0x300, new Uint8Array(64).fill(0x5a));
  sbi.setSteal(0, 123_456, true); // no record registered: RAM untouched
  assert.deepEqual([...ram.read(BASE + 0x300, 64)], new Array(64).fill(0x5a));
  assert.deepEqual(call(sbi, hs[0], Eid.STA, 0, BASE + 0x300, 0, 0), [0, 0]);
  const rec = () => {
    const b = ram.read(BASE + 0x300, 64);
    const dv = new DataView(b.buffer);
    return { seq: dv.getUint32(0, true), flags: dv.getUint32(4, true), steal: dv.getBigUint64(8, true), preempted: b[16], pad: [...b.subarray(17)] };
  };
  sbi.setSteal(0, 2 ** 40 + 7, false);
  assert.deepEqual(rec(), { seq: 2, flags: 0, steal: 2n ** 40n + 7n, preempted: 0, pad: new Array(47).fill(0) });
  sbi.setSteal(0, 2 ** 40 + 9, true);
  assert.deepEqual(rec(), { seq: 4, flags: 0, steal: 2n ** 40n + 9n, preempted: 1, pad: new Array(47).fill(0) });
  sbi.setSteal(1, 5, true); // hart 1 registered nothing
  assert.equal(rec().seq, 4);
  assert.deepEqual(call(sbi, hs[0], Eid.STA, 0, -1, -1, 0), [0, 0]);
  sbi.setSteal(0, 99, false); // disabled: the record is left alone
  assert.equal(rec().steal, 2n ** 40n + 9n);
});

test('SMP: HSM starts, IPIs and fences reach a hart of another thread through the link', async () => {
  const { SmpLink, FENCE_VMA } = await import('../machine/smp.js');
  const link = new SmpLink(2);
  const ram = new GuestRam(BASE, 1 << 20, { shared: true });
  const code = new CodeCache(ram);
  const clock = { ns: 0, nowNs: () => clock.ns };
  const clint = new Clint(new Timebase(clock), 2);
  // thread A holds hart 0, thread B hart 1; each has its own Sbi over the same link
  const h0 = new Hart({ hartId: 0, ram, bus: new Bus(), code, clint });
  const h1 = new Hart({ hartId: 1, ram, bus: new Bus(), code: new CodeCache(ram), clint });
  const woken: number[] = [];
  let flushed = 0;
  const host = (harts: (Hart | null)[]) => ({
    harts, memory: ram, consoleWrite: () => {}, consoleRead: () => new Uint8Array(0), reset: () => {}, wake: () => {},
    smp: { link, wake: (h: number) => woken.push(h), flushCode: () => flushed++ },
  });
  const a = new Sbi(host([h0, null]));
  const b = new Sbi(host([null, h1]));
  a.reset();
  a.startHart(0, BASE | 0, 0, 0, 0);
  assert.equal(link.hsmState(0), HartState.STARTED);
  assert.equal(b.hsmState(0), HartState.STARTED, 'the other thread sees hart 0 started');
  // hart 0 starts hart 1: pending in the link, its vCPU woken; hart 1's thread starts it
  assert.deepEqual(call(a, h0, Eid.HSM, 0, 1, BASE + 0x1000, 0x55), [0, 0]);
  assert.equal(link.hsmState(1), HartState.START_PENDING);
  assert.deepEqual(woken, [1]);
  assert.deepEqual(call(a, h0, Eid.HSM, 0, 1, BASE + 0x1000, 0x55), [SbiError.ALREADY_AVAILABLE, 0], 'no second start');
  b.syncLocal(h1);
  assert.equal(link.hsmState(1), HartState.STARTED);
  assert.equal(h1.s[S.PC], (BASE + 0x1000) | 0);
  assert.equal(h1.x[22], 0x55, 'a1 = opaque');
  assert.equal(h1.s[S.PRIV], PRIV.S);
  // IPI from hart 0 to hart 1 lands as SSIP once hart 1's thread looks
  assert.deepEqual(call(a, h0, Eid.IPI, 0, 0b10, 0), [0, 0]);
  assert.equal(h1.s[S.MIP] & MIP_SSIP, 0);
  b.syncLocal(h1);
  assert.equal(h1.s[S.MIP] & MIP_SSIP, MIP_SSIP);
  // a remote sfence.vma returns at once when the target is not running, and is served before it runs
  assert.deepEqual(call(a, h0, Eid.RFENCE, 1, 0b10, 0, 0, 0), [0, 0]);
  assert.equal(link.takeFences(1), FENCE_VMA);
  // fence.i on all harts flushes this thread's decoded code too
  assert.deepEqual(call(a, h0, Eid.RFENCE, 0, -1, -1), [0, 0]);
  assert.ok(flushed >= 1);
  // hart 1 stops itself: hart 0 sees it stopped
  assert.deepEqual(call(b, h1, Eid.HSM, 1), [0, 0]);
  assert.deepEqual(call(a, h0, Eid.HSM, 2, 1), [0, HartState.STOPPED]);
});
