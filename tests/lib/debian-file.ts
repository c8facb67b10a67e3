// One file out of a Debian package of the guest suite (trixie), for tests that boot firmware Debian ships:
// U-Boot's S-mode build from u-boot-qemu, EDK2 from qemu-efi-riscv64. The package comes from the archive
// through the image cache's verified chain (fetchPackage), and the file is kept in the cache under
// files/PACKAGE_VERSION/ for later runs.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { basename, join } from 'node:path';
import { defaultCacheDir, fetchPackage, readPackagesIndex } from '../../src/images/node/guest.js';
import { findPackages, newest } from '../../src/images/debian.js';

/** The path of `path` (as in the package, e.g. usr/lib/u-boot/qemu-riscv64_smode/uboot.elf) from the newest `pkg`. */
export async function debianFile(pkg: string, path: string, log: (line: string) => void): Promise<{ file: string; version: string }> {
  const record = newest(findPackages(await readPackagesIndex({ log }), [pkg]).get(pkg) ?? []);
  if (!record) throw new Error(`the archive has no package ${pkg}`);
  const dir = join(defaultCacheDir(), 'files', `${pkg}_${record.version.replace(/[^\w.+~-]/g, '_')}`);
  const file = join(dir, basename(path));
  if (existsSync(file)) return { file, version: record.version };
  const deb = await fetchPackage({ log }, record);
  mkdirSync(dir, { recursive: true });
  const temp = `${file}.tmp-${process.pid}`;
  const r = spawnSync('bash', ['-o', 'pipefail', '-c', 'dpkg-deb --fsys-tarfile "$0" | tar -xO "./$1" > "$2"', deb, path, temp], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cannot extract ${path} from ${deb}: ${r.stderr.trim()}`);
  renameSync(temp, file);
  return { file, version: record.version };
}
