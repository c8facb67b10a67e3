// Where each hart's state lives in the VM's WebAssembly.Memory: after guest RAM, one fixed-size area per hart
// holding the state block (state.ts), the software TLB and a scratch slot. Generated code (the JIT) reads and
// writes them at these byte offsets; the interpreter uses typed-array views over the same bytes.
import { STATE_SLOTS } from './state.js';

/** Bytes per hart area (a multiple of 4 KiB so areas never share a page with RAM or each other). */
export const HART_AREA_BYTES = 20480;
/** Alignment of the first area (one wasm page): RAM ends where the areas begin. */
export const AREA_ALIGN = 65536;

/** TLB entries per access kind (direct-mapped on the virtual page number). */
export const TLB_ENTRIES = 256;
/** A virtual page number's entry: (va >>> 12) & TLB_MASK. */
export const TLB_MASK = TLB_ENTRIES - 1;
/** Bytes of each TLB array (tag, tag's high word, RAM offset). */
export const TLB_ARRAY = TLB_ENTRIES * 4;

/**
 * Table slots for translated pages per hart: the most translations alive at once, and the bound of the code
 * cache (mmu/codecache.ts defaultMaxPages), since a translation lives while its page is cached: with fewer slots
 * than cached pages, a long-running guest filled them and its new hot code stayed with the interpreter.
 */
export const JIT_SLOTS = 4096;

/** Byte offsets inside a hart area. */
export const enum AREA {
  STATE = 0,
  /** Tag (virtual page address, low word; TLB_INVALID when empty), high word and RAM byte offset per entry,
   *  for reads, writes and fetches: nine Int32 arrays of TLB_ENTRIES. */
  R_TAG = 1024,
  R_TAG_HI = R_TAG + TLB_ARRAY,
  R_OFF = R_TAG_HI + TLB_ARRAY,
  W_TAG = R_OFF + TLB_ARRAY,
  W_TAG_HI = W_TAG + TLB_ARRAY,
  W_OFF = W_TAG_HI + TLB_ARRAY,
  X_TAG = W_OFF + TLB_ARRAY,
  X_TAG_HI = X_TAG + TLB_ARRAY,
  X_OFF = X_TAG_HI + TLB_ARRAY,
  /** 64 bytes where slow paths called from generated code leave their results; its first word is the budget
   *  left when translated code returns. */
  SCRATCH = X_OFF + TLB_ARRAY,
  /** The JIT's translation of each execute-TLB entry's RAM page (jit/chain.ts): its table slot + 1 (0: none),
   *  valid while X_SLOT_OFF still equals the entry's X_OFF. Two Int32 arrays of TLB_ENTRIES. */
  X_SLOT = SCRATCH + 64,
  X_SLOT_OFF = X_SLOT + TLB_ARRAY,
  /** One byte per JIT table slot, set when translated code runs there without going through JavaScript. */
  JIT_USED = X_SLOT_OFF + TLB_ARRAY,
  /** The virtual address (i64) of the page whose translation runs now. */
  JIT_PAGE = JIT_USED + 4096, // JIT_SLOTS
  /** Calls from one translation to the next without going through JavaScript (i32, wraps). */
  JIT_HOPS = JIT_PAGE + 8,
  END = JIT_HOPS + 8,
}

/** The first area's byte offset for RAM of `ramSize` bytes. */
export function areasBase(ramSize: number): number {
  return Math.ceil(ramSize / AREA_ALIGN) * AREA_ALIGN;
}

/** Bytes of WebAssembly memory a VM needs for `ramSize` bytes of RAM and `harts` hart areas. */
export function memoryBytes(ramSize: number, harts: number): number {
  return Math.ceil((areasBase(ramSize) + harts * HART_AREA_BYTES) / AREA_ALIGN) * AREA_ALIGN;
}

// the state block and TLB must fit their places
if (STATE_SLOTS * 4 > AREA.R_TAG || AREA.END > HART_AREA_BYTES || AREA.JIT_PAGE - AREA.JIT_USED !== JIT_SLOTS) throw new Error('hart area layout overflow');
