/*
 * Zicntr: RDCYCLE, RDTIME, RDINSTRET (read from M-mode) move forward; the counters are read-only
 * (writes trap) and the RV32-only high halves do not exist on RV64.
 *
 * Part of tvisor's unprivileged-ISA test suite: built with tests/asm/env.h and tests/asm/link.ld and run
 * by tests/isa-unpriv.test.ts. Expected values follow the RISC-V unprivileged specification.
 */
#include "env.h"
        .option norvc

/* ---- CYCLE and INSTRET increase across a 200-instruction loop; INSTRET by at least 200 ---- */
        TEST_NUM(2); rdcycle a0; li a2, 100
1:      addi a2, a2, -1; bnez a2, 1b
        rdcycle a1; CHECK_REGS_NE(a0, a1); bltu a0, a1, 2f; FAIL_HERE
2:
        TEST_NUM(3); rdinstret a0; li a2, 100
1:      addi a2, a2, -1; bnez a2, 1b
        rdinstret a1; sub a3, a1, a0; li a4, 200; bgeu a3, a4, 2f; FAIL_HERE
2:
        TEST_NUM(4); csrr a0, cycle; csrrs a1, cycle, x0; csrrsi a2, cycle, 0; csrrc a3, cycle, x0; csrrci a4, cycle, 0
        bgeu a1, a0, 1f; FAIL_HERE
1:      bgeu a2, a1, 2f; FAIL_HERE
2:      bgeu a3, a2, 3f; FAIL_HERE
3:      bgeu a4, a3, 4f; FAIL_HERE
4:
        TEST_NUM(5); csrr a0, instret; csrrs a1, instret, x0; csrrsi a2, instret, 0; csrrci a3, instret, 0
        bltu a0, a1, 1f; FAIL_HERE
1:      bltu a1, a2, 2f; FAIL_HERE
2:      bltu a2, a3, 3f; FAIL_HERE
3:

/* ---- TIME never goes backwards and changes within a bounded spin ---- */
        TEST_NUM(6); rdtime a0; mv a3, a0; li a2, 50000000
1:      rdtime a1; bltu a1, a3, 3f; mv a3, a1
        bne a1, a0, 2f
        addi a2, a2, -1; bnez a2, 1b
3:      FAIL_HERE
2:
        TEST_NUM(7); csrr a0, time; csrrsi a1, time, 0; csrrc a2, time, x0
        bgeu a1, a0, 1f; FAIL_HERE
1:      bgeu a2, a1, 2f; FAIL_HERE
2:
        /* TIME mirrors the CLINT mtime register (0x0200bff8): mtime before <= time <= mtime after */
        TEST_NUM(8); li a4, 0x0200bff8
        ld a0, 0(a4); rdtime a1; ld a2, 0(a4)
        bgeu a1, a0, 1f; FAIL_HERE
1:      bgeu a2, a1, 2f; FAIL_HERE
2:

/* ---- The user counters are read-only: any CSR write (even of an unchanged value) raises illegal instruction ---- */
        li a1, 1; li a0, 0x77
        TEST_ILLEGAL(9, csrw cycle, a1)
        CHECK_EQ(a0, 0x77)
        li a1, 1; li a0, 0x77
        TEST_ILLEGAL(10, csrw time, a1)
        CHECK_EQ(a0, 0x77)
        li a1, 1; li a0, 0x77
        TEST_ILLEGAL(11, csrw instret, a1)
        CHECK_EQ(a0, 0x77)
        li a1, 1; li a0, 0x77
        TEST_ILLEGAL(12, csrrs a0, cycle, a1)
        CHECK_EQ(a0, 0x77)
        li a1, 1; li a0, 0x77
        TEST_ILLEGAL(13, csrrc a0, instret, a1)
        CHECK_EQ(a0, 0x77)
        li a1, 1; li a0, 0x77
        TEST_ILLEGAL(14, csrrwi a0, cycle, 0)
        CHECK_EQ(a0, 0x77)
        li a1, 1; li a0, 0x77
        TEST_ILLEGAL(15, csrrsi a0, time, 1)
        CHECK_EQ(a0, 0x77)

/* ---- CYCLEH/TIMEH/INSTRETH exist only on RV32 ---- */
        TEST_ILLEGAL(16, csrr a0, cycleh)
        TEST_ILLEGAL(17, csrr a0, timeh)
        TEST_ILLEGAL(18, csrr a0, instreth)

/* ---- CSRRS/CSRRC with rs1 != x0 always write, even when the register holds zero, so they trap too ---- */
        li a2, 0; li a0, 0x77
        TEST_ILLEGAL(19, csrrs a0, instret, a2)
        CHECK_EQ(a0, 0x77)
        li a2, 0; li a0, 0x77
        TEST_ILLEGAL(20, csrrc a0, cycle, a2)
        CHECK_EQ(a0, 0x77)

        TEST_PASS
