// ELF64 loader front end: validates a little-endian RISC-V executable and extracts its PT_LOAD segments and
// .symtab symbols (System V ABI "ELF Object Files" and "Program Loading"; RISC-V ELF psABI for e_machine 243).
// Hostile input must end in an ElfError with one actionable line, never in a RangeError from a DataView.

import { ElfError, type ElfImage, type ElfSegment } from './elf-types.js';

export { ElfError } from './elf-types.js';
export type { ElfImage, ElfSegment } from './elf-types.js';

const EM_RISCV = 243;
const ELFCLASS32 = 1;
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const ELFDATA2MSB = 2;
const EV_CURRENT = 1;
const ET_REL = 1;
const ET_EXEC = 2;
const ET_DYN = 3;
const ET_CORE = 4;
const PT_LOAD = 1;
const PN_XNUM = 0xffff; // e_phnum escape: the real count is in section header 0's sh_info
const SHN_UNDEF = 0;
const SHN_XINDEX = 0xffff; // e_shstrndx escape; irrelevant here but must not be read as an index
const SHT_SYMTAB = 2;
const SHT_STRTAB = 3;
const STT_SECTION = 3;
const STT_FILE = 4;
const STB_LOCAL = 0;

const EHDR64_SIZE = 64;
const PHDR64_SIZE = 56;
const SHDR64_SIZE = 64;
const SYM64_SIZE = 24;

/** A segment larger than this cannot be loaded into any guest RAM tvisor can allocate (wasm32 memory). */
const MAX_SEGMENT_BYTES = 2n ** 32n;
const ADDRESS_SPACE_END = 2n ** 64n;

/** Names for the e_machine values people are likely to feed us by mistake. */
const MACHINE_NAMES: Record<number, string> = {
  2: 'SPARC',
  3: 'x86 (i386)',
  8: 'MIPS',
  20: 'PowerPC',
  21: 'PowerPC64',
  22: 'IBM S/390',
  40: 'ARM (32-bit)',
  43: 'SPARC V9',
  50: 'IA-64',
  62: 'x86-64',
  183: 'AArch64',
  243: 'RISC-V',
  247: 'BPF',
  258: 'LoongArch',
};

function machineName(m: number): string {
  return MACHINE_NAMES[m] ?? 'another architecture';
}

function hex(v: bigint | number): string {
  return '0x' + v.toString(16);
}

/**
 * A file the ELF headers are read from piecewise: `read` is only asked for ranges inside the file (checked
 * first), so a loader can parse a kernel of any size from its headers alone, with bounded reads.
 */
export interface ElfSource {
  readonly size: number;
  read(offset: number, length: number): Uint8Array;
}

/** A PT_LOAD segment as the program header describes it, its data not read: `filesz` bytes at file `offset`. */
export interface ElfSegmentLayout extends Omit<ElfSegment, 'data'> {
  offset: number;
  filesz: number;
}

/** The whole file in memory as an ElfSource (views, no copies). */
function bytesSource(bytes: Uint8Array): ElfSource {
  return { size: bytes.length, read: (offset, length) => bytes.subarray(offset, offset + length) };
}

/**
 * Bounds-checked little-endian reads over `bytes`, a piece of a file of `fileSize` bytes (the whole file by
 * default); every range is checked against the file before a DataView touches it.
 */
class Reader {
  private readonly view: DataView;
  constructor(readonly bytes: Uint8Array, private readonly fileSize = bytes.length) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  get length(): number {
    return this.bytes.length;
  }
  /** Throws "truncated" unless [offset, offset+size) lies inside the file. */
  need(offset: bigint, size: bigint, what: string): number {
    const end = offset + size;
    if (end > BigInt(this.fileSize)) {
      throw new ElfError(
        `truncated ELF: ${what} at bytes ${hex(offset)}..${hex(end)} runs past the end of the file ` +
          `(${this.fileSize} bytes)`,
      );
    }
    return Number(offset);
  }
  u8(at: number): number {
    return this.view.getUint8(at);
  }
  u16(at: number): number {
    return this.view.getUint16(at, true);
  }
  u32(at: number): number {
    return this.view.getUint32(at, true);
  }
  u64(at: number): bigint {
    return this.view.getBigUint64(at, true);
  }
}

interface LoadRange {
  index: number;
  start: bigint;
  end: bigint;
}

/**
 * Parses an ELF64 little-endian RISC-V executable (ET_EXEC or ET_DYN). Segment data are views into `bytes`
 * (no copy). Throws ElfError with a one-line message for anything malformed or unsupported.
 */
export function parseElf(bytes: Uint8Array): ElfImage {
  const h = parseHeaders(bytesSource(bytes));
  const segments = h.segments.map(({ offset, filesz, ...s }) => ({ ...s, data: bytes.subarray(offset, offset + filesz) }));
  const symbols = h.shoff !== 0n && h.shnum > 0 ? readSymbols(new Reader(bytes), h.shoff, h.shentsize, h.shnum) : new Map<string, bigint>();
  return { entry: h.entry, segments, symbols };
}

/**
 * Validates an ELF executable as parseElf does and lays out its segments, reading only the ELF header, the
 * program header table (and section header 0 when the counts overflow): the segments' data stay in the file.
 */
export function parseElfLayout(src: ElfSource): { entry: bigint; segments: ElfSegmentLayout[] } {
  const { entry, segments } = parseHeaders(src);
  return { entry, segments };
}

function parseHeaders(src: ElfSource): { entry: bigint; segments: ElfSegmentLayout[]; shoff: bigint; shentsize: number; shnum: number } {
  const r = new Reader(src.read(0, Math.min(src.size, EHDR64_SIZE)), src.size);
  checkIdent(r);

  const type = r.u16(16);
  const machine = r.u16(18);
  if (machine !== EM_RISCV) {
    throw new ElfError(`is an ELF for ${machineName(machine)} (e_machine ${machine}), not RISC-V; tvisor runs RV64 programs`);
  }
  if (r.u32(20) !== EV_CURRENT) throw new ElfError(`unsupported ELF version ${r.u32(20)} in e_version (expected 1)`);
  if (type !== ET_EXEC && type !== ET_DYN) {
    if (type === ET_REL) throw new ElfError('is a relocatable object file (ET_REL), not an executable; link it first');
    if (type === ET_CORE) throw new ElfError('is a core dump (ET_CORE), not an executable');
    throw new ElfError(`unsupported ELF type ${type} (expected an executable, ET_EXEC or ET_DYN)`);
  }

  const entry = r.u64(24);
  const phoff = r.u64(32);
  const shoff = r.u64(40);
  const phentsize = r.u16(54);
  let phnum = r.u16(56);
  const shentsize = r.u16(58);
  const shnumField = r.u16(60);

  // Section header 0 carries the real counts when they overflow the 16-bit header fields.
  if (phnum === PN_XNUM) {
    if (shoff === 0n) throw new ElfError('malformed ELF: e_phnum is PN_XNUM but there is no section header 0');
    phnum = readSection0(r, src, shoff, shentsize).info;
  }
  let shnum = shnumField;
  if (shoff !== 0n && shnum === 0) {
    const size = readSection0(r, src, shoff, shentsize).size;
    if (size > 0xffff_ffffn) throw new ElfError(`malformed ELF: absurd section count ${size}`);
    shnum = Number(size);
  }

  const segments = readSegments(r, src, phoff, phentsize, phnum);
  return { entry, segments, shoff, shentsize, shnum };
}

function checkIdent(r: Reader): void {
  const magic = [0x7f, 0x45, 0x4c, 0x46]; // "\x7fELF"
  if (r.length === 0) throw new ElfError('is empty (0 bytes), not an ELF file');
  for (let i = 0; i < magic.length; i++) {
    if (i >= r.length) {
      throw new ElfError(`truncated ELF: only ${r.length} bytes, shorter than the ELF magic number`);
    }
    if (r.u8(i) !== magic[i]) throw new ElfError('not an ELF file (bad magic number)');
  }
  r.need(0n, 16n, 'ELF identification (e_ident)');
  const cls = r.u8(4);
  if (cls === ELFCLASS32) throw new ElfError('is a 32-bit ELF; tvisor runs RV64 programs');
  if (cls !== ELFCLASS64) throw new ElfError(`malformed ELF: invalid class ${cls} in e_ident`);
  const data = r.u8(5);
  if (data === ELFDATA2MSB) throw new ElfError('is a big-endian ELF; tvisor runs little-endian RV64 programs');
  if (data !== ELFDATA2LSB) throw new ElfError(`malformed ELF: invalid data encoding ${data} in e_ident`);
  if (r.u8(6) !== EV_CURRENT) throw new ElfError(`unsupported ELF version ${r.u8(6)} in e_ident (expected 1)`);
  r.need(0n, BigInt(EHDR64_SIZE), 'ELF header');
}

function checkShentsize(shentsize: number): void {
  if (shentsize < SHDR64_SIZE) {
    throw new ElfError(`malformed ELF: section header size e_shentsize ${shentsize} is smaller than ${SHDR64_SIZE}`);
  }
}

function readSection0(r: Reader, src: ElfSource, shoff: bigint, shentsize: number): { size: bigint; info: number } {
  checkShentsize(shentsize);
  const at = r.need(shoff, BigInt(SHDR64_SIZE), 'section header 0');
  const s0 = new Reader(src.read(at, SHDR64_SIZE));
  return { size: s0.u64(32), info: s0.u32(44) };
}

function readSegments(h: Reader, src: ElfSource, phoff: bigint, phentsize: number, phnum: number): ElfSegmentLayout[] {
  if (phnum === 0 || phoff === 0n) throw new ElfError('has no loadable segments (no program headers)');
  if (phentsize < PHDR64_SIZE) {
    throw new ElfError(`malformed ELF: program header size e_phentsize ${phentsize} is smaller than ${PHDR64_SIZE}`);
  }
  const table = h.need(phoff, BigInt(phentsize) * BigInt(phnum), `program header table (${phnum} entries)`);
  const r = new Reader(src.read(table, phentsize * phnum));

  const segments: ElfSegmentLayout[] = [];
  const physical: LoadRange[] = [];
  const virtual: LoadRange[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = i * phentsize;
    if (r.u32(at) !== PT_LOAD) continue;
    const flags = r.u32(at + 4);
    const offset = r.u64(at + 8);
    const vaddr = r.u64(at + 16);
    const paddr = r.u64(at + 24);
    const filesz = r.u64(at + 32);
    const memsz = r.u64(at + 40);
    if (filesz > memsz) {
      throw new ElfError(`malformed ELF: segment ${i} has p_filesz ${hex(filesz)} > p_memsz ${hex(memsz)}`);
    }
    if (memsz > MAX_SEGMENT_BYTES) {
      throw new ElfError(`malformed ELF: segment ${i} is absurdly large (p_memsz ${hex(memsz)} bytes, over 4 GiB)`);
    }
    if (paddr + memsz > ADDRESS_SPACE_END || vaddr + memsz > ADDRESS_SPACE_END) {
      throw new ElfError(`malformed ELF: segment ${i} at ${hex(paddr)} (${hex(memsz)} bytes) wraps past the end of the address space`);
    }
    const start = h.need(offset, filesz, `segment ${i} data`);
    segments.push({ paddr, vaddr, offset: start, filesz: Number(filesz), memsz: Number(memsz), flags });
    if (memsz > 0n) {
      physical.push({ index: i, start: paddr, end: paddr + memsz });
      virtual.push({ index: i, start: vaddr, end: vaddr + memsz });
    }
  }
  if (segments.length === 0) throw new ElfError('has no loadable (PT_LOAD) segments');
  checkOverlap(physical, 'physical');
  checkOverlap(virtual, 'virtual');
  return segments;
}

/** Sort-and-sweep, so a hostile file with 65535 program headers costs n log n, not n². */
function checkOverlap(ranges: LoadRange[], kind: string): void {
  const sorted = [...ranges].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  for (let k = 1; k < sorted.length; k++) {
    const prev = sorted[k - 1];
    const cur = sorted[k];
    if (cur.start < prev.end) {
      const [a, b] = prev.index < cur.index ? [prev, cur] : [cur, prev];
      throw new ElfError(
        `malformed ELF: segments ${a.index} (${hex(a.start)}..${hex(a.end)}) and ${b.index} ` +
          `(${hex(b.start)}..${hex(b.end)}) overlap in ${kind} memory`,
      );
    }
  }
}

interface SectionHeader {
  type: number;
  offset: bigint;
  size: bigint;
  link: number;
  entsize: bigint;
}

function readSymbols(r: Reader, shoff: bigint, shentsize: number, shnum: number): Map<string, bigint> {
  checkShentsize(shentsize);
  r.need(shoff, BigInt(shentsize) * BigInt(shnum), `section header table (${shnum} entries)`);
  const section = (i: number): SectionHeader => {
    const at = Number(shoff) + i * shentsize;
    return { type: r.u32(at + 4), offset: r.u64(at + 24), size: r.u64(at + 32), link: r.u32(at + 40), entsize: r.u64(at + 56) };
  };

  const symbols = new Map<string, bigint>();
  let symtabIndex = -1;
  for (let i = 0; i < shnum; i++) {
    if (section(i).type === SHT_SYMTAB) {
      symtabIndex = i;
      break;
    }
  }
  if (symtabIndex < 0) return symbols; // stripped

  const symtab = section(symtabIndex);
  if (symtab.link === SHN_UNDEF || symtab.link === SHN_XINDEX || symtab.link >= shnum) {
    throw new ElfError(`malformed ELF: the symbol table links to string table section ${symtab.link}, which does not exist`);
  }
  const strtab = section(symtab.link);
  if (strtab.type !== SHT_STRTAB) {
    throw new ElfError(`malformed ELF: the symbol table's string table (section ${symtab.link}) is not a string table`);
  }
  const entsize = symtab.entsize === 0n ? BigInt(SYM64_SIZE) : symtab.entsize;
  if (entsize < BigInt(SYM64_SIZE) || entsize > 0x1000n) {
    throw new ElfError(`malformed ELF: symbol table entry size ${symtab.entsize} (expected ${SYM64_SIZE})`);
  }
  const symBase = r.need(symtab.offset, symtab.size, 'symbol table (.symtab)');
  const strBase = r.need(strtab.offset, strtab.size, 'string table (.strtab)');
  const count = Number(symtab.size / entsize);
  const step = Number(entsize);
  const decoder = new TextDecoder();
  // nulAfter[i] = index (relative to strBase) of the first NUL at or after i, or -1: one pass instead of a
  // scan per symbol, which hostile overlapping names would make quadratic.
  const strSize = Number(strtab.size);
  const nulAfter = new Int32Array(strSize);
  for (let i = strSize - 1, next = -1; i >= 0; i--) {
    if (r.bytes[strBase + i] === 0) next = i;
    nulAfter[i] = next;
  }
  // Globals win over locals of the same name (several objects may each have a local `loop`).
  const isGlobal = new Set<string>();

  for (let k = 1; k < count; k++) {
    const at = symBase + k * step;
    const nameOff = r.u32(at);
    const info = r.u8(at + 4);
    const shndx = r.u16(at + 6);
    const value = r.u64(at + 8);
    const symType = info & 0xf;
    const bind = info >> 4;
    if (nameOff === 0 || shndx === SHN_UNDEF || symType === STT_SECTION || symType === STT_FILE) continue;
    if (nameOff >= strSize) {
      throw new ElfError(`malformed ELF: symbol ${k} has a name offset ${hex(nameOff)} outside the string table`);
    }
    const nul = nulAfter[nameOff];
    if (nul < 0) throw new ElfError(`malformed ELF: symbol ${k}'s name is not NUL-terminated inside the string table`);
    const name = decoder.decode(r.bytes.subarray(strBase + nameOff, strBase + nul));
    const global = bind !== STB_LOCAL;
    if (!symbols.has(name) || (global && !isGlobal.has(name))) {
      symbols.set(name, value);
      if (global) isGlobal.add(name);
    }
  }
  return symbols;
}
