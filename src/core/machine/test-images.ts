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
