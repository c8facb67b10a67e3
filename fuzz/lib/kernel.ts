// What a VM does with a kernel file at create and boot (src/core/machine/vm.ts), on bytes from the fuzzer:
// identify and lay it out, place it with an initrd and device tree in a small RAM, and copy its pieces there.
// Expected failures are BootError (and ElfError from parseElf); whatever passes must fit the RAM it was given.
import { BootError, layoutBoot, parseKernelImage } from '../../src/core/machine/linux.js';
import { copyImage, imageSize, type BootImage } from '../../src/core/machine/boot-file.js';
import { expectOnly } from './bytes.js';

const RAM_BASE = 0x8000_0000;
/** Small, so that a huge header is refused by the layout instead of costing the fuzzer memory. */
export const FUZZ_RAM = 16 << 20;

export function loadKernel(kernel: BootImage, initrdSize: number): void {
  let k;
  let layout;
  try {
    k = parseKernelImage(kernel, RAM_BASE);
    layout = layoutBoot(FUZZ_RAM, k.endOffset, initrdSize);
  } catch (e) {
    expectOnly(e, BootError);
    return;
  }
  if (!(k.entryOffset >= 0 && k.entryOffset < k.endOffset)) throw new Error(`entry ${k.entryOffset} outside the kernel (end ${k.endOffset})`);
  const ram = new Uint8Array(FUZZ_RAM);
  for (const p of k.pieces) {
    const size = imageSize(p.data);
    if (!Number.isSafeInteger(p.offset) || p.offset < 0 || size > p.memsz || p.offset + p.memsz > k.endOffset) {
      throw new Error(`piece at ${p.offset} (${size} of ${p.memsz} bytes) lies outside the kernel's footprint (end ${k.endOffset})`);
    }
    if (p.offset + p.memsz > layout.initrdOffset) throw new Error(`piece at ${p.offset} overlaps the initrd at ${layout.initrdOffset}`);
    copyImage(p.data, ram.subarray(p.offset, p.offset + size));
  }
}
