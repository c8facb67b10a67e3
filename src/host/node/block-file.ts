// Disk images for virtio-blk (the BlockBackend of virtio 1.2 section 5.2) on Node files: raw images, read-only
// images, copy-on-write overlays over a read-only base, and lock files so two tvisor processes never write one.
//
// Overlay file format (all integers little-endian), version 1:
//   0      header, 4096 bytes: magic "TVOVL001", u32 version = 1, u32 header size = 4096, u32 block size (4096),
//          u32 reserved = 0, u64 virtual size, u64 base image size, u64 bitmap offset (4096), u64 bitmap length,
//          u64 data offset, u32 base path length, then the base image's absolute path in UTF-8 (informational)
//   4096   allocation bitmap: bit (b % 8) of byte floor(b / 8) set = block b is held by the overlay
//   data   block b lives at data offset + b * block size, so the file is sparse and a disk range maps to one
//          contiguous file range; blocks whose bit is clear read from the base image
// Crash safety: a bit is only ever written to the file after its block's data was made durable (fdatasync),
// and bits reach the file only at flush or close, so a torn run shows at most the blocks it wrote.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BlockIoError, type BlockBackend } from '../../core/virtio/blk/backend.js';
import { acquirePidLock, errCode, fsyncDir, heldByThisProcess, PidLockError, preciseLockText, readPidLock, releasePidLock } from './pid-lock.js';
import { FileRefused, openConfined } from './confined-open.js';
import type { DiskOpenSpec } from '../../hypervisor/devices.js';

/** A disk as the user names it: `PATH[,readonly][,overlay=PATH]`; what the device builder opens (hypervisor/devices.ts). */
export type DiskSpec = DiskOpenSpec;

/** A disk that cannot be opened; the message says what is wrong and what to do about it. */
export class DiskError extends Error {
  override name = 'DiskError';
}

const SECTOR = 512;
/** writeZeroes writes at most this much per system call, from one shared buffer of zeroes. */
const ZERO_CHUNK = 1 << 20;
const OVL_MAGIC = 'TVOVL001';
const OVL_VERSION = 1;
const OVL_HEADER = 4096;
/** The guest's page size: Linux writes whole pages, so overlay writes almost never need a copy-up. */
const OVL_BLOCK = 4096;
/** The bitmap is written back in units of this many bytes (one host page). */
const BITMAP_PAGE = 4096;

/** Opens a disk image as a block backend. Throws DiskError when it cannot be used. */
export function openDiskImage(spec: DiskSpec): BlockBackend {
  if (spec.overlay !== undefined) {
    if (spec.readOnly) {
      throw new DiskError(`disk ${spec.path}: readonly and overlay= exclude each other (the overlay takes the writes)`);
    }
    return openOverlay(spec.path, spec.overlay, spec);
  }
  return openRaw(spec.path, spec.readOnly ?? false, spec);
}

/** Where the lock of the image at `file` lives while a tvisor process has it open for writing. */
export function diskLockPath(file: string): string {
  const st = fs.statSync(file, { bigint: true });
  return path.join(lockDir(), `${st.dev}-${st.ino}.lock`);
}

/**
 * Removes the locks `owner` (DiskSpec.owner) still holds in this process on `files` — for the daemon, once the
 * VM's thread has ended without closing its disks (terminated, or died): a lock of this process would
 * otherwise stay live until the daemon exits. Locks of other holders are left alone.
 */
export function releaseAbandonedLocks(owner: string, files: readonly string[]): void {
  for (const file of files) {
    let lockPath: string;
    try {
      lockPath = diskLockPath(file);
    } catch {
      continue; // gone: whatever lock it had names a file nobody can open by this path
    }
    const text = readPidLock(lockPath);
    if (text !== null && heldByThisProcess(text) && text.includes(`\nholder=${owner}\n`)) releasePidLock(lockPath, text);
  }
}

// ---- raw images ----

function openRaw(file: string, readOnly: boolean, o: DiskSpec): RawImage {
  const label = `disk ${file}`;
  const { fd, st } = openFile(file, 'disk', !readOnly, o);
  try {
    const size = Number(st.size);
    if (size === 0) throw new DiskError(`${label}: the file is empty; give it a size first, e.g. truncate -s 1G ${file}`);
    if (size % SECTOR !== 0) {
      throw new DiskError(`${label}: size ${size} is not a multiple of 512 bytes; pad it, e.g. truncate -s ${Math.ceil(size / SECTOR) * SECTOR} ${file}`);
    }
    const key = fileKey(st);
    let lock: FileLock | null = null;
    if (!readOnly) {
      if (basesInUse.has(key)) throw new DiskError(`${label}: is the base of an overlay open in this process and must not change under it`);
      lock = acquireLock(key, label, file, 'use ,readonly to share it', o.owner);
    }
    return new RawImage(label, fd, size, readOnly, key, lock);
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
}

class RawImage implements BlockBackend {
  private closed = false;

  constructor(
    private readonly label: string,
    private readonly fd: number,
    readonly size: number,
    readonly readOnly: boolean,
    /** The file's identity (device and inode). */
    readonly key: string,
    private readonly lock: FileLock | null,
  ) {
    if (lock) lock.owner = this;
  }

  read(offset: number, dst: Uint8Array): void {
    checkAccess(this.label, this.closed, this.size, offset, dst.length);
    hostIo(this.label, 'read', offset, dst.length, () => preadFull(this.fd, dst, offset));
  }

  write(offset: number, src: Uint8Array): void {
    if (this.readOnly) throw new BlockIoError(`${this.label}: opened read-only`);
    checkAccess(this.label, this.closed, this.size, offset, src.length);
    hostIo(this.label, 'write', offset, src.length, () => pwriteFull(this.fd, src, offset));
  }

  flush(): void {
    checkAccess(this.label, this.closed, this.size, 0, 0);
    if (this.readOnly) return; // nothing of ours to make durable
    hostIo(this.label, 'flush', 0, 0, () => fs.fsyncSync(this.fd));
  }

  /** Node has no fallocate(PUNCH_HOLE), so there is no way to deallocate; the spec lets a device ignore discard. */
  discard(): void {}

  writeZeroes(offset: number, length: number): void {
    if (this.readOnly) throw new BlockIoError(`${this.label}: opened read-only`);
    checkAccess(this.label, this.closed, this.size, offset, length);
    writeZeroChunks(this, offset, length);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      fs.closeSync(this.fd);
    } finally {
      this.lock?.release();
    }
  }
}

// ---- copy-on-write overlays ----

interface OverlayLayout {
  blockSize: number;
  virtualSize: number;
  baseSize: number;
  bitmapOffset: number;
  bitmapLength: number;
  dataOffset: number;
  basePath: string;
}

const roundUp = (n: number, to: number) => Math.ceil(n / to) * to;

function overlayLayout(size: number, blockSize: number, basePath: string): OverlayLayout {
  const bitmapLength = roundUp(Math.ceil(Math.ceil(size / blockSize) / 8), BITMAP_PAGE);
  const dataOffset = roundUp(OVL_HEADER + bitmapLength, blockSize);
  return { blockSize, virtualSize: size, baseSize: size, bitmapOffset: OVL_HEADER, bitmapLength, dataOffset, basePath };
}

function encodeHeader(l: OverlayLayout): Uint8Array {
  const h = new Uint8Array(OVL_HEADER);
  const v = new DataView(h.buffer);
  h.set(new TextEncoder().encode(OVL_MAGIC), 0);
  v.setUint32(8, OVL_VERSION, true);
  v.setUint32(12, OVL_HEADER, true);
  v.setUint32(16, l.blockSize, true);
  v.setBigUint64(24, BigInt(l.virtualSize), true);
  v.setBigUint64(32, BigInt(l.baseSize), true);
  v.setBigUint64(40, BigInt(l.bitmapOffset), true);
  v.setBigUint64(48, BigInt(l.bitmapLength), true);
  v.setBigUint64(56, BigInt(l.dataOffset), true);
  // the path is only a hint for error messages, so an over-long one is cut rather than refused
  const p = new TextEncoder().encode(l.basePath).subarray(0, OVL_HEADER - 68);
  v.setUint32(64, p.length, true);
  h.set(p, 68);
  return h;
}

function decodeHeader(h: Uint8Array, label: string): OverlayLayout {
  const v = new DataView(h.buffer, h.byteOffset, h.byteLength);
  if (h.length < OVL_HEADER || new TextDecoder().decode(h.subarray(0, 8)) !== OVL_MAGIC) {
    throw new DiskError(`${label}: not a tvisor overlay (no ${OVL_MAGIC} header, or its creation was interrupted); choose another file or delete this one to start over`);
  }
  const version = v.getUint32(8, true);
  if (version !== OVL_VERSION) throw new DiskError(`${label}: overlay format version ${version} is not supported by this tvisor (it reads version ${OVL_VERSION})`);
  const u64 = (o: number) => {
    const n = v.getBigUint64(o, true);
    return n > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(n);
  };
  const blockSize = v.getUint32(16, true);
  const virtualSize = u64(24);
  const pathLength = v.getUint32(64, true);
  const corrupt = () => new DiskError(`${label}: the overlay header is corrupt; delete the overlay to start over (its writes are lost)`);
  if (v.getUint32(12, true) !== OVL_HEADER || blockSize < SECTOR || blockSize > 1 << 20 || (blockSize & (blockSize - 1)) !== 0) throw corrupt();
  if (virtualSize <= 0 || virtualSize % SECTOR !== 0 || pathLength > OVL_HEADER - 68) throw corrupt();
  const basePath = new TextDecoder().decode(h.subarray(68, 68 + pathLength));
  const l = { ...overlayLayout(virtualSize, blockSize, basePath), baseSize: u64(32) };
  if (l.baseSize <= 0 || u64(40) !== l.bitmapOffset || u64(48) !== l.bitmapLength || u64(56) !== l.dataOffset) throw corrupt();
  return l;
}

/** Identities of images serving as overlay bases in this process, with how many overlays use each. */
const basesInUse = new Map<string, number>();

function openOverlay(basePath: string, file: string, o: DiskSpec): OverlayImage {
  const label = `disk overlay ${file}`;
  const base = openRaw(basePath, true, o);
  try {
    if (held.has(base.key)) throw new DiskError(`disk ${basePath}: is open for writing in this process, so it cannot also be an overlay's base`);
    // created exclusively if missing: if another process creates it first, theirs is opened (its lock decides below)
    const { fd, st, created } = openFile(file, 'disk overlay', true, o, true);
    try {
      const key = fileKey(st);
      if (key === base.key) throw new DiskError(`${label}: is the base image itself; choose another file for the overlay`);
      const lock = acquireLock(key, label, file, 'give this VM an overlay file of its own', o.owner);
      try {
        let layout: OverlayLayout;
        if (st.size === 0n) {
          // new (or created empty by the user): write the header and size the file past the bitmap, durably
          // (sized first: an interrupted creation leaves no header rather than a header without a bitmap)
          layout = overlayLayout(base.size, OVL_BLOCK, path.resolve(basePath));
          fs.ftruncateSync(fd, layout.dataOffset);
          pwriteFull(fd, encodeHeader(layout), 0);
          fs.fsyncSync(fd);
          if (created) fsyncDir(path.dirname(path.resolve(file)));
        } else {
          const h = new Uint8Array(OVL_HEADER);
          const n = fs.readSync(fd, h, 0, OVL_HEADER, 0);
          layout = decodeHeader(h.subarray(0, n), label);
          if (layout.baseSize !== base.size || layout.virtualSize !== base.size) {
            throw new DiskError(`${label}: was made for a base image of ${layout.baseSize} bytes (${layout.basePath}), but ${basePath} has ${base.size}; use the matching base, or delete the overlay to start over`);
          }
        }
        const bitmap = new Uint8Array(layout.bitmapLength);
        try {
          preadFull(fd, bitmap, layout.bitmapOffset);
        } catch (e) {
          throw new DiskError(`${label}: cannot read its allocation bitmap (${errCode(e) || (e as Error).message}); the file is truncated or unreadable`);
        }
        return new OverlayImage(label, base, fd, layout, bitmap, lock);
      } catch (e) {
        lock.release();
        throw e;
      }
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  } catch (e) {
    base.close();
    throw e;
  }
}

class OverlayImage implements BlockBackend {
  readonly readOnly = false;
  readonly size: number;
  private readonly blockSize: number;
  private readonly dataOffset: number;
  private readonly bitmapOffset: number;
  /** Bitmap pages with bits not yet in the file. */
  private readonly dirty = new Set<number>();
  /** One block, for copy-ups. */
  private readonly scratch: Uint8Array;
  private closed = false;

  constructor(
    private readonly label: string,
    private readonly base: RawImage,
    private readonly fd: number,
    layout: OverlayLayout,
    private readonly bitmap: Uint8Array,
    private readonly lock: FileLock,
  ) {
    this.size = layout.virtualSize;
    this.blockSize = layout.blockSize;
    this.dataOffset = layout.dataOffset;
    this.bitmapOffset = layout.bitmapOffset;
    this.scratch = new Uint8Array(layout.blockSize);
    lock.owner = this;
    basesInUse.set(base.key, (basesInUse.get(base.key) ?? 0) + 1);
  }

  /** Whether block b is held by the overlay (b can exceed 2^32 on huge disks, hence no shifts). */
  private has(b: number): boolean {
    return ((this.bitmap[Math.floor(b / 8)] >> (b % 8)) & 1) === 1;
  }

  private mark(b: number): void {
    const i = Math.floor(b / 8);
    const bit = 1 << (b % 8);
    if (this.bitmap[i] & bit) return;
    this.bitmap[i] |= bit;
    this.dirty.add(Math.floor(i / BITMAP_PAGE));
  }

  private blockEnd(b: number): number {
    return Math.min((b + 1) * this.blockSize, this.size);
  }

  read(offset: number, dst: Uint8Array): void {
    checkAccess(this.label, this.closed, this.size, offset, dst.length);
    const B = this.blockSize;
    const stop = offset + dst.length;
    hostIo(this.label, 'read', offset, dst.length, () => {
      for (let pos = offset; pos < stop;) {
        // one read per run of blocks from the same file
        const inOverlay = this.has(Math.floor(pos / B));
        let end = Math.min(stop, (Math.floor(pos / B) + 1) * B);
        while (end < stop && this.has(end / B) === inOverlay) end = Math.min(stop, end + B);
        const part = dst.subarray(pos - offset, end - offset);
        if (inOverlay) preadFull(this.fd, part, this.dataOffset + pos);
        else this.base.read(pos, part);
        pos = end;
      }
    });
  }

  write(offset: number, src: Uint8Array): void {
    checkAccess(this.label, this.closed, this.size, offset, src.length);
    if (src.length === 0) return;
    const B = this.blockSize;
    const stop = offset + src.length;
    const first = Math.floor(offset / B);
    const last = Math.floor((stop - 1) / B);
    hostIo(this.label, 'write', offset, src.length, () => {
      // only the edge blocks can be partly covered; their other bytes must come from the base first
      if (!this.has(first) && (offset > first * B || stop < this.blockEnd(first))) this.copyUp(first);
      if (last !== first && !this.has(last) && stop < this.blockEnd(last)) this.copyUp(last);
      pwriteFull(this.fd, src, this.dataOffset + offset);
    });
    // marked only once the data is in the file, so a failed write leaves the blocks reading from the base
    for (let b = first; b <= last; b++) this.mark(b);
  }

  private copyUp(b: number): void {
    const start = b * this.blockSize;
    const block = this.scratch.subarray(0, this.blockEnd(b) - start);
    this.base.read(start, block);
    pwriteFull(this.fd, block, this.dataOffset + start);
  }

  flush(): void {
    checkAccess(this.label, this.closed, this.size, 0, 0);
    this.persist();
  }

  /** Data first, then the bitmap: a bit in the file must never vouch for a block that is not durable yet. */
  private persist(): void {
    hostIo(this.label, 'flush', 0, 0, () => {
      fs.fdatasyncSync(this.fd);
      if (this.dirty.size === 0) return;
      for (const page of [...this.dirty].sort((a, b) => a - b)) {
        const start = page * BITMAP_PAGE;
        pwriteFull(this.fd, this.bitmap.subarray(start, Math.min(start + BITMAP_PAGE, this.bitmap.length)), this.bitmapOffset + start);
      }
      fs.fsyncSync(this.fd);
      this.dirty.clear(); // only now: after a failure the pages are written again next time
    });
  }

  /** Ignored, as on raw images: the blocks stay allocated and keep their contents. */
  discard(): void {}

  /** Zero blocks are written into the overlay: clearing bits instead would expose the base's data. */
  writeZeroes(offset: number, length: number): void {
    checkAccess(this.label, this.closed, this.size, offset, length);
    writeZeroChunks(this, offset, length);
  }

  /** Persists the bitmap (so writes of this run survive a clean exit) and releases everything. */
  close(): void {
    if (this.closed) return;
    try {
      this.persist();
    } finally {
      this.closed = true;
      const n = (basesInUse.get(this.base.key) ?? 1) - 1;
      if (n > 0) basesInUse.set(this.base.key, n);
      else basesInUse.delete(this.base.key);
      try {
        fs.closeSync(this.fd);
      } finally {
        this.base.close();
        this.lock.release();
      }
    }
  }
}

// ---- locks ----
// A writer announces itself with a pid lock file (pid-lock.ts) named after the image's (device, inode) in a
// per-user directory.

/** Locks this process holds, by file identity. */
const held = new Map<string, FileLock>();
let exitHooked = false;

class FileLock {
  /** The backend to close (persisting overlay bitmaps) if the process exits with it still open. */
  owner: { close(): void } | null = null;

  constructor(readonly key: string, readonly lockPath: string, readonly file: string, private readonly text: string) {}

  /** Removes the lock file only while it still holds this lock's exact text (never another thread's lock). */
  release(): void {
    if (held.get(this.key) !== this) return;
    held.delete(this.key);
    releasePidLock(this.lockPath, this.text);
  }
}

function lockDir(): string {
  const user = typeof process.getuid === 'function' ? String(process.getuid()) : os.userInfo().username;
  return path.join(os.tmpdir(), `tvisor-locks-${user}`);
}

function acquireLock(key: string, label: string, file: string, hint: string, owner?: string): FileLock {
  const mine = held.get(key);
  if (mine) throw new DiskError(`${label}: already open for writing in this process (as ${mine.file})`);
  const dir = lockDir();
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new DiskError(`${label}: cannot create a lock in ${dir} (${errCode(e)}); check TMPDIR`);
  }
  // a directory planted by another user could lock us out or feed us pids
  if (typeof process.getuid === 'function' && fs.statSync(dir).uid !== process.getuid()) {
    throw new DiskError(`${label}: the lock directory ${dir} belongs to another user; remove it or set TMPDIR`);
  }
  const lockPath = path.join(dir, `${key}.lock`);
  let holder: number | null;
  const text = preciseLockText(`file=${path.resolve(file)}\n${owner === undefined ? '' : `holder=${owner}\n`}`);
  try {
    holder = acquirePidLock(lockPath, text);
  } catch (e) {
    if (!(e instanceof PidLockError)) throw e;
    if (e.step === 'create') throw new DiskError(`${label}: cannot create a lock in ${dir} (${e.detail}); check TMPDIR`);
    if (e.step === 'stale') throw new DiskError(`${label}: cannot remove the stale lock ${lockPath} (${e.detail})`);
    if (e.step === 'busy') throw new DiskError(`${label}: could not take the lock ${lockPath} (busy); try again`);
    throw new DiskError(`${label}: cannot create the lock ${lockPath} (${e.detail})`);
  }
  if (holder !== null) {
    const who = /^holder=(.*)$/m.exec(readPidLock(lockPath) ?? '')?.[1];
    const by = holder === process.pid
      ? `already open for writing by ${who ?? 'another VM'} of this tvisor process`
      : `in use by another tvisor process (pid ${holder}${who ? `, ${who}` : ''})`;
    throw new DiskError(`${label}: ${by}; ${hint}`);
  }
  const lock = new FileLock(key, lockPath, file, text);
  held.set(key, lock);
  hookExit();
  return lock;
}

/** On exit, close what is still open: overlays persist their bitmaps, and every lock file is removed. */
function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', () => {
    for (const lock of [...held.values()]) {
      try {
        lock.owner?.close();
      } catch {
        // the process is ending: nobody to report to, and the lock is still removed below
      }
      lock.release();
    }
  });
}

// ---- helpers ----

/** Opens an image or overlay non-blocking, as a regular file, confined when the spec gives allowed directories. */
function openFile(file: string, what: string, write: boolean, o: DiskSpec, create = false): { fd: number; st: fs.BigIntStats; created: boolean } {
  try {
    return openConfined(file, { label: what, write, create, allowedDirs: o.allowedDirs });
  } catch (e) {
    if (e instanceof FileRefused) throw new DiskError(e.message);
    throw e;
  }
}

function fileKey(st: fs.BigIntStats): string {
  return `${st.dev}-${st.ino}`;
}

/**
 * Takes the writer's lock a disk image takes (one writer per file, across tvisor processes) for another file a
 * VM writes (a flash bank's variable store), by its stats; throws DiskError saying who holds it.
 */
export function lockWriter(st: fs.BigIntStats, label: string, file: string): { release(): void } {
  return acquireLock(fileKey(st), label, file, 'give each VM a file of its own');
}


function checkAccess(label: string, closed: boolean, size: number, offset: number, length: number): void {
  if (closed) throw new BlockIoError(`${label}: used after close`);
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
    throw new BlockIoError(`${label}: ${length} bytes at offset ${offset} lie outside the disk (${size} bytes)`);
  }
}

/** Runs host I/O; a failure becomes the BlockIoError the device expects (labelled ones pass unchanged). */
function hostIo(label: string, what: string, offset: number, length: number, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (e instanceof BlockIoError) throw e;
    const why = errCode(e) || (e as Error)?.message || String(e);
    throw new BlockIoError(`${label}: ${what}${length ? ` of ${length} bytes at offset ${offset}` : ''} failed (${why})`);
  }
}

function preadFull(fd: number, buf: Uint8Array, position: number): void {
  for (let done = 0; done < buf.length;) {
    const n = fs.readSync(fd, buf, done, buf.length - done, position + done);
    if (n === 0) throw Object.assign(new Error(`end of file at offset ${position + done}`), { code: 'EOF (the file was truncated)' });
    done += n;
  }
}

function pwriteFull(fd: number, buf: Uint8Array, position: number): void {
  for (let done = 0; done < buf.length;) {
    done += fs.writeSync(fd, buf, done, buf.length - done, position + done);
  }
}

/** Writes zeroes in bounded chunks: host memory stays at most ZERO_CHUNK whatever the length. */
function writeZeroChunks(disk: BlockBackend, offset: number, length: number): void {
  const zeroes = new Uint8Array(Math.min(length, ZERO_CHUNK));
  for (let done = 0; done < length; done += zeroes.length) {
    disk.write(offset + done, zeroes.subarray(0, Math.min(zeroes.length, length - done)));
  }
}


// ---- copies of overlays (snapshots) ----

/**
 * Copies the overlay at `from` to a new file `to`, block by block as its bitmap says, so the copy is as sparse
 * as the original: what a snapshot keeps of a disk's state, and what each clone restored from it starts from.
 * `from` must be flushed (its bitmap in the file) and must not change during the copy. `to` must not exist: it
 * is written under a temporary name and linked into place only when complete and durable, so a failure leaves
 * no half copy and, unless `replace`, a file of that name is never replaced. Returns the bytes of data copied.
 */
export function copyOverlay(from: string, to: string, opts: { allowedDirs?: readonly string[]; replace?: boolean } = {}): number {
  const label = `disk overlay ${from}`;
  const src = openFile(from, 'disk overlay', false, { path: from, allowedDirs: opts.allowedDirs });
  try {
    const h = new Uint8Array(OVL_HEADER);
    const layout = decodeHeader(h.subarray(0, fs.readSync(src.fd, h, 0, OVL_HEADER, 0)), label);
    const bitmap = new Uint8Array(layout.bitmapLength);
    preadFull(src.fd, bitmap, layout.bitmapOffset);
    const tmp = `${to}.tmp-${process.pid}`;
    let fd: number;
    try {
      fd = fs.openSync(tmp, 'wx', 0o600);
    } catch (e) {
      throw new DiskError(`cannot create ${tmp} (${errCode(e) || (e as Error).message})`);
    }
    let copied = 0;
    try {
      fs.ftruncateSync(fd, Number(src.st.size));
      pwriteFull(fd, h, 0);
      pwriteFull(fd, bitmap, layout.bitmapOffset);
      const blocks = Math.ceil(layout.virtualSize / layout.blockSize);
      const buf = new Uint8Array(Math.min(1 << 20, roundUp(layout.virtualSize, layout.blockSize)));
      const per = buf.length / layout.blockSize;
      for (let b = 0; b < blocks;) {
        if ((bitmap[Math.floor(b / 8)] & (1 << (b % 8))) === 0) {
          b++;
          continue;
        }
        // a run of held blocks, at most one buffer long
        let n = 1;
        while (n < per && b + n < blocks && (bitmap[Math.floor((b + n) / 8)] & (1 << ((b + n) % 8))) !== 0) n++;
        const at = layout.dataOffset + b * layout.blockSize;
        const part = buf.subarray(0, Math.min(n * layout.blockSize, Number(src.st.size) - at));
        preadFull(src.fd, part, at);
        pwriteFull(fd, part, at);
        copied += part.length;
        b += n;
      }
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      fd = -1;
      try {
        if (opts.replace) fs.renameSync(tmp, to);
        else fs.linkSync(tmp, to); // never replaces: EEXIST if `to` exists
      } catch (e) {
        throw new DiskError(`cannot create ${to} (${errCode(e) || (e as Error).message})`);
      }
      fsyncDir(path.dirname(path.resolve(to)));
    } catch (e) {
      if (e instanceof DiskError) throw e;
      throw new DiskError(`copying ${label} to ${to}: ${errCode(e) || (e as Error).message}`);
    } finally {
      if (fd >= 0) fs.closeSync(fd);
      fs.rmSync(tmp, { force: true });
    }
    return copied;
  } finally {
    fs.closeSync(src.fd);
  }
}
