// Physical memory protection (Privileged Spec 3.7): 16 entries, 4-byte granularity, TOR/NA4/NAPOT, lock bit.
import { S, PMP_COUNT } from '../cpu/state.js';
import { PMPCFG, PRIV } from '../cpu/bits.js';

const TWO32 = 4294967296;

/** Access kinds (also the permission bit index: R=1, W=2, X=4). */
export const enum Access {
  READ = 0,
  WRITE = 1,
  EXEC = 2,
}
const PERM_BIT = [PMPCFG.R, PMPCFG.W, PMPCFG.X];

/** Decoded PMP ranges, recomputed whenever a pmpcfg/pmpaddr CSR changes. */
export class Pmp {
  private start = new Float64Array(PMP_COUNT);
  private end = new Float64Array(PMP_COUNT);
  private cfg = new Uint8Array(PMP_COUNT);
  /** Number of leading entries that may be active (entries after the last non-OFF one are skipped). */
  private active = 0;

  constructor(private readonly s: Int32Array) {}

  /** Recomputes the ranges from the CSR values in the state block. */
  update(): void {
    const s = this.s;
    this.active = 0;
    let prevAddr = 0;
    for (let i = 0; i < PMP_COUNT; i++) {
      const cfg = s[S.PMPCFG + i] & 0xff;
      const lo = s[S.PMPADDR + 2 * i] >>> 0;
      const hi = s[S.PMPADDR + 2 * i + 1] & 0x3fffff; // pmpaddr holds address bits 55:2
      const addr = hi * TWO32 + lo;
      this.cfg[i] = cfg;
      const mode = (cfg & PMPCFG.A) >>> PMPCFG.A_SHIFT;
      if (mode === 1) {
        this.start[i] = prevAddr * 4;
        this.end[i] = addr * 4;
      } else if (mode === 2) {
        this.start[i] = addr * 4;
        this.end[i] = addr * 4 + 4;
      } else if (mode === 3) {
        // NAPOT: k trailing ones encode a 2^(k+3)-byte region
        let k = 0;
        if (lo === 0xffffffff) {
          k = 32;
          const inv = ~hi & 0x3fffff;
          k += inv === 0 ? 22 : 31 - Math.clz32(inv & -inv);
        } else {
          const inv = ~lo;
          k = 31 - Math.clz32(inv & -inv);
        }
        const size = 2 ** (k + 3);
        // clear the k low bits on the int32 halves: (hi * 2^32 + lo) is not exact near 2^54
        const bLo = k >= 32 ? 0 : (lo & ~((2 ** k) - 1)) >>> 0;
        const bHi = k <= 32 ? hi : k >= 54 ? 0 : hi & ~((1 << (k - 32)) - 1);
        const base = (bHi * TWO32 + bLo) * 4;
        this.start[i] = base;
        this.end[i] = base + size;
      }
      if (mode !== 0) this.active = i + 1;
      prevAddr = addr;
    }
  }

  /**
   * True when an access of `size` bytes at `paddr` with privilege `priv` is allowed. Exact for a whole
   * range too: the first entry that overlaps any byte decides, and it must contain the whole range.
   */
  check(paddr: number, size: number, access: Access, priv: number): boolean {
    const end = paddr + size;
    for (let i = 0; i < this.active; i++) {
      const cfg = this.cfg[i];
      if ((cfg & PMPCFG.A) === 0) continue;
      const a = this.start[i], b = this.end[i];
      if (paddr < b && end > a) {
        if (paddr < a || end > b) return false; // partial match always fails
        if (priv === PRIV.M && (cfg & PMPCFG.L) === 0) return true;
        return (cfg & PERM_BIT[access]) !== 0;
      }
    }
    return priv === PRIV.M;
  }

  /** Whether entry i is locked (its cfg and address ignore writes). */
  locked(i: number): boolean {
    return (this.s[S.PMPCFG + i] & PMPCFG.L) !== 0;
  }

  /** Whether pmpaddr[i] is locked: its own L bit, or entry i+1 is a locked TOR entry. */
  addrLocked(i: number): boolean {
    if (this.locked(i)) return true;
    if (i + 1 < PMP_COUNT) {
      const next = this.s[S.PMPCFG + i + 1];
      return (next & PMPCFG.L) !== 0 && ((next & PMPCFG.A) >>> PMPCFG.A_SHIFT) === 1;
    }
    return false;
  }
}
