// Unit tests of the Linux loader: RISC-V Image headers, ELF kernels (built with Debian's riscv64 toolchain at
// test time, linked high like vmlinux), foreign formats, and the RAM layout of kernel, initrd and device tree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseKernel, parseKernelImage, layoutBoot, fwDynamicInfo, BootError } from './linux.js';
import { imageSize, type BootFile } from './boot-file.js';
import { tinyElf } from './test-images.js';

const RAM = 0x8000_0000;
const MiB = 2 ** 20;

function header(magic2: string, textOffset: bigint, imageSize: bigint, length = 4096): Uint8Array {
  const b = Buffer.alloc(length);
  b.write('MZ', 0, 'latin1');
  b.writeBigUInt64LE(textOffset, 8);
  b.writeBigUInt64LE(imageSize, 16);
  b.write(magic2, 56, 'latin1');
  return new Uint8Array(b);
}

test('a RISC-V Image loads at RAM + text_offset and reserves image_size', () => {
  const k = parseKernel(header('RSC\x05', 0x200000n, 0x10000n), RAM);
  assert.equal(k.format, 'image');
  assert.equal(k.entryOffset, 0x200000);
  assert.equal(k.endOffset, 0x210000);
  assert.equal(k.pieces[0].offset, 0x200000);
});

test('corrupt or foreign kernels are refused with a reason', () => {
  assert.throws(() => parseKernel(header('RSC\x05', 0x200000n, 16n), RAM), /image_size .* corrupt/);
  assert.throws(() => parseKernel(header('ARM\x64', 0n, 0n), RAM), /arm64/);
  assert.throws(() => parseKernel(new Uint8Array([0x1f, 0x8b, 8, 0]), RAM), /gzip/);
  assert.throws(() => parseKernel(new Uint8Array(0), RAM), /empty/);
  assert.throws(() => parseKernel(new Uint8Array(100).fill(7), RAM), (e) => e instanceof BootError && /neither/.test(e.message));
});

test('an ELF kernel linked at a high virtual address is placed at RAM + 2 MiB with its entry', { skip: spawnSync('riscv64-unknown-elf-gcc', ['--version']).status === 0 ? false : 'riscv64-unknown-elf-gcc missing' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tvisor-elfk-'));
  try {
    writeFileSync(join(dir, 'k.S'), '.section .text\n.globl _start\nnop\n_start: j _start\n.section .data\n.dword 1\n');
    writeFileSync(join(dir, 'k.ld'), 'ENTRY(_start)\nSECTIONS { . = 0xffffffff80000000; .text : AT(0x0) { *(.text) } . = ALIGN(4096); .data : AT(0x1000) { *(.data) } }\n');
    const r = spawnSync('riscv64-unknown-elf-gcc', ['-march=rv64i', '-mabi=lp64', '-nostdlib', '-static', '-T', join(dir, 'k.ld'), '-o', join(dir, 'k.elf'), join(dir, 'k.S')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const k = parseKernel(new Uint8Array(readFileSync(join(dir, 'k.elf'))), RAM);
    assert.equal(k.format, 'elf');
    assert.equal(k.pieces[0].offset, 0x200000, 'lowest segment at RAM + 2 MiB');
    assert.equal(k.entryOffset, 0x200004, 'entry keeps its distance from the segment start');
    assert.ok(k.pieces.some((p) => p.offset === 0x201000), 'segment spacing kept');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('initrd and device tree sit at the top of RAM, clear of the kernel', () => {
  const l = layoutBoot(512 * MiB, 32 * MiB, 11 * MiB);
  assert.ok(l.dtbOffset + 64 * 1024 <= 512 * MiB);
  assert.ok(l.initrdEnd <= l.fwInfoOffset && l.fwInfoOffset < l.dtbOffset);
  assert.ok(l.initrdOffset >= 32 * MiB);
  assert.equal(l.initrdOffset % (2 * MiB), 0);
  assert.throws(() => layoutBoot(64 * MiB, 40 * MiB, 30 * MiB), /do not fit in 64 MiB/);
});

test('fw_dynamic_info carries magic, version 2, the kernel entry and S-mode', () => {
  const v = new DataView(fwDynamicInfo(0x80200000n, 0).buffer);
  assert.equal(v.getBigUint64(0, true), 0x4942534fn);
  assert.equal(v.getBigUint64(8, true), 2n);
  assert.equal(v.getBigUint64(16, true), 0x80200000n);
  assert.equal(v.getBigUint64(24, true), 1n);
});

/** A BootFile over `bytes` padded (virtually) to `size` with zeroes, counting the bytes read from it. */
function countingFile(bytes: Uint8Array, size: number): BootFile & { readBytes: number } {
  const f = {
    size,
    readBytes: 0,
    read(into: Uint8Array, position: number) {
      f.readBytes += into.length;
      into.fill(0);
      if (position < bytes.length) into.set(bytes.subarray(position, Math.min(bytes.length, position + into.length)));
    },
  };
  return f;
}

/** An ELF64 RISC-V header with one PT_LOAD of `filesz` bytes at file offset 0x1000, linked at RAM + 2 MiB. */
const elfHeader = (filesz: bigint, memsz = filesz): Uint8Array => tinyElf({ addr: 0x8020_0000n, filesz, memsz });

test('an ELF kernel in a file is laid out from its headers alone: a 1.5 GiB one costs a few KiB of reads', () => {
  const size = 0x1000 + 1536 * MiB;
  const f = countingFile(elfHeader(BigInt(1536 * MiB)), size);
  const k = parseKernelImage(f, RAM);
  assert.equal(k.format, 'elf');
  assert.equal(k.pieces[0].offset, 0x200000);
  assert.equal(imageSize(k.pieces[0].data), 1536 * MiB, 'the segment is a slice of the file, not read');
  assert.ok(f.readBytes <= 8192, `read ${f.readBytes} bytes`);
  // its bytes come from the right place when loaded
  const into = new Uint8Array(16);
  (k.pieces[0].data as BootFile).read(into, 0);
  assert.equal(f.readBytes <= 8192 + 16, true);
});

test('an ELF kernel whose segment runs past the end of its file is refused as truncated', () => {
  const f = countingFile(elfHeader(0x10000n), 0x1000 + 0x8000);
  assert.throws(() => parseKernelImage(f, RAM), (e) => e instanceof BootError && /truncated ELF: segment 0 data/.test(e.message));
});

test('an Image with image_size 0 is refused instead of booting without room for its bss', () => {
  assert.throws(() => parseKernel(header('RSC\x05', 0x200000n, 0n), RAM), (e) => e instanceof BootError && /image_size is 0/.test(e.message));
});

test('an EFI-stub Image shorter than its PE section table says is refused as truncated', () => {
  // a minimal PE header at 0x40 with one section whose raw data ends at 0x3000
  const full = header('RSC\x05', 0x200000n, 0x10000n, 0x3000);
  const v = new DataView(full.buffer);
  v.setUint32(0x3c, 0x40, true);
  full.set([0x50, 0x45, 0, 0], 0x40);
  v.setUint16(0x40 + 6, 1, true); // one section
  v.setUint16(0x40 + 20, 0, true); // no optional header
  const sec = 0x40 + 24;
  v.setUint32(sec + 16, 0x2000, true); // SizeOfRawData
  v.setUint32(sec + 20, 0x1000, true); // PointerToRawData
  assert.equal(parseKernel(full, RAM).format, 'image', 'complete: accepted');
  assert.equal(parseKernelImage(countingFile(full, full.length), RAM).format, 'image');
  assert.throws(() => parseKernel(full.subarray(0, 0x2800), RAM), (e) => e instanceof BootError && /is truncated: 10240 bytes, but its PE header says the Image has 12288/.test(e.message));
  assert.throws(() => parseKernelImage(countingFile(full, 0x2800), RAM), /is truncated/);
});
