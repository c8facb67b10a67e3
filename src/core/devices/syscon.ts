// The QEMU virt "sifive,test" / syscon device at 0x100000: a 32-bit write of 0x5555 powers off,
// 0x3333 | (code << 16) powers off with a failure code, 0x7777 resets.
import type { Device } from './bus.js';

export const SYSCON_BASE = 0x10_0000;
export const SYSCON_SIZE = 0x1000;

export type SysconEvent = { kind: 'poweroff'; code: number } | { kind: 'reset' };

export class Syscon implements Device {
  constructor(private readonly onEvent: (e: SysconEvent) => void) {}
  reset(): void {}
  read(): number {
    return 0;
  }
  write(offset: number, width: number, value: number | bigint): void {
    if (offset !== 0 || width < 4) return;
    const v = Number(BigInt.asUintN(32, BigInt(value)));
    const kind = v & 0xffff;
    if (kind === 0x5555) this.onEvent({ kind: 'poweroff', code: 0 });
    else if (kind === 0x3333) this.onEvent({ kind: 'poweroff', code: v >>> 16 });
    else if (kind === 0x7777) this.onEvent({ kind: 'reset' });
  }
}
