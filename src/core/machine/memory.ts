// Guest RAM: a WebAssembly.Memory (so generated wasm code can use it directly later) with typed views.
// Devices reach it only through GuestMemory, which keeps decoded-instruction caches coherent with DMA.

/** The narrow interface through which devices and loaders touch guest RAM (physical addresses). */
export interface GuestMemory {
  /** Copies bytes out of guest RAM; throws RangeError when the range is not RAM. */
  read(paddr: number, length: number): Uint8Array;
  /** Copies bytes into guest RAM and invalidates any cached decode of the pages written. */
  write(paddr: number, data: Uint8Array): void;
  /** True when [paddr, paddr+length) lies entirely in RAM. */
  contains(paddr: number, length: number): boolean;
  /**
   * A live view of [paddr, paddr+length) for DMA without copying (throws RangeError when not RAM). After
   * writing through it, call written() so decoded-instruction caches stay coherent.
   */
  view(paddr: number, length: number): Uint8Array;
  /** Reports that [paddr, paddr+length) was written through a view. */
  written(paddr: number, length: number): void;
}

import { areasBase, memoryBytes, HART_AREA_BYTES } from '../cpu/area.js';

const WASM_PAGE = 65536;

/** A read-only window of physical memory harts execute in place (see GuestRam.romBase). */
export interface RomWindow {
  base: number;
  size: number;
}
/** Hart areas a VM's memory holds by default (cpus are 1 to 8). */
export const DEFAULT_HART_AREAS = 8;
/** The interpreter addresses RAM with int32 byte offsets. */
export const MAX_RAM = 2 ** 31;

export class GuestRam implements GuestMemory {
  readonly memory: WebAssembly.Memory;
  readonly u8: Uint8Array;
  readonly i8: Int8Array;
  readonly u16: Uint16Array;
  readonly i16: Int16Array;
  readonly i32: Int32Array;
  /** For atomic doubleword operations (AMO*.D, LR.D/SC.D). */
  readonly i64: BigInt64Array;
  /** True when the RAM is a shared WebAssembly memory that harts in other threads use too. */
  readonly shared: boolean;
  /** Per 4 KiB page of code memory (RAM, then the ROM window): bit 0 = holds decoded instructions, bit 1 =
   *  watched by the host (HTIF). */
  readonly pageFlags: Uint8Array;
  /**
   * The ROM window: guest physical [romBase, romBase + romSize) that harts execute in place, kept in `memory`
   * right after RAM (byte offsets size .. size + romSize). A read-only flash bank's array lives there (its
   * device reads these bytes): code runs from it as from RAM, through the same code cache and JIT, while data
   * accesses go to the device on the bus (a NOR flash answers them by its command state). Nothing writes it
   * after boot, so decoded copies of it never go stale. romSize 0: none.
   */
  readonly romBase: number;
  readonly romSize: number;
  /** Bytes of code memory: RAM and the ROM window after it (code caches index pages up to codeSize >>> 12). */
  readonly codeSize: number;
  /** Halfwords of code memory, for instruction fetch and translation (RAM and the ROM window). */
  readonly code16: Uint16Array;
  /** Per 4 KiB page: 1 once anything wrote to it (the host memory a guest really uses; see touchedBytes). */
  readonly touched: Uint8Array;
  /** [0] = pages touched; shared with the other threads of the RAM when it is shared. */
  private readonly touchedCount: Int32Array;
  /** Hart areas after RAM (see hartArea). */
  readonly areas: number;
  /** Called when a write lands in a page flagged as code: (page index, byte offset in RAM, length). */
  onCodeWrite: ((ramOffset: number, length: number) => void) | null = null;

  /**
   * New RAM of `size` bytes at guest physical `base`. With `shared`, a shared WebAssembly memory (a
   * SharedArrayBuffer) that `GuestRam.attach` can open in other threads, so harts there run on the same RAM.
   * Alternatively `memory` gives an existing memory (from another thread) to wrap. After RAM, the memory holds
   * `harts` hart areas (cpu/area.ts: state blocks and TLBs that generated code addresses).
   */
  constructor(readonly base: number, readonly size: number, opts: { shared?: boolean; memory?: WebAssembly.Memory; touched?: SharedArrayBuffer; harts?: number; rom?: RomWindow } = {}) {
    if (!Number.isInteger(size) || size <= 0 || size % 4096 !== 0) {
      throw new RangeError(`RAM size must be a positive multiple of 4 KiB, got ${size}`);
    }
    const rom = opts.rom ?? { base: 0, size: 0 };
    if (!Number.isInteger(rom.size) || rom.size < 0 || rom.size % 4096 !== 0 || !Number.isInteger(rom.base) || rom.base % 4096 !== 0) {
      throw new RangeError(`the ROM window must be whole 4 KiB pages, got ${rom.size} bytes at 0x${rom.base.toString(16)}`);
    }
    if (rom.size > 0 && rom.base < base + size && base < rom.base + rom.size) throw new RangeError('the ROM window overlaps RAM');
    this.romBase = rom.base;
    this.romSize = rom.size;
    this.codeSize = size + rom.size;
    if (this.codeSize > MAX_RAM) throw new RangeError(`RAM size ${size}${rom.size ? ` and a ${rom.size}-byte ROM window` : ''} exceed the ${MAX_RAM / 2 ** 30} GiB limit`);
    if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('tvisor needs a little-endian host');
    const pages = memoryBytes(this.codeSize, opts.harts ?? DEFAULT_HART_AREAS) / WASM_PAGE;
    if (opts.memory && opts.memory.buffer.byteLength < memoryBytes(this.codeSize, 1)) {
      throw new RangeError(`the memory given holds ${opts.memory.buffer.byteLength} bytes, fewer than ${memoryBytes(this.codeSize, 1)}`);
    }
    this.memory = opts.memory ?? new WebAssembly.Memory({ initial: pages, maximum: pages, shared: opts.shared === true });
    const buf = this.memory.buffer;
    this.areas = Math.floor((buf.byteLength - areasBase(this.codeSize)) / HART_AREA_BYTES);
    this.shared = typeof SharedArrayBuffer !== 'undefined' && buf instanceof SharedArrayBuffer;
    this.u8 = new Uint8Array(buf, 0, size);
    this.i8 = new Int8Array(buf, 0, size);
    this.u16 = new Uint16Array(buf, 0, size >>> 1);
    this.i16 = new Int16Array(buf, 0, size >>> 1);
    this.i32 = new Int32Array(buf, 0, size >>> 2);
    this.i64 = new BigInt64Array(buf, 0, size >>> 3);
    this.code16 = new Uint16Array(buf, 0, this.codeSize >>> 1);
    this.pageFlags = new Uint8Array(this.codeSize >>> 12);
    // the touched account is shared too, so writes by harts in other threads count
    const acct = opts.touched ?? (this.shared ? new SharedArrayBuffer(4 + (size >>> 12)) : new ArrayBuffer(4 + (size >>> 12)));
    this.touchedCount = new Int32Array(acct, 0, 1);
    this.touched = new Uint8Array(acct, 4, size >>> 12);
  }

  /** Byte offset in `memory` of hart `hartId`'s area (state block, TLB: cpu/area.ts). */
  hartArea(hartId: number): number {
    if (!Number.isInteger(hartId) || hartId < 0 || hartId >= this.areas) {
      throw new RangeError(`hart ${hartId} has no state area: this VM's memory holds ${this.areas}`);
    }
    return areasBase(this.codeSize) + hartId * HART_AREA_BYTES;
  }

  /** The touched account's buffer, for GuestRam.attach in another thread. */
  get touchedBuffer(): ArrayBufferLike {
    return this.touchedCount.buffer;
  }

  /** The same RAM in another thread (a worker running more harts): `memory` and `touched` are this.memory
   *  and this.touchedBuffer sent over. */
  static attach(memory: WebAssembly.Memory, base: number, size: number, touched?: SharedArrayBuffer): GuestRam {
    return new GuestRam(base, size, { memory, touched });
  }

  /** Where code at physical `pa` is in `memory` (RAM or the ROM window), or -1 when it is in neither. */
  codeOffset(pa: number): number {
    const o = pa - this.base;
    if (o >= 0 && o < this.size) return o;
    const r = pa - this.romBase;
    return r >= 0 && r < this.romSize ? this.size + r : -1;
  }

  /** The ROM window's bytes, live (the flash bank's array). */
  romBytes(): Uint8Array {
    return new Uint8Array(this.memory.buffer, this.size, this.romSize);
  }

  /** Bytes of RAM the guest (or DMA, or the loader) has written at least once since the last reset. */
  get touchedBytes(): number {
    return Atomics.load(this.touchedCount, 0) * 4096;
  }

  /** Notes writes to [ramOffset, ramOffset+length) for the touched-memory account (and the dirty log). */
  touch(ramOffset: number, length: number): void {
    const t = this.touched;
    const d = this.dirty;
    for (let p = ramOffset >>> 12, last = (ramOffset + Math.max(length, 1) - 1) >>> 12; p <= last; p++) {
      if (t[p] === 0 && Atomics.compareExchange(t, p, 0, 1) === 0) Atomics.add(this.touchedCount, 0, 1);
      if (d !== null) d[p] = 1;
    }
  }

  /**
   * Per 4 KiB page, 1 once written since the dirty log was last taken (live migration's pre-copy: issue 15);
   * null while no log is kept. Every write marks it: the MMU's write-TLB fill for the harts' stores (the
   * machine drops its write-TLB entries whenever the log is taken, so the next store to each page fills again),
   * and touch() for DMA and loaders. Shared RAM keeps it in shared memory, which harts in other threads mark
   * too once they attach it (attachDirtyLog); pages are taken only while no hart runs.
   */
  dirty: Uint8Array | null = null;

  /** Starts a dirty log with no page dirty (in shared memory when the RAM is shared). */
  startDirtyLog(): void {
    const n = this.size >>> 12;
    this.dirty = new Uint8Array(this.shared ? new SharedArrayBuffer(n) : new ArrayBuffer(n));
  }

  /** Marks the dirty log another thread keeps for this RAM (its `dirty`'s buffer), from now on. */
  attachDirtyLog(buffer: SharedArrayBuffer): void {
    if (buffer.byteLength !== this.size >>> 12) throw new RangeError('the dirty log does not fit this RAM');
    this.dirty = new Uint8Array(buffer);
  }

  /** The pages written since the log started or was last taken, ascending; the log starts over empty. */
  takeDirty(): number[] {
    const d = this.dirty;
    if (d === null) throw new Error('no dirty log is kept');
    const pages: number[] = [];
    for (let p = 0; p < d.length; p++) {
      if (d[p] !== 0) {
        pages.push(p);
        d[p] = 0;
      }
    }
    return pages;
  }

  stopDirtyLog(): void {
    this.dirty = null;
  }

  /** Zeroes every page written since the last reset and forgets them: RAM is all zero again, and pages
   *  never written stay untouched by the host too (a fresh memory is zero without being resident). */
  zeroTouched(): void {
    const t = this.touched;
    const d = this.dirty;
    for (let p = 0; p < t.length; p++) {
      if (t[p] === 0) continue;
      this.u8.fill(0, p << 12, (p + 1) << 12);
      if (d !== null) d[p] = 1; // a guest reboot during a migration: the copy must be zeroed too
    }
    this.resetTouched();
  }

  /** Forgets the touched account (the machine cleared RAM). */
  resetTouched(): void {
    this.touched.fill(0);
    Atomics.store(this.touchedCount, 0, 0);
  }

  contains(paddr: number, length: number): boolean {
    return paddr >= this.base && length >= 0 && paddr + length <= this.base + this.size;
  }

  read(paddr: number, length: number): Uint8Array {
    if (!this.contains(paddr, length)) throw new RangeError(`guest range 0x${paddr.toString(16)}+${length} is not RAM`);
    const o = paddr - this.base;
    return this.u8.slice(o, o + length);
  }

  write(paddr: number, data: Uint8Array): void {
    if (!this.contains(paddr, data.length)) {
      throw new RangeError(`guest range 0x${paddr.toString(16)}+${data.length} is not RAM`);
    }
    const o = paddr - this.base;
    this.u8.set(data, o);
    this.noteWrite(o, data.length);
  }

  view(paddr: number, length: number): Uint8Array {
    if (!this.contains(paddr, length)) throw new RangeError(`guest range 0x${paddr.toString(16)}+${length} is not RAM`);
    const o = paddr - this.base;
    return this.u8.subarray(o, o + length);
  }

  written(paddr: number, length: number): void {
    if (this.contains(paddr, length)) this.noteWrite(paddr - this.base, length);
  }

  /** Tells code caches that [ramOffset, ramOffset+length) changed. */
  noteWrite(ramOffset: number, length: number): void {
    if (length <= 0) return;
    this.touch(ramOffset, length);
    if (!this.onCodeWrite) return;
    const flags = this.pageFlags;
    for (let p = ramOffset >>> 12, last = (ramOffset + length - 1) >>> 12; p <= last; p++) {
      if (flags[p] & 1) {
        this.onCodeWrite(ramOffset, length);
        return;
      }
    }
  }
}
