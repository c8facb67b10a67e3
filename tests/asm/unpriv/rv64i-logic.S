/*
 * RV64I: XOR, OR, AND, XORI, ORI, ANDI.
 *
 * Part of tvisor's unprivileged-ISA test suite: built with tests/asm/env.h and tests/asm/link.ld and run
 * by tests/isa-unpriv.test.ts. Expected values follow the RISC-V unprivileged specification.
 */
#include "env.h"
        .option norvc

/* ---- XOR ---- */
        TEST_RR_OP(2, xor, 0xf00ff00ff00ff00f, 0xff00ff00ff00ff00, 0x0f0f0f0f0f0f0f0f)
        TEST_RR_OP(3, xor, 0xf00ff00ff00ff00f, 0x00ff00ff00ff00ff, 0xf0f0f0f0f0f0f0f0)
        TEST_RR_OP(4, xor, 0xffffffffffffffff, 0x0000000000000000, 0xffffffffffffffff)
        TEST_RR_OP(5, xor, 0x0000000000000000, 0xffffffffffffffff, 0xffffffffffffffff)
        TEST_RR_OP(6, xor, 0xffffffffffffffff, 0x0123456789abcdef, 0xfedcba9876543210)
        TEST_RR_OP(7, xor, 0x8000000000000001, 0x8000000000000000, 0x0000000000000001)
        TEST_RR_OP(8, xor, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000)
        TEST_RR_SRC1_EQ_DEST(9, xor, 0xf0f0f0f0f0f0f0f0, 0x0ff00ff00ff00ff0, 0xff00ff00ff00ff00)
        TEST_RR_SRC2_EQ_DEST(10, xor, 0xf0f0f0f0f0f0f0f0, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0)
        TEST_RR_SRC12_EQ_DEST(11, xor, 0x0000000000000000, 0x0ff00ff00ff00ff0)
        TEST_RR_ZEROSRC1(12, xor, 0x0ff00ff00ff00ff0, 0x0ff00ff00ff00ff0)
        TEST_RR_ZERODEST(13, xor, 0x0ff00ff00ff00ff0, 0xff00ff00ff00ff00)

/* ---- OR ---- */
        TEST_RR_OP(14, or, 0xff0fff0fff0fff0f, 0xff00ff00ff00ff00, 0x0f0f0f0f0f0f0f0f)
        TEST_RR_OP(15, or, 0xf0fff0fff0fff0ff, 0x00ff00ff00ff00ff, 0xf0f0f0f0f0f0f0f0)
        TEST_RR_OP(16, or, 0xffffffffffffffff, 0x0000000000000000, 0xffffffffffffffff)
        TEST_RR_OP(17, or, 0xffffffffffffffff, 0xffffffffffffffff, 0xffffffffffffffff)
        TEST_RR_OP(18, or, 0xffffffffffffffff, 0x0123456789abcdef, 0xfedcba9876543210)
        TEST_RR_OP(19, or, 0x8000000000000001, 0x8000000000000000, 0x0000000000000001)
        TEST_RR_OP(20, or, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000)
        TEST_RR_SRC1_EQ_DEST(21, or, 0xfff0fff0fff0fff0, 0x0ff00ff00ff00ff0, 0xff00ff00ff00ff00)
        TEST_RR_SRC2_EQ_DEST(22, or, 0xfff0fff0fff0fff0, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0)
        TEST_RR_SRC12_EQ_DEST(23, or, 0x0ff00ff00ff00ff0, 0x0ff00ff00ff00ff0)
        TEST_RR_ZEROSRC1(24, or, 0x0ff00ff00ff00ff0, 0x0ff00ff00ff00ff0)
        TEST_RR_ZERODEST(25, or, 0x0ff00ff00ff00ff0, 0xff00ff00ff00ff00)

/* ---- AND ---- */
        TEST_RR_OP(26, and, 0x0f000f000f000f00, 0xff00ff00ff00ff00, 0x0f0f0f0f0f0f0f0f)
        TEST_RR_OP(27, and, 0x00f000f000f000f0, 0x00ff00ff00ff00ff, 0xf0f0f0f0f0f0f0f0)
        TEST_RR_OP(28, and, 0x0000000000000000, 0x0000000000000000, 0xffffffffffffffff)
        TEST_RR_OP(29, and, 0xffffffffffffffff, 0xffffffffffffffff, 0xffffffffffffffff)
        TEST_RR_OP(30, and, 0x0000000000000000, 0x0123456789abcdef, 0xfedcba9876543210)
        TEST_RR_OP(31, and, 0x0000000000000000, 0x8000000000000000, 0x0000000000000001)
        TEST_RR_OP(32, and, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000)
        TEST_RR_SRC1_EQ_DEST(33, and, 0x0f000f000f000f00, 0x0ff00ff00ff00ff0, 0xff00ff00ff00ff00)
        TEST_RR_SRC2_EQ_DEST(34, and, 0x0f000f000f000f00, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0)
        TEST_RR_SRC12_EQ_DEST(35, and, 0x0ff00ff00ff00ff0, 0x0ff00ff00ff00ff0)
        TEST_RR_ZEROSRC1(36, and, 0x0000000000000000, 0x0ff00ff00ff00ff0)
        TEST_RR_ZERODEST(37, and, 0x0ff00ff00ff00ff0, 0xff00ff00ff00ff00)

/* ---- XORI (12-bit immediate sign-extended to 64 bits) ---- */
        TEST_IMM_OP(38, xori, 0x00ff00ff00ff000f, 0x00ff00ff00ff00ff, 240)
        TEST_IMM_OP(39, xori, 0xff00ff00ff00fff0, 0x00ff00ff00ff00ff, -241)
        TEST_IMM_OP(40, xori, 0xfedcba9876543210, 0x0123456789abcdef, -1)
        TEST_IMM_OP(41, xori, 0xfffffffffffff800, 0x0000000000000000, -2048)
        TEST_IMM_OP(42, xori, 0xfffffffffffff800, 0xffffffffffffffff, 2047)
        TEST_IMM_OP(43, xori, 0x00ff00ff00ff0700, 0xff00ff00ff00ff00, -2048)
        TEST_IMM_OP(44, xori, 0x80000000000007ff, 0x8000000000000000, 2047)
        TEST_IMM_OP(45, xori, 0x0000000000000ff0, 0x0000000000000ff0, 0)
        TEST_IMM_SRC1_EQ_DEST(46, xori, 0x00000000ff00f80f, 0x00000000ff00ff00, 1807)
        TEST_IMM_ZEROSRC1(47, xori, 0xffffffffffffffff, -1)
        TEST_IMM_ZERODEST(48, xori, 0x00000000000000ff, 1807)

/* ---- ORI (12-bit immediate sign-extended to 64 bits) ---- */
        TEST_IMM_OP(49, ori, 0x00ff00ff00ff00ff, 0x00ff00ff00ff00ff, 240)
        TEST_IMM_OP(50, ori, 0xffffffffffffffff, 0x00ff00ff00ff00ff, -241)
        TEST_IMM_OP(51, ori, 0xffffffffffffffff, 0x0123456789abcdef, -1)
        TEST_IMM_OP(52, ori, 0xfffffffffffff800, 0x0000000000000000, -2048)
        TEST_IMM_OP(53, ori, 0xffffffffffffffff, 0xffffffffffffffff, 2047)
        TEST_IMM_OP(54, ori, 0xffffffffffffff00, 0xff00ff00ff00ff00, -2048)
        TEST_IMM_OP(55, ori, 0x80000000000007ff, 0x8000000000000000, 2047)
        TEST_IMM_OP(56, ori, 0x0000000000000ff0, 0x0000000000000ff0, 0)
        TEST_IMM_SRC1_EQ_DEST(57, ori, 0x00000000ff00ff0f, 0x00000000ff00ff00, 1807)
        TEST_IMM_ZEROSRC1(58, ori, 0xffffffffffffffff, -1)
        TEST_IMM_ZERODEST(59, ori, 0x00000000000000ff, 1807)

/* ---- ANDI (12-bit immediate sign-extended to 64 bits) ---- */
        TEST_IMM_OP(60, andi, 0x00000000000000f0, 0x00ff00ff00ff00ff, 240)
        TEST_IMM_OP(61, andi, 0x00ff00ff00ff000f, 0x00ff00ff00ff00ff, -241)
        TEST_IMM_OP(62, andi, 0x0123456789abcdef, 0x0123456789abcdef, -1)
        TEST_IMM_OP(63, andi, 0x0000000000000000, 0x0000000000000000, -2048)
        TEST_IMM_OP(64, andi, 0x00000000000007ff, 0xffffffffffffffff, 2047)
        TEST_IMM_OP(65, andi, 0xff00ff00ff00f800, 0xff00ff00ff00ff00, -2048)
        TEST_IMM_OP(66, andi, 0x0000000000000000, 0x8000000000000000, 2047)
        TEST_IMM_OP(67, andi, 0x0000000000000000, 0x0000000000000ff0, 0)
        TEST_IMM_SRC1_EQ_DEST(68, andi, 0x0000000000000700, 0x00000000ff00ff00, 1807)
        TEST_IMM_ZEROSRC1(69, andi, 0x0000000000000000, -1)
        TEST_IMM_ZERODEST(70, andi, 0x00000000000000ff, 1807)

        TEST_PASS
