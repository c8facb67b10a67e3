/* sta-probe: a tiny S-mode "kernel" for tvisor's own SBI. It registers an SBI steal-time (STA) record,
   busy-loops for 4 s of guest time and prints every 0.5 s how much steal the hypervisor has reported,
   then shuts the machine down. Output goes through the legacy SBI putchar. */
#include <stdint.h>

struct sta_record {
  volatile uint32_t sequence;
  volatile uint32_t flags;
  volatile uint64_t steal;
  volatile uint8_t preempted;
  uint8_t pad[47];
} __attribute__((aligned(64)));

static struct sta_record rec;
uint8_t stack[8192] __attribute__((aligned(16)));

static long sbi_call(long eid, long fid, long a0, long a1, long a2) {
  register long x10 asm("a0") = a0;
  register long x11 asm("a1") = a1;
  register long x12 asm("a2") = a2;
  register long x16 asm("a6") = fid;
  register long x17 asm("a7") = eid;
  asm volatile("ecall" : "+r"(x10), "+r"(x11) : "r"(x12), "r"(x16), "r"(x17) : "memory");
  return x10;
}

static void put(const char *s) {
  while (*s) sbi_call(0x01, 0, *s++, 0, 0); /* legacy console putchar */
}

static void put_dec(uint64_t v) {
  char buf[24];
  int i = 23;
  buf[i] = 0;
  do {
    buf[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  put(&buf[i]);
}

static void put_sdec(long v) {
  if (v < 0) {
    put("-");
    put_dec((uint64_t)-v);
  } else put_dec((uint64_t)v);
}

static uint64_t ticks(void) {
  uint64_t t;
  asm volatile("rdtime %0" : "=r"(t));
  return t;
}

/* The reader side of the STA protocol: retry while the sequence is odd or changed under us. */
static uint64_t read_steal(uint32_t *seq_out) {
  uint32_t s;
  uint64_t v;
  do {
    s = rec.sequence;
    asm volatile("fence r, r" ::: "memory");
    v = rec.steal;
    asm volatile("fence r, r" ::: "memory");
  } while ((s & 1) || s != rec.sequence);
  *seq_out = s;
  return v;
}

void probe(void) {
  long err = sbi_call(0x535441, 0, (long)(uintptr_t)&rec, 0, 0); /* STA set_shmem(lo, hi = 0, flags = 0) */
  put("sta-probe: set_shmem ");
  put_sdec(err);
  put("\n");
  uint64_t t0 = ticks();
  for (int i = 1; i <= 8; i++) {
    while (ticks() - t0 < (uint64_t)i * 5000000u) /* 0.5 s at the 10 MHz timebase */
      ;
    uint32_t seq;
    uint64_t steal = read_steal(&seq);
    put("sta-probe: time_ns ");
    put_dec((ticks() - t0) * 100);
    put(" steal_ns ");
    put_dec(steal);
    put(" sequence ");
    put_dec(seq);
    put("\n");
  }
  sbi_call(0x53525354, 0, 0, 0, 0); /* SRST: shutdown */
  for (;;) asm volatile("wfi");
}

asm(".section .text.start\n"
    ".global _start\n"
    "_start:\n"
    "  la sp, stack + 8192\n"
    "  call probe\n"
    "1: j 1b\n");
