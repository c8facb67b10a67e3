// A Linux kernel built with CONFIG_PARAVIRT from Debian's own kernel sources (package linux-source-X.Y, the
// release of the default guest's kernel): Debian builds its riscv64 kernels without it, so their guests never
// ask for SBI STA steal time. A small config (tests/kernel/paravirt.config over `make allnoconfig`) builds in
// about two minutes on two cores with Debian's gcc-riscv64-linux-gnu. The Image is kept in the image cache
// under kernels/, keyed by the source version and the config, so later runs reuse it.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './toolchain.js';
import { ensureDefaultGuest } from '../../src/images/index.js';
import { defaultCacheDir, fetchPackage, readPackagesIndex } from '../../src/images/node/guest.js';
import { findPackages, newest } from '../../src/images/debian.js';

export const CROSS_COMPILE = 'riscv64-linux-gnu-';
const CONFIG = join(repoRoot, 'tests', 'kernel', 'paravirt.config');

function run(cmd: string, args: string[], cwd: string, what: string, env?: Record<string, string>): void {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 256 * 2 ** 20 });
  if (r.error) throw new Error(`${what}: cannot run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${what} failed (${cmd} ${args.join(' ')}, status ${r.status}):\n${(r.stdout + r.stderr).slice(-4000)}`);
}

/** The path of the Image (built now if the cache has none) and the source package's version. */
export async function paravirtKernel(log: (line: string) => void): Promise<{ image: string; version: string }> {
  const guest = await ensureDefaultGuest({ log });
  const upstream = guest.kernelVersion.split(/[+-]/)[0]; // 6.12.117 of 6.12.117+deb13-riscv64
  const series = upstream.split('.').slice(0, 2).join('.');
  const pkg = `linux-source-${series}`;
  const records = findPackages(await readPackagesIndex({ log }), [pkg]).get(pkg) ?? [];
  const record = newest(records.filter((r) => r.version.startsWith(`${upstream}-`))) ?? newest(records);
  if (!record) throw new Error(`the archive has no ${pkg} for the guest kernel ${guest.kernelVersion}`);

  const config = readFileSync(CONFIG);
  const key = createHash('sha256').update(record.version).update(config).digest('hex').slice(0, 12);
  const dir = join(defaultCacheDir(), 'kernels', `linux-${record.version}-paravirt-${key}`);
  const image = join(dir, 'Image');
  if (existsSync(image)) return { image, version: record.version };

  const deb = await fetchPackage({ log }, record);
  mkdirSync(join(defaultCacheDir(), 'tmp'), { recursive: true });
  const work = mkdtempSync(join(defaultCacheDir(), 'tmp', 'kernel-'));
  try {
    log(`extracting ${pkg} ${record.version}`);
    // the package holds /usr/src/linux-source-X.Y.tar.xz
    run('bash', ['-o', 'pipefail', '-c', `dpkg-deb --fsys-tarfile "$0" | tar -xO ./usr/src/${pkg}.tar.xz | tar -xJ`, deb], work, `unpacking ${deb}`);
    const src = join(work, pkg);
    const make = (args: string[], what: string) =>
      run('make', [`-j${cpus().length}`, 'ARCH=riscv', `CROSS_COMPILE=${CROSS_COMPILE}`, ...args], src, what);
    make([`KCONFIG_ALLCONFIG=${CONFIG}`, 'allnoconfig'], 'configuring the kernel');
    // Kconfig drops an option whose dependencies fail without a word: check every one made it
    const got = readFileSync(join(src, '.config'), 'utf8');
    for (const line of config.toString().split('\n')) {
      const m = /^(CONFIG_\w+)=(.*)$/.exec(line.trim());
      if (m && !got.includes(`\n${m[1]}=${m[2]}\n`)) throw new Error(`the kernel config lost ${m[1]}=${m[2]} (a dependency is missing)`);
    }
    log(`building Linux ${record.version} with CONFIG_PARAVIRT (a few minutes)`);
    make(['Image'], 'building the kernel');
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(src, 'arch', 'riscv', 'boot', 'Image'), `${image}.tmp`);
    renameSync(`${image}.tmp`, image);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return { image, version: record.version };
}
