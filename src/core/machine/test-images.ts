// Tiny RISC-V Linux Images for the machine's tests: a 4 KiB file with a valid header and a few instructions.

/**
 * An Image whose code is `words`: at offset 0 when they fit the header's code0/code1 (two words), else at 0x40
 * behind a jump over the header.
 */
export function tinyImage(words: number[]): Uint8Array {
  const b = new Uint8Array(4096);
  const v = new DataView(b.buffer);
  if (words.length <= 2) words.forEach((w, i) => v.setUint32(4 * i, w, true));
  else {
    v.setUint32(0, 0x0400006f, true); // j +0x40
    words.forEach((w, i) => v.setUint32(0x40 + 4 * i, w, true));
  }
  v.setBigUint64(8, 0x200000n, true); // text_offset
  v.setBigUint64(16, 4096n, true); // image_size
  b.set([0x52, 0x53, 0x43, 0x05], 0x38); // "RSC\x05"
  return b;
}

/** A guest that only ever waits: `wfi; j -4`. */
export const idleKernel = (): Uint8Array => tinyImage([0x10500073, 0xffdff06f]);

/**
 * The headers (0x1000 bytes) of an ELF64 RISC-V executable with one PT_LOAD at file offset 0x1000, linked at
 * `addr` (virtual = physical); `code` words follow as its data (`filesz` defaults to their size).
 */
export function tinyElf(opts: { addr: bigint; entry?: bigint; code?: number[]; filesz?: bigint; memsz?: bigint }): Uint8Array {
  const code = opts.code ?? [];
  const filesz = opts.filesz ?? BigInt(4 * code.length);
  const b = new Uint8Array(0x1000 + 4 * code.length);
  const v = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0); // ELF, 64-bit, little-endian, version 1
  v.setUint16(16, 2, true); // ET_EXEC
  v.setUint16(18, 243, true); // EM_RISCV
  v.setUint32(20, 1, true);
  v.setBigUint64(24, opts.entry ?? opts.addr, true);
  v.setBigUint64(32, 64n, true); // e_phoff
  v.setUint16(52, 64, true); // e_ehsize
  v.setUint16(54, 56, true); // e_phentsize
  v.setUint16(56, 1, true); // e_phnum
  v.setUint32(64, 1, true); // PT_LOAD
  v.setUint32(68, 5, true); // R+X
  v.setBigUint64(72, 0x1000n, true); // p_offset
  v.setBigUint64(80, opts.addr, true); // p_vaddr
  v.setBigUint64(88, opts.addr, true); // p_paddr
  v.setBigUint64(96, filesz, true);
  v.setBigUint64(104, opts.memsz ?? filesz, true);
  code.forEach((w, i) => v.setUint32(0x1000 + 4 * i, w, true));
  return b;
}

// RV64I encodings, enough for the flash program below
const lui = (rd: number, imm20: number) => ((imm20 << 12) | (rd << 7) | 0x37) >>> 0;
const addi = (rd: number, rs1: number, imm: number) => (((imm & 0xfff) << 20) | (rs1 << 15) | (rd << 7) | 0x13) >>> 0;
const slli = (rd: number, rs1: number, sh: number) => ((sh << 20) | (rs1 << 15) | (1 << 12) | (rd << 7) | 0x13) >>> 0;
const ld = (rd: number, rs1: number, imm: number) => (((imm & 0xfff) << 20) | (rs1 << 15) | (3 << 12) | (rd << 7) | 0x03) >>> 0;
const store = (f3: number) => (rs2: number, rs1: number, imm: number) =>
  ((((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 0x1f) << 7) | 0x23) >>> 0;
const sw = store(2);
const sd = store(3);
const [T0, T1, T2, T3, T4, A0, A1] = [5, 6, 7, 28, 29, 10, 11];

/** A flash bank 0 image: `words` from its start, 8 data bytes at the misaligned offset 0x103. */
function flashImage(words: number[]): Uint8Array {
  const b = new Uint8Array(0x200);
  const v = new DataView(b.buffer);
  words.forEach((w, i) => v.setUint32(4 * i, w, true));
  v.setBigUint64(0x103, 0x1122334455667788n, true);
  return b;
}

/**
 * Runs from bank 0 in M-mode: reads the misaligned doubleword from bank 0 into RAM's first doubleword, programs
 * 0x12345678 at bank 1 + 0x10 (Intel word program: 0x40 on both 16-bit chips, then the data), powers off.
 */
const FLASH_PROGRAM = [
  lui(T0, 0x20000), // t0 = bank 0
  ld(T1, T0, 0x103),
  addi(T2, 0, 1), slli(T2, T2, 31), // t2 = 0x80000000 (RAM)
  sd(T1, T2, 0),
  lui(T3, 0x22000), // t3 = bank 1
  lui(A0, 0x400), addi(A0, A0, 0x40), sw(A0, T3, 0x10), // 0x00400040: word program
  lui(A1, 0x12345), addi(A1, A1, 0x678), sw(A1, T3, 0x10),
  lui(T4, 0x100), lui(A0, 5), addi(A0, A0, 0x555), sw(A0, T4, 0), // syscon: 0x5555 = power off
  0x0000006f, // j .
];

/** Flash bank 0 holding FLASH_PROGRAM (run it in M-mode from 0x20000000: firmware 'none', no kernel). */
export const flashTestImage = (): Uint8Array => flashImage(FLASH_PROGRAM);
