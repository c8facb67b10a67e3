// Fuzz target: the SBI (src/core/sbi/sbi.ts) on a two-hart machine with 1 MiB of RAM: a guest in S-mode makes
// ecalls with any extension, function and argument registers, on either hart, in any HSM state, with time
// passing and steal time being published. The SBI must answer every call with an SBI error code in a0 (or
// raise a guest trap for a bad legacy hart-mask pointer); no exception of the host may escape.
import { GuestRam } from '../../src/core/machine/memory.js';
import { Bus } from '../../src/core/devices/bus.js';
import { Clint, Timebase } from '../../src/core/devices/clint.js';
import { CodeCache } from '../../src/core/mmu/codecache.js';
import { Hart } from '../../src/core/cpu/hart.js';
import { S } from '../../src/core/cpu/state.js';
import { PRIV } from '../../src/core/cpu/bits.js';
import { Sbi } from '../../src/core/sbi/sbi.js';
import { Bytes } from '../lib/bytes.js';

const BASE = 0x8000_0000;
const RAM = 1 << 20;
const EIDS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 0x10, 0x54494d45, 0x735049, 0x52464e43, 0x48534d, 0x53525354, 0x4442434e, 0x535441, 0x504d55];
/** Interesting 64-bit values as [lo, hi] int32 pairs: RAM edges, -1, huge, small. */
const VALUES: [number, number][] = [[0, 0], [1, 0], [2, 0], [-1, -1], [BASE | 0, 0], [(BASE + RAM - 8) | 0, 0], [(BASE + RAM) | 0, 0], [(BASE + RAM - 64) | 0, 0], [0, 1], [0x80000000 | 0, 0], [-64, -1], [0xe0000000 | 0, 0]];

function setReg(b: Bytes, h: Hart, reg: number): void {
  const [lo, hi] = b.bool() ? b.pick(VALUES) : [b.u32() | 0, b.bool() ? 0 : b.u32() | 0];
  h.x[2 * reg] = lo;
  h.x[2 * reg + 1] = hi;
}

export function fuzz(data: Uint8Array): void {
  const b = new Bytes(data);
  const ram = new GuestRam(BASE, RAM);
  const code = new CodeCache(ram);
  const clock = { ns: 0, nowNs: () => clock.ns };
  const clint = new Clint(new Timebase(clock), 2);
  const harts = [0, 1].map((i) => new Hart({ hartId: i, ram, bus: new Bus(), code, clint }));
  const sbi = new Sbi({
    harts, memory: ram, consoleWrite: () => {}, consoleRead: (max) => new Uint8Array(Math.min(max, b.u8() % 8)).fill(0x41),
    reset: () => {}, wake: () => {},
  });
  for (const h of harts) sbi.attach(h);
  sbi.startHart(0, BASE | 0, 0, 0, 0);
  for (let step = 0; step < 100 && b.left > 0; step++) {
    const h = harts[b.u8() & 1];
    if (b.u8() % 8 === 0) {
      clock.ns += b.u32();
      sbi.setSteal(h.hartId, b.u32() * 1000, b.bool());
      continue;
    }
    for (const reg of [10, 11, 12, 13]) if (b.bool()) setReg(b, h, reg);
    h.x[34] = b.bool() ? b.pick(EIDS) : b.u32() | 0; // a7: extension
    h.x[35] = b.u8() % 16 === 0 ? 1 : 0;
    h.x[32] = b.u8() % 8; // a6: function
    h.x[33] = 0;
    h.s[S.PRIV] = PRIV.S;
    const eid = h.x[34] >>> 0;
    try {
      sbi.call(h);
    } catch (e) {
      // a legacy IPI or fence whose hart-mask pointer does not translate raises a load fault in the guest
      if ((e as { trap?: unknown })?.trap === true && eid >= 4 && eid <= 7) continue;
      throw e;
    }
    const err = h.x[20];
    if (eid > 8 && h.x[35] === 0 && !(err <= 0 && err >= -8)) throw new Error(`SBI call 0x${eid.toString(16)}/${h.x[32]} returned error ${err}`);
    for (let i = 0; i < 2; i++) if (sbi.hsmState(i) > 4) throw new Error(`hart ${i} in HSM state ${sbi.hsmState(i)}`);
  }
}
