// A kernel, initrd or firmware file for a VM to read straight into guest RAM (core/machine/boot-file.ts).
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { BootFile } from '../../core/machine/boot-file.js';

/** The file as it is now: its size is taken here, its bytes when the VM boots (again at each reboot). */
export function bootFile(path: string): BootFile {
  const fd = openSync(path, 'r');
  let size: number;
  try {
    size = fstatSync(fd).size;
  } finally {
    closeSync(fd);
  }
  return {
    size,
    read(into, position) {
      const fd = openSync(path, 'r');
      try {
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
