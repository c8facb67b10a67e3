// RISC-V Platform-Level Interrupt Controller (riscv-plic spec 1.0.0) with QEMU virt's register layout:
// level-triggered gateways (edge-triggered for sources that ask), 3-bit priorities, per-context enables,
// thresholds and claim/complete.
import type { Device, IrqLine } from './bus.js';
import { RecordReader } from '../snapshot/state.js';

export const PLIC_BASE = 0x0c00_0000;

// Register windows (offsets from the PLIC base), as in spec chapter "Memory Map".
const PRIORITY_BASE = 0x00_0000; // 4 bytes per source
const PENDING_BASE = 0x00_1000; // 1 bit per source, 32 sources per word
const ENABLE_BASE = 0x00_2000; // 0x80 bytes per context
const ENABLE_STRIDE = 0x80;
const CONTEXT_BASE = 0x20_0000; // threshold at +0, claim/complete at +4
const CONTEXT_STRIDE = 0x1000;
/** Priorities and thresholds are WARL with 3 bits (0..7), as QEMU virt's PLIC. */
const PRIORITY_MASK = 7;

/**
 * Size of the PLIC window for `contexts` contexts: the end of the last context's threshold/claim page,
 * i.e. 0x200000 + 0x1000 * contexts (QEMU's VIRT_PLIC_SIZE formula). QEMU virt always sizes the window
 * for its maximum of 1024 contexts (512 harts), which gives 0x600000; `plicSize(1024)` reproduces that.
 */
export function plicSize(contexts: number): number {
  return CONTEXT_BASE + CONTEXT_STRIDE * contexts;
}

/** Context numbering of QEMU virt: hart h has an M-mode context 2h and an S-mode context 2h+1. */
export function plicContext(hart: number, mode: 'M' | 'S'): number {
  return 2 * hart + (mode === 'S' ? 1 : 0);
}

export interface PlicOptions {
  /** Number of interrupt ids including the nonexistent id 0 (QEMU virt: 96, i.e. sources 1..95). */
  sources: number;
  /** Number of contexts (QEMU virt: 2 per hart). */
  contexts: number;
  /** Called when a context's interrupt output (MEIP/SEIP of its hart) changes. */
  onContext: (context: number, level: boolean) => void;
}

/** A PLIC's saved state (save/restore): its registers, with bitmaps as 32-bit words. */
export interface PlicState {
  version: 1;
  priority: number[];
  level: number[];
  pending: number[];
  inService: number[];
  enable: number[];
  threshold: number[];
}

export class Plic implements Device {
  readonly sources: number;
  readonly contexts: number;
  private readonly onContext: (context: number, level: boolean) => void;
  /** Number of 32-bit words in a source bitmap. */
  private readonly words: number;
  private readonly priority: Uint8Array;
  /**
   * Gateway input: the current level of each level-triggered source's line; for an edge-triggered source,
   * an edge that came while the source was in service (forwarded at its completion).
   */
  private readonly level: Uint32Array;
  /** Sources whose gateway is edge-triggered (irq(source, 'edge')). */
  private readonly edge: Uint32Array;
  /** Interrupt pending bits of the PLIC core. */
  private readonly pending: Uint32Array;
  /** Claimed and not yet completed: the gateway forwards no new request for these. */
  private readonly inService: Uint32Array;
  /** Enable bits, `words` words per context. */
  private readonly enable: Uint32Array;
  private readonly threshold: Uint8Array;
  /** Last value reported to onContext, per context. */
  private readonly output: Uint8Array;

  constructor(opts: PlicOptions) {
    const { sources, contexts } = opts;
    if (!Number.isInteger(sources) || sources < 2 || sources > 1024) {
      throw new RangeError(`PLIC sources must be 2..1024 (ids including 0), got ${sources}`);
    }
    if (!Number.isInteger(contexts) || contexts < 1 || contexts > 15872) {
      throw new RangeError(`PLIC contexts must be 1..15872, got ${contexts}`);
    }
    this.sources = sources;
    this.contexts = contexts;
    this.onContext = opts.onContext;
    this.words = (sources + 31) >>> 5;
    this.priority = new Uint8Array(sources);
    this.level = new Uint32Array(this.words);
    this.edge = new Uint32Array(this.words);
    this.pending = new Uint32Array(this.words);
    this.inService = new Uint32Array(this.words);
    this.enable = new Uint32Array(this.words * contexts);
    this.threshold = new Uint8Array(contexts);
    this.output = new Uint8Array(contexts);
  }

  /** Number of real sources (the devicetree's riscv,ndev). */
  get ndev(): number {
    return this.sources - 1;
  }

  /**
   * The input line of `source` (1..sources-1). Level-triggered (the default): high means the device requests
   * service, and a line still high when the handler completes raises a new request. Edge-triggered: each
   * set(true) is one request (an edge), set(false) means nothing; an edge while the source is in service is
   * kept and forwarded at completion (the spec's edge gateway, one request deep), and a completion raises
   * nothing else. The spec leaves each source's trigger type to the platform.
   */
  irq(source: number, trigger: 'level' | 'edge' = 'level'): IrqLine {
    if (!Number.isInteger(source) || source < 1 || source >= this.sources) {
      throw new RangeError(`PLIC source ${source} out of range 1..${this.sources - 1}`);
    }
    const w = source >>> 5;
    const bit = 1 << (source & 31);
    if (trigger === 'edge') this.edge[w] |= bit;
    else this.edge[w] &= ~bit;
    return { set: (level: boolean) => this.setLevel(source, level) };
  }

  /** Whether a context's output is asserted (what onContext last reported). */
  asserted(context: number): boolean {
    return this.output[context] === 1;
  }

  reset(): void {
    this.priority.fill(0);
    this.inService.fill(0);
    this.enable.fill(0);
    this.threshold.fill(0);
    // The input wires keep their level across a reset: a source that is still high is forwarded again (and
    // an edge kept for a source in service now, which is no longer)
    this.pending.set(this.level);
    for (let w = 0; w < this.words; w++) this.level[w] &= ~this.edge[w];
    this.update();
  }

  /** The PLIC's state: priorities, gateway levels, pending and in-service bits, enables and thresholds. */
  save(): PlicState {
    return {
      version: 1,
      priority: Array.from(this.priority),
      level: Array.from(this.level),
      pending: Array.from(this.pending),
      inService: Array.from(this.inService),
      enable: Array.from(this.enable),
      threshold: Array.from(this.threshold),
    };
  }

  /**
   * Takes a saved state (of a PLIC with as many sources and contexts), refusing a bad record before changing
   * anything, and drives every context's output from it.
   */
  restore(record: unknown): void {
    const r = new RecordReader(record, 'plic', 1);
    const u32 = 0xffffffff;
    const s = {
      priority: r.uints('priority', this.sources, PRIORITY_MASK),
      level: r.uints('level', this.words, u32),
      pending: r.uints('pending', this.words, u32),
      inService: r.uints('inService', this.words, u32),
      enable: r.uints('enable', this.words * this.contexts, u32),
      threshold: r.uints('threshold', this.contexts, PRIORITY_MASK),
    };
    this.priority.set(s.priority);
    this.level.set(s.level);
    this.pending.set(s.pending);
    this.inService.set(s.inService);
    this.enable.set(s.enable);
    this.threshold.set(s.threshold);
    // the outputs as the restored state says, reported to the harts whatever they were before
    this.output.fill(2);
    this.update();
  }

  private setLevel(source: number, high: boolean): void {
    const w = source >>> 5;
    const bit = 1 << (source & 31);
    if (this.edge[w] & bit) {
      if (!high || this.pending[w] & bit) return; // a request is pending already: this edge joins it
      if (this.inService[w] & bit) this.level[w] |= bit; // forwarded when the handler completes
      else {
        this.pending[w] |= bit;
        this.update();
      }
    } else if (high) {
      this.level[w] |= bit;
      // Gateway: forward a request unless one is pending or the source is being serviced.
      if (!(this.pending[w] & bit) && !(this.inService[w] & bit)) {
        this.pending[w] |= bit;
        this.update();
      }
    } else {
      // Per the spec, a request already accepted by the core stays pending after the line drops;
      // the handler finds the device no longer needs service.
      this.level[w] &= ~bit;
    }
  }

  /** The best claimable source for a context: pending, enabled, priority above threshold; ties → lowest id. */
  private best(ctx: number): number {
    let bestId = 0;
    let bestPrio = this.threshold[ctx];
    const base = ctx * this.words;
    for (let w = 0; w < this.words; w++) {
      let bits = this.pending[w] & this.enable[base + w];
      while (bits !== 0) {
        const low = bits & -bits;
        const id = (w << 5) | (31 - Math.clz32(low));
        bits ^= low;
        // ids ascend, so a strictly greater priority is needed to displace an earlier id
        if (this.priority[id] > bestPrio) {
          bestPrio = this.priority[id];
          bestId = id;
        }
      }
    }
    return bestId;
  }

  /** Recompute every context's output and report changes. */
  private update(): void {
    for (let ctx = 0; ctx < this.contexts; ctx++) {
      const out = this.best(ctx) !== 0 ? 1 : 0;
      if (out !== this.output[ctx]) {
        this.output[ctx] = out;
        this.onContext(ctx, out === 1);
      }
    }
  }

  private claim(ctx: number): number {
    const id = this.best(ctx);
    if (id !== 0) {
      const w = id >>> 5;
      const bit = 1 << (id & 31);
      this.pending[w] &= ~bit;
      this.inService[w] |= bit;
      this.update();
    }
    return id;
  }

  private complete(id: number): void {
    // The spec lets a PLIC ignore a completion for a source not enabled in the completing context. Linux
    // completes on the hart that claimed even when the IRQ's affinity has just moved to another hart (its
    // enable bit is then clear here); ignoring that would leave the source in service forever, so, like QEMU,
    // any context may complete a source in service. The id is not checked against the last claim.
    if (id < 1 || id >= this.sources) return;
    const w = id >>> 5;
    const bit = 1 << (id & 31);
    if (!(this.inService[w] & bit)) return;
    this.inService[w] &= ~bit;
    // Re-armed gateway: a line that is still high (an edge that came meanwhile) raises a new request.
    if (this.level[w] & bit) {
      if (this.edge[w] & bit) this.level[w] &= ~bit;
      this.pending[w] |= bit;
      this.update();
    }
  }

  // All PLIC registers are 32 bits wide; other widths and misaligned accesses read 0 and write nothing
  // (QEMU's PLIC accepts only 4-byte accesses).
  read(offset: number, width: number): number {
    if (width !== 4 || (offset & 3) !== 0) return 0;
    if (offset < PENDING_BASE) {
      const src = (offset - PRIORITY_BASE) >>> 2;
      return src < this.sources ? this.priority[src] : 0;
    }
    if (offset < ENABLE_BASE) {
      const w = (offset - PENDING_BASE) >>> 2;
      return w < this.words ? this.pending[w] >>> 0 : 0;
    }
    if (offset < CONTEXT_BASE) {
      const ctx = Math.floor((offset - ENABLE_BASE) / ENABLE_STRIDE);
      const w = ((offset - ENABLE_BASE) % ENABLE_STRIDE) >>> 2;
      if (ctx >= this.contexts || w >= this.words) return 0;
      return this.enable[ctx * this.words + w] >>> 0;
    }
    const ctx = Math.floor((offset - CONTEXT_BASE) / CONTEXT_STRIDE);
    if (ctx >= this.contexts) return 0;
    const reg = (offset - CONTEXT_BASE) % CONTEXT_STRIDE;
    if (reg === 0) return this.threshold[ctx];
    if (reg === 4) return this.claim(ctx);
    return 0;
  }

  write(offset: number, width: number, value: number | bigint): void {
    if (width !== 4 || (offset & 3) !== 0) return;
    const v = Number(BigInt.asUintN(32, BigInt(value)));
    if (offset < PENDING_BASE) {
      const src = (offset - PRIORITY_BASE) >>> 2;
      // source 0 does not exist: its priority is hardwired to 0
      if (src === 0 || src >= this.sources) return;
      this.priority[src] = v & PRIORITY_MASK;
      this.update();
      return;
    }
    // pending bits are read-only
    if (offset < ENABLE_BASE) return;
    if (offset < CONTEXT_BASE) {
      const ctx = Math.floor((offset - ENABLE_BASE) / ENABLE_STRIDE);
      const w = ((offset - ENABLE_BASE) % ENABLE_STRIDE) >>> 2;
      if (ctx >= this.contexts || w >= this.words) return;
      this.enable[ctx * this.words + w] = v & this.validBits(w);
      this.update();
      return;
    }
    const ctx = Math.floor((offset - CONTEXT_BASE) / CONTEXT_STRIDE);
    if (ctx >= this.contexts) return;
    const reg = (offset - CONTEXT_BASE) % CONTEXT_STRIDE;
    if (reg === 0) {
      this.threshold[ctx] = v & PRIORITY_MASK;
      this.update();
    } else if (reg === 4) this.complete(v);
  }

  /** Bits of bitmap word `w` that name existing sources (bit 0 of word 0 is source 0, which does not exist). */
  private validBits(w: number): number {
    let mask = 0xffffffff;
    if (w === 0) mask &= ~1;
    const last = this.sources - 1; // highest id
    if (w === last >>> 5 && (last & 31) !== 31) mask &= (1 << ((last & 31) + 1)) - 1;
    return mask >>> 0;
  }
}
