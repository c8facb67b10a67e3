// Unit tests of the Linux loader: RISC-V Image headers, ELF kernels (built with Debian's riscv64 toolchain at
// test time, linked high like vmlinux), foreign formats, and the RAM layout of kernel, initrd and device tree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseKernel, layoutBoot, fwDynamicInfo, BootError } from './linux.js';

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
  assert.throws(() => parseKernel(header('RSC\x05', 0x200000n, 0n), RAM), /image_size is 0/);
  assert.throws(() => parseKernel(header('ARM\x64', 0n, 0n), RAM), /arm64/);
  assert.throws(() => parseKernel(new Uint8Array([0x1f, 0x8b, 8, 0]), RAM), /gzip/);
  assert.throws(() => parseKernel(new Uint8Array(0), RAM), /empty/);
  assert.throws(() => parseKernel(new Uint8Array(100).fill(7), RAM), (e) => e instanceof BootError && /neither/.test(e.message));
});

test('an EFI-stub Image shorter than its PE sections say is refused as truncated', () => {
  const b = header('RSC\x05', 0x200000n, 0x4000n, 0x3000);
  const v = new DataView(b.buffer);
  v.setUint32(0x3c, 0x40, true); // e_lfanew
  b.set([0x50, 0x45, 0, 0], 0x40); // "PE\0\0"
  v.setUint16(0x40 + 6, 2, true); // two sections right after an empty optional header
  v.setUint32(0x58 + 16, 0x1000, true); // .text: 4 KiB of raw data at 4 KiB
  v.setUint32(0x58 + 20, 0x1000, true);
  v.setUint32(0x80 + 16, 0x2000, true); // .data: 8 KiB at 8 KiB, so the file needs 16 KiB
  v.setUint32(0x80 + 20, 0x2000, true);
  assert.throws(() => parseKernel(b, RAM), /truncated: its EFI header describes 16384 bytes, the file has 12288/);
  const whole = new Uint8Array(0x4000);
  whole.set(b);
  assert.equal(parseKernel(whole, RAM).endOffset, 0x204000);
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
