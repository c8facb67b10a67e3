/*
 * pmp.S - physical memory protection: CSR WARL behaviour, default deny for S/U, NAPOT/TOR/NA4 matching,
 * priority and partial matches, R/W/X for S and U, M-mode exemption, MPRV and page-table walks,
 * an OpenSBI-style configuration, and (last, since they cannot be undone) locked entries.
 *
 * penv starts with entry 15 = NAPOT over all of memory, RWX; tests change entries 0-14 and restore it.
 */
#include "penv.h"

/* set the configuration byte of PMP entry i (clobbers t6) */
.macro PMPCFG_SET i, val
 .if \i < 8
    li t6, 0xff << (8 * \i)
    csrc pmpcfg0, t6
    li t6, (\val) << (8 * \i)
    csrs pmpcfg0, t6
 .else
    li t6, 0xff << (8 * (\i - 8))
    csrc pmpcfg2, t6
    li t6, (\val) << (8 * (\i - 8))
    csrs pmpcfg2, t6
 .endif
    sfence.vma
.endm

/* rd = NAPOT pmpaddr value for [sym, sym + size) (clobbers t6) */
.macro NAPOT_ADDR rd, sym, size
    la \rd, \sym
    li t6, (\size / 2) - 1
    add \rd, \rd, t6
    srli \rd, \rd, 2
.endm

/* rd = (sym + off) >> 2 (clobbers t6) */
.macro TOR_ADDR rd, sym, off
    la \rd, \sym
    li t6, \off
    add \rd, \rd, t6
    srli \rd, \rd, 2
.endm

/* entries 0-14 off, entry 15 = everything RWX */
.macro PMP_DEFAULT
    csrw pmpcfg0, zero
    li t6, (PMP_NAPOT | PMP_R | PMP_W | PMP_X) << 56
    csrw pmpcfg2, t6
    sfence.vma
.endm

    .text
    .globl test_main
test_main:

    TEST 1                      /* pmpaddr: 54 writable bits; pmpcfg fields; odd pmpcfg CSRs do not exist */
    li t0, -1
    csrw pmpaddr0, t0
    csrr s0, pmpaddr0
    csrw pmpaddr0, zero
    csrr s1, pmpaddr0
    li t0, 0x0123456789ab
    csrw pmpaddr14, t0
    csrr s2, pmpaddr14
    csrw pmpaddr14, zero
#ifdef PENV_QEMU
    li t0, 0x003fffffffffffff   /* QEMU 7.2 keeps all 64 bits */
    and s0, s0, t0
#endif
    CHECK_EQI s0, 0x003fffffffffffff
    CHECK_EQI s1, 0
    CHECK_EQI s2, 0x0123456789ab
    /* various valid configurations in entries 0-5 */
    li t0, (0x1f) | (0x0d << 8) | (0x19 << 16) | (0x0b << 24) | (0x15 << 32) | (0x1c << 40)
    csrw pmpcfg0, t0            /* pmpaddr0-5 are 0: these match (almost) nothing we touch */
    csrr s0, pmpcfg0
    csrw pmpcfg0, zero
    CHECK_EQ s0, t0
    li t0, PMP_W                /* R = 0, W = 1 is reserved: not stored as is */
    csrw pmpcfg0, t0
    csrr s0, pmpcfg0
    csrw pmpcfg0, zero
    andi s0, s0, PMP_R | PMP_W
#ifndef PENV_QEMU
    CHECK_NEI s0, PMP_W         /* (QEMU 7.2 stores it) */
#endif
    EXPECT_TRAP
    csrr t0, pmpcfg1
    CHECK_TRAP CAUSE_ILLEGAL
    EXPECT_TRAP
    csrr t0, pmpcfg3
    CHECK_TRAP CAUSE_ILLEGAL

    TEST 2                      /* no entry at all: S and U cannot even fetch; M is unaffected */
    csrw pmpcfg2, zero
    sfence.vma
#ifndef PENV_QEMU
    /* (QEMU 7.2 refuses the MRET itself when no PMP entry is active, so it is checked only
     *  with one unrelated entry below) */
    EXPECT_TRAP_TO_M 1f
    GOTO_U
u_target:
    nop                         /* never executed: the fetch of this fails */
1:  CHECK_TRAP CAUSE_FETCH_ACCESS
    CHECK_EQ s9, s10            /* mtval = mepc = the address U tried to fetch */
    CHECK_LA s10, u_target
    EXPECT_TRAP_TO_M 1f
    GOTO_S
s_target:
    nop
1:  CHECK_TRAP CAUSE_FETCH_ACCESS
    CHECK_EQ s9, s10
    CHECK_LA s10, s_target
#endif
    la t0, pmp_data             /* one entry that covers nothing S/U need: same result */
    addi t0, t0, 0x7f0
    srli t0, t0, 2
    csrw pmpaddr0, t0
    PMPCFG_SET 0, PMP_NA4
    EXPECT_TRAP_TO_M 1f
    GOTO_U
u_target2:
    nop
1:  CHECK_TRAP CAUSE_FETCH_ACCESS
    CHECK_EQ s9, s10
    CHECK_LA s10, u_target2
    EXPECT_TRAP_TO_M 1f
    GOTO_S
s_target2:
    nop
1:  CHECK_TRAP CAUSE_FETCH_ACCESS
    CHECK_EQ s9, s10
    CHECK_LA s10, s_target2
    la t0, pmp_data             /* M still reads and writes memory */
    li t1, 0x42
    sd t1, 0(t0)
    ld t2, 0(t0)
    CHECK_EQI t2, 0x42
    PMP_DEFAULT

    TEST 3                      /* NAPOT, R only, for U and S; M ignores it (L = 0) */
    NAPOT_ADDR t0, pmp_data, 4096
    csrw pmpaddr0, t0
    PMPCFG_SET 0, PMP_NAPOT | PMP_R
    la a0, pmp_data
    li t0, 4088
    add a2, a0, t0              /* a2 = last doubleword of the region */
    li t0, 0x1111
    sd t0, 8(a0)                /* M writes */
    GOTO_U
    ld t1, 8(a0)
    CHECK_EQI t1, 0x1111
    ld t1, 0(a2)
    EXPECT_TRAP
    sd t1, 16(a0)
    CHECK_TRAP CAUSE_STORE_ACCESS
    addi t2, a0, 16
    CHECK_TVAL_R t2
    EXPECT_TRAP
    amoadd.d t1, t1, (a0)       /* AMOs need W */
    CHECK_TRAP CAUSE_STORE_ACCESS
    GOTO_M
    GOTO_S
    ld t1, 8(a0)
    CHECK_EQI t1, 0x1111
    EXPECT_TRAP
    sb t1, 7(a2)                /* the last byte */
    CHECK_TRAP CAUSE_STORE_ACCESS
    addi t2, a2, 7
    CHECK_TVAL_R t2
    GOTO_M
    li t0, 0x2222
    sd t0, 16(a0)               /* M still writes */
    ld t1, 16(a0)
    CHECK_EQI t1, 0x2222

    TEST 4                      /* NAPOT with no permissions: loads fault too */
    PMPCFG_SET 0, PMP_NAPOT
    GOTO_U
    EXPECT_TRAP
    lw t1, 0(a0)
    CHECK_TRAP CAUSE_LOAD_ACCESS
    CHECK_TVAL_R a0
    EXPECT_TRAP
    lr.w t1, (a0)
    CHECK_TRAP CAUSE_LOAD_ACCESS
    ld t2, 8(a2)                /* the doubleword just past the region is fine */
    ld t2, -8(a0)               /* and the one just before it */
    GOTO_M

    TEST 5                      /* X only: fetch works, loads and stores fault; RW without X: fetch faults */
    NAPOT_ADDR t0, pmp_code, 4096
    csrw pmpaddr0, t0
    PMPCFG_SET 0, PMP_NAPOT | PMP_X
    la a1, pmp_code
    GOTO_U
    li a0, 0
    jalr a1
    CHECK_EQI a0, 0x66
    EXPECT_TRAP
    lwu t1, 0(a1)
    CHECK_TRAP CAUSE_LOAD_ACCESS
    CHECK_TVAL_R a1
    EXPECT_TRAP
    sw t1, 0x100(a1)
    CHECK_TRAP CAUSE_STORE_ACCESS
    GOTO_M
    NAPOT_ADDR t0, pmp_code2, 4096 /* an instruction straddling into a page without X */
    csrw pmpaddr1, t0
    PMPCFG_SET 1, PMP_NAPOT | PMP_R
    li t0, 4094
    add a2, a1, t0
    GOTO_U
    EXPECT_TRAP_AT 1f
    jalr a2
1:  CHECK_TRAP CAUSE_FETCH_ACCESS
    CHECK_EQ s10, a2
    CHECK_LA s9, pmp_code2
    GOTO_M
    PMPCFG_SET 1, PMP_NAPOT | PMP_X
    GOTO_U
    li a0, 0
    jalr a2
    CHECK_EQI a0, 0x55
    GOTO_M
    PMPCFG_SET 1, 0
    PMPCFG_SET 0, PMP_NAPOT | PMP_R | PMP_W
    GOTO_S
    lwu t1, 0(a1)
    EXPECT_TRAP_AT 1f
    jalr a1
1:  CHECK_TRAP CAUSE_FETCH_ACCESS
    CHECK_TVAL_R a1
    CHECK_EQ s10, a1
    GOTO_M
    PMP_DEFAULT

    TEST 6                      /* TOR: [pmpaddr1, pmpaddr2) RW; everything else R X (entry 15) */
    PMPCFG_SET 15, PMP_NAPOT | PMP_R | PMP_X
    TOR_ADDR t0, pmp_tor, 0
    csrw pmpaddr1, t0
    TOR_ADDR t0, pmp_tor, 8192
    csrw pmpaddr2, t0
    PMPCFG_SET 2, PMP_TOR | PMP_R | PMP_W
    la a0, pmp_tor
    li a1, 8192
    add a1, a0, a1              /* a1 = end */
    li a2, 4096
    add a2, a0, a2              /* a2 = middle */
    GOTO_U
    sd a0, 0(a0)                /* first doubleword */
    sd a0, -8(a1)               /* last doubleword */
    sd a0, 0(a2)
    EXPECT_TRAP
    sd a0, 0(a1)                /* end is outside */
    CHECK_TRAP CAUSE_STORE_ACCESS
    CHECK_TVAL_R a1
    EXPECT_TRAP
    sw a0, -4(a0)               /* just below the start */
    CHECK_TRAP CAUSE_STORE_ACCESS
    EXPECT_TRAP
    sd a0, -4(a1)               /* straddles the end: partial match fails */
    CHECK_TRAP CAUSE_STORE_ACCESS
    ld t1, 0(a1)                /* loads go through entry 15 */
    GOTO_M
    ld t1, 0(a2)
    CHECK_EQ t1, a0

    TEST 7                      /* TOR with top <= bottom matches nothing */
    TOR_ADDR t0, pmp_tor, 8192
    csrw pmpaddr1, t0
    TOR_ADDR t0, pmp_tor, 0
    csrw pmpaddr2, t0
    sfence.vma
    GOTO_U
    EXPECT_TRAP
    sd a0, 0(a0)
    CHECK_TRAP CAUSE_STORE_ACCESS
    GOTO_M

    TEST 8                      /* TOR in entry 0 starts at address 0 */
    PMPCFG_SET 2, 0
    TOR_ADDR t0, pmp_tor, 4096
    csrw pmpaddr0, t0
    PMPCFG_SET 0, PMP_TOR | PMP_R | PMP_W | PMP_X
    GOTO_U
    sd a0, 0(a0)
    sd a0, -8(a2)
    EXPECT_TRAP
    sd a0, 0(a2)
    CHECK_TRAP CAUSE_STORE_ACCESS
    GOTO_M
    PMP_DEFAULT

    TEST 9                      /* NA4: exactly four bytes */
    PMPCFG_SET 15, PMP_NAPOT | PMP_R | PMP_X
    la a0, pmp_data
    addi a1, a0, 0x40
    srli t0, a1, 2
    csrw pmpaddr3, t0
    PMPCFG_SET 3, PMP_NA4 | PMP_R | PMP_W
    GOTO_U
    li t1, 0x5a5a5a5a
    sw t1, 0(a1)
    EXPECT_TRAP
    sw t1, 4(a1)
    CHECK_TRAP CAUSE_STORE_ACCESS
    EXPECT_TRAP
    sw t1, -4(a1)
    CHECK_TRAP CAUSE_STORE_ACCESS
    EXPECT_TRAP
    sh t1, 3(a1)                /* bytes 3 and 4: partial */
    CHECK_TRAP CAUSE_STORE_ACCESS
    sh t1, 2(a1)
    sb t1, 3(a1)
    GOTO_M
    PMPCFG_SET 15, PMP_NAPOT | PMP_R | PMP_W | PMP_X
    GOTO_U                      /* partial match fails even when entry 15 would allow the rest */
    EXPECT_TRAP
    sd t1, 0(a1)
    CHECK_TRAP CAUSE_STORE_ACCESS
    CHECK_TVAL_R a1
    EXPECT_TRAP
    ld t1, -4(a1)
    CHECK_TRAP CAUSE_LOAD_ACCESS
    sw t1, 8(a1)
    GOTO_M
    EXPECT_TRAP                 /* a partial match fails for M as well */
    sd t1, 0(a1)
    CHECK_TRAP CAUSE_STORE_ACCESS
    sw t1, 0(a1)
    PMP_DEFAULT

    TEST 10                     /* priority: the lowest-numbered matching entry decides */
    NAPOT_ADDR t0, pmp_data, 4096
    csrw pmpaddr0, t0
    csrw pmpaddr1, t0
    PMPCFG_SET 0, PMP_NAPOT
    PMPCFG_SET 1, PMP_NAPOT | PMP_R | PMP_W
    la a0, pmp_data
    GOTO_U
    EXPECT_TRAP
    ld t1, 0(a0)
    CHECK_TRAP CAUSE_LOAD_ACCESS
    GOTO_M
    PMPCFG_SET 0, PMP_NAPOT | PMP_R | PMP_W
    PMPCFG_SET 1, PMP_NAPOT
    GOTO_U
    ld t1, 0(a0)
    sd t1, 0(a0)
    GOTO_M
    PMPCFG_SET 0, PMP_NAPOT | PMP_R /* larger region in entry 1 overlapping a smaller one in entry 0 */
    NAPOT_ADDR t0, pmp_tor, 8192
    csrw pmpaddr1, t0
    PMPCFG_SET 1, PMP_NAPOT
    la a1, pmp_tor
    GOTO_U
    ld t1, 0(a0)
    EXPECT_TRAP
    ld t1, 0(a1)
    CHECK_TRAP CAUSE_LOAD_ACCESS
    GOTO_M
    PMP_DEFAULT

    TEST 11                     /* M-mode with MPRV = 1 is checked with MPP's privilege */
    NAPOT_ADDR t0, pmp_data, 4096
    csrw pmpaddr0, t0
    PMPCFG_SET 0, PMP_NAPOT | PMP_R
    la a0, pmp_data
    li t0, MSTATUS_MPP
    csrc mstatus, t0
    li t0, MSTATUS_MPRV | MPP_U
    csrs mstatus, t0
    ld t1, 0(a0)
    EXPECT_TRAP
    sd t1, 0(a0)
    CHECK_TRAP CAUSE_STORE_ACCESS
    CHECK_TVAL_R a0
    li t0, MSTATUS_MPRV         /* the trap set MPP = M: M rights again */
    csrc mstatus, t0
    sd t1, 0(a0)
    PMP_DEFAULT

    TEST 12                     /* page-table walks are checked by PMP with S privilege */
    call penv_pt_reset
    call penv_alloc_page
    mv s0, a0
    mv a0, s0
    li a1, 0x80000000
    li a2, 0x80000000
    li a3, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D
    li a4, 2
    li a5, 3
    call penv_map
    srli t0, s0, 12
    li t1, SATP_MODE(SATP_MODE_SV39)
    or t0, t0, t1
    csrw satp, t0
    sfence.vma
    la a0, pmp_data
    GOTO_S                      /* translation works while PMP allows the table */
    ld t1, 0(a0)
    GOTO_M
    addi t0, s0, 2047           /* deny the root table page to S/U */
    srli t0, t0, 2
    csrw pmpaddr0, t0
    PMPCFG_SET 0, PMP_NAPOT
    li t0, MSTATUS_MPRV | MPP_S /* M loads translated as S: the walk's read of the root faults */
    csrs mstatus, t0
    EXPECT_TRAP
    ld t1, 0(a0)
    CHECK_TRAP CAUSE_LOAD_ACCESS
    CHECK_TVAL_R a0
    li t0, MSTATUS_MPRV
    csrc mstatus, t0
    PMPCFG_SET 0, 0
    mv a0, s0                   /* PMP checks the translated address: a page on a denied frame */
    li a1, 0x40000000
    la a2, pmp_data
    li a3, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
    li a4, 0
    li a5, 3
    call penv_map
    sfence.vma
    NAPOT_ADDR t0, pmp_data, 4096
    csrw pmpaddr0, t0
    PMPCFG_SET 0, PMP_NAPOT
    GOTO_S
    li t1, 0x40000000 + 0x28
    EXPECT_TRAP
    ld t2, 0(t1)
    CHECK_TRAP CAUSE_LOAD_ACCESS  /* an access fault, with the virtual address */
    CHECK_TVAL 0x40000000 + 0x28
    EXPECT_TRAP
    sd t2, 0(t1)
    CHECK_TRAP CAUSE_STORE_ACCESS
    CHECK_TVAL 0x40000000 + 0x28
    GOTO_M
    csrw satp, zero
    sfence.vma
    PMP_DEFAULT

    TEST 13                     /* OpenSBI-style: firmware region closed to S/U, then all memory RWX */
    NAPOT_ADDR t0, pmp_fw, 65536
    csrw pmpaddr0, t0
    PMPCFG_SET 0, PMP_NAPOT     /* no permissions, not locked */
    la a0, pmp_fw
    li t0, 0xf00d
    sd t0, 0x100(a0)            /* M uses it */
    GOTO_S
    EXPECT_TRAP
    ld t1, 0x100(a0)
    CHECK_TRAP CAUSE_LOAD_ACCESS
    addi t2, a0, 0x100
    CHECK_TVAL_R t2
    EXPECT_TRAP
    sd t1, 0x100(a0)
    CHECK_TRAP CAUSE_STORE_ACCESS
    li a1, 65536 - 8            /* last doubleword */
    add a1, a0, a1
    EXPECT_TRAP
    ld t1, 0(a1)
    CHECK_TRAP CAUSE_LOAD_ACCESS
    EXPECT_TRAP_AT 1f
    jalr a0
1:  CHECK_TRAP CAUSE_FETCH_ACCESS
    CHECK_TVAL_R a0
    la a2, pmp_data             /* everything else works */
    li t1, 0xbeef
    sd t1, 0(a2)
    ld t2, 0(a2)
    CHECK_EQI t2, 0xbeef
    li t1, 65536                /* first byte after the firmware region */
    add t1, a0, t1
    ld t2, 0(t1)
    S_GOTO_U
    EXPECT_TRAP
    lb t1, 0(a0)
    CHECK_TRAP CAUSE_LOAD_ACCESS
    ld t2, 0(a2)
    GOTO_M
    ld t1, 0x100(a0)
    CHECK_EQI t1, 0xf00d

    TEST 14                     /* locked entry (R only): applies to M too; its CSRs ignore writes */
    PMP_DEFAULT
    NAPOT_ADDR s1, pmp_code, 4096
    csrw pmpaddr4, s1
    PMPCFG_SET 4, PMP_L | PMP_NAPOT | PMP_R
    la a1, pmp_code
    lwu t1, 0(a1)               /* M reads */
    EXPECT_TRAP
    sw t1, 0x100(a1)            /* M cannot write */
    CHECK_TRAP CAUSE_STORE_ACCESS
    addi t2, a1, 0x100
    CHECK_TVAL_R t2
    EXPECT_TRAP_AT 1f           /* nor execute */
    jalr a1
1:  CHECK_TRAP CAUSE_FETCH_ACCESS
    CHECK_TVAL_R a1
    PMPCFG_SET 4, PMP_NAPOT | PMP_R | PMP_W | PMP_X   /* ignored */
    csrr t0, pmpcfg0
    srli t0, t0, 32
    andi t0, t0, 0xff
    CHECK_EQI t0, PMP_L | PMP_NAPOT | PMP_R
    csrw pmpaddr4, zero         /* ignored */
    csrr t0, pmpaddr4
    CHECK_EQ t0, s1
    EXPECT_TRAP
    sw t1, 0x100(a1)
    CHECK_TRAP CAUSE_STORE_ACCESS
    GOTO_U                      /* U: same rights */
    lwu t1, 0(a1)
    EXPECT_TRAP
    sw t1, 0x100(a1)
    CHECK_TRAP CAUSE_STORE_ACCESS
    GOTO_M

    TEST 15                     /* a lower-numbered unlocked entry still wins over the locked one */
    NAPOT_ADDR t0, pmp_code, 4096
    csrw pmpaddr0, t0
    PMPCFG_SET 0, PMP_NAPOT | PMP_R | PMP_W | PMP_X
    li t0, 0x33
    sw t0, 0x100(a1)            /* M, entry 0 matches with L = 0 */
    li a0, 0
    jalr a1
    CHECK_EQI a0, 0x66
    PMPCFG_SET 0, 0
    EXPECT_TRAP
    sw t0, 0x100(a1)
    CHECK_TRAP CAUSE_STORE_ACCESS

    TEST 16                     /* locked TOR entry also locks the previous pmpaddr */
    TOR_ADDR s2, pmp_tor, 0
    csrw pmpaddr5, s2
    TOR_ADDR s3, pmp_tor, 4096
    csrw pmpaddr6, s3
    PMPCFG_SET 6, PMP_L | PMP_TOR | PMP_R
    csrw pmpaddr5, zero         /* ignored */
    csrw pmpaddr6, zero         /* ignored */
    csrr t0, pmpaddr5
    CHECK_EQ t0, s2
    csrr t0, pmpaddr6
    CHECK_EQ t0, s3
    PMPCFG_SET 5, PMP_NAPOT | PMP_R   /* entry 5's own cfg is not locked */
    csrr t0, pmpcfg0
    srli t0, t0, 40
    andi t0, t0, 0xff
    CHECK_EQI t0, PMP_NAPOT | PMP_R
    PMPCFG_SET 5, 0
    la a0, pmp_tor
    ld t1, 0(a0)                /* M: R only */
    EXPECT_TRAP
    sd t1, 8(a0)
    CHECK_TRAP CAUSE_STORE_ACCESS
    li t0, 4096
    add t0, a0, t0
    sd t1, 0(t0)                /* just above: entry 15 */

    PASS

    .align 12
pmp_code:
    li a0, 0x66
    ret
    .skip 4096 - 8 - 2
    .half 0x0513                /* addi a0, zero, 0x55 straddling into pmp_code2 */
pmp_code2:
    .half 0x0550
    .half 0x8067, 0x0000        /* ret */
    .skip 4096 - 6

    .section .pagedata, "aw", @nobits
    .align 12
pmp_data: .skip 4096
    .align 13
pmp_tor:  .skip 8192
    .align 16
pmp_fw:   .skip 65536
