/*
 * penv.h - bare-metal environment for the privileged-architecture test programs.
 *
 * Include this header once at the top of a test program (a .S file) and define the label `test_main`.
 * The header emits the start-up code, the default trap handlers, HTIF reporting and a few helper
 * routines; link with tests/asm/priv/link.ld (everything runs at 0x80000000, M-mode first).
 *
 * Register conventions (every mode):
 *   gp       current test number (TEST n); reported on failure as tohost = (n << 1) | 1.
 *   s11      trap expectation: 0 = no trap expected (any trap fails the program with a diagnostic);
 *            1 = a trap is expected, resume after the trapping instruction (mepc/sepc + 4; all test code
 *            is assembled without compressed instructions, see `.option norvc` below);
 *            an even address = a trap is expected, resume at that address in the trapped-from mode;
 *            an odd address (M handler only) = a trap is expected, resume at address & ~1 in M-mode.
 *            The handler that takes the expected trap sets s11 back to 0.
 *   s8/s9/s10  written by the handler that took the expected trap: cause, tval, epc (xcause/xtval/xepc).
 *   t6       scratch register of the CHECK and GOTO macros.
 *   a7       clobbered by GOTO_M (magic ecall number).
 *   ra       clobbered when a check fails.
 * For an expected interrupt the handler also clears the interrupt's enable bit (mie/sie) so that a
 * still-pending source does not trap again; for interrupts "resume after" means return to xepc.
 *
 * Mode changes: GOTO_S / GOTO_U (from M, via mret with MPIE = 0, so mstatus.MIE = 0 afterwards),
 * S_GOTO_U (from S, via sret), GOTO_M (from S or U: ecall with a7 = PENV_ECALL_TO_M; continues in
 * M-mode after the ecall, also when U-mode ecalls are delegated to S: the S handler forwards it).
 * Code that runs in S/U with translation on must be mapped at VA == PA.
 *
 * Tests may install their own trap handlers (csrw mtvec/stvec); penv_mtrap / penv_strap are the
 * defaults and can be reinstalled with RESTORE_MTVEC / RESTORE_STVEC. A failing CHECK ends the program
 * through an ecall into the M handler, so checks need the default M handler (or one that chains to it).
 * While medeleg delegates ecalls from S, an S-mode check cannot report (the ecall would loop in S).
 *
 * Other state at start: entry 15 of the PMP covers all memory with RWX (entries 0-14 off), mtimecmp is
 * all ones, satp/medeleg/mideleg/mie/mip are 0, MPP = M. penv_map/penv_alloc_page build page tables.
 *
 * Validation defines (never used by tvisor's test run): PENV_QEMU relaxes the checks where QEMU 7.2
 * differs from the spec or from the tvisor machine, PENV_NO_TIME leaves out what needs the time CSR
 * (QEMU's spike machine has none), PENV_VIRT also reports through the syscon/UART of QEMU's virt machine.
 */
#ifndef PENV_H
#define PENV_H

/* ---- mstatus / sstatus ---- */
#define MSTATUS_SIE   (1 << 1)
#define MSTATUS_MIE   (1 << 3)
#define MSTATUS_SPIE  (1 << 5)
#define MSTATUS_UBE   (1 << 6)
#define MSTATUS_MPIE  (1 << 7)
#define MSTATUS_SPP   (1 << 8)
#define MSTATUS_VS    (3 << 9)
#define MSTATUS_MPP   (3 << 11)
#define MSTATUS_FS    (3 << 13)
#define MSTATUS_XS    (3 << 15)
#define MSTATUS_MPRV  (1 << 17)
#define MSTATUS_SUM   (1 << 18)
#define MSTATUS_MXR   (1 << 19)
#define MSTATUS_TVM   (1 << 20)
#define MSTATUS_TW    (1 << 21)
#define MSTATUS_TSR   (1 << 22)
#define MSTATUS_UXL   (3 << 32)
#define MSTATUS_SXL   (3 << 34)
#define MSTATUS_SBE   (1 << 36)
#define MSTATUS_MBE   (1 << 37)
#define MSTATUS_SD    (1 << 63)
#define MPP_U         (0 << 11)
#define MPP_S         (1 << 11)
#define MPP_M         (3 << 11)

/* ---- causes ---- */
#define CAUSE_FETCH_MISALIGNED 0
#define CAUSE_FETCH_ACCESS     1
#define CAUSE_ILLEGAL          2
#define CAUSE_BREAKPOINT       3
#define CAUSE_LOAD_MISALIGNED  4
#define CAUSE_LOAD_ACCESS      5
#define CAUSE_STORE_MISALIGNED 6
#define CAUSE_STORE_ACCESS     7
#define CAUSE_ECALL_U          8
#define CAUSE_ECALL_S          9
#define CAUSE_ECALL_M          11
#define CAUSE_FETCH_PAGE       12
#define CAUSE_LOAD_PAGE        13
#define CAUSE_STORE_PAGE       15
#define CAUSE_INTR             (1 << 63)
#define IRQ_SSI 1
#define IRQ_MSI 3
#define IRQ_STI 5
#define IRQ_MTI 7
#define IRQ_SEI 9
#define IRQ_MEI 11
#define MIP_SSIP (1 << IRQ_SSI)
#define MIP_MSIP (1 << IRQ_MSI)
#define MIP_STIP (1 << IRQ_STI)
#define MIP_MTIP (1 << IRQ_MTI)
#define MIP_SEIP (1 << IRQ_SEI)
#define MIP_MEIP (1 << IRQ_MEI)

/* ---- CSRs the assembler may not know by name ---- */
#define CSR_SENVCFG  0x10a
#define CSR_STIMECMP 0x14d
#define CSR_MENVCFG  0x30a
#define ENVCFG_FIOM  (1 << 0)
#define ENVCFG_CBIE  (3 << 4)
#define ENVCFG_CBCFE (1 << 6)
#define ENVCFG_CBZE  (1 << 7)
#define ENVCFG_PBMTE (1 << 62)
#define ENVCFG_STCE  (1 << 63)

/* ---- satp ---- */
#define SATP_MODE_BARE 0
#define SATP_MODE_SV39 8
#define SATP_MODE_SV48 9
#define SATP_MODE_SV57 10
#define SATP_MODE_SV64 11
#define SATP_MODE(m)   ((m) << 60)

/* ---- page table entries ---- */
#define PTE_V (1 << 0)
#define PTE_R (1 << 1)
#define PTE_W (1 << 2)
#define PTE_X (1 << 3)
#define PTE_U (1 << 4)
#define PTE_G (1 << 5)
#define PTE_A (1 << 6)
#define PTE_D (1 << 7)

/* ---- PMP ---- */
#define PMP_R     0x01
#define PMP_W     0x02
#define PMP_X     0x04
#define PMP_OFF   0x00
#define PMP_TOR   0x08
#define PMP_NA4   0x10
#define PMP_NAPOT 0x18
#define PMP_L     0x80

/* ---- devices ---- */
#define CLINT_BASE     0x02000000
#define CLINT_MSIP     (CLINT_BASE + 0x0)
#define CLINT_MTIMECMP (CLINT_BASE + 0x4000)
#define CLINT_MTIME    (CLINT_BASE + 0xbff8)

/* Validation aid: with -DPENV_VIRT the program also reports through the syscon test device and prints
 * through the UART, so it can run on QEMU's virt machine (which has no HTIF). */
#define SYSCON_BASE    0x00100000
#define UART_BASE      0x10000000

/* ---- magic ecall numbers (a7) understood by the default handlers ---- */
#define PENV_ECALL_TO_M   0x7e5701
#define PENV_ECALL_FAIL   0x7e5702
#define PENV_ECALL_FWD    0x7e5703
#define PENV_ECALL_SUNEXP 0x7e5704

/* All code is assembled without compressed instructions so that "skip the trapping instruction" is +4. */
.option norvc

/* ------------------------------------------------------------------ macros */

.macro TEST n
    li gp, \n
.endm

.macro PASS
    j penv_pass
.endm

/* fail unless r1 == r2 */
.macro CHECK_EQ r1, r2
    beq \r1, \r2, .Lpenv_ok\@
    jal ra, penv_fail
.Lpenv_ok\@:
.endm

/* fail unless r1 != r2 */
.macro CHECK_NE r1, r2
    bne \r1, \r2, .Lpenv_ok\@
    jal ra, penv_fail
.Lpenv_ok\@:
.endm

/* fail unless r == imm (uses t6) */
.macro CHECK_EQI r, imm
    li t6, \imm
    CHECK_EQ \r, t6
.endm

/* fail unless r != imm (uses t6) */
.macro CHECK_NEI r, imm
    li t6, \imm
    CHECK_NE \r, t6
.endm

/* fail unless (r & mask) == val (uses t6 and tmp; r is preserved) */
.macro CHECK_BITS r, mask, val, tmp
    li \tmp, \mask
    and \tmp, \r, \tmp
    CHECK_EQI \tmp, \val
.endm

/* fail unless r == address of label (uses t6) */
.macro CHECK_LA r, label
    la t6, \label
    CHECK_EQ \r, t6
.endm

/* the next instruction is expected to trap; the handler resumes after it */
.macro EXPECT_TRAP
    li s11, 1
.endm

/* a trap is expected; the handler resumes at label (same privilege mode as the trapping code) */
.macro EXPECT_TRAP_AT label
    la s11, \label
.endm

/* a trap into M is expected; the M handler resumes at label in M-mode */
.macro EXPECT_TRAP_TO_M label
    la s11, \label
    ori s11, s11, 1
.endm

/* an expected trap happened, with this cause */
.macro CHECK_TRAP cause
    CHECK_EQI s11, 0
    CHECK_EQI s8, \cause
.endm

/* ... and this tval / epc */
.macro CHECK_TVAL imm
    CHECK_EQI s9, \imm
.endm
.macro CHECK_TVAL_R r
    CHECK_EQ s9, \r
.endm
.macro CHECK_EPC label
    CHECK_LA s10, \label
.endm

/* fail unless the expected trap did not happen (s11 still armed), then disarm */
.macro CHECK_NO_TRAP
    CHECK_NEI s11, 0
    li s11, 0
.endm

.macro GOTO_S
    li t6, MSTATUS_MPP | MSTATUS_MPIE
    csrc mstatus, t6
    li t6, MPP_S
    csrs mstatus, t6
    la t6, .Lpenv_goto\@
    csrw mepc, t6
    mret
.Lpenv_goto\@:
.endm

.macro GOTO_U
    li t6, MSTATUS_MPP | MSTATUS_MPIE
    csrc mstatus, t6
    la t6, .Lpenv_goto\@
    csrw mepc, t6
    mret
.Lpenv_goto\@:
.endm

/* from S-mode to U-mode */
.macro S_GOTO_U
    li t6, MSTATUS_SPP
    csrc sstatus, t6
    la t6, .Lpenv_goto\@
    csrw sepc, t6
    sret
.Lpenv_goto\@:
.endm

/* from S or U back to M (continues after the ecall, in M-mode) */
.macro GOTO_M
    li a7, PENV_ECALL_TO_M
    ecall
.endm

.macro RESTORE_MTVEC
    la t6, penv_mtrap
    csrw mtvec, t6
.endm

.macro RESTORE_STVEC
    la t6, penv_strap
    csrw stvec, t6
.endm

/* ------------------------------------------------------------------ start-up */

    .section .text.init, "ax", @progbits
    .globl _start
_start:
    la t0, penv_mtrap
    csrw mtvec, t0
    la t0, penv_strap
    csrw stvec, t0
    csrw mie, zero
    csrw mip, zero
    csrw medeleg, zero
    csrw mideleg, zero
    csrw satp, zero
    li t0, MPP_M
    csrw mstatus, t0
    /* no timer interrupt until a test asks for one */
    li t0, CLINT_MTIMECMP
    li t1, -1
    sd t1, 0(t0)
    /* PMP: entries 0-14 off, entry 15 = all of memory, RWX (so S/U can run until a test changes it) */
    csrw pmpcfg0, zero
    csrw pmpcfg2, zero
    csrw pmpaddr0, zero
    csrw pmpaddr1, zero
    csrw pmpaddr2, zero
    csrw pmpaddr3, zero
    csrw pmpaddr4, zero
    csrw pmpaddr5, zero
    csrw pmpaddr6, zero
    csrw pmpaddr7, zero
    csrw pmpaddr8, zero
    csrw pmpaddr9, zero
    csrw pmpaddr10, zero
    csrw pmpaddr11, zero
    csrw pmpaddr12, zero
    csrw pmpaddr13, zero
    csrw pmpaddr14, zero
    li t0, -1
    csrw pmpaddr15, t0
    li t0, (PMP_NAPOT | PMP_R | PMP_W | PMP_X) << 56
    csrw pmpcfg2, t0
    la sp, penv_stack_top
    la t0, penv_pt_pool
    la t1, penv_pt_next
    sd t0, 0(t1)
    li gp, 0
    li s8, 0
    li s9, 0
    li s10, 0
    li s11, 0
    j test_main

/* ------------------------------------------------------------------ M-mode trap handler */

    .align 6
    .globl penv_mtrap
penv_mtrap:
    csrw mscratch, t0
    la t0, penv_mframe
    sd t1, 8(t0)
    sd t2, 16(t0)
    csrr t1, mscratch
    sd t1, 0(t0)
    csrr t1, mcause
    bltz t1, .Lm_irq
    li t2, CAUSE_ECALL_U
    beq t1, t2, .Lm_ecall
    li t2, CAUSE_ECALL_S
    beq t1, t2, .Lm_ecall
    li t2, CAUSE_ECALL_M
    beq t1, t2, .Lm_ecall
.Lm_exc:
    beqz s11, .Lm_unexpected
    mv s8, t1
    csrr s9, mtval
    csrr s10, mepc
    li t2, 1
    beq s11, t2, .Lm_skip
.Lm_resume:
    andi t2, s11, 1
    bnez t2, .Lm_resume_m
    csrw mepc, s11
    j .Lm_done
.Lm_resume_m:
    andi t2, s11, -2
    csrw mepc, t2
    li t2, MSTATUS_MPP
    csrs mstatus, t2
    j .Lm_done
.Lm_skip:
    addi t2, s10, 4
    csrw mepc, t2
.Lm_done:
    li s11, 0
.Lm_return:
    la t0, penv_mframe
    ld t1, 8(t0)
    ld t2, 16(t0)
    ld t0, 0(t0)
    mret

.Lm_irq:
    beqz s11, .Lm_unexpected
    mv s8, t1
    csrr s9, mtval
    csrr s10, mepc
    li t2, 1
    sll t2, t2, t1
    csrc mie, t2
    li t2, 1
    beq s11, t2, .Lm_done
    j .Lm_resume

.Lm_ecall:
    li t2, PENV_ECALL_TO_M
    beq a7, t2, .Lm_to_m
    li t2, PENV_ECALL_FWD
    beq a7, t2, .Lm_fwd
    li t2, PENV_ECALL_FAIL
    beq a7, t2, .Lm_fail
    li t2, PENV_ECALL_SUNEXP
    beq a7, t2, .Lm_sunexp
    j .Lm_exc
.Lm_to_m:
    csrr t2, mepc
    addi t2, t2, 4
    csrw mepc, t2
    li t2, MSTATUS_MPP
    csrs mstatus, t2
    j .Lm_return
.Lm_fwd:
    /* a U-mode GOTO_M that the S handler forwarded: continue after the U-mode ecall */
    csrr t2, sepc
    addi t2, t2, 4
    csrw mepc, t2
    li a7, PENV_ECALL_TO_M
    li t2, MSTATUS_MPP
    csrs mstatus, t2
    j .Lm_return

    /* terminal paths: print a diagnostic on the HTIF console and report the test number */
.Lm_fail:
    la sp, penv_stack_top
    mv s0, ra
    la a0, penv_msg_check
    call penv_puts
    mv a0, gp
    call penv_putdec
    la a0, penv_msg_pc
    call penv_puts
    addi a0, s0, -4
    call penv_puthex
    j .Lm_die_nl
.Lm_unexpected:
    la sp, penv_stack_top
    mv s0, t1
    la a0, penv_msg_munexp
    call penv_puts
    mv a0, gp
    call penv_putdec
    la a0, penv_msg_cause
    call penv_puts
    mv a0, s0
    call penv_puthex
    la a0, penv_msg_epc
    call penv_puts
    csrr a0, mepc
    call penv_puthex
    la a0, penv_msg_tval
    call penv_puts
    csrr a0, mtval
    call penv_puthex
    la a0, penv_msg_mstatus
    call penv_puts
    csrr a0, mstatus
    call penv_puthex
    j .Lm_die_nl
.Lm_sunexp:
    la sp, penv_stack_top
    la a0, penv_msg_sunexp
    call penv_puts
    mv a0, gp
    call penv_putdec
    la a0, penv_msg_cause
    call penv_puts
    mv a0, s8
    call penv_puthex
    la a0, penv_msg_epc
    call penv_puts
    mv a0, s10
    call penv_puthex
    la a0, penv_msg_tval
    call penv_puts
    mv a0, s9
    call penv_puthex
.Lm_die_nl:
    li a0, '\n'
    call penv_putc
    j penv_die

/* ------------------------------------------------------------------ S-mode trap handler (registers only) */

    .align 6
    .globl penv_strap
penv_strap:
    csrw sscratch, t0
    csrr t0, scause
    bltz t0, .Ls_irq
    addi t0, t0, -CAUSE_ECALL_U
    bnez t0, .Ls_exc
    li t0, PENV_ECALL_TO_M
    beq a7, t0, .Ls_fwd
    li t0, PENV_ECALL_FAIL
    beq a7, t0, .Ls_fwdfail
.Ls_exc:
    beqz s11, .Ls_unexpected
    csrr s8, scause
    csrr s9, stval
    csrr s10, sepc
    li t0, 1
    beq s11, t0, .Ls_skip
    csrw sepc, s11
    j .Ls_done
.Ls_skip:
    addi t0, s10, 4
    csrw sepc, t0
.Ls_done:
    li s11, 0
    csrr t0, sscratch
    sret
.Ls_irq:
    beqz s11, .Ls_unexpected
    csrr s8, scause
    csrr s9, stval
    csrr s10, sepc
    li t0, 1
    sll t0, t0, s8
    csrc sie, t0
    li t0, 1
    beq s11, t0, .Ls_done
    csrw sepc, s11
    j .Ls_done
.Ls_fwd:
    csrr t0, sscratch
    li a7, PENV_ECALL_FWD
    ecall
.Ls_fwdfail:
    csrr t0, sscratch
    ecall
.Ls_unexpected:
    csrr s8, scause
    csrr s9, stval
    csrr s10, sepc
    li a7, PENV_ECALL_SUNEXP
    ecall
1:  j 1b

/* ------------------------------------------------------------------ reporting */

    .globl penv_fail
penv_fail:
    li a7, PENV_ECALL_FAIL
    ecall
    /* the ecall came back (a test's own handler took it): report from here, assuming M-mode */
    j penv_die

    .globl penv_die
penv_die:
    bnez gp, 1f
    li gp, 9999
1:
#ifdef PENV_VIRT
    slli t0, gp, 16
    li t1, 0x3333
    or t0, t0, t1
    li t1, SYSCON_BASE
    sw t0, 0(t1)
#endif
    slli t0, gp, 1
    ori t0, t0, 1
    la t1, tohost
    sd t0, 0(t1)
2:  j 2b

    .globl penv_pass
penv_pass:
#ifdef PENV_VIRT
    li t0, 0x5555
    li t1, SYSCON_BASE
    sw t0, 0(t1)
#endif
    li t0, 1
    la t1, tohost
    sd t0, 0(t1)
1:  j 1b

/* console: putchar a0 (clobbers t0, t1) */
    .globl penv_putc
penv_putc:
#ifdef PENV_VIRT
    li t0, UART_BASE
    sb a0, 0(t0)
    ret
#endif
    la t0, tohost
1:  ld t1, 0(t0)
    bnez t1, 1b
    li t1, 0x0101000000000000
    andi a0, a0, 0xff
    or t1, t1, a0
    sd t1, 0(t0)
2:  ld t1, 0(t0)
    bnez t1, 2b
    sd zero, 8(t0)
    ret

/* print the NUL-terminated string at a0 (clobbers a0, a1, t0, t1) */
    .globl penv_puts
penv_puts:
    addi sp, sp, -16
    sd ra, 0(sp)
    mv a1, a0
1:  lbu a0, 0(a1)
    beqz a0, 2f
    call penv_putc
    addi a1, a1, 1
    j 1b
2:  ld ra, 0(sp)
    addi sp, sp, 16
    ret

/* print a0 as 0x + 16 hex digits (clobbers a0-a2, t0, t1) */
    .globl penv_puthex
penv_puthex:
    addi sp, sp, -16
    sd ra, 0(sp)
    mv a1, a0
    li a0, '0'
    call penv_putc
    li a0, 'x'
    call penv_putc
    li a2, 60
1:  srl a0, a1, a2
    andi a0, a0, 15
    addi a0, a0, '0'
    li t0, '9'
    ble a0, t0, 2f
    addi a0, a0, 'a' - '0' - 10
2:  call penv_putc
    addi a2, a2, -4
    bgez a2, 1b
    ld ra, 0(sp)
    addi sp, sp, 16
    ret

/* print a0 (unsigned, < 10^6) in decimal (clobbers a0-a3, t0, t1) */
    .globl penv_putdec
penv_putdec:
    addi sp, sp, -16
    sd ra, 0(sp)
    mv a1, a0
    li a2, 100000
    li a3, 0            /* printed a digit yet? */
1:  divu a0, a1, a2
    remu a1, a1, a2
    bnez a0, 2f
    bnez a3, 2f
    li t0, 1
    bne a2, t0, 3f
2:  li a3, 1
    addi a0, a0, '0'
    call penv_putc
3:  li t0, 10
    divu a2, a2, t0
    bnez a2, 1b
    ld ra, 0(sp)
    addi sp, sp, 16
    ret

/* ------------------------------------------------------------------ page-table helpers (M-mode, physical) */

/* a0 = a fresh zeroed 4 KiB page from the page-table pool (clobbers t0, t1) */
    .globl penv_alloc_page
penv_alloc_page:
    la t0, penv_pt_next
    ld a0, 0(t0)
    li t1, 4096
    add t1, a0, t1
    sd t1, 0(t0)
    la t0, penv_pt_pool_end
    bgtu t1, t0, 2f
    mv t0, a0
1:  sd zero, 0(t0)
    addi t0, t0, 8
    bltu t0, t1, 1b
    ret
2:  /* pool exhausted */
    li gp, 9998
    j penv_die

/* forget every page handed out by penv_alloc_page */
    .globl penv_pt_reset
penv_pt_reset:
    la t0, penv_pt_pool
    la t1, penv_pt_next
    sd t0, 0(t1)
    ret

/*
 * penv_map: install one leaf PTE.
 *   a0 = root table (PA), a1 = VA, a2 = PA of the page, a3 = PTE flag bits (low 10 bits, V not implied),
 *   a4 = leaf level (0 = 4 KiB, 1 = 2 MiB, 2 = 1 GiB, 3 = 512 GiB, 4 = 256 TiB),
 *   a5 = number of levels (3 = Sv39, 4 = Sv48, 5 = Sv57).
 * Missing intermediate tables are allocated (non-leaf PTEs: V only). Returns the PTE address in a0.
 * Clobbers a0, t0-t5.
 */
    .globl penv_map
penv_map:
    addi sp, sp, -16
    sd ra, 0(sp)
    addi t2, a5, -1          /* current level */
    mv t3, a0                /* current table */
1:  li t0, 9
    mul t0, t0, t2
    addi t0, t0, 12
    srl t4, a1, t0
    andi t4, t4, 511
    slli t4, t4, 3
    add t4, t3, t4           /* PTE address */
    beq t2, a4, 3f
    ld t5, 0(t4)
    andi t0, t5, PTE_V
    bnez t0, 2f
    call penv_alloc_page     /* clobbers t0, t1, a0 */
    srli t5, a0, 12
    slli t5, t5, 10
    ori t5, t5, PTE_V
    sd t5, 0(t4)
2:  srli t5, t5, 10
    slli t3, t5, 12
    addi t2, t2, -1
    j 1b
3:  srli t5, a2, 12
    slli t5, t5, 10
    or t5, t5, a3
    sd t5, 0(t4)
    mv a0, t4
    ld ra, 0(sp)
    addi sp, sp, 16
    ret

/* ------------------------------------------------------------------ data */

    .section .rodata
penv_msg_check:   .asciz "penv: check failed in test "
penv_msg_pc:      .asciz " at pc "
penv_msg_munexp:  .asciz "penv: unexpected trap into M-mode in test "
penv_msg_sunexp:  .asciz "penv: unexpected trap into S-mode in test "
penv_msg_cause:   .asciz ": cause "
penv_msg_epc:     .asciz " epc "
penv_msg_tval:    .asciz " tval "
penv_msg_mstatus: .asciz " mstatus "

    .section .tohost, "aw", @progbits
    .align 6
    .globl tohost
    .type tohost, @object
    .size tohost, 8
tohost:   .dword 0
    .globl fromhost
    .type fromhost, @object
    .size fromhost, 8
fromhost: .dword 0
    .align 6

    .section .bss
    .align 4
penv_mframe: .skip 64
    .globl penv_pt_next
penv_pt_next: .skip 8
    .align 4
penv_stack: .skip 4096
    .globl penv_stack_top
penv_stack_top:

    .section .pagedata, "aw", @nobits
    .align 12
    .globl penv_pt_pool
penv_pt_pool: .skip 256 * 4096
    .globl penv_pt_pool_end
penv_pt_pool_end:

    .text

#endif /* PENV_H */
