// The parsed form of a RISC-V ELF64 executable, as the loaders use it (ELF spec, "Program Loading").

export interface ElfSegment {
  /** Physical load address (p_paddr). */
  paddr: bigint;
  /** Virtual address (p_vaddr). */
  vaddr: bigint;
  /** The file bytes of the segment (p_filesz bytes). */
  data: Uint8Array;
  /** Size in memory (p_memsz >= data.length); the rest is zero-filled. */
  memsz: number;
  /** p_flags: PF_X=1, PF_W=2, PF_R=4. */
  flags: number;
}

export interface ElfImage {
  entry: bigint;
  segments: ElfSegment[];
  /** Symbol name → value, from .symtab (empty when the file is stripped). */
  symbols: Map<string, bigint>;
}

/** Thrown for any malformed or unsupported ELF file; `message` is one line a user can act on. */
export class ElfError extends Error {
  override name = 'ElfError';
}
