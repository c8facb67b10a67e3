// Loading a Linux guest: kernel formats (RISC-V "Image" per Documentation/arch/riscv/boot-image-header.rst,
// and ELF), the RAM layout of kernel, initrd and device tree, and OpenSBI's fw_dynamic handoff structure.
import { parseElf } from './elf.js';
import { ElfError } from './elf-types.js';
import { imageBytes, imageHead, imageSize, type BootImage } from './boot-file.js';

/** A kernel, firmware or initrd file tvisor cannot use; the message is one line a user can act on. */
export class BootError extends Error {
  override name = 'BootError';
}

export interface KernelImage {
  format: 'image' | 'elf';
  /** Pieces to copy, at byte offsets from the start of RAM. */
  pieces: { offset: number; data: BootImage; memsz: number }[];
  /** Entry point as an offset from the start of RAM. */
  entryOffset: number;
  /** End of the kernel's memory footprint (offset from RAM start), bss included. */
  endOffset: number;
}

const ascii = (b: Uint8Array, at: number, n: number) => String.fromCharCode(...b.subarray(at, at + n));
const u64 = (b: Uint8Array, at: number) => Number(new DataView(b.buffer, b.byteOffset + at, 8).getBigUint64(0, true));

/** True when `head` (the file's first 64 bytes or more) carries the RISC-V Linux Image magic. */
export function isRiscvImage(head: Uint8Array): boolean {
  return head.length >= 64 && ascii(head, 0x38, 4) === 'RSC\x05';
}

/**
 * Checks a RISC-V Image header against the size of its file (`head` holds at least its first 64 bytes), so a
 * caller can vet a kernel without reading all of it.
 */
export function imageHeader(head: Uint8Array, fileSize: number): { textOffset: number; imageSize: number } {
  const textOffset = u64(head, 8);
  const imageSize = u64(head, 16);
  if (textOffset % 4096 !== 0 || textOffset > 2 ** 31) throw new BootError(`the Image header's text_offset 0x${textOffset.toString(16)} is not usable`);
  // Linux always fills image_size (head.S: _end - _start, bss included); without it the kernel's bss would be
  // laid over the initrd and the guest would hang silently
  if (imageSize === 0) throw new BootError('the Image header\'s image_size is 0: the file is not a complete RISC-V Linux Image');
  if (imageSize < fileSize || imageSize > 2 ** 31) throw new BootError(`the Image header's image_size ${imageSize} does not fit the file (${fileSize} bytes): the file is corrupt`);
  const extent = peExtent(head);
  if (extent > fileSize) throw new BootError(`the Image is truncated: its EFI header describes ${extent} bytes, the file has ${fileSize}; copy the kernel again`);
  return { textOffset, imageSize };
}

/**
 * The file length the PE/COFF section table of an EFI-stub Image accounts for (the largest PointerToRawData +
 * SizeOfRawData, PE format "Section Table"), or 0 when the head has no PE header: Debian's Image ends exactly
 * there, so a shorter file was cut short.
 */
function peExtent(head: Uint8Array): number {
  if (head.length < 64 || ascii(head, 0, 2) !== 'MZ') return 0;
  const v = new DataView(head.buffer, head.byteOffset, head.length);
  const pe = v.getUint32(0x3c, true);
  if (pe < 64 || pe + 24 > head.length || ascii(head, pe, 4) !== 'PE\0\0') return 0;
  const sections = v.getUint16(pe + 6, true);
  let end = 0;
  for (let i = 0, at = pe + 24 + v.getUint16(pe + 20, true); i < sections && at + 40 <= head.length; i++, at += 40) {
    end = Math.max(end, v.getUint32(at + 20, true) + v.getUint32(at + 16, true));
  }
  return end;
}

/** The ELF magic, at the start of a vmlinux. */
const isElf = (head: Uint8Array) => head.length >= 4 && head[0] === 0x7f && ascii(head, 1, 3) === 'ELF';

/**
 * Identifies and lays out a kernel in memory or in a file: a RISC-V Linux Image is judged by its header and
 * size (a file's body is read only when it is loaded), an ELF (vmlinux) is read whole, and anything else is
 * named from its first bytes without reading the rest.
 */
export function parseKernelImage(kernel: BootImage, ramBase: number): KernelImage {
  const head = imageHead(kernel, 4096);
  if (isElf(head)) return elfKernel(imageBytes(kernel), ramBase);
  if (!isRiscvImage(head)) return parseKernel(head, ramBase); // throws, saying what the file is instead
  const { textOffset, imageSize: size } = imageHeader(head, imageSize(kernel));
  return { format: 'image', pieces: [{ offset: textOffset, data: kernel, memsz: size }], entryOffset: textOffset, endOffset: textOffset + size };
}

/** Identifies and lays out a kernel file: a RISC-V Linux Image, or an ELF (vmlinux). */
export function parseKernel(bytes: Uint8Array, ramBase: number): KernelImage {
  if (isElf(bytes)) return elfKernel(bytes, ramBase);
  if (isRiscvImage(bytes)) {
    const { textOffset, imageSize } = imageHeader(bytes, bytes.length);
    return {
      format: 'image',
      pieces: [{ offset: textOffset, data: bytes, memsz: imageSize }],
      entryOffset: textOffset,
      endOffset: textOffset + imageSize,
    };
  }
  if (bytes.length === 0) throw new BootError('the kernel file is empty');
  if (bytes.length >= 64 && ascii(bytes, 0x38, 4) === 'ARM\x64') throw new BootError('is an arm64 Linux Image, not RISC-V');
  if (bytes.length >= 0x206 && ascii(bytes, 0x202, 4) === 'HdrS') throw new BootError('is an x86 Linux bzImage, not RISC-V');
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) throw new BootError('is gzip-compressed: give the uncompressed Image (Debian ships it as /boot/vmlinux-*)');
  if (ascii(bytes, 0, 2) === 'MZ') throw new BootError('is a PE/EFI file without a RISC-V Linux Image header');
  throw new BootError('is neither a RISC-V Linux Image nor an ELF kernel');
}

function elfKernel(bytes: Uint8Array, ramBase: number): KernelImage {
  let elf;
  try {
    elf = parseElf(bytes);
  } catch (e) {
    if (e instanceof ElfError) throw new BootError(e.message);
    throw e;
  }
  const loads = elf.segments.filter((s) => s.memsz > 0);
  if (loads.length === 0) throw new BootError('the ELF kernel has nothing to load');
  // vmlinux is linked at its virtual address; its physical placement is relative: keep the segments'
  // spacing and put the lowest at RAM + 2 MiB (where the Image format would go), unless p_paddr is in RAM.
  const inRam = loads.every((s) => s.paddr >= BigInt(ramBase) && s.paddr < BigInt(ramBase) + 2n ** 31n);
  const low = loads.reduce((m, s) => (s.paddr < m ? s.paddr : m), loads[0].paddr);
  const shift = inRam ? -BigInt(ramBase) : 0x200000n - low;
  const pieces = loads.map((s) => ({ offset: Number(s.paddr + shift), data: s.data, memsz: s.memsz }));
  const vlow = loads.reduce((m, s) => (s.vaddr < m ? s.vaddr : m), loads[0].vaddr);
  const entryOffset = Number(elf.entry - vlow + (inRam ? low - BigInt(ramBase) : 0x200000n));
  const endOffset = Math.max(...pieces.map((p) => p.offset + p.memsz));
  if (entryOffset < 0 || entryOffset >= endOffset) throw new BootError('the ELF kernel entry point lies outside its segments');
  return { format: 'elf', pieces, entryOffset, endOffset };
}

export interface BootLayout {
  /** Offsets from the start of RAM. */
  dtbOffset: number;
  initrdOffset: number;
  initrdEnd: number;
  fwInfoOffset: number;
}

const MiB = 1 << 20;
/** Space reserved at the top of RAM for the device tree (and the fw_dynamic info below it). */
export const DTB_MAX = 64 * 1024;

/**
 * Places the device tree at the top of RAM and the initrd just below it (2 MiB aligned down, as Linux wants
 * it away from the kernel's early allocations); fails when they would overlap the kernel.
 */
export function layoutBoot(ramSize: number, kernelEnd: number, initrdSize: number): BootLayout {
  const dtbOffset = ramSize - DTB_MAX;
  const fwInfoOffset = dtbOffset - 4096;
  let initrdOffset = fwInfoOffset;
  if (initrdSize > 0) initrdOffset = Math.floor((fwInfoOffset - initrdSize) / (2 * MiB)) * 2 * MiB;
  if (initrdOffset < kernelEnd || dtbOffset < kernelEnd) {
    const need = Math.ceil((kernelEnd + initrdSize + DTB_MAX + 4 * MiB) / MiB);
    throw new BootError(`the kernel (${Math.ceil(kernelEnd / MiB)} MiB) and initrd (${Math.ceil(initrdSize / MiB)} MiB) do not fit in ${ramSize / MiB} MiB of guest memory; give --memory ${need}M or more`);
  }
  return { dtbOffset, initrdOffset, initrdEnd: initrdOffset + initrdSize, fwInfoOffset };
}

/** OpenSBI's struct fw_dynamic_info (version 2): what fw_dynamic jumps to after initialising. */
export function fwDynamicInfo(nextAddr: bigint, bootHart: number): Uint8Array {
  const b = new Uint8Array(48);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, 0x4942534fn, true); // magic "OSBI"
  v.setBigUint64(8, 2n, true); // version
  v.setBigUint64(16, nextAddr, true); // next_addr: the kernel entry
  v.setBigUint64(24, 1n, true); // next_mode: S-mode
  v.setBigUint64(32, 0n, true); // options
  v.setBigUint64(40, BigInt(bootHart), true); // boot_hart
  return b;
}
