// Reading Debian binary packages (.deb): an ar archive holding "debian-binary" ("2.0\n"), control.tar.* and
// data.tar.*, where .* is xz, gz or none. The archive is read through a small random-access interface so a
// 100 MB package can be streamed from disk (Node) or read from memory (anywhere). No Node APIs.
import { ImageError } from './errors.js';
import { AR_HEADER_SIZE, AR_MAGIC, ArError, nextArMember, parseArHeader, type ArMember } from './ar.js';
import { decompressStream, detectCompression } from './compress.js';
import { readTar, type TarEntry, type TarHeader } from './tar.js';

export class DebError extends ImageError {
  override name = 'DebError';
}

/** Random access to the bytes of a file. */
export interface ByteSource {
  readonly size: number;
  /** Reads `length` bytes at `offset` (fewer only at the end of the file). */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Streams `length` bytes starting at `offset`. */
  stream(offset: number, length: number): AsyncIterable<Uint8Array>;
}

/** A ByteSource over bytes already in memory. */
export function memorySource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    read: async (offset, length) => bytes.subarray(offset, Math.min(bytes.length, offset + length)),
    stream: async function* (offset, length) {
      const chunk = 1 << 20;
      for (let at = offset; at < offset + length; at += chunk) yield bytes.subarray(at, Math.min(offset + length, at + chunk));
    },
  };
}

/** Lists the ar members of a .deb, checking the format version. */
export async function listDebMembers(source: ByteSource): Promise<ArMember[]> {
  const magic = new TextDecoder('latin1').decode(await source.read(0, AR_MAGIC.length));
  if (magic !== AR_MAGIC) throw new DebError('not a Debian package (no ar header)');
  const members: ArMember[] = [];
  let offset = AR_MAGIC.length;
  try {
    while (offset + AR_HEADER_SIZE <= source.size) {
      const member = parseArHeader(await source.read(offset, AR_HEADER_SIZE), offset);
      if (member.offset + member.size > source.size) throw new DebError(`package member '${member.name}' is truncated`);
      members.push(member);
      offset = nextArMember(member);
    }
  } catch (e) {
    if (e instanceof ArError) throw new DebError(e.message);
    throw e;
  }
  const first = members[0];
  if (!first || first.name !== 'debian-binary') throw new DebError('not a Debian package (no debian-binary member)');
  const version = new TextDecoder().decode(await source.read(first.offset, first.size)).trim();
  if (!/^2\.\d+$/.test(version)) throw new DebError(`unsupported Debian package format version '${version}'`);
  return members;
}

async function tarMember(source: ByteSource, members: ArMember[], base: 'control' | 'data'): Promise<AsyncIterable<Uint8Array>> {
  const member = members.find((m) => m.name === `${base}.tar` || m.name.startsWith(`${base}.tar.`));
  if (!member) throw new DebError(`package has no ${base}.tar member`);
  const format = detectCompression(await source.read(member.offset, 8));
  if (format === 'zstd' || format === 'bzip2') throw new DebError(`${member.name}: ${format} compression is not supported`);
  return decompressStream(source.stream(member.offset, member.size), format);
}

async function* wrapErrors(entries: AsyncIterable<TarEntry>): AsyncGenerator<TarEntry> {
  try {
    yield* entries;
  } catch (e) {
    if (e instanceof ImageError && !(e instanceof DebError)) throw new DebError(e.message);
    throw e;
  }
}

/**
 * Streams the entries of the package's data archive (the files it installs), reading into memory only the
 * contents of entries `want` accepts. Paths have no leading "./".
 */
export async function* readDebData(
  source: ByteSource,
  want: (header: TarHeader) => boolean,
): AsyncGenerator<TarEntry> {
  const members = await listDebMembers(source);
  yield* wrapErrors(readTar(await tarMember(source, members, 'data'), want));
}

/** Reads the package's control file (the paragraph with Package, Version, Architecture…). */
export async function readDebControl(source: ByteSource): Promise<string> {
  const members = await listDebMembers(source);
  for await (const entry of wrapErrors(readTar(await tarMember(source, members, 'control'), (h) => h.path === 'control'))) {
    if (entry.path === 'control' && entry.data) return new TextDecoder().decode(entry.data);
  }
  throw new DebError('package has no control file');
}

/** Extracts selected files of a package held in memory: path → contents. */
export async function extractDebFiles(bytes: Uint8Array, paths: string[]): Promise<Map<string, Uint8Array>> {
  const wanted = new Set(paths);
  const out = new Map<string, Uint8Array>();
  for await (const e of readDebData(memorySource(bytes), (h) => wanted.has(h.path))) {
    if (e.data) out.set(e.path, e.data);
  }
  return out;
}
