// Decoded-instruction cache per physical RAM page: 2048 halfword slots × (packed op word, immediate).
// Stores into a cached page (from any hart or by DMA) clear the affected slots, so self-modifying code and
// loaders need no explicit flush. A page written to repeatedly is dropped so data pages stay fast.
import type { GuestRam } from '../machine/memory.js';

/** Int32 slots per page: 2048 halfword positions × 2. */
export const DECODE_SLOTS = 4096;
/** Invalidating writes after which a page's cache is dropped. */
const DROP_AFTER = 256;

export class CodeCache {
  private pages: (Int32Array | undefined)[];
  private writes: Uint16Array;
  /** Notified when a page becomes code (harts drop write-TLB entries) or a cache is dropped. */
  private listeners: ((ramPage: number, dropped: boolean) => void)[] = [];

  constructor(private readonly ram: GuestRam) {
    this.pages = new Array(ram.size >>> 12);
    this.writes = new Uint16Array(ram.size >>> 12);
    ram.onCodeWrite = (off, len) => this.invalidate(off, len);
  }

  listen(fn: (ramPage: number, dropped: boolean) => void): void {
    this.listeners.push(fn);
  }

  /** The decode array of a RAM page (by RAM byte offset >>> 12), created on first use. */
  page(ramPage: number): Int32Array {
    let d = this.pages[ramPage];
    if (d === undefined) {
      d = new Int32Array(DECODE_SLOTS);
      this.pages[ramPage] = d;
      this.writes[ramPage] = 0;
      this.ram.pageFlags[ramPage] |= 1;
      for (const l of this.listeners) l(ramPage, false);
    }
    return d;
  }

  /** Clears decoded slots overlapping [ramOffset, ramOffset+length). */
  invalidate(ramOffset: number, length: number): void {
    const first = ramOffset >>> 12;
    const last = (ramOffset + length - 1) >>> 12;
    for (let p = first; p <= last; p++) {
      const d = this.pages[p];
      if (d === undefined) continue;
      if (++this.writes[p] > DROP_AFTER || length >= 4096) {
        this.drop(p);
        continue;
      }
      const pageStart = p << 12;
      // a 32-bit instruction may start 2 bytes before the write
      const from = Math.max(ramOffset - 2, pageStart) - pageStart;
      const to = Math.min(ramOffset + length, pageStart + 4096) - pageStart;
      for (let o = from & ~1; o < to; o += 2) d[o] = 0;
    }
  }

  private drop(p: number): void {
    const d = this.pages[p];
    if (d === undefined) return;
    d.fill(0);
    this.pages[p] = undefined;
    this.ram.pageFlags[p] &= ~1;
    for (const l of this.listeners) l(p, true);
  }

  /** Drops every cached page (e.g. on reset). */
  clear(): void {
    for (let p = 0; p < this.pages.length; p++) if (this.pages[p]) this.drop(p);
  }
}
