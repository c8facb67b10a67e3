// One hart's translation tier: counts how often each physical code page is entered, translates hot pages to
// WebAssembly (translate.ts), runs them, and drops translations whose page was written or left the code cache.
// Translations live as long as their page stays in the code cache, so their number is bounded by its size.
import { translatePage, Exit, type RegionFn, type SlowPaths } from './translate.js';
import type { JitMode } from './mode.js';
import type { CodeCache } from '../mmu/codecache.js';
import type { GuestRam } from '../machine/memory.js';
import { AREA } from '../cpu/area.js';

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
  private readonly entries: (Uint8Array | undefined)[];
  /** Entries into each page since it was last translated. */
  private readonly heat: Uint16Array;
  private readonly translations: Uint8Array;
  /** Offsets control entered each page at: the roots of its next translation. */
  private readonly roots = new Map<number, Set<number>>();
  private readonly left: Int32Array;
  private readonly imports: WebAssembly.Imports;
  private readonly memDesc: { pages: number; shared: boolean; ramBase: number };
  private readonly hot: number;
  /** How the last run() ended. */
  status: Exit = Exit.NORMAL;
  /** A translation was dropped (its page written) since this was last cleared. */
  dropped = false;
  readonly stats: JitStats = { translations: 0, live: 0, instructions: 0, bytes: 0, ms: 0, maxMs: 0, runs: 0, retired: 0 };

  constructor(private readonly ram: GuestRam, code: CodeCache, private readonly area: number, mode: JitMode, slow: SlowPaths, private readonly now: () => number = () => 0) {
    const pages = ram.size >>> 12;
    this.fns = new Array<RegionFn | undefined>(pages).fill(undefined);
    this.entries = new Array<Uint8Array | undefined>(pages).fill(undefined);
    this.heat = new Uint16Array(pages);
    this.translations = new Uint8Array(pages);
    this.hot = mode === 'all' ? 1 : HOT;
    this.left = new Int32Array(ram.memory.buffer, area + AREA.SCRATCH, 1);
    this.memDesc = { pages: ram.memory.buffer.byteLength / 65536, shared: ram.shared, ramBase: ram.base };
    this.imports = { env: { memory: ram.memory, load: slow.load, store: slow.store } };
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
    const e = this.entries[page];
    if (e === undefined || e[half] === 0) {
      if (!this.consider(page, half << 1)) return -1;
    }
    this.stats.runs++;
    this.status = this.fns[page]!(half, budget, pcLo & -4096, pcHi);
    const k = budget - this.left[0];
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
    return this.entries[page]?.[off >>> 1] === 1;
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
