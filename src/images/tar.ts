// A streaming reader for tar archives (POSIX ustar with pax extended headers, and GNU long names), as found
// inside .deb packages. It reads from any async iterable of byte chunks, so a 100 MB data.tar never has to be
// held in memory: the caller says which entries it wants the contents of. No Node APIs.
import { ImageError } from './errors.js';

export class TarError extends ImageError {
  override name = 'TarError';
}

export type TarEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'other';

export interface TarHeader {
  /** Path with any leading "./" or "/" removed ("" for the archive's root directory). */
  path: string;
  type: TarEntryType;
  mode: number;
  size: number;
  mtime: number;
  /** Target of a symbolic or hard link. */
  linkname: string;
}

export interface TarEntry extends TarHeader {
  /** Contents, present only for entries the caller asked for. */
  data?: Uint8Array;
}

const BLOCK = 512;
const decoder = new TextDecoder();

/** Pulls exact byte counts out of a stream of chunks. */
class ByteReader {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private done = false;
  private readonly it: AsyncIterator<Uint8Array>;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.it = source[Symbol.asyncIterator]();
  }

  private async fill(n: number): Promise<boolean> {
    while (this.buffered < n && !this.done) {
      const r = await this.it.next();
      if (r.done) this.done = true;
      else if (r.value.length > 0) {
        this.chunks.push(r.value);
        this.buffered += r.value.length;
      }
    }
    return this.buffered >= n;
  }

  /** Reads exactly n bytes; null at a clean end of input (nothing buffered); throws if input ends inside. */
  async read(n: number): Promise<Uint8Array | null> {
    if (!(await this.fill(n))) {
      if (this.buffered === 0) return null;
      throw new TarError('tar: archive is truncated');
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0];
      const take = Math.min(c.length, n - filled);
      out.set(c.subarray(0, take), filled);
      filled += take;
      if (take === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(take);
    }
    this.buffered -= n;
    return out;
  }

  /** Discards exactly n bytes without keeping them. */
  async skip(n: number): Promise<void> {
    let left = n;
    while (left > 0) {
      if (this.buffered === 0 && !(await this.fill(1))) throw new TarError('tar: archive is truncated');
      const c = this.chunks[0];
      const take = Math.min(c.length, left);
      if (take === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(take);
      this.buffered -= take;
      left -= take;
    }
  }

  /** Gives the underlying iterator a chance to clean up when we stop early. */
  async close(): Promise<void> {
    if (!this.done) await this.it.return?.();
  }
}

function cString(block: Uint8Array, start: number, length: number): string {
  const field = block.subarray(start, start + length);
  const nul = field.indexOf(0);
  return decoder.decode(nul < 0 ? field : field.subarray(0, nul));
}

/** Parses a numeric field: octal text, or GNU base-256 (high bit of the first byte set). */
function numberField(block: Uint8Array, start: number, length: number, what: string): number {
  const field = block.subarray(start, start + length);
  if (field[0] & 0x80) {
    if (field[0] & 0x40) throw new TarError(`tar: negative ${what}`);
    let value = field[0] & 0x3f;
    for (let i = 1; i < field.length; i++) value = value * 256 + field[i];
    if (!Number.isSafeInteger(value)) throw new TarError(`tar: ${what} too large`);
    return value;
  }
  const text = cString(block, start, length).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new TarError(`tar: bad ${what} field '${text}'`);
  return Number.parseInt(text, 8);
}

function checksumOk(block: Uint8Array): boolean {
  const stored = numberField(block, 148, 8, 'checksum');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i];
  return sum === stored;
}

/** Parses pax extended header records: "<length> <key>=<value>\n" repeated. */
export function parsePaxRecords(data: Uint8Array): Map<string, string> {
  const records = new Map<string, string>();
  let offset = 0;
  while (offset < data.length) {
    let space = offset;
    while (space < data.length && data[space] !== 0x20) space++;
    const length = Number(decoder.decode(data.subarray(offset, space)));
    if (!Number.isInteger(length) || length <= 0 || offset + length > data.length) {
      throw new TarError('tar: malformed pax extended header');
    }
    const record = decoder.decode(data.subarray(space + 1, offset + length - 1));
    const eq = record.indexOf('=');
    if (eq < 0) throw new TarError('tar: malformed pax record');
    records.set(record.slice(0, eq), record.slice(eq + 1));
    offset += length;
  }
  return records;
}

function normalizePath(path: string): string {
  let p = path;
  while (p.startsWith('./')) p = p.slice(2);
  p = p.replace(/^\/+/, '');
  if (p === '.') p = '';
  return p.replace(/\/+$/, '');
}

function typeOf(flag: string): TarEntryType {
  switch (flag) {
    case '0':
    case '\0':
    case '':
    case '7':
      return 'file';
    case '5':
      return 'directory';
    case '2':
      return 'symlink';
    case '1':
      return 'hardlink';
    default:
      return 'other';
  }
}

/**
 * Reads a tar stream and yields each entry (files, directories, links) in order. `want` decides for each
 * header whether its contents are read into memory (`data`); other contents are skipped. Stopping the
 * iteration early (break) is allowed.
 */
export async function* readTar(
  source: AsyncIterable<Uint8Array>,
  want: (header: TarHeader) => boolean = () => true,
): AsyncGenerator<TarEntry> {
  const reader = new ByteReader(source);
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax = new Map<string, string>();
  let globalPax = new Map<string, string>();
  try {
    for (;;) {
      const block = await reader.read(BLOCK);
      if (block === null) return; // no end-of-archive blocks: tolerate, as GNU tar does
      if (block.every((b) => b === 0)) return;
      if (!checksumOk(block)) throw new TarError('tar: header checksum mismatch (not a tar archive, or corrupt)');
      const flag = String.fromCharCode(block[156]);
      let size = numberField(block, 124, 12, 'size');
      const padded = Math.ceil(size / BLOCK) * BLOCK;
      if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
        const data = (await reader.read(padded)) ?? new Uint8Array(0);
        const body = data.subarray(0, size);
        if (flag === 'x') pax = parsePaxRecords(body);
        else if (flag === 'g') globalPax = new Map([...globalPax, ...parsePaxRecords(body)]);
        else if (flag === 'L') longName = cString(body, 0, body.length);
        else longLink = cString(body, 0, body.length);
        continue;
      }
      const magic = cString(block, 257, 6);
      let name = cString(block, 0, 100);
      if (magic === 'ustar') {
        const prefix = cString(block, 345, 155);
        if (prefix) name = `${prefix}/${name}`;
      }
      const attrs = new Map([...globalPax, ...pax]);
      name = attrs.get('path') ?? longName ?? name;
      const linkname = attrs.get('linkpath') ?? longLink ?? cString(block, 157, 100);
      if (attrs.has('size')) {
        size = Number(attrs.get('size'));
        if (!Number.isSafeInteger(size) || size < 0) throw new TarError('tar: bad pax size');
      }
      const header: TarHeader = {
        path: normalizePath(name),
        type: typeOf(flag),
        mode: numberField(block, 100, 8, 'mode'),
        size,
        mtime: numberField(block, 136, 12, 'mtime'),
        linkname,
      };
      longName = longLink = undefined;
      pax = new Map();
      // Only regular files carry data in the stream (hard links and others have size 0 or are ignored).
      const dataSize = header.type === 'file' || header.type === 'other' ? size : 0;
      const dataPadded = Math.ceil(dataSize / BLOCK) * BLOCK;
      const wanted = header.type === 'file' && want(header);
      if (wanted && dataSize > 0) {
        const data = await reader.read(dataPadded);
        if (data === null) throw new TarError('tar: archive is truncated');
        yield { ...header, data: data.subarray(0, dataSize) };
      } else {
        await reader.skip(dataPadded);
        yield wanted ? { ...header, data: new Uint8Array(0) } : header;
      }
    }
  } finally {
    await reader.close();
  }
}
