// Fuzz target: the ELF64 loader (parseElf) and an ELF kernel's layout and loading. parseElf must end in an
// ElfError for anything it cannot use, and what it returns must describe bytes inside the file.
import { ElfError, parseElf } from '../../src/core/machine/elf.js';
import { expectOnly } from '../lib/bytes.js';
import { loadKernel } from '../lib/kernel.js';

export function fuzz(data: Uint8Array): void {
  try {
    const elf = parseElf(data);
    for (const s of elf.segments) {
      if (s.data.byteOffset < data.byteOffset || s.data.byteOffset + s.data.length > data.byteOffset + data.length) throw new Error('segment data outside the file');
      if (s.data.length > s.memsz) throw new Error('segment filesz > memsz');
    }
  } catch (e) {
    expectOnly(e, ElfError);
  }
  loadKernel(data, 0);
}
