// Reads a Linux kernel module's `.modinfo` section (NUL-separated "key=value" strings such as name=,
// depends=, softdep=, alias=) from its ELF64 file, and the kernel's modules.builtin.modinfo
// ("module.key=value" strings). No Node APIs.
import { ImageError } from './errors.js';

export class ModinfoError extends ImageError {
  override name = 'ModinfoError';
}

export interface Modinfo {
  name: string;
  /** Modules this one needs loaded first (the `depends=` list). */
  depends: string[];
  /** Soft dependencies: module names or aliases to load before / after this one. */
  softPre: string[];
  softPost: string[];
  aliases: string[];
  /** Every key=value pair in order (keys may repeat). */
  entries: [string, string][];
}

const decoder = new TextDecoder();

function parseEntries(data: Uint8Array): [string, string][] {
  const entries: [string, string][] = [];
  for (const s of decoder.decode(data).split('\0')) {
    const eq = s.indexOf('=');
    if (eq > 0) entries.push([s.slice(0, eq), s.slice(eq + 1)]);
  }
  return entries;
}

/** Parses "pre: a b post: c" into its two lists. */
export function parseSoftdep(value: string): { pre: string[]; post: string[] } {
  const pre: string[] = [];
  const post: string[] = [];
  let list: string[] | undefined;
  for (const word of value.trim().split(/\s+/)) {
    if (word === 'pre:') list = pre;
    else if (word === 'post:') list = post;
    else if (word && list) list.push(word);
  }
  return { pre, post };
}

/** Canonical module name: kernel module names treat '-' and '_' alike. */
export function canonicalModuleName(name: string): string {
  return name.replace(/-/g, '_');
}

function toModinfo(entries: [string, string][], fallbackName: string): Modinfo {
  const info: Modinfo = { name: fallbackName, depends: [], softPre: [], softPost: [], aliases: [], entries };
  for (const [key, value] of entries) {
    if (key === 'name') info.name = value;
    else if (key === 'depends') info.depends.push(...value.split(',').filter((d) => d !== ''));
    else if (key === 'alias') info.aliases.push(value);
    else if (key === 'softdep') {
      const s = parseSoftdep(value);
      info.softPre.push(...s.pre);
      info.softPost.push(...s.post);
    }
  }
  info.name = canonicalModuleName(info.name);
  info.depends = info.depends.map(canonicalModuleName);
  return info;
}

/** Finds a section by name in a little-endian ELF64 file; returns its bytes or undefined. */
export function elfSection(elf: Uint8Array, wanted: string): Uint8Array | undefined {
  if (elf.length < 64 || elf[0] !== 0x7f || elf[1] !== 0x45 || elf[2] !== 0x4c || elf[3] !== 0x46) {
    throw new ModinfoError('not an ELF file');
  }
  if (elf[4] !== 2 || elf[5] !== 1) throw new ModinfoError('not a little-endian ELF64 file');
  const view = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  const shoff = Number(view.getBigUint64(0x28, true));
  const shentsize = view.getUint16(0x3a, true);
  const shnum = view.getUint16(0x3c, true);
  const shstrndx = view.getUint16(0x3e, true);
  if (shentsize < 64 || shoff + shnum * shentsize > elf.length || shstrndx >= shnum) {
    throw new ModinfoError('ELF section header table is out of range');
  }
  const section = (i: number): { name: number; type: number; offset: number; size: number } => {
    const at = shoff + i * shentsize;
    return {
      name: view.getUint32(at, true),
      type: view.getUint32(at + 4, true),
      offset: Number(view.getBigUint64(at + 0x18, true)),
      size: Number(view.getBigUint64(at + 0x20, true)),
    };
  };
  const strtab = section(shstrndx);
  if (strtab.offset + strtab.size > elf.length) throw new ModinfoError('ELF section name table is out of range');
  const names = elf.subarray(strtab.offset, strtab.offset + strtab.size);
  const want = new TextEncoder().encode(wanted);
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    const n = names.subarray(s.name);
    if (n.length <= want.length || n[want.length] !== 0 || !want.every((b, k) => n[k] === b)) continue;
    if (s.type === 8 /* SHT_NOBITS */) return new Uint8Array(0);
    if (s.offset + s.size > elf.length) throw new ModinfoError(`ELF section ${wanted} is out of range`);
    return elf.subarray(s.offset, s.offset + s.size);
  }
  return undefined;
}

/** Reads a module's modinfo from its (decompressed) .ko file. */
export function readModinfo(ko: Uint8Array, fallbackName = ''): Modinfo {
  const section = elfSection(ko, '.modinfo');
  if (!section) throw new ModinfoError('no .modinfo section (not a kernel module)');
  return toModinfo(parseEntries(section), canonicalModuleName(fallbackName));
}

/** Parses modules.builtin.modinfo: module name → its modinfo (for names and aliases of built-in modules). */
export function parseBuiltinModinfo(data: Uint8Array): Map<string, Modinfo> {
  const grouped = new Map<string, [string, string][]>();
  for (const [key, value] of parseEntries(data)) {
    const dot = key.indexOf('.');
    if (dot <= 0) continue;
    const module = canonicalModuleName(key.slice(0, dot));
    const list = grouped.get(module) ?? [];
    list.push([key.slice(dot + 1), value]);
    grouped.set(module, list);
  }
  const out = new Map<string, Modinfo>();
  for (const [module, entries] of grouped) out.set(module, toModinfo(entries, module));
  return out;
}

/** Parses modules.builtin (one "kernel/path/name.ko" per line) into canonical module names. */
export function parseModulesBuiltin(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /([^/\s]+)\.ko$/.exec(line.trim());
    if (m) names.add(canonicalModuleName(m[1]));
  }
  return names;
}
