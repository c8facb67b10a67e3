// A kernel, initrd or firmware file for a VM to read straight into guest RAM (core/machine/boot-file.ts), opened
// through confined-open.ts each time: non-blocking, a regular file only, beneath the allowed directories if any.
import { closeSync, readSync } from 'node:fs';
import type { BootFile } from '../../core/machine/boot-file.js';
import { openConfined } from './confined-open.js';

export interface BootFileOptions {
  /** What the file is, for messages: "kernel", "initrd", "firmware". */
  label?: string;
  /** Directories the file must lie beneath (every open checks again); absent: anywhere (tvisor run). */
  allowedDirs?: readonly string[];
}

/**
 * The file as it is now: its size and identity are taken here, its bytes when the VM boots (again at each
 * reboot), each time from the same file: one replaced meanwhile (or swapped for a symlink) is refused.
 * Throws FileRefused when the file cannot be used.
 */
export function bootFile(path: string, o: BootFileOptions = {}): BootFile {
  const label = o.label ?? 'file';
  const open = () => openConfined(path, { label, allowedDirs: o.allowedDirs });
  const first = open();
  closeSync(first.fd);
  const size = Number(first.st.size);
  const { dev, ino } = first.st;
  return {
    size,
    read(into, position) {
      const { fd, st } = open();
      try {
        if (st.dev !== dev || st.ino !== ino) throw new Error(`${label} ${path} was replaced by another file since the VM was set up; stop and start the VM`);
        let done = 0;
        while (done < into.length) {
          const n = readSync(fd, into, done, into.length - done, position + done);
          if (n === 0) throw new Error(`${path} is shorter than when the VM was set up (${size} bytes): was it replaced?`);
          done += n;
        }
      } finally {
        closeSync(fd);
      }
    },
  };
}
