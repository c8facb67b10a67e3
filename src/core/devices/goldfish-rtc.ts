// The Goldfish real-time clock (Android emulator's goldfish RTC, as QEMU's goldfish_rtc and Linux's
// rtc-goldfish driver use it): nanoseconds since the Unix epoch, settable, with one alarm and an interrupt.
import type { WallClock } from '../host/clock.js';
import type { Device, IrqLine } from './bus.js';
import { RecordReader, u64Text } from '../snapshot/state.js';

export const RTC_BASE = 0x10_1000;
export const RTC_SIZE = 0x1000;
/** The RTC's PLIC source on QEMU virt. */
export const RTC_IRQ = 11;

// 32-bit registers.
const TIME_LOW = 0x00; // read: low word of the time, latches the high word into TIME_HIGH
const TIME_HIGH = 0x04;
const ALARM_LOW = 0x08; // write: sets the low word and arms the alarm
const ALARM_HIGH = 0x0c;
const IRQ_ENABLED = 0x10;
const CLEAR_ALARM = 0x14;
const ALARM_STATUS = 0x18; // 1 while an alarm is armed and not yet fired
const CLEAR_INTERRUPT = 0x1c;

const LOW32 = 0xffff_ffffn;

/** An RTC's saved state (save/restore); 64-bit values as decimal strings, the offset in two's complement. */
export interface RtcState {
  version: 1;
  offset: string;
  timeHigh: number;
  alarm: string;
  alarmArmed: boolean;
  irqEnabled: boolean;
  irqPending: boolean;
}

export class GoldfishRtc implements Device {
  /** Guest time minus host wall-clock time (ns); guest writes to TIME move it. Kept across reset. */
  private offset = 0n;
  private timeHigh = 0;
  private alarm = 0n;
  private alarmArmed = false;
  private irqEnabled = false;
  private irqPending = false;
  private line = false;
  /** Called when the alarm is armed or disarmed, so the machine can reschedule its next poll(). */
  onChange: (() => void) | null = null;

  constructor(private readonly clock: WallClock, private readonly irq: IrqLine | null = null) {}

  /** The guest-visible time: ns since the Unix epoch as an unsigned 64-bit value. */
  now(): bigint {
    return BigInt.asUintN(64, this.clock.nowNs() + this.offset);
  }

  /** Fire the alarm if it is due. The machine calls this at (or after) the time nsUntilAlarm() named. */
  poll(): void {
    if (this.alarmArmed && this.now() >= this.alarm) {
      this.alarmArmed = false;
      this.irqPending = true;
      this.updateIrq();
    }
  }

  /** Host nanoseconds until the armed alarm is due (0 if overdue), or null when no alarm is armed. */
  nsUntilAlarm(): number | null {
    if (!this.alarmArmed) return null;
    const d = this.alarm - this.now();
    return d > 0n ? Number(d) : 0;
  }

  reset(): void {
    this.timeHigh = 0;
    this.alarm = 0n;
    this.alarmArmed = false;
    this.irqEnabled = false;
    this.irqPending = false;
    this.updateIrq();
    this.onChange?.();
  }

  read(offset: number, width: number): number {
    if (width !== 4) return 0;
    this.poll();
    switch (offset) {
      case TIME_LOW: {
        const t = this.now();
        this.timeHigh = Number(t >> 32n);
        return Number(t & LOW32);
      }
      case TIME_HIGH:
        return this.timeHigh;
      case ALARM_LOW:
        return Number(this.alarm & LOW32);
      case ALARM_HIGH:
        return Number(this.alarm >> 32n);
      case IRQ_ENABLED:
        return this.irqEnabled ? 1 : 0;
      case ALARM_STATUS:
        return this.alarmArmed ? 1 : 0;
      default:
        return 0;
    }
  }

  write(offset: number, width: number, value: number | bigint): void {
    if (width !== 4) return;
    const v = BigInt.asUintN(32, BigInt(value));
    this.poll();
    switch (offset) {
      case TIME_LOW:
      case TIME_HIGH: {
        // Setting one half keeps the other half of the current time; the difference moves the offset.
        const cur = this.now();
        const next = offset === TIME_LOW ? (cur & ~LOW32) | v : (cur & LOW32) | (v << 32n);
        this.offset += next - cur;
        // An armed alarm is compared against the new time.
        this.poll();
        this.onChange?.();
        break;
      }
      case ALARM_LOW:
        this.alarm = (this.alarm & ~LOW32) | v;
        this.alarmArmed = true;
        // An alarm in the past fires at once.
        this.poll();
        this.onChange?.();
        break;
      case ALARM_HIGH:
        this.alarm = (this.alarm & LOW32) | (v << 32n);
        break;
      case IRQ_ENABLED:
        this.irqEnabled = (v & 1n) !== 0n;
        this.updateIrq();
        break;
      case CLEAR_ALARM:
        this.alarmArmed = false;
        this.onChange?.();
        break;
      case CLEAR_INTERRUPT:
        this.irqPending = false;
        this.updateIrq();
        break;
    }
  }

  /**
   * The RTC's state. The offset from the host's wall clock is kept, not the time: restored, the guest's wall
   * clock reads the host's time now (plus what the guest set), as a guest resumed on real hardware would.
   */
  save(): RtcState {
    return {
      version: 1,
      offset: u64Text(this.offset),
      timeHigh: this.timeHigh,
      alarm: u64Text(this.alarm),
      alarmArmed: this.alarmArmed,
      irqEnabled: this.irqEnabled,
      irqPending: this.irqPending,
    };
  }

  /** Takes a saved state, refusing a bad record before changing anything. */
  restore(record: unknown): void {
    const r = new RecordReader(record, 'rtc', 1);
    const offset = BigInt.asIntN(64, r.u64('offset'));
    const timeHigh = r.uint('timeHigh', 0xffffffff);
    const alarm = r.u64('alarm');
    const alarmArmed = r.bool('alarmArmed');
    const irqEnabled = r.bool('irqEnabled');
    const irqPending = r.bool('irqPending');
    this.offset = offset;
    this.timeHigh = timeHigh;
    this.alarm = alarm;
    this.alarmArmed = alarmArmed;
    this.irqEnabled = irqEnabled;
    this.irqPending = irqPending;
    this.updateIrq();
    this.onChange?.();
  }

  private updateIrq(): void {
    const level = this.irqPending && this.irqEnabled;
    if (level !== this.line) {
      this.line = level;
      this.irq?.set(level);
    }
  }
}
