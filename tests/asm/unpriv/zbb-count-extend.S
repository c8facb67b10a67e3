/*
 * Zbb, part 2: CLZ, CLZW, CTZ, CTZW, CPOP, CPOPW, SEXT.B, SEXT.H, ZEXT.H, ORC.B, REV8.
 *
 * Part of tvisor's unprivileged-ISA test suite: built with tests/asm/env.h and tests/asm/link.ld and run
 * by tests/isa-unpriv.test.ts. Expected values follow the RISC-V unprivileged specification.
 */
#include "env.h"
        .option norvc

/* ---- CLZ ---- */
        TEST_R_OP(2, clz, 0x0000000000000040, 0x0000000000000000)
        TEST_R_OP(3, clz, 0x000000000000003f, 0x0000000000000001)
        TEST_R_OP(4, clz, 0x0000000000000000, 0xffffffffffffffff)
        TEST_R_OP(5, clz, 0x0000000000000000, 0x8000000000000000)
        TEST_R_OP(6, clz, 0x0000000000000020, 0x00000000ffffffff)
        TEST_R_OP(7, clz, 0x000000000000001f, 0x0000000100000000)
        TEST_R_OP(8, clz, 0x000000000000000c, 0x0008000000000000)
        TEST_R_OP(9, clz, 0x0000000000000001, 0x7fffffffffffffff)
        TEST_R_SRC1_EQ_DEST(10, clz, 0x0000000000000008, 0x00f0000000000f80)
        TEST_CASE(11, x0, 0, li a1, 0x1234; clz x0, a1)

/* ---- CLZW ---- */
        TEST_R_OP(12, clzw, 0x0000000000000020, 0x0000000000000000)
        TEST_R_OP(13, clzw, 0x000000000000001f, 0x0000000000000001)
        TEST_R_OP(14, clzw, 0x0000000000000000, 0xffffffffffffffff)
        TEST_R_OP(15, clzw, 0x0000000000000000, 0x0000000080000000)
        TEST_R_OP(16, clzw, 0x0000000000000020, 0xffffffff00000000)
        TEST_R_OP(17, clzw, 0x000000000000000f, 0xffffffff00010000)
        TEST_R_OP(18, clzw, 0x0000000000000001, 0x000000007fffffff)
        TEST_R_OP(19, clzw, 0x000000000000001f, 0x0000000100000001)
        TEST_R_SRC1_EQ_DEST(20, clzw, 0x0000000000000014, 0x00f0000000000f80)
        TEST_CASE(21, x0, 0, li a1, 0x1234; clzw x0, a1)

/* ---- CTZ ---- */
        TEST_R_OP(22, ctz, 0x0000000000000040, 0x0000000000000000)
        TEST_R_OP(23, ctz, 0x0000000000000000, 0x0000000000000001)
        TEST_R_OP(24, ctz, 0x0000000000000000, 0xffffffffffffffff)
        TEST_R_OP(25, ctz, 0x000000000000003f, 0x8000000000000000)
        TEST_R_OP(26, ctz, 0x0000000000000020, 0xffffffff00000000)
        TEST_R_OP(27, ctz, 0x0000000000000020, 0x0000000100000000)
        TEST_R_OP(28, ctz, 0x0000000000000034, 0x0010000000000000)
        TEST_R_OP(29, ctz, 0x0000000000000004, 0xfffffffffffffff0)
        TEST_R_SRC1_EQ_DEST(30, ctz, 0x0000000000000007, 0x00f0000000000f80)
        TEST_CASE(31, x0, 0, li a1, 0x1234; ctz x0, a1)

/* ---- CTZW ---- */
        TEST_R_OP(32, ctzw, 0x0000000000000020, 0x0000000000000000)
        TEST_R_OP(33, ctzw, 0x0000000000000000, 0x0000000000000001)
        TEST_R_OP(34, ctzw, 0x0000000000000000, 0xffffffffffffffff)
        TEST_R_OP(35, ctzw, 0x000000000000001f, 0x0000000080000000)
        TEST_R_OP(36, ctzw, 0x0000000000000020, 0xffffffff00000000)
        TEST_R_OP(37, ctzw, 0x0000000000000010, 0xffffffff00010000)
        TEST_R_OP(38, ctzw, 0x0000000000000004, 0x0000000012345670)
        TEST_R_OP(39, ctzw, 0x0000000000000020, 0x0000000100000000)
        TEST_R_SRC1_EQ_DEST(40, ctzw, 0x0000000000000007, 0x00f0000000000f80)
        TEST_CASE(41, x0, 0, li a1, 0x1234; ctzw x0, a1)

/* ---- CPOP ---- */
        TEST_R_OP(42, cpop, 0x0000000000000000, 0x0000000000000000)
        TEST_R_OP(43, cpop, 0x0000000000000001, 0x0000000000000001)
        TEST_R_OP(44, cpop, 0x0000000000000040, 0xffffffffffffffff)
        TEST_R_OP(45, cpop, 0x0000000000000001, 0x8000000000000000)
        TEST_R_OP(46, cpop, 0x0000000000000020, 0x0123456789abcdef)
        TEST_R_OP(47, cpop, 0x0000000000000020, 0x00000000ffffffff)
        TEST_R_OP(48, cpop, 0x0000000000000020, 0x5555555555555555)
        TEST_R_SRC1_EQ_DEST(49, cpop, 0x0000000000000009, 0x00f0000000000f80)
        TEST_CASE(50, x0, 0, li a1, 0x1234; cpop x0, a1)

/* ---- CPOPW ---- */
        TEST_R_OP(51, cpopw, 0x0000000000000000, 0x0000000000000000)
        TEST_R_OP(52, cpopw, 0x0000000000000001, 0x0000000000000001)
        TEST_R_OP(53, cpopw, 0x0000000000000020, 0xffffffffffffffff)
        TEST_R_OP(54, cpopw, 0x0000000000000001, 0x0000000080000000)
        TEST_R_OP(55, cpopw, 0x0000000000000000, 0xffffffff00000000)
        TEST_R_OP(56, cpopw, 0x0000000000000014, 0x0123456789abcdef)
        TEST_R_OP(57, cpopw, 0x0000000000000010, 0x5555555555555555)
        TEST_R_SRC1_EQ_DEST(58, cpopw, 0x0000000000000005, 0x00f0000000000f80)
        TEST_CASE(59, x0, 0, li a1, 0x1234; cpopw x0, a1)

/* ---- SEXT.B ---- */
        TEST_R_OP(60, sext.b, 0x0000000000000000, 0x0000000000000000)
        TEST_R_OP(61, sext.b, 0x000000000000007f, 0x000000000000007f)
        TEST_R_OP(62, sext.b, 0xffffffffffffff80, 0x0000000000000080)
        TEST_R_OP(63, sext.b, 0xffffffffffffffff, 0x00000000000000ff)
        TEST_R_OP(64, sext.b, 0xffffffffffffff80, 0x123456789abcde80)
        TEST_R_OP(65, sext.b, 0x000000000000007f, 0xffffffffffffff7f)
        TEST_R_SRC1_EQ_DEST(66, sext.b, 0xffffffffffffff80, 0x00f0000000000f80)
        TEST_CASE(67, x0, 0, li a1, 0x1234; sext.b x0, a1)

/* ---- SEXT.H ---- */
        TEST_R_OP(68, sext.h, 0x0000000000000000, 0x0000000000000000)
        TEST_R_OP(69, sext.h, 0x0000000000007fff, 0x0000000000007fff)
        TEST_R_OP(70, sext.h, 0xffffffffffff8000, 0x0000000000008000)
        TEST_R_OP(71, sext.h, 0xffffffffffffffff, 0x000000000000ffff)
        TEST_R_OP(72, sext.h, 0xffffffffffff8000, 0x123456789abc8000)
        TEST_R_OP(73, sext.h, 0x0000000000007fff, 0xffffffffffff7fff)
        TEST_R_SRC1_EQ_DEST(74, sext.h, 0x0000000000000f80, 0x00f0000000000f80)
        TEST_CASE(75, x0, 0, li a1, 0x1234; sext.h x0, a1)

/* ---- ZEXT.H ---- */
        TEST_R_OP(76, zext.h, 0x0000000000000000, 0x0000000000000000)
        TEST_R_OP(77, zext.h, 0x0000000000007fff, 0x0000000000007fff)
        TEST_R_OP(78, zext.h, 0x0000000000008000, 0x0000000000008000)
        TEST_R_OP(79, zext.h, 0x000000000000ffff, 0x000000000000ffff)
        TEST_R_OP(80, zext.h, 0x0000000000008000, 0x123456789abc8000)
        TEST_R_OP(81, zext.h, 0x000000000000ffff, 0xffffffffffffffff)
        TEST_R_SRC1_EQ_DEST(82, zext.h, 0x0000000000000f80, 0x00f0000000000f80)
        TEST_CASE(83, x0, 0, li a1, 0x1234; zext.h x0, a1)

/* ---- ORC.B ---- */
        TEST_R_OP(84, orc.b, 0x0000000000000000, 0x0000000000000000)
        TEST_R_OP(85, orc.b, 0x00000000000000ff, 0x0000000000000001)
        TEST_R_OP(86, orc.b, 0xffffffffffffffff, 0xffffffffffffffff)
        TEST_R_OP(87, orc.b, 0xff000000000000ff, 0x0100000000000080)
        TEST_R_OP(88, orc.b, 0xffffffffffffffff, 0x0123456789abcdef)
        TEST_R_OP(89, orc.b, 0x00ffffff00ffffff, 0x0010203000506070)
        TEST_R_OP(90, orc.b, 0xff00000000000000, 0x8000000000000000)
        TEST_R_SRC1_EQ_DEST(91, orc.b, 0x00ff00000000ffff, 0x00f0000000000f80)
        TEST_CASE(92, x0, 0, li a1, 0x1234; orc.b x0, a1)

/* ---- REV8 ---- */
        TEST_R_OP(93, rev8, 0x0000000000000000, 0x0000000000000000)
        TEST_R_OP(94, rev8, 0x0100000000000000, 0x0000000000000001)
        TEST_R_OP(95, rev8, 0xffffffffffffffff, 0xffffffffffffffff)
        TEST_R_OP(96, rev8, 0xefcdab8967452301, 0x0123456789abcdef)
        TEST_R_OP(97, rev8, 0x0100000000000080, 0x8000000000000001)
        TEST_R_OP(98, rev8, 0xff00000000000000, 0x00000000000000ff)
        TEST_R_SRC1_EQ_DEST(99, rev8, 0x800f00000000f000, 0x00f0000000000f80)
        TEST_CASE(100, x0, 0, li a1, 0x1234; rev8 x0, a1)

        TEST_PASS
