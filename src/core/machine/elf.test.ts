// Tests for the ELF64 parser: real executables from riscv64-unknown-elf-gcc checked against readelf, and
// crafted or damaged files that must end in an ElfError (never a RangeError or TypeError).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseElf } from './elf.js';
import { ElfError, type ElfImage } from './elf-types.js';
import { buildElf, GCC, hasTool, tempDir } from '../../../tests/lib/toolchain.js';

const READELF = 'riscv64-unknown-elf-readelf';
/** The parser does not care about extensions; a base that every binutils version knows keeps the test portable. */
const MARCH64 = 'rv64imac_zicsr';
const STRIP = 'riscv64-unknown-elf-strip';

// Three loadable pieces (text, data, bss) plus locals with the same name in two objects.
const MAIN_S = `
  .section .text.init, "ax", @progbits
  .globl _start
_start:
  la sp, stack_top
  call helper
  la t0, tohost
  li t1, 1
loop:
  sd t1, 0(t0)
  j loop

  .data
  .globl message
message: .asciz "hello"
counter: .dword 42

  .section .tohost, "aw", @progbits
  .align 6
  .globl tohost
tohost: .dword 0
  .align 6
  .globl fromhost
fromhost: .dword 0

  .bss
  .align 4
stack: .zero 4096
  .globl stack_top
stack_top:
`;
const HELPER_S = `
  .text
  .globl helper
helper:
  li a0, 7
counter:
  ret
`;
const LINK_LD = `
OUTPUT_ARCH(riscv)
ENTRY(_start)
SECTIONS {
  . = 0x80000000;
  .text : { *(.text.init) *(.text .text.*) }
  . = ALIGN(0x1000);
  .data : { *(.data .data.* .sdata .sdata.*) }
  .tohost : { *(.tohost) }
  .bss : { *(.bss .bss.* .sbss .sbss.*) }
  _end = .;
}
`;

interface ReadelfLoad {
  offset: number;
  vaddr: bigint;
  paddr: bigint;
  filesz: number;
  memsz: number;
  flags: number;
}
interface ReadelfSymbol {
  value: bigint;
  type: string;
  bind: string;
  ndx: string;
  name: string;
}
interface Readelf {
  entry: bigint;
  loads: ReadelfLoad[];
  symbols: ReadelfSymbol[];
}

function readelf(file: string): Readelf {
  const r = spawnSync(READELF, ['-h', '-l', '-s', '-W', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${READELF} failed: ${r.stderr}`);
  const entryMatch = /Entry point address:\s+(0x[0-9a-f]+)/.exec(r.stdout);
  assert.ok(entryMatch, 'readelf printed no entry point');
  const loads: ReadelfLoad[] = [];
  const symbols: ReadelfSymbol[] = [];
  for (const line of r.stdout.split('\n')) {
    const l = /^\s*LOAD\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+([RWE ]{3})\s+0x[0-9a-f]+\s*$/.exec(line);
    if (l) {
      const f = l[6];
      loads.push({
        offset: Number(l[1]),
        vaddr: BigInt(l[2]),
        paddr: BigInt(l[3]),
        filesz: Number(l[4]),
        memsz: Number(l[5]),
        flags: (f[0] === 'R' ? 4 : 0) | (f[1] === 'W' ? 2 : 0) | (f[2] === 'E' ? 1 : 0),
      });
      continue;
    }
    const s = /^\s*\d+:\s+([0-9a-f]{16})\s+\d+\s+(\S+)\s+(\S+)\s+\S+\s+(\S+)\s*(\S*)$/.exec(line);
    if (s) symbols.push({ value: BigInt('0x' + s[1]), type: s[2], bind: s[3], ndx: s[4], name: s[5] });
  }
  return { entry: BigInt(entryMatch[1]), loads, symbols };
}

/** Checks a parse against readelf: entry, every PT_LOAD (addresses, sizes, flags, bytes) and every symbol. */
function assertMatchesReadelf(file: string, image: ElfImage, expectSymbols: boolean): void {
  const bytes = readFileSync(file);
  const ref = readelf(file);
  assert.equal(image.entry, ref.entry, 'entry point');
  assert.equal(image.segments.length, ref.loads.length, 'number of PT_LOAD segments');
  ref.loads.forEach((load, i) => {
    const seg = image.segments[i];
    assert.equal(seg.vaddr, load.vaddr, `segment ${i} vaddr`);
    assert.equal(seg.paddr, load.paddr, `segment ${i} paddr`);
    assert.equal(seg.data.length, load.filesz, `segment ${i} filesz`);
    assert.equal(seg.memsz, load.memsz, `segment ${i} memsz`);
    assert.equal(seg.flags, load.flags, `segment ${i} flags`);
    assert.deepEqual(Buffer.from(seg.data), bytes.subarray(load.offset, load.offset + load.filesz), `segment ${i} bytes`);
  });
  const named = ref.symbols.filter((s) => s.name !== '' && s.ndx !== 'UND' && s.type !== 'SECTION' && s.type !== 'FILE');
  if (!expectSymbols) {
    assert.equal(named.length, 0, 'readelf sees symbols in a stripped file');
    assert.equal(image.symbols.size, 0);
    return;
  }
  assert.ok(named.length > 0, 'readelf found no symbols');
  assert.equal(image.symbols.size, new Set(named.map((s) => s.name)).size, 'number of distinct symbol names');
  for (const sym of named) {
    const sameName = named.filter((s) => s.name === sym.name);
    const globals = sameName.filter((s) => s.bind !== 'LOCAL');
    // A name defined once, or a global that shadows locals of the same name, must map to exactly that value.
    if (sameName.length === 1 || (globals.length === 1 && globals[0] === sym)) {
      assert.equal(image.symbols.get(sym.name), sym.value, `symbol ${sym.name}`);
    } else {
      assert.ok(sameName.some((s) => s.value === image.symbols.get(sym.name)), `symbol ${sym.name} has one of its values`);
    }
  }
}

/** Parses and returns the ElfError, failing the test on success or on any other exception. */
function elfError(bytes: Uint8Array): ElfError {
  try {
    parseElf(bytes);
  } catch (e) {
    if (e instanceof ElfError) {
      assert.ok(e.message.length > 0 && !e.message.includes('\n'), `message is not one line: ${JSON.stringify(e.message)}`);
      return e;
    }
    assert.fail(`threw ${(e as Error)?.name}, not ElfError: ${(e as Error)?.stack ?? String(e)}`);
  }
  assert.fail('parseElf accepted a malformed file');
}

// Little-endian field patchers for crafting bad files from a good one.
const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);
const u16 = (b: Uint8Array, at: number): number => view(b).getUint16(at, true);
const u64 = (b: Uint8Array, at: number): bigint => view(b).getBigUint64(at, true);
const setU16 = (b: Uint8Array, at: number, v: number): void => view(b).setUint16(at, v, true);
const setU32 = (b: Uint8Array, at: number, v: number): void => view(b).setUint32(at, v, true);
const setU64 = (b: Uint8Array, at: number, v: bigint): void => view(b).setBigUint64(at, v, true);

interface Layout {
  phoff: number;
  phnum: number;
  shoff: number;
  shnum: number;
  /** Offsets of the PT_LOAD program headers. */
  loadHeaders: number[];
}
function layout(b: Uint8Array): Layout {
  const phoff = Number(u64(b, 32));
  const phnum = u16(b, 56);
  const loadHeaders: number[] = [];
  for (let i = 0; i < phnum; i++) if (view(b).getUint32(phoff + i * 56, true) === 1) loadHeaders.push(phoff + i * 56);
  return { phoff, phnum, shoff: Number(u64(b, 40)), shnum: u16(b, 60), loadHeaders };
}
function sectionOfType(b: Uint8Array, type: number): number {
  const { shoff, shnum } = layout(b);
  for (let i = 0; i < shnum; i++) if (view(b).getUint32(shoff + i * 64 + 4, true) === type) return shoff + i * 64;
  throw new Error(`no section of type ${type}`);
}

/** xorshift32: deterministic, so a failure reproduces with the printed seed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

describe('parseElf', () => {
  let dir = '';
  let asmElf = '';
  let asmBytes = new Uint8Array();
  let cElf = '';

  before(() => {
    assert.ok(hasTool(GCC), `${GCC} is required (apt-get install gcc-riscv64-unknown-elf)`);
    assert.ok(hasTool(READELF), `${READELF} is required (apt-get install binutils-riscv64-unknown-elf)`);
    dir = tempDir('tvisor-elf-');
    writeFileSync(join(dir, 'main.S'), MAIN_S);
    writeFileSync(join(dir, 'helper.S'), HELPER_S);
    writeFileSync(join(dir, 'link.ld'), LINK_LD);
    asmElf = buildElf([join(dir, 'main.S'), join(dir, 'helper.S')], join(dir, 'asm.elf'), { march: MARCH64, args: ['-T', join(dir, 'link.ld')] });
    asmBytes = new Uint8Array(readFileSync(asmElf));
    writeFileSync(
      join(dir, 'prog.c'),
      `volatile unsigned long tohost, fromhost;
       static const char table[] = "constant data";
       unsigned long counter = 5;
       static unsigned long scratch[64];
       void _start(void) {
         for (int i = 0; i < 64; i++) scratch[i] = table[i % 13] * counter;
         tohost = scratch[3] ? 1 : 3;
         for (;;) {}
       }`,
    );
    cElf = buildElf([join(dir, 'prog.c')], join(dir, 'c.elf'), { march: MARCH64, args: ['-Wl,-Ttext=0x80000000'] });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads an assembler-built executable like readelf does', () => {
    const image = parseElf(asmBytes);
    assertMatchesReadelf(asmElf, image, true);
    assert.equal(image.entry, 0x80000000n);
    assert.ok(image.segments.length >= 2, 'text and data segments');
    assert.ok(image.segments.some((s) => s.memsz > s.data.length), 'bss is zero-fill beyond p_filesz');
    assert.equal(image.symbols.get('_start'), 0x80000000n);
    assert.equal(image.symbols.get('tohost'), image.symbols.get('fromhost')! - 64n);
    // `counter` is a local in both objects; there is no global of that name, so either value will do.
    assert.ok(image.symbols.has('counter'));
  });

  it('reads a gcc -O2 C executable like readelf does', () => {
    assertMatchesReadelf(cElf, parseElf(new Uint8Array(readFileSync(cElf))), true);
  });

  it('reads a stripped executable: same segments, no symbols', () => {
    const stripped = join(dir, 'stripped.elf');
    const r = spawnSync(STRIP, ['-o', stripped, asmElf], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const image = parseElf(new Uint8Array(readFileSync(stripped)));
    assertMatchesReadelf(stripped, image, false);
    assert.deepEqual(image.segments.map((s) => s.paddr), parseElf(asmBytes).segments.map((s) => s.paddr));
  });

  it('accepts ET_DYN and a program header count escaped through PN_XNUM', () => {
    const dyn = asmBytes.slice();
    setU16(dyn, 16, 3);
    assert.equal(parseElf(dyn).entry, 0x80000000n);

    const xnum = asmBytes.slice();
    const { phnum, shoff } = layout(xnum);
    setU16(xnum, 56, 0xffff);
    setU32(xnum, shoff + 44, phnum); // section 0's sh_info holds the real count
    assert.deepEqual(parseElf(xnum).segments.map((s) => s.paddr), parseElf(asmBytes).segments.map((s) => s.paddr));
  });

  it('reports truncation at every header boundary and inside every segment', () => {
    const { phoff, phnum, shoff, shnum, loadHeaders } = layout(asmBytes);
    const cuts = new Set<number>([1, 2, 3, 4, 5, 8, 15, 16, 17, 24, 32, 40, 52, 58, 63, 64, asmBytes.length - 1]);
    for (let i = 0; i <= phnum; i++) for (const d of [-1, 0, 1, 55]) cuts.add(phoff + i * 56 + d);
    for (let i = 0; i <= shnum; i++) for (const d of [-1, 0, 1, 63]) cuts.add(shoff + i * 64 + d);
    for (const h of loadHeaders) {
      const off = Number(u64(asmBytes, h + 8));
      const size = Number(u64(asmBytes, h + 32));
      for (const c of [off, off + 1, off + size - 1, off + size]) cuts.add(c);
    }
    for (const cut of [...cuts].filter((c) => c > 0 && c < asmBytes.length).sort((a, b) => a - b)) {
      const e = elfError(asmBytes.subarray(0, cut));
      assert.match(e.message, /truncated/, `cut at ${cut}: ${e.message}`);
    }
    assert.match(elfError(new Uint8Array(0)).message, /empty/);
  });

  it('names the machine of a host executable', { skip: !existsSync('/bin/true') && 'no /bin/true' }, () => {
    const bytes = new Uint8Array(readFileSync('/bin/true'));
    const expected: Record<string, RegExp> = { x64: /x86-64/, arm64: /AArch64/, ppc64: /PowerPC64/, s390x: /S\/390/ };
    const e = elfError(bytes);
    assert.match(e.message, expected[process.arch] ?? /not RISC-V/);
    assert.match(e.message, /not RISC-V/);
  });

  it('rejects a 32-bit RISC-V executable', () => {
    writeFileSync(join(dir, 'rv32.S'), '.globl _start\n_start: j _start\n.data\n.globl tohost\ntohost: .word 0, 0\n');
    const elf32 = buildElf([join(dir, 'rv32.S')], join(dir, 'rv32.elf'), {
      march: 'rv32i',
      args: ['-mabi=ilp32', '-T', join(dir, 'link.ld')],
    });
    assert.equal(elfError(new Uint8Array(readFileSync(elf32))).message, 'is a 32-bit ELF; tvisor runs RV64 programs');
  });

  it('rejects an object file that was never linked', () => {
    const obj = join(dir, 'helper.o');
    const r = spawnSync(GCC, ['-march=rv64imac', '-mabi=lp64', '-c', '-o', obj, join(dir, 'helper.S')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(elfError(new Uint8Array(readFileSync(obj))).message, /relocatable object.*link it/);
  });

  it('rejects bad magic, random bytes, a big-endian header and bad ident fields', () => {
    assert.match(elfError(new TextEncoder().encode('#!/bin/sh\necho hi\n')).message, /not an ELF file/);
    const next = rng(12345);
    const noise = Uint8Array.from({ length: 4096 }, () => next() & 0xff);
    noise[0] = 0x00;
    assert.match(elfError(noise).message, /not an ELF file/);

    const be = asmBytes.slice();
    be[5] = 2;
    assert.match(elfError(be).message, /big-endian/);
    const badClass = asmBytes.slice();
    badClass[4] = 7;
    assert.match(elfError(badClass).message, /invalid class 7/);
    const badVersion = asmBytes.slice();
    badVersion[6] = 0;
    assert.match(elfError(badVersion).message, /version/);
    const core = asmBytes.slice();
    setU16(core, 16, 4);
    assert.match(elfError(core).message, /core dump/);
  });

  it('rejects files without loadable segments', () => {
    const noLoads = asmBytes.slice();
    for (const h of layout(noLoads).loadHeaders) setU32(noLoads, h, 4); // PT_NOTE
    assert.match(elfError(noLoads).message, /no loadable \(PT_LOAD\) segments/);
    const noHeaders = asmBytes.slice();
    setU16(noHeaders, 56, 0);
    assert.match(elfError(noHeaders).message, /no loadable segments/);
  });

  it('rejects inconsistent and absurd segment sizes', () => {
    const [first, second] = layout(asmBytes).loadHeaders;
    const shrunk = asmBytes.slice();
    setU64(shrunk, first + 40, u64(shrunk, first + 32) - 1n); // p_memsz = p_filesz - 1
    assert.match(elfError(shrunk).message, /p_filesz 0x[0-9a-f]+ > p_memsz/);

    const huge = asmBytes.slice();
    setU64(huge, second + 40, 1n << 40n);
    assert.match(elfError(huge).message, /absurdly large/);

    const wraps = asmBytes.slice();
    setU64(wraps, second + 16, 0xffff_ffff_ffff_f000n);
    setU64(wraps, second + 24, 0xffff_ffff_ffff_f000n);
    setU64(wraps, second + 40, 0x2000n);
    setU64(wraps, second + 32, 0x10n);
    assert.match(elfError(wraps).message, /wraps past the end of the address space/);

    const farData = asmBytes.slice();
    setU64(farData, second + 8, 0xffff_ffff_ffff_fff0n); // p_offset near 2^64: offset + size overflows 64 bits
    assert.match(elfError(farData).message, /truncated.*segment \d+ data/);

    const farHeaders = asmBytes.slice();
    setU64(farHeaders, 32, 1n << 63n);
    assert.match(elfError(farHeaders).message, /truncated.*program header table/);

    const smallEntries = asmBytes.slice();
    setU16(smallEntries, 54, 32);
    assert.match(elfError(smallEntries).message, /e_phentsize 32/);
  });

  it('rejects overlapping segments', () => {
    const [first, second] = layout(asmBytes).loadHeaders;
    const phys = asmBytes.slice();
    setU64(phys, second + 24, u64(phys, first + 24) + 4n); // paddr inside the first segment
    assert.match(elfError(phys).message, /segments \d \(0x[0-9a-f]+\.\.0x[0-9a-f]+\) and \d .* overlap in physical memory/);
    const virt = asmBytes.slice();
    setU64(virt, first + 16, u64(virt, second + 16)); // vaddr equal to the second's
    assert.match(elfError(virt).message, /overlap in virtual memory/);
  });

  it('rejects a broken symbol table', () => {
    const symtab = sectionOfType(asmBytes, 2);
    const badLink = asmBytes.slice();
    setU32(badLink, symtab + 40, 999);
    assert.match(elfError(badLink).message, /string table section 999/);

    const strtabIndex = view(asmBytes).getUint32(symtab + 40, true);
    const strtab = layout(asmBytes).shoff + strtabIndex * 64;
    const shortStrings = asmBytes.slice();
    setU64(shortStrings, strtab + 32, 3n); // names now point past the end of .strtab
    assert.match(elfError(shortStrings).message, /outside the string table|not NUL-terminated/);

    const unterminated = asmBytes.slice();
    setU64(unterminated, strtab + 32, u64(unterminated, strtab + 32) - 1n); // drop the last name's NUL
    assert.match(elfError(unterminated).message, /symbol \d+'s name is not NUL-terminated/);

    const farSymbols = asmBytes.slice();
    setU64(farSymbols, symtab + 24, BigInt(asmBytes.length));
    assert.match(elfError(farSymbols).message, /truncated.*symbol table/);
  });

  it('returns or throws ElfError for random truncations and byte flips (property)', () => {
    const seed = 0x7715_0a5e;
    const next = rng(seed);
    const { phoff, phnum, shoff, shnum } = layout(asmBytes);
    // Aim most flips at the bytes the parser interprets: ELF header, program headers, section headers, symtab.
    const symtab = sectionOfType(asmBytes, 2);
    const regions: Array<[number, number]> = [
      [0, 64],
      [phoff, phnum * 56],
      [shoff, shnum * 64],
      [Number(u64(asmBytes, symtab + 24)), Number(u64(asmBytes, symtab + 32))],
      [0, asmBytes.length],
    ];
    let accepted = 0;
    let rejected = 0;
    for (let iter = 0; iter < 3000; iter++) {
      let bytes = asmBytes.slice();
      const flips = 1 + (next() % 6);
      for (let f = 0; f < flips; f++) {
        const [start, len] = regions[next() % regions.length];
        const at = start + (next() % len);
        const choice = next() % 4;
        bytes[at] = choice === 0 ? 0xff : choice === 1 ? 0 : next() & 0xff;
      }
      if (next() % 3 === 0) bytes = bytes.subarray(0, next() % (bytes.length + 1));
      try {
        const image = parseElf(bytes);
        accepted++;
        for (const seg of image.segments) {
          assert.ok(seg.data.length <= seg.memsz, `iteration ${iter} (seed ${seed}): filesz > memsz accepted`);
          assert.ok(seg.memsz <= 2 ** 32, `iteration ${iter} (seed ${seed}): absurd memsz accepted`);
        }
      } catch (e) {
        if (!(e instanceof ElfError)) {
          assert.fail(`iteration ${iter} (seed ${seed}): threw ${(e as Error)?.stack ?? String(e)}`);
        }
        assert.ok(!e.message.includes('\n'), `iteration ${iter}: multi-line message`);
        rejected++;
      }
    }
    // Both outcomes must occur, or the mutations are not exercising the parser.
    assert.ok(accepted > 100 && rejected > 100, `accepted ${accepted}, rejected ${rejected}`);
  });
});
