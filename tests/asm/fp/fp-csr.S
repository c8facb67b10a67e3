/*
 * F/D control and status: the fflags/frm/fcsr CSRs, accrued exception flags, invalid rounding modes (reserved
 * static rm values, and dynamic rm with frm = 5..7, are illegal instructions), reserved encodings, misa.F/D,
 * and mstatus.FS: Off makes every FP instruction and FP CSR access illegal (registers survive), and any change to
 * FP state sets FS = Dirty and SD (also visible through sstatus).
 *
 * Part of tvisor's F/D test suite (see fenv.h and tests/isa-fp.test.ts).
 */
#include "fenv.h"
        .option norvc

#define ONE_D   0x3ff0000000000000
#define THREE_D 0x4008000000000000
#define P1_D    0x3fb999999999999a
#define P2_D    0x3fc999999999999a
#define SD_BIT  (1 << 63)

/* ---- misa advertises F and D ---- */
        TEST_NUM(2)
        csrr a0, misa
        andi a0, a0, (1 << 3) | (1 << 5)
        CHECK_EQ(a0, (1 << 3) | (1 << 5))

/* ---- fcsr = frm << 5 | fflags; fields are views of one register ---- */
        TEST_NUM(3)
        csrr a0, fcsr
        CHECK_EQ(a0, 0)
        li a1, 0xff
        csrw fcsr, a1
        csrr a0, fcsr
        CHECK_EQ(a0, 0xff)
        csrr a0, frm
        CHECK_EQ(a0, 7)
        csrr a0, fflags
        CHECK_EQ(a0, 0x1f)
        TEST_NUM(4)
        li a1, 0xfffffffffffffe35              /* bits above 7 are not kept */
        csrw fcsr, a1
        csrr a0, fcsr
        CHECK_EQ(a0, 0x35)
        TEST_NUM(5)
        csrwi fflags, 0x0a
        csrr a0, fcsr
        CHECK_EQ(a0, 0x2a)                     /* frm (1) unchanged */
        li a1, 0xfe                            /* fflags keeps 5 bits */
        csrw fflags, a1
        csrr a0, fflags
        CHECK_EQ(a0, 0x1e)
        TEST_NUM(6)
        csrwi frm, 4
        csrr a0, fcsr
        CHECK_EQ(a0, 0x9e)
        li a1, 0xfb                            /* frm keeps 3 bits */
        csrw frm, a1
        csrr a0, frm
        CHECK_EQ(a0, 3)
        TEST_NUM(7)                            /* swaps return the old value */
        li a1, 2
        fsrm a0, a1
        CHECK_EQ(a0, 3)
        li a1, 1
        fsflags a0, a1
        CHECK_EQ(a0, 0x1e)
        frcsr a0
        CHECK_EQ(a0, 0x41)
        fscsr a0, zero
        CHECK_EQ(a0, 0x41)
        csrr a0, fcsr
        CHECK_EQ(a0, 0)

/* ---- flags accrue until software clears them ---- */
        TEST_NUM(10)
        li a1, ONE_D; fmv.d.x fa1, a1
        li a2, THREE_D; fmv.d.x fa2, a2
        fmv.d.x fa3, zero
        fdiv.d fa0, fa1, fa2                   /* NX */
        fdiv.d fa0, fa1, fa3                   /* DZ */
        fadd.d fa0, fa1, fa1                   /* exact: changes nothing */
        frflags a0
        CHECK_EQ(a0, NX|DZ)
        feq.d a3, fa0, fa0                     /* quiet comparison of numbers: nothing */
        li a1, 0x7ff0000000000001; fmv.d.x fa1, a1
        fmax.d fa0, fa1, fa2                   /* signaling NaN: NV */
        frflags a0
        CHECK_EQ(a0, NX|DZ|NV)
        csrwi fflags, 0

/* ---- reserved rounding modes ---- */
        TEST_ILLEGAL(20, .insn r 0x53, 5, 0x01, fa0, fa1, fa2)           /* fadd.d with rm = 5 */
        TEST_ILLEGAL(21, .insn r 0x53, 6, 0x01, fa0, fa1, fa2)           /* rm = 6 */
        TEST_ILLEGAL(22, .insn r4 0x43, 5, 1, fa0, fa1, fa2, fa3)        /* fmadd.d with rm = 5 */
        TEST_ILLEGAL(23, .insn r 0x53, 6, 0x21, fa0, fa1, f0)            /* fcvt.d.s with rm = 6 */
        TEST_ILLEGAL(24, .insn r 0x53, 5, 0x61, a0, fa1, x0)             /* fcvt.w.d with rm = 5 */
        /* a dynamic rm with frm = 5, 6, 7 is illegal, for every instruction that has an rm field */
        csrwi frm, 5
        TEST_ILLEGAL(25, fadd.d fa0, fa1, fa2, dyn)
        TEST_ILLEGAL(26, fsqrt.s fa0, fa1, dyn)
        TEST_ILLEGAL(27, .insn r 0x53, 7, 0x69, fa0, a1, x0)             /* fcvt.d.w (exact, but has an rm field) */
        csrwi frm, 6
        TEST_ILLEGAL(28, fmadd.s fa0, fa1, fa2, fa3, dyn)
        TEST_ILLEGAL(29, fcvt.w.d a0, fa1, dyn)
        csrwi frm, 7
        TEST_ILLEGAL(30, fcvt.s.d fa0, fa1, dyn)
        TEST_ILLEGAL(31, fcvt.d.l fa0, a1, dyn)
        /* the trap leaves the destination alone; static modes and rm-less instructions still work */
        TEST_NUM(32)
        li a0, 0x4444; fmv.d.x fa0, a0
        li a1, P1_D; fmv.d.x fa1, a1
        li a2, P2_D; fmv.d.x fa2, a2
        TEST_ILLEGAL(33, fadd.d fa0, fa1, fa2, dyn)
        fmv.x.d a0, fa0
        CHECK_EQ(a0, 0x4444)
        TEST_NUM(34)
        fadd.d fa0, fa1, fa2, rtz
        fmv.x.d a0, fa0
        CHECK_EQ(a0, 0x3fd3333333333333)
        fsgnjn.d fa0, fa1, fa1
        fmin.d fa0, fa0, fa2
        flt.d a0, fa0, fa2
        CHECK_EQ(a0, 1)
        fclass.d a0, fa1
        CHECK_EQ(a0, 1 << 6)
        csrr a0, frm
        CHECK_EQ(a0, 7)
        csrwi frm, 0

/* ---- reserved encodings ---- */
        TEST_ILLEGAL(40, .insn r 0x53, 0, 0x02, fa0, fa1, fa2)           /* fadd.h: no Zfh */
        TEST_ILLEGAL(41, .insn r 0x53, 0, 0x03, fa0, fa1, fa2)           /* fadd.q: no Q */
        TEST_ILLEGAL(42, .insn r 0x53, 0, 0x2d, fa0, fa1, fa2)           /* fsqrt.d with rs2 != 0 */
        TEST_ILLEGAL(43, .insn r 0x53, 3, 0x11, fa0, fa1, fa2)           /* fsgnj funct3 = 3 */
        TEST_ILLEGAL(44, .insn r 0x53, 2, 0x15, fa0, fa1, fa2)           /* fmin/fmax funct3 = 2 */
        TEST_ILLEGAL(45, .insn r 0x53, 3, 0x51, a0, fa1, fa2)            /* fcmp funct3 = 3 */
        TEST_ILLEGAL(46, .insn r 0x53, 0, 0x61, a0, fa1, x4)             /* fcvt.?.d with rs2 = 4 */
        TEST_ILLEGAL(47, .insn r 0x53, 0, 0x20, fa0, fa1, x2)            /* fcvt.s.h */
        TEST_ILLEGAL(48, .insn r 0x53, 0, 0x71, a0, fa1, x1)             /* fmv.x.d with rs2 != 0 */
        TEST_ILLEGAL(49, .insn r 0x53, 2, 0x71, a0, fa1, x0)             /* funct3 2 of fmv.x/fclass */
        TEST_ILLEGAL(50, .insn r 0x53, 1, 0x79, fa0, a1, x0)             /* fmv.d.x with funct3 1 */
        TEST_ILLEGAL(51, .insn i 0x07, 1, fa0, 0(a1))                    /* flh: no Zfh */
        TEST_ILLEGAL(52, .insn s 0x27, 4, fa0, 0(a1))                    /* fsq */

/* ---- mstatus.FS and SD ---- */
        TEST_NUM(60)                           /* Initial: SD clear */
        li a1, MSTATUS_FS
        csrc mstatus, a1
        li a1, MSTATUS_FS_INITIAL
        csrs mstatus, a1
        csrr a0, mstatus
        srli a0, a0, 63
        CHECK_EQ(a0, 0)
        TEST_NUM(61)                           /* writing an f register: Dirty and SD */
        fmv.d.x fa0, zero
        csrr a0, mstatus
        li a1, MSTATUS_FS
        and a2, a0, a1
        CHECK_EQ(a2, MSTATUS_FS_DIRTY)
        srli a0, a0, 63
        CHECK_EQ(a0, 1)
        csrr a0, sstatus                       /* sstatus shows FS and SD too */
        and a2, a0, a1
        CHECK_EQ(a2, MSTATUS_FS_DIRTY)
        srli a0, a0, 63
        CHECK_EQ(a0, 1)
        TEST_NUM(62)                           /* Clean, then an FP CSR write: Dirty */
        li a1, MSTATUS_FS
        csrc mstatus, a1
        li a1, MSTATUS_FS_CLEAN
        csrs mstatus, a1
        csrr a0, mstatus
        srli a0, a0, 63
        CHECK_EQ(a0, 0)
        csrwi fflags, 1
        csrr a0, mstatus
        li a1, MSTATUS_FS
        and a0, a0, a1
        CHECK_EQ(a0, MSTATUS_FS_DIRTY)
        TEST_NUM(63)                           /* Clean, then arithmetic: Dirty */
        li a1, MSTATUS_FS
        csrc mstatus, a1
        li a1, MSTATUS_FS_CLEAN
        csrs mstatus, a1
        fadd.d fa0, fa1, fa2
        csrr a0, mstatus
        li a1, MSTATUS_FS
        and a0, a0, a1
        CHECK_EQ(a0, MSTATUS_FS_DIRTY)
        TEST_NUM(64)                           /* Clean, then a load: Dirty */
        li a1, MSTATUS_FS
        csrc mstatus, a1
        li a1, MSTATUS_FS_CLEAN
        csrs mstatus, a1
        la a2, scratch
        fld fa3, 0(a2)
        csrr a0, mstatus
        li a1, MSTATUS_FS
        and a0, a0, a1
        CHECK_EQ(a0, MSTATUS_FS_DIRTY)
        TEST_NUM(65)                           /* FS is writable through sstatus */
        li a1, MSTATUS_FS
        csrc sstatus, a1
        csrr a0, mstatus
        and a0, a0, a1
        CHECK_EQ(a0, 0)
        li a1, MSTATUS_FS_CLEAN
        csrs sstatus, a1
        csrr a0, mstatus
        li a1, MSTATUS_FS
        and a0, a0, a1
        CHECK_EQ(a0, MSTATUS_FS_CLEAN)

/* ---- FS = Off: every FP instruction and FP CSR access is illegal ---- */
        TEST_NUM(70)
        li a0, 0x1234567890abcdef
        fmv.d.x fs2, a0
        li a1, 0x41
        csrw fcsr, a1
        li a1, MSTATUS_FS
        csrc mstatus, a1
        la a1, scratch
        TEST_ILLEGAL(71, fadd.d fa0, fa1, fa2)
        TEST_ILLEGAL(72, fmadd.s fa0, fa1, fa2, fa3)
        TEST_ILLEGAL(73, fld fa0, 0(a1))
        TEST_ILLEGAL(74, fsd fs2, 8(a1))
        TEST_ILLEGAL(75, flw fa0, -4(a1))
        TEST_ILLEGAL(76, fsw fa0, 12(a1))
        TEST_ILLEGAL(77, fmv.x.d a0, fs2)
        TEST_ILLEGAL(78, fmv.w.x fa0, a0)
        TEST_ILLEGAL(79, fcvt.w.d a0, fa0, rtz)
        TEST_ILLEGAL(80, fsgnj.d fa0, fa0, fa0)
        TEST_ILLEGAL(81, fclass.s a0, fa0)
        TEST_ILLEGAL(82, feq.d a0, fa0, fa0)
        TEST_ILLEGAL(83, csrr a0, fcsr)
        TEST_ILLEGAL(84, csrr a0, frm)
        TEST_ILLEGAL(85, csrw fflags, zero)
        TEST_ILLEGAL(86, fsrmi 1)
        .option rvc
        mv s0, a1
        TEST_ILLEGAL(87, c.fld fa0, 8(s0))
        TEST_ILLEGAL(88, c.fsd fs1, 16(s0))
        TEST_ILLEGAL(89, c.fldsp ft0, 8(sp))
        TEST_ILLEGAL(90, c.fsdsp ft0, 16(sp))
        .option norvc
        TEST_NUM(91)                           /* nothing was changed: FS still Off, memory intact */
        csrr a0, mstatus
        li a1, MSTATUS_FS
        and a0, a0, a1
        CHECK_EQ(a0, 0)
        la a1, scratch
        ld a0, 8(a1)
        CHECK_EQ(a0, 0x5a5a5a5a5a5a5a5a)
        TEST_NUM(92)                           /* back on: registers and fcsr survived */
        li a1, MSTATUS_FS_INITIAL
        csrs mstatus, a1
        fmv.x.d a0, fs2
        CHECK_EQ(a0, 0x1234567890abcdef)
        csrr a0, fcsr
        CHECK_EQ(a0, 0x41)

        TEST_PASS

        .data
        .balign 8
        .dword 0
scratch: .dword 0x3ff0000000000000, 0x5a5a5a5a5a5a5a5a, 0
