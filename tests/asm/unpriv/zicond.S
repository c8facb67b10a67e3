/*
 * Zicond: CZERO.EQZ (rd = rs2 == 0 ? 0 : rs1) and CZERO.NEZ (rd = rs2 != 0 ? 0 : rs1).
 * Encoded with .insn because binutils before 2.41 has no Zicond mnemonics.
 *
 * Part of tvisor's unprivileged-ISA test suite: built with tests/asm/env.h and tests/asm/link.ld and run
 * by tests/isa-unpriv.test.ts. Expected values follow the RISC-V unprivileged specification.
 */
#include "env.h"
        .option norvc
        .macro czero_eqz rd, rs1, rs2
        .insn r 0x33, 5, 7, \rd, \rs1, \rs2      /* funct7 0000111, funct3 101 */
        .endm
        .macro czero_nez rd, rs1, rs2
        .insn r 0x33, 7, 7, \rd, \rs1, \rs2      /* funct7 0000111, funct3 111 */
        .endm

/* ---- CZERO.EQZ ---- */
        TEST_RR_OP(2, czero_eqz, 0x0000000000000000, 0x0000000000000005, 0x0000000000000000)
        TEST_RR_OP(3, czero_eqz, 0x0000000000000005, 0x0000000000000005, 0x0000000000000001)
        TEST_RR_OP(4, czero_eqz, 0x0000000000000000, 0xffffffffffffffff, 0x0000000000000000)
        TEST_RR_OP(5, czero_eqz, 0xffffffffffffffff, 0xffffffffffffffff, 0x8000000000000000)
        TEST_RR_OP(6, czero_eqz, 0x0123456789abcdef, 0x0123456789abcdef, 0x0000000100000000)
        TEST_RR_OP(7, czero_eqz, 0x0123456789abcdef, 0x0123456789abcdef, 0xffffffffffffffff)
        TEST_RR_OP(8, czero_eqz, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000)
        TEST_RR_OP(9, czero_eqz, 0x0000000000000000, 0x0000000000000000, 0x0000000000000007)
        TEST_RR_OP(10, czero_eqz, 0x8000000000000000, 0x8000000000000000, 0x0000000080000000)
        TEST_RR_SRC1_EQ_DEST(11, czero_eqz, 0x0000000000000000, 0x0000000000000055, 0)
        TEST_RR_SRC1_EQ_DEST(12, czero_eqz, 0x0000000000000055, 0x0000000000000055, 3)
        TEST_RR_SRC2_EQ_DEST(13, czero_eqz, 0x0000000000000055, 0x0000000000000055, 3)
        TEST_RR_SRC2_EQ_DEST(14, czero_eqz, 0x0000000000000000, 0x0000000000000055, 0)
        TEST_RR_SRC12_EQ_DEST(15, czero_eqz, 0x0000000000000009, 9)
        TEST_RR_SRC12_EQ_DEST(16, czero_eqz, 0x0000000000000000, 0)
        TEST_RR_ZEROSRC1(17, czero_eqz, 0, 3)
        TEST_RR_ZEROSRC2(18, czero_eqz, 0x0000000000000000, 0x0000000000001234)
        TEST_RR_ZERODEST(19, czero_eqz, 7, 0)
        TEST_RR_ZERODEST(20, czero_eqz, 7, 1)

/* ---- CZERO.NEZ ---- */
        TEST_RR_OP(21, czero_nez, 0x0000000000000005, 0x0000000000000005, 0x0000000000000000)
        TEST_RR_OP(22, czero_nez, 0x0000000000000000, 0x0000000000000005, 0x0000000000000001)
        TEST_RR_OP(23, czero_nez, 0xffffffffffffffff, 0xffffffffffffffff, 0x0000000000000000)
        TEST_RR_OP(24, czero_nez, 0x0000000000000000, 0xffffffffffffffff, 0x8000000000000000)
        TEST_RR_OP(25, czero_nez, 0x0000000000000000, 0x0123456789abcdef, 0x0000000100000000)
        TEST_RR_OP(26, czero_nez, 0x0000000000000000, 0x0123456789abcdef, 0xffffffffffffffff)
        TEST_RR_OP(27, czero_nez, 0x0000000000000000, 0x0000000000000000, 0x0000000000000000)
        TEST_RR_OP(28, czero_nez, 0x0000000000000000, 0x0000000000000000, 0x0000000000000007)
        TEST_RR_OP(29, czero_nez, 0x0000000000000000, 0x8000000000000000, 0x0000000080000000)
        TEST_RR_SRC1_EQ_DEST(30, czero_nez, 0x0000000000000055, 0x0000000000000055, 0)
        TEST_RR_SRC1_EQ_DEST(31, czero_nez, 0x0000000000000000, 0x0000000000000055, 3)
        TEST_RR_SRC2_EQ_DEST(32, czero_nez, 0x0000000000000000, 0x0000000000000055, 3)
        TEST_RR_SRC2_EQ_DEST(33, czero_nez, 0x0000000000000055, 0x0000000000000055, 0)
        TEST_RR_SRC12_EQ_DEST(34, czero_nez, 0x0000000000000000, 9)
        TEST_RR_SRC12_EQ_DEST(35, czero_nez, 0x0000000000000000, 0)
        TEST_RR_ZEROSRC1(36, czero_nez, 0, 3)
        TEST_RR_ZEROSRC2(37, czero_nez, 0x0000000000001234, 0x0000000000001234)
        TEST_RR_ZERODEST(38, czero_nez, 7, 0)
        TEST_RR_ZERODEST(39, czero_nez, 7, 1)

/* ---- Branchless select built from the pair: rd = cond ? a : b ---- */
        TEST_NUM(40); li a1, 0x0000000000000001; li a2, 0x0000000000001111; li a3, 0x0000000000002222
        czero_eqz a4, a2, a1; czero_nez a5, a3, a1; or a0, a4, a5; CHECK_EQ(a0, 0x0000000000001111)
        TEST_NUM(41); li a1, 0x0000000000000000; li a2, 0x0000000000001111; li a3, 0x0000000000002222
        czero_eqz a4, a2, a1; czero_nez a5, a3, a1; or a0, a4, a5; CHECK_EQ(a0, 0x0000000000002222)
        TEST_NUM(42); li a1, 0x8000000000000000; li a2, 0xffffffffffffffff; li a3, 0x0000000000000005
        czero_eqz a4, a2, a1; czero_nez a5, a3, a1; or a0, a4, a5; CHECK_EQ(a0, 0xffffffffffffffff)

        TEST_PASS
