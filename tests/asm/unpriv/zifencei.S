/*
 * Zifencei: after stores to instruction memory, FENCE.I makes the new instructions visible
 * to this hart's instruction fetches (including code that already ran, i.e. possibly cached/translated).
 *
 * Part of tvisor's unprivileged-ISA test suite: built with tests/asm/env.h and tests/asm/link.ld and run
 * by tests/isa-unpriv.test.ts. Expected values follow the RISC-V unprivileged specification.
 */
#include "env.h"
        .option norvc
        TEST_NUM(2); la a1, code_buf
        jalr ra, 0(a1); CHECK_EQ(a0, 1)
        la a2, tmpl_42; lw a3, 0(a2); sw a3, 0(a1)
        fence.i
        jalr ra, 0(a1); CHECK_EQ(a0, 42)
        /* run the code many times (hot), patch it, and run it again */
        TEST_NUM(3); la a1, code_buf; li s0, 200; li s1, 0
1:      jalr ra, 0(a1); add s1, s1, a0; addi s0, s0, -1; bnez s0, 1b
        CHECK_EQ(s1, 42 * 200)
        la a2, tmpl_c; lw a3, 0(a2); sw a3, 0(a1)
        fence.i
        li s0, 10; li s1, 0
2:      jalr ra, 0(a1); add s1, s1, a0; addi s0, s0, -1; bnez s0, 2b
        CHECK_EQ(s1, 70)
        /* patch one byte of the second instruction of a sequence (imm[11:4] of "addi a0, a0, 0x010" -> 0x05) */
        TEST_NUM(4); la a1, code_buf2
        jalr ra, 0(a1); CHECK_EQ(a0, 0x10)
        li a3, 0x05; sb a3, 7(a1)
        fence.i
        jalr ra, 0(a1); CHECK_EQ(a0, 0x50)
        /* FENCE.I with nothing to synchronize is harmless */
        TEST_CASE(5, a0, 5, li a0, 5; fence.i; fence.i)

        TEST_PASS

        .data
        .balign 8
        .option push
        .option norvc
code_buf:
        addi a0, x0, 1
        ret
code_buf2:
        addi a0, x0, 0
        addi a0, a0, 0x010
        ret
tmpl_42:
        addi a0, x0, 42
        .option rvc
tmpl_c:
        c.li a0, 7
        c.nop
        .option pop
