// Loading a Linux guest: kernel formats (RISC-V "Image" per Documentation/arch/riscv/boot-image-header.rst,
// and ELF), the RAM layout of kernel, initrd and device tree, and OpenSBI's fw_dynamic handoff structure.
import { parseElfLayout, type ElfSource } from './elf.js';
import { ElfError } from './elf-types.js';
import { imageHead, imageSize, sliceImage, type BootImage } from './boot-file.js';

/** A kernel, firmware or initrd file tvisor cannot use; the message is one line a user can act on. */
export class BootError extends Error {
  override name = 'BootError';
}

export interface KernelImage {
  /** 'raw': a firmware binary run from its first byte at the start of RAM (parseFirmware). */
  format: 'image' | 'elf' | 'raw';
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
 * Checks a RISC-V Image header against the size of its file (`head` holds at least its first 64 bytes, and
 * its PE header when it has one), so a caller can vet a kernel without reading all of it. image_size is the
 * kernel's whole footprint, bss included, so it must be set (0 would leave no room for bss: the initrd and
 * device tree could land on it) and at least the file's size.
 */
export function imageHeader(head: Uint8Array, fileSize: number): { textOffset: number; imageSize: number } {
  const textOffset = u64(head, 8);
  const imageSize = u64(head, 16);
  if (textOffset % 4096 !== 0 || textOffset > 2 ** 31) throw new BootError(`the Image header's text_offset 0x${textOffset.toString(16)} is not usable`);
  if (imageSize === 0) throw new BootError('the Image header\'s image_size is 0, so the kernel\'s memory footprint is unknown: the file is damaged or not made by the kernel build; use the Image from the kernel build or package');
  if (imageSize < fileSize || imageSize > 2 ** 31) throw new BootError(`the Image header's image_size ${imageSize} does not fit the file (${fileSize} bytes): the file is corrupt`);
  const rawEnd = peRawEnd(head);
  if (rawEnd !== null && fileSize < rawEnd) {
    throw new BootError(`is truncated: ${fileSize} bytes, but its PE header says the Image has ${rawEnd}; copy the complete file again`);
  }
  return { textOffset, imageSize };
}

/**
 * The file size a PE/COFF Image (the EFI stub: "MZ", e_lfanew at 0x3c) claims: the end of its last section's
 * raw data (PE format, "Section Table"). Null when `head` holds no complete PE header and section table.
 */
function peRawEnd(head: Uint8Array): number | null {
  if (head.length < 64 || ascii(head, 0, 2) !== 'MZ') return null;
  const v = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const pe = v.getUint32(0x3c, true);
  if (pe < 64 || pe + 24 > head.length || ascii(head, pe, 4) !== 'PE\0\0') return null;
  const sections = v.getUint16(pe + 6, true);
  const table = pe + 24 + v.getUint16(pe + 20, true);
  if (sections === 0 || table + sections * 40 > head.length) return null;
  let end = 0;
  for (let i = 0; i < sections; i++) {
    const at = table + i * 40;
    const rawSize = v.getUint32(at + 16, true);
    if (rawSize > 0) end = Math.max(end, v.getUint32(at + 20, true) + rawSize);
  }
  return end;
}

/** The ELF magic, at the start of a vmlinux. */
const isElf = (head: Uint8Array) => head.length >= 4 && head[0] === 0x7f && ascii(head, 1, 3) === 'ELF';

/** The most header bytes an ELF kernel in a file may make us read (its program header table): 1 MiB. */
const MAX_ELF_HEADERS = 1 << 20;

/**
 * Identifies and lays out a kernel in memory or in a file with bounded reads: a RISC-V Linux Image is judged
 * by its header and size, an ELF (vmlinux) by its ELF and program headers (a file's body is read only when it
 * is loaded), and anything else is named from its first bytes without reading the rest.
 */
export function parseKernelImage(kernel: BootImage, ramBase: number): KernelImage {
  if (kernel instanceof Uint8Array) return parseKernel(kernel, ramBase);
  const head = imageHead(kernel, 4096);
  if (isElf(head)) return elfKernel(kernel, ramBase);
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

/** The kernel as an ElfSource: reads beyond MAX_ELF_HEADERS (a hostile program header table) are refused. */
function elfSource(kernel: BootImage): ElfSource {
  return {
    size: imageSize(kernel),
    read(offset, length) {
      if (length > MAX_ELF_HEADERS) throw new BootError(`the ELF kernel's program header table is ${length} bytes, more than a kernel has (at most ${MAX_ELF_HEADERS}); the file is corrupt`);
      if (kernel instanceof Uint8Array) return kernel.subarray(offset, offset + length);
      const out = new Uint8Array(length);
      kernel.read(out, offset);
      return out;
    },
  };
}

/**
 * Lays out an ELF kernel from its headers; each segment's data stays a slice of the image until loaded.
 * Firmware (`what` = 'firmware') must be linked at physical addresses in RAM: nothing else would run it.
 */
function elfKernel(kernel: BootImage, ramBase: number, what: 'kernel' | 'firmware' = 'kernel'): KernelImage {
  let elf;
  try {
    elf = parseElfLayout(elfSource(kernel));
  } catch (e) {
    if (e instanceof ElfError) throw new BootError(e.message);
    throw e;
  }
  const loads = elf.segments.filter((s) => s.memsz > 0).map((s) => ({ ...s, data: sliceImage(kernel, s.offset, s.filesz) }));
  if (loads.length === 0) throw new BootError(`the ELF ${what} has nothing to load`);
  // vmlinux is linked at its virtual address; its physical placement is relative: keep the segments'
  // spacing and put the lowest at RAM + 2 MiB (where the Image format would go), unless p_paddr is in RAM.
  const inRam = loads.every((s) => s.paddr >= BigInt(ramBase) && s.paddr < BigInt(ramBase) + 2n ** 31n);
  if (!inRam && what === 'firmware') {
    const at = loads.find((s) => s.paddr < BigInt(ramBase) || s.paddr >= BigInt(ramBase) + 2n ** 31n)!.paddr;
    throw new BootError(`the ELF firmware has a segment at physical address 0x${at.toString(16)}, outside RAM (0x${ramBase.toString(16)} on): firmware runs where it is linked`);
  }
  const low = loads.reduce((m, s) => (s.paddr < m ? s.paddr : m), loads[0].paddr);
  const shift = inRam ? -BigInt(ramBase) : 0x200000n - low;
  const pieces = loads.map((s) => ({ offset: Number(s.paddr + shift), data: s.data, memsz: s.memsz }));
  const vlow = loads.reduce((m, s) => (s.vaddr < m ? s.vaddr : m), loads[0].vaddr);
  const entryOffset = Number(elf.entry - vlow + (inRam ? low - BigInt(ramBase) : 0x200000n));
  const endOffset = Math.max(...pieces.map((p) => p.offset + p.memsz));
  if (entryOffset < 0 || entryOffset >= endOffset) throw new BootError(`the ELF ${what} entry point lies outside its segments`);
  return { format: 'elf', pieces, entryOffset, endOffset };
}

/**
 * Lays out M-mode firmware: an ELF (OpenSBI's fw_dynamic.elf, a kernel that is its own firmware such as xv6)
 * where its program headers put it; any other file is a raw binary (fw_dynamic.bin) run from its first byte
 * at the start of RAM, as QEMU's -bios loads one.
 */
export function parseFirmware(firmware: BootImage, ramBase: number): KernelImage {
  if (isElf(imageHead(firmware, 4))) return elfKernel(firmware, ramBase, 'firmware');
  const size = imageSize(firmware);
  if (size === 0) throw new BootError('the firmware file is empty');
  return { format: 'raw', pieces: [{ offset: 0, data: firmware, memsz: size }], entryOffset: 0, endOffset: size };
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
