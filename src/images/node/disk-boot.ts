// A disk's boot files (boot-disk.ts) kept in the image cache by content, so that a VM booted from them is
// described by files like any other (snapshots record and check them; the daemon reads them at each start).
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { DiskBoot } from '../boot-disk.js';
import { exists, sha256Hex, writeFileAtomic } from './files.js';
import { defaultCacheDir } from './guest.js';

export interface DiskBootFiles {
  kernel: string;
  initrd?: string;
}

/** Writes the kernel and initrd under CACHE/boot/ (once per content) and returns their paths. */
export async function cacheDiskBoot(boot: DiskBoot, cacheDir = defaultCacheDir()): Promise<DiskBootFiles> {
  const dir = join(resolve(cacheDir), 'boot');
  await mkdir(dir, { recursive: true });
  const keep = async (data: Uint8Array, name: string): Promise<string> => {
    const path = join(dir, `${sha256Hex(data).slice(0, 16)}-${name}`);
    if (!(await exists(path))) await writeFileAtomic(path, data);
    return path;
  };
  const kernel = await keep(boot.kernel, `vmlinux-${safeName(boot.version)}`);
  return boot.initrd ? { kernel, initrd: await keep(boot.initrd, `initrd.img-${safeName(boot.version)}`) } : { kernel };
}

/** A version from a disk's file name, made safe as part of a file name of ours. */
function safeName(version: string): string {
  return version.replace(/[^A-Za-z0-9.+_-]/g, '_').slice(0, 100);
}
