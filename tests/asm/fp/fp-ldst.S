/*
 * F and D loads, stores and moves: FLW/FLD/FSW/FSD (aligned, misaligned, straddling a page), the compressed
 * C.FLD/C.FSD/C.FLDSP/C.FSDSP, FMV.X.W/FMV.W.X/FMV.X.D/FMV.D.X; bits pass unchanged (signaling NaN payloads
 * included), FLW and FMV.W.X NaN-box, FSW and FMV.X.W take the low 32 bits as they are, and binary32
 * operations read improperly NaN-boxed registers as the canonical NaN.
 *
 * Part of tvisor's F/D test suite (see fenv.h and tests/isa-fp.test.ts).
 */
#include "fenv.h"
        .option norvc

/* ---- FLD/FSD round trips keep every bit ---- */
        TEST_NUM(2)
        la a1, dwords
        fld fa0, 0(a1)
        fmv.x.d a0, fa0
        CHECK_EQ(a0, 0x7ff0000000000123)       /* signaling NaN: not quieted */
        fsd fa0, 8(a1)
        ld a0, 8(a1)
        CHECK_EQ(a0, 0x7ff0000000000123)
        TEST_NUM(3)
        fld ft11, 16(a1)
        fsd ft11, 24(a1)
        ld a0, 24(a1)
        CHECK_EQ(a0, 0xfedcba9876543210)
        TEST_NUM(4)                             /* f0 is an ordinary register */
        fld f0, 16(a1)
        fmv.x.d a0, f0
        CHECK_EQ(a0, 0xfedcba9876543210)
        TEST_NUM(5)                             /* negative offset */
        addi a2, a1, 24
        fld fa1, -8(a2)
        fmv.x.d a0, fa1
        CHECK_EQ(a0, 0xfedcba9876543210)

/* ---- FLW NaN-boxes, FSW stores the low word unchanged ---- */
        TEST_NUM(6)
        la a1, words
        flw fa0, 0(a1)
        fmv.x.d a0, fa0
        CHECK_EQ(a0, 0xffffffff7f800001)
        fsw fa0, 4(a1)
        lwu a0, 4(a1)
        CHECK_EQ(a0, 0x7f800001)
        TEST_NUM(7)                             /* fsw of an unboxed value: the low word as it is */
        li a2, 0x123456783f800000
        fmv.d.x fa1, a2
        fsw fa1, 8(a1)
        lwu a0, 8(a1)
        CHECK_EQ(a0, 0x3f800000)
        lwu a0, 12(a1)                          /* neighbour untouched */
        CHECK_EQ(a0, 0xcafef00d)

/* ---- misaligned and page-crossing accesses are performed ---- */
        TEST_NUM(10)
        la a1, page_end
        li a2, 0x0123456789abcdef
        sd a2, -16(a1)
        fld fa0, -15(a1)
        fmv.x.d a0, fa0
        li a3, 0x0123456789abcdef
        CHECK_EQ(a0, 0x000123456789abcd)        /* bytes 1..7 of the dword, then the zero byte at -8 */
        TEST_NUM(11)
        li a2, 0x1122334455667788
        fmv.d.x fa1, a2
        fsd fa1, -3(a1)                         /* straddles the page boundary */
        fld fa2, -3(a1)
        fmv.x.d a0, fa2
        CHECK_EQ(a0, 0x1122334455667788)
        lbu a0, -3(a1)
        CHECK_EQ(a0, 0x88)
        lbu a0, 4(a1)
        CHECK_EQ(a0, 0x11)
        TEST_NUM(12)
        li a2, 0xa1b2c3d4
        fmv.w.x fa3, a2
        fsw fa3, -2(a1)
        flw fa0, -2(a1)
        fmv.x.d a0, fa0
        CHECK_EQ(a0, 0xffffffffa1b2c3d4)
        lhu a0, 0(a1)
        CHECK_EQ(a0, 0xa1b2)
        TEST_NUM(13)
        fsd fa1, 5(a1)
        flw fa0, 9(a1)
        fmv.x.d a0, fa0
        CHECK_EQ(a0, 0xffffffff11223344)

/* ---- compressed forms ---- */
        .option rvc
        TEST_NUM(20)
        la s0, dwords
        c.fld fs1, 16(s0)                       /* f9 */
        fmv.x.d a0, fs1
        CHECK_EQ(a0, 0xfedcba9876543210)
        c.fsd fs1, 32(s0)
        ld a0, 32(s0)
        CHECK_EQ(a0, 0xfedcba9876543210)
        TEST_NUM(21)
        li a2, 0x5555aaaa3333cccc
        fmv.d.x fa5, a2                         /* f15 */
        c.fsd fa5, 248(s0)                      /* largest offset */
        ld a0, 248(s0)
        CHECK_EQ(a0, 0x5555aaaa3333cccc)
        c.fld fs0, 248(s0)                      /* f8 */
        fmv.x.d a0, fs0
        CHECK_EQ(a0, 0x5555aaaa3333cccc)
        TEST_NUM(22)
        addi sp, sp, -512
        li a2, 0x0102030405060708
        fmv.d.x f0, a2
        c.fsdsp f0, 504(sp)
        ld a0, 504(sp)
        CHECK_EQ(a0, 0x0102030405060708)
        li a2, 0x7ff4000000000001
        sd a2, 0(sp)
        c.fldsp f31, 0(sp)
        fmv.x.d a0, f31
        CHECK_EQ(a0, 0x7ff4000000000001)
        c.fldsp f0, 504(sp)                     /* f0 is a valid C.FLDSP destination */
        fmv.x.d a0, f0
        CHECK_EQ(a0, 0x0102030405060708)
        addi sp, sp, 512
        .option norvc

/* ---- moves between register files ---- */
        TEST_NUM(30)
        li a1, 0x80000000
        fmv.w.x fa0, a1
        fmv.x.d a0, fa0
        CHECK_EQ(a0, 0xffffffff80000000)
        fmv.x.w a0, fa0                         /* sign-extended from bit 31 */
        CHECK_EQ(a0, 0xffffffff80000000)
        TEST_NUM(31)
        li a1, 0x1234567880000001               /* fmv.w.x uses the low word only */
        fmv.w.x fa0, a1
        fmv.x.d a0, fa0
        CHECK_EQ(a0, 0xffffffff80000001)
        TEST_NUM(32)
        li a1, 0x000000007fc00001
        fmv.d.x fa0, a1                         /* not NaN-boxed */
        fmv.x.w a0, fa0                         /* still moves the low word unchanged */
        CHECK_EQ(a0, 0x7fc00001)
        TEST_NUM(33)
        li a1, 0xfff0000000000001
        fmv.d.x fa0, a1
        fmv.x.d a0, fa0
        CHECK_EQ(a0, 0xfff0000000000001)
        fmv.x.d zero, fa0
        CHECK_EQ(zero, 0)

/* ---- improperly NaN-boxed binary32 operands read as the canonical NaN ---- */
        TEST_NUM(40)
        li a1, 0x000000003f800000               /* 1.0f, upper half not all ones */
        fmv.d.x fa1, a1
        li a2, 0xbf800000                       /* -1.0f, properly boxed */
        fmv.w.x fa2, a2
        fsflags zero
        fadd.s fa0, fa1, fa2
        frflags a4
        fmv.x.d a0, fa0
        CHECK_EQ(a0, QNAN_S)
        CHECK_EQ(a4, 0)                         /* a quiet NaN: no flags */
        TEST_NUM(41)
        fsgnj.s fa0, fa1, fa2                   /* canonical NaN with the sign of -1.0f */
        fmv.x.d a0, fa0
        CHECK_EQ(a0, 0xffffffffffc00000)
        TEST_NUM(42)
        fmin.s fa0, fa1, fa2                    /* the NaN loses */
        fmv.x.d a0, fa0
        CHECK_EQ(a0, 0xffffffffbf800000)
        TEST_NUM(43)
        fclass.s a0, fa1
        CHECK_EQ(a0, 1 << 9)
        feq.s a0, fa1, fa1
        CHECK_EQ(a0, 0)
        TEST_NUM(44)
        fcvt.d.s fa0, fa1
        fmv.x.d a0, fa0
        CHECK_EQ(a0, QNAN_D)
        fcvt.w.s a0, fa1
        CHECK_EQ(a0, 0x7fffffff)
        TEST_NUM(45)
        li a1, 0xfffffffe00000000               /* one bit short of a box: +0.0f is not visible */
        fmv.d.x fa1, a1
        fclass.s a0, fa1
        CHECK_EQ(a0, 1 << 9)
        li a1, 0xffffffff00000000               /* properly boxed +0.0f */
        fmv.d.x fa1, a1
        fclass.s a0, fa1
        CHECK_EQ(a0, 1 << 4)

        TEST_PASS

        .data
        .balign 8
dwords: .dword 0x7ff0000000000123, 0, 0xfedcba9876543210, 0
        .skip 256
words:  .word 0x7f800001, 0, 0xcafef00d, 0xcafef00d
        .balign 4096
        .skip 4096 - 32
        .skip 32
page_end:                                       /* a page boundary */
        .skip 64
