// Unit tests of the CLINT, syscon and UART register behaviour with a deterministic clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Clint, Timebase } from './clint.js';
import { Syscon, type SysconEvent } from './syscon.js';
import { Uart16550 } from './uart16550.js';
import type { Clock } from '../host/clock.js';

function fakeClock(): Clock & { ns: number } {
  const c = { ns: 0, nowNs: () => c.ns };
  return c;
}

test('CLINT mtime counts at 10 MHz from the host clock and can be written', () => {
  const clock = fakeClock();
  const clint = new Clint(new Timebase(clock), 2);
  assert.equal(clint.read(0xbff8, 8), 0n);
  clock.ns = 1_000_000; // 1 ms = 10,000 ticks
  assert.equal(clint.read(0xbff8, 8), 10_000n);
  clint.write(0xbff8, 8, 5n);
  assert.equal(clint.read(0xbff8, 8), 5n);
  clock.ns += 100;
  assert.equal(clint.read(0xbff8, 8), 6n);
  assert.equal(clint.read(0xbff8, 4), 6);
  assert.equal(clint.read(0xbffc, 4), 0);
});

test('CLINT mtimecmp drives MTIP per hart, with 32-bit halves and exact read-back', () => {
  const clock = fakeClock();
  const clint = new Clint(new Timebase(clock), 2);
  assert.equal(clint.mtip(0), false, 'mtimecmp resets to all ones');
  assert.equal(clint.read(0x4000, 8), 0xffffffffffffffffn);
  clint.write(0x4008, 4, 100); // hart 1 low word
  clint.write(0x400c, 4, 0);
  assert.equal(clint.read(0x4008, 8), 100n);
  assert.equal(clint.mtip(1), false);
  clock.ns = 100 * 100;
  assert.equal(clint.mtip(1), true);
  assert.equal(clint.mtip(0), false);
});

test('CLINT msip keeps only bit 0 and is per hart', () => {
  const clint = new Clint(new Timebase(fakeClock()), 2);
  clint.write(4, 4, 0xffffffff);
  assert.equal(clint.msip[1], 1);
  assert.equal(clint.msip[0], 0);
  assert.equal(clint.read(4, 4), 1);
  clint.write(4, 4, 2);
  assert.equal(clint.msip[1], 0);
});

test('syscon: 0x5555 powers off, 0x3333 fails with a code, 0x7777 resets, others ignored', () => {
  const events: SysconEvent[] = [];
  const sc = new Syscon((e) => events.push(e));
  sc.write(0, 4, 0x5555);
  sc.write(0, 4, (7 << 16) | 0x3333);
  sc.write(0, 4, 0x7777);
  sc.write(0, 4, 0x1234);
  sc.write(0, 1, 0x55);
  assert.deepEqual(events, [{ kind: 'poweroff', code: 0 }, { kind: 'poweroff', code: 7 }, { kind: 'reset' }]);
});

test('UART: THR output, LSR status, receive FIFO with interrupt line, divisor latch', () => {
  const out: number[] = [];
  let irq = false;
  const u = new Uart16550((b) => out.push(b), { set: (l) => (irq = l) });
  u.write(0, 1, 0x41);
  assert.deepEqual(out, [0x41]);
  assert.equal(u.read(5, 1) & 0x61, 0x60, 'transmitter empty, no data ready');
  u.write(1, 1, 1); // enable receive interrupt
  assert.equal(irq, false);
  u.receive(Uint8Array.of(0x68, 0x69));
  assert.equal(irq, true);
  assert.equal(u.read(2, 1) & 0x0f, 0x04, 'IIR: received data available');
  assert.equal(u.read(5, 1) & 1, 1);
  assert.equal(u.read(0, 1), 0x68);
  assert.equal(u.read(0, 1), 0x69);
  assert.equal(irq, false);
  assert.equal(u.read(5, 1) & 1, 0);
  u.write(3, 1, 0x80); // DLAB
  u.write(0, 1, 0x12);
  u.write(1, 1, 0x34);
  assert.equal(u.read(0, 1), 0x12);
  assert.equal(u.read(1, 1), 0x34);
  u.write(3, 1, 0x03);
  assert.equal(u.read(1, 1), 1, 'IER is back once DLAB is clear');
  assert.deepEqual(out, [0x41], 'divisor writes are not output');
});
