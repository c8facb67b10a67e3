/*
 * traps.S - exceptions, trap delegation, trap vectors, mstatus state on trap and xRET, MPRV/SUM/MXR,
 * TVM/TW/TSR, CSR privilege checks and counter enables.
 *
 * Validation builds: -DPENV_QEMU relaxes the checks where QEMU 7.2 differs from the tvisor machine and
 * the spec (each place says how); -DPENV_NO_TIME drops the time CSR (QEMU's spike machine has no rdtime).
 */
#include "penv.h"

#define DATA_VA  0x40000000     /* a 4 KiB page mapped onto data_page in the test page tables */
#define NODEV    0x90000000     /* above the end of RAM: no device, no memory */

/* tvisor raises store/AMO address misaligned for misaligned AMOs; QEMU 7.2 raises load address misaligned */
/* likewise an AMO on an unmapped page: store/AMO page fault (spec), load page fault on QEMU 7.2;
 * a page-table walk that reads no memory: access fault (spec), page fault on QEMU 7.2 */
#ifdef PENV_QEMU
#define CAUSE_AMO_MISALIGNED CAUSE_LOAD_MISALIGNED
#define CAUSE_AMO_PAGE CAUSE_LOAD_PAGE
#define CAUSE_PTW_LOAD CAUSE_LOAD_PAGE
#define CAUSE_PTW_STORE CAUSE_STORE_PAGE
#else
#define CAUSE_PTW_LOAD CAUSE_LOAD_ACCESS
#define CAUSE_PTW_STORE CAUSE_STORE_ACCESS
#define CAUSE_AMO_MISALIGNED CAUSE_STORE_MISALIGNED
#define CAUSE_AMO_PAGE CAUSE_STORE_PAGE
#endif

/* CHECK that s9 (xtval) holds the 32-bit encoding of the instruction at label */
.macro CHECK_TVAL_INSN label
    la t6, \label
    lwu t6, 0(t6)
    CHECK_EQ s9, t6
.endm

/* mstatus.MPP = v (uses t6) */
.macro SET_MPP v
    li t6, MSTATUS_MPP
    csrc mstatus, t6
    li t6, \v
    csrs mstatus, t6
.endm

/* install the recording handlers (they record cause/status/epc in s8/s9/s10 and skip the instruction) */
.macro USE_MREC
    la t0, mtrap_rec
    csrw mtvec, t0
.endm
.macro USE_SREC
    la t0, strap_rec
    csrw stvec, t0
.endm

    .text
    .globl test_main
test_main:

/* ================================================================ A. exceptions taken in M-mode */

    TEST 1                      /* illegal 32-bit instruction: mcause 2, mtval = the bits, mepc */
    EXPECT_TRAP
ill32:
    .word 0xfe000033            /* OP with funct7 = 0x7f: no such instruction */
    CHECK_TRAP CAUSE_ILLEGAL
    CHECK_TVAL 0xfe000033
    CHECK_EPC ill32

    TEST 2                      /* a CSR number that does not exist */
    EXPECT_TRAP
illcsr:
    csrr t0, 0x0ff
    CHECK_TRAP CAUSE_ILLEGAL
    CHECK_TVAL_INSN illcsr
    CHECK_EPC illcsr

    TEST 3                      /* reserved 16-bit encoding c.addi4spn with imm 0: mtval holds only 16 bits */
    EXPECT_TRAP
ill16:
    .half 0x0004
    .half 0x0001                /* c.nop, skipped together with the illegal half */
    CHECK_TRAP CAUSE_ILLEGAL
    CHECK_TVAL 0x0004
    CHECK_EPC ill16

    TEST 4                      /* reserved c.lui with imm 0 */
    EXPECT_TRAP
ill16b:
    .half 0x6081
    .half 0x0001
    CHECK_TRAP CAUSE_ILLEGAL
    CHECK_TVAL 0x6081
    CHECK_EPC ill16b

    TEST 5                      /* the all-zero halfword is illegal */
    EXPECT_TRAP
ill0:
    .half 0x0000
    .half 0x0001
    CHECK_TRAP CAUSE_ILLEGAL
    CHECK_EPC ill0

    TEST 6                      /* ebreak: cause 3, mepc = mtval = pc */
    EXPECT_TRAP
brk:
    ebreak
    CHECK_TRAP CAUSE_BREAKPOINT
    CHECK_EPC brk
#ifndef PENV_QEMU
    CHECK_LA s9, brk
#endif

    TEST 7                      /* c.ebreak */
    EXPECT_TRAP
cbrk:
    .half 0x9002
    .half 0x0001
    CHECK_TRAP CAUSE_BREAKPOINT
    CHECK_EPC cbrk
#ifndef PENV_QEMU
    CHECK_LA s9, cbrk
#endif

    TEST 8                      /* ecall from M: cause 11, mtval 0 */
    li a7, 0
    li s9, -1
    EXPECT_TRAP
ecm:
    ecall
    CHECK_TRAP CAUSE_ECALL_M
    CHECK_EPC ecm
    CHECK_TVAL 0

    TEST 9                      /* ecall from S: cause 9 */
    GOTO_S
    li a7, 0
    EXPECT_TRAP
ecs:
    ecall
    GOTO_M
    CHECK_TRAP CAUSE_ECALL_S
    CHECK_EPC ecs
    CHECK_TVAL 0

    TEST 10                     /* ecall from U: cause 8 */
    GOTO_U
    li a7, 0
    EXPECT_TRAP
ecu:
    ecall
    GOTO_M
    CHECK_TRAP CAUSE_ECALL_U
    CHECK_EPC ecu
    CHECK_TVAL 0

    TEST 11                     /* load access fault: no device at 0 / above RAM; mtval = address */
    EXPECT_TRAP
la0:
    ld t0, 0(zero)
    CHECK_TRAP CAUSE_LOAD_ACCESS
    CHECK_TVAL 0
    CHECK_EPC la0
    li t1, NODEV + 8
    EXPECT_TRAP
la1:
    lw t0, 0(t1)
    CHECK_TRAP CAUSE_LOAD_ACCESS
    CHECK_TVAL NODEV + 8
    CHECK_EPC la1

    TEST 12                     /* store access fault */
    li t1, NODEV + 16
    EXPECT_TRAP
sa1:
    sd t1, 0(t1)
    CHECK_TRAP CAUSE_STORE_ACCESS
    CHECK_TVAL NODEV + 16
    CHECK_EPC sa1
    li t1, 8
    EXPECT_TRAP
    sb t1, 0(t1)
    CHECK_TRAP CAUSE_STORE_ACCESS
    CHECK_TVAL 8

    TEST 13                     /* instruction access fault: mepc = mtval = target */
    li t1, NODEV
    EXPECT_TRAP_AT fa1
    jalr t1
fa1:
    CHECK_TRAP CAUSE_FETCH_ACCESS
    CHECK_TVAL NODEV
    CHECK_EQI s10, NODEV
    li t1, 0x100
    EXPECT_TRAP_AT fa2
    jr t1
fa2:
    CHECK_TRAP CAUSE_FETCH_ACCESS
    CHECK_TVAL 0x100
    CHECK_EQI s10, 0x100

    TEST 14                     /* access faults from S and U are taken in M too */
    GOTO_S
    li t1, NODEV + 0x40
    EXPECT_TRAP
    ld t0, 0(t1)
    CHECK_TRAP CAUSE_LOAD_ACCESS
    CHECK_TVAL NODEV + 0x40
    S_GOTO_U
    li t1, NODEV + 0x48
    EXPECT_TRAP
    sw t0, 0(t1)
    CHECK_TRAP CAUSE_STORE_ACCESS
    CHECK_TVAL NODEV + 0x48
    EXPECT_TRAP_AT fa3
    jalr t1
fa3:
    CHECK_TRAP CAUSE_FETCH_ACCESS
    CHECK_TVAL NODEV + 0x48
    GOTO_M

    TEST 15                     /* misaligned loads and stores are performed */
    la a0, mis_data
    li t0, 0x0706050403020100
    sd t0, 0(a0)
    li t0, 0x0f0e0d0c0b0a0908
    sd t0, 8(a0)
    ld t1, 1(a0)
    CHECK_EQI t1, 0x0807060504030201
    lw t1, 6(a0)
    CHECK_EQI t1, 0x09080706
    lwu t1, 13(a0)
    CHECK_EQI t1, 0x000000000f0e0d
    lh t1, 7(a0)
    CHECK_EQI t1, 0x0807
    lhu t1, 15(a0)
    CHECK_EQI t1, 0x0f           /* byte 16 is zero (mis_data is 24 bytes, last 8 zero) */
    li t0, 0x1122334455667788
    sd t0, 5(a0)
    ld t1, 0(a0)
    CHECK_EQI t1, 0x6677880403020100
    ld t1, 8(a0)
    CHECK_EQI t1, 0x0f0e0d1122334455
    li t0, 0xa1b2
    sh t0, 3(a0)
    lbu t1, 3(a0)
    CHECK_EQI t1, 0xb2
    lbu t1, 4(a0)
    CHECK_EQI t1, 0xa1
    li t0, -2
    sw t0, 11(a0)
    lw t1, 11(a0)
    CHECK_EQI t1, -2

    TEST 16                     /* misaligned LR traps with cause 4, SC/AMO with cause 6; memory untouched */
    la a0, mis_data
    addi a1, a0, 4
    EXPECT_TRAP
    lr.d t0, (a1)
    CHECK_TRAP CAUSE_LOAD_MISALIGNED
    CHECK_TVAL_R a1
    addi a1, a0, 2
    EXPECT_TRAP
    lr.w t0, (a1)
    CHECK_TRAP CAUSE_LOAD_MISALIGNED
    CHECK_TVAL_R a1
#ifndef PENV_QEMU
    /* (QEMU fails an SC without a reservation before checking alignment) */
    addi a1, a0, 4
    EXPECT_TRAP
    sc.d t0, t0, (a1)
    CHECK_TRAP CAUSE_STORE_MISALIGNED
    CHECK_TVAL_R a1
#endif
    addi a1, a0, 2
    li t0, 0x55
    EXPECT_TRAP
    amoadd.w t1, t0, (a1)
    CHECK_TRAP CAUSE_AMO_MISALIGNED
    CHECK_TVAL_R a1
    addi a1, a0, 12
    EXPECT_TRAP
    amoswap.d t1, t0, (a1)
    CHECK_TRAP CAUSE_AMO_MISALIGNED
    CHECK_TVAL_R a1
    addi a1, a0, 1
    EXPECT_TRAP
    amoor.w t1, t0, (a1)
    CHECK_TRAP CAUSE_AMO_MISALIGNED
    ld t1, 0(a0)
    CHECK_EQI t1, 0x667788a1b2020100
    ld t1, 8(a0)
    CHECK_EQI t1, 0x0ffffffffe334455

#ifndef PENV_QEMU
    /* (QEMU 7.2 aborts on this: assertion in translator_access) */
    TEST 17                     /* a 32-bit instruction straddling the end of RAM (128 MiB): fetch access
                                   fault, mepc = its start, mtval = the part that is not there */
    li a0, 0x87fffffe
    li t0, 0x0513               /* low half of addi a0, zero, 0x55 */
    sh t0, 0(a0)
    fence.i
    EXPECT_TRAP_AT 1f
    jalr a0
1:  CHECK_TRAP CAUSE_FETCH_ACCESS
    CHECK_EQI s10, 0x87fffffe
    CHECK_TVAL 0x88000000
#endif

    TEST 18                     /* 16-bit instructions in the last bytes of RAM run normally */
    li a1, 0x87fffffc
    li t0, 0x80824525           /* c.li a0, 9; c.jr ra */
    sw t0, 0(a1)
    fence.i
    li a0, 0
    jalr a1
    CHECK_EQI a0, 9

    TEST 19                     /* misaligned load/store running off the end of RAM: access fault,
                                   mtval = the access address or the first missing byte */
    li a1, 0x87fffffc
    EXPECT_TRAP
    ld t0, 0(a1)
    CHECK_TRAP CAUSE_LOAD_ACCESS
    li t6, 0x87fffffc
    beq s9, t6, 1f
    CHECK_TVAL 0x88000000
1:  li a1, 0x87fffffe
    EXPECT_TRAP
    sw t0, 0(a1)
    CHECK_TRAP CAUSE_STORE_ACCESS
    li t6, 0x87fffffe
    beq s9, t6, 1f
    CHECK_TVAL 0x88000000
1:

/* ================================================================ B. page faults (Sv39) and PTW access faults */

    TEST 20
    call build_sv39             /* s0 = root: identity gigapage for RAM, DATA_VA -> data_page (R only) */
    li t0, 0x1234
    la t1, data_page
    sd t0, 0(t1)
    GOTO_S
    li t1, DATA_VA
    ld t0, 0(t1)
    CHECK_EQI t0, 0x1234
    EXPECT_TRAP                 /* store to a read-only page: 15 */
pf1:
    sd t0, 8(t1)
    CHECK_TRAP CAUSE_STORE_PAGE
    CHECK_TVAL DATA_VA + 8
    CHECK_EPC pf1
    li t1, DATA_VA + 0x1010     /* unmapped page: 13 */
    EXPECT_TRAP
pf2:
    lhu t0, 0(t1)
    CHECK_TRAP CAUSE_LOAD_PAGE
    CHECK_TVAL DATA_VA + 0x1010
    CHECK_EPC pf2
    li t1, DATA_VA              /* fetch from a page without X: 12 */
    EXPECT_TRAP_AT pf3
    jalr t1
pf3:
    CHECK_TRAP CAUSE_FETCH_PAGE
    CHECK_TVAL DATA_VA
    CHECK_EQI s10, DATA_VA
    li t1, DATA_VA + 0x2000     /* fetch from an unmapped page */
    EXPECT_TRAP_AT pf4
    jalr t1
pf4:
    CHECK_TRAP CAUSE_FETCH_PAGE
    CHECK_TVAL DATA_VA + 0x2000
    li t1, DATA_VA + 0x3000     /* AMO on an unmapped page: store/AMO page fault */
    EXPECT_TRAP
    amoadd.d t0, t0, (t1)
    CHECK_TRAP CAUSE_AMO_PAGE
    CHECK_TVAL DATA_VA + 0x3000
    li t1, DATA_VA + 0x3000     /* LR on an unmapped page: load page fault */
    EXPECT_TRAP
    lr.d t0, (t1)
    CHECK_TRAP CAUSE_LOAD_PAGE
    CHECK_TVAL DATA_VA + 0x3000
    GOTO_M

    TEST 21                     /* delegated page faults go to S with scause/stval/sepc */
    li t0, (1 << CAUSE_FETCH_PAGE) | (1 << CAUSE_LOAD_PAGE) | (1 << CAUSE_STORE_PAGE)
    csrw medeleg, t0
    li t0, 11
    csrw mcause, t0
    GOTO_S
    li t1, DATA_VA
    EXPECT_TRAP
pf5:
    sw t0, 4(t1)
    CHECK_TRAP CAUSE_STORE_PAGE
    CHECK_TVAL DATA_VA + 4
    CHECK_EPC pf5
    csrr t0, scause
    CHECK_EQI t0, CAUSE_STORE_PAGE
    csrr t0, stval
    CHECK_EQI t0, DATA_VA + 4
    li t1, DATA_VA + 0x1000
    EXPECT_TRAP
    ld t0, 0(t1)
    CHECK_TRAP CAUSE_LOAD_PAGE
    CHECK_TVAL DATA_VA + 0x1000
    csrr t0, scause
    CHECK_EQI t0, CAUSE_LOAD_PAGE
    EXPECT_TRAP_AT pf6
    jalr t1
pf6:
    CHECK_TRAP CAUSE_FETCH_PAGE
    CHECK_TVAL DATA_VA + 0x1000
    csrr t0, scause
    CHECK_EQI t0, CAUSE_FETCH_PAGE
    GOTO_M
    csrr t0, mcause             /* M saw none of them (GOTO_M is an ecall from S: cause 9) */
    CHECK_EQI t0, CAUSE_ECALL_S
    csrw medeleg, zero

    TEST 22                     /* page-table walk hitting no memory: access fault of the access type */
    li t0, SATP_MODE(SATP_MODE_SV39) | (NODEV >> 12)
    csrw satp, t0
    sfence.vma
    li t0, MSTATUS_MPRV | MPP_S /* M-mode data accesses translated as S through the bogus table */
    csrs mstatus, t0
    li t1, DATA_VA
    EXPECT_TRAP
    ld t0, 0(t1)
    CHECK_TRAP CAUSE_PTW_LOAD
    CHECK_TVAL DATA_VA
    SET_MPP MPP_S               /* the trap set MPP to M */
    EXPECT_TRAP
    sd t0, 0(t1)
    CHECK_TRAP CAUSE_PTW_STORE
    CHECK_TVAL DATA_VA
    li t0, MSTATUS_MPRV | MSTATUS_MPP
    csrc mstatus, t0
    li t0, MPP_M
    csrs mstatus, t0
    csrw satp, zero
    sfence.vma

/* ================================================================ C. delegation */

    TEST 30                     /* U illegal instruction delegated to S: scause, stval = bits, sepc; SPP = U */
    li t0, 1 << CAUSE_ILLEGAL
    csrw medeleg, t0
    li t0, CAUSE_STORE_PAGE     /* sentinels: mcause must not change */
    csrw mcause, t0
    csrw scause, t0
    GOTO_S
    S_GOTO_U
    EXPECT_TRAP
dl1:
    .word 0xfe000033
    CHECK_TRAP CAUSE_ILLEGAL
    CHECK_TVAL 0xfe000033
    CHECK_EPC dl1
    GOTO_M                      /* the ecall (cause 8, not delegated) is taken in M */
    csrr t0, scause
    CHECK_EQI t0, CAUSE_ILLEGAL
    csrr t0, stval
    CHECK_EQI t0, 0xfe000033
    csrr t0, mcause
    CHECK_EQI t0, CAUSE_ECALL_U
    csrr t0, mstatus
    CHECK_BITS t0, MSTATUS_SPP, 0, t1

    TEST 31                     /* S illegal instruction delegated: taken in S */
    li t0, CAUSE_STORE_PAGE
    csrw mcause, t0
    GOTO_S
    li t0, CAUSE_STORE_PAGE
    csrw scause, t0
    EXPECT_TRAP
dl2:
    csrr t0, mstatus            /* S reading an M CSR */
    CHECK_TRAP CAUSE_ILLEGAL
    CHECK_TVAL_INSN dl2
    CHECK_EPC dl2
    csrr t0, scause
    CHECK_EQI t0, CAUSE_ILLEGAL
    csrr t0, stval
    CHECK_TVAL_INSN dl2
    GOTO_M
    csrr t0, mcause
    CHECK_EQI t0, CAUSE_ECALL_S

    TEST 32                     /* M-mode exceptions are never delegated */
    li t0, CAUSE_STORE_PAGE
    csrw scause, t0
    li t0, -1
    csrw medeleg, t0
    EXPECT_TRAP
dl3:
    .word 0xfe000033
    CHECK_TRAP CAUSE_ILLEGAL
    CHECK_EPC dl3
    csrr t0, mcause
    CHECK_EQI t0, CAUSE_ILLEGAL
    li a7, 0
    EXPECT_TRAP
    ecall
    CHECK_TRAP CAUSE_ECALL_M
    EXPECT_TRAP
    ebreak
    CHECK_TRAP CAUSE_BREAKPOINT
    EXPECT_TRAP
    ld t0, 0(zero)
    CHECK_TRAP CAUSE_LOAD_ACCESS
    csrr t0, scause
    CHECK_EQI t0, CAUSE_STORE_PAGE
    csrw medeleg, zero

    TEST 33                     /* ecall from U and breakpoint delegated */
    li t0, (1 << CAUSE_ECALL_U) | (1 << CAUSE_BREAKPOINT)
    csrw medeleg, t0
    GOTO_S
    S_GOTO_U
    li a7, 0
    EXPECT_TRAP
dl4:
    ecall
    CHECK_TRAP CAUSE_ECALL_U
    CHECK_EPC dl4
    CHECK_TVAL 0
    EXPECT_TRAP
dl5:
    ebreak
    CHECK_TRAP CAUSE_BREAKPOINT
    CHECK_EPC dl5
    GOTO_M                      /* forwarded by the S handler */
    csrr t0, scause
    CHECK_EQI t0, CAUSE_ECALL_U
    csrw medeleg, zero

    TEST 34                     /* ecall from S delegated to S (medeleg bit 9 is optional) */
    li t0, 1 << CAUSE_ECALL_S
    csrw medeleg, t0
    csrr t1, medeleg
    beqz t1, 2f
    li t0, CAUSE_STORE_PAGE
    csrw scause, t0
    GOTO_S
    li a7, 0
    EXPECT_TRAP
dl6:
    ecall
    /* no checks while S ecalls are delegated (a failing check ecalls); leave via a non-delegated trap */
    csrr t2, scause
    mv t3, s11
    mv t4, s8
    mv t5, s10
    EXPECT_TRAP_TO_M 1f
    .word 0xfe000033
1:  CHECK_EQI t3, 0
    CHECK_EQI t4, CAUSE_ECALL_S
    CHECK_EQI t2, CAUSE_ECALL_S
    CHECK_LA t5, dl6
2:  csrw medeleg, zero

    TEST 35                     /* access faults delegated from U */
    li t0, (1 << CAUSE_LOAD_ACCESS) | (1 << CAUSE_STORE_ACCESS) | (1 << CAUSE_FETCH_ACCESS)
    csrw medeleg, t0
    GOTO_U
    li t1, NODEV + 0x100
    EXPECT_TRAP
    ld t0, 0(t1)
    CHECK_TRAP CAUSE_LOAD_ACCESS
    CHECK_TVAL NODEV + 0x100
    EXPECT_TRAP
    sd t0, 0(t1)
    CHECK_TRAP CAUSE_STORE_ACCESS
    CHECK_TVAL NODEV + 0x100
    EXPECT_TRAP_AT dl7
    jalr t1
dl7:
    CHECK_TRAP CAUSE_FETCH_ACCESS
    CHECK_TVAL NODEV + 0x100
    GOTO_M
    csrr t0, scause
    CHECK_EQI t0, CAUSE_FETCH_ACCESS
    csrr t0, stval
    CHECK_EQI t0, NODEV + 0x100
    csrw medeleg, zero

/* ================================================================ D. trap vectors */

    TEST 40                     /* mtvec vectored: exceptions go to BASE */
    la t0, mvec_table
    ori t0, t0, 1
    csrw mtvec, t0
    csrr t1, mtvec
    CHECK_EQ t0, t1
    EXPECT_TRAP
    .word 0xfe000033
    CHECK_TRAP CAUSE_ILLEGAL
    la t0, mvec_hits            /* ... through entry 0 */
    ld t1, 0(t0)
    CHECK_EQI t1, 1
    sd zero, 0(t0)

    TEST 41                     /* mtvec vectored: an interrupt goes to BASE + 4 * cause */
    li s7, 0
    li t0, MIP_SSIP
    csrs mie, t0
    csrs mip, t0
    csrsi mstatus, MSTATUS_MIE  /* SSI pending + enabled + MIE: taken here */
    nop
    nop
    csrci mstatus, MSTATUS_MIE
    CHECK_EQI s7, CAUSE_INTR | IRQ_SSI  /* recorded by vector entry 1 */
    csrw mie, zero
    RESTORE_MTVEC
    la t0, mvec_hits
    ld t1, 0(t0)
    CHECK_EQI t1, 0             /* entry 0 not used */

    TEST 42                     /* stvec vectored: delegated exception goes to BASE, interrupt to BASE + 4*cause */
    la t0, svec_table
    ori t0, t0, 1
    csrw stvec, t0
    csrr t1, stvec
    CHECK_EQ t0, t1
    li t0, 1 << CAUSE_ILLEGAL
    csrw medeleg, t0
    li t0, MIP_SSIP
    csrw mideleg, t0
    GOTO_S
    EXPECT_TRAP
    .word 0xfe000033
    CHECK_TRAP CAUSE_ILLEGAL
    li s7, 0
    csrsi sie, MIP_SSIP
    csrsi sip, MIP_SSIP
    csrsi sstatus, MSTATUS_SIE
    nop
    nop
    csrci sstatus, MSTATUS_SIE
    CHECK_EQI s7, CAUSE_INTR | IRQ_SSI
    GOTO_M
    la t0, svec_hits
    ld t1, 0(t0)
    CHECK_NEI t1, 0
    csrw medeleg, zero
    csrw mideleg, zero
    csrw mie, zero
    RESTORE_STVEC

    TEST 43                     /* direct mode: interrupts go to BASE as well */
    li t0, MIP_SSIP
    csrs mie, t0
    csrs mip, t0
    li s11, 1
    csrsi mstatus, MSTATUS_MIE
    nop
    nop
    csrci mstatus, MSTATUS_MIE
    CHECK_TRAP CAUSE_INTR | IRQ_SSI
    li t0, MIP_SSIP
    csrc mip, t0

/* ================================================================ E. mstatus state on trap entry and xRET */

    TEST 50                     /* trap from U with MIE = 1: MPP = U, MPIE = 1, MIE = 0 */
    USE_MREC
    li t0, MSTATUS_MPP
    csrc mstatus, t0
    li t0, MSTATUS_MPIE
    csrs mstatus, t0
    la t0, 1f
    csrw mepc, t0
    mret
1:  li a7, 0
    ecall
    GOTO_M                      /* the recorder chains magic ecalls to the default handler */
    CHECK_EQI s8, CAUSE_ECALL_U
    CHECK_BITS s9, MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_MIE, MPP_U | MSTATUS_MPIE, t0
    csrr t0, mstatus            /* U had MIE = 1, and GOTO_M's mret restored it */
    CHECK_BITS t0, MSTATUS_MIE | MSTATUS_MPP, MSTATUS_MIE, t1
    csrci mstatus, MSTATUS_MIE

    TEST 51                     /* trap from S with MIE = 0: MPP = S, MPIE = 0 */
    GOTO_S
    li a7, 0
    ecall
    GOTO_M
    CHECK_EQI s8, CAUSE_ECALL_S
    CHECK_BITS s9, MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_MIE, MPP_S, t0

    TEST 52                     /* trap from M with MIE = 1; MRET: MIE = MPIE, MPIE = 1, MPP = U */
    csrsi mstatus, MSTATUS_MIE
    li a7, 0
    ecall
    csrr t1, mstatus
    CHECK_EQI s8, CAUSE_ECALL_M
    CHECK_BITS s9, MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_MIE, MPP_M | MSTATUS_MPIE, t0
    CHECK_BITS t1, MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_MIE, MPP_U | MSTATUS_MPIE | MSTATUS_MIE, t0
    csrci mstatus, MSTATUS_MIE

    TEST 53                     /* MRET to S clears MPRV; MRET to M keeps it */
    li t0, MSTATUS_MPP | MSTATUS_MPIE
    csrc mstatus, t0
    li t0, MPP_S | MSTATUS_MPRV
    csrs mstatus, t0
    la t0, 1f
    csrw mepc, t0
    mret
1:  li a7, 0
    ecall
    GOTO_M
    CHECK_EQI s8, CAUSE_ECALL_S
#ifdef PENV_QEMU
    CHECK_BITS s9, MSTATUS_MPP, MPP_S, t0   /* QEMU 7.2 does not clear MPRV on MRET (priv 1.12 does) */
#else
    CHECK_BITS s9, MSTATUS_MPRV | MSTATUS_MPP, MPP_S, t0
#endif
    li t0, MPP_M | MSTATUS_MPRV
    csrs mstatus, t0
    la t0, 1f
    csrw mepc, t0
    mret
1:  csrr t0, mstatus
    CHECK_BITS t0, MSTATUS_MPRV | MSTATUS_MPP, MSTATUS_MPRV | MPP_U, t1
    li t0, MSTATUS_MPRV
    csrc mstatus, t0

    TEST 54                     /* MPP is WARL: the reserved value 2 is not kept */
    li t0, MSTATUS_MPP
    csrc mstatus, t0
    li t0, 2 << 11
    csrs mstatus, t0
    csrr t0, mstatus
    li t1, MSTATUS_MPP
    and t0, t0, t1
#ifndef PENV_QEMU
    CHECK_NEI t0, 2 << 11       /* QEMU 7.2 keeps the reserved value */
#endif
    SET_MPP MPP_M

    TEST 55                     /* SRET in S: SIE = SPIE, SPIE = 1, SPP = U; stays in S when SPP was S */
    GOTO_S
    li t0, MSTATUS_SIE
    csrc sstatus, t0
    li t0, MSTATUS_SPIE | MSTATUS_SPP
    csrs sstatus, t0
    la t0, 1f
    csrw sepc, t0
    sret
1:  csrr t0, sstatus
    CHECK_BITS t0, MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP, MSTATUS_SIE | MSTATUS_SPIE, t1
    li a7, 0
    ecall                       /* still in S */
    CHECK_EQI s8, CAUSE_ECALL_S
    csrci sstatus, MSTATUS_SIE
    li t0, MSTATUS_SPP          /* SRET with SPP = U goes to U */
    csrc sstatus, t0
    la t0, 1f
    csrw sepc, t0
    sret
1:  li a7, 0
    ecall
    CHECK_EQI s8, CAUSE_ECALL_U
    GOTO_M

    TEST 56                     /* SRET executed in M (TSR only concerns S): goes to SPP's mode, clears MPRV */
    li t0, MSTATUS_MPRV | MSTATUS_SPP | MSTATUS_TSR
    csrs mstatus, t0
    la t0, 1f
    csrw sepc, t0
    sret
1:  li a7, 0
    ecall
    GOTO_M
    CHECK_EQI s8, CAUSE_ECALL_S
#ifndef PENV_QEMU
    CHECK_BITS s9, MSTATUS_MPRV, 0, t0      /* (not on QEMU 7.2, see TEST 53) */
#endif
    li t0, MSTATUS_MPRV | MSTATUS_TSR
    csrc mstatus, t0

    TEST 57                     /* delegated trap from U with SIE = 1: SPP = U, SPIE = 1, SIE = 0 */
    RESTORE_MTVEC
    USE_SREC
    li t0, 1 << CAUSE_ILLEGAL
    csrw medeleg, t0
    GOTO_S
    li t0, MSTATUS_SPP
    csrc sstatus, t0
    li t0, MSTATUS_SPIE
    csrs sstatus, t0
    la t0, 1f
    csrw sepc, t0
    sret
1:  .word 0xfe000033
    csrr t0, 0x0ff              /* a second illegal instruction (still U, with SIE restored to 1) */
    GOTO_M
    CHECK_EQI s8, CAUSE_ILLEGAL
    CHECK_BITS s9, MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_SIE, MSTATUS_SPIE, t0
    csrr t0, mstatus
    CHECK_BITS t0, MSTATUS_SIE, MSTATUS_SIE, t1
    csrci mstatus, MSTATUS_SIE

    TEST 58                     /* delegated trap from S with SIE = 0: SPP = S, SPIE = 0 */
    GOTO_S
    csrci sstatus, MSTATUS_SIE
    .word 0xfe000033
    csrr t1, sstatus            /* sret of the recorder: SIE = SPIE = 0, SPIE = 1, SPP = U */
    GOTO_M
    CHECK_EQI s8, CAUSE_ILLEGAL
    CHECK_BITS s9, MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_SIE, MSTATUS_SPP, t0
    CHECK_BITS t1, MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_SIE, MSTATUS_SPIE, t0
    csrw medeleg, zero
    RESTORE_STVEC

/* ================================================================ F. MPRV, SUM, MXR */

    TEST 60                     /* MPRV with MPP = S: M-mode loads and stores go through the page table */
    call build_sv39
    li t0, 0x5a5a
    la t1, data_page
    sd t0, 16(t1)
    li t0, MSTATUS_MPP
    csrc mstatus, t0
    li t0, MSTATUS_MPRV | MPP_S
    csrs mstatus, t0
    li t1, DATA_VA
    ld t2, 16(t1)               /* DATA_VA + 16 -> data_page + 16 */
    CHECK_EQI t2, 0x5a5a
    EXPECT_TRAP                 /* read-only page */
    sd t2, 16(t1)
    CHECK_TRAP CAUSE_STORE_PAGE
    CHECK_TVAL DATA_VA + 16
    SET_MPP MPP_S               /* the trap set MPP = M */
    li t1, DATA_VA + 0x1000     /* unmapped */
    EXPECT_TRAP
    lw t2, 0(t1)
    CHECK_TRAP CAUSE_LOAD_PAGE
    CHECK_TVAL DATA_VA + 0x1000
    /* instruction fetch is not affected by MPRV: we are still running at physical addresses */

    TEST 61                     /* MPRV with MPP = U: a non-U page faults, a U page works */
    li t0, MSTATUS_MPP
    csrc mstatus, t0            /* MPP = U */
    li t1, DATA_VA
    EXPECT_TRAP
    ld t2, 16(t1)
    CHECK_TRAP CAUSE_LOAD_PAGE
    CHECK_TVAL DATA_VA + 16
    li t0, MSTATUS_MPP
    csrc mstatus, t0
    li t1, DATA_VA + 0x4000     /* U page, RW */
    ld t2, 16(t1)
    CHECK_EQI t2, 0x5a5a
    li t2, 0x777
    sd t2, 24(t1)
    la t0, data_page            /* (a physical address: MPP is still U, so switch MPRV off first) */
    li t3, MSTATUS_MPRV
    csrc mstatus, t3
    ld t2, 24(t0)
    CHECK_EQI t2, 0x777

    TEST 62                     /* MPRV with MPP = S and a U page: SUM decides */
    li t0, MSTATUS_MPRV | MPP_S
    csrs mstatus, t0
    li t1, DATA_VA + 0x4000
    EXPECT_TRAP
    ld t2, 16(t1)
    CHECK_TRAP CAUSE_LOAD_PAGE
    SET_MPP MPP_S
    li t0, MSTATUS_SUM
    csrs mstatus, t0
    ld t2, 16(t1)
    CHECK_EQI t2, 0x5a5a
    li t0, MSTATUS_SUM
    csrc mstatus, t0

    TEST 63                     /* MPRV with an execute-only page: MXR decides */
    li t1, DATA_VA + 0x5000
    EXPECT_TRAP
    ld t2, 16(t1)
    CHECK_TRAP CAUSE_LOAD_PAGE
    SET_MPP MPP_S
    li t0, MSTATUS_MXR
    csrs mstatus, t0
    ld t2, 16(t1)
    CHECK_EQI t2, 0x5a5a
    EXPECT_TRAP                 /* MXR does not make it writable */
    sd t2, 16(t1)
    CHECK_TRAP CAUSE_STORE_PAGE
    li t0, MSTATUS_MXR | MSTATUS_MPRV | MSTATUS_MPP
    csrc mstatus, t0
    li t0, MPP_M
    csrs mstatus, t0

    TEST 64                     /* SUM and MXR in S-mode */
    GOTO_S
    li t1, DATA_VA + 0x4000     /* U page from S, SUM = 0: load and store fault */
    EXPECT_TRAP
    ld t2, 16(t1)
    CHECK_TRAP CAUSE_LOAD_PAGE
    EXPECT_TRAP
    sd t2, 16(t1)
    CHECK_TRAP CAUSE_STORE_PAGE
    li t0, MSTATUS_SUM
    csrs sstatus, t0
    ld t2, 16(t1)
    CHECK_EQI t2, 0x5a5a
    sd t2, 32(t1)
    EXPECT_TRAP_AT 1f           /* S never executes U pages, even with SUM = 1 */
    li t3, DATA_VA + 0x6000     /* U page with RWX */
    jalr t3
1:  CHECK_TRAP CAUSE_FETCH_PAGE
    CHECK_TVAL DATA_VA + 0x6000
    li t0, MSTATUS_SUM
    csrc sstatus, t0
    li t1, DATA_VA + 0x5000     /* X-only page */
    EXPECT_TRAP
    ld t2, 16(t1)
    CHECK_TRAP CAUSE_LOAD_PAGE
    li t0, MSTATUS_MXR
    csrs sstatus, t0
    ld t2, 16(t1)
    CHECK_EQI t2, 0x5a5a
    li t0, MSTATUS_MXR
    csrc sstatus, t0
    GOTO_M

/* ================================================================ G. TVM, TW, TSR and other privileged instructions */

    TEST 70                     /* TVM = 0: S may use satp and sfence.vma */
    GOTO_S
    csrr t0, satp
    csrw satp, t0
    sfence.vma
    GOTO_M
    li t0, MSTATUS_TVM
    csrs mstatus, t0

    TEST 71                     /* TVM = 1: satp access and sfence.vma in S trap */
    GOTO_S
    EXPECT_TRAP
tvm1:
    csrr t0, satp
    CHECK_TRAP CAUSE_ILLEGAL
    CHECK_TVAL_INSN tvm1
    EXPECT_TRAP
tvm2:
    csrw satp, zero
    CHECK_TRAP CAUSE_ILLEGAL
    CHECK_TVAL_INSN tvm2
    EXPECT_TRAP
tvm3:
    sfence.vma
    CHECK_TRAP CAUSE_ILLEGAL
    CHECK_TVAL_INSN tvm3
    GOTO_M
    csrr t0, satp               /* M is not affected */
    CHECK_NEI t0, 0
    sfence.vma
    li t0, MSTATUS_TVM
    csrc mstatus, t0
    csrw satp, zero             /* U-mode code below runs untranslated */
    sfence.vma

    TEST 72                     /* TW = 1: wfi in S traps */
    li t0, MSTATUS_TW
    csrs mstatus, t0
    GOTO_S
    EXPECT_TRAP
tw1:
    wfi
    CHECK_TRAP CAUSE_ILLEGAL
    CHECK_TVAL_INSN tw1
    GOTO_M
    li t0, MSTATUS_TW
    csrc mstatus, t0

    TEST 73                     /* TSR = 1: sret in S traps; TSR = 0: it works */
    li t0, MSTATUS_TSR
    csrs mstatus, t0
    GOTO_S
    EXPECT_TRAP
tsr1:
    sret
    CHECK_TRAP CAUSE_ILLEGAL
    CHECK_TVAL_INSN tsr1
    GOTO_M
    li t0, MSTATUS_TSR
    csrc mstatus, t0

    TEST 74                     /* mret in S and U, sret / sfence.vma in U: illegal */
    GOTO_S
    EXPECT_TRAP
pi1:
    mret
    CHECK_TRAP CAUSE_ILLEGAL
    CHECK_TVAL_INSN pi1
    S_GOTO_U
    EXPECT_TRAP
pi2:
    mret
    CHECK_TRAP CAUSE_ILLEGAL
    CHECK_TVAL_INSN pi2
    EXPECT_TRAP
pi3:
    sret
    CHECK_TRAP CAUSE_ILLEGAL
    CHECK_TVAL_INSN pi3
    EXPECT_TRAP
pi4:
    sfence.vma
    CHECK_TRAP CAUSE_ILLEGAL
    CHECK_TVAL_INSN pi4
    GOTO_M
    csrw satp, zero
    sfence.vma

/* ================================================================ H. CSR privilege and read-only checks */

    TEST 80                     /* S-mode touching M CSRs */
    GOTO_S
    EXPECT_TRAP
cp1:
    csrr t0, mhartid
    CHECK_TRAP CAUSE_ILLEGAL
    CHECK_TVAL_INSN cp1
    EXPECT_TRAP
cp2:
    csrw mscratch, t0
    CHECK_TRAP CAUSE_ILLEGAL
    CHECK_TVAL_INSN cp2
    EXPECT_TRAP
cp3:
    csrs mie, t0
    CHECK_TRAP CAUSE_ILLEGAL
    EXPECT_TRAP
cp4:
    csrr t0, mepc
    CHECK_TRAP CAUSE_ILLEGAL
    EXPECT_TRAP
    csrr t0, pmpcfg0
    CHECK_TRAP CAUSE_ILLEGAL
    csrr t0, sscratch           /* S CSRs are fine */
    csrr t0, sstatus

    TEST 81                     /* U-mode touching S and M CSRs */
    S_GOTO_U
    EXPECT_TRAP
cp5:
    csrr t0, sstatus
    CHECK_TRAP CAUSE_ILLEGAL
    CHECK_TVAL_INSN cp5
    EXPECT_TRAP
    csrw sscratch, t0
    CHECK_TRAP CAUSE_ILLEGAL
    EXPECT_TRAP
    csrr t0, mstatus
    CHECK_TRAP CAUSE_ILLEGAL
    EXPECT_TRAP
    csrr t0, satp
    CHECK_TRAP CAUSE_ILLEGAL
    GOTO_M

    TEST 82                     /* writing read-only CSRs traps, also with csrrw rd = x0 */
    EXPECT_TRAP
ro1:
    csrw mhartid, t0
    CHECK_TRAP CAUSE_ILLEGAL
    CHECK_TVAL_INSN ro1
    EXPECT_TRAP
ro2:
    csrrw x0, mvendorid, zero
    CHECK_TRAP CAUSE_ILLEGAL
    CHECK_TVAL_INSN ro2
    EXPECT_TRAP
ro3:
    csrw cycle, zero
    CHECK_TRAP CAUSE_ILLEGAL
    CHECK_TVAL_INSN ro3
    EXPECT_TRAP
    csrw instret, zero
    CHECK_TRAP CAUSE_ILLEGAL
    EXPECT_TRAP
    csrwi marchid, 0
    CHECK_TRAP CAUSE_ILLEGAL
#ifndef PENV_QEMU
    li t1, 0                    /* csrrs with rs1 != x0 is a write even when the value is 0 (not on QEMU 7.2) */
    EXPECT_TRAP
    csrrs t0, mhartid, t1
    CHECK_TRAP CAUSE_ILLEGAL
#endif
    EXPECT_TRAP
    csrrci t0, mimpid, 1
    CHECK_TRAP CAUSE_ILLEGAL

    TEST 83                     /* csrrs/csrrc with rs1 = x0 and csrrsi/csrrci with 0 do not write: no trap */
    li t0, -1
    csrrs t0, mhartid, x0
    CHECK_EQI t0, 0
    li t0, -1
    csrrc t0, mvendorid, x0
    CHECK_EQI t0, 0
    csrrsi t0, cycle, 0
    csrrci t0, instret, 0
    csrrs t0, marchid, x0
    csrrs t0, mimpid, x0
    li t1, 0x1234               /* and on a writable CSR the value is unchanged */
    csrw mscratch, t1
    csrrs t0, mscratch, x0
    csrrc t2, mscratch, x0
    csrrsi t3, mscratch, 0
    csrrci t4, mscratch, 0
    csrr t5, mscratch
    CHECK_EQI t0, 0x1234
    CHECK_EQI t2, 0x1234
    CHECK_EQI t3, 0x1234
    CHECK_EQI t4, 0x1234
    CHECK_EQI t5, 0x1234

    TEST 84                     /* csrrw/csrrwi with rd = x0 write; the other forms return the old value */
    li t1, 0x5678
    csrrw x0, mscratch, t1
    csrr t0, mscratch
    CHECK_EQI t0, 0x5678
    csrrwi x0, mscratch, 0x1f
    csrr t0, mscratch
    CHECK_EQI t0, 0x1f
    li t1, 0x300
    csrrs t0, mscratch, t1
    CHECK_EQI t0, 0x1f
    li t1, 0x11
    csrrc t0, mscratch, t1
    CHECK_EQI t0, 0x31f
    csrrwi t0, mscratch, 3
    CHECK_EQI t0, 0x30e
    csrrsi t0, mscratch, 0x10
    CHECK_EQI t0, 3
    csrrci t0, mscratch, 1
    CHECK_EQI t0, 0x13
    csrr t0, mscratch
    CHECK_EQI t0, 0x12
    li t1, 0xabc                /* rd == rs1 */
    csrw sscratch, t1
    li t1, 0xdef
    csrrw t1, sscratch, t1
    CHECK_EQI t1, 0xabc
    csrr t1, sscratch
    CHECK_EQI t1, 0xdef

/* ================================================================ I. counter enables */

    TEST 90                     /* mcounteren = 0: S cannot read cycle/instret/time, M can */
    csrw mcounteren, zero
    csrw scounteren, zero
    csrr t0, cycle
    csrr t0, instret
#ifndef PENV_NO_TIME
    csrr t0, time
#endif
    GOTO_S
    EXPECT_TRAP
cn1:
    csrr t0, cycle
    CHECK_TRAP CAUSE_ILLEGAL
    CHECK_TVAL_INSN cn1
    EXPECT_TRAP
    csrr t0, instret
    CHECK_TRAP CAUSE_ILLEGAL
#ifndef PENV_NO_TIME
    EXPECT_TRAP
    csrr t0, time
    CHECK_TRAP CAUSE_ILLEGAL
#endif
    S_GOTO_U
    EXPECT_TRAP
    csrr t0, cycle
    CHECK_TRAP CAUSE_ILLEGAL
    GOTO_M

    TEST 91                     /* mcounteren = all, scounteren = 0: S reads, U traps */
    li t0, 7
    csrw mcounteren, t0
    GOTO_S
    csrr t0, cycle
    csrr t0, instret
#ifndef PENV_NO_TIME
    csrr t0, time
#endif
    S_GOTO_U
    EXPECT_TRAP
    csrr t0, cycle
    CHECK_TRAP CAUSE_ILLEGAL
    EXPECT_TRAP
    csrr t0, instret
    CHECK_TRAP CAUSE_ILLEGAL
#ifndef PENV_NO_TIME
    EXPECT_TRAP
    csrr t0, time
    CHECK_TRAP CAUSE_ILLEGAL
#endif
    GOTO_M

    TEST 92                     /* both enabled: U reads; instret counts */
    li t0, 7
    csrw scounteren, t0
    GOTO_U
    csrr t0, cycle
    csrr t1, instret
    nop
    nop
    csrr t2, instret
    sub t2, t2, t1
#ifndef PENV_QEMU
    CHECK_EQI t2, 3             /* QEMU without -icount derives instret from the host clock */
#endif
#ifndef PENV_NO_TIME
    csrr t0, time
#endif
    GOTO_M

    TEST 93                     /* bits are per counter: mcounteren = CY only */
    li t0, 1
    csrw mcounteren, t0
    GOTO_U
    csrr t0, cycle
    EXPECT_TRAP
    csrr t0, instret
    CHECK_TRAP CAUSE_ILLEGAL
#ifndef PENV_NO_TIME
    EXPECT_TRAP
    csrr t0, time
    CHECK_TRAP CAUSE_ILLEGAL
#endif
    GOTO_M
    li t0, 4                    /* IR only, scounteren = TM only: U can read nothing */
    csrw mcounteren, t0
    li t0, 2
    csrw scounteren, t0
    GOTO_U
    EXPECT_TRAP
    csrr t0, instret
    CHECK_TRAP CAUSE_ILLEGAL
    EXPECT_TRAP
    csrr t0, cycle
    CHECK_TRAP CAUSE_ILLEGAL
    GOTO_M
    csrw mcounteren, zero
    csrw scounteren, zero

/* ================================================================ J. cache-block operations and their enables */
#ifndef PENV_QEMU               /* (QEMU 7.2 implements neither Zicbom nor Zicboz) */

    TEST 100                    /* cbo.zero clears the 64-byte block that contains the address */
    la a0, cmo_buf
    li t0, -1
    li t1, 0
1:  add t2, a0, t1
    sd t0, 0(t2)
    addi t1, t1, 8
    li t2, 128
    bne t1, t2, 1b
    addi a1, a0, 0x13
    cbo.zero (a1)
    li t1, 0
1:  add t2, a0, t1
    ld t3, 0(t2)
    li t4, 64
    slt t4, t1, t4              /* 1 in the first block */
    addi t4, t4, -1             /* 0 there, -1 in the second block */
    CHECK_EQ t3, t4
    addi t1, t1, 8
    li t2, 128
    bne t1, t2, 1b

    TEST 101                    /* cbo.zero below M needs menvcfg.CBZE, and in U also senvcfg.CBZE */
    csrw CSR_MENVCFG, zero
    csrw CSR_SENVCFG, zero
    la a0, cmo_buf
    li t0, -1
    sd t0, 0(a0)
    cbo.zero (a0)               /* M: always */
    ld t1, 0(a0)
    CHECK_EQI t1, 0
    GOTO_S
    EXPECT_TRAP
cz1:
    cbo.zero (a0)
    CHECK_TRAP CAUSE_ILLEGAL
    CHECK_TVAL_INSN cz1
    S_GOTO_U
    EXPECT_TRAP
    cbo.zero (a0)
    CHECK_TRAP CAUSE_ILLEGAL
    GOTO_M
    li t0, ENVCFG_CBZE
    csrs CSR_MENVCFG, t0
    li t0, -1
    sd t0, 0(a0)
    GOTO_S
    cbo.zero (a0)
    ld t1, 0(a0)
    CHECK_EQI t1, 0
    S_GOTO_U
    EXPECT_TRAP
    cbo.zero (a0)
    CHECK_TRAP CAUSE_ILLEGAL
    GOTO_M
    li t0, ENVCFG_CBZE
    csrs CSR_SENVCFG, t0
    li t0, -1
    sd t0, 0(a0)
    GOTO_U
    cbo.zero (a0)
    ld t1, 0(a0)
    CHECK_EQI t1, 0
    GOTO_M

    TEST 102                    /* cbo.clean / cbo.flush need CBCFE */
    csrw CSR_MENVCFG, zero
    csrw CSR_SENVCFG, zero
    cbo.clean (a0)
    cbo.flush (a0)
    GOTO_S
    EXPECT_TRAP
cc1:
    cbo.clean (a0)
    CHECK_TRAP CAUSE_ILLEGAL
    CHECK_TVAL_INSN cc1
    EXPECT_TRAP
    cbo.flush (a0)
    CHECK_TRAP CAUSE_ILLEGAL
    GOTO_M
    li t0, ENVCFG_CBCFE
    csrs CSR_MENVCFG, t0
    GOTO_S
    cbo.clean (a0)
    cbo.flush (a0)
    S_GOTO_U
    EXPECT_TRAP
    cbo.clean (a0)
    CHECK_TRAP CAUSE_ILLEGAL
    EXPECT_TRAP
    cbo.flush (a0)
    CHECK_TRAP CAUSE_ILLEGAL
    GOTO_M
    li t0, ENVCFG_CBCFE
    csrs CSR_SENVCFG, t0
    GOTO_U
    cbo.clean (a0)
    cbo.flush (a0)
    GOTO_M

    TEST 103                    /* cbo.inval needs CBIE != 00 (01: flush, 11: invalidate) */
    csrw CSR_MENVCFG, zero
    csrw CSR_SENVCFG, zero
    li t0, 0x77
    sd t0, 0(a0)
    cbo.inval (a0)              /* M: always */
    GOTO_S
    EXPECT_TRAP
ci1:
    cbo.inval (a0)
    CHECK_TRAP CAUSE_ILLEGAL
    CHECK_TVAL_INSN ci1
    GOTO_M
    li t0, 1 << 4               /* CBIE = 01 */
    csrs CSR_MENVCFG, t0
    GOTO_S
    cbo.inval (a0)
    S_GOTO_U
    EXPECT_TRAP
    cbo.inval (a0)
    CHECK_TRAP CAUSE_ILLEGAL
    GOTO_M
    li t0, ENVCFG_CBIE          /* CBIE = 11 */
    csrs CSR_MENVCFG, t0
    li t0, 1 << 4
    csrs CSR_SENVCFG, t0
    GOTO_U
    cbo.inval (a0)
    GOTO_M
    ld t1, 0(a0)                /* (no caches: the data is still there) */
    CHECK_EQI t1, 0x77

    TEST 104                    /* cbo.zero is a store for translation and protection */
    li t0, ENVCFG_CBZE
    csrw CSR_MENVCFG, t0
    call build_sv39
    GOTO_S
    li t1, DATA_VA              /* read-only page */
    EXPECT_TRAP
    cbo.zero (t1)
    CHECK_TRAP CAUSE_STORE_PAGE
    li t1, DATA_VA + 0x1000     /* unmapped */
    EXPECT_TRAP
    cbo.zero (t1)
    CHECK_TRAP CAUSE_STORE_PAGE
    li t1, DATA_VA + 0x4000     /* U page from S without SUM */
    EXPECT_TRAP
    cbo.zero (t1)
    CHECK_TRAP CAUSE_STORE_PAGE
    GOTO_M
    csrw satp, zero
    sfence.vma
    csrw CSR_MENVCFG, zero
    csrw CSR_SENVCFG, zero
#endif

    PASS

/* ================================================================ helpers */

/* s0 = a fresh Sv39 root; satp set.  Mappings:
 *   0x80000000  1 GiB identity, RWX (not U)
 *   DATA_VA          -> data_page  R
 *   DATA_VA + 0x4000 -> data_page  RW U
 *   DATA_VA + 0x5000 -> data_page  X
 *   DATA_VA + 0x6000 -> data_page  RWX U
 * clobbers a0-a5, t0-t5, s0 */
build_sv39:
    addi sp, sp, -16
    sd ra, 0(sp)
    call penv_pt_reset
    call penv_alloc_page
    mv s0, a0
    li a5, 3
    li a1, 0x80000000
    li a2, 0x80000000
    li a3, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D
    li a4, 2
    mv a0, s0
    call penv_map
    li a4, 0
    la a2, data_page
    li a1, DATA_VA
    li a3, PTE_V | PTE_R | PTE_A | PTE_D
    mv a0, s0
    call penv_map
    li a1, DATA_VA + 0x4000
    li a3, PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D
    mv a0, s0
    call penv_map
    li a1, DATA_VA + 0x5000
    li a3, PTE_V | PTE_X | PTE_A | PTE_D
    mv a0, s0
    call penv_map
    li a1, DATA_VA + 0x6000
    li a3, PTE_V | PTE_R | PTE_W | PTE_X | PTE_U | PTE_A | PTE_D
    mv a0, s0
    call penv_map
    srli t0, s0, 12
    li t1, SATP_MODE(SATP_MODE_SV39)
    or t0, t0, t1
    csrw satp, t0
    sfence.vma
    ld ra, 0(sp)
    addi sp, sp, 16
    ret

/* recording M handler: s8 = mcause, s9 = mstatus, s10 = mepc; resumes after the instruction.
 * Magic ecalls (GOTO_M, failures) are passed on to the default handler. */
    .align 6
mtrap_rec:
    csrw mscratch, t0
    csrr t0, mcause           /* an ecall (cause 8..11) ... */
    addi t0, t0, -8
    bltz t0, 1f
    addi t0, t0, -3
    bgtz t0, 1f
    srli t0, a7, 12             /* ... with a magic number */
    addi t0, t0, -(PENV_ECALL_TO_M >> 12)
    bnez t0, 1f
    csrr t0, mscratch
    j penv_mtrap
1:  csrr s8, mcause
    csrr s9, mstatus
    csrr s10, mepc
    addi t0, s10, 4
    csrw mepc, t0
    csrr t0, mscratch
    li s11, 0
    mret

/* recording S handler: s8 = scause, s9 = sstatus, s10 = sepc; resumes after the instruction */
    .align 6
strap_rec:
    csrw sscratch, t0
    csrr t0, scause           /* an ecall (cause 8..11) ... */
    addi t0, t0, -8
    bltz t0, 1f
    addi t0, t0, -3
    bgtz t0, 1f
    srli t0, a7, 12             /* ... with a magic number */
    addi t0, t0, -(PENV_ECALL_TO_M >> 12)
    bnez t0, 1f
    csrr t0, sscratch
    j penv_strap
1:  csrr s8, scause
    csrr s9, sstatus
    csrr s10, sepc
    addi t0, s10, 4
    csrw sepc, t0
    csrr t0, sscratch
    li s11, 0
    sret

/* vectored M table: entry 0 (exceptions) counts and chains to the default handler;
 * entry 1 (SSI) records the cause in s7 and clears mip.SSIP; other entries fail */
    .align 8
mvec_table:
    j mvec_exc
    j mvec_irq                  /* entry 1: SSI */
    .rept 14
    j mvec_bad
    .endr
mvec_exc:
    csrw mscratch, t0
    la t0, mvec_hits
    sd t1, 8(t0)
    li t1, 1
    sd t1, 0(t0)
    ld t1, 8(t0)
    csrr t0, mscratch
    j penv_mtrap
mvec_irq:
    /* check that we arrived through entry 1 by looking at mcause */
    csrr s7, mcause
    csrw mscratch, t0
    li t0, MIP_SSIP
    csrc mip, t0
    csrr t0, mscratch
    mret
mvec_bad:
    li s7, -1
    csrw mie, zero
    mret

    .align 8
svec_table:
    j svec_exc
    j svec_ssi                  /* entry 1 */
    .rept 14
    j svec_bad
    .endr
svec_exc:
    csrw sscratch, t0
    la t0, svec_hits            /* (S runs untranslated here: satp = 0) */
    sd t0, 0(t0)
    csrr t0, sscratch
    j penv_strap
svec_ssi:
    csrr s7, scause
    csrci sip, MIP_SSIP
    sret
svec_bad:
    li s7, -1
    csrw sie, zero
    sret

    .data
    .align 3
mvec_hits: .dword 0, 0
svec_hits: .dword 0
mis_data:  .dword 0, 0, 0
    .align 6
cmo_buf:   .skip 128

    .section .pagedata, "aw", @nobits
    .align 12
data_page: .skip 4096
