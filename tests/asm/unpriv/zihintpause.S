/*
 * Zihintpause: PAUSE (FENCE with pred=W, succ=0, fm=0) is a hint with no architectural effect.
 *
 * Part of tvisor's unprivileged-ISA test suite: built with tests/asm/env.h and tests/asm/link.ld and run
 * by tests/isa-unpriv.test.ts. Expected values follow the RISC-V unprivileged specification.
 */
#include "env.h"
        .option norvc
        TEST_NUM(2); li a0, 0x1234; li a1, -1; la a2, pdat; sd a1, 0(a2)
        pause
        CHECK_EQ(a0, 0x1234); CHECK_EQ(a1, -1); ld a3, 0(a2); CHECK_EQ(a3, -1)
        TEST_NUM(3); li a0, 0; li a1, 1000
1:      pause
        addi a0, a0, 1
        addi a1, a1, -1
        bnez a1, 1b
        CHECK_EQ(a0, 1000)
        /* other FENCE hint encodings (pred or succ empty, rd/rs1 nonzero) also execute as no-ops */
        TEST_NUM(4); li a0, 0x55; li a1, 0x66
        .insn i 0x0f, 0, x0, x0, 0x0f0         /* fence iorw, 0 */
        .insn i 0x0f, 0, x0, x0, 0x00f         /* fence 0, iorw */
        .insn i 0x0f, 0, x0, x0, 0x000         /* fence 0, 0 */
        .insn i 0x0f, 0, a0, a1, 0x0ff         /* fence with rd = a0, rs1 = a1: reserved fields, still a fence */
        CHECK_EQ(a0, 0x55); CHECK_EQ(a1, 0x66)

        TEST_PASS

        .data
        .balign 8
pdat:   .dword 0
