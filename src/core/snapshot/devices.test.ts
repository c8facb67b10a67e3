// The board devices' (and the SBI's) saved state: driven into a state through their registers, saved, sent through JSON and
// restored into fresh devices, they read back the same and go on alike; bad records are refused by name and
// leave the device as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Clint, Timebase } from '../devices/clint.js';
import { Plic } from '../devices/plic.js';
import { Uart16550 } from '../devices/uart16550.js';
import { GoldfishRtc } from '../devices/goldfish-rtc.js';
import { SnapshotError } from './state.js';
import { Sbi } from '../sbi/sbi.js';
import type { Hart } from '../cpu/hart.js';
import type { GuestMemory } from '../machine/memory.js';

const json = <T>(v: T): unknown => JSON.parse(JSON.stringify(v));

/** A clock the test moves by hand. */
function manualClock(ns = 0) {
  return { ns, nowNs() { return this.ns; } };
}

test('CLINT: msip, mtimecmp and mtime come back; the guest\'s clock goes on from the saved mtime', () => {
  const a = new Clint(new Timebase(manualClock(5e9)), 2);
  a.write(0x4, 4, 1); // msip of hart 1
  a.write(0x4000, 8, 0x1234_5678_9abcn);
  a.write(0x4008, 4, 77); // the low half of hart 1's mtimecmp
  a.write(0xbff8, 8, 1_000_000n); // mtime
  const saved = a.save();
  const clock = manualClock(123e9); // another host, another time
  const b = new Clint(new Timebase(clock), 2);
  let changed = 0;
  b.onChange = () => changed++;
  b.restore(json(saved));
  assert.deepEqual(b.save(), saved);
  assert.equal(b.read(0x4, 4), 1);
  assert.equal(b.read(0x4000, 8), 0x1234_5678_9abcn);
  assert.equal(b.read(0x4008, 8), 0xffff_ffff_0000_004dn);
  assert.equal(b.read(0xbff8, 8), 1_000_000n);
  clock.ns += 1000; // 1 µs later: 10 ticks
  assert.equal(b.read(0xbff8, 8), 1_000_010n);
  assert.equal(changed, 1, 'sleeping harts re-evaluate their interrupts');
});

test('PLIC: a claimed source, a pending one, enables and thresholds come back and drive the contexts', () => {
  const lines: boolean[][] = [[], []];
  const make = (i: number) => new Plic({ sources: 40, contexts: 2, onContext: (c, l) => { lines[i][c] = l; } });
  const a = make(0);
  for (const [src, prio] of [[3, 5], [35, 2]]) a.write(4 * src, 4, prio);
  a.write(0x2000 + 0x80, 4, 1 << 3); // context 1 enables source 3
  a.write(0x2000 + 0x80 + 4, 4, 1 << 3); // and source 35
  a.write(0x20_0000 + 0x1000, 4, 1); // context 1 threshold 1
  a.irq(3).set(true);
  assert.equal(a.read(0x20_0000 + 0x1000 + 4, 4), 3, 'claimed');
  a.irq(35).set(true); // pending, context 1 asserted
  const saved = a.save();
  const b = make(1);
  b.restore(json(saved));
  assert.deepEqual(b.save(), saved);
  assert.deepEqual(lines[1], [false, true], 'the outputs are driven from the restored state');
  assert.equal(b.read(0x20_0000 + 0x1000 + 4, 4), 35, 'the pending source is claimed next');
  b.write(0x20_0000 + 0x1000 + 4, 4, 3); // completing 3: its line is still high, so it is forwarded again
  assert.equal(b.read(0x20_0000 + 0x1000 + 4, 4), 3);
});

test('UART: registers, FIFO and the waiting host input come back in order', () => {
  const out: number[] = [];
  const a = new Uart16550((b) => out.push(b));
  a.write(3, 1, 0x83); // DLAB
  a.write(0, 1, 12);
  a.write(3, 1, 0x03);
  a.write(4, 1, 0x0b); // MCR: DTR, RTS, OUT2
  a.write(1, 1, 0x01); // IER: received data
  a.receive(new Uint8Array(40).map((_, i) => 65 + (i % 26)));
  a.read(0, 1); // one byte read: 'A'
  const saved = a.save();
  const b = new Uart16550(() => {});
  b.restore(json(saved));
  assert.deepEqual(b.save(), saved);
  assert.equal(b.pendingInput, 39);
  const rest: number[] = [];
  for (let i = 0; i < 39; i++) rest.push(b.read(0, 1) as number);
  assert.deepEqual(rest, Array.from({ length: 39 }, (_, i) => 65 + ((i + 1) % 26)));
  b.write(3, 1, 0x83);
  assert.equal(b.read(0, 1), 12, 'the divisor latch');
});

test('RTC: the guest\'s offset and an armed alarm come back; the wall clock reads the host\'s time now', () => {
  const hostA = { ns: 1_000_000_000_000n, nowNs() { return this.ns; } };
  const a = new GoldfishRtc(hostA);
  a.write(0x04, 4, 0); // TIME_HIGH
  a.write(0x00, 4, 5000); // TIME_LOW: the guest sets its clock to 5000 ns (offset = 5000 - host)
  a.write(0x0c, 4, 0); // ALARM_HIGH
  a.write(0x08, 4, 9000); // ALARM_LOW arms it
  const saved = a.save();
  const hostB = { ns: hostA.ns + 2000n, nowNs() { return this.ns; } }; // 2 µs later elsewhere
  const b = new GoldfishRtc(hostB);
  b.restore(json(saved));
  assert.deepEqual(b.save(), saved);
  assert.equal(b.now(), 7000n, 'the time moved on with the host clock');
  assert.equal(b.nsUntilAlarm(), 2000);
});

test('bad records are refused by name, and the device keeps its state', () => {
  const c = new Clint(new Timebase(manualClock()), 1);
  c.write(0, 4, 1);
  const before = c.save();
  const cases: [unknown, RegExp][] = [
    [null, /clint is not an object/],
    [{ ...before, version: 2 }, /clint is of version 2; this tvisor reads version 1/],
    [{ ...before, msip: [1, 0] }, /clint\.msip must be an array of 1 numbers/],
    [{ ...before, msip: [2] }, /clint\.msip\[0\] must hold whole numbers from 0 to 1/],
    [{ ...before, mtimecmp: ['18446744073709551616'] }, /clint\.mtimecmp\[0\] must be an unsigned 64-bit number/],
    [{ ...before, mtime: undefined }, /clint\.mtime must be an unsigned 64-bit number/],
  ];
  for (const [rec, why] of cases) {
    assert.throws(() => c.restore(rec), (e: unknown) => e instanceof SnapshotError && why.test(e.message));
    assert.deepEqual(c.save().msip, before.msip);
  }
  const u = new Uart16550(() => {});
  assert.throws(() => u.restore({ ...u.save(), rx: new Array(17).fill(0) }), /uart\.rx must be an array of at most 16 numbers/);
  const p = new Plic({ sources: 8, contexts: 2, onContext: () => {} });
  assert.throws(() => p.restore({ ...p.save(), priority: [0, 8, 0, 0, 0, 0, 0, 0] }), /plic\.priority\[1\] must hold whole numbers from 0 to 7/);
});

test('SBI: each hart\'s HSM state and steal-time record address come back', () => {
  const make = () => new Sbi({
    harts: [null, null] as unknown as Hart[], memory: null as unknown as GuestMemory,
    consoleWrite: () => {}, consoleRead: () => new Uint8Array(0), reset: () => {}, wake: () => {},
  });
  const a = make();
  a.state[0] = 0; // started
  a.state[1] = 4; // suspended
  a.staShmem[1] = 0x8000_1040;
  const saved = a.save();
  assert.deepEqual(saved, { version: 1, hsm: [0, 4], sta: [null, String(0x8000_1040)] });
  const b = make();
  b.restore(json(saved));
  assert.deepEqual(b.save(), saved);
  assert.ok(b.runnable(0) && b.runnable(1));
  assert.throws(() => b.restore({ ...saved, hsm: [0, 5] }), /sbi\.hsm\[1\] must hold whole numbers from 0 to 4/);
  assert.throws(() => b.restore({ ...saved, sta: [null] }), /sbi\.sta must be an array of 2/);
});
