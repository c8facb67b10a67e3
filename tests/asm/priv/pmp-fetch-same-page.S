# PMP execute permission is enforced per instruction even inside one 4 KiB page: S-mode code runs, then falls
# into a 4-byte TOR region without X on the same page, which must raise an instruction access fault
# (mcause 1, mepc = the denied address). Self-contained: it uses only the linker script of this folder.
  .section .text.init, "ax"
  .option norvc
  .globl _start
_start:
  la t0, m_handler
  csrw mtvec, t0
  la t0, denied
  srli t1, t0, 2
  csrw pmpaddr0, t1          # TOR bottom (entry 0 stays OFF)
  addi t1, t1, 1
  csrw pmpaddr1, t1          # TOR top: [denied, denied + 4)
  li t1, -1
  csrw pmpaddr2, t1          # NAPOT over everything
  # pmpcfg0: entry 0 OFF, entry 1 TOR with no permissions, entry 2 NAPOT RWX
  li t1, (0x08 << 8) | (0x1f << 16)
  csrw pmpcfg0, t1
  li t1, 3 << 11
  csrc mstatus, t1
  li t1, 1 << 11             # MPP = S
  csrs mstatus, t1
  la t0, s_code
  csrw mepc, t0
  mret

  .align 4
s_code:
  nop
  nop
  li a0, 7                   # proves S-mode ran up to here
denied:
  nop                        # no execute permission: fetch fault here
  j fail

m_handler:
  csrr t0, mcause
  li t1, 1
  bne t0, t1, fail
  csrr t0, mepc
  la t1, denied
  bne t0, t1, fail
  li t1, 7
  bne a0, t1, fail
  li t0, 1
  la t1, tohost
  sd t0, 0(t1)
1: j 1b
fail:
  li t0, 3
  la t1, tohost
  sd t0, 0(t1)
2: j 2b

  .section .tohost, "aw", @progbits
  .align 6
  .globl tohost
tohost: .dword 0
  .size tohost, 8
  .align 6
  .globl fromhost
fromhost: .dword 0
  .size fromhost, 8
