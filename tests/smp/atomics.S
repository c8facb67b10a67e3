# Shared-memory stress for harts running in different threads on one RAM. Every hart runs ITER rounds of:
# an amoadd.w, an amoadd.d whose addend carries across the 32-bit halves, an lr.d/sc.d increment, a plain
# ld/sd increment under a spinlock taken with amoswap.w.aq and released with amoswap.w.rl, amomax.d of the
# round number and amomin.d of its negation. Then it counts itself done and spins.
# Data at 0x80100000: +0 amoadd.w, +8 amoadd.d, +16 lr/sc, +24 lock, +32 plain, +40 max, +48 min, +56 done.
    .section .text.init
    .globl _start
_start:
    li s0, 0x80100000
    li s1, ITER
    li s2, 0x100000001
    li t6, 1
    li s3, 0
    addi a1, s0, 0
    addi a2, s0, 8
    addi a3, s0, 16
    addi a4, s0, 24
    addi a6, s0, 40
    addi a7, s0, 48
    addi s5, s0, 56
1:
    amoadd.w zero, t6, (a1)
    amoadd.d zero, s2, (a2)
2:  lr.d t0, (a3)
    addi t0, t0, 1
    sc.d t1, t0, (a3)
    bnez t1, 2b
3:  li t2, 1
    amoswap.w.aq t2, t2, (a4)
    bnez t2, 3b
    ld t3, 32(s0)
    addi t3, t3, 1
    sd t3, 32(s0)
    amoswap.w.rl zero, zero, (a4)
    addi s3, s3, 1
    amomax.d zero, s3, (a6)
    neg t4, s3
    amomin.d zero, t4, (a7)
    addi s1, s1, -1
    bnez s1, 1b
    amoadd.w zero, t6, (s5)
4:  j 4b
