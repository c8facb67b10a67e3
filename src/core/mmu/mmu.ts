// Address translation (Privileged Spec 4.3-4.5: Sv39, Sv48, Sv57) with a direct-mapped software TLB.
// TLB entries map a virtual page to a RAM byte offset; separate read/write/execute TLBs so each entry is
// filled only for the permission used (A/D bits stay exact). Only RAM pages that PMP grants as a whole
// are cached; everything else takes the slow path on every access.
import { S } from '../cpu/state.js';
import { CAUSE, MSTATUS, PRIV, PTE } from '../cpu/bits.js';
import { Access, Pmp } from './pmp.js';
import { AREA, TLB_ENTRIES } from '../cpu/area.js';
import type { GuestRam } from '../machine/memory.js';

export const TLB_SIZE = TLB_ENTRIES;
const TWO32 = 4294967296;
/** A tag no page-aligned address can equal, nor one masked to its page and alignment bits (jit/translate.ts
 *  compares `address & (-4096 | (size - 1))` with the tag to check page and alignment at once). */
export const TLB_INVALID = 0x800;

const PAGE_FAULT = [CAUSE.LOAD_PAGE_FAULT, CAUSE.STORE_PAGE_FAULT, CAUSE.FETCH_PAGE_FAULT];
const ACCESS_FAULT = [CAUSE.LOAD_ACCESS, CAUSE.STORE_ACCESS, CAUSE.FETCH_ACCESS];

/** User-page entries filled by S-mode with SUM set that are tracked one by one (past that, clearing SUM flushes). */
const MAX_SUM_ENTRIES = 64;

/** Walks retried after lost A/D races before the access faults instead. */
const MAX_WALK_RETRIES = 64;

/** A PTE as the signed 64-bit value BigInt64Array holds. */
function pte64(lo: number, hi: number): bigint {
  return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo >>> 0));
}

/** Raises a synchronous exception in the hart (never returns). */
export type Raise = (cause: number, tvalLo: number, tvalHi: number) => never;

export class Mmu {
  // tag (virtual page address lo/hi) and RAM byte offset of the page, per access kind: views of the hart's
  // area in the VM's memory (cpu/area.ts), which generated code checks inline
  readonly rTag: Int32Array;
  readonly rTagHi: Int32Array;
  readonly rOff: Int32Array;
  readonly wTag: Int32Array;
  readonly wTagHi: Int32Array;
  readonly wOff: Int32Array;
  readonly xTag: Int32Array;
  readonly xTagHi: Int32Array;
  readonly xOff: Int32Array;
  readonly pmp: Pmp;
  /** Effective privilege of the last translation (for the caller's PMP check). */
  lastPriv = 0;
  /** Per entry: the level of the leaf PTE it came from (0: a 4 KiB page; 1: a 2 MiB megapage; ...), for
   *  sfence.vma of one address, which must drop every 4 KiB piece of a superpage the TLB holds. */
  private readonly rLevel = new Uint8Array(TLB_SIZE);
  private readonly wLevel = new Uint8Array(TLB_SIZE);
  private readonly xLevel = new Uint8Array(TLB_SIZE);
  /** An entry may have come from a superpage since the last full flush. */
  private superpages = false;
  /** The level of the leaf the last walk ended at, and whether it was a user page. */
  private leafLevel = 0;
  private leafUser = false;
  /** Entries holding user pages that S-mode loads and stores reached with mstatus.SUM set (access * TLB_SIZE + index),
   *  or null after too many to track: clearing SUM drops just these. */
  private sumEntries: number[] | null = [];

  constructor(private readonly s: Int32Array, private readonly ram: GuestRam, area: number, private readonly raise: Raise) {
    this.pmp = new Pmp(s);
    const view = (at: number) => new Int32Array(ram.memory.buffer, area + at, TLB_SIZE);
    this.rTag = view(AREA.R_TAG); this.rTagHi = view(AREA.R_TAG_HI); this.rOff = view(AREA.R_OFF);
    this.wTag = view(AREA.W_TAG); this.wTagHi = view(AREA.W_TAG_HI); this.wOff = view(AREA.W_OFF);
    this.xTag = view(AREA.X_TAG); this.xTagHi = view(AREA.X_TAG_HI); this.xOff = view(AREA.X_OFF);
    this.flush();
  }

  /** Drops every cached translation (satp, privilege, mstatus or PMP changed; sfence.vma). */
  flush(): void {
    this.rTag.fill(TLB_INVALID);
    this.wTag.fill(TLB_INVALID);
    this.xTag.fill(TLB_INVALID);
    this.superpages = false;
    this.sumEntries = [];
  }

  /** Drops the write translations only: the next store to each page fills again (and marks the dirty log). */
  dropWrites(): void {
    this.wTag.fill(TLB_INVALID);
  }

  /**
   * mstatus.SUM was cleared: drops what S-mode could reach only with it (user pages). Linux sets SUM around
   * every copy from or to user memory; flushing the whole TLB each time it clears SUM again cost a refill of
   * the kernel's own pages. Setting SUM (or MXR) needs nothing: every cached entry was allowed without it.
   */
  dropSumEntries(): void {
    const list = this.sumEntries;
    if (list === null) {
      this.flush();
      return;
    }
    for (const k of list) {
      if (k < TLB_SIZE) this.rTag[k] = TLB_INVALID; // Access.READ * TLB_SIZE + index
      else this.wTag[k - TLB_SIZE] = TLB_INVALID;
    }
    list.length = 0;
  }

  /**
   * Drops the translations of one virtual address, for SFENCE.VMA with rs1 ≠ x0 (Privileged Spec 4.2.1): the
   * entry of its page, and every entry taken from a superpage that covers it. Linux fences one address after
   * each PTE it changes (a page fault, say): a Debian boot does ~100,000 of them, and flushing the whole TLB
   * for each cost millions of page-table walks.
   */
  flushPage(vaLo: number, vaHi: number): void {
    const e = (vaLo >>> 12) & (TLB_SIZE - 1);
    const tag = vaLo & ~0xfff;
    if (this.rTag[e] === tag && this.rTagHi[e] === vaHi) this.rTag[e] = TLB_INVALID;
    if (this.wTag[e] === tag && this.wTagHi[e] === vaHi) this.wTag[e] = TLB_INVALID;
    if (this.xTag[e] === tag && this.xTagHi[e] === vaHi) this.xTag[e] = TLB_INVALID;
    if (!this.superpages) return;
    dropCovering(this.rTag, this.rTagHi, this.rLevel, vaLo, vaHi);
    dropCovering(this.wTag, this.wTagHi, this.wLevel, vaLo, vaHi);
    dropCovering(this.xTag, this.xTagHi, this.xLevel, vaLo, vaHi);
  }

  /**
   * After a trap or xRET: drops the TLB only when the privilege fetches or data accesses run with changed
   * (entries were filled under the old one's permission checks: U pages, SUM); a trap from S to S, the
   * common case in a kernel, keeps them (issue 14: flushing on every trap cost each interrupt a TLB refill).
   */
  flushIfModeChanged(oldPriv: number, oldDataPriv: number): void {
    if (this.s[S.PRIV] !== oldPriv || this.dataPriv() !== oldDataPriv) this.flush();
  }

  /** Drops write entries that map RAM page `ramPage` (it now holds decoded code). */
  dropWritable(ramPage: number): void {
    const off = ramPage << 12;
    for (let i = 0; i < TLB_SIZE; i++) if (this.wOff[i] === off) this.wTag[i] = TLB_INVALID;
  }

  /** The privilege loads/stores run with (MPRV applies MPP to M-mode data accesses). */
  dataPriv(): number {
    const s = this.s;
    const priv = s[S.PRIV];
    if (priv === PRIV.M && s[S.MSTATUS] & MSTATUS.MPRV) return (s[S.MSTATUS] & MSTATUS.MPP) >>> MSTATUS.MPP_SHIFT;
    return priv;
  }

  /**
   * Translates a virtual address for `access`, raising page faults; fills the TLB when the page is RAM
   * and PMP grants the whole page. Returns the physical address. PMP for the exact access is the caller's
   * job (`pmp.check` with `lastPriv`). `faultAs` overrides the access kind used to pick fault causes.
   */
  translate(vaLo: number, vaHi: number, access: Access, faultAs: Access = access): number {
    const s = this.s;
    const priv = access === Access.EXEC ? s[S.PRIV] : this.dataPriv();
    this.lastPriv = priv;
    const satpHi = s[S.SATP + 1];
    const mode = satpHi >>> 28;
    let pa: number;
    let pageBase: number;
    if (priv === PRIV.M || mode === 0) {
      // bare: physical = virtual; addresses at or above 2^56 do not exist
      pa = (vaHi >>> 0) * TWO32 + (vaLo >>> 0);
      pageBase = pa - (vaLo & 0xfff);
      // no PTE: nothing a sfence.vma or clearing SUM must drop
      this.leafLevel = 0;
      this.leafUser = false;
    } else {
      const levels = mode - 5; // Sv39 = 8 → 3, Sv48 = 9 → 4, Sv57 = 10 → 5
      // bits 63 down to the top VA bit must all equal it
      const topShift = 12 + 9 * levels - 1 - 32;
      const ext = vaHi >> topShift;
      if (ext !== 0 && ext !== -1) this.raise(PAGE_FAULT[faultAs], vaLo, vaHi);
      // a walk whose A/D update lost a race with another hart's change to the PTE is taken again
      for (let tries = 0; ; tries++) {
        pageBase = this.walk(vaLo, vaHi, levels, access, faultAs, priv);
        if (pageBase >= 0) break;
        // a PTE changed in a loop by another hart: fault, and the guest's handler retries the access
        if (tries >= MAX_WALK_RETRIES) this.raise(PAGE_FAULT[faultAs], vaLo, vaHi);
      }
      pa = pageBase + (vaLo & 0xfff);
    }
    const ram = this.ram;
    // code also runs from the ROM window (a flash bank in place); data accesses there go to its device
    const off = access === Access.EXEC ? ram.codeOffset(pageBase) : pageBase - ram.base;
    // every store to RAM is translated first (a write-TLB entry needs this fill), so the touched-memory
    // account and the dirty log are kept here and nowhere on the store paths
    if (access === Access.WRITE && off >= 0 && off < ram.size) {
      if (ram.touched[off >>> 12] === 0) ram.touch(off, 1);
      else if (ram.dirty !== null) ram.dirty[off >>> 12] = 1;
    }
    if (off >= 0 && (off < ram.size || access === Access.EXEC) && this.pmp.check(pageBase, 4096, access, priv)) {
      const e = (vaLo >>> 12) & (TLB_SIZE - 1);
      const tag = vaLo & ~0xfff;
      const level = this.leafLevel;
      if (level > 0) this.superpages = true;
      if (priv === PRIV.S && this.leafUser && this.sumEntries !== null) {
        if (this.sumEntries.length >= MAX_SUM_ENTRIES) this.sumEntries = null;
        else this.sumEntries.push(access * TLB_SIZE + e);
      }
      if (access === Access.READ) {
        this.rTag[e] = tag; this.rTagHi[e] = vaHi; this.rOff[e] = off; this.rLevel[e] = level;
      } else if (access === Access.WRITE) {
        if (ram.pageFlags[off >>> 12] === 0) {
          this.wTag[e] = tag; this.wTagHi[e] = vaHi; this.wOff[e] = off; this.wLevel[e] = level;
        }
      } else {
        this.xTag[e] = tag; this.xTagHi[e] = vaHi; this.xOff[e] = off; this.xLevel[e] = level;
      }
    }
    return pa;
  }

  /**
   * Walks the page table; returns the physical page address (Privileged Spec 4.3.2), or -1 when another
   * hart changed the leaf PTE before its A/D bits could be set (walk again).
   */
  private walk(vaLo: number, vaHi: number, levels: number, access: Access, faultAs: Access, priv: number): number {
    const s = this.s;
    const ram = this.ram;
    const i32 = ram.i32;
    const fault = (): never => this.raise(PAGE_FAULT[faultAs], vaLo, vaHi);
    let table = ((s[S.SATP + 1] & 0xfff) * TWO32 + (s[S.SATP] >>> 0)) * 4096;
    for (let level = levels - 1; level >= 0; level--) {
      const shift = 12 + 9 * level;
      let vpn: number;
      if (shift >= 32) vpn = (vaHi >>> (shift - 32)) & 0x1ff;
      else if (shift + 9 <= 32) vpn = (vaLo >>> shift) & 0x1ff;
      else vpn = ((vaLo >>> shift) | (vaHi << (32 - shift))) & 0x1ff;
      const pteAddr = table + vpn * 8;
      const pteOff = pteAddr - ram.base;
      if (pteOff < 0 || pteOff + 8 > ram.size || !this.pmp.check(pteAddr, 8, Access.READ, PRIV.S)) {
        this.raise(ACCESS_FAULT[faultAs], vaLo, vaHi);
      }
      const lo = i32[pteOff >>> 2];
      const hi = i32[(pteOff >>> 2) + 1];
      if ((lo & PTE.V) === 0 || (lo & (PTE.R | PTE.W)) === PTE.W) fault();
      if (hi >>> 22 !== 0) fault(); // bits 63:54 reserved (no Svnapot / Svpbmt)
      const ppnLo = (lo >>> 10) | (hi << 22);
      const ppnHi = (hi >>> 10) & 0xfff;
      if ((lo & (PTE.R | PTE.X)) === 0) {
        // pointer to the next level
        if (level === 0 || lo & (PTE.A | PTE.D | PTE.U)) fault();
        table = (ppnHi * TWO32 + (ppnLo >>> 0)) * 4096;
        continue;
      }
      // leaf: permissions
      if (access === Access.EXEC) {
        if ((lo & PTE.X) === 0) fault();
      } else if (access === Access.READ) {
        if ((lo & PTE.R) === 0 && !((s[S.MSTATUS] & MSTATUS.MXR) && lo & PTE.X)) fault();
      } else if ((lo & PTE.W) === 0) fault();
      if (priv === PRIV.U) {
        if ((lo & PTE.U) === 0) fault();
      } else if (lo & PTE.U) {
        if (access === Access.EXEC || (s[S.MSTATUS] & MSTATUS.SUM) === 0) fault();
      }
      // superpages must be aligned
      const lowBits = 9 * level;
      if (lowBits > 0) {
        if (lowBits <= 31) {
          if ((ppnLo & ((1 << lowBits) - 1)) !== 0) fault();
        } else if (ppnLo !== 0 || (ppnHi & ((1 << (lowBits - 32)) - 1)) !== 0) fault();
      }
      // Hardware A/D update, atomic with respect to other accesses to the PTE (Privileged Spec 4.3.1): with
      // harts in other threads, the PTE may have changed since it was read (another CPU unmapped the page);
      // a plain store would bring the old PTE back, so compare-and-exchange and walk again when it fails.
      const want = PTE.A | (access === Access.WRITE ? PTE.D : 0);
      if ((lo & want) !== want) {
        if (!this.pmp.check(pteAddr, 8, Access.WRITE, PRIV.S)) this.raise(ACCESS_FAULT[faultAs], vaLo, vaHi);
        const old = pte64(lo, hi);
        if (Atomics.compareExchange(ram.i64, pteOff >>> 3, old, pte64(lo | want, hi)) !== old) return -1;
        ram.noteWrite(pteOff, 8);
      }
      // physical page = PPN with the low levels taken from the VA
      let low = 0;
      if (lowBits > 0 && lowBits <= 20) low = (vaLo >>> 12) & ((1 << lowBits) - 1); // megapages, gigapages
      else if (lowBits > 0) {
        const vpage = (vaHi >>> 0) * 1048576 + (vaLo >>> 12); // VA >> 12 (exact below 2^53)
        low = vpage % 2 ** lowBits;
      }
      const ppn = ppnHi * TWO32 + (ppnLo >>> 0) + low;
      this.leafLevel = level;
      this.leafUser = (lo & PTE.U) !== 0;
      return ppn * 4096;
    }
    return fault();
  }
}

/** Drops the entries of one TLB array taken from a superpage that covers (vaLo, vaHi). */
function dropCovering(tag: Int32Array, tagHi: Int32Array, level: Uint8Array, vaLo: number, vaHi: number): void {
  for (let i = 0; i < TLB_SIZE; i++) {
    const l = level[i];
    if (l === 0 || tag[i] === TLB_INVALID) continue;
    // the superpage spans 2^(12 + 9l) bytes: compare the address bits above that
    const bits = 12 + 9 * l;
    const loMask = bits >= 32 ? 0 : -1 << bits;
    const hiMask = bits <= 32 ? -1 : -1 << (bits - 32);
    if (((tag[i] ^ vaLo) & loMask) === 0 && ((tagHi[i] ^ vaHi) & hiMask) === 0) tag[i] = TLB_INVALID;
  }
}

export { Access };
