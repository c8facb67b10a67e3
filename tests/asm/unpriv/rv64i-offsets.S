/*
 * Immediate-field coverage for the B, J, I and S formats: branch and jump offsets, load/store
 * offsets and ALU immediates whose set bits alternate (0x...aaa / 0x...555 patterns) plus the extremes, so
 * that every immediate bit is exercised in its position. Unexecuted padding is zero (illegal) so a wrong
 * target traps and fails the test.
 *
 * Part of tvisor's unprivileged-ISA test suite: built with tests/asm/env.h and tests/asm/link.ld and run
 * by tests/isa-unpriv.test.ts. Expected values follow the RISC-V unprivileged specification.
 */
#include "env.h"
        .option norvc
        .option norelax

/* ---- Conditional branches: forward 0xaaa and 4094, backward -0x556 and -4096. Emitted as .word so that the
 * assembler cannot replace a branch near the end of its range by an inverted branch around a JAL; the
 * distance check after each target confirms the layout ---- */
        TEST_NUM(2); li a1, 0x0000000000000005; li a2, 0x0000000000000005
o1:     .word 0x2ac585e3        /* beq a1, a2, o2 */
        FAIL_HERE
        .skip 2730 - 12         /* the branch and FAIL_HERE take 12 bytes */
o2:     la a3, o2; la a4, o1; sub a3, a3, a4; CHECK_EQ(a3, 2730)   /* the layout gives the intended offset */
        TEST_NUM(3); li a1, 0x0000000000000005; li a2, 0x0000000000000005
o3:     .word 0x7ec58fe3        /* beq a1, a2, o4 */
        FAIL_HERE
        .skip 4094 - 12         /* the branch and FAIL_HERE take 12 bytes */
o4:     la a3, o4; la a4, o3; sub a3, a3, a4; CHECK_EQ(a3, 4094)   /* the layout gives the intended offset */
        TEST_NUM(4); li a1, 0x0000000000000005; li a2, 0x0000000000000005
        j o5
o6:     j 1f
        .skip 1366 - 4
o5:     .word 0xaac585e3        /* beq a1, a2, o6 */
        FAIL_HERE
1:      la a3, o5; la a4, o6; sub a3, a3, a4; CHECK_EQ(a3, 1366)
        TEST_NUM(5); li a1, 0x0000000000000005; li a2, 0x0000000000000005
        j o8
o9:     j 1f
        .skip 4096 - 4
o8:     .word 0x80c58063        /* beq a1, a2, o9 */
        FAIL_HERE
1:      la a3, o8; la a4, o9; sub a3, a3, a4; CHECK_EQ(a3, 4096)
        TEST_NUM(6); li a1, 0x0000000000000005; li a2, 0x0000000000000006
o11:     .word 0x2ac595e3        /* bne a1, a2, o12 */
        FAIL_HERE
        .skip 2730 - 12         /* the branch and FAIL_HERE take 12 bytes */
o12:     la a3, o12; la a4, o11; sub a3, a3, a4; CHECK_EQ(a3, 2730)   /* the layout gives the intended offset */
        TEST_NUM(7); li a1, 0x0000000000000005; li a2, 0x0000000000000006
o13:     .word 0x7ec59fe3        /* bne a1, a2, o14 */
        FAIL_HERE
        .skip 4094 - 12         /* the branch and FAIL_HERE take 12 bytes */
o14:     la a3, o14; la a4, o13; sub a3, a3, a4; CHECK_EQ(a3, 4094)   /* the layout gives the intended offset */
        TEST_NUM(8); li a1, 0x0000000000000005; li a2, 0x0000000000000006
        j o15
o16:     j 1f
        .skip 1366 - 4
o15:     .word 0xaac595e3        /* bne a1, a2, o16 */
        FAIL_HERE
1:      la a3, o15; la a4, o16; sub a3, a3, a4; CHECK_EQ(a3, 1366)
        TEST_NUM(9); li a1, 0x0000000000000005; li a2, 0x0000000000000006
        j o18
o19:     j 1f
        .skip 4096 - 4
o18:     .word 0x80c59063        /* bne a1, a2, o19 */
        FAIL_HERE
1:      la a3, o18; la a4, o19; sub a3, a3, a4; CHECK_EQ(a3, 4096)
        TEST_NUM(10); li a1, 0xffffffffffffffff; li a2, 0x0000000000000000
o21:     .word 0x2ac5c5e3        /* blt a1, a2, o22 */
        FAIL_HERE
        .skip 2730 - 12         /* the branch and FAIL_HERE take 12 bytes */
o22:     la a3, o22; la a4, o21; sub a3, a3, a4; CHECK_EQ(a3, 2730)   /* the layout gives the intended offset */
        TEST_NUM(11); li a1, 0xffffffffffffffff; li a2, 0x0000000000000000
o23:     .word 0x7ec5cfe3        /* blt a1, a2, o24 */
        FAIL_HERE
        .skip 4094 - 12         /* the branch and FAIL_HERE take 12 bytes */
o24:     la a3, o24; la a4, o23; sub a3, a3, a4; CHECK_EQ(a3, 4094)   /* the layout gives the intended offset */
        TEST_NUM(12); li a1, 0xffffffffffffffff; li a2, 0x0000000000000000
        j o25
o26:     j 1f
        .skip 1366 - 4
o25:     .word 0xaac5c5e3        /* blt a1, a2, o26 */
        FAIL_HERE
1:      la a3, o25; la a4, o26; sub a3, a3, a4; CHECK_EQ(a3, 1366)
        TEST_NUM(13); li a1, 0xffffffffffffffff; li a2, 0x0000000000000000
        j o28
o29:     j 1f
        .skip 4096 - 4
o28:     .word 0x80c5c063        /* blt a1, a2, o29 */
        FAIL_HERE
1:      la a3, o28; la a4, o29; sub a3, a3, a4; CHECK_EQ(a3, 4096)
        TEST_NUM(14); li a1, 0x0000000000000000; li a2, 0xffffffffffffffff
o31:     .word 0x2ac5d5e3        /* bge a1, a2, o32 */
        FAIL_HERE
        .skip 2730 - 12         /* the branch and FAIL_HERE take 12 bytes */
o32:     la a3, o32; la a4, o31; sub a3, a3, a4; CHECK_EQ(a3, 2730)   /* the layout gives the intended offset */
        TEST_NUM(15); li a1, 0x0000000000000000; li a2, 0xffffffffffffffff
o33:     .word 0x7ec5dfe3        /* bge a1, a2, o34 */
        FAIL_HERE
        .skip 4094 - 12         /* the branch and FAIL_HERE take 12 bytes */
o34:     la a3, o34; la a4, o33; sub a3, a3, a4; CHECK_EQ(a3, 4094)   /* the layout gives the intended offset */
        TEST_NUM(16); li a1, 0x0000000000000000; li a2, 0xffffffffffffffff
        j o35
o36:     j 1f
        .skip 1366 - 4
o35:     .word 0xaac5d5e3        /* bge a1, a2, o36 */
        FAIL_HERE
1:      la a3, o35; la a4, o36; sub a3, a3, a4; CHECK_EQ(a3, 1366)
        TEST_NUM(17); li a1, 0x0000000000000000; li a2, 0xffffffffffffffff
        j o38
o39:     j 1f
        .skip 4096 - 4
o38:     .word 0x80c5d063        /* bge a1, a2, o39 */
        FAIL_HERE
1:      la a3, o38; la a4, o39; sub a3, a3, a4; CHECK_EQ(a3, 4096)
        TEST_NUM(18); li a1, 0x0000000000000000; li a2, 0xffffffffffffffff
o41:     .word 0x2ac5e5e3        /* bltu a1, a2, o42 */
        FAIL_HERE
        .skip 2730 - 12         /* the branch and FAIL_HERE take 12 bytes */
o42:     la a3, o42; la a4, o41; sub a3, a3, a4; CHECK_EQ(a3, 2730)   /* the layout gives the intended offset */
        TEST_NUM(19); li a1, 0x0000000000000000; li a2, 0xffffffffffffffff
o43:     .word 0x7ec5efe3        /* bltu a1, a2, o44 */
        FAIL_HERE
        .skip 4094 - 12         /* the branch and FAIL_HERE take 12 bytes */
o44:     la a3, o44; la a4, o43; sub a3, a3, a4; CHECK_EQ(a3, 4094)   /* the layout gives the intended offset */
        TEST_NUM(20); li a1, 0x0000000000000000; li a2, 0xffffffffffffffff
        j o45
o46:     j 1f
        .skip 1366 - 4
o45:     .word 0xaac5e5e3        /* bltu a1, a2, o46 */
        FAIL_HERE
1:      la a3, o45; la a4, o46; sub a3, a3, a4; CHECK_EQ(a3, 1366)
        TEST_NUM(21); li a1, 0x0000000000000000; li a2, 0xffffffffffffffff
        j o48
o49:     j 1f
        .skip 4096 - 4
o48:     .word 0x80c5e063        /* bltu a1, a2, o49 */
        FAIL_HERE
1:      la a3, o48; la a4, o49; sub a3, a3, a4; CHECK_EQ(a3, 4096)
        TEST_NUM(22); li a1, 0xffffffffffffffff; li a2, 0x0000000000000000
o51:     .word 0x2ac5f5e3        /* bgeu a1, a2, o52 */
        FAIL_HERE
        .skip 2730 - 12         /* the branch and FAIL_HERE take 12 bytes */
o52:     la a3, o52; la a4, o51; sub a3, a3, a4; CHECK_EQ(a3, 2730)   /* the layout gives the intended offset */
        TEST_NUM(23); li a1, 0xffffffffffffffff; li a2, 0x0000000000000000
o53:     .word 0x7ec5ffe3        /* bgeu a1, a2, o54 */
        FAIL_HERE
        .skip 4094 - 12         /* the branch and FAIL_HERE take 12 bytes */
o54:     la a3, o54; la a4, o53; sub a3, a3, a4; CHECK_EQ(a3, 4094)   /* the layout gives the intended offset */
        TEST_NUM(24); li a1, 0xffffffffffffffff; li a2, 0x0000000000000000
        j o55
o56:     j 1f
        .skip 1366 - 4
o55:     .word 0xaac5f5e3        /* bgeu a1, a2, o56 */
        FAIL_HERE
1:      la a3, o55; la a4, o56; sub a3, a3, a4; CHECK_EQ(a3, 1366)
        TEST_NUM(25); li a1, 0xffffffffffffffff; li a2, 0x0000000000000000
        j o58
o59:     j 1f
        .skip 4096 - 4
o58:     .word 0x80c5f063        /* bgeu a1, a2, o59 */
        FAIL_HERE
1:      la a3, o58; la a4, o59; sub a3, a3, a4; CHECK_EQ(a3, 4096)

/* ---- JAL: forward 0xaaaaa (about 700 KiB), backward -0x55556; links checked ---- */
        TEST_NUM(26); li a0, 0
o61:     jal a0, o62
        FAIL_HERE
        .skip 0xaaaaa - 12
o62:     la a3, o62; la a4, o61; sub a3, a3, a4; CHECK_EQ(a3, 0xaaaaa)
        la a1, o61; addi a1, a1, 4; CHECK_REGS_EQ(a0, a1)
        TEST_NUM(27); li a0, 0
        j o63
o64:     j 1f
        .skip 0x55556 - 4
o63:     jal a0, o64
        FAIL_HERE
1:      la a3, o63; la a4, o64; sub a3, a3, a4; CHECK_EQ(a3, 0x55556)
        la a1, o63; addi a1, a1, 4; CHECK_REGS_EQ(a0, a1)

/* ---- JALR immediate bits: 0x555 and -0x556 ---- */
        TEST_NUM(28); la a1, 2f - (1364); li a0, 0
1:      jalr a0, 1365(a1)
        FAIL_HERE
2:      la a2, 1b; addi a2, a2, 4; CHECK_REGS_EQ(a0, a2)
        TEST_NUM(29); la a1, 2f - (-1366); li a0, 0
1:      jalr a0, -1366(a1)
        FAIL_HERE
2:      la a2, 1b; addi a2, a2, 4; CHECK_REGS_EQ(a0, a2)

/* ---- Loads and stores with offsets 0x555 / -0x556 (and 0x554 / -0x558 for wider accesses) ---- */
        TEST_NUM(30); la a1, omid; li a2, 0x8192a3b4c5d6e2ad; sb a2, 1365(a1); lb a0, 1365(a1); CHECK_EQ(a0, 0xffffffffffffffad)
        addi a3, a1, 1365; lb a0, 0(a3); CHECK_EQ(a0, 0xffffffffffffffad)
        TEST_NUM(31); la a1, omid; li a2, 0x8192a3b4c5d61d52; sb a2, -1366(a1); lb a0, -1366(a1); CHECK_EQ(a0, 0x0000000000000052)
        addi a3, a1, -1366; lb a0, 0(a3); CHECK_EQ(a0, 0x0000000000000052)
        TEST_NUM(32); la a1, omid; li a2, 0x8192a3b4c5d6e2ac; sh a2, 1364(a1); lh a0, 1364(a1); CHECK_EQ(a0, 0xffffffffffffe2ac)
        addi a3, a1, 1364; lh a0, 0(a3); CHECK_EQ(a0, 0xffffffffffffe2ac)
        TEST_NUM(33); la a1, omid; li a2, 0x8192a3b4c5d61d52; sh a2, -1366(a1); lh a0, -1366(a1); CHECK_EQ(a0, 0x0000000000001d52)
        addi a3, a1, -1366; lh a0, 0(a3); CHECK_EQ(a0, 0x0000000000001d52)
        TEST_NUM(34); la a1, omid; li a2, 0x8192a3b4c5d6e2ac; sw a2, 1364(a1); lw a0, 1364(a1); CHECK_EQ(a0, 0xffffffffc5d6e2ac)
        addi a3, a1, 1364; lw a0, 0(a3); CHECK_EQ(a0, 0xffffffffc5d6e2ac)
        TEST_NUM(35); la a1, omid; li a2, 0x8192a3b4c5d61d50; sw a2, -1368(a1); lw a0, -1368(a1); CHECK_EQ(a0, 0xffffffffc5d61d50)
        addi a3, a1, -1368; lw a0, 0(a3); CHECK_EQ(a0, 0xffffffffc5d61d50)
        TEST_NUM(36); la a1, omid; li a2, 0x8192a3b4c5d6e2a8; sd a2, 1360(a1); ld a0, 1360(a1); CHECK_EQ(a0, 0x8192a3b4c5d6e2a8)
        addi a3, a1, 1360; ld a0, 0(a3); CHECK_EQ(a0, 0x8192a3b4c5d6e2a8)
        TEST_NUM(37); la a1, omid; li a2, 0x8192a3b4c5d61d50; sd a2, -1368(a1); ld a0, -1368(a1); CHECK_EQ(a0, 0x8192a3b4c5d61d50)
        addi a3, a1, -1368; ld a0, 0(a3); CHECK_EQ(a0, 0x8192a3b4c5d61d50)

/* ---- I-type ALU immediates 0x555 / -0x556 and U-type 0x55555 / 0xaaaaa ---- */
        TEST_IMM_OP(38, addi, 0x0f0f0f0f0f0f1464, 0x0f0f0f0f0f0f0f0f, 1365)
        TEST_IMM_OP(39, addi, 0x0f0f0f0f0f0f09b9, 0x0f0f0f0f0f0f0f0f, -1366)
        TEST_IMM_OP(40, xori, 0x0f0f0f0f0f0f0a5a, 0x0f0f0f0f0f0f0f0f, 1365)
        TEST_IMM_OP(41, xori, 0xf0f0f0f0f0f0f5a5, 0x0f0f0f0f0f0f0f0f, -1366)
        TEST_IMM_OP(42, ori, 0x0f0f0f0f0f0f0f5f, 0x0f0f0f0f0f0f0f0f, 1365)
        TEST_IMM_OP(43, ori, 0xffffffffffffffaf, 0x0f0f0f0f0f0f0f0f, -1366)
        TEST_IMM_OP(44, andi, 0x0000000000000505, 0x0f0f0f0f0f0f0f0f, 1365)
        TEST_IMM_OP(45, andi, 0x0f0f0f0f0f0f0a0a, 0x0f0f0f0f0f0f0f0f, -1366)
        TEST_IMM_OP(46, addiw, 0x000000000f0f1464, 0x0f0f0f0f0f0f0f0f, 1365)
        TEST_IMM_OP(47, addiw, 0x000000000f0f09b9, 0x0f0f0f0f0f0f0f0f, -1366)
        TEST_IMM_OP(48, slti, 0x0000000000000000, 0x0000000000000555, 1365)
        TEST_IMM_OP(49, slti, 0x0000000000000001, 0xfffffffffffffaa9, -1366)
        TEST_IMM_OP(50, sltiu, 0x0000000000000000, 0x0000000000000555, 1365)
        TEST_IMM_OP(51, sltiu, 0x0000000000000001, 0xfffffffffffffaa9, -1366)
        TEST_CASE(52, a0, 0x0000000055555000, lui a0, 0x55555)
        TEST_CASE(53, a0, 0x0000000055555000, 1: auipc a0, 0x55555; la a1, 1b; sub a0, a0, a1)
        TEST_CASE(54, a0, 0xffffffffaaaaa000, lui a0, 0xaaaaa)
        TEST_CASE(55, a0, 0xffffffffaaaaa000, 1: auipc a0, 0xaaaaa; la a1, 1b; sub a0, a0, a1)

        TEST_PASS

        .data
        .balign 8
        .skip 2048
omid:   .skip 2048
