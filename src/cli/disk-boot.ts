// `tvisor run --disk IMAGE` without --kernel: when the first disk holds a system with kernels in its /boot, the
// newest one boots with its initrd, as a bootloader would (images/boot-disk.ts), read through the disk's
// overlay when it has one, so that a kernel the guest installed boots next time.
import { diskBootCmdline, findDiskBoot } from '../images/boot-disk.js';
import { ImageError } from '../images/errors.js';
import { cacheDiskBoot } from '../images/node/disk-boot.js';
import { DiskError, openDiskImage } from '../host/node/block-file.js';
import { InputError } from './args.js';
import { parseDiskOption } from './devices.js';

export interface DiskBootChoice {
  kernel: string;
  initrd?: string;
  cmdline: string;
}

/** The boot files of the disk `--disk TEXT` names, or null when it holds no /boot (a data disk). */
export async function bootFromDisk(text: string, console: 'ttyS0' | 'hvc0', cacheDir: string, warn: (line: string) => void): Promise<DiskBootChoice | null> {
  const spec = parseDiskOption(text);
  let disk;
  try {
    disk = openDiskImage({ path: spec.path, readOnly: spec.overlay === undefined, ...(spec.overlay !== undefined ? { overlay: spec.overlay } : {}) });
  } catch (e) {
    if (e instanceof DiskError) throw new InputError(e.message);
    throw e;
  }
  try {
    const source = {
      size: disk.size,
      read(offset: number, length: number): Uint8Array {
        const bytes = new Uint8Array(Math.max(0, Math.min(length, disk.size - offset)));
        if (bytes.length > 0) disk.read(offset, bytes);
        return bytes;
      },
    };
    const boot = await findDiskBoot(source, spec.path);
    if (!boot) return null;
    for (const w of boot.warnings) warn(`tvisor: ${w}`);
    const files = await cacheDiskBoot(boot, cacheDir);
    warn(`tvisor: booting Linux ${boot.version} from ${spec.path}'s ${boot.kernelPath}${boot.initrdPath ? ` and ${boot.initrdPath}` : ''}`);
    return { ...files, cmdline: diskBootCmdline(boot, console) };
  } catch (e) {
    if (e instanceof ImageError) throw new InputError(e.message);
    throw e;
  } finally {
    disk.close();
  }
}
