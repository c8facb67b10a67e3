# Reset entry for the benchmark workload, under tvisor and qemu -M spike alike: set up a stack, clear .bss,
# call main, and report main's return value through HTIF: tohost = (value << 1) | 1, so 0 means pass.

  .section .text.init, "ax", @progbits
  .globl _start
_start:
  la sp, __stack_top
  la t0, __bss_start
  la t1, __bss_end
1:
  bgeu t0, t1, 2f          # the loader zero-fills .bss too; clearing it keeps the program loader-agnostic
  sd zero, 0(t0)
  addi t0, t0, 8
  j 1b
2:
  call main
  slli a0, a0, 1
  ori a0, a0, 1
  la t0, tohost
  sd a0, 0(t0)
3:
  j 3b                     # the host stops the hart; spin until it does

# The host finds these two words through the ELF symbol table (HTIF: Host-Target InterFace); QEMU also
# insists on their sizes being 8.
  .section .tohost, "aw", @progbits
  .align 6
  .globl tohost
  .type tohost, @object
  .size tohost, 8
tohost: .dword 0
  .align 6
  .globl fromhost
  .type fromhost, @object
  .size fromhost, 8
fromhost: .dword 0
