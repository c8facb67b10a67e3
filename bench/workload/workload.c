// Integer workload for `npm run bench`: CRC-32 (bitwise and table-driven), insertion sort, a matrix multiply
// and a sieve, repeated ROUNDS times. Every kernel checks itself (two CRC implementations must agree, the
// sort must be ordered and keep its sum, the product passes Freivalds' test, the sieve finds pi(N) primes)
// and the folded checksum must equal EXPECTED_CHECKSUM, so a wrong emulator cannot post a fast figure.
// The return value of main becomes the HTIF exit code: 0 = pass, k = "FAIL: test k".
// Built with -DRAW_LOOP it is instead a tight 8-instruction integer loop (LOOP_ITERATIONS times).
//
// Build for the host to recompute EXPECTED_CHECKSUM after changing the workload (add -DRAW_LOOP for the loop):
//   cc -O2 -DHOST bench/workload/workload.c -o /tmp/workload && /tmp/workload
// It prints minstret at the end; under qemu-system-riscv64 -icount shift=0 that is an exact instruction
// count independent of tvisor, which bench/interp.ts compares with tvisor's.

#include <stdint.h>

#ifndef ROUNDS
#define ROUNDS 160 /* about 322 million instructions */
#endif
#if ROUNDS == 160
#define EXPECTED_CHECKSUM 0xf28c9c7b5fcede42ULL
#else
#define EXPECTED_CHECKSUM 0 /* unknown for other round counts: only the per-kernel checks apply */
#endif

#ifdef RAW_LOOP
#ifndef LOOP_ITERATIONS
#define LOOP_ITERATIONS 100000000ULL /* 800 million instructions */
#endif
#undef EXPECTED_CHECKSUM
#if LOOP_ITERATIONS == 100000000ULL
#define EXPECTED_CHECKSUM 0x262530b9cf3b6cf2ULL
#else
#define EXPECTED_CHECKSUM 0
#endif
#else /* the mixed workload */

#define CRC_BYTES 8192
#define SORT_N 768
#define MAT_N 40
#define SIEVE_N 100000
#define SIEVE_PRIMES 9592 /* pi(100000) */
#endif

enum {
  FAIL_CRC_CHECK_VALUE = 1, // CRC-32 of "123456789" is not 0xCBF43926
  FAIL_CRC_MISMATCH,        // bitwise and table-driven CRC disagree
  FAIL_SORT_ORDER,
  FAIL_SORT_SUM,
  FAIL_MATRIX,
  FAIL_SIEVE,
  FAIL_CHECKSUM,
};

#ifndef RAW_LOOP
static uint32_t rng_state;

static uint32_t xorshift32(void) {
  uint32_t x = rng_state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return rng_state = x;
}

// --- CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) ---
static uint32_t crc_table[256];
static uint8_t crc_data[CRC_BYTES];

static uint32_t crc32_bitwise(const uint8_t *p, uint32_t n) {
  uint32_t crc = 0xFFFFFFFFu;
  for (uint32_t i = 0; i < n; i++) {
    crc ^= p[i];
    for (int k = 0; k < 8; k++) crc = (crc & 1) ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
  }
  return ~crc;
}

static void crc32_init_table(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
    crc_table[i] = c;
  }
}

static uint32_t crc32_table(const uint8_t *p, uint32_t n) {
  uint32_t crc = 0xFFFFFFFFu;
  for (uint32_t i = 0; i < n; i++) crc = crc_table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

// --- insertion sort ---
static int32_t sort_data[SORT_N];

static void insertion_sort(int32_t *a, int n) {
  for (int i = 1; i < n; i++) {
    int32_t v = a[i];
    int j = i - 1;
    while (j >= 0 && a[j] > v) {
      a[j + 1] = a[j];
      j--;
    }
    a[j + 1] = v;
  }
}

// --- matrix multiply (wrapping 32-bit arithmetic) ---
static uint32_t mat_a[MAT_N][MAT_N], mat_b[MAT_N][MAT_N], mat_c[MAT_N][MAT_N];

static void matmul(void) {
  for (int i = 0; i < MAT_N; i++)
    for (int j = 0; j < MAT_N; j++) {
      uint32_t sum = 0;
      for (int k = 0; k < MAT_N; k++) sum += mat_a[i][k] * mat_b[k][j];
      mat_c[i][j] = sum;
    }
}

// Freivalds: A(Bx) == Cx for a random x, exact in wrapping arithmetic.
static int matmul_verified(void) {
  uint32_t x[MAT_N], bx[MAT_N];
  for (int i = 0; i < MAT_N; i++) x[i] = xorshift32();
  for (int i = 0; i < MAT_N; i++) {
    uint32_t s = 0;
    for (int k = 0; k < MAT_N; k++) s += mat_b[i][k] * x[k];
    bx[i] = s;
  }
  for (int i = 0; i < MAT_N; i++) {
    uint32_t abx = 0, cx = 0;
    for (int k = 0; k < MAT_N; k++) {
      abx += mat_a[i][k] * bx[k];
      cx += mat_c[i][k] * x[k];
    }
    if (abx != cx) return 0;
  }
  return 1;
}

// --- sieve of Eratosthenes ---
static uint8_t composite[SIEVE_N + 1];

static uint32_t sieve(uint64_t *hash) {
  for (uint32_t i = 0; i <= SIEVE_N; i++) composite[i] = 0;
  uint32_t count = 0;
  for (uint32_t i = 2; i <= SIEVE_N; i++) {
    if (composite[i]) continue;
    count++;
    *hash = (*hash ^ i) * 0x100000001B3ULL; // FNV-1a step over the primes
    if (i <= SIEVE_N / i)
      for (uint32_t j = i * i; j <= SIEVE_N; j += i) composite[j] = 1;
  }
  return count;
}

static uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
  return h * 0xFF51AFD7ED558CCDULL;
}

/** Runs the workload; returns 0 or a FAIL_* code, and the checksum through *out. */
static int workload(uint64_t *out) {
  static const uint8_t check[] = "123456789";
  crc32_init_table();
  if (crc32_table(check, 9) != 0xCBF43926u || crc32_bitwise(check, 9) != 0xCBF43926u) return FAIL_CRC_CHECK_VALUE;

  uint64_t h = 0xCBF29CE484222325ULL;
  for (uint32_t round = 0; round < ROUNDS; round++) {
    rng_state = 0x9E3779B9u ^ (round * 0x85EBCA6Bu + 1);

    for (int i = 0; i < CRC_BYTES; i++) crc_data[i] = (uint8_t)xorshift32();
    uint32_t crc = crc32_table(crc_data, CRC_BYTES);
    if (crc32_bitwise(crc_data, CRC_BYTES / 4) != crc32_table(crc_data, CRC_BYTES / 4)) return FAIL_CRC_MISMATCH;
    h = mix(h, crc);

    int64_t sum_before = 0, sum_after = 0;
    for (int i = 0; i < SORT_N; i++) {
      sort_data[i] = (int32_t)xorshift32() >> 4;
      sum_before += sort_data[i];
    }
    insertion_sort(sort_data, SORT_N);
    for (int i = 0; i < SORT_N; i++) {
      if (i > 0 && sort_data[i - 1] > sort_data[i]) return FAIL_SORT_ORDER;
      sum_after += sort_data[i];
    }
    if (sum_after != sum_before) return FAIL_SORT_SUM;
    h = mix(h, (uint32_t)sort_data[SORT_N / 2]);
    h = mix(h, (uint32_t)sort_data[round % SORT_N]);

    for (int i = 0; i < MAT_N; i++)
      for (int j = 0; j < MAT_N; j++) {
        mat_a[i][j] = xorshift32();
        mat_b[i][j] = xorshift32() % 1000u; // a division per element, too
      }
    matmul();
    if (!matmul_verified()) return FAIL_MATRIX;
    for (int i = 0; i < MAT_N; i++) h = mix(h, mat_c[i][(i * 7 + round) % MAT_N]);

    if ((round & 7) == 0) {
      uint64_t primes_hash = 0;
      if (sieve(&primes_hash) != SIEVE_PRIMES) return FAIL_SIEVE;
      h = mix(h, primes_hash);
    }
  }
  *out = h;
  return 0;
}
#else /* RAW_LOOP */

// The raw loop: 8 integer instructions per iteration and no memory access, the kind of loop issue 14's MIPS
// target is stated for. The host build runs the same arithmetic in C to recompute EXPECTED_CHECKSUM.
static int workload(uint64_t *out) {
  uint64_t a = 0x9E3779B97F4A7C15ULL, b = 1, n = LOOP_ITERATIONS;
#ifdef HOST
  for (; n != 0; n--) {
    b += a;
    a ^= b;
    a -= b << 3;
    b += a >> 7;
  }
#else
  uint64_t t0, t1;
  __asm__ volatile(
      "1:\n\t"
      "add  %1, %1, %0\n\t"
      "xor  %0, %0, %1\n\t"
      "slli %3, %1, 3\n\t"
      "sub  %0, %0, %3\n\t"
      "srli %4, %0, 7\n\t"
      "add  %1, %1, %4\n\t"
      "addi %2, %2, -1\n\t"
      "bnez %2, 1b"
      : "+r"(a), "+r"(b), "+r"(n), "=&r"(t0), "=&r"(t1));
#endif
  *out = a ^ b;
  return 0;
}
#endif /* RAW_LOOP */

#ifdef HOST
#include <stdio.h>
int main(void) {
  uint64_t h = 0;
  int r = workload(&h);
  printf("result %d checksum 0x%016llxULL (ROUNDS %d)\n", r, (unsigned long long)h, ROUNDS);
  return r;
}
#else
extern volatile uint64_t tohost;
extern volatile uint64_t fromhost;

static void putchar_htif(char c) {
  tohost = (1ULL << 56) | (1ULL << 48) | (uint8_t)c; // device 1 (console), command 1 (putchar)
  while (tohost != 0) {
  }
  fromhost = 0;
}

static void puts_htif(const char *s) {
  while (*s) putchar_htif(*s++);
}

static void puthex_htif(uint64_t v) {
  puts_htif("0x");
  for (int shift = 60; shift >= 0; shift -= 4) putchar_htif("0123456789abcdef"[(v >> shift) & 0xF]);
}

int main(void) {
  uint64_t h = 0;
  int r = workload(&h);
  if (r == 0 && EXPECTED_CHECKSUM != 0 && h != EXPECTED_CHECKSUM) r = FAIL_CHECKSUM;
  puts_htif("workload: checksum ");
  puthex_htif(h);
  // The guest's own count, for cross-checking the emulator's (only meaningful under qemu with -icount).
  uint64_t instret;
  __asm__ volatile("csrr %0, minstret" : "=r"(instret));
  puts_htif(" minstret ");
  puthex_htif(instret);
  puts_htif(r == 0 ? " ok\n" : " FAILED\n");
  return r;
}
#endif
