// Layout of a hart's architectural state: one Int32Array block, 64-bit values as (lo, hi) int32 pairs.
// Snapshots copy the block, workers can share it, and generated code can address it by these indices.

/** Index of x[i].lo is 2*i, x[i].hi is 2*i+1. Slot 32 is a write sink: the decoder maps rd=x0 to it. */
export const X_SINK = 64;
/** f[i] (64 bits each) start here; 8-byte aligned so a Float64Array view can overlay it. */
export const F_BASE = 66;

/** Int32 indices of the remaining state; every 64-bit entry takes two slots (lo, hi). */
export const enum S {
  PC = 130,
  PRIV = 132, // current privilege: 0 = U, 1 = S, 3 = M
  MSTATUS = 134,
  MEDELEG = 136,
  MIDELEG = 138,
  MIE = 140,
  MIP = 142, // software-writable bits only (SSIP, STIP, SEIP); device lines are ORed in when read
  MTVEC = 144,
  MSCRATCH = 146,
  MEPC = 148,
  MCAUSE = 150,
  MTVAL = 152,
  MCOUNTEREN = 154,
  MENVCFG = 156,
  MCOUNTINHIBIT = 158,
  STVEC = 160,
  SSCRATCH = 162,
  SEPC = 164,
  SCAUSE = 166,
  STVAL = 168,
  SCOUNTEREN = 170,
  SENVCFG = 172,
  SATP = 174,
  STIMECMP = 176,
  FCSR = 178,
  RES_VALID = 180, // LR reservation valid (0/1)
  RES_ADDR = 182, // reserved physical address (number split lo/hi)
  MSECCFG = 184,
  PMPCFG = 186, // 16 entries, one byte each, stored one per slot: 186..201
  PMPADDR = 202, // 16 entries × (lo, hi): 202..233
  RES_VAL = 234, // the value LR read (lo, hi): SC stores only if memory still holds it
  SIZE = 236,
}

export const PMP_COUNT = 16;

/** Size in int32 slots of one hart's state block. */
export const STATE_SLOTS = S.SIZE;
