// The bare-metal machine behind `tvisor bare`: one hart on the QEMU virt map (RAM, CLINT, syscon, UART)
// plus HTIF (tohost/fromhost), the host-target interface the RISC-V ISA test suites report through.
import { ElfError, type ElfImage } from './elf-types.js';
import { GuestRam } from './memory.js';
import { Bus } from '../devices/bus.js';
import { Clint, Timebase, CLINT_BASE, CLINT_SIZE } from '../devices/clint.js';
import { Syscon, SYSCON_BASE, SYSCON_SIZE } from '../devices/syscon.js';
import { Uart16550, UART0_BASE, UART0_SIZE } from '../devices/uart16550.js';
import { CodeCache } from '../mmu/codecache.js';
import { Hart } from '../cpu/hart.js';
import { monotonicClock, type Clock } from '../host/clock.js';
import type { JitMode } from '../jit/mode.js';

export const RAM_BASE = 0x8000_0000;
/** Instructions per slice between checks of the wall clock and event loop. */
const SLICE = 1 << 21;
const SYS_WRITE = 64;
const ENOSYS = -38;

export interface BareMachineOptions {
  ramSize?: number;
  clock?: Clock;
  console?: (bytes: Uint8Array) => void;
  /** When the hart translates guest code to WebAssembly (default: on). */
  jit?: JitMode;
}

export type BareExit =
  | { kind: 'pass' }
  | { kind: 'fail'; test: number }
  | { kind: 'poweroff'; code: number }
  | { kind: 'instruction-limit' }
  | { kind: 'timeout' };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class BareMachine {
  readonly ram: GuestRam;
  readonly bus = new Bus();
  readonly clint: Clint;
  readonly hart: Hart;
  readonly uart: Uart16550;
  private readonly clock: Clock;
  private readonly out: (bytes: Uint8Array) => void;
  private tohost = -1;
  private fromhost = -1;
  private exit: BareExit | null = null;

  constructor(opts: BareMachineOptions = {}) {
    this.clock = opts.clock ?? monotonicClock();
    this.out = opts.console ?? (() => {});
    this.ram = new GuestRam(RAM_BASE, opts.ramSize ?? 128 * 1024 * 1024, { harts: 1 });
    this.clint = new Clint(new Timebase(this.clock), 1);
    this.uart = new Uart16550((b) => this.out(Uint8Array.of(b)));
    this.bus.map(CLINT_BASE, CLINT_SIZE, 'clint', this.clint);
    this.bus.map(SYSCON_BASE, SYSCON_SIZE, 'syscon', new Syscon((e) => {
      this.finish(e.kind === 'poweroff' ? { kind: 'poweroff', code: e.code } : { kind: 'poweroff', code: 0 });
    }));
    this.bus.map(UART0_BASE, UART0_SIZE, 'uart0', this.uart);
    const code = new CodeCache(this.ram);
    this.hart = new Hart({ hartId: 0, ram: this.ram, bus: this.bus, code, clint: this.clint, jit: opts.jit });
    this.hart.onWatchedStore = (pa) => this.htif(pa);
  }

  get instret(): number {
    return this.hart.retired;
  }

  load(elf: ElfImage): void {
    const base = BigInt(RAM_BASE), end = base + BigInt(this.ram.size);
    for (const seg of elf.segments) {
      const at = seg.paddr;
      if (at < base || at + BigInt(seg.memsz) > end) {
        throw new ElfError(
          `segment at 0x${at.toString(16)} (${seg.memsz} bytes) lies outside guest RAM ` +
          `0x${base.toString(16)}-0x${(end - 1n).toString(16)}; link the program at 0x80000000 or give more --ram`,
        );
      }
    }
    const tohost = elf.symbols.get('tohost');
    if (tohost === undefined) {
      throw new ElfError('the ELF has no `tohost` symbol; tvisor bare runs programs that report through HTIF');
    }
    if (tohost < base || tohost + 8n > end) throw new ElfError(`tohost (0x${tohost.toString(16)}) is not in guest RAM`);
    const fromhost = elf.symbols.get('fromhost');
    for (const seg of elf.segments) {
      const off = Number(seg.paddr - base);
      this.ram.u8.fill(0, off, off + seg.memsz);
      this.ram.write(Number(seg.paddr), seg.data);
    }
    this.tohost = Number(tohost);
    this.fromhost = fromhost !== undefined && fromhost >= base && fromhost + 8n <= end ? Number(fromhost) : -1;
    this.ram.pageFlags[(this.tohost - RAM_BASE) >>> 12] |= 2;
    const entry = BigInt.asUintN(64, elf.entry);
    this.hart.reset(Number(entry & 0xffffffffn) | 0, Number(entry >> 32n) | 0);
  }

  private finish(e: BareExit): void {
    if (this.exit === null) this.exit = e;
    this.hart.stop = true;
  }

  private read64(pa: number): bigint {
    const b = this.ram.read(pa, 8);
    return new DataView(b.buffer).getBigUint64(0, true);
  }

  private write64(pa: number, v: bigint): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), true);
    this.ram.write(pa, b);
  }

  /** Handles a store into the tohost page (HTIF protocol as implemented by Spike and the ISA tests). */
  private htif(pa: number): void {
    if (pa + 8 <= this.tohost || pa >= this.tohost + 8) return;
    const cmd = this.read64(this.tohost);
    if (cmd === 0n) return;
    const device = Number(cmd >> 56n);
    const command = Number((cmd >> 48n) & 0xffn);
    const payload = cmd & 0xffff_ffff_ffffn;
    this.write64(this.tohost, 0n);
    if (device === 0 && command === 0) {
      if (payload & 1n) {
        const code = Number(payload >> 1n);
        this.finish(code === 0 ? { kind: 'pass' } : { kind: 'fail', test: code });
        return;
      }
      this.syscall(Number(payload));
    } else if (device === 1 && command === 1) {
      this.out(Uint8Array.of(Number(payload & 0xffn)));
      this.respond((1n << 56n) | (1n << 48n) | 0x100n | (payload & 0xffn));
    }
  }

  private respond(v: bigint): void {
    if (this.fromhost >= 0) this.write64(this.fromhost, v);
  }

  /** The syscall proxy: payload points at 8 u64 words [number, a0, a1, ...]; the result goes to word 0. */
  private syscall(magic: number): void {
    if (!this.ram.contains(magic, 64)) {
      this.finish({ kind: 'fail', test: 0x7fff });
      return;
    }
    const n = Number(this.read64(magic));
    let ret = BigInt(ENOSYS);
    if (n === SYS_WRITE) {
      const fd = Number(this.read64(magic + 8));
      const buf = Number(this.read64(magic + 16));
      const len = Number(this.read64(magic + 24));
      if ((fd === 1 || fd === 2) && this.ram.contains(buf, len)) {
        this.out(this.ram.read(buf, len));
        ret = BigInt(len);
      } else ret = -14n; // EFAULT
    }
    this.write64(magic, ret);
    this.respond(1n);
  }

  /** Host nanoseconds until the hart's next timer could fire (Infinity if none is armed). */
  private nextTimerNs(): number {
    return this.clint.timebase.nsUntil(this.hart.timerDeadline());
  }

  async run(limits: { maxInstructions?: number; timeoutMs?: number } = {}): Promise<BareExit> {
    const start = this.clock.nowNs();
    const deadline = limits.timeoutMs !== undefined ? start + limits.timeoutMs * 1e6 : Infinity;
    const max = limits.maxInstructions ?? Infinity;
    let lastYield = start;
    for (;;) {
      if (this.exit) return this.exit;
      const left = max - this.hart.retired;
      if (left <= 0) return { kind: 'instruction-limit' };
      this.hart.run(Math.min(SLICE, left));
      if (this.exit) return this.exit;
      const now = this.clock.nowNs();
      if (now >= deadline) return { kind: 'timeout' };
      if (this.hart.waiting && !this.hart.wakeable()) {
        const waitNs = Math.min(this.nextTimerNs(), deadline - now, 10e6);
        await sleep(Math.max(0, Math.ceil(waitNs / 1e6)));
        lastYield = this.clock.nowNs();
      } else if (now - lastYield > 50e6) {
        await sleep(0);
        lastYield = this.clock.nowNs();
      }
    }
  }
}
