// One hart's translation tier: counts how often each physical code page is entered, translates hot pages to
// WebAssembly (translate.ts), runs them, and drops translations whose page was written or left the code cache.
// Translations live as long as their page stays in the code cache, so their number is bounded by its size.
import { translatePage, Exit } from './translate.js';
import { encodeTrampoline } from './chain.js';
import type { JitMode } from './mode.js';
import type { CodeCache } from '../mmu/codecache.js';
import type { GuestRam } from '../machine/memory.js';
import { AREA, JIT_SLOTS, TLB_ENTRIES } from '../cpu/area.js';
import { S } from '../cpu/state.js';

/** What translated code asks of its hart: slow paths for accesses that miss the TLB (they throw the hart's trap
 *  signal on a fault), SFENCE.VMA, and what the translator must know. */
export interface HartPaths {
  /** Loads into the state block's x0 sink slot, extended as the load op says. */
  load(vaLo: number, vaHi: number, op: number): void;
  store(vaLo: number, vaHi: number, size: number, lo: number, hi: number): void;
  /** Runs an LR, SC or AMO (`op`: op | doubleword << 9 | rd's slot << 10) with rs2 = (lo, hi), writing rd. */
  atomic(vaLo: number, vaHi: number, lo: number, hi: number, op: number): void;
  /** The machine asked the hart to stop (after a store to a device, say). */
  stopped(): boolean;
  /** SFENCE.VMA of one address or of all; false, doing nothing, when the privilege may not. */
  sfence(vaLo: number, vaHi: number, all: boolean): boolean;
  /** `e` is the hart's trap signal (its pending trap is set). */
  isTrap(e: unknown): boolean;
  /** FENCE.I needs nothing done: no harts in other threads (see Hart.onFenceI). */
  localFenceI(): boolean;
}

/** Thrown by a store through translated code that must not go on (code written, machine stopped). */
const LEAVE = Object.freeze({ leave: true });

/**
 * Instructions the interpreter runs in a page before it is translated, in mode `on`. Translating a page (about
 * 1 ms to generate and validate its wasm, then the engine's compile at its first call) costs about as much as
 * interpreting a few hundred thousand instructions, so code that runs less is left to the interpreter. On a
 * Debian boot (farm-bench, 6 pairs each): 200,000 took 0.93x the wall time of 100,000, and 400,000 1.08x that
 * of 200,000; 30,000 and 50,000 translated 540 and 419 pages instead of 307 and were slower still.
 */
const HOT = 200_000;
/** Translations of one page after which it is left to the interpreter (code rewritten again and again). */
const MAX_TRANSLATIONS = 64;
/** Instructions interpreted in a translated page (outside its blocks) before it is translated again, at least;
 *  each translation doubles it, up to 2^BACKOFF times. */
const RETRANSLATE = 4096;
const BACKOFF = 6;

export interface JitStats {
  /** Pages translated (a page translated again with more entry points counts again). */
  translations: number;
  /** Translated pages now live. */
  live: number;
  instructions: number;
  /** Bytes of WebAssembly generated, in total. */
  bytes: number;
  /** Time spent translating and compiling, in total (ms). */
  ms: number;
  /** Longest single translation (ms). */
  maxMs: number;
  /** Calls of translated pages' functions. */
  runs: number;
  /** Of those, calls from JavaScript (the others came from the previous page's, through the trampoline). */
  entered: number;
  /** Instructions retired in translated code. */
  retired: number;
  /** Translations dropped because their page was written. */
  written: number;
  /** Translations dropped because their page left the code cache (evicted, trimmed, written all over). */
  uncached: number;
  /** Pages translated MAX_TRANSLATIONS times, left to the interpreter from then on. */
  givenUp: number;
  /** Hot pages left to the interpreter because every table slot held a translation. */
  noSlot: number;
}

export class Jit {
  /** Each RAM page's slot in the table of translated functions (-1: none). */
  private readonly slotOf: Int32Array;
  /** Translated functions, called through the trampoline. */
  private readonly table: WebAssembly.Table;
  private readonly enter: (slot: number, entry: number, budget: number, pageLo: number, pageHi: number) => number;
  /** Table slots whose page was dropped. */
  private readonly freeSlots: number[] = [];
  private readonly entries: (Uint8Array | undefined)[];
  /** Instructions interpreted in each page since it was last translated. */
  private readonly heat: Float64Array;
  /** The page of the last lookup: the instructions interpreted since then ran there. */
  private lastPage = -1;
  private readonly translations: Uint8Array;
  /** Per RAM page, the halfword offsets control entered it at (a bit each): the roots of its next translation. */
  private readonly roots: (Uint32Array | undefined)[];
  private readonly left: Int32Array;
  private readonly pc: Int32Array;
  /** The page the trampoline last ran (virtual address lo, hi) and its count of page-to-page calls. */
  private readonly running: Int32Array;
  private readonly hops: Int32Array;
  /** Per execute-TLB entry: the table slot + 1 of its RAM page's translation, and the RAM offset it is for. */
  private readonly xSlot: Int32Array;
  private readonly xSlotOff: Int32Array;
  /** Per table slot: its translation ran from the trampoline since the code cache last asked. */
  private readonly used: Uint8Array;
  /** Where the last slow path was called from (page offset | length << 12) and the budget left there. */
  private at = 0;
  private atLeft = 0;
  private readonly imports: WebAssembly.Imports;
  private readonly memDesc: { pages: number; shared: boolean; ramBase: number };
  private readonly hot: number;
  private readonly isTrap: (e: unknown) => boolean;
  private readonly stopped: () => boolean;
  /** The hart's execute TLB (cpu/area.ts), to follow an exit to the next translated page. */
  private readonly xTag: Int32Array;
  private readonly xTagHi: Int32Array;
  private readonly xOff: Int32Array;
  /** How the last run() ended. */
  status: Exit = Exit.NORMAL;
  /** A translation was dropped (its page written) since this was last cleared. */
  dropped = false;
  readonly stats: JitStats = { translations: 0, live: 0, instructions: 0, bytes: 0, ms: 0, maxMs: 0, runs: 0, entered: 0, retired: 0, written: 0, uncached: 0, givenUp: 0, noSlot: 0 };

  constructor(private readonly ram: GuestRam, private readonly code: CodeCache, private readonly area: number, mode: JitMode, private readonly hart: HartPaths, private readonly now: () => number = () => 0) {
    const pages = ram.codeSize >>> 12; // RAM and the ROM window (GuestRam.codeOffset)
    this.slotOf = new Int32Array(pages).fill(-1);
    this.table = new WebAssembly.Table({ element: 'anyfunc', initial: 0 });
    this.memDesc = { pages: ram.memory.buffer.byteLength / 65536, shared: ram.shared, ramBase: ram.base };
    const trampoline = new WebAssembly.Instance(new WebAssembly.Module(encodeTrampoline(area, this.memDesc)), {
      env: { table: this.table, memory: ram.memory },
    });
    this.enter = trampoline.exports.run as Jit['enter'];
    this.entries = new Array<Uint8Array | undefined>(pages).fill(undefined);
    this.heat = new Float64Array(pages);
    this.roots = new Array<Uint32Array | undefined>(pages).fill(undefined);
    this.translations = new Uint8Array(pages);
    this.hot = mode === 'all' ? 0 : HOT;
    this.left = new Int32Array(ram.memory.buffer, area + AREA.SCRATCH, 1);
    this.running = new Int32Array(ram.memory.buffer, area + AREA.JIT_PAGE, 2);
    this.hops = new Int32Array(ram.memory.buffer, area + AREA.JIT_HOPS, 1);
    this.used = new Uint8Array(ram.memory.buffer, area + AREA.JIT_USED, JIT_SLOTS);
    this.pc = new Int32Array(ram.memory.buffer, area + AREA.STATE + S.PC * 4, 2);
    // slow paths note where they were called from (a trap resumes there); after a store, translated code
    // must not go on when the store made it stale or stopped the machine
    const from = (at: number, left: number) => {
      this.at = at;
      this.atLeft = left;
      this.dropped = false;
    };
    const afterStore = () => {
      if (this.dropped || hart.stopped()) throw LEAVE;
    };
    const load = (lo: number, hi: number, op: number, at: number, left: number) => {
      from(at, left);
      hart.load(lo, hi, op);
    };
    const store = (lo: number, hi: number, size: number, vLo: number, vHi: number, at: number, left: number) => {
      from(at, left);
      hart.store(lo, hi, size, vLo, vHi);
      afterStore();
    };
    const atomic = (lo: number, hi: number, vLo: number, vHi: number, op: number, at: number, left: number) => {
      from(at, left);
      hart.atomic(lo, hi, vLo, vHi, op);
      afterStore();
    };
    this.isTrap = hart.isTrap;
    this.stopped = hart.stopped;
    const view = (at: number) => new Int32Array(ram.memory.buffer, area + at, TLB_ENTRIES);
    this.xTag = view(AREA.X_TAG);
    this.xTagHi = view(AREA.X_TAG_HI);
    this.xOff = view(AREA.X_OFF);
    this.xSlot = view(AREA.X_SLOT);
    this.xSlotOff = view(AREA.X_SLOT_OFF);
    this.xSlot.fill(0);
    const sfence = (lo: number, hi: number, all: number) => (hart.sfence(lo, hi, all !== 0) ? 1 : 0);
    this.imports = { env: { memory: ram.memory, load, store, atomic, sfence } };
    code.listen((page, dropped) => {
      if (dropped && this.drop(page)) this.stats.uncached++;
    });
    code.listenWrites((page) => {
      if (this.drop(page)) this.stats.written++;
    });
    code.listenKeep((page) => this.keep(page));
  }

  /**
   * Runs translated code from pc (in RAM page `page`, entered `budget` instructions before the next check)
   * when the page has a translation entered there, translating it first when it has become hot. `interpreted`
   * is how many instructions the interpreter ran since the last call (in the page of that call). Returns the
   * instructions retired, or -1 when the interpreter should run this pc; `status` says how the run ended and
   * the state block holds the pc.
   */
  run(page: number, pcLo: number, pcHi: number, budget: number, interpreted: number): number {
    if (this.lastPage >= 0) this.heat[this.lastPage] += interpreted;
    this.lastPage = page;
    let half = (pcLo & 0xfff) >>> 1;
    let e = this.entries[page];
    if (e === undefined || e[half] === 0) {
      if (!this.consider(page, half << 1)) return -1;
      e = this.entries[page]!;
    }
    // run page after page while each exit lands on an entry of another translation (a call, a return, a jump
    // to the next page): the trampoline follows those it knows of, this loop links the others for next time
    let k = 0;
    for (;;) {
      this.link(pcLo, page);
      const done = this.runOne(page, half, budget - k, pcLo & -4096, pcHi);
      k += done;
      // no progress: it left at its first instruction for the interpreter to run (an atomic that missed the TLB)
      if (done === 0 || this.status !== Exit.NORMAL || k >= budget || this.stopped()) break;
      pcLo = this.pc[0];
      pcHi = this.pc[1];
      const x = (pcLo >>> 12) & (TLB_ENTRIES - 1);
      if (this.xTag[x] !== (pcLo & -4096) || this.xTagHi[x] !== pcHi) break;
      page = this.xOff[x] >>> 12;
      half = (pcLo & 0xfff) >>> 1;
      e = this.entries[page];
      if (e === undefined || e[half] === 0) break;
      // fetched from: the code cache keeps pages in use. (A method call: a closure per tier would be a call
      // target V8 specializes for the first tier it meets, the warm-up's, and deoptimizes for the next.)
      this.code.page(page);
      this.lastPage = page;
    }
    this.stats.retired += k;
    return k;
  }

  /** Runs translated code from halfword `entry` of a page; returns the instructions retired. */
  private runOne(page: number, entry: number, budget: number, pageLo: number, pcHi: number): number {
    this.stats.runs++;
    this.stats.entered++;
    try {
      this.status = this.enter(this.slotOf[page], entry, budget, pageLo, pcHi);
      return budget - this.left[0];
    } catch (x) {
      // a slow path left: at the faulting instruction (trap), or after a store (stale code, stop)
      const trap = this.isTrap(x);
      if (!trap && x !== LEAVE) throw x;
      const off = (this.at & 0xfff) + (trap ? 0 : this.at >>> 12);
      const sum = (this.running[0] >>> 0) + off;
      this.pc[0] = sum | 0;
      this.pc[1] = (this.running[1] + (sum >= 4294967296 ? 1 : 0)) | 0;
      this.status = trap ? Exit.TRAP : Exit.NORMAL;
      return budget - (trap ? this.atLeft : this.atLeft - 1);
    } finally {
      const h = this.hops[0];
      if (h !== 0) {
        this.stats.runs += h;
        this.hops[0] = 0;
      }
    }
  }

  /** Tells the trampoline the translation of RAM page `page`, which the execute TLB maps pc's page to. */
  private link(pcLo: number, page: number): void {
    const x = (pcLo >>> 12) & (TLB_ENTRIES - 1);
    const off = this.xOff[x];
    if (off >>> 12 !== page) return;
    this.xSlot[x] = this.slotOf[page] + 1;
    this.xSlotOff[x] = off;
  }

  /** Whether the code cache should keep a page it would evict: its translation ran from the trampoline. */
  private keep(page: number): boolean {
    const slot = this.slotOf[page];
    if (slot < 0 || this.used[slot] === 0) return false;
    this.used[slot] = 0;
    return true;
  }

  /** Counts an entry the page's translation (if any) lacks; translates when hot. True when pc is now an entry. */
  private consider(page: number, off: number): boolean {
    let r = this.roots[page];
    if (r === undefined) this.roots[page] = r = new Uint32Array(64);
    r[off >>> 6] |= 1 << ((off >>> 1) & 31);
    const done = this.translations[page];
    // a page translated before needs more and more work done outside its blocks before it is translated again
    const need = done === 0 ? this.hot : Math.max(this.hot, RETRANSLATE) << Math.min(done - 1, BACKOFF);
    if (this.heat[page] < need || done >= MAX_TRANSLATIONS) return false;
    this.translate(page, offsetsOf(r));
    return (this.entries[page]?.[off >>> 1] ?? 0) !== 0;
  }

  private translate(page: number, roots: number[]): void {
    // as many translations alive as the area has room for: the page stays with the interpreter
    if (this.slotOf[page] < 0 && this.freeSlots.length === 0 && this.table.length >= JIT_SLOTS) {
      this.stats.noSlot++;
      return;
    }
    const t0 = this.now();
    const t = translatePage(this.ram.code16, page << 12, roots, this.area, this.memDesc, { localFenceI: this.hart.localFenceI() });
    this.heat[page] = 0;
    if (++this.translations[page] === MAX_TRANSLATIONS) this.stats.givenUp++;
    if (t === null) return;
    let slot = this.slotOf[page];
    if (slot < 0) {
      slot = this.freeSlots.pop() ?? this.table.grow(1);
      this.slotOf[page] = slot;
      this.stats.live++;
    }
    const inst = new WebAssembly.Instance(t.module, this.imports);
    this.table.set(slot, inst.exports.run as WebAssembly.ExportValue);
    this.entries[page] = t.entries;
    this.used[slot] = 0;
    // execute-TLB entries already mapping the page lead to it from now on
    for (let x = 0; x < TLB_ENTRIES; x++) {
      if (this.xOff[x] >>> 12 === page) {
        this.xSlot[x] = slot + 1;
        this.xSlotOff[x] = this.xOff[x];
      }
    }
    const ms = this.now() - t0;
    const s = this.stats;
    s.translations++;
    s.instructions += t.instructions;
    s.bytes += t.bytes;
    s.ms += ms;
    if (ms > s.maxMs) s.maxMs = ms;
  }

  /** Forgets the translation of a RAM page (written, or no longer cached); its entry points are kept. True when
   *  there was one. */
  drop(page: number): boolean {
    const slot = this.slotOf[page];
    if (slot < 0) return false;
    // the trampoline must never call the slot again for this page (it may soon hold another)
    for (let x = 0; x < TLB_ENTRIES; x++) if (this.xSlot[x] === slot + 1) this.xSlot[x] = 0;
    this.table.set(slot, null);
    this.freeSlots.push(slot);
    this.slotOf[page] = -1;
    this.entries[page] = undefined;
    this.stats.live--;
    this.dropped = true;
    return true;
  }
}

/** The page offsets whose bits are set in a page's root bitmap. */
function offsetsOf(bits: Uint32Array): number[] {
  const out: number[] = [];
  for (let w = 0; w < bits.length; w++) {
    for (let v = bits[w]; v !== 0; v &= v - 1) out.push((w * 32 + 31 - Math.clz32(v & -v)) * 2);
  }
  return out;
}

export { Exit };
