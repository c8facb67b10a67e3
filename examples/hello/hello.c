// Hello world for tvisor: prints through the HTIF console, then returns 0, which start.S turns into "pass".

#include <stdint.h>

extern volatile uint64_t tohost;
extern volatile uint64_t fromhost;

// HTIF command word: device in bits 63:56, command in bits 55:48, payload below. Device 1 (console),
// command 1 (putchar) prints the low byte of the payload.
#define HTIF_CONSOLE_PUTCHAR ((1ULL << 56) | (1ULL << 48))

static void putchar_htif(char c) {
  tohost = HTIF_CONSOLE_PUTCHAR | (uint8_t)c;
  while (tohost != 0) {
    // the host clears tohost once it has taken the command
  }
  fromhost = 0;  // spike and QEMU acknowledge console commands through fromhost; consume the reply
}

static void puts_htif(const char *s) {
  while (*s) putchar_htif(*s++);
}

int main(void) {
  puts_htif("Hello from tvisor\n");
  return 0;
}
