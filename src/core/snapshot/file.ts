// The snapshot file: what a host writes to save a VM and reads to bring it back (issue 15). Host-neutral: bytes
// in, bytes out. Little-endian:
//
//   magic "TVSNAP\r\n" (8) · format u32 · meta length u32 · meta (UTF-8 JSON) · RAM size in pages u32 ·
//   page count u32 · RAM encoding u32 · pages · CRC-32 of all before it u32
//
// pages: (page index u32, 4096 bytes) records, indices ascending; stored as they are (encoding 0), or
// compressed (encoding 1: stored length u32, then the records as one raw DEFLATE stream, RFC 1951). Format 1
// (before RAM could be compressed) has no encoding field and is read too.
//
// `meta` is the caller's: the machine description and the machine's state (Vm.saveState). RAM is written
// sparsely: only pages the guest (or a loader, or DMA) ever wrote, and of those only the ones not all zero.
// Compression is the host's (a Codec): a host without one cannot read a compressed snapshot, and says so.
// A file that is not a snapshot, of another format, truncated or corrupt (any bit: the CRC) is refused with a
// SnapshotError before anything is restored.
import type { GuestRam } from '../machine/memory.js';
import { SnapshotError } from './state.js';

/** The magic a snapshot file starts with. */
export const SNAPSHOT_MAGIC = 'TVSNAP\r\n';
const MAGIC = Uint8Array.from(SNAPSHOT_MAGIC, (c) => c.charCodeAt(0));
/** Bumped whenever the layout above or the meaning of a record changes. */
export const SNAPSHOT_FORMAT = 2;
/** The formats this code reads. */
const READABLE_FORMATS = [1, 2];
const PAGE = 4096;
const RECORD = 4 + PAGE;
const RAM_STORED = 0;
const RAM_DEFLATE = 1;

/** Raw DEFLATE (RFC 1951), from the host: the core has no compressor of its own. */
export interface Deflate {
  (bytes: Uint8Array): Uint8Array;
}
/** Inflates raw DEFLATE to exactly `length` bytes; throws when the stream is bad or would be longer. */
export interface Inflate {
  (bytes: Uint8Array, length: number): Uint8Array;
}

/** A decoded snapshot: the caller's meta, and RAM as (page index, contents) in ascending order. */
export interface SnapshotContents {
  meta: unknown;
  ramPages: number;
  pages: { index: number; data: Uint8Array }[];
}

/** Writes a snapshot of `meta` and `ram`; its RAM compressed with `deflate` when given. */
export function encodeSnapshot(meta: unknown, ram: GuestRam, deflate?: Deflate): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(meta));
  const pages: number[] = [];
  const t = ram.touched;
  for (let p = 0; p < t.length; p++) if (t[p] !== 0 && !zero(ram.u8, p * PAGE)) pages.push(p);
  // the records: compressed from a buffer of their own, else written straight into the file's bytes
  const writeRecords = (dst: Uint8Array, at: number) => {
    const v = new DataView(dst.buffer, dst.byteOffset);
    pages.forEach((p, i) => {
      v.setUint32(at + i * RECORD, p, true);
      dst.set(ram.u8.subarray(p * PAGE, (p + 1) * PAGE), at + i * RECORD + 4);
    });
  };
  let stored: Uint8Array | null = null;
  if (deflate) {
    const records = new Uint8Array(pages.length * RECORD);
    writeRecords(records, 0);
    stored = deflate(records);
  }
  const head = 8 + 8 + json.length + 12 + (deflate ? 4 : 0);
  const storedLength = stored ? stored.length : pages.length * RECORD;
  const out = new Uint8Array(head + storedLength + 4);
  const v = new DataView(out.buffer);
  out.set(MAGIC, 0);
  let o = 8;
  v.setUint32(o, SNAPSHOT_FORMAT, true);
  v.setUint32(o + 4, json.length, true);
  out.set(json, o + 8);
  o += 8 + json.length;
  v.setUint32(o, ram.size / PAGE, true);
  v.setUint32(o + 4, pages.length, true);
  v.setUint32(o + 8, deflate ? RAM_DEFLATE : RAM_STORED, true);
  o += 12;
  if (stored) {
    v.setUint32(o, stored.length, true);
    out.set(stored, o + 4);
  } else writeRecords(out, o);
  o += (stored ? 4 : 0) + storedLength;
  v.setUint32(o, crc32(out.subarray(0, o)), true);
  return out;
}

/** Bytes before the machine record: magic, format, record length. */
export const SNAPSHOT_HEADER = 16;

const bad = (why: string) => new SnapshotError(`not a usable snapshot: ${why}`);

/** The machine record's length, from the first SNAPSHOT_HEADER bytes (or fewer: the file is that short). */
export function snapshotRecordLength(head: Uint8Array): number {
  if (head.length < 8 || MAGIC.some((b, i) => head[i] !== b)) throw bad('it does not start as a tvisor snapshot does');
  if (head.length < SNAPSHOT_HEADER) throw bad(`it ends inside its header (truncated at ${head.length} bytes)`);
  const v = new DataView(head.buffer, head.byteOffset, SNAPSHOT_HEADER);
  const format = v.getUint32(8, true);
  if (!READABLE_FORMATS.includes(format)) throw bad(`it is of format ${format}; this tvisor reads formats ${READABLE_FORMATS.join(' and ')}`);
  return v.getUint32(12, true);
}

/**
 * Reads a snapshot, checking everything about its layout; the pages are views into `bytes` (or, compressed,
 * into what `inflate` gives: without it, a compressed snapshot is refused).
 */
export function decodeSnapshot(bytes: Uint8Array, inflate?: Inflate): SnapshotContents {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const need = (o: number, n: number, what: string) => {
    if (o + n > bytes.length) throw bad(`it ends inside ${what} (truncated at ${bytes.length} bytes)`);
  };
  const metaLength = snapshotRecordLength(bytes.subarray(0, SNAPSHOT_HEADER));
  const format = v.getUint32(8, true);
  need(16, metaLength, 'its machine record');
  let o = 16 + metaLength;
  need(o, format === 1 ? 8 : 12, 'its RAM header');
  const ramPages = v.getUint32(o, true);
  const count = v.getUint32(o + 4, true);
  const encoding = format === 1 ? RAM_STORED : v.getUint32(o + 8, true);
  o += format === 1 ? 8 : 12;
  if (count > ramPages) throw bad(`it holds ${count} pages of a RAM of ${ramPages}`);
  if (encoding !== RAM_STORED && encoding !== RAM_DEFLATE) throw bad(`its RAM is stored in an unknown way (${encoding})`);
  let storedLength = count * RECORD;
  if (encoding === RAM_DEFLATE) {
    need(o, 4, 'its RAM header');
    storedLength = v.getUint32(o, true);
    o += 4;
  }
  need(o, storedLength + 4, 'its RAM');
  if (o + storedLength + 4 !== bytes.length) throw bad(`${bytes.length - (o + storedLength + 4)} bytes follow its end`);
  const end = o + storedLength;
  if (v.getUint32(end, true) !== crc32(bytes.subarray(0, end))) throw bad('its checksum does not match (the file is corrupt)');
  let meta: unknown;
  try {
    meta = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(16, 16 + metaLength)));
  } catch (e) {
    throw bad(`its machine record is not JSON (${(e as Error).message})`);
  }
  let records = bytes.subarray(o, end);
  if (encoding === RAM_DEFLATE) {
    if (!inflate) throw bad('its RAM is compressed, and this host cannot inflate it');
    try {
      records = inflate(records, count * RECORD);
    } catch (e) {
      throw bad(`its RAM does not inflate (${(e as Error).message})`);
    }
    if (records.length !== count * RECORD) throw bad(`its RAM inflates to ${records.length} bytes, not the ${count * RECORD} of its ${count} pages`);
  }
  const rv = new DataView(records.buffer, records.byteOffset, records.byteLength);
  const pages: { index: number; data: Uint8Array }[] = [];
  for (let i = 0, last = -1, at = 0; i < count; i++, at += RECORD) {
    const index = rv.getUint32(at, true);
    if (index <= last || index >= ramPages) throw bad(`its RAM page ${i} has index ${index}, not ascending within ${ramPages} pages`);
    last = index;
    pages.push({ index, data: records.subarray(at + 4, at + RECORD) });
  }
  return { meta, ramPages, pages };
}

/** Puts a snapshot's RAM into `ram` (of the same size): every other page reads zero. */
export function restoreRam(ram: GuestRam, c: SnapshotContents): void {
  if (c.ramPages * PAGE !== ram.size) throw new SnapshotError(`snapshot: its RAM is ${c.ramPages * 4} KiB, the machine's ${ram.size / 1024} KiB`);
  ram.zeroTouched();
  for (const p of c.pages) ram.write(ram.base + p.index * PAGE, p.data);
}

function zero(u8: Uint8Array, at: number): boolean {
  const w = new Int32Array(u8.buffer, u8.byteOffset + at, PAGE / 4);
  for (let i = 0; i < w.length; i++) if (w[i] !== 0) return false;
  return true;
}

/**
 * The tables of CRC-32 (IEEE 802.3, reflected polynomial 0xedb88320) for eight bytes at a time ("slicing by 8"):
 * T[0] is the classic byte table; T[k][n] is the CRC of byte n followed by k zero bytes. Computed once, never
 * changed (constants, not state).
 */
const CRC_TABLES: readonly Int32Array[] = (() => {
  const t = Array.from({ length: 8 }, () => new Int32Array(256));
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
    t[0][n] = c;
  }
  for (let n = 0; n < 256; n++) for (let k = 1; k < 8; k++) t[k][n] = (t[k - 1][n] >>> 8) ^ t[0][t[k - 1][n] & 0xff];
  return t;
})();

/** CRC-32 as zlib and PNG compute it; eight bytes a step (a snapshot's RAM is tens of MiB: 4-5x the byte loop). */
export function crc32(bytes: Uint8Array): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = CRC_TABLES;
  let c = ~0;
  let i = 0;
  for (const end = bytes.length - 7; i < end; i += 8) {
    const a = c ^ (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24));
    c = t7[a & 0xff] ^ t6[(a >>> 8) & 0xff] ^ t5[(a >>> 16) & 0xff] ^ t4[a >>> 24] ^
      t3[bytes[i + 4]] ^ t2[bytes[i + 5]] ^ t1[bytes[i + 6]] ^ t0[bytes[i + 7]];
  }
  for (; i < bytes.length; i++) c = t0[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
