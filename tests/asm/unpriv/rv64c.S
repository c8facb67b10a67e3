/*
 * C extension (RV64C): every RV64C instruction, written with explicit c. mnemonics, plus
 * HINT encodings (must execute as no-ops) and a 32-bit instruction straddling a page boundary.
 *
 * Part of tvisor's unprivileged-ISA test suite: built with tests/asm/env.h and tests/asm/link.ld and run
 * by tests/isa-unpriv.test.ts. Expected values follow the RISC-V unprivileged specification.
 */
#include "env.h"
        .option rvc

/* ---- C.ADDI4SPN (rd' = sp + nzuimm, multiple of 4 up to 1020) ---- */
        TEST_NUM(2); c.addi4spn a0, sp, 4; addi a1, sp, 4; CHECK_REGS_EQ(a0, a1)
        TEST_NUM(3); c.addi4spn s0, sp, 1020; addi a1, sp, 1020; CHECK_REGS_EQ(s0, a1)
        TEST_NUM(4); c.addi4spn a5, sp, 256; addi a1, sp, 256; CHECK_REGS_EQ(a5, a1)

/* ---- C.LD / C.SD / C.LW / C.SW (rs1' + zero-extended scaled offset) ---- */
        TEST_NUM(5); la s1, cdat; c.ld a0, 0(s1); CHECK_EQ(a0, 0x8000000000000001)
        TEST_NUM(6); la s1, cdat; c.ld a0, 8(s1); CHECK_EQ(a0, 0x0123456789abcdef)
        TEST_NUM(7); la s1, cdat; c.ld a0, 248(s1); CHECK_EQ(a0, 0xfedcba9876543210)
        TEST_NUM(8); la s1, cdat; c.lw a0, 0(s1); CHECK_EQ(a0, 1)
        TEST_NUM(9); la s1, cdat; c.lw a0, 4(s1); CHECK_EQ(a0, 0xffffffff80000000)
        TEST_NUM(10); la s1, cdat; c.lw a0, 12(s1); CHECK_EQ(a0, 0x01234567)
        TEST_NUM(11); la s1, cdat; c.lw a0, 124(s1); CHECK_EQ(a0, 0xffffffff8badf00d)
        TEST_NUM(12); la a4, cdat; c.lw a4, 8(a4); CHECK_EQ(a4, 0xffffffff89abcdef)
        TEST_NUM(13); la s1, cdat; li a5, 0x1122334455667788; c.sd a5, 16(s1); ld a0, 16(s1); CHECK_EQ(a0, 0x1122334455667788)
        c.sd a5, 240(s1); ld a0, 240(s1); CHECK_EQ(a0, 0x1122334455667788)
        TEST_NUM(14); la s1, cdat; li a5, 0xaaaaaaaa99999999; c.sw a5, 16(s1); ld a0, 16(s1); CHECK_EQ(a0, 0x1122334499999999)
        c.sw a5, 20(s1); ld a0, 16(s1); CHECK_EQ(a0, 0x9999999999999999)
        TEST_NUM(15); la s1, cdat; li a5, 0x7fffffff; c.sw a5, 120(s1); c.lw a0, 120(s1); CHECK_EQ(a0, 0x7fffffff)
        ld a0, 120(s1); CHECK_EQ(a0, 0x8badf00d7fffffff)

/* ---- C.ADDI / C.ADDIW / C.LI / C.LUI ---- */
        TEST_NUM(16); li a0, 10; c.addi a0, -32; CHECK_EQ(a0, -22)
        TEST_NUM(17); li a0, 10; c.addi a0, 31; CHECK_EQ(a0, 41)
        TEST_NUM(18); li a0, 0x7fffffffffffffff; c.addi a0, 1; CHECK_EQ(a0, 0x8000000000000000)
        TEST_NUM(19); li t4, 0xffffffff; c.addi t4, 1; CHECK_EQ(t4, 0x100000000)
        TEST_NUM(20); li a0, 0x7fffffff; c.addiw a0, 1; CHECK_EQ(a0, 0xffffffff80000000)
        TEST_NUM(21); li a0, 0x00000000ffffffff; c.addiw a0, 0; CHECK_EQ(a0, -1)
        TEST_NUM(22); li t3, 0x1234567800000010; c.addiw t3, -32; CHECK_EQ(t3, -16)
        TEST_NUM(23); li a0, 0xffffffff80000000; c.addiw a0, -1; CHECK_EQ(a0, 0x7fffffff)
        TEST_NUM(24); li a0, 5; c.li a0, -32; CHECK_EQ(a0, -32)
        TEST_NUM(25); li a0, 5; c.li a0, 31; CHECK_EQ(a0, 31)
        TEST_NUM(26); li t4, 5; c.li t4, 0; CHECK_EQ(t4, 0)
        TEST_NUM(27); li a0, -1; c.lui a0, 1; CHECK_EQ(a0, 0x1000)
        TEST_NUM(28); li a0, -1; c.lui a0, 31; CHECK_EQ(a0, 0x1f000)
        TEST_NUM(29); li a0, 0; c.lui a0, 0xfffe0; CHECK_EQ(a0, 0xfffffffffffe0000)
        TEST_NUM(30); li a0, 0; c.lui a0, 0xfffff; CHECK_EQ(a0, 0xfffffffffffff000)
        TEST_NUM(31); li t4, 0; c.lui t4, 0x10; CHECK_EQ(t4, 0x10000)

/* ---- C.ADDI16SP (sp += nzimm, multiple of 16 in [-512, 496]) ---- */
        TEST_NUM(32); mv a0, sp; c.addi16sp sp, -512; sub a1, a0, sp; CHECK_EQ(a1, 512)
        c.addi16sp sp, 496; sub a1, a0, sp; CHECK_EQ(a1, 16)
        c.addi16sp sp, 16; CHECK_REGS_EQ(a0, sp)

/* ---- C.SRLI / C.SRAI / C.ANDI (rd' only; 6-bit shift amounts) ---- */
        TEST_NUM(33); li a0, 0x8000000000000000; c.srli a0, 1; CHECK_EQ(a0, 0x4000000000000000)
        TEST_NUM(34); li a0, 0xffffffffffffffff; c.srli a0, 63; CHECK_EQ(a0, 0x0000000000000001)
        TEST_NUM(35); li a0, 0xfedcba9876543210; c.srli a0, 32; CHECK_EQ(a0, 0x00000000fedcba98)
        TEST_NUM(36); li a0, 0x8000000000000000; c.srai a0, 1; CHECK_EQ(a0, 0xc000000000000000)
        TEST_NUM(37); li a0, 0x8000000000000000; c.srai a0, 63; CHECK_EQ(a0, 0xffffffffffffffff)
        TEST_NUM(38); li a0, 0x8000000012345678; c.srai a0, 32; CHECK_EQ(a0, 0xffffffff80000000)
        TEST_NUM(39); li a0, 0x7000000000000000; c.srai a0, 4; CHECK_EQ(a0, 0x0700000000000000)
        TEST_NUM(40); li a0, 0xffffffffffffffff; c.andi a0, -32; CHECK_EQ(a0, 0xffffffffffffffe0)
        TEST_NUM(41); li a0, 0xffffffffffffffff; c.andi a0, 31; CHECK_EQ(a0, 0x000000000000001f)
        TEST_NUM(42); li a0, 0xffffffffffffffff; c.andi a0, 0; CHECK_EQ(a0, 0x0000000000000000)
        TEST_NUM(43); li a0, 0x0123456789abcdef; c.andi a0, -1; CHECK_EQ(a0, 0x0123456789abcdef)
        TEST_NUM(44); li s0, 0xff00; c.srli s0, 8; CHECK_EQ(s0, 0xff)
        TEST_NUM(45); li a5, -256; c.srai a5, 8; CHECK_EQ(a5, -1)

/* ---- C.SUB / C.XOR / C.OR / C.AND / C.SUBW / C.ADDW (rd', rs2') ---- */
        TEST_NUM(46); li a0, 0x0000000000000005; li a1, 0x0000000000000007; c.sub a0, a1; CHECK_EQ(a0, 0xfffffffffffffffe); CHECK_EQ(a1, 0x0000000000000007)
        TEST_NUM(47); li a0, 0x8000000000000000; li a1, 0x0000000000000001; c.sub a0, a1; CHECK_EQ(a0, 0x7fffffffffffffff); CHECK_EQ(a1, 0x0000000000000001)
        TEST_NUM(48); li a0, 0xff00ff00ff00ff00; li a1, 0x0ff00ff00ff00ff0; c.xor a0, a1; CHECK_EQ(a0, 0xf0f0f0f0f0f0f0f0); CHECK_EQ(a1, 0x0ff00ff00ff00ff0)
        TEST_NUM(49); li a0, 0xff00ff00ff00ff00; li a1, 0x0ff00ff00ff00ff0; c.or a0, a1; CHECK_EQ(a0, 0xfff0fff0fff0fff0); CHECK_EQ(a1, 0x0ff00ff00ff00ff0)
        TEST_NUM(50); li a0, 0xff00ff00ff00ff00; li a1, 0x0ff00ff00ff00ff0; c.and a0, a1; CHECK_EQ(a0, 0x0f000f000f000f00); CHECK_EQ(a1, 0x0ff00ff00ff00ff0)
        TEST_NUM(51); li a0, 0x0000000080000000; li a1, 0x0000000000000001; c.subw a0, a1; CHECK_EQ(a0, 0x000000007fffffff); CHECK_EQ(a1, 0x0000000000000001)
        TEST_NUM(52); li a0, 0x0000000000000000; li a1, 0x0000000000000001; c.subw a0, a1; CHECK_EQ(a0, 0xffffffffffffffff); CHECK_EQ(a1, 0x0000000000000001)
        TEST_NUM(53); li a0, 0x123456780000000a; li a1, 0x7fffffff00000003; c.subw a0, a1; CHECK_EQ(a0, 0x0000000000000007); CHECK_EQ(a1, 0x7fffffff00000003)
        TEST_NUM(54); li a0, 0x000000007fffffff; li a1, 0x0000000000000001; c.addw a0, a1; CHECK_EQ(a0, 0xffffffff80000000); CHECK_EQ(a1, 0x0000000000000001)
        TEST_NUM(55); li a0, 0x00000000ffffffff; li a1, 0x00000000ffffffff; c.addw a0, a1; CHECK_EQ(a0, 0xfffffffffffffffe); CHECK_EQ(a1, 0x00000000ffffffff)
        TEST_NUM(56); li a0, 0xabcdef0000000001; li a1, 0x1234567800000002; c.addw a0, a1; CHECK_EQ(a0, 0x0000000000000003); CHECK_EQ(a1, 0x1234567800000002)
        TEST_NUM(57); li s0, 100; li a5, 58; c.sub s0, a5; c.xor a5, s0; CHECK_EQ(s0, 42); CHECK_EQ(a5, 0x0000000000000010)
        TEST_NUM(58); li a3, 0x0f0f; c.and a3, a3; c.or a3, a3; CHECK_EQ(a3, 0x0f0f); c.xor a3, a3; CHECK_EQ(a3, 0)

/* ---- C.SLLI (any rd, 6-bit shift amount) ---- */
        TEST_NUM(59); li a0, 0x4000000000000001; c.slli a0, 1; CHECK_EQ(a0, 0x8000000000000002)
        TEST_NUM(60); li a0, 0x0000000000000003; c.slli a0, 63; CHECK_EQ(a0, 0x8000000000000000)
        TEST_NUM(61); li a0, 0x0123456789abcdef; c.slli a0, 32; CHECK_EQ(a0, 0x89abcdef00000000)
        TEST_NUM(62); li t4, 0x11; c.slli t4, 4; CHECK_EQ(t4, 0x110)

/* ---- C.J / C.BEQZ / C.BNEZ ---- */
        TEST_NUM(63); li a0, 0
        c.j 2f
1:      c.addi a0, 1
        c.j 3f
2:      c.addi a0, 2
        c.j 1b
3:      CHECK_EQ(a0, 3)
        TEST_NUM(64); li a0, 0
        c.j 1f
        .skip 2000          /* near the +-2 KiB reach of C.J */
1:      CHECK_EQ(a0, 0)
        TEST_NUM(65); li s1, 0x0000000000000000
        c.beqz s1, 2f
        FAIL_HERE
1:      c.j 3f
2:      c.beqz s1, 1b
        FAIL_HERE
3:
        TEST_NUM(66); li s1, 0x0000000000000000
        c.j 2f
1:      FAIL_HERE
2:      c.bnez s1, 1b
        c.bnez s1, 3f
        c.j 4f
3:      FAIL_HERE
4:
        TEST_NUM(67); li s1, 0x0000000000000001
        c.j 2f
1:      FAIL_HERE
2:      c.beqz s1, 1b
        c.beqz s1, 3f
        c.j 4f
3:      FAIL_HERE
4:
        TEST_NUM(68); li s1, 0x0000000000000001
        c.bnez s1, 2f
        FAIL_HERE
1:      c.j 3f
2:      c.bnez s1, 1b
        FAIL_HERE
3:
        TEST_NUM(69); li s1, 0xffffffffffffffff
        c.j 2f
1:      FAIL_HERE
2:      c.beqz s1, 1b
        c.beqz s1, 3f
        c.j 4f
3:      FAIL_HERE
4:
        TEST_NUM(70); li s1, 0xffffffffffffffff
        c.bnez s1, 2f
        FAIL_HERE
1:      c.j 3f
2:      c.bnez s1, 1b
        FAIL_HERE
3:
        TEST_NUM(71); li s1, 0x8000000000000000
        c.j 2f
1:      FAIL_HERE
2:      c.beqz s1, 1b
        c.beqz s1, 3f
        c.j 4f
3:      FAIL_HERE
4:
        TEST_NUM(72); li s1, 0x8000000000000000
        c.bnez s1, 2f
        FAIL_HERE
1:      c.j 3f
2:      c.bnez s1, 1b
        FAIL_HERE
3:
        TEST_NUM(73); li s1, 0x0000000100000000
        c.j 2f
1:      FAIL_HERE
2:      c.beqz s1, 1b
        c.beqz s1, 3f
        c.j 4f
3:      FAIL_HERE
4:
        TEST_NUM(74); li s1, 0x0000000100000000
        c.bnez s1, 2f
        FAIL_HERE
1:      c.j 3f
2:      c.bnez s1, 1b
        FAIL_HERE
3:
        TEST_NUM(75); li a0, 0; li a1, 5
1:      c.addi a0, 3
        c.addi a1, -1
        c.bnez a1, 1b
        CHECK_EQ(a0, 15)

/* ---- C.LDSP / C.LWSP / C.SDSP / C.SWSP (sp + zero-extended scaled offset) ---- */
        TEST_NUM(76); addi sp, sp, -512
        li a0, 0x8877665544332211; c.sdsp a0, 0(sp); c.sdsp a0, 504(sp)
        c.ldsp a1, 0(sp); CHECK_EQ(a1, 0x8877665544332211)
        c.ldsp t4, 504(sp); CHECK_EQ(t4, 0x8877665544332211)
        ld a1, 504(sp); CHECK_EQ(a1, 0x8877665544332211)
        addi sp, sp, 512
        TEST_NUM(77); addi sp, sp, -512
        li a0, -1; sd a0, 248(sp); li a0, 0x1234567880000001; c.swsp a0, 252(sp)
        ld a1, 248(sp); CHECK_EQ(a1, 0x80000001ffffffff)
        c.lwsp a1, 252(sp); CHECK_EQ(a1, 0xffffffff80000001)
        c.lwsp t3, 248(sp); CHECK_EQ(t3, -1)
        li a0, 0x7ffffff0; c.swsp a0, 0(sp); c.lwsp a2, 0(sp); CHECK_EQ(a2, 0x7ffffff0)
        addi sp, sp, 512

/* ---- C.JR / C.JALR (bit 0 of the target is cleared; C.JALR links pc + 2 in ra) ---- */
        TEST_NUM(78); la a1, 1f; li a0, 9
        c.jr a1
        li a0, 0
1:      CHECK_EQ(a0, 9)
        TEST_NUM(79); la a1, 1f; addi a1, a1, 1
        c.jr a1
        FAIL_HERE
1:      nop
        TEST_NUM(80); li ra, 0; la a1, 2f
1:      c.jalr a1
        FAIL_HERE
2:      la a2, 1b; addi a2, a2, 2; CHECK_REGS_EQ(ra, a2)
        TEST_NUM(81); la ra, 2f
1:      c.jalr ra
        FAIL_HERE
2:      la a2, 1b; addi a2, a2, 2; CHECK_REGS_EQ(ra, a2)
        TEST_NUM(82); li a0, 0
        la a1, 5f; c.jalr a1
        CHECK_EQ(a0, 0x66)
        c.j 6f
5:      c.li a0, 0
        addi a0, a0, 0x66
        c.jr ra
6:

/* ---- C.MV / C.ADD ---- */
        TEST_NUM(83); li a1, 0x0123456789abcdef; li a0, 0; c.mv a0, a1; CHECK_EQ(a0, 0x0123456789abcdef); CHECK_EQ(a1, 0x0123456789abcdef)
        TEST_NUM(84); c.mv t4, sp; CHECK_REGS_EQ(t4, sp)
        TEST_NUM(85); li a0, 0x7fffffffffffffff; li a1, 1; c.add a0, a1; CHECK_EQ(a0, 0x8000000000000000)
        TEST_NUM(86); li t4, 0xffffffff; li t3, 1; c.add t4, t3; CHECK_EQ(t4, 0x100000000)
        TEST_NUM(87); li a0, 21; c.add a0, a0; CHECK_EQ(a0, 42)

/* ---- Immediate-bit coverage: every bit of each compressed immediate/offset field, one at a time ---- */
        TEST_NUM(88)
        c.addi4spn a0, sp, 4; addi a1, sp, 4; CHECK_REGS_EQ(a0, a1)
        c.addi4spn a0, sp, 8; addi a1, sp, 8; CHECK_REGS_EQ(a0, a1)
        c.addi4spn a0, sp, 16; addi a1, sp, 16; CHECK_REGS_EQ(a0, a1)
        c.addi4spn a0, sp, 32; addi a1, sp, 32; CHECK_REGS_EQ(a0, a1)
        c.addi4spn a0, sp, 64; addi a1, sp, 64; CHECK_REGS_EQ(a0, a1)
        c.addi4spn a0, sp, 128; addi a1, sp, 128; CHECK_REGS_EQ(a0, a1)
        c.addi4spn a0, sp, 256; addi a1, sp, 256; CHECK_REGS_EQ(a0, a1)
        c.addi4spn a0, sp, 512; addi a1, sp, 512; CHECK_REGS_EQ(a0, a1)
        TEST_NUM(89); mv a0, sp
        c.addi16sp sp, 16; addi a1, a0, 16; CHECK_REGS_EQ(sp, a1); addi sp, a0, 0
        c.addi16sp sp, 32; addi a1, a0, 32; CHECK_REGS_EQ(sp, a1); addi sp, a0, 0
        c.addi16sp sp, 64; addi a1, a0, 64; CHECK_REGS_EQ(sp, a1); addi sp, a0, 0
        c.addi16sp sp, 128; addi a1, a0, 128; CHECK_REGS_EQ(sp, a1); addi sp, a0, 0
        c.addi16sp sp, 256; addi a1, a0, 256; CHECK_REGS_EQ(sp, a1); addi sp, a0, 0
        c.addi16sp sp, -512; addi a1, a0, -512; CHECK_REGS_EQ(sp, a1); addi sp, a0, 0
        TEST_NUM(90)
        li a0, 0x0000000000000000; c.li a0, 1; CHECK_EQ(a0, 0x0000000000000001)
        li a0, 0x0000000000000000; c.li a0, 2; CHECK_EQ(a0, 0x0000000000000002)
        li a0, 0x0000000000000000; c.li a0, 4; CHECK_EQ(a0, 0x0000000000000004)
        li a0, 0x0000000000000000; c.li a0, 8; CHECK_EQ(a0, 0x0000000000000008)
        li a0, 0x0000000000000000; c.li a0, 16; CHECK_EQ(a0, 0x0000000000000010)
        li a0, 0x0000000000000000; c.li a0, -32; CHECK_EQ(a0, 0xffffffffffffffe0)
        TEST_NUM(91)
        li a0, 0x0000000000001000; c.addi a0, 1; CHECK_EQ(a0, 0x0000000000001001)
        li a0, 0x0000000000001000; c.addi a0, 2; CHECK_EQ(a0, 0x0000000000001002)
        li a0, 0x0000000000001000; c.addi a0, 4; CHECK_EQ(a0, 0x0000000000001004)
        li a0, 0x0000000000001000; c.addi a0, 8; CHECK_EQ(a0, 0x0000000000001008)
        li a0, 0x0000000000001000; c.addi a0, 16; CHECK_EQ(a0, 0x0000000000001010)
        li a0, 0x0000000000001000; c.addi a0, -32; CHECK_EQ(a0, 0x0000000000000fe0)
        TEST_NUM(92)
        li a0, 0x0000000000001000; c.addiw a0, 1; CHECK_EQ(a0, 0x0000000000001001)
        li a0, 0x0000000000001000; c.addiw a0, 2; CHECK_EQ(a0, 0x0000000000001002)
        li a0, 0x0000000000001000; c.addiw a0, 4; CHECK_EQ(a0, 0x0000000000001004)
        li a0, 0x0000000000001000; c.addiw a0, 8; CHECK_EQ(a0, 0x0000000000001008)
        li a0, 0x0000000000001000; c.addiw a0, 16; CHECK_EQ(a0, 0x0000000000001010)
        li a0, 0x0000000000001000; c.addiw a0, -32; CHECK_EQ(a0, 0x0000000000000fe0)
        TEST_NUM(93)
        li a0, 0xffffffffffffffff; c.andi a0, 1; CHECK_EQ(a0, 0x0000000000000001)
        li a0, 0xffffffffffffffff; c.andi a0, 2; CHECK_EQ(a0, 0x0000000000000002)
        li a0, 0xffffffffffffffff; c.andi a0, 4; CHECK_EQ(a0, 0x0000000000000004)
        li a0, 0xffffffffffffffff; c.andi a0, 8; CHECK_EQ(a0, 0x0000000000000008)
        li a0, 0xffffffffffffffff; c.andi a0, 16; CHECK_EQ(a0, 0x0000000000000010)
        li a0, 0xffffffffffffffff; c.andi a0, -32; CHECK_EQ(a0, 0xffffffffffffffe0)
        TEST_NUM(94)
        li a0, -1; c.lui a0, 0x1; CHECK_EQ(a0, 0x0000000000001000)
        li a0, -1; c.lui a0, 0x2; CHECK_EQ(a0, 0x0000000000002000)
        li a0, -1; c.lui a0, 0x4; CHECK_EQ(a0, 0x0000000000004000)
        li a0, -1; c.lui a0, 0x8; CHECK_EQ(a0, 0x0000000000008000)
        li a0, -1; c.lui a0, 0x10; CHECK_EQ(a0, 0x0000000000010000)
        li a0, -1; c.lui a0, 0xfffe0; CHECK_EQ(a0, 0xfffffffffffe0000)
        TEST_NUM(95)
        li a0, 0x8000000000000003; c.slli a0, 1; CHECK_EQ(a0, 0x0000000000000006)
        li a0, 0x8000000000000003; c.slli a0, 2; CHECK_EQ(a0, 0x000000000000000c)
        li a0, 0x8000000000000003; c.slli a0, 4; CHECK_EQ(a0, 0x0000000000000030)
        li a0, 0x8000000000000003; c.slli a0, 8; CHECK_EQ(a0, 0x0000000000000300)
        li a0, 0x8000000000000003; c.slli a0, 16; CHECK_EQ(a0, 0x0000000000030000)
        li a0, 0x8000000000000003; c.slli a0, 32; CHECK_EQ(a0, 0x0000000300000000)
        TEST_NUM(96)
        li a0, 0x8000000000000001; c.srli a0, 1; CHECK_EQ(a0, 0x4000000000000000)
        li a0, 0x8000000000000001; c.srli a0, 2; CHECK_EQ(a0, 0x2000000000000000)
        li a0, 0x8000000000000001; c.srli a0, 4; CHECK_EQ(a0, 0x0800000000000000)
        li a0, 0x8000000000000001; c.srli a0, 8; CHECK_EQ(a0, 0x0080000000000000)
        li a0, 0x8000000000000001; c.srli a0, 16; CHECK_EQ(a0, 0x0000800000000000)
        li a0, 0x8000000000000001; c.srli a0, 32; CHECK_EQ(a0, 0x0000000080000000)
        TEST_NUM(97)
        li a0, 0x8000000000000001; c.srai a0, 1; CHECK_EQ(a0, 0xc000000000000000)
        li a0, 0x8000000000000001; c.srai a0, 2; CHECK_EQ(a0, 0xe000000000000000)
        li a0, 0x8000000000000001; c.srai a0, 4; CHECK_EQ(a0, 0xf800000000000000)
        li a0, 0x8000000000000001; c.srai a0, 8; CHECK_EQ(a0, 0xff80000000000000)
        li a0, 0x8000000000000001; c.srai a0, 16; CHECK_EQ(a0, 0xffff800000000000)
        li a0, 0x8000000000000001; c.srai a0, 32; CHECK_EQ(a0, 0xffffffff80000000)
        TEST_NUM(98); la s1, cdat2
        li a2, 0x9111111111111111; c.sd a2, 8(s1); ld a0, 8(s1); CHECK_REGS_EQ(a0, a2); c.ld a3, 8(s1); CHECK_REGS_EQ(a3, a2)
        li a2, 0xa222222222222222; c.sd a2, 16(s1); ld a0, 16(s1); CHECK_REGS_EQ(a0, a2); c.ld a3, 16(s1); CHECK_REGS_EQ(a3, a2)
        li a2, 0xb333333333333333; c.sd a2, 32(s1); ld a0, 32(s1); CHECK_REGS_EQ(a0, a2); c.ld a3, 32(s1); CHECK_REGS_EQ(a3, a2)
        li a2, 0xc444444444444444; c.sd a2, 64(s1); ld a0, 64(s1); CHECK_REGS_EQ(a0, a2); c.ld a3, 64(s1); CHECK_REGS_EQ(a3, a2)
        li a2, 0xd555555555555555; c.sd a2, 128(s1); ld a0, 128(s1); CHECK_REGS_EQ(a0, a2); c.ld a3, 128(s1); CHECK_REGS_EQ(a3, a2)
        TEST_NUM(99); la s1, cdat2
        li a2, 0xffffffff81111111; c.sw a2, 4(s1); lw a0, 4(s1); CHECK_REGS_EQ(a0, a2); c.lw a3, 4(s1); CHECK_REGS_EQ(a3, a2)
        li a2, 0xffffffff81111112; c.sw a2, 8(s1); lw a0, 8(s1); CHECK_REGS_EQ(a0, a2); c.lw a3, 8(s1); CHECK_REGS_EQ(a3, a2)
        li a2, 0xffffffff81111113; c.sw a2, 16(s1); lw a0, 16(s1); CHECK_REGS_EQ(a0, a2); c.lw a3, 16(s1); CHECK_REGS_EQ(a3, a2)
        li a2, 0xffffffff81111114; c.sw a2, 32(s1); lw a0, 32(s1); CHECK_REGS_EQ(a0, a2); c.lw a3, 32(s1); CHECK_REGS_EQ(a3, a2)
        li a2, 0xffffffff81111115; c.sw a2, 64(s1); lw a0, 64(s1); CHECK_REGS_EQ(a0, a2); c.lw a3, 64(s1); CHECK_REGS_EQ(a3, a2)
        TEST_NUM(100); addi sp, sp, -512
        li a2, 0x8303030303030303; c.sdsp a2, 8(sp); ld a0, 8(sp); CHECK_REGS_EQ(a0, a2); c.ldsp a3, 8(sp); CHECK_REGS_EQ(a3, a2)
        li a2, 0x8404040404040404; c.sdsp a2, 16(sp); ld a0, 16(sp); CHECK_REGS_EQ(a0, a2); c.ldsp a3, 16(sp); CHECK_REGS_EQ(a3, a2)
        li a2, 0x8505050505050505; c.sdsp a2, 32(sp); ld a0, 32(sp); CHECK_REGS_EQ(a0, a2); c.ldsp a3, 32(sp); CHECK_REGS_EQ(a3, a2)
        li a2, 0x8606060606060606; c.sdsp a2, 64(sp); ld a0, 64(sp); CHECK_REGS_EQ(a0, a2); c.ldsp a3, 64(sp); CHECK_REGS_EQ(a3, a2)
        li a2, 0x8707070707070707; c.sdsp a2, 128(sp); ld a0, 128(sp); CHECK_REGS_EQ(a0, a2); c.ldsp a3, 128(sp); CHECK_REGS_EQ(a3, a2)
        li a2, 0x8808080808080808; c.sdsp a2, 256(sp); ld a0, 256(sp); CHECK_REGS_EQ(a0, a2); c.ldsp a3, 256(sp); CHECK_REGS_EQ(a3, a2)
        addi sp, sp, 512
        TEST_NUM(101); addi sp, sp, -512
        li a2, 0xffffffff90000000; c.swsp a2, 4(sp); lw a0, 4(sp); CHECK_REGS_EQ(a0, a2); c.lwsp a3, 4(sp); CHECK_REGS_EQ(a3, a2)
        li a2, 0xffffffff90000001; c.swsp a2, 8(sp); lw a0, 8(sp); CHECK_REGS_EQ(a0, a2); c.lwsp a3, 8(sp); CHECK_REGS_EQ(a3, a2)
        li a2, 0xffffffff90000002; c.swsp a2, 16(sp); lw a0, 16(sp); CHECK_REGS_EQ(a0, a2); c.lwsp a3, 16(sp); CHECK_REGS_EQ(a3, a2)
        li a2, 0xffffffff90000003; c.swsp a2, 32(sp); lw a0, 32(sp); CHECK_REGS_EQ(a0, a2); c.lwsp a3, 32(sp); CHECK_REGS_EQ(a3, a2)
        li a2, 0xffffffff90000004; c.swsp a2, 64(sp); lw a0, 64(sp); CHECK_REGS_EQ(a0, a2); c.lwsp a3, 64(sp); CHECK_REGS_EQ(a3, a2)
        li a2, 0xffffffff90000005; c.swsp a2, 128(sp); lw a0, 128(sp); CHECK_REGS_EQ(a0, a2); c.lwsp a3, 128(sp); CHECK_REGS_EQ(a3, a2)
        addi sp, sp, 512

/* ---- C.J / C.BEQZ / C.BNEZ offsets: each offset bit alone, the negative extreme and 0x..aaa/-0x..556 patterns.
 * The gap is zero-filled (illegal), so a mis-decoded offset traps; the distance is re-checked at run time ---- */
        TEST_NUM(102); nop
c1:     c.j c2
c2:     la a3, c2; la a4, c1; sub a3, a3, a4; CHECK_EQ(a3, 2)
        TEST_NUM(103); nop
c3:     c.j c4
        .skip 2
c4:     la a3, c4; la a4, c3; sub a3, a3, a4; CHECK_EQ(a3, 4)
        TEST_NUM(104); nop
c5:     c.j c6
        .skip 6
c6:     la a3, c6; la a4, c5; sub a3, a3, a4; CHECK_EQ(a3, 8)
        TEST_NUM(105); nop
c7:     c.j c8
        .skip 14
c8:     la a3, c8; la a4, c7; sub a3, a3, a4; CHECK_EQ(a3, 16)
        TEST_NUM(106); nop
c9:     c.j c10
        .skip 30
c10:     la a3, c10; la a4, c9; sub a3, a3, a4; CHECK_EQ(a3, 32)
        TEST_NUM(107); nop
c11:     c.j c12
        .skip 62
c12:     la a3, c12; la a4, c11; sub a3, a3, a4; CHECK_EQ(a3, 64)
        TEST_NUM(108); nop
c13:     c.j c14
        .skip 126
c14:     la a3, c14; la a4, c13; sub a3, a3, a4; CHECK_EQ(a3, 128)
        TEST_NUM(109); nop
c15:     c.j c16
        .skip 254
c16:     la a3, c16; la a4, c15; sub a3, a3, a4; CHECK_EQ(a3, 256)
        TEST_NUM(110); nop
c17:     c.j c18
        .skip 510
c18:     la a3, c18; la a4, c17; sub a3, a3, a4; CHECK_EQ(a3, 512)
        TEST_NUM(111); nop
c19:     c.j c20
        .skip 1022
c20:     la a3, c20; la a4, c19; sub a3, a3, a4; CHECK_EQ(a3, 1024)
        TEST_NUM(112); nop
c21:     c.j c22
        .skip 680
c22:     la a3, c22; la a4, c21; sub a3, a3, a4; CHECK_EQ(a3, 682)
        TEST_NUM(113); nop
        .option push
        .option norvc
        j c23
c24:     j 1f
        .option pop
        .skip 2044
c23:     c.j c24
        .skip 2
1:      la a3, c23; la a4, c24; sub a3, a3, a4; CHECK_EQ(a3, 2048)
        TEST_NUM(114); nop
        .option push
        .option norvc
        j c25
c26:     j 1f
        .option pop
        .skip 1362
c25:     c.j c26
        .skip 2
1:      la a3, c25; la a4, c26; sub a3, a3, a4; CHECK_EQ(a3, 1366)
        TEST_NUM(115); li s1, 0
c27:     c.beqz s1, c28
c28:     la a3, c28; la a4, c27; sub a3, a3, a4; CHECK_EQ(a3, 2)
        TEST_NUM(116); li s1, 1
c29:     c.bnez s1, c30
        .skip 2
c30:     la a3, c30; la a4, c29; sub a3, a3, a4; CHECK_EQ(a3, 4)
        TEST_NUM(117); li s1, 0
c31:     c.beqz s1, c32
        .skip 6
c32:     la a3, c32; la a4, c31; sub a3, a3, a4; CHECK_EQ(a3, 8)
        TEST_NUM(118); li s1, 1
c33:     c.bnez s1, c34
        .skip 14
c34:     la a3, c34; la a4, c33; sub a3, a3, a4; CHECK_EQ(a3, 16)
        TEST_NUM(119); li s1, 0
c35:     c.beqz s1, c36
        .skip 30
c36:     la a3, c36; la a4, c35; sub a3, a3, a4; CHECK_EQ(a3, 32)
        TEST_NUM(120); li s1, 1
c37:     c.bnez s1, c38
        .skip 62
c38:     la a3, c38; la a4, c37; sub a3, a3, a4; CHECK_EQ(a3, 64)
        TEST_NUM(121); li s1, 0
c39:     c.beqz s1, c40
        .skip 126
c40:     la a3, c40; la a4, c39; sub a3, a3, a4; CHECK_EQ(a3, 128)
        TEST_NUM(122); li s1, 1
c41:     c.bnez s1, c42
        .skip 168
c42:     la a3, c42; la a4, c41; sub a3, a3, a4; CHECK_EQ(a3, 170)
        TEST_NUM(123); li s1, 0
        .option push
        .option norvc
        j c43
c44:     j 1f
        .option pop
        .skip 252
c43:     c.beqz s1, c44
        .skip 2
1:      la a3, c43; la a4, c44; sub a3, a3, a4; CHECK_EQ(a3, 256)
        TEST_NUM(124); li s1, 1
        .option push
        .option norvc
        j c45
c46:     j 1f
        .option pop
        .skip 82
c45:     c.bnez s1, c46
        .skip 2
1:      la a3, c45; la a4, c46; sub a3, a3, a4; CHECK_EQ(a3, 86)

/* ---- C.NOP and HINT encodings (C.NOP/C.ADDI/C.LI/C.LUI/C.MV/C.ADD/C.SLLI with rd = x0): no effect ---- */
        TEST_NUM(125); li a0, 0x1234; li a1, 0x5678
        c.nop
        .hword 0x0015               /* c.nop 5      (HINT) */
        .hword 0x4015               /* c.li x0, 5   (HINT) */
        .hword 0x6005               /* c.lui x0, 1  (HINT) */
        .hword 0x802e               /* c.mv x0, a1  (HINT) */
        .hword 0x902e               /* c.add x0, a1 (HINT) */
        .hword 0x0016               /* c.slli x0, 5 (HINT) */
        CHECK_EQ(a0, 0x1234); CHECK_EQ(a1, 0x5678); CHECK_EQ(x0, 0)

/* ---- C.EBREAK: breakpoint exception at the C.EBREAK ---- */
        TEST_TRAP_ANY_TVAL(126, CAUSE_BREAKPOINT, c.ebreak)

/* ---- Mixed 16/32-bit code: a 32-bit instruction at a 2-byte boundary that straddles a page ---- */
        TEST_NUM(127); li a0, 0
        j 1f
        .balign 4096
1:      .rept 2047
        c.nop
        .endr
        .option push
        .option norvc
2:      addi a0, a0, 0x123          /* bytes 4094..4097 of the page: crosses into the next page */
        .option pop
        CHECK_EQ(a0, 0x123)
        la a1, 2b; li a2, 0xfff; and a1, a1, a2; CHECK_EQ(a1, 0xffe)
        TEST_NUM(128); li a0, 0
        c.nop
        .option push
        .option norvc
        addi a0, a0, 1
        .option pop
        c.addi a0, 1
        .option push
        .option norvc
        addi a0, a0, 1
        .option pop
        CHECK_EQ(a0, 3)

        TEST_PASS

        .data
        .balign 8
cdat:   .dword 0x8000000000000001, 0x0123456789abcdef
        .fill 13, 8, 0
        .dword 0x8badf00d00000000
        .fill 15, 8, 0
        .dword 0xfedcba9876543210
cdat2:  .fill 32, 8, 0
