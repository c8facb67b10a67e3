// Booting a disk as a bootloader would: the newest kernel in the disk's /boot with its initrd, and the root
// file system named by its UUID. Debian installs its kernels as /boot/vmlinux-VERSION (on riscv64 the plain
// Image; vmlinuz- and Image- names, gzip-compressed or not, are taken too) and initramfs-tools makes
// /boot/initrd.img-VERSION; GRUB and U-Boot's extlinux menus pick the newest VERSION the same way. The disk is
// read through a ByteSource, so its overlay (or an HTTP range reader in a browser) sees what the guest wrote.
// No Node APIs.
import { decompressAuto, detectCompression } from './compress.js';
import { compareVersions } from './debian.js';
import { ImageError } from './errors.js';
import { Ext4Error, Ext4Reader, type ByteSource } from './ext4.js';

export interface DiskBoot {
  /** The kernel's version, from its file name. */
  version: string;
  /** Paths on the disk, for messages. */
  kernelPath: string;
  initrdPath?: string;
  /** The kernel (decompressed when it was gzip-compressed) and the initrd as they are. */
  kernel: Uint8Array;
  initrd?: Uint8Array;
  /** The root file system's UUID: the kernel command line says root=UUID=… */
  uuid: string;
  /** Said to the user: e.g. a file system that was not cleanly unmounted. */
  warnings: string[];
}

const SUPERBLOCK_MAGIC = 1024 + 56;
const KERNEL_NAME = /^(?:vmlinux|vmlinuz|Image)-(.+)$/;
/** Larger than any kernel or initrd a distribution ships; a corrupt size is refused before it is read. */
const MAX_BOOT_FILE = 512 * 2 ** 20;

/**
 * The boot files of the disk, or null when it holds no ext2/3/4 file system with a /boot directory (a data disk:
 * the caller boots as it would without it). Throws an ImageError when /boot has no kernel or cannot be read.
 */
export async function findDiskBoot(source: ByteSource, label: string): Promise<DiskBoot | null> {
  // no ext2/3/4 superblock magic (0xEF53 at byte 1024 + 56): not a file system this boots from
  const magic = source.size >= 2048 ? source.read(SUPERBLOCK_MAGIC, 2) : new Uint8Array(0);
  if (magic.length < 2 || (magic[0] | (magic[1] << 8)) !== 0xef53) return null;
  try {
    const fs = Ext4Reader.open(source);
    const boot = fs.stat('/boot');
    if (boot?.type !== 'directory') return null;
    const kernels = fs.readdir('/boot')
      .map((e) => ({ name: e.name, version: KERNEL_NAME.exec(e.name)?.[1] }))
      .filter((k): k is { name: string; version: string } => k.version !== undefined && fs.stat(`/boot/${k.name}`)?.type === 'file');
    if (kernels.length === 0) {
      throw new ImageError(
        `${label} has no kernel in /boot (vmlinux-VERSION or vmlinuz-VERSION): install one in the guest ` +
          '(apt-get install linux-image-riscv64), or boot it with --kernel and --initrd',
      );
    }
    const newest = kernels.reduce((a, b) => (compareVersions(b.version, a.version) > 0 ? b : a));
    const kernelPath = `/boot/${newest.name}`;
    const warnings: string[] = [];
    if (fs.needsRecovery) warnings.push(`${label}: its file system was not cleanly unmounted; /boot is read as last written out (the guest's fsck will replay the journal)`);
    let kernel = fs.readFile(kernelPath, MAX_BOOT_FILE);
    if (detectCompression(kernel) === 'gzip') kernel = await decompressAuto(kernel);
    const initrdPath = `/boot/initrd.img-${newest.version}`;
    const hasInitrd = fs.stat(initrdPath)?.type === 'file';
    if (!hasInitrd) warnings.push(`${label}: no ${initrdPath} beside ${kernelPath}; booting the kernel without an initrd`);
    return {
      version: newest.version,
      kernelPath,
      kernel,
      ...(hasInitrd ? { initrdPath, initrd: fs.readFile(initrdPath, MAX_BOOT_FILE) } : {}),
      uuid: fs.uuid,
      warnings,
    };
  } catch (e) {
    if (e instanceof Ext4Error) throw new ImageError(`${label}: cannot read its file system's /boot: ${e.message}`);
    throw e;
  }
}

/** The kernel command line a disk boot starts from: its root by UUID, mounted read-only until its fstab says. */
export function diskBootCmdline(boot: DiskBoot, console: 'ttyS0' | 'hvc0'): string {
  return `console=${console} root=UUID=${boot.uuid} ro`;
}
