// The "newc" cpio format (SVR4 portable ASCII, magic 070701), which the Linux kernel unpacks as an initramfs:
// a writer that builds an archive in memory and a reader for checking one. No Node APIs, so this runs in a
// browser as well.
//
// Each entry is a 110-byte header of ASCII hex fields, the NUL-terminated name padded so that the header plus
// name is a multiple of 4 bytes, then the data padded to a multiple of 4. The archive ends with an entry
// named "TRAILER!!!".
import { ImageError } from './errors.js';

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;

const MAGIC = '070701';
const HEADER_SIZE = 110;
const TRAILER = 'TRAILER!!!';

export interface CpioEntry {
  /** Path inside the archive, without a leading "/" (e.g. "bin/busybox"). */
  name: string;
  /** Full st_mode: file type bits (S_IFREG…) and permission bits. */
  mode: number;
  uid?: number;
  gid?: number;
  /** Seconds since the epoch; default 0 so that archives are reproducible. */
  mtime?: number;
  /** File contents, or the target of a symbolic link; empty for directories and devices. */
  data?: Uint8Array;
  /** Device number for character and block devices. */
  rdevMajor?: number;
  rdevMinor?: number;
}

export class CpioError extends ImageError {
  override name = 'CpioError';
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function hex8(value: number, field: string): string {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new CpioError(`cpio: ${field} ${value} does not fit the newc format`);
  }
  return value.toString(16).padStart(8, '0');
}

function pad4(n: number): number {
  return (4 - (n & 3)) & 3;
}

/** Normalizes an archive path: no leading "/" or "./", no empty or "." or ".." components. */
export function normalizeArchivePath(path: string): string {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0) throw new CpioError(`cpio: empty path '${path}'`);
  if (parts.includes('..')) throw new CpioError(`cpio: path '${path}' contains '..'`);
  return parts.join('/');
}

/**
 * Builds a newc archive from `entries`, in order. Inode numbers are assigned sequentially (from 1) and
 * every entry has one link, so no two entries are taken for hard links of each other. Directories should
 * come before their contents, as the kernel creates entries in archive order.
 */
export function writeCpio(entries: CpioEntry[]): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const push = (bytes: Uint8Array): void => {
    chunks.push(bytes);
    total += bytes.length;
  };
  let ino = 1;
  const emit = (e: CpioEntry, name: string, ino: number): void => {
    const data = e.data ?? new Uint8Array(0);
    const type = e.mode & S_IFMT;
    if (type === S_IFDIR && data.length !== 0) throw new CpioError(`cpio: directory '${name}' cannot have data`);
    const nameBytes = encoder.encode(name);
    const namesize = nameBytes.length + 1;
    const header =
      MAGIC +
      hex8(ino, 'inode') +
      hex8(e.mode, 'mode') +
      hex8(e.uid ?? 0, 'uid') +
      hex8(e.gid ?? 0, 'gid') +
      hex8(type === S_IFDIR ? 2 : 1, 'nlink') +
      hex8(e.mtime ?? 0, 'mtime') +
      hex8(data.length, 'file size') +
      hex8(0, 'dev major') +
      hex8(0, 'dev minor') +
      hex8(e.rdevMajor ?? 0, 'rdev major') +
      hex8(e.rdevMinor ?? 0, 'rdev minor') +
      hex8(namesize, 'name size') +
      hex8(0, 'check');
    const head = new Uint8Array(HEADER_SIZE + namesize + pad4(HEADER_SIZE + namesize));
    head.set(encoder.encode(header), 0);
    head.set(nameBytes, HEADER_SIZE);
    push(head);
    if (data.length > 0) {
      push(data);
      const padding = pad4(data.length);
      if (padding) push(new Uint8Array(padding));
    }
  };
  for (const e of entries) {
    const type = e.mode & S_IFMT;
    if (![S_IFDIR, S_IFREG, S_IFLNK, S_IFCHR, S_IFBLK].includes(type)) {
      throw new CpioError(`cpio: unsupported file type ${type.toString(8)} for '${e.name}'`);
    }
    const name = normalizeArchivePath(e.name);
    if (name === TRAILER) throw new CpioError(`cpio: '${TRAILER}' is a reserved name`);
    emit(e, name, ino++);
  }
  emit({ name: TRAILER, mode: 0 }, TRAILER, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

export interface CpioReadEntry {
  name: string;
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  mtime: number;
  rdevMajor: number;
  rdevMinor: number;
  data: Uint8Array;
}

/** Reads every entry of a newc archive (stopping at the trailer). Throws CpioError on malformed input. */
export function readCpio(bytes: Uint8Array): CpioReadEntry[] {
  const entries: CpioReadEntry[] = [];
  let offset = 0;
  for (;;) {
    if (offset + HEADER_SIZE > bytes.length) throw new CpioError(`cpio: truncated header at offset ${offset}`);
    const header = decoder.decode(bytes.subarray(offset, offset + HEADER_SIZE));
    if (!header.startsWith(MAGIC)) throw new CpioError(`cpio: bad magic at offset ${offset}`);
    const fields: number[] = [];
    for (let i = 0; i < 13; i++) {
      const text = header.slice(6 + 8 * i, 14 + 8 * i);
      if (!/^[0-9a-fA-F]{8}$/.test(text)) throw new CpioError(`cpio: bad header field at offset ${offset}`);
      fields.push(Number.parseInt(text, 16));
    }
    const [ino, mode, uid, gid, nlink, mtime, filesize, , , rdevMajor, rdevMinor, namesize] = fields;
    const nameStart = offset + HEADER_SIZE;
    if (namesize < 1 || nameStart + namesize > bytes.length) throw new CpioError(`cpio: bad name size at offset ${offset}`);
    if (bytes[nameStart + namesize - 1] !== 0) throw new CpioError(`cpio: name not NUL-terminated at offset ${offset}`);
    const name = decoder.decode(bytes.subarray(nameStart, nameStart + namesize - 1));
    const dataStart = nameStart + namesize + pad4(HEADER_SIZE + namesize);
    if (dataStart + filesize > bytes.length) throw new CpioError(`cpio: truncated data for '${name}'`);
    if (name === TRAILER) return entries;
    entries.push({
      name, ino, mode, uid, gid, nlink, mtime, rdevMajor, rdevMinor,
      data: bytes.subarray(dataStart, dataStart + filesize),
    });
    offset = dataStart + filesize + pad4(filesize);
  }
}
