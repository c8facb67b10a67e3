/*
 * Zicbom/Zicboz (64-byte cache blocks): CBO.ZERO zeroes exactly the aligned 64-byte block that
 * contains the address in rs1; CBO.CLEAN, CBO.FLUSH, CBO.INVAL leave memory contents as they are (M-mode).
 * cbo_buf is 4 blocks; fill_blocks writes dword i := (i + 1) * 0x0101010101010101, check_blocks compares
 * all 32 dwords with that pattern except blocks whose bit is set in a2 (expected zero).
 *
 * Part of tvisor's unprivileged-ISA test suite: built with tests/asm/env.h and tests/asm/link.ld and run
 * by tests/isa-unpriv.test.ts. Expected values follow the RISC-V unprivileged specification.
 */
#include "env.h"
        .option norvc
        TEST_NUM(2); call fill_blocks; la a1, cbo_buf + 64    /* block start */
        mv a5, a1; cbo.zero (a1); CHECK_REGS_EQ(a1, a5)
        li a2, 0b0010; call check_blocks; CHECK_EQ(a0, 0)
        TEST_NUM(3); call fill_blocks; la a1, cbo_buf + 64 + 37    /* inside the block */
        mv a5, a1; cbo.zero (a1); CHECK_REGS_EQ(a1, a5)
        li a2, 0b0010; call check_blocks; CHECK_EQ(a0, 0)
        TEST_NUM(4); call fill_blocks; la a1, cbo_buf + 127    /* last byte of the block */
        mv a5, a1; cbo.zero (a1); CHECK_REGS_EQ(a1, a5)
        li a2, 0b0010; call check_blocks; CHECK_EQ(a0, 0)
        TEST_NUM(5); call fill_blocks; la a1, cbo_buf + 128 + 8    /* next block */
        mv a5, a1; cbo.zero (a1); CHECK_REGS_EQ(a1, a5)
        li a2, 0b0100; call check_blocks; CHECK_EQ(a0, 0)
        TEST_NUM(6); call fill_blocks; la a1, cbo_buf + 191    /* last byte of block 2 */
        mv a5, a1; cbo.zero (a1); CHECK_REGS_EQ(a1, a5)
        li a2, 0b0100; call check_blocks; CHECK_EQ(a0, 0)
        TEST_NUM(7); call fill_blocks; la a1, cbo_buf + 64; cbo.zero (a1); addi a1, a1, 64; cbo.zero (a1)
        li a2, 0b0110; call check_blocks; CHECK_EQ(a0, 0)
        TEST_NUM(8); call fill_blocks; la a1, cbo_buf + 100; cbo.zero 0(a1); cbo.zero (a1)
        li a2, 0b0010; call check_blocks; CHECK_EQ(a0, 0)
        /* the check itself notices a nonzero block: store into a zeroed block and expect a mismatch */
        TEST_NUM(9); call fill_blocks; la a1, cbo_buf + 64; cbo.zero (a1); li a3, 1; sd a3, 56(a1)
        li a2, 0b0010; call check_blocks; CHECK_EQ(a0, 16)
        TEST_NUM(10); call fill_blocks; la a1, cbo_buf + 64; mv a5, a1; cbo.clean (a1); CHECK_REGS_EQ(a1, a5)
        li a2, 0; call check_blocks; CHECK_EQ(a0, 0)
        TEST_NUM(11); call fill_blocks; la a1, cbo_buf + 77; mv a5, a1; cbo.clean (a1); CHECK_REGS_EQ(a1, a5)
        li a2, 0; call check_blocks; CHECK_EQ(a0, 0)
        TEST_NUM(12); call fill_blocks; la a1, cbo_buf + 191; mv a5, a1; cbo.clean (a1); CHECK_REGS_EQ(a1, a5)
        li a2, 0; call check_blocks; CHECK_EQ(a0, 0)
        TEST_NUM(13); call fill_blocks; la a1, cbo_buf + 64; mv a5, a1; cbo.flush (a1); CHECK_REGS_EQ(a1, a5)
        li a2, 0; call check_blocks; CHECK_EQ(a0, 0)
        TEST_NUM(14); call fill_blocks; la a1, cbo_buf + 77; mv a5, a1; cbo.flush (a1); CHECK_REGS_EQ(a1, a5)
        li a2, 0; call check_blocks; CHECK_EQ(a0, 0)
        TEST_NUM(15); call fill_blocks; la a1, cbo_buf + 191; mv a5, a1; cbo.flush (a1); CHECK_REGS_EQ(a1, a5)
        li a2, 0; call check_blocks; CHECK_EQ(a0, 0)
        TEST_NUM(16); call fill_blocks; la a1, cbo_buf + 64; mv a5, a1; cbo.inval (a1); CHECK_REGS_EQ(a1, a5)
        li a2, 0; call check_blocks; CHECK_EQ(a0, 0)
        TEST_NUM(17); call fill_blocks; la a1, cbo_buf + 77; mv a5, a1; cbo.inval (a1); CHECK_REGS_EQ(a1, a5)
        li a2, 0; call check_blocks; CHECK_EQ(a0, 0)
        TEST_NUM(18); call fill_blocks; la a1, cbo_buf + 191; mv a5, a1; cbo.inval (a1); CHECK_REGS_EQ(a1, a5)
        li a2, 0; call check_blocks; CHECK_EQ(a0, 0)
        /* stores right before a CBO are kept (the machine has no caches, so even CBO.INVAL loses nothing) */
        TEST_NUM(19); call fill_blocks; la a1, cbo_buf + 64
        li a3, 0x1234; sd a3, 8(a1); cbo.flush (a1); ld a4, 8(a1); CHECK_EQ(a4, 0x1234)
        li a3, 0x5678; sd a3, 16(a1); cbo.clean (a1); ld a4, 16(a1); CHECK_EQ(a4, 0x5678)
        li a3, 0x9abc; sd a3, 24(a1); cbo.inval (a1); ld a4, 24(a1); CHECK_EQ(a4, 0x9abc)

        TEST_PASS

/* fill_blocks: cbo_buf dword i := (i + 1) * 0x0101010101010101, i = 0..31. Clobbers t0-t4. */
fill_blocks:
        la t0, cbo_buf; li t1, 0; li t2, 32; li t3, 0x0101010101010101
1:      addi t1, t1, 1; mul t4, t1, t3; sd t4, 0(t0); addi t0, t0, 8; bne t1, t2, 1b
        ret

/* check_blocks: a2 = bit mask of blocks expected to be zero. Returns a0 = 0 when every dword matches,
   otherwise 1 + the index of the first dword that does not. Clobbers t0-t4, a3-a4. */
check_blocks:
        la t0, cbo_buf; li t1, 0; li t3, 0x0101010101010101
1:      ld t4, 0(t0)
        srli a3, t1, 3; srl a3, a2, a3; andi a3, a3, 1
        addi t1, t1, 1; mul a4, t1, t3
        beqz a3, 2f; li a4, 0
2:      bne t4, a4, 3f
        addi t0, t0, 8; li a3, 32; bne t1, a3, 1b
        li a0, 0; ret
3:      mv a0, t1; ret

        .data
        .balign 64
cbo_buf: .fill 32, 8, 0
