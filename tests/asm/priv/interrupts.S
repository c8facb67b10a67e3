/*
 * interrupts.S - CLINT software and timer interrupts, Sstc stimecmp, SSIP through mip/sip, priorities,
 * delegation, global enables per privilege level, WFI, vectored delivery.
 *
 * Times are read from the CLINT's mtime (MMIO), which works on QEMU's spike machine as well.
 * Validation builds: -DPENV_QEMU relaxes what QEMU 7.2 does differently (noted where); -DPENV_NO_TIME drops
 * the Sstc tests (QEMU's spike machine has no time CSR, hence no Sstc).
 */
#include "penv.h"

/* rd = mtime + 1 s: how long to wait for an interrupt that should come (clobbers t6) */
.macro DEADLINE rd
    li t6, CLINT_MTIME
    ld \rd, 0(t6)
    li t6, 10000000
    add \rd, \rd, t6
.endm

/* branch to label while mtime < rd (clobbers t6) */
.macro BEFORE rd, label
    li t6, CLINT_MTIME
    ld t6, 0(t6)
    bltu t6, \rd, \label
.endm

/* spin until s11 == 0 (the expected interrupt was taken), at most 1 s (clobbers t5, t6) */
.macro WAIT_TAKEN
    DEADLINE t5
.Lw\@:
    beqz s11, .Ld\@
    BEFORE t5, .Lw\@
.Ld\@:
.endm

/* t0 = mtime (clobbers t6) */
.macro MTIME rd
    li t6, CLINT_MTIME
    ld \rd, 0(t6)
.endm

/* mtimecmp = mtime + delta (clobbers t6, t4) */
.macro MTIMECMP_IN delta
    MTIME t4
    li t6, \delta
    add t4, t4, t6
    li t6, CLINT_MTIMECMP
    sd t4, 0(t6)
.endm

.macro MTIMECMP_OFF
    li t6, CLINT_MTIMECMP
    li t4, -1
    sd t4, 0(t6)
.endm

.macro MSIP_SET v
    li t6, CLINT_MSIP
    li t4, \v
    sw t4, 0(t6)
.endm

/* fail unless label_lo <= r < label_hi */
.macro CHECK_IN r, lo, hi
    la t6, \lo
    bltu \r, t6, .Lbad\@
    la t6, \hi
    bltu \r, t6, .Lok\@
.Lbad\@:
    jal ra, penv_fail
.Lok\@:
.endm

    .text
    .globl test_main
test_main:

    TEST 1                      /* CLINT msip drives mip.MSIP */
    csrr t0, mip
    CHECK_BITS t0, MIP_MSIP, 0, t1
    MSIP_SET 1
    csrr t0, mip
    CHECK_BITS t0, MIP_MSIP, MIP_MSIP, t1
    li t0, CLINT_MSIP
    lw t1, 0(t0)
    CHECK_EQI t1, 1
    li t0, MIP_MSIP             /* mip.MSIP is read-only */
    csrc mip, t0
    csrr t0, mip
    CHECK_BITS t0, MIP_MSIP, MIP_MSIP, t1

    TEST 2                      /* pending + enabled, MIE = 0: not taken; MIE = 1: taken (cause 3) */
    li t0, MIP_MSIP
    csrs mie, t0
    nop
    nop
    nop
    li s11, 1
    csrsi mstatus, MSTATUS_MIE
msi_win:
    WAIT_TAKEN
msi_end:
    csrci mstatus, MSTATUS_MIE
    CHECK_TRAP CAUSE_INTR | IRQ_MSI
    CHECK_IN s10, msi_win, msi_end
    CHECK_TVAL 0
    csrr t0, mcause
    CHECK_EQI t0, CAUSE_INTR | IRQ_MSI
    csrr t0, mie                /* (the default handler masked it) */
    CHECK_EQI t0, 0
    MSIP_SET 0
    csrr t0, mip
    CHECK_BITS t0, MIP_MSIP, 0, t1

    TEST 3                      /* trap entry for an interrupt: MPIE = 1, MIE = 0, MPP = M */
    la t0, rec_handler
    csrw mtvec, t0
    MSIP_SET 1
    li t0, MIP_MSIP
    csrs mie, t0
    li s11, 1
    csrsi mstatus, MSTATUS_MIE
    WAIT_TAKEN
    csrci mstatus, MSTATUS_MIE
    RESTORE_MTVEC
    CHECK_EQI s11, 0
    CHECK_EQI s8, CAUSE_INTR | IRQ_MSI
    CHECK_BITS s9, MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_MPP, MSTATUS_MPIE | MPP_M, t0
    MSIP_SET 0

    TEST 4                      /* machine timer: MTIP follows mtime >= mtimecmp */
    MTIMECMP_IN 100000000       /* 10 s away */
    csrr t0, mip
    CHECK_BITS t0, MIP_MTIP, 0, t1
    li t0, CLINT_MTIMECMP
    sd zero, 0(t0)              /* in the past */
    csrr t0, mip
    CHECK_BITS t0, MIP_MTIP, MIP_MTIP, t1
    li t0, MIP_MTIP             /* read-only in mip */
    csrc mip, t0
    csrr t0, mip
    CHECK_BITS t0, MIP_MTIP, MIP_MTIP, t1
    MTIMECMP_OFF
    csrr t0, mip
    CHECK_BITS t0, MIP_MTIP, 0, t1

    TEST 5                      /* timer interrupt taken when mtime reaches mtimecmp */
    li t0, MIP_MTIP
    csrs mie, t0
    csrsi mstatus, MSTATUS_MIE
    li s11, 1
    MTIMECMP_IN 2000            /* 200 us */
mti_win:
    WAIT_TAKEN
mti_end:
    csrci mstatus, MSTATUS_MIE
    CHECK_TRAP CAUSE_INTR | IRQ_MTI
    CHECK_IN s10, mti_win, mti_end
    MTIME t0                    /* not before mtimecmp */
    li t1, CLINT_MTIMECMP
    ld t1, 0(t1)
    bgeu t0, t1, 1f
    CHECK_EQI zero, 1
1:  MTIMECMP_OFF

    TEST 6                      /* WFI returns when an enabled interrupt becomes pending, even with MIE = 0 */
    li t0, MIP_MTIP
    csrw mie, t0
    MTIMECMP_IN 20000           /* 2 ms */
    DEADLINE t5
1:  wfi
    csrr t0, mip
    andi t0, t0, MIP_MTIP
    bnez t0, 2f
    BEFORE t5, 1b
2:  CHECK_EQI t0, MIP_MTIP      /* pending, and not taken (MIE = 0; s11 = 0 would fail any trap) */
    li s11, 1                   /* now let it in */
    csrsi mstatus, MSTATUS_MIE
    nop
    WAIT_TAKEN
    csrci mstatus, MSTATUS_MIE
    CHECK_TRAP CAUSE_INTR | IRQ_MTI
    MTIMECMP_OFF
    MSIP_SET 1                  /* an already pending + enabled interrupt: WFI does not wait */
    li t0, MIP_MSIP
    csrw mie, t0
    wfi
    wfi
    csrw mie, zero
    MSIP_SET 0

    TEST 7                      /* SSIP set through mip, taken in M when not delegated (cause 1) */
    li t0, MIP_SSIP
    csrw mie, t0
    csrs mip, t0
    li s11, 1
    csrsi mstatus, MSTATUS_MIE
    WAIT_TAKEN
    csrci mstatus, MSTATUS_MIE
    CHECK_TRAP CAUSE_INTR | IRQ_SSI
    li t0, MIP_SSIP
    csrc mip, t0

    TEST 8                      /* priority: MSI > MTI > SEI > SSI > STI (MEI is never pending here) */
    csrw CSR_MENVCFG, zero      /* STIP writable through mip */
    la t0, prio_handler
    csrw mtvec, t0
    la t0, prio_log
    la t1, prio_ptr
    sd t0, 0(t1)
    MSIP_SET 1
    li t0, CLINT_MTIMECMP
    sd zero, 0(t0)
    li t0, MIP_SSIP | MIP_STIP | MIP_SEIP
    csrs mip, t0
    li t0, MIP_MSIP | MIP_MTIP | MIP_SSIP | MIP_STIP | MIP_SEIP
    csrw mie, t0
    csrsi mstatus, MSTATUS_MIE
    DEADLINE t5
1:  csrr t0, mie
    beqz t0, 2f
    BEFORE t5, 1b
2:  csrci mstatus, MSTATUS_MIE
    RESTORE_MTVEC
    la t0, prio_log
#ifndef PENV_QEMU
    ld t1, 0(t0)
    CHECK_EQI t1, CAUSE_INTR | IRQ_MSI
    ld t1, 8(t0)
    CHECK_EQI t1, CAUSE_INTR | IRQ_MTI
    ld t1, 16(t0)
    CHECK_EQI t1, CAUSE_INTR | IRQ_SEI
    ld t1, 24(t0)
    CHECK_EQI t1, CAUSE_INTR | IRQ_SSI
    ld t1, 32(t0)
    CHECK_EQI t1, CAUSE_INTR | IRQ_STI
#else
    /* QEMU 7.2 without AIA takes the lowest-numbered pending interrupt first: check only that all
     * five were taken once each */
    li t2, 0
    li t3, 0
1:  slli t4, t3, 3
    add t4, t4, t0
    ld t1, 0(t4)
    li t4, 1
    sll t1, t4, t1
    or t2, t2, t1
    addi t3, t3, 1
    li t4, 5
    bne t3, t4, 1b
    CHECK_EQI t2, MIP_MSIP | MIP_MTIP | MIP_SEIP | MIP_SSIP | MIP_STIP
#endif
    ld t1, 40(t0)
    CHECK_EQI t1, 0
    csrr t0, mip
    CHECK_EQI t0, 0

    TEST 9                      /* delegated SSI: never taken in M, not in S with SIE = 0, taken in U */
    li t0, MIP_SSIP | MIP_STIP
    csrw mideleg, t0
    li t0, MIP_SSIP
    csrw mie, t0
    csrs mip, t0
    csrsi mstatus, MSTATUS_MIE | MSTATUS_SIE   /* in M: both enables set, still not taken */
    nop
    nop
    csrci mstatus, MSTATUS_MIE | MSTATUS_SIE
    GOTO_S                      /* SIE = 0 in S: not taken */
    nop
    nop
    csrr t0, sip
    CHECK_EQI t0, MIP_SSIP
    li s11, 1
    S_GOTO_U                    /* S-level interrupts are always enabled in U */
ssi_u:
    WAIT_TAKEN
ssi_u_end:
    CHECK_TRAP CAUSE_INTR | IRQ_SSI
    CHECK_IN s10, ssi_u, ssi_u_end
    GOTO_M
    csrr t0, scause
    CHECK_EQI t0, CAUSE_INTR | IRQ_SSI
    csrr t0, mcause             /* M only saw the GOTO_M ecall */
    CHECK_EQI t0, CAUSE_ECALL_U

    TEST 10                     /* delegated SSI in S: SIE gates it; S raises it itself through sip */
    li t0, MIP_SSIP
    csrc mip, t0
    csrs mie, t0
    GOTO_S
    csrsi sip, MIP_SSIP         /* pending, SIE = 0 */
    nop
    li s11, 1
    csrsi sstatus, MSTATUS_SIE
ssi_s:
    WAIT_TAKEN
ssi_s_end:
    csrci sstatus, MSTATUS_SIE
    CHECK_TRAP CAUSE_INTR | IRQ_SSI
    CHECK_IN s10, ssi_s, ssi_s_end
    csrr t0, sie                /* the S handler masked it */
    CHECK_EQI t0, 0
    csrci sip, MIP_SSIP
    csrr t0, sip
    CHECK_EQI t0, 0

    TEST 11                     /* WFI in S (TW = 0) returns for a pending, enabled interrupt with SIE = 0 */
    csrsi sip, MIP_SSIP
    csrsi sie, MIP_SSIP
    wfi
    csrci sie, MIP_SSIP
    csrci sip, MIP_SSIP
    GOTO_M
    csrw mideleg, zero
    csrw mie, zero

    TEST 12                     /* M-level interrupts are taken in S and U even with mstatus.MIE = 0 */
    MSIP_SET 1
    li t0, MIP_MSIP
    csrw mie, t0
    nop
    li s11, 1
    GOTO_S
msi_s:
    WAIT_TAKEN
msi_s_end:
    GOTO_M
    CHECK_TRAP CAUSE_INTR | IRQ_MSI
    CHECK_IN s10, msi_s, msi_s_end
    li t0, MIP_MSIP
    csrw mie, t0
    li s11, 1
    GOTO_U
msi_u:
    WAIT_TAKEN
msi_u_end:
    GOTO_M
    CHECK_TRAP CAUSE_INTR | IRQ_MSI
    CHECK_IN s10, msi_u, msi_u_end
    MSIP_SET 0

    TEST 13                     /* a non-delegated S-level interrupt is an M-level trap: taken in S */
    li t0, MIP_SSIP
    csrw mie, t0
    li s11, 1
    GOTO_S
    csrsi sstatus, MSTATUS_SIE
    csrr t0, sip                /* not delegated: invisible in sip */
    CHECK_EQI t0, 0
    csrw sip, zero
    GOTO_M
    CHECK_NO_TRAP               /* nothing pending yet */
    li t0, MIP_SSIP
    csrs mip, t0                /* now pending; taken as soon as we are in S */
    li s11, 1
    GOTO_S
ssi_m:
    WAIT_TAKEN
ssi_m_end:
    GOTO_M
    CHECK_TRAP CAUSE_INTR | IRQ_SSI
    CHECK_IN s10, ssi_m, ssi_m_end
    li t0, MIP_SSIP
    csrc mip, t0
    csrci mstatus, MSTATUS_SIE
    csrw mie, zero

#ifndef PENV_NO_TIME              /* Sstc needs the time CSR */
    TEST 14                     /* Sstc: stimecmp drives STIP when menvcfg.STCE = 1 */
    li t0, ENVCFG_STCE
    csrs CSR_MENVCFG, t0
    li t0, -1
    csrw CSR_STIMECMP, t0
    csrr t0, mip
    CHECK_BITS t0, MIP_STIP, 0, t1
    li t0, MIP_STIP             /* STIP is read-only in mip now */
    csrs mip, t0
    csrr t0, mip
    CHECK_BITS t0, MIP_STIP, 0, t1
    csrw CSR_STIMECMP, zero     /* in the past */
    csrr t0, mip
    CHECK_BITS t0, MIP_STIP, MIP_STIP, t1
    li t0, MIP_STIP
    csrc mip, t0
    csrr t0, mip
    CHECK_BITS t0, MIP_STIP, MIP_STIP, t1
    csrr t0, CSR_STIMECMP
    CHECK_EQI t0, 0
    li t0, -1
    csrw CSR_STIMECMP, t0
    csrr t0, mip
    CHECK_BITS t0, MIP_STIP, 0, t1

    TEST 15                     /* STI not delegated: taken in M (cause 5) */
    li t0, MIP_STIP
    csrw mie, t0
    csrsi mstatus, MSTATUS_MIE
    MTIME t0
    li t1, 2000
    add t0, t0, t1
    li s11, 1
    csrw CSR_STIMECMP, t0
    WAIT_TAKEN
    csrci mstatus, MSTATUS_MIE
    CHECK_TRAP CAUSE_INTR | IRQ_STI
    li t0, -1
    csrw CSR_STIMECMP, t0

    TEST 16                     /* STI delegated: S programs stimecmp and takes the interrupt */
    li t0, 1 << 1               /* mcounteren.TM: S may access stimecmp */
    csrw mcounteren, t0
    li t0, MIP_STIP
    csrw mideleg, t0
    GOTO_S
    li t0, MIP_STIP
    csrs sie, t0
    csrsi sstatus, MSTATUS_SIE
    MTIME t0
    li t1, 2000
    add t0, t0, t1
    li s11, 1
    csrw CSR_STIMECMP, t0
sti_s:
    WAIT_TAKEN
sti_s_end:
    csrci sstatus, MSTATUS_SIE
    CHECK_TRAP CAUSE_INTR | IRQ_STI
    CHECK_IN s10, sti_s, sti_s_end
    csrr t0, sip
    CHECK_BITS t0, MIP_STIP, MIP_STIP, t1
    li t0, -1                   /* writing stimecmp clears it */
    csrw CSR_STIMECMP, t0
    csrr t0, sip
    CHECK_BITS t0, MIP_STIP, 0, t1
    GOTO_M

    TEST 17                     /* stimecmp access from S needs mcounteren.TM and menvcfg.STCE */
    csrw mcounteren, zero
    GOTO_S
    EXPECT_TRAP
st1:
    csrr t0, CSR_STIMECMP
    CHECK_TRAP CAUSE_ILLEGAL
    GOTO_M
    li t0, 1 << 1
    csrw mcounteren, t0
    li t0, ENVCFG_STCE
    csrc CSR_MENVCFG, t0
    GOTO_S
    EXPECT_TRAP
    csrw CSR_STIMECMP, zero
    CHECK_TRAP CAUSE_ILLEGAL
    GOTO_M
    li t0, MIP_STIP             /* with STCE = 0, STIP is writable in mip again */
    csrs mip, t0
    csrr t1, mip
    csrc mip, t0
    CHECK_BITS t1, MIP_STIP, MIP_STIP, t2
    csrw mcounteren, zero
    csrw mideleg, zero
    csrw mie, zero

#endif

    TEST 20                     /* interrupts for a higher privilege level go first: in S with SIE = 1,
                                   a pending non-delegated SSI (to M) beats a delegated STI (to S) */
    csrw CSR_MENVCFG, zero
    li t0, MIP_STIP
    csrw mideleg, t0
    li t0, MIP_STIP | MIP_SSIP
    csrw mie, t0
    csrs mip, t0                /* both pending */
    la t0, rec_handler          /* M: records and masks everything */
    csrw mtvec, t0
    li t0, CAUSE_STORE_PAGE     /* sentinel: S takes no trap */
    csrw scause, t0
    li s11, 1
    GOTO_S
    csrsi sstatus, MSTATUS_SIE
    DEADLINE t5
1:  beqz s11, 2f
    BEFORE t5, 1b
2:  csrci sstatus, MSTATUS_SIE
    GOTO_M
    RESTORE_MTVEC
    CHECK_EQI s8, CAUSE_INTR | IRQ_SSI
    CHECK_BITS s9, MSTATUS_MPP, MPP_S, t0
    csrr t0, scause
    CHECK_EQI t0, CAUSE_STORE_PAGE
    csrw mip, zero
    csrw mie, zero
    csrw mideleg, zero

    TEST 18                     /* vectored mtvec: MSI -> base + 12, MTI -> base + 28 */
    la t0, vec_table
    ori t0, t0, 1
    csrw mtvec, t0
    li s7, -1
    MSIP_SET 1
    li t0, MIP_MSIP
    csrw mie, t0
    csrsi mstatus, MSTATUS_MIE
    DEADLINE t5
1:  bgez s7, 2f
    BEFORE t5, 1b
2:  csrci mstatus, MSTATUS_MIE
    MSIP_SET 0
    CHECK_EQI s7, IRQ_MSI
    li s7, -1
    li t0, MIP_MTIP
    csrw mie, t0
    li t0, CLINT_MTIMECMP
    sd zero, 0(t0)
    csrsi mstatus, MSTATUS_MIE
    DEADLINE t5
1:  bgez s7, 2f
    BEFORE t5, 1b
2:  csrci mstatus, MSTATUS_MIE
    MTIMECMP_OFF
    RESTORE_MTVEC
    CHECK_EQI s7, IRQ_MTI

#ifndef PENV_NO_TIME
    TEST 19                     /* vectored stvec: delegated STI -> base + 20 */
    la t0, vec_table
    ori t0, t0, 1
    csrw stvec, t0
    li t0, ENVCFG_STCE
    csrs CSR_MENVCFG, t0
    li t0, MIP_STIP
    csrw mideleg, t0
    csrw mie, t0
    li t0, 1 << 1               /* mcounteren.TM */
    csrw mcounteren, t0
    li s7, -1
    GOTO_S
    csrw CSR_STIMECMP, zero
    csrsi sstatus, MSTATUS_SIE
    DEADLINE t5
1:  bgez s7, 2f
    BEFORE t5, 1b
2:  csrci sstatus, MSTATUS_SIE
    GOTO_M
    li t0, -1
    csrw CSR_STIMECMP, t0
    RESTORE_STVEC
    CHECK_EQI s7, IRQ_STI
    csrw mcounteren, zero
    csrw mideleg, zero
    csrw mie, zero
    csrw CSR_MENVCFG, zero

#endif

    PASS

/* M handler for interrupts: records mcause -> s8, mstatus -> s9, mepc -> s10 and masks all interrupts;
 * exceptions (GOTO_M, failing checks) go to the default handler */
    .align 6
rec_handler:
    csrw mscratch, t0
    csrr t0, mcause
    bgez t0, 1f
    csrr s8, mcause
    csrr s9, mstatus
    csrr s10, mepc
    csrw mie, zero
    li s11, 0
    csrr t0, mscratch
    mret
1:  csrr t0, mscratch
    j penv_mtrap

/* priority test: log mcause and clear the source of the interrupt that was taken */
    .align 6
prio_handler:
    csrw mscratch, t0
    la t0, prio_save
    sd t1, 0(t0)
    sd t2, 8(t0)
    la t0, prio_ptr
    ld t1, 0(t0)
    csrr t2, mcause
    sd t2, 0(t1)
    addi t1, t1, 8
    sd t1, 0(t0)
    slli t2, t2, 1              /* drop the interrupt bit */
    srli t2, t2, 1
    li t1, IRQ_MSI
    bne t2, t1, 1f
    li t0, CLINT_MSIP
    sw zero, 0(t0)
    j 9f
1:  li t1, IRQ_MTI
    bne t2, t1, 2f
    li t0, CLINT_MTIMECMP
    li t1, -1
    sd t1, 0(t0)
    j 9f
2:  li t1, 1                    /* SEI, SSI, STI: clear the mip bit */
    sll t1, t1, t2
    csrc mip, t1
9:  li t1, 1                    /* and stop after five, or on anything unexpected */
    sll t1, t1, t2
    csrc mie, t1
    la t0, prio_save
    ld t1, 0(t0)
    ld t2, 8(t0)
    csrr t0, mscratch
    mret

/* vector table: entry i sets s7 = i and masks everything */
    .align 8
vec_table:
    .irp i, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    j vec_entry_\i
    .endr
    .irp i, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
vec_entry_\i:
    li s7, \i
    j vec_common
    .endr
vec_common:
    la t6, vec_table            /* delivered to S (TEST 19, stvec is the table) or to M (TEST 18)? */
    ori t6, t6, 1
    csrr t4, stvec
    beq t4, t6, 1f
    csrw mie, zero
    mret
1:  csrw sie, zero
    sret

    .data
    .align 3
prio_ptr:  .dword 0
prio_save: .dword 0, 0
prio_log:  .dword 0, 0, 0, 0, 0, 0, 0, 0
