/*
 * RV64I loads and stores (naturally aligned): LB, LBU, LH, LHU, LW, LWU, LD, SB, SH, SW, SD.
 * Loads sign- or zero-extend; stores write exactly their width; 12-bit signed offsets.
 *
 * Part of tvisor's unprivileged-ISA test suite: built with tests/asm/env.h and tests/asm/link.ld and run
 * by tests/isa-unpriv.test.ts. Expected values follow the RISC-V unprivileged specification.
 */
#include "env.h"
        .option norvc

/* ---- LB ---- */
        TEST_LD(2, lb, 0xffffffffffffff80, 16, ld_data)
        TEST_LD(3, lb, 0xffffffffffffff80, 17, ld_data)
        TEST_LD(4, lb, 0x0000000000000000, 18, ld_data)
        TEST_LD(5, lb, 0xffffffffffffff80, 19, ld_data)
        TEST_LD(6, lb, 0x0000000000000000, 20, ld_data)
        TEST_LD(7, lb, 0x0000000000000000, 21, ld_data)
        TEST_LD(8, lb, 0x0000000000000000, 22, ld_data)
        TEST_LD(9, lb, 0xffffffffffffff80, 23, ld_data)
        TEST_LD(10, lb, 0x000000000000007f, 24, ld_data)
        TEST_LD(11, lb, 0x000000000000007f, 25, ld_data)
        TEST_LD(12, lb, 0xffffffffffffffff, 26, ld_data)
        TEST_LD(13, lb, 0x000000000000007f, 27, ld_data)
        TEST_LD(14, lb, 0xffffffffffffffff, 28, ld_data)
        TEST_LD(15, lb, 0xffffffffffffffff, 29, ld_data)
        TEST_LD(16, lb, 0xffffffffffffffff, 30, ld_data)
        TEST_LD(17, lb, 0x000000000000007f, 31, ld_data)
        TEST_LD(18, lb, 0x0000000000000000, -9, ld_data_end)
        TEST_LD(19, lb, 0xffffffffffffffff, -1, ld_data_end)
        TEST_CASE(20, a1, 0xffffffffffffff80, la a1, ld_data; lb a1, 16(a1))
        TEST_CASE(21, x0, 0, la a1, ld_data; lb x0, 8(a1))

/* ---- LBU ---- */
        TEST_LD(22, lbu, 0x0000000000000080, 16, ld_data)
        TEST_LD(23, lbu, 0x0000000000000080, 17, ld_data)
        TEST_LD(24, lbu, 0x0000000000000000, 18, ld_data)
        TEST_LD(25, lbu, 0x0000000000000080, 19, ld_data)
        TEST_LD(26, lbu, 0x0000000000000000, 20, ld_data)
        TEST_LD(27, lbu, 0x0000000000000000, 21, ld_data)
        TEST_LD(28, lbu, 0x0000000000000000, 22, ld_data)
        TEST_LD(29, lbu, 0x0000000000000080, 23, ld_data)
        TEST_LD(30, lbu, 0x000000000000007f, 24, ld_data)
        TEST_LD(31, lbu, 0x000000000000007f, 25, ld_data)
        TEST_LD(32, lbu, 0x00000000000000ff, 26, ld_data)
        TEST_LD(33, lbu, 0x000000000000007f, 27, ld_data)
        TEST_LD(34, lbu, 0x00000000000000ff, 28, ld_data)
        TEST_LD(35, lbu, 0x00000000000000ff, 29, ld_data)
        TEST_LD(36, lbu, 0x00000000000000ff, 30, ld_data)
        TEST_LD(37, lbu, 0x000000000000007f, 31, ld_data)
        TEST_LD(38, lbu, 0x0000000000000000, -9, ld_data_end)
        TEST_LD(39, lbu, 0x00000000000000ff, -1, ld_data_end)
        TEST_CASE(40, a1, 0x0000000000000080, la a1, ld_data; lbu a1, 16(a1))
        TEST_CASE(41, x0, 0, la a1, ld_data; lbu x0, 8(a1))

/* ---- LH ---- */
        TEST_LD(42, lh, 0xffffffffffff8080, 16, ld_data)
        TEST_LD(43, lh, 0xffffffffffff8000, 18, ld_data)
        TEST_LD(44, lh, 0x0000000000000000, 20, ld_data)
        TEST_LD(45, lh, 0xffffffffffff8000, 22, ld_data)
        TEST_LD(46, lh, 0x0000000000007f7f, 24, ld_data)
        TEST_LD(47, lh, 0x0000000000007fff, 26, ld_data)
        TEST_LD(48, lh, 0xffffffffffffffff, 28, ld_data)
        TEST_LD(49, lh, 0x0000000000007fff, 30, ld_data)
        TEST_LD(50, lh, 0x00000000000000ff, -10, ld_data_end)
        TEST_LD(51, lh, 0xffffffffffffff00, -2, ld_data_end)
        TEST_CASE(52, a1, 0xffffffffffff8080, la a1, ld_data; lh a1, 16(a1))
        TEST_CASE(53, x0, 0, la a1, ld_data; lh x0, 8(a1))

/* ---- LHU ---- */
        TEST_LD(54, lhu, 0x0000000000008080, 16, ld_data)
        TEST_LD(55, lhu, 0x0000000000008000, 18, ld_data)
        TEST_LD(56, lhu, 0x0000000000000000, 20, ld_data)
        TEST_LD(57, lhu, 0x0000000000008000, 22, ld_data)
        TEST_LD(58, lhu, 0x0000000000007f7f, 24, ld_data)
        TEST_LD(59, lhu, 0x0000000000007fff, 26, ld_data)
        TEST_LD(60, lhu, 0x000000000000ffff, 28, ld_data)
        TEST_LD(61, lhu, 0x0000000000007fff, 30, ld_data)
        TEST_LD(62, lhu, 0x00000000000000ff, -10, ld_data_end)
        TEST_LD(63, lhu, 0x000000000000ff00, -2, ld_data_end)
        TEST_CASE(64, a1, 0x0000000000008080, la a1, ld_data; lhu a1, 16(a1))
        TEST_CASE(65, x0, 0, la a1, ld_data; lhu x0, 8(a1))

/* ---- LW ---- */
        TEST_LD(66, lw, 0xffffffff89abcdef, 0, ld_data)
        TEST_LD(67, lw, 0x0000000001234567, 4, ld_data)
        TEST_LD(68, lw, 0x0000000076543210, 8, ld_data)
        TEST_LD(69, lw, 0xfffffffffedcba98, 12, ld_data)
        TEST_LD(70, lw, 0xffffffff80008080, 16, ld_data)
        TEST_LD(71, lw, 0xffffffff80000000, 20, ld_data)
        TEST_LD(72, lw, 0x000000007fff7f7f, 24, ld_data)
        TEST_LD(73, lw, 0x000000007fffffff, 28, ld_data)
        TEST_LD(74, lw, 0x0000000000ff00ff, -12, ld_data_end)
        TEST_LD(75, lw, 0xffffffffff00ff00, -4, ld_data_end)
        TEST_CASE(76, a1, 0xffffffff80008080, la a1, ld_data; lw a1, 16(a1))
        TEST_CASE(77, x0, 0, la a1, ld_data; lw x0, 8(a1))

/* ---- LWU ---- */
        TEST_LD(78, lwu, 0x0000000089abcdef, 0, ld_data)
        TEST_LD(79, lwu, 0x0000000001234567, 4, ld_data)
        TEST_LD(80, lwu, 0x0000000076543210, 8, ld_data)
        TEST_LD(81, lwu, 0x00000000fedcba98, 12, ld_data)
        TEST_LD(82, lwu, 0x0000000080008080, 16, ld_data)
        TEST_LD(83, lwu, 0x0000000080000000, 20, ld_data)
        TEST_LD(84, lwu, 0x000000007fff7f7f, 24, ld_data)
        TEST_LD(85, lwu, 0x000000007fffffff, 28, ld_data)
        TEST_LD(86, lwu, 0x0000000000ff00ff, -12, ld_data_end)
        TEST_LD(87, lwu, 0x00000000ff00ff00, -4, ld_data_end)
        TEST_CASE(88, a1, 0x0000000080008080, la a1, ld_data; lwu a1, 16(a1))
        TEST_CASE(89, x0, 0, la a1, ld_data; lwu x0, 8(a1))

/* ---- LD ---- */
        TEST_LD(90, ld, 0x0123456789abcdef, 0, ld_data)
        TEST_LD(91, ld, 0xfedcba9876543210, 8, ld_data)
        TEST_LD(92, ld, 0x8000000080008080, 16, ld_data)
        TEST_LD(93, ld, 0x7fffffff7fff7f7f, 24, ld_data)
        TEST_LD(94, ld, 0x00ff00ff00ff00ff, -16, ld_data_end)
        TEST_LD(95, ld, 0xff00ff00ff00ff00, -8, ld_data_end)
        TEST_CASE(96, a1, 0x8000000080008080, la a1, ld_data; ld a1, 16(a1))
        TEST_CASE(97, x0, 0, la a1, ld_data; ld x0, 8(a1))

/* ---- Largest offsets (-2048, +2047) ---- */
        TEST_LD(98, lb, 0xffffffffffffff88, -2048, big_mid)
        TEST_LD(99, lb, 0xffffffffffffff88, 2047, big_mid)
        TEST_LD(100, lbu, 0x0000000000000088, -2048, big_mid)
        TEST_LD(101, lbu, 0x0000000000000088, 2047, big_mid)
        TEST_LD(102, lh, 0x0000000000007788, -2048, big_mid)
        TEST_LD(103, lh, 0xffffffffffff8877, 2046, big_mid)
        TEST_LD(104, lhu, 0x0000000000007788, -2048, big_mid)
        TEST_LD(105, lhu, 0x0000000000008877, 2046, big_mid)
        TEST_LD(106, lw, 0x0000000055667788, -2048, big_mid)
        TEST_LD(107, lw, 0xffffffff88776655, 2044, big_mid)
        TEST_LD(108, lwu, 0x0000000055667788, -2048, big_mid)
        TEST_LD(109, lwu, 0x0000000088776655, 2044, big_mid)
        TEST_LD(110, ld, 0x1122334455667788, -2048, big_mid)
        TEST_LD(111, ld, 0x8877665544332211, 2040, big_mid)
        TEST_LD(112, lb, 0xffffffffffffff88, 2047, big_mid)

/* ---- Stores: each writes only its width; checked by reloading and by reading whole doublewords ---- */
        TEST_NUM(113); la a1, st_data; li a2, 0x123456789abcdeef; sb a2, 0(a1)
        lb a0, 0(a1); CHECK_EQ(a0, 0xffffffffffffffef)
        lbu a0, 0(a1); CHECK_EQ(a0, 0x00000000000000ef)
        la a3, st_data; ld a0, 0(a3); CHECK_EQ(a0, 0xaaaaaaaaaaaaaaef)
        TEST_NUM(114); la a1, st_data; li a2, 0x0000000000000080; sb a2, 1(a1)
        lb a0, 1(a1); CHECK_EQ(a0, 0xffffffffffffff80)
        lbu a0, 1(a1); CHECK_EQ(a0, 0x0000000000000080)
        la a3, st_data; ld a0, 0(a3); CHECK_EQ(a0, 0xaaaaaaaaaaaa80ef)
        TEST_NUM(115); la a1, st_data; li a2, 0x000000000000007f; sb a2, 2(a1)
        lb a0, 2(a1); CHECK_EQ(a0, 0x000000000000007f)
        lbu a0, 2(a1); CHECK_EQ(a0, 0x000000000000007f)
        la a3, st_data; ld a0, 0(a3); CHECK_EQ(a0, 0xaaaaaaaaaa7f80ef)
        TEST_NUM(116); la a1, st_data; li a2, 0x0000000000000000; sb a2, 3(a1)
        lb a0, 3(a1); CHECK_EQ(a0, 0x0000000000000000)
        lbu a0, 3(a1); CHECK_EQ(a0, 0x0000000000000000)
        la a3, st_data; ld a0, 0(a3); CHECK_EQ(a0, 0xaaaaaaaa007f80ef)
        TEST_NUM(117); la a1, st_data+48; li a2, 0x5a5a5a5a5a5a5a5b; sb a2, -1(a1)
        lb a0, -1(a1); CHECK_EQ(a0, 0x000000000000005b)
        lbu a0, -1(a1); CHECK_EQ(a0, 0x000000000000005b)
        la a3, st_data; ld a0, 40(a3); CHECK_EQ(a0, 0x5baaaaaaaaaaaaaa)
        TEST_NUM(118); la a1, st_data+32; li a2, 0xfedcba9876543281; sb a2, 0(a1)
        lb a0, 0(a1); CHECK_EQ(a0, 0xffffffffffffff81)
        lbu a0, 0(a1); CHECK_EQ(a0, 0x0000000000000081)
        la a3, st_data; ld a0, 32(a3); CHECK_EQ(a0, 0xaaaaaaaaaaaaaa81)
        TEST_NUM(119); la a1, st_data; li a2, 0x123456789abc8001; sh a2, 0(a1)
        lh a0, 0(a1); CHECK_EQ(a0, 0xffffffffffff8001)
        lhu a0, 0(a1); CHECK_EQ(a0, 0x0000000000008001)
        la a3, st_data; ld a0, 0(a3); CHECK_EQ(a0, 0xaaaaaaaa007f8001)
        TEST_NUM(120); la a1, st_data; li a2, 0x0000000000007ffe; sh a2, 2(a1)
        lh a0, 2(a1); CHECK_EQ(a0, 0x0000000000007ffe)
        lhu a0, 2(a1); CHECK_EQ(a0, 0x0000000000007ffe)
        la a3, st_data; ld a0, 0(a3); CHECK_EQ(a0, 0xaaaaaaaa7ffe8001)
        TEST_NUM(121); la a1, st_data; li a2, 0x000000000000ffff; sh a2, 4(a1)
        lh a0, 4(a1); CHECK_EQ(a0, 0xffffffffffffffff)
        lhu a0, 4(a1); CHECK_EQ(a0, 0x000000000000ffff)
        la a3, st_data; ld a0, 0(a3); CHECK_EQ(a0, 0xaaaaffff7ffe8001)
        TEST_NUM(122); la a1, st_data; li a2, 0x0000000000000000; sh a2, 6(a1)
        lh a0, 6(a1); CHECK_EQ(a0, 0x0000000000000000)
        lhu a0, 6(a1); CHECK_EQ(a0, 0x0000000000000000)
        la a3, st_data; ld a0, 0(a3); CHECK_EQ(a0, 0x0000ffff7ffe8001)
        TEST_NUM(123); la a1, st_data+48; li a2, 0x5a5a5a5a5a5a5a58; sh a2, -2(a1)
        lh a0, -2(a1); CHECK_EQ(a0, 0x0000000000005a58)
        lhu a0, -2(a1); CHECK_EQ(a0, 0x0000000000005a58)
        la a3, st_data; ld a0, 40(a3); CHECK_EQ(a0, 0x5a58aaaaaaaaaaaa)
        TEST_NUM(124); la a1, st_data+32; li a2, 0xfedcba9876543281; sh a2, 0(a1)
        lb a0, 0(a1); CHECK_EQ(a0, 0xffffffffffffff81)
        lbu a0, 0(a1); CHECK_EQ(a0, 0x0000000000000081)
        la a3, st_data; ld a0, 32(a3); CHECK_EQ(a0, 0xaaaaaaaaaaaa3281)
        TEST_NUM(125); la a1, st_data; li a2, 0x1234567880000001; sw a2, 0(a1)
        lw a0, 0(a1); CHECK_EQ(a0, 0xffffffff80000001)
        lwu a0, 0(a1); CHECK_EQ(a0, 0x0000000080000001)
        la a3, st_data; ld a0, 0(a3); CHECK_EQ(a0, 0x0000ffff80000001)
        TEST_NUM(126); la a1, st_data; li a2, 0x000000007ffffffe; sw a2, 4(a1)
        lw a0, 4(a1); CHECK_EQ(a0, 0x000000007ffffffe)
        lwu a0, 4(a1); CHECK_EQ(a0, 0x000000007ffffffe)
        la a3, st_data; ld a0, 0(a3); CHECK_EQ(a0, 0x7ffffffe80000001)
        TEST_NUM(127); la a1, st_data; li a2, 0x00000000ffffffff; sw a2, 8(a1)
        lw a0, 8(a1); CHECK_EQ(a0, 0xffffffffffffffff)
        lwu a0, 8(a1); CHECK_EQ(a0, 0x00000000ffffffff)
        la a3, st_data; ld a0, 8(a3); CHECK_EQ(a0, 0xaaaaaaaaffffffff)
        TEST_NUM(128); la a1, st_data; li a2, 0x0000000000000000; sw a2, 12(a1)
        lw a0, 12(a1); CHECK_EQ(a0, 0x0000000000000000)
        lwu a0, 12(a1); CHECK_EQ(a0, 0x0000000000000000)
        la a3, st_data; ld a0, 8(a3); CHECK_EQ(a0, 0x00000000ffffffff)
        TEST_NUM(129); la a1, st_data+48; li a2, 0x5a5a5a5a5a5a5a5e; sw a2, -4(a1)
        lw a0, -4(a1); CHECK_EQ(a0, 0x000000005a5a5a5e)
        lwu a0, -4(a1); CHECK_EQ(a0, 0x000000005a5a5a5e)
        la a3, st_data; ld a0, 40(a3); CHECK_EQ(a0, 0x5a5a5a5eaaaaaaaa)
        TEST_NUM(130); la a1, st_data+32; li a2, 0xfedcba9876543281; sw a2, 0(a1)
        lb a0, 0(a1); CHECK_EQ(a0, 0xffffffffffffff81)
        lbu a0, 0(a1); CHECK_EQ(a0, 0x0000000000000081)
        la a3, st_data; ld a0, 32(a3); CHECK_EQ(a0, 0xaaaaaaaa76543281)
        TEST_NUM(131); la a1, st_data; li a2, 0x0123456789abcdef; sd a2, 0(a1)
        ld a0, 0(a1); CHECK_EQ(a0, 0x0123456789abcdef)
        la a3, st_data; ld a0, 0(a3); CHECK_EQ(a0, 0x0123456789abcdef)
        TEST_NUM(132); la a1, st_data; li a2, 0x8000000000000001; sd a2, 8(a1)
        ld a0, 8(a1); CHECK_EQ(a0, 0x8000000000000001)
        la a3, st_data; ld a0, 8(a3); CHECK_EQ(a0, 0x8000000000000001)
        TEST_NUM(133); la a1, st_data; li a2, 0xffffffffffffffff; sd a2, 16(a1)
        ld a0, 16(a1); CHECK_EQ(a0, 0xffffffffffffffff)
        la a3, st_data; ld a0, 16(a3); CHECK_EQ(a0, 0xffffffffffffffff)
        TEST_NUM(134); la a1, st_data; li a2, 0x0000000000000000; sd a2, 24(a1)
        ld a0, 24(a1); CHECK_EQ(a0, 0x0000000000000000)
        la a3, st_data; ld a0, 24(a3); CHECK_EQ(a0, 0x0000000000000000)
        TEST_NUM(135); la a1, st_data+48; li a2, 0x5a5a5a5a5a5a5a52; sd a2, -8(a1)
        ld a0, -8(a1); CHECK_EQ(a0, 0x5a5a5a5a5a5a5a52)
        la a3, st_data; ld a0, 40(a3); CHECK_EQ(a0, 0x5a5a5a5a5a5a5a52)
        TEST_NUM(136); la a1, st_data+32; li a2, 0xfedcba9876543281; sd a2, 0(a1)
        lb a0, 0(a1); CHECK_EQ(a0, 0xffffffffffffff81)
        lbu a0, 0(a1); CHECK_EQ(a0, 0x0000000000000081)
        la a3, st_data; ld a0, 32(a3); CHECK_EQ(a0, 0xfedcba9876543281)
        TEST_NUM(137); la a1, st_data; sd a1, 56(a1); ld a0, 56(a1); CHECK_REGS_EQ(a0, a1)
        TEST_NUM(138); la a1, st_data; sd x0, 56(a1); sw x0, 52(a1); ld a0, 56(a1); CHECK_EQ(a0, 0)
        TEST_NUM(139); la a3, st_data; ld a0, 48(a3); CHECK_EQ(a0, 0x00000000aaaaaaaa)
        TEST_NUM(140); la a1, big_mid; li a2, 0x1111111111111111; sd a2, -2048(a1); sb a2, 2047(a1)
        ld a0, -2048(a1); CHECK_EQ(a0, 0x1111111111111111)
        ld a0, 2040(a1); CHECK_EQ(a0, 0x1177665544332211)
        TEST_NUM(141); la a1, st_data; li a2, 0x600dcafe; sw a2, 8(a1); lwu a0, 8(a1); CHECK_EQ(a0, 0x600dcafe)

        TEST_PASS

        .data
        .balign 16
ld_data:
        .dword 0x0123456789abcdef
        .dword 0xfedcba9876543210
        .dword 0x8000000080008080
        .dword 0x7fffffff7fff7f7f
        .dword 0xffffffffffffffff
        .dword 0x0000000000000000
        .dword 0x00ff00ff00ff00ff
        .dword 0xff00ff00ff00ff00
ld_data_end:
        .balign 8
        .dword 0x1122334455667788        /* big_mid - 2048 */
        .skip 2048 - 8
big_mid:
        .skip 2040
        .dword 0x8877665544332211        /* big_mid + 2040 */
        .balign 16
st_data:
        .dword 0xaaaaaaaaaaaaaaaa
        .dword 0xaaaaaaaaaaaaaaaa
        .dword 0xaaaaaaaaaaaaaaaa
        .dword 0xaaaaaaaaaaaaaaaa
        .dword 0xaaaaaaaaaaaaaaaa
        .dword 0xaaaaaaaaaaaaaaaa
        .dword 0xaaaaaaaaaaaaaaaa
        .dword 0xaaaaaaaaaaaaaaaa
