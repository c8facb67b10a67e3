/*
 * tvisor bare-metal test environment for the ISA test programs in tests/asm/unpriv/.
 *
 * Include this header first in a test program (.S, preprocessed by gcc). It emits:
 *   - `_start` (in .text.init, linked at 0x80000000 by link.ld): runs in M-mode, points mtvec at the
 *     environment's trap handler, sets up a stack, sets the test number to 1 and jumps to the test body,
 *     which is whatever the program writes after the #include (in .text).
 *   - the trap handler: a trap the test announced beforehand (see TEST_TRAP) is recorded and execution
 *     resumes at the address the test gave; any other trap fails the current test.
 *   - `tohost`/`fromhost` (HTIF mailbox, 64-bit each, in the 64-byte-aligned .tohost section).
 *
 * Result protocol: PASS writes 1 to tohost; FAIL writes (N << 1) | 1 where N is the current test number
 * (register gp, see TESTNUM). Either way the hart then spins.
 *
 * Conventions for test programs:
 *   - gp holds the test number; tests never write gp otherwise. Numbers run 2..255 (1 means "outside any
 *     test"; the upper bound keeps QEMU's HTIF exit status, which is N & 0xff, nonzero). Every number may be
 *     used once per program; the assembler rejects duplicates and out-of-range numbers.
 *   - t5 and t6 belong to the environment: the macros and the trap handler clobber them.
 *   - sp points at a 4 KiB stack (__env_stack_top) on entry.
 *   - local labels 90..99 are used inside the macros; test code should use 1..89.
 *   - the program ends with TEST_PASS, which reports success.
 */
#ifndef TVISOR_TESTS_ASM_ENV_H
#define TVISOR_TESTS_ASM_ENV_H

#define TESTNUM gp

/* ------------------------------------------------------------------------------------------------------ */
/* Entry point, trap handler, pass/fail exits.                                                             */

        .section .text.init, "ax", @progbits
        .option push
        .option norvc
        .globl _start
_start:
        la      t0, __env_trap
        csrw    mtvec, t0
        la      sp, __env_stack_top
        li      TESTNUM, 1
        la      t0, __env_tests
        jr      t0

        /* Direct-mode trap vector (must be 4-byte aligned). Only t5/t6 are touched. */
        .balign 4
__env_trap:
        la      t6, __env_trap_rec
        ld      t5, 0(t6)               /* resume address; zero means no trap was expected */
        beqz    t5, __env_fail
        csrr    t5, mcause
        sd      t5, 8(t6)
        csrr    t5, mtval
        sd      t5, 16(t6)
        csrr    t5, mepc
        sd      t5, 24(t6)
        ld      t5, 0(t6)
        sd      zero, 0(t6)             /* one trap per announcement: a second one fails */
        csrw    mepc, t5
        mret

        .globl __env_fail
__env_fail:
        fence
        bnez    TESTNUM, 1f
        li      TESTNUM, 1              /* never report "test 0": (0 << 1) | 1 would read as PASS */
1:      slli    t6, TESTNUM, 1
        ori     t6, t6, 1
        la      t5, tohost
        sd      t6, 0(t5)
2:      j       2b

        .globl __env_pass
__env_pass:
        fence
        li      t6, 1
        la      t5, tohost
        sd      t6, 0(t5)
3:      j       3b
        .option pop

/* HTIF mailbox. */
        .section .tohost, "aw", @progbits
        .balign 64
        .globl tohost
        .type tohost, @object
        .size tohost, 8
tohost: .dword 0
        .balign 64
        .globl fromhost
        .type fromhost, @object
        .size fromhost, 8
fromhost: .dword 0
        .balign 64

/* Trap record: +0 resume address (armed by TEST_TRAP), +8 mcause, +16 mtval, +24 mepc. */
        .data
        .balign 8
        .globl __env_trap_rec
__env_trap_rec:
        .dword 0, 0, 0, 0
__env_trap_cause = __env_trap_rec + 8
__env_trap_tval = __env_trap_rec + 16
__env_trap_epc = __env_trap_rec + 24

        .bss
        .balign 16
__env_stack:
        .skip 4096
__env_stack_top:

/* The test body follows the #include. */
        .text
__env_tests:

/* ------------------------------------------------------------------------------------------------------ */
/* Building blocks.                                                                                        */

/* Starts test `num`: checks the number (2..255, unique within the program) and loads it into TESTNUM. */
#define TEST_NUM(num) \
        .if ((num) < 2) || ((num) > 255); .error "test number out of range 2..255"; .endif; \
        .equiv __env_test_number_used_##num, 1; \
        li TESTNUM, num

/* Unconditional failure of the current test (for paths that must not be reached). An AUIPC/JALR pair through t6
   rather than JAL, so that it reaches __env_fail from anywhere in a large test image. */
#define FAIL_HERE \
95:     auipc t6, %pcrel_hi(__env_fail); jalr x0, %pcrel_lo(95b)(t6)

/* Fails the current test unless register `reg` equals the 64-bit value `val`. Clobbers t6. */
#define CHECK_EQ(reg, val) \
        li t6, val; beq reg, t6, 99f; FAIL_HERE; 99:

/* Fails the current test unless registers `r1` and `r2` are equal. */
#define CHECK_REGS_EQ(r1, r2) \
        beq r1, r2, 99f; FAIL_HERE; 99:

/* Fails the current test unless registers `r1` and `r2` differ. */
#define CHECK_REGS_NE(r1, r2) \
        bne r1, r2, 99f; FAIL_HERE; 99:

/* Generic test: run the instructions given as the trailing arguments, then require reg == expected. */
#define TEST_CASE(num, reg, expected, ...) \
        TEST_NUM(num); __VA_ARGS__; CHECK_EQ(reg, expected)

/* Reports success; every program ends with this. */
#define TEST_PASS \
95:     auipc t6, %pcrel_hi(__env_pass); jalr x0, %pcrel_lo(95b)(t6)

/* ------------------------------------------------------------------------------------------------------ */
/* Register-register and register-immediate operations. Operands are placed in a1/a2, result in a0.        */

#define TEST_RR_OP(num, inst, expected, v1, v2) \
        TEST_CASE(num, a0, expected, li a1, v1; li a2, v2; inst a0, a1, a2)
/* Destination is also the first / second source / both sources. */
#define TEST_RR_SRC1_EQ_DEST(num, inst, expected, v1, v2) \
        TEST_CASE(num, a1, expected, li a1, v1; li a2, v2; inst a1, a1, a2)
#define TEST_RR_SRC2_EQ_DEST(num, inst, expected, v1, v2) \
        TEST_CASE(num, a2, expected, li a1, v1; li a2, v2; inst a2, a1, a2)
#define TEST_RR_SRC12_EQ_DEST(num, inst, expected, v1) \
        TEST_CASE(num, a1, expected, li a1, v1; inst a1, a1, a1)
/* x0 as a source reads zero; x0 as the destination stays zero. */
#define TEST_RR_ZEROSRC1(num, inst, expected, v2) \
        TEST_CASE(num, a0, expected, li a2, v2; inst a0, x0, a2)
#define TEST_RR_ZEROSRC2(num, inst, expected, v1) \
        TEST_CASE(num, a0, expected, li a1, v1; inst a0, a1, x0)
#define TEST_RR_ZERODEST(num, inst, v1, v2) \
        TEST_CASE(num, x0, 0, li a1, v1; li a2, v2; inst x0, a1, a2)

#define TEST_IMM_OP(num, inst, expected, v1, imm) \
        TEST_CASE(num, a0, expected, li a1, v1; inst a0, a1, imm)
#define TEST_IMM_SRC1_EQ_DEST(num, inst, expected, v1, imm) \
        TEST_CASE(num, a1, expected, li a1, v1; inst a1, a1, imm)
#define TEST_IMM_ZEROSRC1(num, inst, expected, imm) \
        TEST_CASE(num, a0, expected, inst a0, x0, imm)
#define TEST_IMM_ZERODEST(num, inst, v1, imm) \
        TEST_CASE(num, x0, 0, li a1, v1; inst x0, a1, imm)

/* One-source operations (clz, sext.b, rev8, ...). */
#define TEST_R_OP(num, inst, expected, v1) \
        TEST_CASE(num, a0, expected, li a1, v1; inst a0, a1)
#define TEST_R_SRC1_EQ_DEST(num, inst, expected, v1) \
        TEST_CASE(num, a1, expected, li a1, v1; inst a1, a1)

/* ------------------------------------------------------------------------------------------------------ */
/* Memory.                                                                                                 */

/* Load at `offset`(address of symbol `base`) into a0, require `expected`. */
#define TEST_LD(num, inst, expected, offset, base) \
        TEST_CASE(num, a0, expected, la a1, base; inst a0, offset(a1))
/* Store `value` at offset(base), read it back with `ldinst`, require `expected`. */
#define TEST_ST(num, ldinst, stinst, expected, value, offset, base) \
        TEST_CASE(num, a0, expected, la a1, base; li a2, value; stinst a2, offset(a1); ldinst a0, offset(a1))

/* ------------------------------------------------------------------------------------------------------ */
/* Branches: taken checks a forward and a backward taken branch; not-taken checks both directions fall    */
/* through.                                                                                                */

#define TEST_BR_TAKEN(num, inst, v1, v2) \
        TEST_NUM(num); li a1, v1; li a2, v2; \
        inst a1, a2, 92f; \
        FAIL_HERE; \
91:     j 93f; \
92:     inst a1, a2, 91b; \
        FAIL_HERE; \
93:

#define TEST_BR_NOT_TAKEN(num, inst, v1, v2) \
        TEST_NUM(num); li a1, v1; li a2, v2; \
        j 92f; \
91:     FAIL_HERE; \
92:     inst a1, a2, 91b; \
        inst a1, a2, 93f; \
        j 94f; \
93:     FAIL_HERE; \
94:

/* ------------------------------------------------------------------------------------------------------ */
/* Expected traps. The first instruction of the trailing code must trap with mcause == `cause`; its       */
/* address must be reported in mepc and, for TEST_TRAP, mtval must equal `tval`. Execution resumes after  */
/* the code; falling through the code without a trap, or a second trap, fails the test.                  */

#define __ENV_TRAP_ARM(num) \
        TEST_NUM(num); la t5, 97f; la t6, __env_trap_rec; sd t5, 0(t6)

#define __ENV_TRAP_CHECK \
        ld t5, __env_trap_epc; la t6, 98b; CHECK_REGS_EQ(t5, t6)

#define TEST_TRAP(num, cause, tval, ...) \
        __ENV_TRAP_ARM(num); \
98:     __VA_ARGS__; \
        FAIL_HERE; \
        .balign 2; \
97:     __ENV_TRAP_CHECK; \
        ld t5, __env_trap_cause; CHECK_EQ(t5, cause); \
        ld t5, __env_trap_tval; CHECK_EQ(t5, tval)

/* Like TEST_TRAP, with the expected mtval taken from register `tvalreg` (not t5/t6; the code must keep it). */
#define TEST_TRAP_TVAL_REG(num, cause, tvalreg, ...) \
        __ENV_TRAP_ARM(num); \
98:     __VA_ARGS__; \
        FAIL_HERE; \
        .balign 2; \
97:     __ENV_TRAP_CHECK; \
        ld t5, __env_trap_cause; CHECK_EQ(t5, cause); \
        ld t5, __env_trap_tval; CHECK_REGS_EQ(t5, tvalreg)

/* Like TEST_TRAP, without a requirement on mtval. */
#define TEST_TRAP_ANY_TVAL(num, cause, ...) \
        __ENV_TRAP_ARM(num); \
98:     __VA_ARGS__; \
        FAIL_HERE; \
        .balign 2; \
97:     __ENV_TRAP_CHECK; \
        ld t5, __env_trap_cause; CHECK_EQ(t5, cause)

/* The trailing code's first instruction must raise an illegal-instruction exception (mcause 2) with mtval
   holding that instruction's bits: the 16-bit parcel, zero-extended, for a compressed encoding, otherwise the
   32-bit word, zero-extended. The expected bits are read back from the code itself. */
#define TEST_ILLEGAL(num, ...) \
        __ENV_TRAP_ARM(num); \
98:     __VA_ARGS__; \
        FAIL_HERE; \
        .balign 2; \
97:     __ENV_TRAP_CHECK; \
        ld t5, __env_trap_cause; CHECK_EQ(t5, CAUSE_ILLEGAL_INSTRUCTION); \
        la t6, 98b; lhu t5, 2(t6); slli t5, t5, 16; lhu t6, 0(t6); or t5, t5, t6; \
        andi t6, t5, 3; addi t6, t6, -3; beqz t6, 96f; \
        slli t5, t5, 48; srli t5, t5, 48; \
96:     ld t6, __env_trap_tval; CHECK_REGS_EQ(t5, t6)

/* mcause values used by the tests. */
#define CAUSE_MISALIGNED_FETCH 0
#define CAUSE_ILLEGAL_INSTRUCTION 2
#define CAUSE_BREAKPOINT 3
#define CAUSE_MISALIGNED_LOAD 4
#define CAUSE_MISALIGNED_STORE 6
#define CAUSE_ECALL_M 11

#endif
