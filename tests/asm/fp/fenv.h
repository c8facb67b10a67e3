/*
 * Floating-point additions to tests/asm/env.h for the F/D test programs in tests/asm/fp/.
 *
 * Include this header (which includes env.h) first. The test body starts with mstatus.FS = Initial and fcsr = 0.
 * Operands are given as raw bit patterns (64-bit for D; 32-bit for S, NaN-boxed by fmv.w.x) and moved into
 * fa1/fa2/fa3 through a1..a3; the result lands in fa0 (or a0) and is compared as raw bits: f results with
 * fmv.x.d, so binary32 results must be NaN-boxed (0xffffffff in the upper half) to match. Every arithmetic check
 * also compares fflags (cleared right before the instruction) with the expected flags.
 * Registers used: a0-a4, fa0-fa3 (plus t5/t6 as in env.h).
 */
#ifndef TVISOR_TESTS_ASM_FP_FENV_H
#define TVISOR_TESTS_ASM_FP_FENV_H

#include "env.h"

#define MSTATUS_FS 0x6000
#define MSTATUS_FS_INITIAL 0x2000
#define MSTATUS_FS_CLEAN 0x4000
#define MSTATUS_FS_DIRTY 0x6000

/* fflags bits */
#define NX 1
#define UF 2
#define OF 4
#define DZ 8
#define NV 16

/* canonical NaNs as the registers hold them */
#define QNAN_D 0x7ff8000000000000
#define QNAN_S 0xffffffff7fc00000
/* NaN-boxes a binary32 pattern */
#define BOX(v) (0xffffffff00000000 | (v))

        li t5, MSTATUS_FS_INITIAL
        csrs mstatus, t5
        fscsr zero

/* Check the result in fa0 (raw 64 bits) and the flags in a4. */
#define __FP_CHECK(res, flags) \
        fmv.x.d a0, fa0; CHECK_EQ(a0, res); CHECK_EQ(a4, flags)

/* Two-operand binary64 operation `inst fa0, fa1, fa2[, rm]`; rm is a rounding-mode token or empty. */
#define TEST_FP_D2(num, inst, rm, flags, res, v1, v2) \
        TEST_NUM(num); li a1, v1; fmv.d.x fa1, a1; li a2, v2; fmv.d.x fa2, a2; \
        fsflags zero; inst fa0, fa1, fa2 rm; frflags a4; __FP_CHECK(res, flags)
#define TEST_FP_S2(num, inst, rm, flags, res, v1, v2) \
        TEST_NUM(num); li a1, v1; fmv.w.x fa1, a1; li a2, v2; fmv.w.x fa2, a2; \
        fsflags zero; inst fa0, fa1, fa2 rm; frflags a4; __FP_CHECK(res, flags)
/* One operand. */
#define TEST_FP_D1(num, inst, rm, flags, res, v1) \
        TEST_NUM(num); li a1, v1; fmv.d.x fa1, a1; \
        fsflags zero; inst fa0, fa1 rm; frflags a4; __FP_CHECK(res, flags)
#define TEST_FP_S1(num, inst, rm, flags, res, v1) \
        TEST_NUM(num); li a1, v1; fmv.w.x fa1, a1; \
        fsflags zero; inst fa0, fa1 rm; frflags a4; __FP_CHECK(res, flags)
/* Three operands (fused multiply-add family). */
#define TEST_FP_D3(num, inst, rm, flags, res, v1, v2, v3) \
        TEST_NUM(num); li a1, v1; fmv.d.x fa1, a1; li a2, v2; fmv.d.x fa2, a2; li a3, v3; fmv.d.x fa3, a3; \
        fsflags zero; inst fa0, fa1, fa2, fa3 rm; frflags a4; __FP_CHECK(res, flags)
#define TEST_FP_S3(num, inst, rm, flags, res, v1, v2, v3) \
        TEST_NUM(num); li a1, v1; fmv.w.x fa1, a1; li a2, v2; fmv.w.x fa2, a2; li a3, v3; fmv.w.x fa3, a3; \
        fsflags zero; inst fa0, fa1, fa2, fa3 rm; frflags a4; __FP_CHECK(res, flags)
/* Integer result in a0 (comparisons, fclass, float-to-integer conversions). */
#define TEST_FP_D_INT(num, inst, rm, flags, res, v1) \
        TEST_NUM(num); li a1, v1; fmv.d.x fa1, a1; \
        fsflags zero; inst a0, fa1 rm; frflags a4; CHECK_EQ(a0, res); CHECK_EQ(a4, flags)
#define TEST_FP_S_INT(num, inst, rm, flags, res, v1) \
        TEST_NUM(num); li a1, v1; fmv.w.x fa1, a1; \
        fsflags zero; inst a0, fa1 rm; frflags a4; CHECK_EQ(a0, res); CHECK_EQ(a4, flags)
#define TEST_FP_D_CMP(num, inst, flags, res, v1, v2) \
        TEST_NUM(num); li a1, v1; fmv.d.x fa1, a1; li a2, v2; fmv.d.x fa2, a2; \
        fsflags zero; inst a0, fa1, fa2; frflags a4; CHECK_EQ(a0, res); CHECK_EQ(a4, flags)
#define TEST_FP_S_CMP(num, inst, flags, res, v1, v2) \
        TEST_NUM(num); li a1, v1; fmv.w.x fa1, a1; li a2, v2; fmv.w.x fa2, a2; \
        fsflags zero; inst a0, fa1, fa2; frflags a4; CHECK_EQ(a0, res); CHECK_EQ(a4, flags)
/* Integer source in a1 (integer-to-float conversions); the f result is compared raw. */
#define TEST_FP_FROM_INT(num, inst, rm, flags, res, v1) \
        TEST_NUM(num); li a1, v1; \
        fsflags zero; inst fa0, a1 rm; frflags a4; __FP_CHECK(res, flags)

/* Rounding-mode operand tokens (the macros paste them after the last register). */
#define RNE , rne
#define RTZ , rtz
#define RDN , rdn
#define RUP , rup
#define RMM , rmm
#define DYN , dyn
#define NO_RM

#endif
