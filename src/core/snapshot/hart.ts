// A hart's saved state (issue 15): beside the hart rather than in it, as hart.ts is the interpreter's file.
import type { Hart } from '../cpu/hart.js';
import { S, STATE_SLOTS } from '../cpu/state.js';
import { PRIV } from '../cpu/bits.js';
import { RecordReader, SnapshotError, u64Text } from './state.js';
import type { SbiState } from '../sbi/sbi.js';

/** A hart's saved state. */
export interface HartState {
  version: 1;
  /** The state block (state.ts: registers, pc, privilege, CSRs, PMP, reservation), each slot unsigned 32-bit. */
  state: number[];
  retired: number;
  cycleOffset: number;
  instretOffset: number;
  waiting: boolean;
  /** The SBI timer's deadline in mtime ticks; null when unarmed. */
  sbiTimer: string | null;
}

/** What a hart running in a thread of its own saves (machine/smp-hart.ts); Vm.saveState puts it among its own. */
export interface RemoteHartState {
  hart: HartState;
  /** Its SBI's record: the SBI's per-hart state (the steal-time area) of this hart is in it. */
  sbi: SbiState;
}

/**
 * The hart's architectural state, the counters' bases, WFI and the SBI timer. Not saved: what is derived or
 * cached (TLB, decoded and translated code: dropped at restore) and the interrupt lines (the PLIC drives them).
 */
export function saveHart(h: Hart): HartState {
  return {
    version: 1,
    state: Array.from(h.s, (v) => v >>> 0),
    retired: h.retired,
    cycleOffset: h.cycleOffset,
    instretOffset: h.instretOffset,
    waiting: h.waiting,
    sbiTimer: h.sbiTimer === Infinity ? null : u64Text(BigInt(h.sbiTimer)),
  };
}

/** Takes a saved state into `h`, refusing a bad record before changing anything; drops the TLB and PMP caches. */
export function restoreHart(h: Hart, record: unknown): void {
  const r = new RecordReader(record, `hart ${h.hartId}`, 1);
  const state = r.uints('state', STATE_SLOTS, 0xffffffff);
  const retired = r.safeInt('retired');
  const cycleOffset = r.safeInt('cycleOffset');
  const instretOffset = r.safeInt('instretOffset');
  const waiting = r.bool('waiting');
  const timer = r.u64OrNull('sbiTimer');
  const priv = state[S.PRIV];
  if (priv !== PRIV.U && priv !== PRIV.S && priv !== PRIV.M) throw new SnapshotError(`snapshot: hart ${h.hartId}.state holds privilege ${priv}`);
  h.s.set(state);
  h.retired = retired;
  h.cycleOffset = cycleOffset;
  h.instretOffset = instretOffset;
  h.waiting = waiting;
  h.sbiTimer = timer === null ? Infinity : Number(timer);
  h.stop = false;
  h.stuck = null;
  h.mmu.pmp.update();
  h.mmu.flush();
  h.fetchDirty = true;
}
