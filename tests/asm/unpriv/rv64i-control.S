/*
 * RV64I control transfer and system: BEQ, BNE, BLT, BGE, BLTU, BGEU, JAL, JALR,
 * FENCE, FENCE.TSO, ECALL, EBREAK.
 *
 * Part of tvisor's unprivileged-ISA test suite: built with tests/asm/env.h and tests/asm/link.ld and run
 * by tests/isa-unpriv.test.ts. Expected values follow the RISC-V unprivileged specification.
 */
#include "env.h"
        .option norvc

/* ---- BEQ ---- */
        TEST_BR_TAKEN(2, beq, 0x0000000000000000, 0x0000000000000000)
        TEST_BR_TAKEN(3, beq, 0x0000000000000001, 0x0000000000000001)
        TEST_BR_TAKEN(4, beq, 0xffffffffffffffff, 0xffffffffffffffff)
        TEST_BR_NOT_TAKEN(5, beq, 0x0000000000000000, 0x0000000000000001)
        TEST_BR_NOT_TAKEN(6, beq, 0x0000000000000001, 0x0000000000000000)
        TEST_BR_NOT_TAKEN(7, beq, 0xffffffffffffffff, 0x0000000000000000)
        TEST_BR_NOT_TAKEN(8, beq, 0x0000000000000000, 0xffffffffffffffff)
        TEST_BR_NOT_TAKEN(9, beq, 0xffffffffffffffff, 0x0000000000000001)
        TEST_BR_NOT_TAKEN(10, beq, 0x0000000000000001, 0xffffffffffffffff)
        TEST_BR_NOT_TAKEN(11, beq, 0x8000000000000000, 0x7fffffffffffffff)
        TEST_BR_NOT_TAKEN(12, beq, 0x7fffffffffffffff, 0x8000000000000000)
        TEST_BR_TAKEN(13, beq, 0x8000000000000000, 0x8000000000000000)
        TEST_BR_NOT_TAKEN(14, beq, 0x8000000000000000, 0x0000000000000000)
        TEST_BR_NOT_TAKEN(15, beq, 0x000000007fffffff, 0x0000000080000000)
        TEST_BR_NOT_TAKEN(16, beq, 0xfffffffffffffffe, 0xffffffffffffffff)
        TEST_BR_NOT_TAKEN(17, beq, 0x0000000100000000, 0x0000000000000000)
        TEST_NUM(18); li a1, 0; beq x0, a1, 1f; j 2f
1:      j 3f
2:
        FAIL_HERE
3:

/* ---- BNE ---- */
        TEST_BR_NOT_TAKEN(19, bne, 0x0000000000000000, 0x0000000000000000)
        TEST_BR_NOT_TAKEN(20, bne, 0x0000000000000001, 0x0000000000000001)
        TEST_BR_NOT_TAKEN(21, bne, 0xffffffffffffffff, 0xffffffffffffffff)
        TEST_BR_TAKEN(22, bne, 0x0000000000000000, 0x0000000000000001)
        TEST_BR_TAKEN(23, bne, 0x0000000000000001, 0x0000000000000000)
        TEST_BR_TAKEN(24, bne, 0xffffffffffffffff, 0x0000000000000000)
        TEST_BR_TAKEN(25, bne, 0x0000000000000000, 0xffffffffffffffff)
        TEST_BR_TAKEN(26, bne, 0xffffffffffffffff, 0x0000000000000001)
        TEST_BR_TAKEN(27, bne, 0x0000000000000001, 0xffffffffffffffff)
        TEST_BR_TAKEN(28, bne, 0x8000000000000000, 0x7fffffffffffffff)
        TEST_BR_TAKEN(29, bne, 0x7fffffffffffffff, 0x8000000000000000)
        TEST_BR_NOT_TAKEN(30, bne, 0x8000000000000000, 0x8000000000000000)
        TEST_BR_TAKEN(31, bne, 0x8000000000000000, 0x0000000000000000)
        TEST_BR_TAKEN(32, bne, 0x000000007fffffff, 0x0000000080000000)
        TEST_BR_TAKEN(33, bne, 0xfffffffffffffffe, 0xffffffffffffffff)
        TEST_BR_TAKEN(34, bne, 0x0000000100000000, 0x0000000000000000)
        TEST_NUM(35); li a1, 0; bne x0, a1, 1f; j 2f
1:      FAIL_HERE
2:

/* ---- BLT ---- */
        TEST_BR_NOT_TAKEN(36, blt, 0x0000000000000000, 0x0000000000000000)
        TEST_BR_NOT_TAKEN(37, blt, 0x0000000000000001, 0x0000000000000001)
        TEST_BR_NOT_TAKEN(38, blt, 0xffffffffffffffff, 0xffffffffffffffff)
        TEST_BR_TAKEN(39, blt, 0x0000000000000000, 0x0000000000000001)
        TEST_BR_NOT_TAKEN(40, blt, 0x0000000000000001, 0x0000000000000000)
        TEST_BR_TAKEN(41, blt, 0xffffffffffffffff, 0x0000000000000000)
        TEST_BR_NOT_TAKEN(42, blt, 0x0000000000000000, 0xffffffffffffffff)
        TEST_BR_TAKEN(43, blt, 0xffffffffffffffff, 0x0000000000000001)
        TEST_BR_NOT_TAKEN(44, blt, 0x0000000000000001, 0xffffffffffffffff)
        TEST_BR_TAKEN(45, blt, 0x8000000000000000, 0x7fffffffffffffff)
        TEST_BR_NOT_TAKEN(46, blt, 0x7fffffffffffffff, 0x8000000000000000)
        TEST_BR_NOT_TAKEN(47, blt, 0x8000000000000000, 0x8000000000000000)
        TEST_BR_TAKEN(48, blt, 0x8000000000000000, 0x0000000000000000)
        TEST_BR_TAKEN(49, blt, 0x000000007fffffff, 0x0000000080000000)
        TEST_BR_TAKEN(50, blt, 0xfffffffffffffffe, 0xffffffffffffffff)
        TEST_BR_NOT_TAKEN(51, blt, 0x0000000100000000, 0x0000000000000000)
        TEST_NUM(52); li a1, 0; blt x0, a1, 1f; j 2f
1:      FAIL_HERE
2:

/* ---- BGE ---- */
        TEST_BR_TAKEN(53, bge, 0x0000000000000000, 0x0000000000000000)
        TEST_BR_TAKEN(54, bge, 0x0000000000000001, 0x0000000000000001)
        TEST_BR_TAKEN(55, bge, 0xffffffffffffffff, 0xffffffffffffffff)
        TEST_BR_NOT_TAKEN(56, bge, 0x0000000000000000, 0x0000000000000001)
        TEST_BR_TAKEN(57, bge, 0x0000000000000001, 0x0000000000000000)
        TEST_BR_NOT_TAKEN(58, bge, 0xffffffffffffffff, 0x0000000000000000)
        TEST_BR_TAKEN(59, bge, 0x0000000000000000, 0xffffffffffffffff)
        TEST_BR_NOT_TAKEN(60, bge, 0xffffffffffffffff, 0x0000000000000001)
        TEST_BR_TAKEN(61, bge, 0x0000000000000001, 0xffffffffffffffff)
        TEST_BR_NOT_TAKEN(62, bge, 0x8000000000000000, 0x7fffffffffffffff)
        TEST_BR_TAKEN(63, bge, 0x7fffffffffffffff, 0x8000000000000000)
        TEST_BR_TAKEN(64, bge, 0x8000000000000000, 0x8000000000000000)
        TEST_BR_NOT_TAKEN(65, bge, 0x8000000000000000, 0x0000000000000000)
        TEST_BR_NOT_TAKEN(66, bge, 0x000000007fffffff, 0x0000000080000000)
        TEST_BR_NOT_TAKEN(67, bge, 0xfffffffffffffffe, 0xffffffffffffffff)
        TEST_BR_TAKEN(68, bge, 0x0000000100000000, 0x0000000000000000)
        TEST_NUM(69); li a1, 0; bge x0, a1, 1f; j 2f
1:      j 3f
2:
        FAIL_HERE
3:

/* ---- BLTU ---- */
        TEST_BR_NOT_TAKEN(70, bltu, 0x0000000000000000, 0x0000000000000000)
        TEST_BR_NOT_TAKEN(71, bltu, 0x0000000000000001, 0x0000000000000001)
        TEST_BR_NOT_TAKEN(72, bltu, 0xffffffffffffffff, 0xffffffffffffffff)
        TEST_BR_TAKEN(73, bltu, 0x0000000000000000, 0x0000000000000001)
        TEST_BR_NOT_TAKEN(74, bltu, 0x0000000000000001, 0x0000000000000000)
        TEST_BR_NOT_TAKEN(75, bltu, 0xffffffffffffffff, 0x0000000000000000)
        TEST_BR_TAKEN(76, bltu, 0x0000000000000000, 0xffffffffffffffff)
        TEST_BR_NOT_TAKEN(77, bltu, 0xffffffffffffffff, 0x0000000000000001)
        TEST_BR_TAKEN(78, bltu, 0x0000000000000001, 0xffffffffffffffff)
        TEST_BR_NOT_TAKEN(79, bltu, 0x8000000000000000, 0x7fffffffffffffff)
        TEST_BR_TAKEN(80, bltu, 0x7fffffffffffffff, 0x8000000000000000)
        TEST_BR_NOT_TAKEN(81, bltu, 0x8000000000000000, 0x8000000000000000)
        TEST_BR_NOT_TAKEN(82, bltu, 0x8000000000000000, 0x0000000000000000)
        TEST_BR_TAKEN(83, bltu, 0x000000007fffffff, 0x0000000080000000)
        TEST_BR_TAKEN(84, bltu, 0xfffffffffffffffe, 0xffffffffffffffff)
        TEST_BR_NOT_TAKEN(85, bltu, 0x0000000100000000, 0x0000000000000000)
        TEST_NUM(86); li a1, 0; bltu x0, a1, 1f; j 2f
1:      FAIL_HERE
2:

/* ---- BGEU ---- */
        TEST_BR_TAKEN(87, bgeu, 0x0000000000000000, 0x0000000000000000)
        TEST_BR_TAKEN(88, bgeu, 0x0000000000000001, 0x0000000000000001)
        TEST_BR_TAKEN(89, bgeu, 0xffffffffffffffff, 0xffffffffffffffff)
        TEST_BR_NOT_TAKEN(90, bgeu, 0x0000000000000000, 0x0000000000000001)
        TEST_BR_TAKEN(91, bgeu, 0x0000000000000001, 0x0000000000000000)
        TEST_BR_TAKEN(92, bgeu, 0xffffffffffffffff, 0x0000000000000000)
        TEST_BR_NOT_TAKEN(93, bgeu, 0x0000000000000000, 0xffffffffffffffff)
        TEST_BR_TAKEN(94, bgeu, 0xffffffffffffffff, 0x0000000000000001)
        TEST_BR_NOT_TAKEN(95, bgeu, 0x0000000000000001, 0xffffffffffffffff)
        TEST_BR_TAKEN(96, bgeu, 0x8000000000000000, 0x7fffffffffffffff)
        TEST_BR_NOT_TAKEN(97, bgeu, 0x7fffffffffffffff, 0x8000000000000000)
        TEST_BR_TAKEN(98, bgeu, 0x8000000000000000, 0x8000000000000000)
        TEST_BR_TAKEN(99, bgeu, 0x8000000000000000, 0x0000000000000000)
        TEST_BR_NOT_TAKEN(100, bgeu, 0x000000007fffffff, 0x0000000080000000)
        TEST_BR_NOT_TAKEN(101, bgeu, 0xfffffffffffffffe, 0xffffffffffffffff)
        TEST_BR_TAKEN(102, bgeu, 0x0000000100000000, 0x0000000000000000)
        TEST_NUM(103); li a1, 0; bgeu x0, a1, 1f; j 2f
1:      j 3f
2:
        FAIL_HERE
3:

/* ---- JAL: rd = address of the next instruction; x0 link discarded; forward and backward ---- */
        TEST_NUM(104); li ra, 0
1:      jal ra, 2f
        FAIL_HERE
2:      la a1, 1b; addi a1, a1, 4; CHECK_REGS_EQ(ra, a1)
        TEST_NUM(105); li a0, 0
        j 2f
1:      addi a0, a0, 1; j 3f
2:      jal t0, 1b
        FAIL_HERE
3:      CHECK_EQ(a0, 1)
        la a1, 2b; addi a1, a1, 4; CHECK_REGS_EQ(t0, a1)
        TEST_NUM(106); li a0, 7
        jal x0, 1f
        li a0, 0
1:      CHECK_EQ(a0, 7)
        TEST_NUM(107); li a0, 0
        jal a0, 1f
1:      la a1, 1b; CHECK_REGS_EQ(a0, a1)
        TEST_NUM(108); li a0, 0
3:      jal a0, 1f
        FAIL_HERE
        .skip 3000
1:      la a1, 3b; addi a1, a1, 4; CHECK_REGS_EQ(a0, a1)
        j 2f
4:      li a0, 0x77
        ret
        .skip 3000
2:      li a0, 0; call 4b; CHECK_EQ(a0, 0x77)

/* ---- JALR: target = (rs1 + imm) & ~1; rd = pc + 4 (written after the target is computed) ---- */
        TEST_NUM(109); li ra, 0; la a1, 2f
1:      jalr ra, 0(a1)
        FAIL_HERE
2:      la a2, 1b; addi a2, a2, 4; CHECK_REGS_EQ(ra, a2)
        TEST_NUM(110); la a1, 2f - 8
1:      jalr a0, 8(a1)
        FAIL_HERE
2:      la a2, 1b; addi a2, a2, 4; CHECK_REGS_EQ(a0, a2)
        TEST_NUM(111); la a1, 2f + 2048
1:      jalr a0, -2048(a1)
        FAIL_HERE
2:      la a2, 1b; addi a2, a2, 4; CHECK_REGS_EQ(a0, a2)
        TEST_NUM(112); la a1, 2f - 2047
        jalr a0, 2047(a1)            /* target 2f exactly */
        FAIL_HERE
2:      li a3, 1
        /* bit 0 of the target is cleared: rs1 odd, and imm odd */
        TEST_NUM(113); la a1, 2f; addi a1, a1, 1
1:      jalr a0, 0(a1)
        FAIL_HERE
2:      la a2, 1b; addi a2, a2, 4; CHECK_REGS_EQ(a0, a2)
        TEST_NUM(114); la a1, 2f
1:      jalr a0, 1(a1)
        FAIL_HERE
2:      la a2, 1b; addi a2, a2, 4; CHECK_REGS_EQ(a0, a2)
        TEST_NUM(115); la a1, 2f + 4
        jalr a0, -3(a1)
        FAIL_HERE
        FAIL_HERE
2:      li a3, 1
        /* rd == rs1: the target uses the old value */
        TEST_NUM(116); la a1, 2f
1:      jalr a1, 0(a1)
        FAIL_HERE
2:      la a2, 1b; addi a2, a2, 4; CHECK_REGS_EQ(a1, a2)
        /* x0 destination (plain indirect jump) and a call/return pair */
        TEST_NUM(117); la a1, 2f; li a0, 5
        jalr x0, 0(a1)
        li a0, 0
2:      CHECK_EQ(a0, 5)
        TEST_NUM(118); li a0, 0
        call 5f
        CHECK_EQ(a0, 0x55)
        j 6f
5:      li a0, 0x55
        ret
6:

/* ---- FENCE / FENCE.TSO: ordering only, no architectural side effect on registers ---- */
        TEST_CASE(119, a0, 3, li a0, 3; fence; fence rw, rw; fence r, r; fence w, w; fence iorw, iorw; fence.tso)
        TEST_CASE(120, a0, 0x1234, la a1, fdat; li a2, 0x1234; sd a2, 0(a1); fence w, r; ld a0, 0(a1))

/* ---- ECALL / EBREAK (M-mode): ECALL -> mcause 11, mtval 0; EBREAK -> mcause 3, mtval 0 or the pc ---- */
        TEST_TRAP(121, CAUSE_ECALL_M, 0, ecall)
        TEST_TRAP_ANY_TVAL(122, CAUSE_BREAKPOINT, ebreak)
        ld a0, __env_trap_tval; ld a1, __env_trap_epc
        beqz a0, 1f; CHECK_REGS_EQ(a0, a1)
1:
        /* registers survive the trap (the handler only uses t5/t6) */
        li a0, 0x1234; li a1, -2
        TEST_TRAP(123, CAUSE_ECALL_M, 0, ecall)
        CHECK_EQ(a0, 0x1234); CHECK_EQ(a1, -2)

        TEST_PASS

        .data
        .balign 8
fdat:   .dword 0
