/*
 * A extension: LR/SC (W and D) and every AMO (W and D).
 * AMOs return the old memory value (sign-extended for W) and store op(old, rs2); W forms use rs2[31:0].
 * LR/SC/AMO on a misaligned address trap (LR: mcause 4, SC/AMO: mcause 6, mtval = the address).
 *
 * Part of tvisor's unprivileged-ISA test suite: built with tests/asm/env.h and tests/asm/link.ld and run
 * by tests/isa-unpriv.test.ts. Expected values follow the RISC-V unprivileged specification.
 */
#include "env.h"
        .option norvc

/* ---- AMOSWAP.W / AMOSWAP.D ---- */
        TEST_NUM(2); la a1, amo_buf; li a3, 0xa5a5a5a57fffffff; sd a3, 0(a1)
        addi a4, a1, 0; li a2, 0x0000000080000000; amoswap.w a0, a2, (a4)
        CHECK_EQ(a0, 0x000000007fffffff); ld a3, 0(a1); CHECK_EQ(a3, 0xa5a5a5a580000000)
        TEST_NUM(3); la a1, amo_buf; li a3, 0x80000000a5a5a5a5; sd a3, 0(a1)
        addi a4, a1, 4; li a2, 0x000000007fffffff; amoswap.w a0, a2, (a4)
        CHECK_EQ(a0, 0xffffffff80000000); ld a3, 0(a1); CHECK_EQ(a3, 0x7fffffffa5a5a5a5)
        TEST_NUM(4); la a1, amo_buf; li a3, 0xa5a5a5a5ffffffff; sd a3, 0(a1)
        addi a4, a1, 0; li a2, 0x0000000000000001; amoswap.w a0, a2, (a4)
        CHECK_EQ(a0, 0xffffffffffffffff); ld a3, 0(a1); CHECK_EQ(a3, 0xa5a5a5a500000001)
        TEST_NUM(5); la a1, amo_buf; li a3, 0x00000001a5a5a5a5; sd a3, 0(a1)
        addi a4, a1, 4; li a2, 0x00000000ffffffff; amoswap.w a0, a2, (a4)
        CHECK_EQ(a0, 0x0000000000000001); ld a3, 0(a1); CHECK_EQ(a3, 0xffffffffa5a5a5a5)
        TEST_NUM(6); la a1, amo_buf; li a3, 0xa5a5a5a512345678; sd a3, 0(a1)
        addi a4, a1, 0; li a2, 0xdeadbeef00000001; amoswap.w a0, a2, (a4)
        CHECK_EQ(a0, 0x0000000012345678); ld a3, 0(a1); CHECK_EQ(a3, 0xa5a5a5a500000001)
        TEST_NUM(7); la a1, amo_buf; li a3, 0x0f0f0f0fa5a5a5a5; sd a3, 0(a1)
        addi a4, a1, 4; li a2, 0xcafebabe80f0f0f0; amoswap.w a0, a2, (a4)
        CHECK_EQ(a0, 0x000000000f0f0f0f); ld a3, 0(a1); CHECK_EQ(a3, 0x80f0f0f0a5a5a5a5)
        TEST_NUM(8); la a1, amo_buf; li a3, 0x7fffffffffffffff; sd a3, 0(a1); li a2, 0x8000000000000000; amoswap.d a0, a2, (a1)
        CHECK_EQ(a0, 0x7fffffffffffffff); ld a3, 0(a1); CHECK_EQ(a3, 0x8000000000000000)
        TEST_NUM(9); la a1, amo_buf; li a3, 0x8000000000000000; sd a3, 0(a1); li a2, 0x7fffffffffffffff; amoswap.d a0, a2, (a1)
        CHECK_EQ(a0, 0x8000000000000000); ld a3, 0(a1); CHECK_EQ(a3, 0x7fffffffffffffff)
        TEST_NUM(10); la a1, amo_buf; li a3, 0xffffffffffffffff; sd a3, 0(a1); li a2, 0x0000000000000001; amoswap.d a0, a2, (a1)
        CHECK_EQ(a0, 0xffffffffffffffff); ld a3, 0(a1); CHECK_EQ(a3, 0x0000000000000001)
        TEST_NUM(11); la a1, amo_buf; li a3, 0x0000000000000001; sd a3, 0(a1); li a2, 0xffffffffffffffff; amoswap.d a0, a2, (a1)
        CHECK_EQ(a0, 0x0000000000000001); ld a3, 0(a1); CHECK_EQ(a3, 0xffffffffffffffff)
        TEST_NUM(12); la a1, amo_buf; li a3, 0x0123456789abcdef; sd a3, 0(a1); li a2, 0xfedcba9876543210; amoswap.d a0, a2, (a1)
        CHECK_EQ(a0, 0x0123456789abcdef); ld a3, 0(a1); CHECK_EQ(a3, 0xfedcba9876543210)

/* ---- AMOADD.W / AMOADD.D ---- */
        TEST_NUM(13); la a1, amo_buf; li a3, 0xa5a5a5a57fffffff; sd a3, 0(a1)
        addi a4, a1, 0; li a2, 0x0000000080000000; amoadd.w a0, a2, (a4)
        CHECK_EQ(a0, 0x000000007fffffff); ld a3, 0(a1); CHECK_EQ(a3, 0xa5a5a5a5ffffffff)
        TEST_NUM(14); la a1, amo_buf; li a3, 0x80000000a5a5a5a5; sd a3, 0(a1)
        addi a4, a1, 4; li a2, 0x000000007fffffff; amoadd.w a0, a2, (a4)
        CHECK_EQ(a0, 0xffffffff80000000); ld a3, 0(a1); CHECK_EQ(a3, 0xffffffffa5a5a5a5)
        TEST_NUM(15); la a1, amo_buf; li a3, 0xa5a5a5a5ffffffff; sd a3, 0(a1)
        addi a4, a1, 0; li a2, 0x0000000000000001; amoadd.w a0, a2, (a4)
        CHECK_EQ(a0, 0xffffffffffffffff); ld a3, 0(a1); CHECK_EQ(a3, 0xa5a5a5a500000000)
        TEST_NUM(16); la a1, amo_buf; li a3, 0x00000001a5a5a5a5; sd a3, 0(a1)
        addi a4, a1, 4; li a2, 0x00000000ffffffff; amoadd.w a0, a2, (a4)
        CHECK_EQ(a0, 0x0000000000000001); ld a3, 0(a1); CHECK_EQ(a3, 0x00000000a5a5a5a5)
        TEST_NUM(17); la a1, amo_buf; li a3, 0xa5a5a5a512345678; sd a3, 0(a1)
        addi a4, a1, 0; li a2, 0xdeadbeef00000001; amoadd.w a0, a2, (a4)
        CHECK_EQ(a0, 0x0000000012345678); ld a3, 0(a1); CHECK_EQ(a3, 0xa5a5a5a512345679)
        TEST_NUM(18); la a1, amo_buf; li a3, 0x0f0f0f0fa5a5a5a5; sd a3, 0(a1)
        addi a4, a1, 4; li a2, 0xcafebabe80f0f0f0; amoadd.w a0, a2, (a4)
        CHECK_EQ(a0, 0x000000000f0f0f0f); ld a3, 0(a1); CHECK_EQ(a3, 0x8fffffffa5a5a5a5)
        TEST_NUM(19); la a1, amo_buf; li a3, 0x7fffffffffffffff; sd a3, 0(a1); li a2, 0x8000000000000000; amoadd.d a0, a2, (a1)
        CHECK_EQ(a0, 0x7fffffffffffffff); ld a3, 0(a1); CHECK_EQ(a3, 0xffffffffffffffff)
        TEST_NUM(20); la a1, amo_buf; li a3, 0x8000000000000000; sd a3, 0(a1); li a2, 0x7fffffffffffffff; amoadd.d a0, a2, (a1)
        CHECK_EQ(a0, 0x8000000000000000); ld a3, 0(a1); CHECK_EQ(a3, 0xffffffffffffffff)
        TEST_NUM(21); la a1, amo_buf; li a3, 0xffffffffffffffff; sd a3, 0(a1); li a2, 0x0000000000000001; amoadd.d a0, a2, (a1)
        CHECK_EQ(a0, 0xffffffffffffffff); ld a3, 0(a1); CHECK_EQ(a3, 0x0000000000000000)
        TEST_NUM(22); la a1, amo_buf; li a3, 0x0000000000000001; sd a3, 0(a1); li a2, 0xffffffffffffffff; amoadd.d a0, a2, (a1)
        CHECK_EQ(a0, 0x0000000000000001); ld a3, 0(a1); CHECK_EQ(a3, 0x0000000000000000)
        TEST_NUM(23); la a1, amo_buf; li a3, 0x0123456789abcdef; sd a3, 0(a1); li a2, 0xfedcba9876543210; amoadd.d a0, a2, (a1)
        CHECK_EQ(a0, 0x0123456789abcdef); ld a3, 0(a1); CHECK_EQ(a3, 0xffffffffffffffff)

/* ---- AMOXOR.W / AMOXOR.D ---- */
        TEST_NUM(24); la a1, amo_buf; li a3, 0xa5a5a5a57fffffff; sd a3, 0(a1)
        addi a4, a1, 0; li a2, 0x0000000080000000; amoxor.w a0, a2, (a4)
        CHECK_EQ(a0, 0x000000007fffffff); ld a3, 0(a1); CHECK_EQ(a3, 0xa5a5a5a5ffffffff)
        TEST_NUM(25); la a1, amo_buf; li a3, 0x80000000a5a5a5a5; sd a3, 0(a1)
        addi a4, a1, 4; li a2, 0x000000007fffffff; amoxor.w a0, a2, (a4)
        CHECK_EQ(a0, 0xffffffff80000000); ld a3, 0(a1); CHECK_EQ(a3, 0xffffffffa5a5a5a5)
        TEST_NUM(26); la a1, amo_buf; li a3, 0xa5a5a5a5ffffffff; sd a3, 0(a1)
        addi a4, a1, 0; li a2, 0x0000000000000001; amoxor.w a0, a2, (a4)
        CHECK_EQ(a0, 0xffffffffffffffff); ld a3, 0(a1); CHECK_EQ(a3, 0xa5a5a5a5fffffffe)
        TEST_NUM(27); la a1, amo_buf; li a3, 0x00000001a5a5a5a5; sd a3, 0(a1)
        addi a4, a1, 4; li a2, 0x00000000ffffffff; amoxor.w a0, a2, (a4)
        CHECK_EQ(a0, 0x0000000000000001); ld a3, 0(a1); CHECK_EQ(a3, 0xfffffffea5a5a5a5)
        TEST_NUM(28); la a1, amo_buf; li a3, 0xa5a5a5a512345678; sd a3, 0(a1)
        addi a4, a1, 0; li a2, 0xdeadbeef00000001; amoxor.w a0, a2, (a4)
        CHECK_EQ(a0, 0x0000000012345678); ld a3, 0(a1); CHECK_EQ(a3, 0xa5a5a5a512345679)
        TEST_NUM(29); la a1, amo_buf; li a3, 0x0f0f0f0fa5a5a5a5; sd a3, 0(a1)
        addi a4, a1, 4; li a2, 0xcafebabe80f0f0f0; amoxor.w a0, a2, (a4)
        CHECK_EQ(a0, 0x000000000f0f0f0f); ld a3, 0(a1); CHECK_EQ(a3, 0x8fffffffa5a5a5a5)
        TEST_NUM(30); la a1, amo_buf; li a3, 0x7fffffffffffffff; sd a3, 0(a1); li a2, 0x8000000000000000; amoxor.d a0, a2, (a1)
        CHECK_EQ(a0, 0x7fffffffffffffff); ld a3, 0(a1); CHECK_EQ(a3, 0xffffffffffffffff)
        TEST_NUM(31); la a1, amo_buf; li a3, 0x8000000000000000; sd a3, 0(a1); li a2, 0x7fffffffffffffff; amoxor.d a0, a2, (a1)
        CHECK_EQ(a0, 0x8000000000000000); ld a3, 0(a1); CHECK_EQ(a3, 0xffffffffffffffff)
        TEST_NUM(32); la a1, amo_buf; li a3, 0xffffffffffffffff; sd a3, 0(a1); li a2, 0x0000000000000001; amoxor.d a0, a2, (a1)
        CHECK_EQ(a0, 0xffffffffffffffff); ld a3, 0(a1); CHECK_EQ(a3, 0xfffffffffffffffe)
        TEST_NUM(33); la a1, amo_buf; li a3, 0x0000000000000001; sd a3, 0(a1); li a2, 0xffffffffffffffff; amoxor.d a0, a2, (a1)
        CHECK_EQ(a0, 0x0000000000000001); ld a3, 0(a1); CHECK_EQ(a3, 0xfffffffffffffffe)
        TEST_NUM(34); la a1, amo_buf; li a3, 0x0123456789abcdef; sd a3, 0(a1); li a2, 0xfedcba9876543210; amoxor.d a0, a2, (a1)
        CHECK_EQ(a0, 0x0123456789abcdef); ld a3, 0(a1); CHECK_EQ(a3, 0xffffffffffffffff)

/* ---- AMOAND.W / AMOAND.D ---- */
        TEST_NUM(35); la a1, amo_buf; li a3, 0xa5a5a5a57fffffff; sd a3, 0(a1)
        addi a4, a1, 0; li a2, 0x0000000080000000; amoand.w a0, a2, (a4)
        CHECK_EQ(a0, 0x000000007fffffff); ld a3, 0(a1); CHECK_EQ(a3, 0xa5a5a5a500000000)
        TEST_NUM(36); la a1, amo_buf; li a3, 0x80000000a5a5a5a5; sd a3, 0(a1)
        addi a4, a1, 4; li a2, 0x000000007fffffff; amoand.w a0, a2, (a4)
        CHECK_EQ(a0, 0xffffffff80000000); ld a3, 0(a1); CHECK_EQ(a3, 0x00000000a5a5a5a5)
        TEST_NUM(37); la a1, amo_buf; li a3, 0xa5a5a5a5ffffffff; sd a3, 0(a1)
        addi a4, a1, 0; li a2, 0x0000000000000001; amoand.w a0, a2, (a4)
        CHECK_EQ(a0, 0xffffffffffffffff); ld a3, 0(a1); CHECK_EQ(a3, 0xa5a5a5a500000001)
        TEST_NUM(38); la a1, amo_buf; li a3, 0x00000001a5a5a5a5; sd a3, 0(a1)
        addi a4, a1, 4; li a2, 0x00000000ffffffff; amoand.w a0, a2, (a4)
        CHECK_EQ(a0, 0x0000000000000001); ld a3, 0(a1); CHECK_EQ(a3, 0x00000001a5a5a5a5)
        TEST_NUM(39); la a1, amo_buf; li a3, 0xa5a5a5a512345678; sd a3, 0(a1)
        addi a4, a1, 0; li a2, 0xdeadbeef00000001; amoand.w a0, a2, (a4)
        CHECK_EQ(a0, 0x0000000012345678); ld a3, 0(a1); CHECK_EQ(a3, 0xa5a5a5a500000000)
        TEST_NUM(40); la a1, amo_buf; li a3, 0x0f0f0f0fa5a5a5a5; sd a3, 0(a1)
        addi a4, a1, 4; li a2, 0xcafebabe80f0f0f0; amoand.w a0, a2, (a4)
        CHECK_EQ(a0, 0x000000000f0f0f0f); ld a3, 0(a1); CHECK_EQ(a3, 0x00000000a5a5a5a5)
        TEST_NUM(41); la a1, amo_buf; li a3, 0x7fffffffffffffff; sd a3, 0(a1); li a2, 0x8000000000000000; amoand.d a0, a2, (a1)
        CHECK_EQ(a0, 0x7fffffffffffffff); ld a3, 0(a1); CHECK_EQ(a3, 0x0000000000000000)
        TEST_NUM(42); la a1, amo_buf; li a3, 0x8000000000000000; sd a3, 0(a1); li a2, 0x7fffffffffffffff; amoand.d a0, a2, (a1)
        CHECK_EQ(a0, 0x8000000000000000); ld a3, 0(a1); CHECK_EQ(a3, 0x0000000000000000)
        TEST_NUM(43); la a1, amo_buf; li a3, 0xffffffffffffffff; sd a3, 0(a1); li a2, 0x0000000000000001; amoand.d a0, a2, (a1)
        CHECK_EQ(a0, 0xffffffffffffffff); ld a3, 0(a1); CHECK_EQ(a3, 0x0000000000000001)
        TEST_NUM(44); la a1, amo_buf; li a3, 0x0000000000000001; sd a3, 0(a1); li a2, 0xffffffffffffffff; amoand.d a0, a2, (a1)
        CHECK_EQ(a0, 0x0000000000000001); ld a3, 0(a1); CHECK_EQ(a3, 0x0000000000000001)
        TEST_NUM(45); la a1, amo_buf; li a3, 0x0123456789abcdef; sd a3, 0(a1); li a2, 0xfedcba9876543210; amoand.d a0, a2, (a1)
        CHECK_EQ(a0, 0x0123456789abcdef); ld a3, 0(a1); CHECK_EQ(a3, 0x0000000000000000)

/* ---- AMOOR.W / AMOOR.D ---- */
        TEST_NUM(46); la a1, amo_buf; li a3, 0xa5a5a5a57fffffff; sd a3, 0(a1)
        addi a4, a1, 0; li a2, 0x0000000080000000; amoor.w a0, a2, (a4)
        CHECK_EQ(a0, 0x000000007fffffff); ld a3, 0(a1); CHECK_EQ(a3, 0xa5a5a5a5ffffffff)
        TEST_NUM(47); la a1, amo_buf; li a3, 0x80000000a5a5a5a5; sd a3, 0(a1)
        addi a4, a1, 4; li a2, 0x000000007fffffff; amoor.w a0, a2, (a4)
        CHECK_EQ(a0, 0xffffffff80000000); ld a3, 0(a1); CHECK_EQ(a3, 0xffffffffa5a5a5a5)
        TEST_NUM(48); la a1, amo_buf; li a3, 0xa5a5a5a5ffffffff; sd a3, 0(a1)
        addi a4, a1, 0; li a2, 0x0000000000000001; amoor.w a0, a2, (a4)
        CHECK_EQ(a0, 0xffffffffffffffff); ld a3, 0(a1); CHECK_EQ(a3, 0xa5a5a5a5ffffffff)
        TEST_NUM(49); la a1, amo_buf; li a3, 0x00000001a5a5a5a5; sd a3, 0(a1)
        addi a4, a1, 4; li a2, 0x00000000ffffffff; amoor.w a0, a2, (a4)
        CHECK_EQ(a0, 0x0000000000000001); ld a3, 0(a1); CHECK_EQ(a3, 0xffffffffa5a5a5a5)
        TEST_NUM(50); la a1, amo_buf; li a3, 0xa5a5a5a512345678; sd a3, 0(a1)
        addi a4, a1, 0; li a2, 0xdeadbeef00000001; amoor.w a0, a2, (a4)
        CHECK_EQ(a0, 0x0000000012345678); ld a3, 0(a1); CHECK_EQ(a3, 0xa5a5a5a512345679)
        TEST_NUM(51); la a1, amo_buf; li a3, 0x0f0f0f0fa5a5a5a5; sd a3, 0(a1)
        addi a4, a1, 4; li a2, 0xcafebabe80f0f0f0; amoor.w a0, a2, (a4)
        CHECK_EQ(a0, 0x000000000f0f0f0f); ld a3, 0(a1); CHECK_EQ(a3, 0x8fffffffa5a5a5a5)
        TEST_NUM(52); la a1, amo_buf; li a3, 0x7fffffffffffffff; sd a3, 0(a1); li a2, 0x8000000000000000; amoor.d a0, a2, (a1)
        CHECK_EQ(a0, 0x7fffffffffffffff); ld a3, 0(a1); CHECK_EQ(a3, 0xffffffffffffffff)
        TEST_NUM(53); la a1, amo_buf; li a3, 0x8000000000000000; sd a3, 0(a1); li a2, 0x7fffffffffffffff; amoor.d a0, a2, (a1)
        CHECK_EQ(a0, 0x8000000000000000); ld a3, 0(a1); CHECK_EQ(a3, 0xffffffffffffffff)
        TEST_NUM(54); la a1, amo_buf; li a3, 0xffffffffffffffff; sd a3, 0(a1); li a2, 0x0000000000000001; amoor.d a0, a2, (a1)
        CHECK_EQ(a0, 0xffffffffffffffff); ld a3, 0(a1); CHECK_EQ(a3, 0xffffffffffffffff)
        TEST_NUM(55); la a1, amo_buf; li a3, 0x0000000000000001; sd a3, 0(a1); li a2, 0xffffffffffffffff; amoor.d a0, a2, (a1)
        CHECK_EQ(a0, 0x0000000000000001); ld a3, 0(a1); CHECK_EQ(a3, 0xffffffffffffffff)
        TEST_NUM(56); la a1, amo_buf; li a3, 0x0123456789abcdef; sd a3, 0(a1); li a2, 0xfedcba9876543210; amoor.d a0, a2, (a1)
        CHECK_EQ(a0, 0x0123456789abcdef); ld a3, 0(a1); CHECK_EQ(a3, 0xffffffffffffffff)

/* ---- AMOMIN.W / AMOMIN.D ---- */
        TEST_NUM(57); la a1, amo_buf; li a3, 0xa5a5a5a57fffffff; sd a3, 0(a1)
        addi a4, a1, 0; li a2, 0x0000000080000000; amomin.w a0, a2, (a4)
        CHECK_EQ(a0, 0x000000007fffffff); ld a3, 0(a1); CHECK_EQ(a3, 0xa5a5a5a580000000)
        TEST_NUM(58); la a1, amo_buf; li a3, 0x80000000a5a5a5a5; sd a3, 0(a1)
        addi a4, a1, 4; li a2, 0x000000007fffffff; amomin.w a0, a2, (a4)
        CHECK_EQ(a0, 0xffffffff80000000); ld a3, 0(a1); CHECK_EQ(a3, 0x80000000a5a5a5a5)
        TEST_NUM(59); la a1, amo_buf; li a3, 0xa5a5a5a5ffffffff; sd a3, 0(a1)
        addi a4, a1, 0; li a2, 0x0000000000000001; amomin.w a0, a2, (a4)
        CHECK_EQ(a0, 0xffffffffffffffff); ld a3, 0(a1); CHECK_EQ(a3, 0xa5a5a5a5ffffffff)
        TEST_NUM(60); la a1, amo_buf; li a3, 0x00000001a5a5a5a5; sd a3, 0(a1)
        addi a4, a1, 4; li a2, 0x00000000ffffffff; amomin.w a0, a2, (a4)
        CHECK_EQ(a0, 0x0000000000000001); ld a3, 0(a1); CHECK_EQ(a3, 0xffffffffa5a5a5a5)
        TEST_NUM(61); la a1, amo_buf; li a3, 0xa5a5a5a512345678; sd a3, 0(a1)
        addi a4, a1, 0; li a2, 0xdeadbeef00000001; amomin.w a0, a2, (a4)
        CHECK_EQ(a0, 0x0000000012345678); ld a3, 0(a1); CHECK_EQ(a3, 0xa5a5a5a500000001)
        TEST_NUM(62); la a1, amo_buf; li a3, 0x0f0f0f0fa5a5a5a5; sd a3, 0(a1)
        addi a4, a1, 4; li a2, 0xcafebabe80f0f0f0; amomin.w a0, a2, (a4)
        CHECK_EQ(a0, 0x000000000f0f0f0f); ld a3, 0(a1); CHECK_EQ(a3, 0x80f0f0f0a5a5a5a5)
        TEST_NUM(63); la a1, amo_buf; li a3, 0x7fffffffffffffff; sd a3, 0(a1); li a2, 0x8000000000000000; amomin.d a0, a2, (a1)
        CHECK_EQ(a0, 0x7fffffffffffffff); ld a3, 0(a1); CHECK_EQ(a3, 0x8000000000000000)
        TEST_NUM(64); la a1, amo_buf; li a3, 0x8000000000000000; sd a3, 0(a1); li a2, 0x7fffffffffffffff; amomin.d a0, a2, (a1)
        CHECK_EQ(a0, 0x8000000000000000); ld a3, 0(a1); CHECK_EQ(a3, 0x8000000000000000)
        TEST_NUM(65); la a1, amo_buf; li a3, 0xffffffffffffffff; sd a3, 0(a1); li a2, 0x0000000000000001; amomin.d a0, a2, (a1)
        CHECK_EQ(a0, 0xffffffffffffffff); ld a3, 0(a1); CHECK_EQ(a3, 0xffffffffffffffff)
        TEST_NUM(66); la a1, amo_buf; li a3, 0x0000000000000001; sd a3, 0(a1); li a2, 0xffffffffffffffff; amomin.d a0, a2, (a1)
        CHECK_EQ(a0, 0x0000000000000001); ld a3, 0(a1); CHECK_EQ(a3, 0xffffffffffffffff)
        TEST_NUM(67); la a1, amo_buf; li a3, 0x0123456789abcdef; sd a3, 0(a1); li a2, 0xfedcba9876543210; amomin.d a0, a2, (a1)
        CHECK_EQ(a0, 0x0123456789abcdef); ld a3, 0(a1); CHECK_EQ(a3, 0xfedcba9876543210)

/* ---- AMOMAX.W / AMOMAX.D ---- */
        TEST_NUM(68); la a1, amo_buf; li a3, 0xa5a5a5a57fffffff; sd a3, 0(a1)
        addi a4, a1, 0; li a2, 0x0000000080000000; amomax.w a0, a2, (a4)
        CHECK_EQ(a0, 0x000000007fffffff); ld a3, 0(a1); CHECK_EQ(a3, 0xa5a5a5a57fffffff)
        TEST_NUM(69); la a1, amo_buf; li a3, 0x80000000a5a5a5a5; sd a3, 0(a1)
        addi a4, a1, 4; li a2, 0x000000007fffffff; amomax.w a0, a2, (a4)
        CHECK_EQ(a0, 0xffffffff80000000); ld a3, 0(a1); CHECK_EQ(a3, 0x7fffffffa5a5a5a5)
        TEST_NUM(70); la a1, amo_buf; li a3, 0xa5a5a5a5ffffffff; sd a3, 0(a1)
        addi a4, a1, 0; li a2, 0x0000000000000001; amomax.w a0, a2, (a4)
        CHECK_EQ(a0, 0xffffffffffffffff); ld a3, 0(a1); CHECK_EQ(a3, 0xa5a5a5a500000001)
        TEST_NUM(71); la a1, amo_buf; li a3, 0x00000001a5a5a5a5; sd a3, 0(a1)
        addi a4, a1, 4; li a2, 0x00000000ffffffff; amomax.w a0, a2, (a4)
        CHECK_EQ(a0, 0x0000000000000001); ld a3, 0(a1); CHECK_EQ(a3, 0x00000001a5a5a5a5)
        TEST_NUM(72); la a1, amo_buf; li a3, 0xa5a5a5a512345678; sd a3, 0(a1)
        addi a4, a1, 0; li a2, 0xdeadbeef00000001; amomax.w a0, a2, (a4)
        CHECK_EQ(a0, 0x0000000012345678); ld a3, 0(a1); CHECK_EQ(a3, 0xa5a5a5a512345678)
        TEST_NUM(73); la a1, amo_buf; li a3, 0x0f0f0f0fa5a5a5a5; sd a3, 0(a1)
        addi a4, a1, 4; li a2, 0xcafebabe80f0f0f0; amomax.w a0, a2, (a4)
        CHECK_EQ(a0, 0x000000000f0f0f0f); ld a3, 0(a1); CHECK_EQ(a3, 0x0f0f0f0fa5a5a5a5)
        TEST_NUM(74); la a1, amo_buf; li a3, 0x7fffffffffffffff; sd a3, 0(a1); li a2, 0x8000000000000000; amomax.d a0, a2, (a1)
        CHECK_EQ(a0, 0x7fffffffffffffff); ld a3, 0(a1); CHECK_EQ(a3, 0x7fffffffffffffff)
        TEST_NUM(75); la a1, amo_buf; li a3, 0x8000000000000000; sd a3, 0(a1); li a2, 0x7fffffffffffffff; amomax.d a0, a2, (a1)
        CHECK_EQ(a0, 0x8000000000000000); ld a3, 0(a1); CHECK_EQ(a3, 0x7fffffffffffffff)
        TEST_NUM(76); la a1, amo_buf; li a3, 0xffffffffffffffff; sd a3, 0(a1); li a2, 0x0000000000000001; amomax.d a0, a2, (a1)
        CHECK_EQ(a0, 0xffffffffffffffff); ld a3, 0(a1); CHECK_EQ(a3, 0x0000000000000001)
        TEST_NUM(77); la a1, amo_buf; li a3, 0x0000000000000001; sd a3, 0(a1); li a2, 0xffffffffffffffff; amomax.d a0, a2, (a1)
        CHECK_EQ(a0, 0x0000000000000001); ld a3, 0(a1); CHECK_EQ(a3, 0x0000000000000001)
        TEST_NUM(78); la a1, amo_buf; li a3, 0x0123456789abcdef; sd a3, 0(a1); li a2, 0xfedcba9876543210; amomax.d a0, a2, (a1)
        CHECK_EQ(a0, 0x0123456789abcdef); ld a3, 0(a1); CHECK_EQ(a3, 0x0123456789abcdef)

/* ---- AMOMINU.W / AMOMINU.D ---- */
        TEST_NUM(79); la a1, amo_buf; li a3, 0xa5a5a5a57fffffff; sd a3, 0(a1)
        addi a4, a1, 0; li a2, 0x0000000080000000; amominu.w a0, a2, (a4)
        CHECK_EQ(a0, 0x000000007fffffff); ld a3, 0(a1); CHECK_EQ(a3, 0xa5a5a5a57fffffff)
        TEST_NUM(80); la a1, amo_buf; li a3, 0x80000000a5a5a5a5; sd a3, 0(a1)
        addi a4, a1, 4; li a2, 0x000000007fffffff; amominu.w a0, a2, (a4)
        CHECK_EQ(a0, 0xffffffff80000000); ld a3, 0(a1); CHECK_EQ(a3, 0x7fffffffa5a5a5a5)
        TEST_NUM(81); la a1, amo_buf; li a3, 0xa5a5a5a5ffffffff; sd a3, 0(a1)
        addi a4, a1, 0; li a2, 0x0000000000000001; amominu.w a0, a2, (a4)
        CHECK_EQ(a0, 0xffffffffffffffff); ld a3, 0(a1); CHECK_EQ(a3, 0xa5a5a5a500000001)
        TEST_NUM(82); la a1, amo_buf; li a3, 0x00000001a5a5a5a5; sd a3, 0(a1)
        addi a4, a1, 4; li a2, 0x00000000ffffffff; amominu.w a0, a2, (a4)
        CHECK_EQ(a0, 0x0000000000000001); ld a3, 0(a1); CHECK_EQ(a3, 0x00000001a5a5a5a5)
        TEST_NUM(83); la a1, amo_buf; li a3, 0xa5a5a5a512345678; sd a3, 0(a1)
        addi a4, a1, 0; li a2, 0xdeadbeef00000001; amominu.w a0, a2, (a4)
        CHECK_EQ(a0, 0x0000000012345678); ld a3, 0(a1); CHECK_EQ(a3, 0xa5a5a5a500000001)
        TEST_NUM(84); la a1, amo_buf; li a3, 0x0f0f0f0fa5a5a5a5; sd a3, 0(a1)
        addi a4, a1, 4; li a2, 0xcafebabe80f0f0f0; amominu.w a0, a2, (a4)
        CHECK_EQ(a0, 0x000000000f0f0f0f); ld a3, 0(a1); CHECK_EQ(a3, 0x0f0f0f0fa5a5a5a5)
        TEST_NUM(85); la a1, amo_buf; li a3, 0x7fffffffffffffff; sd a3, 0(a1); li a2, 0x8000000000000000; amominu.d a0, a2, (a1)
        CHECK_EQ(a0, 0x7fffffffffffffff); ld a3, 0(a1); CHECK_EQ(a3, 0x7fffffffffffffff)
        TEST_NUM(86); la a1, amo_buf; li a3, 0x8000000000000000; sd a3, 0(a1); li a2, 0x7fffffffffffffff; amominu.d a0, a2, (a1)
        CHECK_EQ(a0, 0x8000000000000000); ld a3, 0(a1); CHECK_EQ(a3, 0x7fffffffffffffff)
        TEST_NUM(87); la a1, amo_buf; li a3, 0xffffffffffffffff; sd a3, 0(a1); li a2, 0x0000000000000001; amominu.d a0, a2, (a1)
        CHECK_EQ(a0, 0xffffffffffffffff); ld a3, 0(a1); CHECK_EQ(a3, 0x0000000000000001)
        TEST_NUM(88); la a1, amo_buf; li a3, 0x0000000000000001; sd a3, 0(a1); li a2, 0xffffffffffffffff; amominu.d a0, a2, (a1)
        CHECK_EQ(a0, 0x0000000000000001); ld a3, 0(a1); CHECK_EQ(a3, 0x0000000000000001)
        TEST_NUM(89); la a1, amo_buf; li a3, 0x0123456789abcdef; sd a3, 0(a1); li a2, 0xfedcba9876543210; amominu.d a0, a2, (a1)
        CHECK_EQ(a0, 0x0123456789abcdef); ld a3, 0(a1); CHECK_EQ(a3, 0x0123456789abcdef)

/* ---- AMOMAXU.W / AMOMAXU.D ---- */
        TEST_NUM(90); la a1, amo_buf; li a3, 0xa5a5a5a57fffffff; sd a3, 0(a1)
        addi a4, a1, 0; li a2, 0x0000000080000000; amomaxu.w a0, a2, (a4)
        CHECK_EQ(a0, 0x000000007fffffff); ld a3, 0(a1); CHECK_EQ(a3, 0xa5a5a5a580000000)
        TEST_NUM(91); la a1, amo_buf; li a3, 0x80000000a5a5a5a5; sd a3, 0(a1)
        addi a4, a1, 4; li a2, 0x000000007fffffff; amomaxu.w a0, a2, (a4)
        CHECK_EQ(a0, 0xffffffff80000000); ld a3, 0(a1); CHECK_EQ(a3, 0x80000000a5a5a5a5)
        TEST_NUM(92); la a1, amo_buf; li a3, 0xa5a5a5a5ffffffff; sd a3, 0(a1)
        addi a4, a1, 0; li a2, 0x0000000000000001; amomaxu.w a0, a2, (a4)
        CHECK_EQ(a0, 0xffffffffffffffff); ld a3, 0(a1); CHECK_EQ(a3, 0xa5a5a5a5ffffffff)
        TEST_NUM(93); la a1, amo_buf; li a3, 0x00000001a5a5a5a5; sd a3, 0(a1)
        addi a4, a1, 4; li a2, 0x00000000ffffffff; amomaxu.w a0, a2, (a4)
        CHECK_EQ(a0, 0x0000000000000001); ld a3, 0(a1); CHECK_EQ(a3, 0xffffffffa5a5a5a5)
        TEST_NUM(94); la a1, amo_buf; li a3, 0xa5a5a5a512345678; sd a3, 0(a1)
        addi a4, a1, 0; li a2, 0xdeadbeef00000001; amomaxu.w a0, a2, (a4)
        CHECK_EQ(a0, 0x0000000012345678); ld a3, 0(a1); CHECK_EQ(a3, 0xa5a5a5a512345678)
        TEST_NUM(95); la a1, amo_buf; li a3, 0x0f0f0f0fa5a5a5a5; sd a3, 0(a1)
        addi a4, a1, 4; li a2, 0xcafebabe80f0f0f0; amomaxu.w a0, a2, (a4)
        CHECK_EQ(a0, 0x000000000f0f0f0f); ld a3, 0(a1); CHECK_EQ(a3, 0x80f0f0f0a5a5a5a5)
        TEST_NUM(96); la a1, amo_buf; li a3, 0x7fffffffffffffff; sd a3, 0(a1); li a2, 0x8000000000000000; amomaxu.d a0, a2, (a1)
        CHECK_EQ(a0, 0x7fffffffffffffff); ld a3, 0(a1); CHECK_EQ(a3, 0x8000000000000000)
        TEST_NUM(97); la a1, amo_buf; li a3, 0x8000000000000000; sd a3, 0(a1); li a2, 0x7fffffffffffffff; amomaxu.d a0, a2, (a1)
        CHECK_EQ(a0, 0x8000000000000000); ld a3, 0(a1); CHECK_EQ(a3, 0x8000000000000000)
        TEST_NUM(98); la a1, amo_buf; li a3, 0xffffffffffffffff; sd a3, 0(a1); li a2, 0x0000000000000001; amomaxu.d a0, a2, (a1)
        CHECK_EQ(a0, 0xffffffffffffffff); ld a3, 0(a1); CHECK_EQ(a3, 0xffffffffffffffff)
        TEST_NUM(99); la a1, amo_buf; li a3, 0x0000000000000001; sd a3, 0(a1); li a2, 0xffffffffffffffff; amomaxu.d a0, a2, (a1)
        CHECK_EQ(a0, 0x0000000000000001); ld a3, 0(a1); CHECK_EQ(a3, 0xffffffffffffffff)
        TEST_NUM(100); la a1, amo_buf; li a3, 0x0123456789abcdef; sd a3, 0(a1); li a2, 0xfedcba9876543210; amomaxu.d a0, a2, (a1)
        CHECK_EQ(a0, 0x0123456789abcdef); ld a3, 0(a1); CHECK_EQ(a3, 0xfedcba9876543210)

/* ---- AMO ordering bits, x0 destination, rd == rs2, rd == rs1 ---- */
        TEST_NUM(101); la a1, amo_buf; li a3, 100; sd a3, 0(a1); li a2, 23
        amoadd.d.aq a0, a2, (a1); CHECK_EQ(a0, 100)
        amoadd.w.aq a0, a2, (a1); CHECK_EQ(a0, 123)
        ld a3, 0(a1); CHECK_EQ(a3, 146)
        TEST_NUM(102); la a1, amo_buf; li a3, 100; sd a3, 0(a1); li a2, 23
        amoadd.d.rl a0, a2, (a1); CHECK_EQ(a0, 100)
        amoadd.w.rl a0, a2, (a1); CHECK_EQ(a0, 123)
        ld a3, 0(a1); CHECK_EQ(a3, 146)
        TEST_NUM(103); la a1, amo_buf; li a3, 100; sd a3, 0(a1); li a2, 23
        amoadd.d.aqrl a0, a2, (a1); CHECK_EQ(a0, 100)
        amoadd.w.aqrl a0, a2, (a1); CHECK_EQ(a0, 123)
        ld a3, 0(a1); CHECK_EQ(a3, 146)
        TEST_NUM(104); la a1, amo_buf; li a3, 5; sd a3, 0(a1); li a2, 7
        amoadd.d x0, a2, (a1); CHECK_EQ(x0, 0); amoor.w x0, a2, (a1)
        ld a3, 0(a1); CHECK_EQ(a3, 15)
        TEST_NUM(105); la a1, amo_buf; li a3, 0x1111; sd a3, 0(a1); li a2, 0x2222
        amoswap.d a2, a2, (a1); CHECK_EQ(a2, 0x1111)
        ld a3, 0(a1); CHECK_EQ(a3, 0x2222)
        TEST_NUM(106); la a1, amo_buf; li a3, -8; sd a3, 0(a1); li a2, 0x7fffffff
        amoadd.w a2, a2, (a1); CHECK_EQ(a2, -8)
        ld a3, 0(a1); CHECK_EQ(a3, 0xffffffff7ffffff7)
        TEST_NUM(107); la a1, amo_buf; mv a4, a1; li a3, 40; sd a3, 0(a1); li a2, 2
        amoadd.d a1, a2, (a1); CHECK_EQ(a1, 40)
        ld a3, 0(a4); CHECK_EQ(a3, 42)

/* ---- LR/SC ---- */
        /* no LR has run yet: SC fails (rd nonzero) and memory is unchanged */
        TEST_NUM(108); la a1, amo_buf; li a3, 0x0123456789abcdef; sd a3, 0(a1); li a2, -1
        sc.d a0, a2, (a1); CHECK_REGS_NE(a0, x0)
        sc.w a0, a2, (a1); CHECK_REGS_NE(a0, x0)
        ld a3, 0(a1); CHECK_EQ(a3, 0x0123456789abcdef)
        /* LR.W sign-extends; a successful SC.W writes 0 to rd and only the low word */
        TEST_NUM(109); la a1, amo_buf; li a3, 0x1122334480000000; sd a3, 0(a1)
        lr.w a0, (a1); CHECK_EQ(a0, 0xffffffff80000000)
        li a2, 0x7777777712345678; sc.w a4, a2, (a1); CHECK_EQ(a4, 0)
        ld a3, 0(a1); CHECK_EQ(a3, 0x1122334412345678)
        /* a successful SC ends the reservation: a second SC fails and does not write */
        TEST_NUM(110); la a1, amo_buf; li a2, 0x5555; sc.w a4, a2, (a1); CHECK_REGS_NE(a4, x0)
        ld a3, 0(a1); CHECK_EQ(a3, 0x1122334412345678)
        TEST_NUM(111); la a1, amo_buf; li a3, 0x8000000000000001; sd a3, 0(a1)
        lr.d a0, (a1); CHECK_EQ(a0, 0x8000000000000001)
        li a2, 0x0fedcba987654321; sc.d a4, a2, (a1); CHECK_EQ(a4, 0)
        ld a3, 0(a1); CHECK_EQ(a3, 0x0fedcba987654321)
        li a2, 1; sc.d a4, a2, (a1); CHECK_REGS_NE(a4, x0)
        ld a3, 0(a1); CHECK_EQ(a3, 0x0fedcba987654321)
        /* LR.W on the high word of a doubleword */
        TEST_NUM(112); la a1, amo_buf; li a3, 0x7fffffff00000000; sd a3, 0(a1); addi a4, a1, 4
        lr.w a0, (a4); CHECK_EQ(a0, 0x7fffffff)
        li a2, 0x80000000; sc.w a5, a2, (a4); CHECK_EQ(a5, 0)
        ld a3, 0(a1); CHECK_EQ(a3, 0x8000000000000000)
        /* SC to an address outside the reservation (another page; the reservation set is expected to cover no
         * more than the LR's own block) fails and writes nothing; any SC ends the reservation, so a following
         * SC to the reserved address fails too */
        TEST_NUM(113); la a1, amo_buf; la a4, amo_far; li a3, 0x4444; sd a3, 0(a1); sd a3, 0(a4)
        lr.d a0, (a1); CHECK_EQ(a0, 0x4444)
        li a2, 0x9999; sc.d a5, a2, (a4); CHECK_REGS_NE(a5, x0)
        ld a3, 0(a4); CHECK_EQ(a3, 0x4444)
        sc.d a5, a2, (a1); CHECK_REGS_NE(a5, x0)
        ld a3, 0(a1); CHECK_EQ(a3, 0x4444)
        TEST_NUM(114); la a1, amo_buf; la a4, amo_far
        lr.w a0, (a1); li a2, 0x9999; sc.w a5, a2, (a4); CHECK_REGS_NE(a5, x0)
        ld a3, 0(a4); CHECK_EQ(a3, 0x4444)
        /* the most recent LR decides: LR a; LR b (another page); SC a fails */
        TEST_NUM(115); la a1, amo_buf; la a4, amo_far
        lr.d a0, (a1); lr.d a0, (a4); li a2, 0x1234; sc.d a5, a2, (a1); CHECK_REGS_NE(a5, x0)
        ld a3, 0(a1); CHECK_EQ(a3, 0x4444)
        lr.d a0, (a1); lr.d a0, (a4); sc.d a5, a2, (a4); CHECK_EQ(a5, 0)
        ld a3, 0(a4); CHECK_EQ(a3, 0x1234)
        /* ordering-bit variants behave the same */
        TEST_NUM(116); la a1, amo_buf; li a3, 10; sd a3, 0(a1)
        lr.d.aq a0, (a1); addi a0, a0, 1; sc.d.rl a5, a0, (a1); CHECK_EQ(a5, 0)
        lr.w.aqrl a0, (a1); addi a0, a0, 1; sc.w.aqrl a5, a0, (a1); CHECK_EQ(a5, 0)
        ld a3, 0(a1); CHECK_EQ(a3, 12)
        /* a conventional LR/SC retry loop (atomic add of 1, 100 times) */
        TEST_NUM(117); la a1, amo_buf; sd x0, 0(a1); li a4, 100; li a6, 1000
1:      lr.d a0, (a1); addi a0, a0, 1; sc.d a5, a0, (a1)
        addi a6, a6, -1; beqz a6, 2f          /* bound the retries */
        bnez a5, 1b
        addi a4, a4, -1; bnez a4, 1b
        ld a3, 0(a1); CHECK_EQ(a3, 100)
        j 3f
2:      FAIL_HERE
3:
        /* LR with rd = x0 still acquires the reservation; SC with rd = x0 still stores */
        TEST_NUM(118); la a1, amo_buf; li a3, 0x31; sd a3, 0(a1)
        lr.d x0, (a1); CHECK_EQ(x0, 0); li a2, 0x32; sc.d a5, a2, (a1); CHECK_EQ(a5, 0)
        ld a3, 0(a1); CHECK_EQ(a3, 0x32)
        lr.w a0, (a1); li a2, 0x33; sc.w x0, a2, (a1); CHECK_EQ(x0, 0)
        ld a3, 0(a1); CHECK_EQ(a3, 0x33)
        /* rd == rs2 for SC: the store uses the old rs2 value, then rd receives the status */
        TEST_NUM(119); la a1, amo_buf; sd x0, 0(a1); li a2, 0x4242
        lr.d a0, (a1); sc.d a2, a2, (a1); CHECK_EQ(a2, 0)
        ld a3, 0(a1); CHECK_EQ(a3, 0x4242)

/* ---- Misaligned LR/SC/AMO trap (LR: load address misaligned, SC/AMO: store/AMO address misaligned) ---- */
        la a1, amo_buf; li a3, 0x0123456789abcdef; sd a3, 0(a1); sd a3, 8(a1); addi a4, a1, 2; li a2, -1
        TEST_TRAP_TVAL_REG(120, CAUSE_MISALIGNED_LOAD, a4, lr.w a0, (a4))
        ld a3, 0(a1); CHECK_EQ(a3, 0x0123456789abcdef); ld a3, 8(a1); CHECK_EQ(a3, 0x0123456789abcdef)
        la a1, amo_buf; li a3, 0x0123456789abcdef; sd a3, 0(a1); sd a3, 8(a1); addi a4, a1, 4; li a2, -1
        TEST_TRAP_TVAL_REG(121, CAUSE_MISALIGNED_LOAD, a4, lr.d a0, (a4))
        ld a3, 0(a1); CHECK_EQ(a3, 0x0123456789abcdef); ld a3, 8(a1); CHECK_EQ(a3, 0x0123456789abcdef)
        la a1, amo_buf; li a3, 0x0123456789abcdef; sd a3, 0(a1); sd a3, 8(a1); addi a4, a1, 1; li a2, -1
        TEST_TRAP_TVAL_REG(122, CAUSE_MISALIGNED_STORE, a4, amoadd.w a0, a2, (a4))
        ld a3, 0(a1); CHECK_EQ(a3, 0x0123456789abcdef); ld a3, 8(a1); CHECK_EQ(a3, 0x0123456789abcdef)
        la a1, amo_buf; li a3, 0x0123456789abcdef; sd a3, 0(a1); sd a3, 8(a1); addi a4, a1, 2; li a2, -1
        TEST_TRAP_TVAL_REG(123, CAUSE_MISALIGNED_STORE, a4, amoswap.w a0, a2, (a4))
        ld a3, 0(a1); CHECK_EQ(a3, 0x0123456789abcdef); ld a3, 8(a1); CHECK_EQ(a3, 0x0123456789abcdef)
        la a1, amo_buf; li a3, 0x0123456789abcdef; sd a3, 0(a1); sd a3, 8(a1); addi a4, a1, 4; li a2, -1
        TEST_TRAP_TVAL_REG(124, CAUSE_MISALIGNED_STORE, a4, amoadd.d a0, a2, (a4))
        ld a3, 0(a1); CHECK_EQ(a3, 0x0123456789abcdef); ld a3, 8(a1); CHECK_EQ(a3, 0x0123456789abcdef)
        la a1, amo_buf; li a3, 0x0123456789abcdef; sd a3, 0(a1); sd a3, 8(a1); addi a4, a1, 7; li a2, -1
        TEST_TRAP_TVAL_REG(125, CAUSE_MISALIGNED_STORE, a4, amomaxu.d a0, a2, (a4))
        ld a3, 0(a1); CHECK_EQ(a3, 0x0123456789abcdef); ld a3, 8(a1); CHECK_EQ(a3, 0x0123456789abcdef)
        la a1, amo_buf; li a3, 0x0123456789abcdef; sd a3, 0(a1); sd a3, 8(a1); addi a4, a1, 2; li a2, -1
        TEST_TRAP_TVAL_REG(126, CAUSE_MISALIGNED_STORE, a4, sc.w a0, a2, (a4))
        ld a3, 0(a1); CHECK_EQ(a3, 0x0123456789abcdef); ld a3, 8(a1); CHECK_EQ(a3, 0x0123456789abcdef)
        la a1, amo_buf; li a3, 0x0123456789abcdef; sd a3, 0(a1); sd a3, 8(a1); addi a4, a1, 4; li a2, -1
        TEST_TRAP_TVAL_REG(127, CAUSE_MISALIGNED_STORE, a4, sc.d a0, a2, (a4))
        ld a3, 0(a1); CHECK_EQ(a3, 0x0123456789abcdef); ld a3, 8(a1); CHECK_EQ(a3, 0x0123456789abcdef)

        TEST_PASS

        .data
        .balign 64
amo_buf: .dword 0, 0, 0, 0, 0, 0, 0, 0
        .balign 4096
amo_far: .dword 0
