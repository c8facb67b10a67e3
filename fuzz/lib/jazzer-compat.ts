// Makes Jazzer.js's prebuilt libFuzzer addon load on Debian 12 (glibc 2.36, GCC 12's libstdc++): the prebuild
// needs only two symbols of glibc 2.38, the C23 aliases __isoc23_strtol/__isoc23_strtoul, which differ from
// strtol/strtoul only in parsing "0b" prefixes (libFuzzer parses its decimal flags with them), and GCC 13's
// std::ios_base_library_init, which <iostream> names only to pull in libstdc++'s own initialisation (no
// relocation uses it). A patched copy is written where the addon's loader looks first (dist/prebuilds); the
// published file is left as it is.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const SHT_DYNSYM = 11;
const SHT_GNU_VERNEED = 0x6ffffffe;
const SHT_GNU_VERSYM = 0x6fffffff;
const VER_FLG_WEAK = 2;
const C23 = '__isoc23_';
/** Version requirements made weak: a missing weak version is a warning to ld.so, not an error. */
const WEAK = new Set(['GLIBC_2.38', 'GLIBCXX_3.4.32']);

interface Section { type: number; offset: number; size: number; link: number; entsize: number }

function sections(b: Buffer): Section[] {
  const shoff = Number(b.readBigUInt64LE(0x28));
  const shentsize = b.readUInt16LE(0x3a);
  const shnum = b.readUInt16LE(0x3c);
  return Array.from({ length: shnum }, (_, i) => {
    const at = shoff + i * shentsize;
    return { type: b.readUInt32LE(at + 4), offset: Number(b.readBigUInt64LE(at + 24)), size: Number(b.readBigUInt64LE(at + 32)), link: b.readUInt32LE(at + 40), entsize: Number(b.readBigUInt64LE(at + 56)) };
  });
}

const cstr = (b: Buffer, at: number) => b.toString('latin1', at, b.indexOf(0, at));

/**
 * Redirects the __isoc23_* imports of an ELF64 little-endian shared object to their C17 names and makes its
 * requirements of GLIBC_2.38 and GLIBCXX_3.4.32 weak. Returns how many symbols moved.
 */
export function patchIsoc23(b: Buffer): number {
  const sh = sections(b);
  const dynsym = sh.find((s) => s.type === SHT_DYNSYM);
  const versym = sh.find((s) => s.type === SHT_GNU_VERSYM);
  const verneed = sh.find((s) => s.type === SHT_GNU_VERNEED);
  if (!dynsym || !versym || !verneed) return 0;
  const dynstr = sh[dynsym.link];
  const needStr = sh[verneed.link];
  // version indices of GLIBC_2.38 (made weak) and of the baseline GLIBC_2.2.5 (the C17 functions' version)
  let c23 = -1;
  let base = -1;
  for (let vn = verneed.offset; ;) {
    const cnt = b.readUInt16LE(vn + 2);
    for (let i = 0, aux = vn + b.readUInt32LE(vn + 8); i < cnt; i++, aux += b.readUInt32LE(aux + 12)) {
      const name = cstr(b, needStr.offset + b.readUInt32LE(aux + 8));
      if (WEAK.has(name)) b.writeUInt16LE(b.readUInt16LE(aux + 4) | VER_FLG_WEAK, aux + 4);
      if (name === 'GLIBC_2.38') c23 = b.readUInt16LE(aux + 6);
      else if (name === 'GLIBC_2.2.5') base = b.readUInt16LE(aux + 6);
      if (b.readUInt32LE(aux + 12) === 0) break;
    }
    const next = b.readUInt32LE(vn + 12);
    if (next === 0) break;
    vn += next;
  }
  if (c23 < 0 || base < 0) return 0;
  let moved = 0;
  for (let i = 0; i < dynsym.size / dynsym.entsize; i++) {
    const sym = dynsym.offset + i * dynsym.entsize;
    const name = cstr(b, dynstr.offset + b.readUInt32LE(sym));
    const ver = versym.offset + 2 * i;
    if (!name.startsWith(C23) || (b.readUInt16LE(ver) & 0x7fff) !== c23) continue;
    b.writeUInt32LE(b.readUInt32LE(sym) + C23.length, sym); // "__isoc23_strtol" + 9 = "strtol"
    b.writeUInt16LE(base, ver);
    moved++;
  }
  return moved;
}

/** Ensures `@jazzer.js/fuzzer`'s addon loads here, writing the patched copy when the prebuild does not. */
export function ensureJazzerLoads(): void {
  const require = createRequire(import.meta.url);
  const pkg = path.dirname(require.resolve('@jazzer.js/fuzzer/package.json'));
  const file = `fuzzer-${process.platform}-${process.arch}.node`;
  const patched = path.join(pkg, 'dist', 'prebuilds', file);
  const load = (f: string) => require(f);
  try {
    load(fs.existsSync(patched) ? patched : path.join(pkg, 'prebuilds', file));
    return;
  } catch (e) {
    if (!/GLIBC_2\.38|GLIBCXX_3\.4\.32/.test(String((e as Error).message))) throw e;
  }
  const b = fs.readFileSync(path.join(pkg, 'prebuilds', file));
  if (patchIsoc23(b) === 0) throw new Error(`jazzer: ${file} needs glibc 2.38 and could not be adapted; run the fuzzers on a newer system`);
  fs.mkdirSync(path.dirname(patched), { recursive: true });
  fs.writeFileSync(patched, b);
  console.error(`jazzer: the prebuilt addon needs glibc 2.38 and GCC 13's libstdc++; wrote a copy for this system to ${path.relative(process.cwd(), patched)}`);
  load(patched);
}
