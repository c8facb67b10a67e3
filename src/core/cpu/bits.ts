// Bit definitions of the privileged architecture (RISC-V Privileged Spec v1.12, chapters 3 and 4).

/** mstatus / sstatus fields (low word unless noted). */
export const enum MSTATUS {
  SIE = 1 << 1, // S-mode interrupt enable
  MIE = 1 << 3, // M-mode interrupt enable
  SPIE = 1 << 5, // SIE before the last trap into S
  UBE = 1 << 6, // U-mode big-endian (hardwired 0)
  MPIE = 1 << 7, // MIE before the last trap into M
  SPP = 1 << 8, // privilege before the last trap into S: 1=S 0=U
  VS = 3 << 9, // vector state (no V: hardwired 0)
  MPP = 3 << 11, // privilege before the last trap into M
  MPP_SHIFT = 11,
  FS = 3 << 13, // FP state: 0 Off, 1 Initial, 2 Clean, 3 Dirty
  FS_SHIFT = 13,
  XS = 3 << 15, // extension state (hardwired 0)
  MPRV = 1 << 17, // loads/stores use MPP's privilege and translation
  SUM = 1 << 18, // S-mode may access U pages
  MXR = 1 << 19, // loads from execute-only pages succeed
  TVM = 1 << 20, // trap satp accesses and sfence.vma in S-mode
  TW = 1 << 21, // trap WFI in S-mode
  TSR = 1 << 22, // trap SRET in S-mode
  /** High word: UXL (bits 33:32) and SXL (35:34) both 2 = 64-bit; SD is bit 63. */
  HI_XL = 0xa,
  HI_SD = 1 << 31,
}

/** Writable low-word bits of mstatus. */
export const MSTATUS_WMASK =
  MSTATUS.SIE | MSTATUS.MIE | MSTATUS.SPIE | MSTATUS.MPIE | MSTATUS.SPP | MSTATUS.MPP | MSTATUS.FS | MSTATUS.MPRV |
  MSTATUS.SUM | MSTATUS.MXR | MSTATUS.TVM | MSTATUS.TW | MSTATUS.TSR;
/** Low-word bits of mstatus visible through sstatus. */
export const SSTATUS_MASK =
  MSTATUS.SIE | MSTATUS.SPIE | MSTATUS.UBE | MSTATUS.SPP | MSTATUS.VS | MSTATUS.FS | MSTATUS.XS | MSTATUS.SUM |
  MSTATUS.MXR;

/** Interrupt bits of mip / mie (and cause numbers = bit positions). */
export const enum IRQ {
  SSI = 1, // supervisor software
  MSI = 3, // machine software
  STI = 5, // supervisor timer
  MTI = 7, // machine timer
  SEI = 9, // supervisor external
  MEI = 11, // machine external
}
export const MIP_SSIP = 1 << IRQ.SSI;
export const MIP_MSIP = 1 << IRQ.MSI;
export const MIP_STIP = 1 << IRQ.STI;
export const MIP_MTIP = 1 << IRQ.MTI;
export const MIP_SEIP = 1 << IRQ.SEI;
export const MIP_MEIP = 1 << IRQ.MEI;
/** Interrupts S-mode can own. */
export const S_INTERRUPTS = MIP_SSIP | MIP_STIP | MIP_SEIP;
/** All interrupts the hart implements. */
export const ALL_INTERRUPTS = S_INTERRUPTS | MIP_MSIP | MIP_MTIP | MIP_MEIP;

/** Synchronous exception causes (mcause with interrupt bit clear). */
export const enum CAUSE {
  MISALIGNED_FETCH = 0,
  FETCH_ACCESS = 1,
  ILLEGAL_INSTRUCTION = 2,
  BREAKPOINT = 3,
  MISALIGNED_LOAD = 4,
  LOAD_ACCESS = 5,
  MISALIGNED_STORE = 6, // also AMO
  STORE_ACCESS = 7, // also AMO
  ECALL_U = 8,
  ECALL_S = 9,
  ECALL_M = 11,
  FETCH_PAGE_FAULT = 12,
  LOAD_PAGE_FAULT = 13,
  STORE_PAGE_FAULT = 15,
}
/** Exceptions that medeleg may delegate (ecall from M, bit 11, cannot be delegated). */
export const MEDELEG_MASK = 0xb3ff;

/** Privilege levels. */
export const enum PRIV {
  U = 0,
  S = 1,
  M = 3,
}

/** menvcfg / senvcfg fields. */
export const enum ENVCFG {
  FIOM = 1 << 0, // fence of I/O implies memory
  CBIE = 3 << 4, // cbo.inval: 00 illegal, 01 executes as flush, 11 invalidate
  CBCFE = 1 << 6, // cbo.clean / cbo.flush enabled
  CBZE = 1 << 7, // cbo.zero enabled
  HI_STCE = 1 << 31, // menvcfg bit 63: Sstc stimecmp enabled
}

/** Counter-enable bits (mcounteren / scounteren). */
export const enum COUNTEREN {
  CY = 1,
  TM = 2,
  IR = 4,
}

/** satp MODE field values (bits 63:60). */
export const enum SATP_MODE {
  BARE = 0,
  SV39 = 8,
  SV48 = 9,
  SV57 = 10,
}

/** PTE bits (Sv39/48/57). */
export const enum PTE {
  V = 1 << 0,
  R = 1 << 1,
  W = 1 << 2,
  X = 1 << 3,
  U = 1 << 4,
  G = 1 << 5,
  A = 1 << 6,
  D = 1 << 7,
}

/** pmpcfg entry fields. */
export const enum PMPCFG {
  R = 1,
  W = 2,
  X = 4,
  A = 3 << 3, // address matching: 0 OFF, 1 TOR, 2 NA4, 3 NAPOT
  A_SHIFT = 3,
  L = 1 << 7, // locked: applies to M-mode too and ignores writes
}

/** Cache-block size of Zicbom/Zicboz in bytes. */
export const CBO_BLOCK = 64;
