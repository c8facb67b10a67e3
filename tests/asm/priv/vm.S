/*
 * vm.S - virtual memory: Sv39, Sv48 and Sv57 page tables built here in RAM.
 *
 * The same suite runs three times (test numbers 100+, 200+, 300+ for Sv39, Sv48, Sv57): 4 KiB pages,
 * megapages, gigapages and (Sv48/Sv57) the larger leaves, every permission combination from S and U,
 * SUM/MXR, reserved encodings, misaligned superpages, invalid PTEs at every level, hardware A/D updates,
 * SFENCE.VMA, non-canonical addresses and misaligned accesses that cross pages.
 * Page faults are not delegated: they are taken by the M handler (mcause/mtval/mepc in s8/s9/s10).
 */
#include "penv.h"

/* suite registers: s0 = S-view root, s1 = levels, s2 = satp MODE bits, s3 = test number base,
 * s4 = return address, s5 = U-view root, s6 = VA bits - 1 */
.macro VT k
    addi gp, s3, \k
.endm

/* satp = root (clobbers t0) */
.macro USE_ROOT root
    srli t0, \root, 12
    or t0, t0, s2
    csrw satp, t0
    sfence.vma
.endm

/* fail unless s9 (tval) is a or b */
.macro CHECK_TVAL_EITHER a, b
    li t6, \a
    beq s9, t6, .Lok\@
    li t6, \b
    beq s9, t6, .Lok\@
    jal ra, penv_fail
.Lok\@:
.endm

#define DATA_CONST 0x1122334455667788
#define PG(n)      (0x40000000 + (n) * 0x1000)
#define PAGE_R     PG(1)
#define PAGE_RW    PG(2)
#define PAGE_X     PG(3)
#define PAGE_RX    PG(4)
#define PAGE_RWX   PG(5)
#define PAGE_URW   PG(6)
#define PAGE_URWX  PG(7)
#define PAGE_PTR   PG(8)        /* V = 1, R = W = X = 0 at level 0 */
#define PAGE_UX    PG(9)
#define PAGE_AD1   PG(10)       /* A = D = 0 */
#define PAGE_AD2   PG(11)       /* X, A = 0 */
#define PAGE_AD3   PG(12)       /* A = D = 0 */
#define PAGE_SF    PG(13)       /* for SFENCE.VMA */
#define PAGE_EDGE  PG(14)       /* mapped, PG(15) is not */
#define PAGE_2A    PG(16)       /* PG(16) and PG(17): two mapped pages on different frames */
#define PAGE_W     PG(18)       /* reserved: W without R */
#define PAGE_WX    PG(19)       /* reserved: W, X without R */
#define PAGE_XS1   PG(20)       /* PG(20), PG(21) -> xpage, xpage + 4 KiB (RX) */
#define PAGE_XS2   PG(22)       /* PG(22) -> xpage (RX), PG(23) unmapped */
#define PAGE_XS3   PG(24)       /* PG(24) -> xpage (RX), PG(25) -> xpage + 4 KiB (R only) */
#define PAGE_C     PG(26)       /* -> cpage (RX), PG(27) unmapped: 16-bit code at the very end */
#define MEGA_VA    0x40200000
#define MEGA_BAD   0x40400000   /* megapage whose PPN[0] != 0 */
#define GIGA_VA    0xC0000000   /* gigapage alias of RAM */
#define GIGA_BAD   0x100000000  /* gigapage whose PPN is only 2 MiB aligned */
#define AD_FLAGS   (PTE_A | PTE_D)

    .text
    .globl test_main
test_main:
    li s1, 3
    li s2, SATP_MODE(SATP_MODE_SV39)
    li s3, 100
    call vm_suite
    li s1, 4
    li s2, SATP_MODE(SATP_MODE_SV48)
    li s3, 200
    call vm_suite
    li s1, 5
    li s2, SATP_MODE(SATP_MODE_SV57)
    li s3, 300
    call vm_suite
    PASS

vm_suite:
    mv s4, ra
    li t0, 9                    /* s6 = VA bits - 1 = 9 * levels + 11 */
    mul s6, s1, t0
    addi s6, s6, 11

    VT 0                        /* the mode is supported: satp keeps it */
    call penv_pt_reset
    call penv_alloc_page
    mv s5, a0
    li a6, PTE_V | PTE_R | PTE_W | PTE_X | PTE_U | AD_FLAGS
    call build_tables           /* U view (RAM is U) */
    call penv_alloc_page
    mv s0, a0
    li a6, PTE_V | PTE_R | PTE_W | PTE_X | AD_FLAGS
    call build_tables           /* S view; leaves the PTE addresses in pte_addrs */
    USE_ROOT s0
    csrr t1, satp
    CHECK_EQ t0, t1
    /* data the pages show */
    la t0, code_page_data
    li t1, DATA_CONST
    sd t1, 0(t0)
    la t0, page_a
    li t1, 0xaaaa
    sd t1, 0(t0)
    li t1, 0x8877665544332211
    li t2, 0xff8
    add t2, t0, t2
    sd t1, 0(t2)
    la t0, page_b
    li t1, 0xbbbb
    sd t1, 8(t0)
    li t1, 0x0102030405060708
    sd t1, 0(t0)

    GOTO_S

    VT 1                        /* R: load; store and fetch fault */
    li t1, PAGE_R
    ld t2, 0x400(t1)
    CHECK_EQI t2, DATA_CONST
    EXPECT_TRAP
    sd t2, 0x408(t1)
    CHECK_TRAP CAUSE_STORE_PAGE
    CHECK_TVAL PAGE_R + 0x408
    EXPECT_TRAP_AT 1f
    jalr t1
1:  CHECK_TRAP CAUSE_FETCH_PAGE
    CHECK_TVAL PAGE_R
    CHECK_EQI s10, PAGE_R

    VT 2                        /* RW: load and store; fetch faults */
    li t1, PAGE_RW
    ld t2, 0x400(t1)
    CHECK_EQI t2, DATA_CONST
    li t2, 0x600d
    sd t2, 0x500(t1)
    la t3, code_page            /* same frame through the identity map */
    ld t4, 0x500(t3)
    CHECK_EQI t4, 0x600d
    EXPECT_TRAP_AT 1f
    jalr t1
1:  CHECK_TRAP CAUSE_FETCH_PAGE
    CHECK_TVAL PAGE_RW

    VT 3                        /* X only: fetch; load faults unless MXR; store faults */
    li t1, PAGE_X
    li a0, 0
    jalr t1
    CHECK_EQI a0, 0x77
    EXPECT_TRAP
    ld t2, 0x400(t1)
    CHECK_TRAP CAUSE_LOAD_PAGE
    CHECK_TVAL PAGE_X + 0x400
    li t0, MSTATUS_MXR
    csrs sstatus, t0
    ld t2, 0x400(t1)
    CHECK_EQI t2, DATA_CONST
    EXPECT_TRAP
    sd t2, 0x500(t1)
    CHECK_TRAP CAUSE_STORE_PAGE
    li t0, MSTATUS_MXR
    csrc sstatus, t0

    VT 4                        /* RX: load and fetch; store faults */
    li t1, PAGE_RX
    ld t2, 0x400(t1)
    CHECK_EQI t2, DATA_CONST
    li a0, 0
    jalr t1
    CHECK_EQI a0, 0x77
    EXPECT_TRAP
    sw t2, 0x500(t1)
    CHECK_TRAP CAUSE_STORE_PAGE
    CHECK_TVAL PAGE_RX + 0x500

    VT 5                        /* RWX: everything */
    li t1, PAGE_RWX
    ld t2, 0x400(t1)
    CHECK_EQI t2, DATA_CONST
    li t2, 0x1234
    sh t2, 0x508(t1)
    lhu t3, 0x508(t1)
    CHECK_EQI t3, 0x1234
    li a0, 0
    jalr t1
    CHECK_EQI a0, 0x77

    VT 6                        /* U pages from S: SUM decides loads/stores; never executable */
    li t1, PAGE_URW
    EXPECT_TRAP
    ld t2, 0x400(t1)
    CHECK_TRAP CAUSE_LOAD_PAGE
    CHECK_TVAL PAGE_URW + 0x400
    EXPECT_TRAP
    sd t2, 0x500(t1)
    CHECK_TRAP CAUSE_STORE_PAGE
    CHECK_TVAL PAGE_URW + 0x500
    li t0, MSTATUS_SUM
    csrs sstatus, t0
    ld t2, 0x400(t1)
    CHECK_EQI t2, DATA_CONST
    sd t2, 0x510(t1)
    li t1, PAGE_URWX
    EXPECT_TRAP_AT 1f
    jalr t1
1:  CHECK_TRAP CAUSE_FETCH_PAGE
    CHECK_TVAL PAGE_URWX
    li t0, MSTATUS_SUM
    csrc sstatus, t0
    EXPECT_TRAP_AT 1f
    jalr t1
1:  CHECK_TRAP CAUSE_FETCH_PAGE

    VT 7                        /* reserved encodings: W without R (with and without X) */
    li t1, PAGE_W
    EXPECT_TRAP
    ld t2, 0x400(t1)
    CHECK_TRAP CAUSE_LOAD_PAGE
    CHECK_TVAL PAGE_W + 0x400
    EXPECT_TRAP
    sd t2, 0x500(t1)
    CHECK_TRAP CAUSE_STORE_PAGE
    CHECK_TVAL PAGE_W + 0x500
    li t1, PAGE_WX
    EXPECT_TRAP_AT 1f
    jalr t1
1:  CHECK_TRAP CAUSE_FETCH_PAGE
    CHECK_TVAL PAGE_WX
    EXPECT_TRAP
    sd t2, 0x500(t1)
    CHECK_TRAP CAUSE_STORE_PAGE
    li t0, MSTATUS_MXR          /* MXR does not make W-only readable */
    csrs sstatus, t0
    li t1, PAGE_W
    EXPECT_TRAP
    ld t2, 0x400(t1)
    CHECK_TRAP CAUSE_LOAD_PAGE
    li t0, MSTATUS_MXR
    csrc sstatus, t0

    VT 8                        /* a pointer PTE (V only) at level 0 is not a leaf */
    li t1, PAGE_PTR
    EXPECT_TRAP
    ld t2, 0(t1)
    CHECK_TRAP CAUSE_LOAD_PAGE
    CHECK_TVAL PAGE_PTR
    EXPECT_TRAP_AT 1f
    jalr t1
1:  CHECK_TRAP CAUSE_FETCH_PAGE

    VT 9                        /* V = 0 at each level: index 100 at level l of 0x40000000 */
    li s7, 0
2:  li t0, 9
    mul t0, t0, s7
    addi t0, t0, 12             /* shift of level s7 */
    li t1, 511
    sll t1, t1, t0
    not t1, t1
    li t2, 0x40000000
    and t2, t2, t1
    li t1, 100
    sll t1, t1, t0
    or t1, t1, t2               /* t1 = VA */
    EXPECT_TRAP
    ld t2, 0x18(t1)
    CHECK_TRAP CAUSE_LOAD_PAGE
    addi t3, t1, 0x18
    CHECK_TVAL_R t3
    EXPECT_TRAP
    sb t2, 0x20(t1)
    CHECK_TRAP CAUSE_STORE_PAGE
    addi t3, t1, 0x20
    CHECK_TVAL_R t3
    EXPECT_TRAP_AT 1f
    jalr t1
1:  CHECK_TRAP CAUSE_FETCH_PAGE
    CHECK_TVAL_R t1
    addi s7, s7, 1
    blt s7, s1, 2b

    VT 10                       /* megapage */
    li t1, MEGA_VA + 0x123458
    li t2, 0x3e6a
    sd t2, 0(t1)
    la t3, mega_target          /* through the identity map */
    li t4, 0x123458
    add t3, t3, t4
    ld t4, 0(t3)
    CHECK_EQI t4, 0x3e6a
    la t3, mega_target
    li t4, 0x1ffff8
    add t3, t3, t4
    li t2, 0x51de
    sd t2, 0(t3)
    li t1, MEGA_VA + 0x1ffff8   /* last doubleword */
    ld t4, 0(t1)
    CHECK_EQI t4, 0x51de

    VT 11                       /* misaligned superpages fault */
    li t1, MEGA_BAD + 0x10
    EXPECT_TRAP
    ld t2, 0(t1)
    CHECK_TRAP CAUSE_LOAD_PAGE
    CHECK_TVAL MEGA_BAD + 0x10
    EXPECT_TRAP
    sd t2, 0(t1)
    CHECK_TRAP CAUSE_STORE_PAGE
    li t1, GIGA_BAD + 0x2000
    EXPECT_TRAP
    lw t2, 0(t1)
    CHECK_TRAP CAUSE_LOAD_PAGE
    CHECK_TVAL GIGA_BAD + 0x2000

    VT 12                       /* gigapage alias of RAM */
    la t1, code_page_data
    li t0, GIGA_VA - 0x80000000
    add t1, t1, t0
    ld t2, 0(t1)
    CHECK_EQI t2, DATA_CONST
    la t1, page_b
    add t1, t1, t0
    li t2, 0x919a
    sd t2, 16(t1)
    la t3, page_b
    ld t4, 16(t3)
    CHECK_EQI t4, 0x919a

    VT 13                       /* a canonical "negative" address (top of the address space) */
    li t0, -1
    sll t0, t0, s6              /* -(1 << (VA bits - 1)): first address of the upper half */
    li t1, 0x80000000
    sub t0, t0, t1
    la t1, code_page_data
    add t1, t1, t0
    ld t2, 0(t1)
    CHECK_EQI t2, DATA_CONST

    VT 14                       /* non-canonical addresses fault (bits above the top VA bit differ) */
    li t1, 1
    sll t1, t1, s6              /* 1 << (VA bits - 1), upper bits clear */
    EXPECT_TRAP
    ld t2, 0(t1)
    CHECK_TRAP CAUSE_LOAD_PAGE
    CHECK_TVAL_R t1
    EXPECT_TRAP
    sd t2, 0(t1)
    CHECK_TRAP CAUSE_STORE_PAGE
    CHECK_TVAL_R t1
    EXPECT_TRAP_AT 1f
    jalr t1
1:  CHECK_TRAP CAUSE_FETCH_PAGE
    li t1, 0x4000000040001800   /* PAGE_R + 0x400 with bit 62 set */
    EXPECT_TRAP
    ld t2, 0(t1)
    CHECK_TRAP CAUSE_LOAD_PAGE
    li t1, -1                   /* the mapped negative gigapage, but with one upper bit cleared */
    sll t1, t1, s6
    li t0, 1 << 62
    xor t1, t1, t0
    EXPECT_TRAP
    ld t2, 0(t1)
    CHECK_TRAP CAUSE_LOAD_PAGE

    VT 15                       /* Sv48/Sv57: 512 GiB leaf at level 3, Sv57: 256 TiB leaf at level 4 */
    li t0, 4
    blt s1, t0, 1f
    li t0, 2
    slli t0, t0, 39             /* maps physical 0 */
    la t1, code_page_data
    add t1, t1, t0
    ld t2, 0(t1)
    CHECK_EQI t2, DATA_CONST
    li t0, 5
    blt s1, t0, 1f
    li t0, 3
    slli t0, t0, 48
    la t1, code_page_data
    add t1, t1, t0
    ld t2, 0(t1)
    CHECK_EQI t2, DATA_CONST
1:

    VT 16                       /* hardware A/D updates */
    la t5, pte_addrs
    ld t1, 8 * 10(t5)           /* PTE of PAGE_AD1 (table entry 10) */
    ld t2, 0(t1)
    CHECK_BITS t2, PTE_A | PTE_D, 0, t3
    li t0, PAGE_AD1
    ld t3, 0(t0)                /* load: A */
    ld t2, 0(t1)
    CHECK_BITS t2, PTE_A | PTE_D, PTE_A, t3
    sd t2, 8(t0)                /* store: D */
    ld t2, 0(t1)
    CHECK_BITS t2, PTE_A | PTE_D, PTE_A | PTE_D, t3
    ld t1, 8 * 12(t5)           /* PAGE_AD3: a store first sets both */
    li t0, PAGE_AD3
    sw zero, 16(t0)
    ld t2, 0(t1)
    CHECK_BITS t2, PTE_A | PTE_D, PTE_A | PTE_D, t3
    ld t1, 8 * 11(t5)           /* PAGE_AD2 (X): a fetch sets A */
    ld t2, 0(t1)
    CHECK_BITS t2, PTE_A | PTE_D, 0, t3
    li t0, PAGE_AD2
    li a0, 0
    jalr t0
    CHECK_EQI a0, 0x77
    ld t2, 0(t1)
    CHECK_BITS t2, PTE_A | PTE_D, PTE_A, t3
    CHECK_BITS t2, 0x3ff & ~(PTE_A | PTE_D), PTE_V | PTE_X, t3  /* nothing else changed */

    VT 17                       /* SFENCE.VMA makes a changed PTE visible */
    la t5, pte_addrs
    ld t1, 8 * 13(t5)           /* PTE of PAGE_SF (-> page_a) */
    li t0, PAGE_SF
    ld t2, 0(t0)
    CHECK_EQI t2, 0xaaaa
    la t3, page_b               /* point it at page_b */
    srli t3, t3, 12
    slli t3, t3, 10
    ori t3, t3, PTE_V | PTE_R | PTE_W | AD_FLAGS
    sd t3, 0(t1)
    sfence.vma
    ld t2, 8(t0)
    CHECK_EQI t2, 0xbbbb
    la t3, page_a               /* back to page_a, fence only that address */
    srli t3, t3, 12
    slli t3, t3, 10
    ori t3, t3, PTE_V | PTE_R | PTE_W | AD_FLAGS
    sd t3, 0(t1)
    sfence.vma t0, zero
    ld t2, 0(t0)
    CHECK_EQI t2, 0xaaaa
    andi t3, t3, ~PTE_V         /* invalidate, fence address + ASID 0 */
    sd t3, 0(t1)
    sfence.vma t0, zero
    EXPECT_TRAP
    ld t2, 0(t0)
    CHECK_TRAP CAUSE_LOAD_PAGE
    CHECK_TVAL PAGE_SF
    ori t3, t3, PTE_V
    sd t3, 0(t1)
    sfence.vma zero, zero
    ld t2, 0(t0)
    CHECK_EQI t2, 0xaaaa

    VT 18                       /* misaligned accesses across two mapped pages on different frames */
    li t1, PAGE_2A + 0xffc
    ld t2, 0(t1)                /* page_a[0xffc..0xfff] then page_b[0..3] */
    CHECK_EQI t2, 0x0506070888776655
    li t1, PAGE_2A + 0xffe
    lw t2, 0(t1)
    CHECK_EQI t2, 0x07088877
    li t1, PAGE_2A + 0xffd
    li t2, 0x1a2b3c4d5e6f7081
    sd t2, 0(t1)                /* page_a[0xffd..0xfff] = 81 70 6f, page_b[0..4] = 5e 4d 3c 2b 1a */
    la t3, page_a
    li t4, 0xff8
    add t3, t3, t4
    ld t4, 0(t3)
    CHECK_EQI t4, 0x6f70815544332211
    la t3, page_b
    ld t4, 0(t3)
    CHECK_EQI t4, 0x0102031a2b3c4d5e

    VT 19                       /* misaligned access crossing into an unmapped page faults */
    li t1, PAGE_EDGE + 0xffc
    EXPECT_TRAP
    ld t2, 0(t1)
    CHECK_TRAP CAUSE_LOAD_PAGE
    CHECK_TVAL_EITHER PAGE_EDGE + 0xffc, PAGE_EDGE + 0x1000
    li t1, PAGE_EDGE + 0xffe
    EXPECT_TRAP
    sw t2, 0(t1)
    CHECK_TRAP CAUSE_STORE_PAGE
    CHECK_TVAL_EITHER PAGE_EDGE + 0xffe, PAGE_EDGE + 0x1000
    li t1, PAGE_EDGE + 0xfff
    EXPECT_TRAP
    lhu t2, 0(t1)
    CHECK_TRAP CAUSE_LOAD_PAGE
    CHECK_TVAL_EITHER PAGE_EDGE + 0xfff, PAGE_EDGE + 0x1000
    li t1, PAGE_EDGE + 0xff8    /* ending exactly at the boundary is fine */
    ld t2, 0(t1)

    VT 24                       /* a 32-bit instruction straddling two pages */
    li t1, PAGE_XS1 + 0xffe
    li a0, 0
    jalr t1
    CHECK_EQI a0, 0x55
    li t1, PAGE_XS2 + 0xffe     /* second page unmapped: mepc = start, tval = the second page */
    EXPECT_TRAP_AT 1f
    jalr t1
1:  CHECK_TRAP CAUSE_FETCH_PAGE
    CHECK_EQ s10, t1
    CHECK_TVAL PAGE_XS2 + 0x1000
    li t1, PAGE_XS3 + 0xffe     /* second page not executable */
    EXPECT_TRAP_AT 1f
    jalr t1
1:  CHECK_TRAP CAUSE_FETCH_PAGE
    CHECK_EQ s10, t1
    CHECK_TVAL PAGE_XS3 + 0x1000
    li t1, PAGE_C + 0xffc       /* 16-bit instructions in the last bytes before an unmapped page */
    li a0, 0
    jalr t1
    CHECK_EQI a0, 9

    GOTO_M

    /* ---------------- U-mode, with the U view of the same tables */
    USE_ROOT s5
    GOTO_U

    VT 20                       /* U pages: load, store, fetch */
    li t1, PAGE_URW
    ld t2, 0x400(t1)
    CHECK_EQI t2, DATA_CONST
    sd t2, 0x518(t1)
    li t1, PAGE_URWX
    li a0, 0
    jalr t1
    CHECK_EQI a0, 0x77

    VT 21                       /* non-U pages from U fault */
    li t1, PAGE_R
    EXPECT_TRAP
    ld t2, 0x400(t1)
    CHECK_TRAP CAUSE_LOAD_PAGE
    CHECK_TVAL PAGE_R + 0x400
    li t1, PAGE_RW
    EXPECT_TRAP
    sd t2, 0x500(t1)
    CHECK_TRAP CAUSE_STORE_PAGE
    CHECK_TVAL PAGE_RW + 0x500
    li t1, PAGE_RWX
    EXPECT_TRAP_AT 1f
    jalr t1
1:  CHECK_TRAP CAUSE_FETCH_PAGE
    CHECK_TVAL PAGE_RWX
    EXPECT_TRAP
    ld t2, 0(t1)
    CHECK_TRAP CAUSE_LOAD_PAGE

    VT 22                       /* U + X only: fetch; load only with MXR; never store */
    li t1, PAGE_UX
    li a0, 0
    jalr t1
    CHECK_EQI a0, 0x77
    EXPECT_TRAP
    ld t2, 0x400(t1)
    CHECK_TRAP CAUSE_LOAD_PAGE
    GOTO_M
    li t0, MSTATUS_MXR
    csrs mstatus, t0
    GOTO_U
    li t1, PAGE_UX
    ld t2, 0x400(t1)
    CHECK_EQI t2, DATA_CONST
    EXPECT_TRAP
    sd t2, 0x500(t1)
    CHECK_TRAP CAUSE_STORE_PAGE
    GOTO_M
    li t0, MSTATUS_MXR
    csrc mstatus, t0
    GOTO_U

    VT 23                       /* non-canonical from U */
    li t1, 1
    sll t1, t1, s6
    EXPECT_TRAP
    ld t2, 0(t1)
    CHECK_TRAP CAUSE_LOAD_PAGE
    CHECK_TVAL_R t1

    GOTO_M

    VT 25                       /* translations belong to their ASID: a fresh ASID needs no SFENCE.VMA */
    call penv_alloc_page        /* a third root, like the S view but PAGE_SF -> page_b */
    mv s5, a0
    li a6, PTE_V | PTE_R | PTE_W | PTE_X | AD_FLAGS
    call build_tables
    la t5, pte_addrs
    ld t1, 8 * 13(t5)
    la t3, page_b
    srli t3, t3, 12
    slli t3, t3, 10
    ori t3, t3, PTE_V | PTE_R | PTE_W | AD_FLAGS
    sd t3, 0(t1)
    la t0, page_a
    li t1, 0xa8a8
    sd t1, 8(t0)
    sfence.vma
    li t1, 1 << 44              /* ASID 1: the S view */
    srli t0, s0, 12
    or t0, t0, t1
    or t0, t0, s2
    csrw satp, t0
    GOTO_S
    li t0, PAGE_SF
    ld t2, 8(t0)
    CHECK_EQI t2, 0xa8a8
    GOTO_M
    li t1, 2 << 44              /* ASID 2: the third root, no fence */
    srli t0, s5, 12
    or t0, t0, t1
    or t0, t0, s2
    csrw satp, t0
    GOTO_S
    li t0, PAGE_SF
    ld t2, 8(t0)
    CHECK_EQI t2, 0xbbbb
    GOTO_M
    li t1, 1 << 44              /* and back to ASID 1 (its tables are unchanged) */
    srli t0, s0, 12
    or t0, t0, t1
    or t0, t0, s2
    csrw satp, t0
    GOTO_S
    li t0, PAGE_SF
    ld t2, 8(t0)
    CHECK_EQI t2, 0xa8a8
    GOTO_M
    csrw satp, zero
    sfence.vma
    mv ra, s4
    ret

/*
 * build_tables: a0 = root; a6 = flags of the 1 GiB identity mapping of RAM.
 * Maps every entry of map_table (and the larger leaves for Sv48/Sv57); PTE addresses go to pte_addrs.
 * clobbers a0-a5, a7, t0-t6, s7
 */
build_tables:
    addi sp, sp, -32
    sd ra, 0(sp)
    sd s0, 8(sp)
    mv s0, a0
    mv a5, s1
    mv a0, s0                   /* RAM identity */
    li a1, 0x80000000
    li a2, 0x80000000
    mv a3, a6
    li a4, 2
    call penv_map
    la s7, map_table
    la a7, pte_addrs
1:  ld a1, 0(s7)
    beqz a1, 2f
    ld a2, 8(s7)
    ld a3, 16(s7)
    ld a4, 24(s7)
    mv a0, s0
    call penv_map
    sd a0, 0(a7)
    addi a7, a7, 8
    addi s7, s7, 32
    j 1b
2:  li a4, 2                    /* the canonical upper-half gigapage -> RAM */
    li a1, -1
    sll a1, a1, s6
    li a2, 0x80000000
    li a3, PTE_V | PTE_R | PTE_W | AD_FLAGS
    mv a0, s0
    call penv_map
    li t0, 4
    blt s1, t0, 3f
    li a4, 3                    /* 512 GiB leaf at VA 2 << 39 -> PA 0 */
    li a1, 2
    slli a1, a1, 39
    li a2, 0
    li a3, PTE_V | PTE_R | PTE_W | AD_FLAGS
    mv a0, s0
    call penv_map
    li t0, 5
    blt s1, t0, 3f
    li a4, 4                    /* 256 TiB leaf at VA 3 << 48 -> PA 0 */
    li a1, 3
    slli a1, a1, 48
    li a2, 0
    li a3, PTE_V | PTE_R | PTE_W | AD_FLAGS
    mv a0, s0
    call penv_map
3:  ld ra, 0(sp)
    ld s0, 8(sp)
    addi sp, sp, 32
    ret

    .data
    .align 3
/* VA, PA, flags, level; index i's PTE address is stored at pte_addrs[i] */
map_table:
    .dword GIGA_VA,   0x80000000,         PTE_V | PTE_R | PTE_W | AD_FLAGS, 2              /* 0 */
    .dword PAGE_R,    code_page,          PTE_V | PTE_R | AD_FLAGS, 0                      /* 1 */
    .dword PAGE_RW,   code_page,          PTE_V | PTE_R | PTE_W | AD_FLAGS, 0              /* 2 */
    .dword PAGE_X,    code_page,          PTE_V | PTE_X | AD_FLAGS, 0                      /* 3 */
    .dword PAGE_RX,   code_page,          PTE_V | PTE_R | PTE_X | AD_FLAGS, 0              /* 4 */
    .dword PAGE_RWX,  code_page,          PTE_V | PTE_R | PTE_W | PTE_X | AD_FLAGS, 0      /* 5 */
    .dword PAGE_URW,  code_page,          PTE_V | PTE_R | PTE_W | PTE_U | AD_FLAGS, 0      /* 6 */
    .dword PAGE_URWX, code_page,          PTE_V | PTE_R | PTE_W | PTE_X | PTE_U | AD_FLAGS, 0  /* 7 */
    .dword PAGE_PTR,  code_page,          PTE_V, 0                                         /* 8 */
    .dword PAGE_UX,   code_page,          PTE_V | PTE_X | PTE_U | AD_FLAGS, 0              /* 9 */
    .dword PAGE_AD1,  ad_page,            PTE_V | PTE_R | PTE_W, 0                         /* 10 */
    .dword PAGE_AD2,  code_page,          PTE_V | PTE_X, 0                                 /* 11 */
    .dword PAGE_AD3,  ad_page,            PTE_V | PTE_R | PTE_W, 0                         /* 12 */
    .dword PAGE_SF,   page_a,             PTE_V | PTE_R | PTE_W | AD_FLAGS, 0              /* 13 */
    .dword PAGE_EDGE, page_a,             PTE_V | PTE_R | PTE_W | AD_FLAGS, 0              /* 14 */
    .dword PAGE_2A,   page_a,             PTE_V | PTE_R | PTE_W | AD_FLAGS, 0              /* 15 */
    .dword PAGE_2A + 0x1000, page_b,      PTE_V | PTE_R | PTE_W | AD_FLAGS, 0              /* 16 */
    .dword PAGE_W,    code_page,          PTE_V | PTE_W | AD_FLAGS, 0                      /* 17 */
    .dword PAGE_WX,   code_page,          PTE_V | PTE_W | PTE_X | AD_FLAGS, 0              /* 18 */
    .dword MEGA_VA,   mega_target,        PTE_V | PTE_R | PTE_W | AD_FLAGS, 1              /* 19 */
    .dword MEGA_BAD,  mega_target + 0x1000, PTE_V | PTE_R | PTE_W | AD_FLAGS, 1            /* 20 */
    .dword GIGA_BAD,  mega_target,        PTE_V | PTE_R | PTE_W | AD_FLAGS, 2              /* 21 */
    .dword PAGE_XS1,  xpage,              PTE_V | PTE_R | PTE_X | AD_FLAGS, 0              /* 22 */
    .dword PAGE_XS1 + 0x1000, xpage + 0x1000, PTE_V | PTE_R | PTE_X | AD_FLAGS, 0          /* 23 */
    .dword PAGE_XS2,  xpage,              PTE_V | PTE_R | PTE_X | AD_FLAGS, 0              /* 24 */
    .dword PAGE_XS3,  xpage,              PTE_V | PTE_R | PTE_X | AD_FLAGS, 0              /* 25 */
    .dword PAGE_XS3 + 0x1000, xpage + 0x1000, PTE_V | PTE_R | AD_FLAGS, 0                  /* 26 */
    .dword PAGE_C,    cpage,              PTE_V | PTE_R | PTE_X | AD_FLAGS, 0              /* 27 */
    .dword 0, 0, 0, 0
pte_addrs:
    .skip 8 * 32

/* the frame most test pages map: code at the start, data at +0x400 (stores go to +0x500..) */
    .text
    .align 12
code_page:
    li a0, 0x77
    ret
    .skip 0x400 - 8
code_page_data:
    .dword 0
    .skip 0xc00 - 8

/* two pages; addi a0, zero, 0x55 straddles the boundary, followed by ret */
    .align 12
xpage:
    .skip 0xffe
    .half 0x0513, 0x0550        /* addi a0, zero, 0x55 */
    .half 0x8067, 0x0000        /* ret */
    .skip 0x1000 - 6

/* c.li a0, 9; c.jr ra in the last four bytes */
    .align 12
cpage:
    .skip 0xffc
    .half 0x4525, 0x8082

    .section .pagedata, "aw", @nobits
    .align 12
ad_page:  .skip 4096
page_a:   .skip 4096
page_b:   .skip 4096
    .align 21
mega_target: .skip 0x200000
