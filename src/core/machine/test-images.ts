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
