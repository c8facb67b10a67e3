// Test helpers (used by the unit tests only): a minimal little-endian ELF64 relocatable file with a
// .modinfo section, enough to stand in for a kernel module in dependency-resolution tests.

/** Builds an ELF64 file whose .modinfo section holds `entries` ("key=value"), NUL-separated. */
export function makeModuleElf(entries: string[], machine = 243): Uint8Array {
  const enc = new TextEncoder();
  const modinfo = enc.encode(entries.map((e) => `${e}\0`).join(''));
  const shstrtab = enc.encode('\0.modinfo\0.shstrtab\0');
  const modinfoOff = 64;
  const shstrOff = modinfoOff + modinfo.length;
  const shoff = (shstrOff + shstrtab.length + 7) & ~7;
  const out = new Uint8Array(shoff + 3 * 64);
  const v = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  v.setUint16(16, 1, true); // ET_REL
  v.setUint16(18, machine, true);
  v.setUint32(20, 1, true);
  v.setBigUint64(0x28, BigInt(shoff), true);
  v.setUint16(0x34, 64, true); // ehsize
  v.setUint16(0x3a, 64, true); // shentsize
  v.setUint16(0x3c, 3, true); // shnum
  v.setUint16(0x3e, 2, true); // shstrndx
  out.set(modinfo, modinfoOff);
  out.set(shstrtab, shstrOff);
  const section = (i: number, name: number, type: number, offset: number, size: number): void => {
    const at = shoff + i * 64;
    v.setUint32(at, name, true);
    v.setUint32(at + 4, type, true);
    v.setBigUint64(at + 0x18, BigInt(offset), true);
    v.setBigUint64(at + 0x20, BigInt(size), true);
    v.setBigUint64(at + 0x30, 1n, true); // addralign
  };
  section(1, 1, 1 /* SHT_PROGBITS */, modinfoOff, modinfo.length);
  section(2, 10, 3 /* SHT_STRTAB */, shstrOff, shstrtab.length);
  return out;
}
