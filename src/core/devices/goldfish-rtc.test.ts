// Unit tests of the Goldfish RTC with a fake wall clock: time read/latch/set, alarm, interrupt.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GoldfishRtc, RTC_BASE, RTC_IRQ, RTC_SIZE } from './goldfish-rtc.js';
import { systemWallClock, type WallClock } from '../host/clock.js';

const TIME_LOW = 0x00;
const TIME_HIGH = 0x04;
const ALARM_LOW = 0x08;
const ALARM_HIGH = 0x0c;
const IRQ_ENABLED = 0x10;
const CLEAR_ALARM = 0x14;
const ALARM_STATUS = 0x18;
const CLEAR_INTERRUPT = 0x1c;

function fakeWallClock(ns: bigint): WallClock & { ns: bigint } {
  const c = { ns, nowNs: () => c.ns };
  return c;
}

function readTime(rtc: GoldfishRtc): bigint {
  const lo = rtc.read(TIME_LOW, 4);
  const hi = rtc.read(TIME_HIGH, 4);
  return (BigInt(hi) << 32n) | BigInt(lo);
}

function setup(ns = 1_700_000_000_123_456_789n) {
  const clock = fakeWallClock(ns);
  const levels: boolean[] = [];
  const rtc = new GoldfishRtc(clock, { set: (l) => levels.push(l) });
  return { clock, rtc, levels };
}

test('RTC constants match QEMU virt', () => {
  assert.equal(RTC_BASE, 0x101000);
  assert.equal(RTC_SIZE, 0x1000);
  assert.equal(RTC_IRQ, 11);
});

test('RTC reports wall-clock ns; reading TIME_LOW latches TIME_HIGH', () => {
  const { clock, rtc } = setup(0x17a2_3c4d_5e6f_7081n);
  assert.equal(rtc.read(TIME_HIGH, 4), 0, 'nothing latched yet');
  assert.equal(rtc.read(TIME_LOW, 4), 0x5e6f7081);
  clock.ns = 0x17a2_3c4e_0000_0005n; // the high word moves on
  assert.equal(rtc.read(TIME_HIGH, 4), 0x17a23c4d, 'TIME_HIGH holds the value latched by TIME_LOW');
  assert.equal(readTime(rtc), 0x17a2_3c4e_0000_0005n);
  assert.equal(rtc.read(TIME_LOW, 8), 0, 'only 32-bit accesses');
});

test('RTC writes to TIME set an offset that keeps counting with the host clock', () => {
  const { clock, rtc } = setup(5_000_000_000n);
  // Linux's rtc-goldfish writes the high word, then the low word
  const target = 0x0000_0012_3456_7890n;
  rtc.write(TIME_HIGH, 4, Number(target >> 32n));
  rtc.write(TIME_LOW, 4, Number(target & 0xffff_ffffn));
  assert.equal(readTime(rtc), target);
  clock.ns += 1_000n;
  assert.equal(readTime(rtc), target + 1_000n);
  // setting only the low word keeps the current high word
  rtc.write(TIME_LOW, 4, 7);
  assert.equal(readTime(rtc), (0x12n << 32n) | 7n);
  // the offset survives a reset (the clock is battery-backed)
  rtc.reset();
  assert.equal(readTime(rtc), (0x12n << 32n) | 7n);
});

test('RTC alarm: armed by ALARM_LOW, fires when due, raises the IRQ only when enabled', () => {
  const { clock, rtc, levels } = setup(1_000_000n);
  let changes = 0;
  rtc.onChange = () => changes++;
  assert.equal(rtc.nsUntilAlarm(), null);
  rtc.write(ALARM_HIGH, 4, 0);
  assert.equal(rtc.read(ALARM_STATUS, 4), 0, 'ALARM_HIGH alone does not arm');
  rtc.write(ALARM_LOW, 4, 1_500_000);
  assert.equal(changes, 1);
  assert.equal(rtc.read(ALARM_STATUS, 4), 1);
  assert.equal(rtc.read(ALARM_LOW, 4), 1_500_000);
  assert.equal(rtc.nsUntilAlarm(), 500_000);
  clock.ns = 1_499_999n;
  rtc.poll();
  assert.equal(rtc.read(ALARM_STATUS, 4), 1);
  assert.equal(rtc.nsUntilAlarm(), 1);
  clock.ns = 1_600_000n;
  assert.equal(rtc.nsUntilAlarm(), 0, 'overdue');
  rtc.poll();
  assert.equal(rtc.read(ALARM_STATUS, 4), 0, 'fired');
  assert.equal(rtc.nsUntilAlarm(), null);
  assert.deepEqual(levels, [], 'IRQ_ENABLED is 0: the line stays low');
  rtc.write(IRQ_ENABLED, 4, 1);
  assert.equal(rtc.read(IRQ_ENABLED, 4), 1);
  assert.deepEqual(levels, [true], 'the pending interrupt shows once enabled');
  rtc.write(CLEAR_INTERRUPT, 4, 1);
  assert.deepEqual(levels, [true, false]);
});

test('RTC alarm in the past fires immediately; CLEAR_ALARM disarms', () => {
  const { clock, rtc, levels } = setup(10_000n);
  rtc.write(IRQ_ENABLED, 4, 1);
  rtc.write(ALARM_HIGH, 4, 0);
  rtc.write(ALARM_LOW, 4, 9_999);
  assert.deepEqual(levels, [true]);
  assert.equal(rtc.read(ALARM_STATUS, 4), 0);
  rtc.write(CLEAR_INTERRUPT, 4, 0);
  rtc.write(ALARM_LOW, 4, 20_000);
  assert.equal(rtc.read(ALARM_STATUS, 4), 1);
  rtc.write(CLEAR_ALARM, 4, 1);
  assert.equal(rtc.read(ALARM_STATUS, 4), 0);
  clock.ns = 30_000n;
  rtc.poll();
  assert.deepEqual(levels, [true, false], 'a cleared alarm does not fire');
});

test('RTC alarm compares against guest time (with the offset), using the 64-bit alarm value', () => {
  const { clock, rtc, levels } = setup(1_000n);
  rtc.write(IRQ_ENABLED, 4, 1);
  rtc.write(TIME_HIGH, 4, 2); // guest time = 2^33 + low part
  rtc.write(ALARM_HIGH, 4, 2);
  rtc.write(ALARM_LOW, 4, 5_000);
  assert.equal(rtc.read(ALARM_HIGH, 4), 2);
  assert.equal(rtc.nsUntilAlarm(), 4_000);
  clock.ns = 5_000n;
  // reading a register polls, so the guest sees the fired alarm without the machine polling
  assert.equal(rtc.read(ALARM_STATUS, 4), 0);
  assert.deepEqual(levels, [true]);
});

test('RTC moving the time forward past an armed alarm fires it', () => {
  const { rtc, levels } = setup(0n);
  rtc.write(IRQ_ENABLED, 4, 1);
  rtc.write(ALARM_LOW, 4, 1_000_000);
  assert.deepEqual(levels, []);
  rtc.write(TIME_LOW, 4, 2_000_000);
  assert.deepEqual(levels, [true]);
});

test('RTC reset disarms the alarm, disables and lowers the interrupt', () => {
  const { rtc, levels } = setup(0n);
  rtc.write(IRQ_ENABLED, 4, 1);
  rtc.write(ALARM_LOW, 4, 0);
  assert.deepEqual(levels, [true]);
  rtc.write(ALARM_LOW, 4, 100);
  rtc.reset();
  assert.deepEqual(levels, [true, false]);
  assert.equal(rtc.read(IRQ_ENABLED, 4), 0);
  assert.equal(rtc.read(ALARM_STATUS, 4), 0);
  assert.equal(rtc.read(ALARM_LOW, 4), 0);
  assert.equal(rtc.read(0x20, 4), 0, 'unknown register');
});

test('systemWallClock is near Date.now() and does not go backwards', () => {
  const clock = systemWallClock();
  const a = clock.nowNs();
  const b = clock.nowNs();
  assert.ok(b >= a);
  const diffMs = Number(a / 1_000_000n) - Date.now();
  assert.ok(Math.abs(diffMs) < 1000, `wall clock off by ${diffMs} ms`);
});
