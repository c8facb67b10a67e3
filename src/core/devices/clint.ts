// CLINT / ACLINT (MSWI + MTIMER): msip at +0x0, mtimecmp at +0x4000, mtime at +0xbff8 (RISC-V ACLINT spec).
// mtime counts at 10 MHz following the host's monotonic clock.
import type { Clock } from '../host/clock.js';
import type { Device } from './bus.js';
import { RecordReader, SnapshotError, u64Text } from '../snapshot/state.js';

/** A CLINT's saved state (save/restore). */
export interface ClintState {
  version: 1;
  msip: number[];
  mtimecmp: string[];
  mtime: string;
}

export const CLINT_BASE = 0x0200_0000;
export const CLINT_SIZE = 0x1_0000;
export const TIMEBASE_HZ = 10_000_000;

/** The machine's time base: ticks of 100 ns since the machine was created, plus a guest-set offset. */
export class Timebase {
  private t0: number;
  private offset = 0;
  /** Ticks mtime is ahead of the clock's count (moved by set(); threads of one VM hand it on to agree). */
  get offsetTicks(): number {
    return this.offset;
  }
  /** mtime counts from `t0` on the clock (default: now); threads of one VM pass the same t0 to agree. */
  constructor(private readonly clock: Clock, t0?: number) {
    this.t0 = t0 ?? clock.nowNs();
  }
  /** Current mtime (an integer below 2^53). */
  now(): number {
    return Math.floor((this.clock.nowNs() - this.t0) / 100) + this.offset;
  }
  /** Writing mtime moves the time base. */
  set(ticks: number): void {
    this.offset += ticks - this.now();
  }
  /** Host nanoseconds until mtime reaches `ticks` (0 if already past). */
  nsUntil(ticks: number): number {
    return Math.max(0, (ticks - this.now()) * 100);
  }
}

const TWO32 = 4294967296;

export class Clint implements Device {
  readonly msip: Uint8Array;
  /** mtimecmp per hart as (lo, hi) words for exact read-back, and as a number for comparisons. */
  private cmpLo: Uint32Array;
  private cmpHi: Uint32Array;
  readonly mtimecmp: Float64Array;
  /** Called when msip or mtimecmp change, so sleeping harts re-evaluate their interrupts. */
  onChange: (() => void) | null = null;

  constructor(readonly timebase: Timebase, readonly harts: number) {
    this.msip = new Uint8Array(harts);
    this.cmpLo = new Uint32Array(harts);
    this.cmpHi = new Uint32Array(harts);
    this.mtimecmp = new Float64Array(harts);
    this.reset();
  }

  reset(): void {
    this.msip.fill(0);
    this.cmpLo.fill(0xffffffff);
    this.cmpHi.fill(0xffffffff);
    this.mtimecmp.fill(TWO32 * TWO32);
  }

  mtip(hart: number, now = this.timebase.now()): boolean {
    return now >= this.mtimecmp[hart];
  }

  read(offset: number, width: number): number | bigint {
    const v = this.read64(offset & ~7);
    if (width === 8) return (offset & 7) === 0 ? v : 0n;
    const shift = BigInt((offset & 7) * 8);
    return Number((v >> shift) & ((1n << BigInt(width * 8)) - 1n));
  }

  private read64(offset: number): bigint {
    if (offset < 0x4000) {
      const h = offset >>> 2;
      // msip words are 32 bits: the 8-byte slot holds harts h and h+1
      const lo = h < this.harts ? this.msip[h] : 0;
      const hi = h + 1 < this.harts ? this.msip[h + 1] : 0;
      return BigInt(lo) | (BigInt(hi) << 32n);
    }
    if (offset >= 0x4000 && offset < 0x4000 + 8 * this.harts) {
      const h = (offset - 0x4000) >>> 3;
      return BigInt(this.cmpLo[h]) | (BigInt(this.cmpHi[h]) << 32n);
    }
    if (offset === 0xbff8) return BigInt(this.timebase.now());
    return 0n;
  }

  write(offset: number, width: number, value: number | bigint): void {
    const v = BigInt.asUintN(64, BigInt(value));
    if (offset < 0x4000) {
      // msip: 32-bit registers, only bit 0 is writable
      if (width === 8) {
        this.setMsip(offset >>> 2, Number(v & 1n));
        this.setMsip((offset >>> 2) + 1, Number((v >> 32n) & 1n));
      } else if ((offset & 3) === 0) this.setMsip(offset >>> 2, Number(v & 1n));
    } else if (offset >= 0x4000 && offset < 0x4000 + 8 * this.harts) {
      const h = (offset - 0x4000) >>> 3;
      const part = offset & 7;
      if (width === 8) {
        this.cmpLo[h] = Number(v & 0xffffffffn);
        this.cmpHi[h] = Number(v >> 32n);
      } else if (width === 4 && part === 0) this.cmpLo[h] = Number(v);
      else if (width === 4 && part === 4) this.cmpHi[h] = Number(v);
      else return;
      this.mtimecmp[h] = this.cmpHi[h] * TWO32 + this.cmpLo[h];
      this.onChange?.();
    } else if (offset >= 0xbff8 && offset < 0xc000) {
      const now = BigInt(this.timebase.now());
      let next: bigint;
      if (width === 8) next = v;
      else if (width === 4 && offset === 0xbff8) next = (now & ~0xffffffffn) | (v & 0xffffffffn);
      else if (width === 4 && offset === 0xbffc) next = (now & 0xffffffffn) | ((v & 0xffffffffn) << 32n);
      else return;
      this.timebase.set(Number(next));
      this.onChange?.();
    }
  }

  /** The CLINT's state: msip and mtimecmp per hart, and mtime when saved (the guest's clock goes on from it). */
  save(): ClintState {
    return {
      version: 1,
      msip: Array.from(this.msip),
      mtimecmp: Array.from(this.cmpLo, (lo, h) => u64Text((BigInt(this.cmpHi[h]) << 32n) | BigInt(lo))),
      mtime: u64Text(BigInt(this.timebase.now())),
    };
  }

  /** Takes a saved state (of a CLINT with as many harts); refuses a bad record before changing anything. */
  restore(record: unknown): void {
    const r = new RecordReader(record, 'clint', 1);
    const msip = r.uints('msip', this.harts, 1);
    const cmp = r.u64s('mtimecmp', this.harts);
    const mtime = r.u64('mtime');
    if (mtime >= 1n << 53n) throw new SnapshotError('snapshot: clint.mtime is beyond 2^53 ticks (900 years)');
    this.msip.set(msip);
    cmp.forEach((v, h) => {
      this.cmpLo[h] = Number(v & 0xffffffffn);
      this.cmpHi[h] = Number(v >> 32n);
      this.mtimecmp[h] = this.cmpHi[h] * TWO32 + this.cmpLo[h];
    });
    this.timebase.set(Number(mtime));
    this.onChange?.();
  }

  private setMsip(h: number, bit: number) {
    if (h < this.harts) {
      this.msip[h] = bit;
      this.onChange?.();
    }
  }
}
