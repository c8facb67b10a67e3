// Fuzz target: a kernel file as the VM reads it, a BootFile (src/host/node/boot-file.ts reads one from disk)
// over the fuzzer's bytes: the RISC-V Image header judged against the file's size, the boot layout with an
// initrd, and the copy into RAM; a file that shrank since it was checked must fail with a message too.
import { BootError } from '../../src/core/machine/linux.js';
import type { BootFile } from '../../src/core/machine/boot-file.js';
import { Bytes, expectOnly } from '../lib/bytes.js';
import { FUZZ_RAM, loadKernel } from '../lib/kernel.js';

/** A file of `bytes`, which may claim to be longer than it is (a file truncated after its size was read). */
function bootFile(bytes: Uint8Array, claimed: number): BootFile {
  return {
    size: claimed,
    read(into: Uint8Array, position: number): void {
      if (position + into.length > bytes.length) throw new BootError(`the file shrank: ${into.length} bytes at ${position} are gone`);
      into.set(bytes.subarray(position, position + into.length));
    },
  };
}

export function fuzz(data: Uint8Array): void {
  const b = new Bytes(data);
  const mode = b.u8();
  const initrd = (b.u8() % 4) * (FUZZ_RAM / 8);
  const bytes = b.rest();
  const claimed = mode % 8 === 0 ? bytes.length + b.u8() + 1 : bytes.length;
  try {
    loadKernel(bootFile(bytes, claimed), initrd);
  } catch (e) {
    // only a file that shrank may fail while being copied, and only with the reader's message
    if (claimed === bytes.length) throw e;
    expectOnly(e, BootError);
  }
}
