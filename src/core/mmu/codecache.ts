// Decoded-instruction cache per physical RAM page: 2048 halfword slots × (packed op word, immediate).
// Stores into a cached page (from any hart or by DMA) clear the affected slots, so self-modifying code and
// loaders need no explicit flush. A page written to repeatedly is dropped so data pages stay fast.
// The cache holds at most `maxPages` pages (16 KiB each): past that, a clock sweep takes the array of a page
// not fetched from since the hand last passed it. A Linux boot runs code from ~1,400 pages, its working set
// at any time is far smaller, and an idle guest needs a few dozen; without a bound every VM would keep
// ~22 MiB of decoded pages it no longer runs.
import type { GuestRam } from '../machine/memory.js';
import { JIT_SLOTS } from '../cpu/area.js';

/** Int32 slots per page: 2048 halfword positions × 2. */
export const DECODE_SLOTS = 4096;
/** Invalidating writes after which a page's cache is dropped. */
const DROP_AFTER = 256;
/**
 * The default bound on cached pages: one per 128 pages of guest RAM, from 512 (8 MiB of decode arrays, what a
 * busybox Linux boot needs to run no slower than unbounded) to 4096. A page that leaves the cache loses its
 * translation, and a full Debian system's working set (systemd, perl, dpkg, the kernel) is some 2,000 pages:
 * with 512 the clock evicted translated pages all the time (4,613 translations dropped in a boot and a few
 * commands, the interpreter running 25% of the instructions); a 1 GiB guest gets 2048 (its boot to a shell
 * took 76 s instead of 125 s, a perl scan 4.4 s instead of 5.6 s; the interpreter's share fell to 3.4%).
 */
export function defaultMaxPages(ramBytes: number): number {
  // at most one page per JIT table slot: every cached page can keep a translation
  return Math.min(JIT_SLOTS, Math.max(512, Math.floor(ramBytes / 4096 / 128)));
}

export class CodeCache {
  private readonly writes: Uint16Array;
  /** Notified when a page becomes code (harts drop write-TLB entries) or a cache is dropped. */
  private listeners: ((ramPage: number, dropped: boolean) => void)[] = [];
  /** Notified when a write lands in a cached page (translations of it are stale). */
  private writeListeners: ((ramPage: number) => void)[] = [];
  /** Asked before a page not fetched from lately is evicted: true when it ran by other means (translated code). */
  private keepers: ((ramPage: number) => boolean)[] = [];
  /** Fetched from since the clock hand last passed (one byte per RAM page). */
  private readonly referenced: Uint8Array;
  /** The clock's ring: a RAM page per slot (-1: free). */
  private readonly ring: Int32Array;
  /** Each RAM page's slot in the ring plus one (0: not cached). */
  private readonly slotOf: Uint16Array;
  /** The decode array of each slot's page. */
  private readonly arrays: (Int32Array | undefined)[];
  private hand = 0;
  /** Arrays of dropped pages, zeroed, for the next pages to be cached (never more than the ring has slots). */
  private readonly spare: Int32Array[] = [];
  /** Pages given to the cache since it was made, and how many were evicted to make room (for tests and stats). */
  loads = 0;
  evictions = 0;

  constructor(private readonly ram: GuestRam, readonly maxPages = defaultMaxPages(ram.size)) {
    if (!Number.isInteger(maxPages) || maxPages < 2 || maxPages > 65535) {
      throw new Error(`code cache: maxPages must be an integer from 2 to 65535, got ${maxPages}`);
    }
    // pages of code memory: RAM and the ROM window after it (GuestRam.codeOffset)
    this.writes = new Uint16Array(ram.codeSize >>> 12);
    this.referenced = new Uint8Array(ram.codeSize >>> 12);
    this.ring = new Int32Array(maxPages).fill(-1);
    this.slotOf = new Uint16Array(ram.codeSize >>> 12);
    this.arrays = new Array<Int32Array | undefined>(maxPages).fill(undefined);
    ram.onCodeWrite = (off, len) => this.invalidate(off, len);
  }

  /** Pages cached now. */
  get size(): number {
    let n = 0;
    for (let i = 0; i < this.ring.length; i++) if (this.ring[i] >= 0) n++;
    return n;
  }

  listen(fn: (ramPage: number, dropped: boolean) => void): void {
    this.listeners.push(fn);
  }

  /** Asks `fn` before evicting a page not fetched from since the clock hand last passed; true keeps it a turn. */
  listenKeep(fn: (ramPage: number) => boolean): void {
    this.keepers.push(fn);
  }

  /** Calls `fn` with the RAM page of every write into a cached page. */
  listenWrites(fn: (ramPage: number) => void): void {
    this.writeListeners.push(fn);
  }

  /**
   * The decode array of a RAM page (by RAM byte offset >>> 12), created on first use. Making room may evict
   * another page; callers hold only the array of the page they asked for last.
   */
  page(ramPage: number): Int32Array {
    const s = this.slotOf[ramPage];
    if (s !== 0) {
      this.referenced[ramPage] = 1;
      return this.arrays[s - 1]!;
    }
    const d = this.makeRoom();
    this.ring[this.hand] = ramPage;
    this.slotOf[ramPage] = this.hand + 1;
    this.arrays[this.hand] = d;
    this.hand = (this.hand + 1) % this.ring.length;
    this.referenced[ramPage] = 1;
    this.writes[ramPage] = 0;
    this.loads++;
    this.ram.pageFlags[ramPage] |= 1;
    for (const l of this.listeners) l(ramPage, false);
    return d;
  }

  /** Moves the hand to a slot that can take a page and returns a zeroed array for it. */
  private makeRoom(): Int32Array {
    const ring = this.ring;
    // at most two turns: the first clears every reference bit it passes
    for (let step = 0; ; step++) {
      const p = ring[this.hand];
      if (p < 0) return this.spare.pop() ?? new Int32Array(DECODE_SLOTS);
      if ((this.referenced[p] === 0 && !this.kept(p)) || step >= 2 * ring.length) {
        this.evictions++;
        return this.release(p);
      }
      this.referenced[p] = 0;
      this.hand = (this.hand + 1) % ring.length;
    }
  }

  /** Whether a keeper vouches for the page; every keeper is asked, as each clears its own mark when asked. */
  private kept(ramPage: number): boolean {
    let keep = false;
    for (const k of this.keepers) if (k(ramPage)) keep = true;
    return keep;
  }

  /** Clears decoded slots overlapping [ramOffset, ramOffset+length). */
  invalidate(ramOffset: number, length: number): void {
    const first = ramOffset >>> 12;
    const last = (ramOffset + length - 1) >>> 12;
    for (let p = first; p <= last; p++) {
      const s = this.slotOf[p];
      if (s === 0) continue;
      const d = this.arrays[s - 1]!;
      for (const l of this.writeListeners) l(p);
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

  /** Drops a page's cache, keeping its array as a spare. */
  private drop(p: number): void {
    if (this.slotOf[p] !== 0) this.spare.push(this.release(p));
  }

  /** Takes a cached page out of the cache (its slot freed, listeners told) and returns its array, zeroed. */
  private release(p: number): Int32Array {
    const s = this.slotOf[p] - 1;
    const d = this.arrays[s]!;
    d.fill(0);
    this.arrays[s] = undefined;
    this.ring[s] = -1;
    this.slotOf[p] = 0;
    this.referenced[p] = 0;
    this.ram.pageFlags[p] &= ~1;
    for (const l of this.listeners) l(p, true);
    return d;
  }

  /**
   * Drops the pages not fetched from since the last trim (or since the hand passed them), and lets go of the
   * spare arrays: what an idle VM keeps is what it runs. Returns the pages dropped.
   */
  trim(): number {
    let n = 0;
    for (let i = 0; i < this.ring.length; i++) {
      const p = this.ring[i];
      if (p < 0) continue;
      if (this.referenced[p]) this.referenced[p] = 0;
      else {
        this.drop(p);
        n++;
      }
    }
    this.spare.length = 0;
    return n;
  }

  /** Drops every cached page (e.g. on reset). */
  clear(): void {
    for (let i = 0; i < this.ring.length; i++) if (this.ring[i] >= 0) this.drop(this.ring[i]);
  }
}
