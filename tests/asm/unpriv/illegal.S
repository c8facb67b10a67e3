/*
 * Illegal and reserved encodings raise an illegal-instruction exception (mcause 2) with mtval =
 * the instruction bits (a 16-bit parcel for compressed encodings), and leave the registers alone.
 *
 * Part of tvisor's unprivileged-ISA test suite: built with tests/asm/env.h and tests/asm/link.ld and run
 * by tests/isa-unpriv.test.ts. Expected values follow the RISC-V unprivileged specification.
 */
#include "env.h"
        .option rvc

/* ---- 32-bit encodings ---- */
        /* all-zero instruction: its first parcel is the defined-illegal 0x0000, so mtval = 0 */
        li a0, 0x77; li a1, 0x88
        TEST_ILLEGAL(2, .word 0x00000000)
        CHECK_EQ(a0, 0x77); CHECK_EQ(a1, 0x88)
        /* OP with funct7 1111111 */
        li a0, 0x77; li a1, 0x88
        TEST_ILLEGAL(3, .word 0xfe000533)
        CHECK_EQ(a0, 0x77); CHECK_EQ(a1, 0x88)
        /* LOAD with funct3 111 (no such load on RV64) */
        li a0, 0x77; li a1, 0x88
        TEST_ILLEGAL(4, .word 0x00007503)
        CHECK_EQ(a0, 0x77); CHECK_EQ(a1, 0x88)
        /* SLLIW with shamt[5] set (reserved on RV64) */
        li a0, 0x77; li a1, 0x88
        TEST_ILLEGAL(5, .insn i 0x1b, 1, a0, a0, 32)
        CHECK_EQ(a0, 0x77); CHECK_EQ(a1, 0x88)
        /* SRLIW with shamt[5] set */
        li a0, 0x77; li a1, 0x88
        TEST_ILLEGAL(6, .insn i 0x1b, 5, a0, a0, 32)
        CHECK_EQ(a0, 0x77); CHECK_EQ(a1, 0x88)
        /* SRAIW with shamt[5] set */
        li a0, 0x77; li a1, 0x88
        TEST_ILLEGAL(7, .insn i 0x1b, 5, a0, a0, 0x420)
        CHECK_EQ(a0, 0x77); CHECK_EQ(a1, 0x88)
        /* OP-IMM funct3 001 with imm[11:6] = 100000 (no such shift) */
        li a0, 0x77; li a1, 0x88
        TEST_ILLEGAL(8, .word 0x80051513)
        CHECK_EQ(a0, 0x77); CHECK_EQ(a1, 0x88)
        /* Zbb unary group (imm 0x603) with an unassigned rs2 field */
        li a0, 0x77; li a1, 0x88
        TEST_ILLEGAL(9, .word 0x60351513)
        CHECK_EQ(a0, 0x77); CHECK_EQ(a1, 0x88)
        /* OP-32 funct7 0000001 funct3 001 (there is no MULHW) */
        li a0, 0x77; li a1, 0x88
        TEST_ILLEGAL(10, .word 0x0200153b)
        CHECK_EQ(a0, 0x77); CHECK_EQ(a1, 0x88)
        /* OP-32 funct7 0000001 funct3 010 */
        li a0, 0x77; li a1, 0x88
        TEST_ILLEGAL(11, .word 0x0200253b)
        CHECK_EQ(a0, 0x77); CHECK_EQ(a1, 0x88)
        /* OP-32 with funct7 1111111 */
        li a0, 0x77; li a1, 0x88
        TEST_ILLEGAL(12, .word 0xfe00053b)
        CHECK_EQ(a0, 0x77); CHECK_EQ(a1, 0x88)
        /* AMO with funct3 100 (no 128-bit AMOs on RV64) */
        li a0, 0x77; li a1, 0x88
        TEST_ILLEGAL(13, .word 0x0000452f)
        CHECK_EQ(a0, 0x77); CHECK_EQ(a1, 0x88)

/* ---- 16-bit (compressed) encodings ---- */
        /* all-zero 16-bit parcel: mtval holds only that parcel (0) */
        li a0, 0x77; li a5, 0x99
        TEST_ILLEGAL(14, .hword 0x0000; .hword 0x1234)
        CHECK_EQ(a0, 0x77); CHECK_EQ(a5, 0x99)
        /* C.ADDI4SPN with nzuimm = 0 (reserved) */
        li a0, 0x77; li a5, 0x99
        TEST_ILLEGAL(15, .hword 0x0004)
        CHECK_EQ(a0, 0x77); CHECK_EQ(a5, 0x99)
        /* C.ADDI4SPN, rd' = a5, nzuimm = 0 */
        li a0, 0x77; li a5, 0x99
        TEST_ILLEGAL(16, .hword 0x001c)
        CHECK_EQ(a0, 0x77); CHECK_EQ(a5, 0x99)
        /* C.ADDI16SP with nzimm = 0 (reserved) */
        li a0, 0x77; li a5, 0x99
        TEST_ILLEGAL(17, .hword 0x6101)
        CHECK_EQ(a0, 0x77); CHECK_EQ(a5, 0x99)
        /* C.LUI a0 with nzimm = 0 (reserved) */
        li a0, 0x77; li a5, 0x99
        TEST_ILLEGAL(18, .hword 0x6501)
        CHECK_EQ(a0, 0x77); CHECK_EQ(a5, 0x99)
        /* C.LUI t6 with nzimm = 0 (reserved) */
        li a0, 0x77; li a5, 0x99
        TEST_ILLEGAL(19, .hword 0x6f81)
        CHECK_EQ(a0, 0x77); CHECK_EQ(a5, 0x99)
        /* C.LWSP with rd = x0 (reserved) */
        li a0, 0x77; li a5, 0x99
        TEST_ILLEGAL(20, .hword 0x4002)
        CHECK_EQ(a0, 0x77); CHECK_EQ(a5, 0x99)
        /* C.LWSP with rd = x0 and an offset (reserved) */
        li a0, 0x77; li a5, 0x99
        TEST_ILLEGAL(21, .hword 0x5012)
        CHECK_EQ(a0, 0x77); CHECK_EQ(a5, 0x99)
        /* C.LDSP with rd = x0 (reserved) */
        li a0, 0x77; li a5, 0x99
        TEST_ILLEGAL(22, .hword 0x6002)
        CHECK_EQ(a0, 0x77); CHECK_EQ(a5, 0x99)
        /* C.JR with rs1 = x0 (reserved) */
        li a0, 0x77; li a5, 0x99
        TEST_ILLEGAL(23, .hword 0x8002)
        CHECK_EQ(a0, 0x77); CHECK_EQ(a5, 0x99)
        /* C.ADDIW with rd = x0 (reserved) */
        li a0, 0x77; li a5, 0x99
        TEST_ILLEGAL(24, .hword 0x2001)
        CHECK_EQ(a0, 0x77); CHECK_EQ(a5, 0x99)
        /* C.ADDIW with rd = x0, imm 1 (reserved) */
        li a0, 0x77; li a5, 0x99
        TEST_ILLEGAL(25, .hword 0x2005)
        CHECK_EQ(a0, 0x77); CHECK_EQ(a5, 0x99)
        /* quadrant 1, funct6 100111, funct2 10 (reserved on RV64) */
        li a0, 0x77; li a5, 0x99
        TEST_ILLEGAL(26, .hword 0x9c41)
        CHECK_EQ(a0, 0x77); CHECK_EQ(a5, 0x99)
        /* quadrant 1, funct6 100111, funct2 11 (reserved on RV64) */
        li a0, 0x77; li a5, 0x99
        TEST_ILLEGAL(27, .hword 0x9c61)
        CHECK_EQ(a0, 0x77); CHECK_EQ(a5, 0x99)
        /* quadrant 0, funct3 100 (reserved without Zcb) */
        li a0, 0x77; li a5, 0x99
        TEST_ILLEGAL(28, .hword 0x8000)
        CHECK_EQ(a0, 0x77); CHECK_EQ(a5, 0x99)

/* ---- The exact mtval values, spelled out for a few of them ---- */
        TEST_TRAP(29, CAUSE_ILLEGAL_INSTRUCTION, 0, .word 0)
        TEST_TRAP(30, CAUSE_ILLEGAL_INSTRUCTION, 0xfe000533, .word 0xfe000533)
        TEST_TRAP(31, CAUSE_ILLEGAL_INSTRUCTION, 0x0004, .hword 0x0004)
        TEST_TRAP(32, CAUSE_ILLEGAL_INSTRUCTION, 0x6501, .hword 0x6501)
        TEST_TRAP(33, CAUSE_ILLEGAL_INSTRUCTION, 0x9c41, .hword 0x9c41)
        /* an illegal instruction at a 2-byte (not 4-byte) aligned address */
        TEST_NUM(34); la t5, 3f; la t6, __env_trap_rec; sd t5, 0(t6)
        .balign 4
        c.nop
1:      .word 0x0200153b
        FAIL_HERE
3:      ld t5, __env_trap_epc; la t6, 1b; CHECK_REGS_EQ(t5, t6)
        ld t5, __env_trap_cause; CHECK_EQ(t5, CAUSE_ILLEGAL_INSTRUCTION)
        ld t5, __env_trap_tval; CHECK_EQ(t5, 0x0200153b)

        TEST_PASS
