/*
 * F and D arithmetic: add/sub/mul/div/sqrt, the fused multiply-add family, sign injection, min/max,
 * comparisons and fclass, with exact result bits and fflags, in static and dynamic rounding modes.
 *
 * Part of tvisor's F/D test suite: built with tests/asm/fp/fenv.h (on top of tests/asm/env.h) and
 * tests/asm/link.ld, run by tests/isa-fp.test.ts. Expected values follow IEEE 754-2008 and the RISC-V
 * unprivileged specification (chapters 11 and 12); they were also checked on QEMU's spike machine.
 */
#include "fenv.h"

#define ONE_D   0x3ff0000000000000
#define TWO_D   0x4000000000000000
#define THREE_D 0x4008000000000000
#define MTWO_D  0xc000000000000000
#define HALF_D  0x3fe0000000000000
#define P1_D    0x3fb999999999999a   /* 0.1 */
#define P2_D    0x3fc999999999999a   /* 0.2 */
#define MAX_D   0x7fefffffffffffff
#define MINN_D  0x0010000000000000   /* smallest normal */
#define MINS_D  0x0000000000000001   /* smallest subnormal */
#define INF_D   0x7ff0000000000000
#define NINF_D  0xfff0000000000000
#define NZERO_D 0x8000000000000000
#define SNAN_D  0x7ff0000000000001
#define ONE_S   0x3f800000
#define TWO_S   0x40000000
#define THREE_S 0x40400000
#define MONE_S  0xbf800000
#define INF_S   0x7f800000
#define SNAN_S  0x7f800001

/* ---- FADD/FSUB.D: 0.1 + 0.2 is an exact tie at binary64 precision ---- */
        TEST_FP_D2(2, fadd.d, NO_RM, 0, THREE_D, ONE_D, TWO_D)
        TEST_FP_D2(3, fadd.d, RNE, NX, 0x3fd3333333333334, P1_D, P2_D)
        TEST_FP_D2(4, fadd.d, RTZ, NX, 0x3fd3333333333333, P1_D, P2_D)
        TEST_FP_D2(5, fadd.d, RDN, NX, 0x3fd3333333333333, P1_D, P2_D)
        TEST_FP_D2(6, fadd.d, RUP, NX, 0x3fd3333333333334, P1_D, P2_D)
        TEST_FP_D2(7, fadd.d, RMM, NX, 0x3fd3333333333334, P1_D, P2_D)
        /* exact zero sums: +0, except -0 when rounding down */
        TEST_FP_D2(8, fsub.d, RNE, 0, 0, ONE_D, ONE_D)
        TEST_FP_D2(9, fsub.d, RDN, 0, NZERO_D, ONE_D, ONE_D)
        TEST_FP_D2(10, fadd.d, RNE, 0, NZERO_D, NZERO_D, NZERO_D)
        TEST_FP_D2(11, fadd.d, RUP, 0, 0, NZERO_D, 0)
        /* infinities and NaNs */
        TEST_FP_D2(12, fadd.d, NO_RM, NV, QNAN_D, INF_D, NINF_D)
        TEST_FP_D2(13, fsub.d, NO_RM, 0, INF_D, INF_D, NINF_D)
        TEST_FP_D2(14, fadd.d, NO_RM, 0, QNAN_D, 0xfff8000000001234, ONE_D)
        TEST_FP_D2(15, fadd.d, NO_RM, NV, QNAN_D, ONE_D, SNAN_D)
        /* overflow */
        TEST_FP_D2(16, fadd.d, RNE, OF|NX, INF_D, MAX_D, MAX_D)
        TEST_FP_D2(17, fadd.d, RTZ, OF|NX, MAX_D, MAX_D, MAX_D)
        TEST_FP_D2(18, fsub.d, RUP, OF|NX, 0xffefffffffffffff, 0xffefffffffffffff, MAX_D)
        TEST_FP_D2(19, fsub.d, RDN, OF|NX, NINF_D, 0xffefffffffffffff, MAX_D)
        /* subnormal sums are exact */
        TEST_FP_D2(20, fadd.d, NO_RM, 0, 0x0000000000000002, MINS_D, MINS_D)
        TEST_FP_D2(21, fsub.d, NO_RM, 0, 0x000fffffffffffff, MINN_D, MINS_D)

/* ---- FMUL/FDIV/FSQRT.D ---- */
        TEST_FP_D2(22, fmul.d, NO_RM, 0, 0xc018000000000000, THREE_D, MTWO_D)
        TEST_FP_D2(23, fmul.d, RNE, OF|NX, INF_D, MAX_D, TWO_D)
        TEST_FP_D2(24, fmul.d, RTZ, OF|NX, MAX_D, MAX_D, TWO_D)
        TEST_FP_D2(25, fmul.d, RNE, 0, 0x0008000000000000, MINN_D, HALF_D)   /* exact subnormal: no UF */
        TEST_FP_D2(26, fmul.d, RNE, UF|NX, 0, MINS_D, HALF_D)                /* tie to even: 0 */
        TEST_FP_D2(27, fmul.d, RUP, UF|NX, MINS_D, MINS_D, HALF_D)
        TEST_FP_D2(28, fmul.d, RMM, UF|NX, 0x8000000000000001, MINS_D, 0xbfe0000000000000)
        TEST_FP_D2(29, fmul.d, NO_RM, NV, QNAN_D, INF_D, 0)
        TEST_FP_D2(30, fmul.d, NO_RM, 0, NZERO_D, NZERO_D, ONE_D)
        TEST_FP_D2(31, fdiv.d, RNE, NX, 0x3fd5555555555555, ONE_D, THREE_D)
        TEST_FP_D2(32, fdiv.d, RUP, NX, 0x3fd5555555555556, ONE_D, THREE_D)
        TEST_FP_D2(33, fdiv.d, RDN, NX, 0xbfd5555555555556, ONE_D, 0xc008000000000000)
        TEST_FP_D2(34, fdiv.d, NO_RM, DZ, INF_D, ONE_D, 0)
        TEST_FP_D2(35, fdiv.d, NO_RM, DZ, NINF_D, ONE_D, NZERO_D)
        TEST_FP_D2(36, fdiv.d, NO_RM, NV, QNAN_D, 0, NZERO_D)
        TEST_FP_D2(37, fdiv.d, NO_RM, NV, QNAN_D, INF_D, NINF_D)
        TEST_FP_D2(38, fdiv.d, NO_RM, 0, INF_D, INF_D, 0)                   /* ∞/0: exact, no DZ */
        TEST_FP_D2(39, fdiv.d, NO_RM, 0, NZERO_D, ONE_D, NINF_D)
        TEST_FP_D2(40, fdiv.d, NO_RM, 0, HALF_D, ONE_D, TWO_D)
        TEST_FP_D1(41, fsqrt.d, RNE, NX, 0x3ff6a09e667f3bcd, TWO_D)
        TEST_FP_D1(42, fsqrt.d, RTZ, NX, 0x3ff6a09e667f3bcc, TWO_D)
        TEST_FP_D1(43, fsqrt.d, RUP, NX, 0x3ff6a09e667f3bcd, TWO_D)
        TEST_FP_D1(44, fsqrt.d, NO_RM, 0, TWO_D, 0x4010000000000000)
        TEST_FP_D1(45, fsqrt.d, NO_RM, NV, QNAN_D, 0xbff0000000000000)
        TEST_FP_D1(46, fsqrt.d, NO_RM, 0, NZERO_D, NZERO_D)
        TEST_FP_D1(47, fsqrt.d, NO_RM, 0, INF_D, INF_D)
        TEST_FP_D1(48, fsqrt.d, NO_RM, NV, QNAN_D, SNAN_D)
        TEST_FP_D1(49, fsqrt.d, NO_RM, 0, 0x1e60000000000000, MINS_D)        /* sqrt(2^-1074) = 2^-537 */

/* ---- fused multiply-add: one rounding ---- */
        /* (1 + 2^-30)^2 - (1 + 2^-29) = 2^-60 exactly; a separate multiply would lose it */
        TEST_FP_D3(50, fmsub.d, NO_RM, 0, 0x3c30000000000000, 0x3ff0000000400000, 0x3ff0000000400000, 0x3ff0000000800000)
        TEST_FP_D3(51, fnmadd.d, NO_RM, 0, 0xbc30000000000000, 0x3ff0000000400000, 0x3ff0000000400000, 0xbff0000000800000)
        TEST_FP_D3(52, fmadd.d, NO_RM, 0, 0x401c000000000000, TWO_D, THREE_D, ONE_D)
        TEST_FP_D3(53, fmsub.d, NO_RM, 0, 0x4014000000000000, TWO_D, THREE_D, ONE_D)
        TEST_FP_D3(54, fnmsub.d, NO_RM, 0, 0xc014000000000000, TWO_D, THREE_D, ONE_D)
        TEST_FP_D3(55, fnmadd.d, NO_RM, 0, 0xc01c000000000000, TWO_D, THREE_D, ONE_D)
        /* a tiny product only shows in the flags and in directed rounding */
        TEST_FP_D3(56, fmadd.d, RNE, NX, ONE_D, MINS_D, MINS_D, ONE_D)
        TEST_FP_D3(57, fmadd.d, RUP, NX, 0x3ff0000000000001, MINS_D, MINS_D, ONE_D)
        TEST_FP_D3(58, fnmsub.d, RDN, NX, 0x3fefffffffffffff, MINS_D, MINS_D, ONE_D)
        /* ∞ × 0 is invalid even with a quiet NaN addend; a quiet NaN addend alone is not */
        TEST_FP_D3(59, fmadd.d, NO_RM, NV, QNAN_D, INF_D, 0, QNAN_D)
        TEST_FP_D3(60, fmadd.d, NO_RM, 0, QNAN_D, TWO_D, THREE_D, QNAN_D)
        TEST_FP_D3(61, fmadd.d, NO_RM, NV, QNAN_D, INF_D, ONE_D, NINF_D)
        TEST_FP_D3(62, fmadd.d, NO_RM, NV, QNAN_D, ONE_D, ONE_D, SNAN_D)
        /* signed zeros of exact zero results */
        TEST_FP_D3(63, fmadd.d, NO_RM, 0, NZERO_D, NZERO_D, TWO_D, NZERO_D)
        TEST_FP_D3(64, fmadd.d, RNE, 0, 0, NZERO_D, TWO_D, 0)
        TEST_FP_D3(65, fmsub.d, RDN, 0, NZERO_D, TWO_D, THREE_D, 0x4018000000000000)
        TEST_FP_D3(66, fmsub.d, RUP, 0, 0, TWO_D, THREE_D, 0x4018000000000000)
        /* overflow inside the product is not an overflow when the addend cancels it */
        TEST_FP_D3(67, fmsub.d, NO_RM, 0, 0x7fd0000000000000, 0x7fe0000000000000, TWO_D, 0x7fe8000000000000)

/* ---- binary32 ---- */
        TEST_FP_S2(70, fadd.s, NO_RM, 0, BOX(0x40700000), 0x3fc00000, 0x40100000)   /* 1.5 + 2.25 */
        TEST_FP_S2(71, fdiv.s, RNE, NX, BOX(0x3eaaaaab), ONE_S, THREE_S)
        TEST_FP_S2(72, fdiv.s, RTZ, NX, BOX(0x3eaaaaaa), ONE_S, THREE_S)
        TEST_FP_S2(73, fdiv.s, RDN, NX, BOX(0xbeaaaaab), MONE_S, THREE_S)
        TEST_FP_S2(74, fdiv.s, RUP, NX, BOX(0xbeaaaaaa), MONE_S, THREE_S)
        TEST_FP_S2(75, fdiv.s, RMM, NX, BOX(0x3eaaaaab), ONE_S, THREE_S)
        TEST_FP_S2(76, fdiv.s, NO_RM, DZ, BOX(0xff800000), MONE_S, 0)
        /* (1 - 2^-24) × 2^-126: tie rounds up to the smallest normal, but tiny after rounding: UF */
        TEST_FP_S2(77, fmul.s, RNE, UF|NX, BOX(0x00800000), 0x3f7fffff, 0x00800000)
        TEST_FP_S2(78, fmul.s, RTZ, UF|NX, BOX(0x007fffff), 0x3f7fffff, 0x00800000)
        TEST_FP_S2(79, fmul.s, RNE, OF|NX, BOX(INF_S), 0x7f7fffff, TWO_S)
        TEST_FP_S2(80, fmul.s, RTZ, OF|NX, BOX(0x7f7fffff), 0x7f7fffff, TWO_S)
        TEST_FP_S2(81, fsub.s, NO_RM, NV, QNAN_S, INF_S, INF_S)
        TEST_FP_S2(82, fsub.s, RDN, 0, BOX(0x80000000), TWO_S, TWO_S)
        TEST_FP_S1(83, fsqrt.s, RNE, NX, BOX(0x3fb504f3), TWO_S)
        TEST_FP_S1(84, fsqrt.s, NO_RM, NV, QNAN_S, MONE_S)
        TEST_FP_S1(85, fsqrt.s, NO_RM, 0, BOX(0x40400000), 0x41100000)               /* sqrt(9) */
        TEST_FP_S3(86, fmadd.s, NO_RM, 0, BOX(0x40500000), 0x3fc00000, TWO_S, 0x3e800000)   /* 1.5*2 + 0.25 */
        TEST_FP_S3(87, fnmsub.s, NO_RM, 0, BOX(0xc0300000), 0x3fc00000, TWO_S, 0x3e800000)  /* -(1.5*2) + 0.25 */
        TEST_FP_S3(88, fmsub.s, NO_RM, 0, BOX(0x28800000), 0x3f800001, 0x3f800001, 0x3f800002) /* (1+2^-23)^2-(1+2^-22) = 2^-46 */
        TEST_FP_S3(89, fmadd.s, NO_RM, NV, QNAN_S, 0, INF_S, 0x7fc00000)

/* ---- dynamic rounding through frm ---- */
        fsrmi 1                         /* RTZ */
        TEST_FP_D2(90, fadd.d, DYN, NX, 0x3fd3333333333333, P1_D, P2_D)
        TEST_FP_S2(91, fdiv.s, NO_RM, NX, BOX(0x3eaaaaaa), ONE_S, THREE_S)   /* the assembler's default rm is dyn */
        fsrmi 3                         /* RUP */
        TEST_FP_D2(92, fdiv.d, DYN, NX, 0x3fd5555555555556, ONE_D, THREE_D)
        TEST_FP_D3(93, fmadd.d, DYN, NX, 0x3ff0000000000001, MINS_D, MINS_D, ONE_D)
        TEST_FP_D1(94, fsqrt.d, DYN, NX, 0x3ff6a09e667f3bcd, TWO_D)
        TEST_FP_D2(95, fadd.d, RTZ, NX, 0x3fd3333333333333, P1_D, P2_D)     /* a static rm overrides frm */
        fsrmi 2                         /* RDN */
        TEST_FP_D2(96, fsub.d, DYN, 0, NZERO_D, THREE_D, THREE_D)
        TEST_FP_D1(97, fsqrt.d, DYN, NX, 0x3ff6a09e667f3bcc, TWO_D)
        fsrmi 4                         /* RMM */
        TEST_FP_D2(98, fadd.d, DYN, NX, 0x3fd3333333333334, P1_D, P2_D)
        TEST_FP_D2(99, fmul.d, DYN, UF|NX, 0x8000000000000001, MINS_D, 0xbfe0000000000000)
        fsrmi 0                         /* RNE */
        TEST_FP_D2(100, fmul.d, DYN, UF|NX, NZERO_D, MINS_D, 0xbfe0000000000000)

/* ---- sign injection (bit operations: NaN payloads survive, no flags) ---- */
        TEST_FP_D2(110, fsgnj.d, NO_RM, 0, 0xbff0000000000000, ONE_D, MTWO_D)
        TEST_FP_D2(111, fsgnjn.d, NO_RM, 0, ONE_D, ONE_D, MTWO_D)
        TEST_FP_D2(112, fsgnjx.d, NO_RM, 0, ONE_D, 0xbff0000000000000, MTWO_D)
        TEST_FP_D2(113, fsgnjx.d, NO_RM, 0, 0xbff0000000000000, 0xbff0000000000000, TWO_D)
        TEST_FP_D2(114, fsgnjn.d, NO_RM, 0, 0xfff0000000000001, SNAN_D, SNAN_D)
        TEST_FP_D2(115, fsgnj.d, NO_RM, 0, 0x7ff8000000000123, 0xfff8000000000123, ONE_D)
        TEST_FP_D1(116, fabs.d, NO_RM, 0, INF_D, NINF_D)
        TEST_FP_D1(117, fneg.d, NO_RM, 0, NZERO_D, 0)
        TEST_FP_S2(118, fsgnj.s, NO_RM, 0, BOX(0xbf800000), ONE_S, 0xc0000000)
        TEST_FP_S2(119, fsgnjn.s, NO_RM, 0, BOX(0x7f800001), 0xff800001, MONE_S)
        TEST_FP_S2(120, fsgnjx.s, NO_RM, 0, BOX(0x3f800000), MONE_S, MONE_S)

/* ---- fmin/fmax: -0 < +0; one NaN gives the other operand; signaling NaNs raise NV ---- */
        TEST_FP_D2(130, fmin.d, NO_RM, 0, NZERO_D, 0, NZERO_D)
        TEST_FP_D2(131, fmin.d, NO_RM, 0, NZERO_D, NZERO_D, 0)
        TEST_FP_D2(132, fmax.d, NO_RM, 0, 0, NZERO_D, 0)
        TEST_FP_D2(133, fmax.d, NO_RM, 0, 0, 0, NZERO_D)
        TEST_FP_D2(134, fmin.d, NO_RM, 0, ONE_D, QNAN_D, ONE_D)
        TEST_FP_D2(135, fmax.d, NO_RM, 0, ONE_D, ONE_D, 0xfff8000000000001)
        TEST_FP_D2(136, fmax.d, NO_RM, NV, ONE_D, SNAN_D, ONE_D)
        TEST_FP_D2(137, fmin.d, NO_RM, NV, QNAN_D, 0x7ff8000000000005, SNAN_D)
        TEST_FP_D2(138, fmin.d, NO_RM, 0, MTWO_D, ONE_D, MTWO_D)
        TEST_FP_D2(139, fmax.d, NO_RM, 0, MAX_D, NINF_D, MAX_D)
        TEST_FP_S2(140, fmin.s, NO_RM, 0, BOX(0x80000000), 0, 0x80000000)
        TEST_FP_S2(141, fmax.s, NO_RM, 0, BOX(0x40400000), 0x7fc00000, THREE_S)
        TEST_FP_S2(142, fmax.s, NO_RM, NV, QNAN_S, SNAN_S, 0x7fc00001)
        TEST_FP_S2(143, fmin.s, NO_RM, 0, BOX(0xc0400000), 0xc0400000, TWO_S)

/* ---- comparisons: feq is quiet, flt/fle signal on any NaN ---- */
        TEST_FP_D_CMP(150, feq.d, 0, 1, ONE_D, ONE_D)
        TEST_FP_D_CMP(151, feq.d, 0, 1, 0, NZERO_D)
        TEST_FP_D_CMP(152, feq.d, 0, 0, QNAN_D, QNAN_D)
        TEST_FP_D_CMP(153, feq.d, NV, 0, SNAN_D, ONE_D)
        TEST_FP_D_CMP(154, flt.d, 0, 1, MTWO_D, ONE_D)
        TEST_FP_D_CMP(155, flt.d, 0, 0, NZERO_D, 0)
        TEST_FP_D_CMP(156, fle.d, 0, 1, NZERO_D, 0)
        TEST_FP_D_CMP(157, flt.d, NV, 0, QNAN_D, ONE_D)
        TEST_FP_D_CMP(158, fle.d, NV, 0, ONE_D, QNAN_D)
        TEST_FP_D_CMP(159, fle.d, 0, 0, INF_D, MAX_D)
        TEST_FP_D_CMP(160, flt.d, 0, 1, NINF_D, 0xffefffffffffffff)
        TEST_FP_S_CMP(161, feq.s, 0, 1, 0x80000000, 0)
        TEST_FP_S_CMP(162, feq.s, NV, 0, SNAN_S, SNAN_S)
        TEST_FP_S_CMP(163, flt.s, 0, 1, ONE_S, TWO_S)
        TEST_FP_S_CMP(164, fle.s, NV, 0, 0x7fc00000, ONE_S)
        TEST_FP_S_CMP(165, fle.s, 0, 1, TWO_S, TWO_S)
        /* x0 as the destination stays zero */
        TEST_NUM(166); li a1, ONE_D; fmv.d.x fa1, a1; feq.d zero, fa1, fa1; CHECK_EQ(zero, 0)

/* ---- fclass: one bit per class ---- */
        TEST_FP_D_INT(170, fclass.d, NO_RM, 0, 1 << 0, NINF_D)
        TEST_FP_D_INT(171, fclass.d, NO_RM, 0, 1 << 1, MTWO_D)
        TEST_FP_D_INT(172, fclass.d, NO_RM, 0, 1 << 2, 0x800fffffffffffff)
        TEST_FP_D_INT(173, fclass.d, NO_RM, 0, 1 << 3, NZERO_D)
        TEST_FP_D_INT(174, fclass.d, NO_RM, 0, 1 << 4, 0)
        TEST_FP_D_INT(175, fclass.d, NO_RM, 0, 1 << 5, MINS_D)
        TEST_FP_D_INT(176, fclass.d, NO_RM, 0, 1 << 6, MINN_D)
        TEST_FP_D_INT(177, fclass.d, NO_RM, 0, 1 << 7, INF_D)
        TEST_FP_D_INT(178, fclass.d, NO_RM, 0, 1 << 8, SNAN_D)
        TEST_FP_D_INT(179, fclass.d, NO_RM, 0, 1 << 9, QNAN_D)
        TEST_FP_D_INT(180, fclass.d, NO_RM, 0, 1 << 8, 0xfff7ffffffffffff)
        TEST_FP_S_INT(181, fclass.s, NO_RM, 0, 1 << 0, 0xff800000)
        TEST_FP_S_INT(182, fclass.s, NO_RM, 0, 1 << 2, 0x80000001)
        TEST_FP_S_INT(183, fclass.s, NO_RM, 0, 1 << 4, 0)
        TEST_FP_S_INT(184, fclass.s, NO_RM, 0, 1 << 6, ONE_S)
        TEST_FP_S_INT(185, fclass.s, NO_RM, 0, 1 << 8, SNAN_S)
        TEST_FP_S_INT(186, fclass.s, NO_RM, 0, 1 << 9, 0xffc00000)

/* ---- destination = source: operands are read before the result is written (fast and exact paths) ---- */
        TEST_NUM(190)
        li a1, P1_D; fmv.d.x fa1, a1
        li a2, P2_D; fmv.d.x fa2, a2
        fadd.d fa1, fa1, fa2, rne
        fmv.x.d a0, fa1
        CHECK_EQ(a0, 0x3fd3333333333334)
        TEST_NUM(191)
        li a1, P1_D; fmv.d.x fa1, a1
        fadd.d fa2, fa1, fa2, rtz                    /* fa2 = 0.2 still */
        fmv.x.d a0, fa2
        CHECK_EQ(a0, 0x3fd3333333333333)
        TEST_NUM(192)
        li a1, THREE_D; fmv.d.x fa1, a1
        fmadd.d fa1, fa1, fa1, fa1, rup              /* 3*3 + 3 */
        fmv.x.d a0, fa1
        CHECK_EQ(a0, 0x4028000000000000)
        TEST_NUM(193)
        li a1, TWO_D; fmv.d.x fa1, a1
        fsqrt.d fa1, fa1, rdn
        fmv.x.d a0, fa1
        CHECK_EQ(a0, 0x3ff6a09e667f3bcc)
        TEST_NUM(194)
        li a1, THREE_S; fmv.w.x fa1, a1
        fdiv.s fa1, fa1, fa1, rmm
        fmv.x.d a0, fa1
        CHECK_EQ(a0, BOX(ONE_S))
        TEST_NUM(195)
        li a1, MTWO_D; fmv.d.x fa1, a1
        li a2, ONE_D; fmv.d.x fa2, a2
        fmin.d fa2, fa2, fa1
        fmv.x.d a0, fa2
        CHECK_EQ(a0, MTWO_D)
        fsgnjn.d fa1, fa1, fa1                       /* fneg in place */
        fmv.x.d a0, fa1
        CHECK_EQ(a0, TWO_D)

        TEST_PASS
