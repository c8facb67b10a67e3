// One hart's translation tier: counts how often each physical code page is entered, translates hot pages to
// WebAssembly (translate.ts), runs them, and drops translations whose page was written or left the code cache.
// Translations live as long as their page stays in the code cache, so their number is bounded by its size.
import { translatePage, Exit, type RegionFn } from './translate.js';
import type { JitMode } from './mode.js';
import type { CodeCache } from '../mmu/codecache.js';
import type { GuestRam } from '../machine/memory.js';
import { AREA } from '../cpu/area.js';
import { S } from '../cpu/state.js';

/** The hart's slow paths for loads and stores that miss the TLB; they throw the hart's trap signal on a fault. */
export interface HartPaths {
  /** Loads into the state block's x0 sink slot, extended as the load op says. */
  load(vaLo: number, vaHi: number, op: number): void;
  store(vaLo: number, vaHi: number, size: number, lo: number, hi: number): void;
  /** The machine asked the hart to stop (after a store to a device, say). */
  stopped(): boolean;
  /** `e` is the hart's trap signal (its pending trap is set). */
  isTrap(e: unknown): boolean;
}

/** Thrown by a store through translated code that must not go on (code written, machine stopped). */
const LEAVE = Object.freeze({ leave: true });

/** Entries into a page (from the interpreter) after which it is translated, in mode `on`. */
const HOT = 16;
/** Translations of one page after which it is left to the interpreter (code rewritten again and again). */
const MAX_TRANSLATIONS = 64;
/** Each translation of a page doubles the entries it takes to translate it again, up to 2^BACKOFF times. */
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
  /** Calls into translated code. */
  runs: number;
  /** Instructions retired in translated code. */
  retired: number;
}

export class Jit {
  private readonly fns: (RegionFn | undefined)[];
  private readonly entries: (Uint16Array | undefined)[];
  /** Entries into each page since it was last translated. */
  private readonly heat: Uint16Array;
  private readonly translations: Uint8Array;
  /** Offsets control entered each page at: the roots of its next translation. */
  private readonly roots = new Map<number, Set<number>>();
  private readonly left: Int32Array;
  private readonly pc: Int32Array;
  /** Where the last slow path was called from (page offset | length << 12) and the budget left there. */
  private at = 0;
  private atLeft = 0;
  private readonly imports: WebAssembly.Imports;
  private readonly memDesc: { pages: number; shared: boolean; ramBase: number };
  private readonly hot: number;
  private readonly isTrap: (e: unknown) => boolean;
  /** How the last run() ended. */
  status: Exit = Exit.NORMAL;
  /** A translation was dropped (its page written) since this was last cleared. */
  dropped = false;
  readonly stats: JitStats = { translations: 0, live: 0, instructions: 0, bytes: 0, ms: 0, maxMs: 0, runs: 0, retired: 0 };

  constructor(private readonly ram: GuestRam, code: CodeCache, private readonly area: number, mode: JitMode, hart: HartPaths, private readonly now: () => number = () => 0) {
    const pages = ram.size >>> 12;
    this.fns = new Array<RegionFn | undefined>(pages).fill(undefined);
    this.entries = new Array<Uint16Array | undefined>(pages).fill(undefined);
    this.heat = new Uint16Array(pages);
    this.translations = new Uint8Array(pages);
    this.hot = mode === 'all' ? 1 : HOT;
    this.left = new Int32Array(ram.memory.buffer, area + AREA.SCRATCH, 1);
    this.memDesc = { pages: ram.memory.buffer.byteLength / 65536, shared: ram.shared, ramBase: ram.base };
    this.pc = new Int32Array(ram.memory.buffer, area + AREA.STATE + S.PC * 4, 2);
    const load = (lo: number, hi: number, op: number, at: number, left: number) => {
      this.at = at;
      this.atLeft = left;
      hart.load(lo, hi, op);
    };
    const store = (lo: number, hi: number, size: number, vLo: number, vHi: number, at: number, left: number) => {
      this.at = at;
      this.atLeft = left;
      this.dropped = false;
      hart.store(lo, hi, size, vLo, vHi);
      if (this.dropped || hart.stopped()) throw LEAVE;
    };
    this.isTrap = hart.isTrap;
    this.imports = { env: { memory: ram.memory, load, store } };
    code.listen((page, dropped) => { if (dropped) this.drop(page); });
    code.listenWrites((page) => this.drop(page));
  }

  /**
   * Runs translated code from pc (in RAM page `page`, entered `budget` instructions before the next check)
   * when the page has a translation entered there, translating it first when it has become hot. Returns the
   * instructions retired, or -1 when the interpreter should run this pc; `status` says how the run ended and
   * the state block holds the pc.
   */
  run(page: number, pcLo: number, pcHi: number, budget: number): number {
    const half = (pcLo & 0xfff) >>> 1;
    let e = this.entries[page];
    if (e === undefined || e[half] === 0) {
      if (!this.consider(page, half << 1)) return -1;
      e = this.entries[page]!;
    }
    this.stats.runs++;
    const pageLo = pcLo & -4096;
    let k: number;
    try {
      this.status = this.fns[page]!(e[half] - 1, budget, pageLo, pcHi);
      k = budget - this.left[0];
    } catch (x) {
      // a slow path left: at the faulting instruction (trap), or after a store (stale code, stop)
      const trap = this.isTrap(x);
      if (!trap && x !== LEAVE) throw x;
      const off = (this.at & 0xfff) + (trap ? 0 : this.at >>> 12);
      const sum = (pageLo >>> 0) + off;
      this.pc[0] = sum | 0;
      this.pc[1] = (pcHi + (sum >= 4294967296 ? 1 : 0)) | 0;
      k = budget - (trap ? this.atLeft : this.atLeft - 1);
      this.status = trap ? Exit.TRAP : Exit.NORMAL;
    }
    this.stats.retired += k;
    return k;
  }

  /** Counts an entry the page's translation (if any) lacks; translates when hot. True when pc is now an entry. */
  private consider(page: number, off: number): boolean {
    let r = this.roots.get(page);
    if (r === undefined) this.roots.set(page, (r = new Set()));
    r.add(off);
    const done = this.translations[page];
    if (++this.heat[page] < this.hot << Math.min(done, BACKOFF) || done >= MAX_TRANSLATIONS) return false;
    this.translate(page, r);
    return (this.entries[page]?.[off >>> 1] ?? 0) !== 0;
  }

  private translate(page: number, roots: Set<number>): void {
    const t0 = this.now();
    const t = translatePage(this.ram.u16, page << 12, roots, this.area, this.memDesc);
    this.heat[page] = 0;
    this.translations[page]++;
    if (t === null) return;
    const inst = new WebAssembly.Instance(t.module, this.imports);
    if (this.fns[page] === undefined) this.stats.live++;
    this.fns[page] = inst.exports.run as RegionFn;
    this.entries[page] = t.entries;
    const ms = this.now() - t0;
    const s = this.stats;
    s.translations++;
    s.instructions += t.instructions;
    s.bytes += t.bytes;
    s.ms += ms;
    if (ms > s.maxMs) s.maxMs = ms;
  }

  /** Forgets the translation of a RAM page (written, or no longer cached); its entry points are kept. */
  drop(page: number): void {
    if (this.fns[page] === undefined) return;
    this.fns[page] = undefined;
    this.entries[page] = undefined;
    this.stats.live--;
    this.dropped = true;
  }
}

export { Exit };
