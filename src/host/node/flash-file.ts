// The files behind a VM's CFI flash banks (core/devices/cfi-flash.ts): bank 0's image, read once (read-only,
// executed in place: EDK2's RISCV_VIRT_CODE.fd), and bank 1's, whose every change the guest makes is written
// back to its file at once (EDK2's variable store: a copy of RISCV_VIRT_VARS.fd), as QEMU's pflash drives and
// libvirt's nvram files do. Both are opened as regular files only, without blocking (confined-open.ts).
import { closeSync, readSync, writeSync } from 'node:fs';
import { FileRefused, openConfined } from './confined-open.js';
import { DiskError, lockWriter } from './block-file.js';

/** A bank file that cannot be used; the message says which and why. */
export class FlashFileError extends Error {
  override name = 'FlashFileError';
}

/** Reads `fd` from its start into `into` until `length` bytes or the end of the file; returns the bytes read. */
function readAll(fd: number, into: Uint8Array, length: number): number {
  let done = 0;
  while (done < length) {
    const n = readSync(fd, into, done, length - done, done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

/** Opens a bank file, refusing what is not a regular file no larger than the bank. */
function openBank(path: string, label: string, bankSize: number, write: boolean, allowedDirs?: readonly string[]): { fd: number; size: number; unlock(): void } {
  let opened;
  try {
    opened = openConfined(path, { label, write, allowedDirs });
  } catch (e) {
    if (e instanceof FileRefused) throw new FlashFileError(e.message);
    throw e;
  }
  const size = Number(opened.st.size);
  try {
    if (size > bankSize) throw new FlashFileError(`${label} ${path}: ${size} bytes do not fit a flash bank of ${bankSize} bytes`);
    // one writer per file, as for disks: two VMs on one variable store would undo each other's writes
    const lock = write ? lockWriter(opened.st, `${label} ${path}`, path) : null;
    return { fd: opened.fd, size, unlock: () => lock?.release() };
  } catch (e) {
    closeSync(opened.fd);
    if (e instanceof DiskError) throw new FlashFileError(e.message);
    throw e;
  }
}

/** Bank 0's image: the file's bytes (at most a bank); beneath `allowedDirs` when given (the daemon). */
export function readFlashImage(path: string, bankSize: number, allowedDirs?: readonly string[]): Uint8Array {
  const { fd, size } = openBank(path, 'flash image', bankSize, false, allowedDirs);
  try {
    const bytes = new Uint8Array(size);
    if (readAll(fd, bytes, size) !== size) throw new FlashFileError(`flash image ${path} changed while it was read`);
    return bytes;
  } finally {
    closeSync(fd);
  }
}

/** Bank 1 on a file: its bytes (past the file's end, erased: all ones), written back as the guest changes them. */
export interface FlashVarsFile {
  storage: Uint8Array;
  written(offset: number, length: number): void;
  close(): void;
}

/**
 * Opens bank 1's file for reading and writing. A file shorter than the bank reads as erased past its end and
 * grows as the guest writes there. A failed write back (disk full) is thrown to the caller: the guest's change
 * would otherwise be lost without a word.
 */
export function openFlashVars(path: string, bankSize: number, allowedDirs?: readonly string[]): FlashVarsFile {
  const { fd, size, unlock } = openBank(path, 'flash variable store', bankSize, true, allowedDirs);
  const storage = new Uint8Array(bankSize).fill(0xff);
  try {
    if (readAll(fd, storage, size) !== size) throw new FlashFileError(`flash variable store ${path} changed while it was read`);
  } catch (e) {
    closeSync(fd);
    unlock();
    throw e;
  }
  let open = true;
  return {
    storage,
    written(offset, length) {
      if (!open) return;
      let done = 0;
      while (done < length) done += writeSync(fd, storage, offset + done, length - done, offset + done);
    },
    close() {
      if (open) {
        closeSync(fd);
        unlock();
      }
      open = false;
    },
  };
}
