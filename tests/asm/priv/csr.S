/*
 * csr.S - WARL behaviour of the machine and supervisor CSRs: write all-ones, then zero, read back.
 *
 * Exact values follow the tvisor machine (misa = RV64ACIMSU, F/D allowed, mvendorid/marchid/mimpid = 0, 16-bit ASIDs,
 * no big-endian support, menvcfg with FIOM/CBIE/CBCFE/CBZE/STCE). Validation builds: -DPENV_QEMU checks
 * only what QEMU 7.2 also satisfies; -DPENV_NO_TIME drops the time CSR (QEMU's spike machine has none).
 */
#include "penv.h"

/* mstatus bits that must be writable */
#define MSTATUS_RW (MSTATUS_SIE | MSTATUS_MIE | MSTATUS_SPIE | MSTATUS_MPIE | MSTATUS_SPP | MSTATUS_MPP | \
                    MSTATUS_MPRV | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR)
/* mstatus bits that must read as zero: WPRI fields, endianness (little-endian only) and hypervisor bits */
#define MSTATUS_RO0 ((1 << 0) | (1 << 2) | (1 << 4) | MSTATUS_UBE | (0x1ff << 23) | MSTATUS_SBE | MSTATUS_MBE | \
                     (0x1ffffff << 38))
#ifndef PENV_QEMU
#define XL_MASK (MSTATUS_UXL | MSTATUS_SXL)
#define XL64 ((2 << 32) | (2 << 34))
#define UXL_MASK MSTATUS_UXL
#else
/* QEMU 7.2 lets mstatus.UXL be written: check SXL only */
#define XL_MASK MSTATUS_SXL
#define XL64 (2 << 34)
#define UXL_MASK 0
#endif
/* sstatus: the bits an S-mode view shows */
#define SSTATUS_RW (MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_SUM | MSTATUS_MXR)
#define SSTATUS_M_ONLY (MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_MPP | MSTATUS_MPRV | MSTATUS_TVM | MSTATUS_TW | \
                        MSTATUS_TSR | MSTATUS_SXL | MSTATUS_MBE | MSTATUS_SBE)
/* misa letters */
#define MISA_BIT(c) (1 << ((c) - 'A'))
#define MISA_TVISOR ((2 << 62) | MISA_BIT('A') | MISA_BIT('C') | MISA_BIT('I') | MISA_BIT('M') | \
                     MISA_BIT('S') | MISA_BIT('U'))
/* exceptions that S/U code can raise and that must be delegable */
#define MEDELEG_REQ ((1 << 1) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | \
                     (1 << 12) | (1 << 13) | (1 << 15))
#define MEDELEG_ALLOWED (MEDELEG_REQ | (1 << 0) | (1 << 9))
#define S_INTS (MIP_SSIP | MIP_STIP | MIP_SEIP)
#define M_INTS (MIP_MSIP | MIP_MTIP | MIP_MEIP)

    .text
    .globl test_main
test_main:

    TEST 1                      /* misa: RV64, ACIMSU (+ F/D); writes do not break it */
    csrr s0, misa
    srli t0, s0, 62
    CHECK_EQI t0, 2
    CHECK_BITS s0, MISA_TVISOR, MISA_TVISOR, t0
#ifndef PENV_QEMU
    /* nothing beyond ACIMSU, except F and D (being added); D needs F */
    CHECK_BITS s0, ~(MISA_TVISOR | MISA_BIT('F') | MISA_BIT('D')), 0, t0
    andi t0, s0, MISA_BIT('F') | MISA_BIT('D')
    CHECK_NEI t0, MISA_BIT('D')
#endif
    csrw misa, zero             /* may disable optional extensions, but MXL stays 2 and I stays set */
    csrr t1, misa
    csrw misa, s0
    srli t0, t1, 62
    CHECK_EQI t0, 2
    CHECK_BITS t1, MISA_BIT('I'), MISA_BIT('I'), t0
    CHECK_BITS t1, MISA_BIT('E'), 0, t0
    li t0, -1                   /* all-ones cannot enable anything that is not implemented */
    csrw misa, t0
    csrr t1, misa
    csrw misa, s0
    CHECK_EQ t1, s0
    csrr t1, misa
    CHECK_EQ t1, s0

    TEST 2                      /* identification CSRs */
    csrr t0, mhartid
    CHECK_EQI t0, 0
    csrr t0, mvendorid
    CHECK_EQI t0, 0
#ifndef PENV_QEMU
    csrr t0, marchid
    CHECK_EQI t0, 0
    csrr t0, mimpid
    CHECK_EQI t0, 0
#endif

    TEST 3                      /* mstatus: all-ones */
    li t0, -1
    csrw mstatus, t0
    csrr s0, mstatus
    li t0, MPP_M
    csrw mstatus, t0
    CHECK_BITS s0, MSTATUS_RW, MSTATUS_RW, t0
    CHECK_BITS s0, XL_MASK, XL64, t0
#ifndef PENV_QEMU
    CHECK_BITS s0, MSTATUS_RO0, 0, t0   /* (QEMU 7.2 lets the H bits MPV/GVA be written) */
#endif
    /* SD summarises FS, VS and XS (which may or may not be writable without F and V) */
    li t1, 0
    srli t0, s0, 13
    andi t0, t0, 3
    addi t0, t0, -3
    seqz t0, t0
    or t1, t1, t0
    srli t0, s0, 9
    andi t0, t0, 3
    addi t0, t0, -3
    seqz t0, t0
    or t1, t1, t0
    srli t0, s0, 15
    andi t0, t0, 3
    addi t0, t0, -3
    seqz t0, t0
    or t1, t1, t0
    srli t0, s0, 63
    CHECK_EQ t0, t1

    TEST 4                      /* mstatus: zero */
    csrw mstatus, zero
    csrr s0, mstatus
    li t0, MPP_M
    csrw mstatus, t0
    CHECK_BITS s0, MSTATUS_RW, 0, t0
    CHECK_BITS s0, XL_MASK, XL64, t0
    CHECK_BITS s0, MSTATUS_RO0, 0, t0
    srli t0, s0, 63             /* FS = VS = XS = 0 here, so SD = 0 */
    CHECK_EQI t0, 0

    TEST 5                      /* mstatus: the S bits one at a time */
    li s1, MSTATUS_SIE
    call set_clear_mstatus
    li s1, MSTATUS_SPIE
    call set_clear_mstatus
    li s1, MSTATUS_SPP
    call set_clear_mstatus
    li s1, MSTATUS_SUM
    call set_clear_mstatus
    li s1, MSTATUS_MXR
    call set_clear_mstatus
    li s1, MSTATUS_TVM
    call set_clear_mstatus
    li s1, MSTATUS_TW
    call set_clear_mstatus
    li s1, MSTATUS_TSR
    call set_clear_mstatus
    li s1, MSTATUS_MPIE
    call set_clear_mstatus

    TEST 6                      /* sstatus is a view of mstatus: all-ones */
    li t0, MSTATUS_MPIE | MPP_S | MSTATUS_TW
    csrw mstatus, t0
    li t0, -1
    csrw sstatus, t0
    csrr s0, mstatus
    csrr s1, sstatus
    li t0, MPP_M
    csrw mstatus, t0
    CHECK_BITS s0, SSTATUS_RW, SSTATUS_RW, t0
    CHECK_BITS s0, SSTATUS_M_ONLY, MSTATUS_MPIE | MPP_S | MSTATUS_TW | (2 << 34), t0
    CHECK_BITS s1, SSTATUS_RW, SSTATUS_RW, t0
    CHECK_BITS s1, SSTATUS_M_ONLY, 0, t0
    CHECK_BITS s1, UXL_MASK, (2 << 32) & UXL_MASK, t0
#ifndef PENV_QEMU
    CHECK_BITS s1, MSTATUS_RO0, 0, t0
#endif
    li t0, MSTATUS_FS | MSTATUS_VS | MSTATUS_XS | MSTATUS_SD   /* same FS/VS/XS/SD in both views */
    and t1, s0, t0
    and t2, s1, t0
    CHECK_EQ t1, t2

    TEST 7                      /* sstatus: zero clears only the S bits */
    li t0, -1
    csrw mstatus, t0
    csrw sstatus, zero
    csrr s0, mstatus
    csrr s1, sstatus
    li t0, MPP_M
    csrw mstatus, t0
    CHECK_BITS s0, SSTATUS_RW, 0, t0
    CHECK_BITS s0, MSTATUS_RW & ~SSTATUS_RW, MSTATUS_RW & ~SSTATUS_RW, t0
    CHECK_BITS s1, SSTATUS_RW | SSTATUS_M_ONLY, 0, t0
    CHECK_BITS s1, UXL_MASK, (2 << 32) & UXL_MASK, t0
    li t0, MSTATUS_FS | MSTATUS_VS | MSTATUS_XS | MSTATUS_SD
    and t1, s0, t0
    and t2, s1, t0
    CHECK_EQ t1, t2

    TEST 8                      /* medeleg */
    li t0, -1
    csrw medeleg, t0
    csrr s0, medeleg
    csrw medeleg, zero
    csrr s1, medeleg
    CHECK_BITS s0, MEDELEG_REQ, MEDELEG_REQ, t0
#ifndef PENV_QEMU
    CHECK_BITS s0, ~MEDELEG_ALLOWED, 0, t0    /* in particular bit 11: ecall from M is never delegated */
#endif
    CHECK_EQI s1, 0
    li t0, 1 << CAUSE_LOAD_PAGE
    csrw medeleg, t0
    csrr s0, medeleg
    csrw medeleg, zero
    CHECK_EQI s0, 1 << CAUSE_LOAD_PAGE

    TEST 9                      /* mideleg: S interrupts only */
    li t0, -1
    csrw mideleg, t0
    csrr s0, mideleg
    csrw mideleg, zero
    csrr s1, mideleg
    CHECK_BITS s0, S_INTS, S_INTS, t0
#ifndef PENV_QEMU
    CHECK_EQI s0, S_INTS
    CHECK_EQI s1, 0
#else
    CHECK_BITS s0, M_INTS, 0, t0
    CHECK_BITS s1, S_INTS | M_INTS, 0, t0  /* (QEMU 7.2 keeps some hypervisor bits set) */
#endif

    TEST 10                     /* mie */
    li t0, -1
    csrw mie, t0
    csrr s0, mie
    csrw mie, zero
    csrr s1, mie
    CHECK_BITS s0, S_INTS | MIP_MSIP | MIP_MTIP, S_INTS | MIP_MSIP | MIP_MTIP, t0
#ifndef PENV_QEMU
    CHECK_BITS s0, ~(S_INTS | M_INTS), 0, t0
#endif
    CHECK_EQI s1, 0

    TEST 11                     /* mip: only SSIP, STIP (STCE = 0) and SEIP are writable */
    csrw CSR_MENVCFG, zero
    li t0, -1
    csrw mip, t0
    csrr s0, mip
    csrw mip, zero
    csrr s1, mip
#ifndef PENV_QEMU
    CHECK_EQI s0, S_INTS
#else
    CHECK_BITS s0, S_INTS | M_INTS, S_INTS, t0
#endif
    CHECK_EQI s1, 0

    TEST 12                     /* sie/sip without delegation: read-only zero */
    li t0, MIP_MSIP | MIP_SSIP
    csrw mie, t0
    li t0, -1
    csrw sie, t0
    csrr s0, sie
    csrr s1, mie
    li t0, -1
    csrw sip, t0
    csrr s2, sip
    csrr s3, mip
    csrw mie, zero
    csrw mip, zero
    CHECK_EQI s0, 0
    CHECK_EQI s1, MIP_MSIP | MIP_SSIP
    CHECK_EQI s2, 0
    CHECK_EQI s3, 0
    li t0, MIP_SSIP             /* a pending SSI is not visible in sip without delegation */
    csrw mip, t0
    csrr s0, sip
    csrw mip, zero
    CHECK_EQI s0, 0

    TEST 13                     /* sie/sip with S interrupts delegated */
    li t0, S_INTS
    csrw mideleg, t0
    li t0, MIP_MSIP
    csrw mie, t0
    li t0, -1
    csrw sie, t0
    csrr s0, sie
    csrr s1, mie
    csrw sie, zero
    csrr s2, sie
    csrr s3, mie
    CHECK_EQI s0, S_INTS
    CHECK_EQI s1, S_INTS | MIP_MSIP
    CHECK_EQI s2, 0
    CHECK_EQI s3, MIP_MSIP
    li t0, -1                   /* sip: only SSIP is writable */
    csrw sip, t0
    csrr s0, sip
    csrr s1, mip
    li t0, MIP_STIP | MIP_SEIP  /* STIP and SEIP pending (set through mip) show up in sip ... */
    csrs mip, t0
    csrr s2, sip
    csrw sip, zero              /* ... and cannot be cleared through it */
    csrr s3, mip
    csrw mip, zero
    csrw mie, zero
    csrw mideleg, zero
    CHECK_EQI s0, MIP_SSIP
    CHECK_EQI s1, MIP_SSIP
    CHECK_EQI s2, S_INTS
    CHECK_EQI s3, MIP_STIP | MIP_SEIP
    li t0, MIP_SSIP             /* partial delegation: only the delegated bit is visible */
    csrw mideleg, t0
    li t0, S_INTS
    csrw mip, t0
    csrw mie, t0
    csrr s0, sip
    csrr s1, sie
    csrw mip, zero
    csrw mie, zero
    csrw mideleg, zero
    CHECK_EQI s0, MIP_SSIP
    CHECK_EQI s1, MIP_SSIP

    TEST 14                     /* mtvec: direct and vectored modes; reserved modes are not stored */
    la s5, vec_base
    csrw mtvec, s5
    csrr s0, mtvec
    ori t0, s5, 1
    csrw mtvec, t0
    csrr s1, mtvec
    ori t0, s5, 2
    csrw mtvec, t0
    csrr s2, mtvec
    ori t0, s5, 3
    csrw mtvec, t0
    csrr s3, mtvec
    li t0, -1
    csrw mtvec, t0
    csrr s4, mtvec
    RESTORE_MTVEC
    CHECK_EQ s0, s5
    ori t0, s5, 1
    CHECK_EQ s1, t0
    andi t0, s2, 3
    CHECK_NEI t0, 2
    CHECK_NEI t0, 3
    andi t0, s3, 3
    CHECK_NEI t0, 2
    CHECK_NEI t0, 3
    andi t0, s4, 3
    CHECK_NEI t0, 2
    CHECK_NEI t0, 3

    TEST 15                     /* stvec likewise */
    csrw stvec, s5
    csrr s0, stvec
    ori t0, s5, 1
    csrw stvec, t0
    csrr s1, stvec
    ori t0, s5, 2
    csrw stvec, t0
    csrr s2, stvec
    li t0, -1
    csrw stvec, t0
    csrr s4, stvec
    RESTORE_STVEC
    CHECK_EQ s0, s5
    ori t0, s5, 1
    CHECK_EQ s1, t0
    andi t0, s2, 3
    CHECK_NEI t0, 2
    andi t0, s4, 3
    CHECK_NEI t0, 2
    CHECK_NEI t0, 3

    TEST 16                     /* mepc/sepc: bit 0 is always zero (IALIGN = 16) */
    li t0, -1
    csrw mepc, t0
    csrr s0, mepc
    csrw sepc, t0
    csrr s1, sepc
    li t0, 0x80001003
    csrw mepc, t0
    csrr s2, mepc
    csrw sepc, t0
    csrr s3, sepc
#ifdef PENV_QEMU
    andi s0, s0, -2             /* QEMU 7.2 keeps bit 0 of mepc/sepc (the spec: always zero) */
    andi s1, s1, -2
    andi s2, s2, -2
    andi s3, s3, -2
#endif
    CHECK_EQI s0, -2
    CHECK_EQI s1, -2
    CHECK_EQI s2, 0x80001002
    CHECK_EQI s3, 0x80001002

    TEST 17                     /* scratch registers hold any value; tval and cause hold legal values */
    li t1, 0x0123456789abcdef
    csrw mscratch, t1
    csrr s0, mscratch
    csrw sscratch, t1
    csrr s1, sscratch
    CHECK_EQ s0, t1
    CHECK_EQ s1, t1
    li t1, -1
    csrw mscratch, t1
    csrr s0, mscratch
    CHECK_EQI s0, -1
    li t1, 0x80004321
    csrw mtval, t1
    csrr s0, mtval
    csrw stval, t1
    csrr s1, stval
    CHECK_EQ s0, t1
    CHECK_EQ s1, t1
    li t1, CAUSE_INTR | IRQ_STI
    csrw mcause, t1
    csrr s0, mcause
    csrw scause, t1
    csrr s1, scause
    CHECK_EQ s0, t1
    CHECK_EQ s1, t1
    li t1, CAUSE_STORE_PAGE
    csrw mcause, t1
    csrr s0, mcause
    CHECK_EQ s0, t1

    TEST 18                     /* counter enables: 32-bit registers, CY/TM/IR writable */
    li t0, -1
    csrw mcounteren, t0
    csrr s0, mcounteren
    csrw scounteren, t0
    csrr s1, scounteren
    csrw mcounteren, zero
    csrr s2, mcounteren
    csrw scounteren, zero
    csrr s3, scounteren
    CHECK_BITS s0, 7, 7, t0
    CHECK_BITS s1, 7, 7, t0
#ifndef PENV_QEMU
    srli t0, s0, 32             /* (QEMU 7.2 stores 64 bits) */
    CHECK_EQI t0, 0
    srli t0, s1, 32
    CHECK_EQI t0, 0
#endif
    CHECK_EQI s2, 0
    CHECK_EQI s3, 0
    li t0, 5
    csrw mcounteren, t0
    csrr s0, mcounteren
    csrw mcounteren, zero
    CHECK_EQI s0, 5

    TEST 19                     /* menvcfg / senvcfg */
    li t0, -1
    csrw CSR_MENVCFG, t0
    csrr s0, CSR_MENVCFG
    csrw CSR_MENVCFG, zero
    csrr s1, CSR_MENVCFG
    li t0, -1
    csrw CSR_SENVCFG, t0
    csrr s2, CSR_SENVCFG
    csrw CSR_SENVCFG, zero
    csrr s3, CSR_SENVCFG
#ifdef PENV_QEMU
    li t0, ~ENVCFG_PBMTE        /* QEMU 7.2 also implements Svpbmt */
    and s0, s0, t0
#endif
    CHECK_EQI s0, ENVCFG_STCE | ENVCFG_CBZE | ENVCFG_CBCFE | ENVCFG_CBIE | ENVCFG_FIOM
    CHECK_EQI s1, 0
    CHECK_EQI s2, ENVCFG_CBZE | ENVCFG_CBCFE | ENVCFG_CBIE | ENVCFG_FIOM
    CHECK_EQI s3, 0
    li t0, ENVCFG_CBZE | (1 << 4)   /* CBIE = 01 is a legal value */
    csrw CSR_MENVCFG, t0
    csrr s0, CSR_MENVCFG
    csrw CSR_MENVCFG, zero
    CHECK_EQI s0, ENVCFG_CBZE | (1 << 4)

    TEST 20                     /* satp: Sv39/48/57 with 16-bit ASIDs; unsupported modes are ignored */
    csrr s0, satp
    CHECK_EQI s0, 0
    li t0, SATP_MODE(SATP_MODE_SV39) | (0xffff << 44) | 0x80123
    csrw satp, t0
    csrr s0, satp
    li t0, SATP_MODE(SATP_MODE_SV48) | (0x1234 << 44) | 0x80456
    csrw satp, t0
    csrr s1, satp
    li t0, SATP_MODE(SATP_MODE_SV57) | (0xabcd << 44) | 0x80789
    csrw satp, t0
    csrr s2, satp
    li t0, SATP_MODE(SATP_MODE_SV64) | 0x80001
    csrw satp, t0
    csrr s3, satp
    li t0, SATP_MODE(1) | 0x80002
    csrw satp, t0
    csrr s4, satp
    li t0, SATP_MODE(15) | (0x55 << 44) | 0x80003
    csrw satp, t0
    csrr s5, satp
    csrw satp, zero
    csrr s6, satp
    sfence.vma
    CHECK_EQI s0, SATP_MODE(SATP_MODE_SV39) | (0xffff << 44) | 0x80123
    CHECK_EQI s1, SATP_MODE(SATP_MODE_SV48) | (0x1234 << 44) | 0x80456
    CHECK_EQI s2, SATP_MODE(SATP_MODE_SV57) | (0xabcd << 44) | 0x80789
    CHECK_EQ s3, s2
    CHECK_EQ s4, s2
    CHECK_EQ s5, s2
    CHECK_EQI s6, 0

    TEST 21                     /* minstret / mcycle are writable and the user views follow them */
    li t0, 1000000
    csrw minstret, t0
    csrr s0, instret
    li t0, 5000000
    csrw mcycle, t0
    csrr s1, cycle
    li t0, 1000000
    sub t1, s0, t0
#ifndef PENV_QEMU
    sltiu t1, t1, 3             /* the value written, +0..2 */
    CHECK_EQI t1, 1
#else
    bltz t1, 1f
    li t0, 100000000
    sltu t1, t1, t0
    CHECK_EQI t1, 1
1:
#endif
    li t0, 5000000
    sub t1, s1, t0
    CHECK_BITS t1, 1 << 63, 0, t2
    li t0, 100000000
    sltu t1, t1, t0
    CHECK_EQI t1, 1
#ifndef PENV_QEMU
    csrr s2, minstret           /* the M views match the user views (QEMU: host clock, not exact) */
    csrr s3, instret
    sub t1, s3, s2
    CHECK_EQI t1, 1
#endif

#ifndef PENV_NO_TIME
    TEST 22                     /* time follows the CLINT's mtime */
    li t0, CLINT_MTIME
    ld s0, 0(t0)
    csrr s1, time
    ld s2, 0(t0)
    bltu s1, s0, 1f
    bltu s2, s1, 1f
    j 2f
1:  CHECK_EQI zero, 1
2:  li t1, 20000                /* and advances (10 MHz): wait for 2 ms of mtime */
    add s3, s2, t1
3:  csrr t2, time
    bltu t2, s3, 3b
#endif

    PASS

/* set s1 in mstatus, read back, clear it, read back: both must show exactly that change */
set_clear_mstatus:
    csrr t2, mstatus
    csrs mstatus, s1
    csrr t3, mstatus
    csrc mstatus, s1
    csrr t4, mstatus
    xor t5, t2, t3
    or t3, t2, s1
    xor t3, t3, t2              /* t3 = bits of s1 that were clear before */
    CHECK_EQ t5, t3
    not t3, s1
    and t2, t2, t3
    CHECK_EQ t4, t2
    ret

    .align 8
vec_base:
    j vec_base
