/*
 * F and D conversions: float to integer of every width and signedness (rounding, saturation, NaN, the invalid
 * flag, sign extension of 32-bit results), integer to float (rounding of wide integers, the .w forms ignoring
 * the upper register half), binary64 <-> binary32 (rounding, overflow, underflow detected after rounding, NaNs).
 *
 * Part of tvisor's F/D test suite (see fenv.h and tests/isa-fp.test.ts).
 */
#include "fenv.h"

#define TWO_HALF_D  0x4004000000000000   /* 2.5 */
#define MTWO_HALF_D 0xc004000000000000   /* -2.5 */
#define THREE_HALF_D 0x400c000000000000  /* 3.5 */
#define THREE_E9_D  0x41e65a0bc0000000   /* 3e9 */
#define TWO63_D     0x43e0000000000000
#define MTWO63_D    0xc3e0000000000000
#define TWO64_D     0x43f0000000000000
#define INF_D       0x7ff0000000000000
#define NINF_D      0xfff0000000000000

/* ---- fcvt.w.d: rounding modes ---- */
        TEST_FP_D_INT(2, fcvt.w.d, RNE, NX, 2, TWO_HALF_D)
        TEST_FP_D_INT(3, fcvt.w.d, RNE, NX, 4, THREE_HALF_D)
        TEST_FP_D_INT(4, fcvt.w.d, RMM, NX, 3, TWO_HALF_D)
        TEST_FP_D_INT(5, fcvt.w.d, RMM, NX, -3, MTWO_HALF_D)
        TEST_FP_D_INT(6, fcvt.w.d, RDN, NX, -3, MTWO_HALF_D)
        TEST_FP_D_INT(7, fcvt.w.d, RUP, NX, -2, MTWO_HALF_D)
        TEST_FP_D_INT(8, fcvt.w.d, RTZ, NX, -2, MTWO_HALF_D)
        TEST_FP_D_INT(9, fcvt.w.d, RTZ, 0, -7, 0xc01c000000000000)
        TEST_FP_D_INT(10, fcvt.w.d, RNE, 0, 0, 0x8000000000000000)
/* ---- saturation and NaN: the invalid flag alone, never NX ---- */
        TEST_FP_D_INT(11, fcvt.w.d, RNE, NV, 0x7fffffff, 0x7ff8000000000000)
        TEST_FP_D_INT(12, fcvt.w.d, RNE, NV, 0x7fffffff, 0xfff8000000000000)   /* NaN of either sign */
        TEST_FP_D_INT(13, fcvt.w.d, RNE, NV, 0xffffffff80000000, NINF_D)
        TEST_FP_D_INT(14, fcvt.w.d, RNE, NV, 0x7fffffff, THREE_E9_D)
        TEST_FP_D_INT(15, fcvt.w.d, RNE, NV, 0x7fffffff, 0x41dfffffffe00000)   /* 2147483647.5 rounds to 2^31 */
        TEST_FP_D_INT(16, fcvt.w.d, RTZ, NX, 0x7fffffff, 0x41dfffffffe00000)
        TEST_FP_D_INT(17, fcvt.w.d, RUP, NX, 0xffffffff80000000, 0xc1e0000000100000) /* -2147483648.5 */
        TEST_FP_D_INT(18, fcvt.w.d, RDN, NV, 0xffffffff80000000, 0xc1e0000000100000)
/* ---- unsigned: results sign-extended from bit 31; negative values saturate to 0 ---- */
        TEST_FP_D_INT(20, fcvt.wu.d, RNE, 0, 0xffffffffb2d05e00, THREE_E9_D)
        TEST_FP_D_INT(21, fcvt.wu.d, RNE, NV, 0, 0xbff0000000000000)
        TEST_FP_D_INT(22, fcvt.wu.d, RTZ, NX, 0, 0xbfe0000000000000)       /* -0.5 truncates to 0: in range */
        TEST_FP_D_INT(23, fcvt.wu.d, RDN, NV, 0, 0xbfe0000000000000)       /* -0.5 rounds to -1 */
        TEST_FP_D_INT(24, fcvt.wu.d, RNE, NV, 0xffffffffffffffff, 0x41f0000000000000)  /* 2^32 */
        TEST_FP_D_INT(25, fcvt.wu.d, RNE, NV, 0xffffffffffffffff, 0x7ff8000000000000)
        TEST_FP_D_INT(26, fcvt.wu.d, RNE, NV, 0, NINF_D)
/* ---- 64-bit ---- */
        TEST_FP_D_INT(30, fcvt.l.d, RNE, NV, 0x7fffffffffffffff, TWO63_D)
        TEST_FP_D_INT(31, fcvt.l.d, RNE, 0, 0x8000000000000000, MTWO63_D)
        TEST_FP_D_INT(32, fcvt.l.d, RNE, NV, 0x8000000000000000, NINF_D)
        TEST_FP_D_INT(33, fcvt.l.d, RNE, NV, 0x7fffffffffffffff, 0x7ff0000000000001)
        TEST_FP_D_INT(34, fcvt.l.d, RNE, 0, 0x7ffffffffffffc00, 0x43dfffffffffffff)  /* largest double below 2^63 */
        TEST_FP_D_INT(35, fcvt.l.d, RUP, NX, 1, 0x0000000000000001)                  /* smallest subnormal */
        TEST_FP_D_INT(36, fcvt.l.d, RDN, NX, -1, 0x8000000000000001)
        TEST_FP_D_INT(37, fcvt.lu.d, RNE, 0, 0x8000000000000000, TWO63_D)
        TEST_FP_D_INT(38, fcvt.lu.d, RNE, NV, 0xffffffffffffffff, TWO64_D)
        TEST_FP_D_INT(39, fcvt.lu.d, RNE, 0, 0xfffffffffffff800, 0x43efffffffffffff)
        TEST_FP_D_INT(40, fcvt.lu.d, RNE, 0, 0, 0x8000000000000000)
        TEST_FP_D_INT(41, fcvt.lu.d, RNE, NV, 0xffffffffffffffff, 0x7ff8000000000000)
        TEST_FP_D_INT(42, fcvt.lu.d, RMM, NX, 1, 0x3fe0000000000000)
/* ---- from binary32 ---- */
        TEST_FP_S_INT(50, fcvt.w.s, RNE, NX, 2, 0x40200000)         /* 2.5 */
        TEST_FP_S_INT(51, fcvt.w.s, RMM, NX, -3, 0xc0200000)
        TEST_FP_S_INT(52, fcvt.w.s, RNE, NV, 0x7fffffff, 0x4f32d05e)  /* 3e9 */
        TEST_FP_S_INT(53, fcvt.wu.s, RNE, 0, 0xffffffffb2d05e00, 0x4f32d05e)
        TEST_FP_S_INT(54, fcvt.w.s, RNE, NV, 0x7fffffff, 0x7fc00000)
        TEST_FP_S_INT(55, fcvt.w.s, RNE, 0, 0xffffffff80000000, 0xcf000000)  /* -2^31 exactly */
        TEST_FP_S_INT(56, fcvt.l.s, RNE, NV, 0x8000000000000000, 0xff800000)
        TEST_FP_S_INT(57, fcvt.lu.s, RNE, 0, 0xffffff0000000000, 0x5f7fffff)  /* largest float below 2^64 */
        TEST_FP_S_INT(58, fcvt.lu.s, RNE, NV, 0, 0xbf800000)
        TEST_FP_S_INT(59, fcvt.l.s, RTZ, NX, 0, 0x3f7fffff)
        fsrmi 2                                                      /* RDN through frm */
        TEST_FP_S_INT(60, fcvt.w.s, DYN, NX, -1, 0xbe800000)          /* -0.25 */
        fsrmi 0

/* ---- integer to binary64 ---- */
        TEST_FP_FROM_INT(70, fcvt.d.w, NO_RM, 0, 0x4014000000000000, 0x1234567800000005)  /* upper half ignored */
        TEST_FP_FROM_INT(71, fcvt.d.w, NO_RM, 0, 0xc1e0000000000000, 0x0000000080000000)  /* -2^31 */
        TEST_FP_FROM_INT(72, fcvt.d.wu, NO_RM, 0, 0x41e0000000000000, 0xffffffff80000000) /* 2^31 */
        TEST_FP_FROM_INT(73, fcvt.d.wu, NO_RM, 0, 0x41efffffffe00000, 0xffffffffffffffff) /* 2^32 - 1 */
        TEST_FP_FROM_INT(74, fcvt.d.l, NO_RM, 0, 0xbff0000000000000, -1)
        TEST_FP_FROM_INT(75, fcvt.d.l, RNE, 0, 0xc3e0000000000000, 0x8000000000000000)
        TEST_FP_FROM_INT(76, fcvt.d.l, RNE, NX, 0x43e0000000000000, 0x7fffffffffffffff)
        TEST_FP_FROM_INT(77, fcvt.d.l, RTZ, NX, 0x43dfffffffffffff, 0x7fffffffffffffff)
        TEST_FP_FROM_INT(78, fcvt.d.lu, RNE, NX, 0x43f0000000000000, 0xffffffffffffffff)
        TEST_FP_FROM_INT(79, fcvt.d.lu, RTZ, NX, 0x43efffffffffffff, 0xffffffffffffffff)
        TEST_FP_FROM_INT(80, fcvt.d.l, RNE, NX, 0x4340000000000000, 0x20000000000001)     /* 2^53 + 1: tie to even */
        TEST_FP_FROM_INT(81, fcvt.d.l, RNE, NX, 0x4340000000000002, 0x20000000000003)     /* 2^53 + 3: tie to even */
        TEST_FP_FROM_INT(82, fcvt.d.l, RMM, NX, 0x4340000000000001, 0x20000000000001)
        TEST_FP_FROM_INT(83, fcvt.d.lu, RNE, 0, 0, 0)
        fsrmi 2
        TEST_FP_FROM_INT(84, fcvt.d.l, DYN, NX, 0xc340000000000001, 0xffdfffffffffffff)   /* -(2^53 + 1), RDN */
        fsrmi 0
/* ---- integer to binary32 ---- */
        TEST_FP_FROM_INT(90, fcvt.s.w, RNE, NX, BOX(0x4b800000), 16777217)
        TEST_FP_FROM_INT(91, fcvt.s.w, RUP, NX, BOX(0x4b800001), 16777217)
        TEST_FP_FROM_INT(92, fcvt.s.w, RNE, NX, BOX(0x4b800002), 16777219)    /* tie to even, upwards */
        TEST_FP_FROM_INT(93, fcvt.s.w, RDN, NX, BOX(0xcb800001), -16777217)
        TEST_FP_FROM_INT(94, fcvt.s.w, NO_RM, 0, BOX(0xcf000000), 0x80000000)
        TEST_FP_FROM_INT(95, fcvt.s.wu, RNE, NX, BOX(0x4f800000), 0xffffffff)
        TEST_FP_FROM_INT(96, fcvt.s.wu, RTZ, NX, BOX(0x4f7fffff), 0xffffffff)
        TEST_FP_FROM_INT(97, fcvt.s.l, RNE, 0, BOX(0xdf000000), 0x8000000000000000)
        TEST_FP_FROM_INT(98, fcvt.s.lu, RNE, NX, BOX(0x5f800000), 0xffffffffffffffff)
        TEST_FP_FROM_INT(99, fcvt.s.lu, RMM, NX, BOX(0x4b800001), 0x1000001)    /* 2^24+1: tie away */
        TEST_FP_FROM_INT(100, fcvt.s.w, NO_RM, 0, BOX(0), 0x1234567800000000)

/* ---- binary64 <-> binary32 ---- */
        TEST_FP_D1(110, fcvt.s.d, RNE, NX, BOX(0x3dcccccd), 0x3fb999999999999a)   /* 0.1 */
        TEST_FP_D1(111, fcvt.s.d, RTZ, NX, BOX(0x3dcccccc), 0x3fb999999999999a)
        TEST_FP_D1(112, fcvt.s.d, RNE, OF|NX, BOX(0x7f800000), 0x7e37e43c8800759c)   /* 1e300 */
        TEST_FP_D1(113, fcvt.s.d, RTZ, OF|NX, BOX(0x7f7fffff), 0x7e37e43c8800759c)
        TEST_FP_D1(114, fcvt.s.d, RDN, OF|NX, BOX(0xff800000), 0xfe37e43c8800759c)
        TEST_FP_D1(115, fcvt.s.d, RNE, UF|NX, BOX(0), 0x01a56e1fc2f8f359)          /* 1e-300 */
        TEST_FP_D1(116, fcvt.s.d, RUP, UF|NX, BOX(1), 0x01a56e1fc2f8f359)
        /* 2^-126 - 2^-151 rounds to 2^-126 even with an unbounded exponent: not tiny after rounding */
        TEST_FP_D1(117, fcvt.s.d, RNE, NX, BOX(0x00800000), 0x380ffffff0000000)
        TEST_FP_D1(118, fcvt.s.d, RTZ, UF|NX, BOX(0x007fffff), 0x380ffffff0000000)
        TEST_FP_D1(119, fcvt.s.d, RNE, NV, QNAN_S, 0x7ff0000000000001)
        TEST_FP_D1(120, fcvt.s.d, RNE, 0, QNAN_S, 0xfff8000000000123)              /* payload not kept */
        TEST_FP_D1(121, fcvt.s.d, RNE, 0, BOX(0x80000000), 0x8000000000000000)
        TEST_FP_D1(122, fcvt.s.d, RNE, 0, BOX(0x00000001), 0x36a0000000000000)     /* 2^-149: exact subnormal */
        TEST_FP_S1(123, fcvt.d.s, NO_RM, 0, 0x3fb99999a0000000, 0x3dcccccd)
        TEST_FP_S1(124, fcvt.d.s, NO_RM, 0, 0x36a0000000000000, 0x00000001)
        TEST_FP_S1(125, fcvt.d.s, NO_RM, NV, QNAN_D, 0x7f800001)
        TEST_FP_S1(126, fcvt.d.s, NO_RM, 0, QNAN_D, 0xffc00123)
        TEST_FP_S1(127, fcvt.d.s, NO_RM, 0, 0xfff0000000000000, 0xff800000)

        TEST_PASS
