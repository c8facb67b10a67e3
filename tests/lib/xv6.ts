// xv6-riscv (MIT's teaching OS, which QEMU boots with `-bios none -kernel kernel/kernel`) for the tests of
// issue 18, built at test time with riscv64-unknown-elf-gcc and never committed. Its source is a checkout named
// by TVISOR_XV6_SRC, or a clone of the public repository at a pinned commit, kept in the image cache
// (CACHE/xv6-riscv-COMMIT) for later runs. Machines that reach neither (a CI network limited to the npm
// registry and Debian's archive) get a reason to skip with, naming TVISOR_XV6_SRC.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { defaultCacheDir } from '../../src/images/node/guest.js';
import { GCC, hasTool, tempDir } from './toolchain.js';

export const XV6_REPOSITORY = 'https://github.com/mit-pdos/xv6-riscv';
/** The commit the tests were checked with (xv6-riscv as of August 2022: M-mode timer, no IIR read). */
export const XV6_COMMIT = 'f5b93ef12f7159f74f80f94729ee4faabe42c360';

export interface Xv6Build {
  /** The kernel ELF (kernel/kernel) and a fresh file system image with usertests (fs.img). */
  kernel: string;
  fsImage: string;
  /** Where the source came from, for the test's log. */
  source: string;
  dir: string;
}

/** A source tree of xv6-riscv: TVISOR_XV6_SRC, the cached clone, or a new clone; or why there is none. */
function xv6Source(log: (line: string) => void): { dir: string; from: string } | { skip: string } {
  const given = process.env.TVISOR_XV6_SRC;
  if (given) {
    if (!existsSync(join(given, 'kernel', 'main.c'))) return { skip: `TVISOR_XV6_SRC=${given} is not an xv6-riscv source tree (no kernel/main.c)` };
    return { dir: given, from: `TVISOR_XV6_SRC=${given}` };
  }
  const cached = join(defaultCacheDir(), `xv6-riscv-${XV6_COMMIT.slice(0, 12)}`);
  if (existsSync(join(cached, 'kernel', 'main.c'))) return { dir: cached, from: `${XV6_REPOSITORY} at ${XV6_COMMIT.slice(0, 12)} (cached in ${cached})` };
  if (!hasTool('git')) return { skip: 'git is not installed to fetch xv6-riscv; or set TVISOR_XV6_SRC to a checkout' };
  log(`fetching ${XV6_REPOSITORY} (commit ${XV6_COMMIT.slice(0, 12)})`);
  const temp = `${cached}.tmp-${process.pid}`;
  rmSync(temp, { recursive: true, force: true });
  const clone = spawnSync('git', ['clone', '--quiet', XV6_REPOSITORY, temp], {
    encoding: 'utf8', timeout: 180_000, env: { ...process.env, GIT_TERMINAL_PROMPT: '0' },
  });
  if (clone.status !== 0) {
    rmSync(temp, { recursive: true, force: true });
    const why = (clone.stderr || clone.error?.message || `status ${clone.status}`).trim().split('\n').pop();
    return { skip: `cannot fetch ${XV6_REPOSITORY} (${why}); set TVISOR_XV6_SRC to an xv6-riscv checkout` };
  }
  const checkout = spawnSync('git', ['-C', temp, 'checkout', '--quiet', XV6_COMMIT], { encoding: 'utf8' });
  if (checkout.status !== 0) {
    rmSync(temp, { recursive: true, force: true });
    return { skip: `the xv6-riscv clone has no commit ${XV6_COMMIT}: ${checkout.stderr.trim()}` };
  }
  renameSync(temp, cached);
  return { dir: cached, from: `${XV6_REPOSITORY} at ${XV6_COMMIT.slice(0, 12)}` };
}

/**
 * Builds xv6 (kernel/kernel and fs.img) in a temporary copy of its source (the checkout is left as it was);
 * returns the reason to skip when there is no source or no toolchain. A failing build fails the test.
 */
export function buildXv6(log: (line: string) => void): Xv6Build | { skip: string } {
  if (!hasTool(GCC)) return { skip: `${GCC} is not installed (Debian: gcc-riscv64-unknown-elf)` };
  if (!hasTool('make')) return { skip: 'make is not installed' };
  const src = xv6Source(log);
  if ('skip' in src) return src;
  const dir = tempDir('tvisor-xv6-');
  cpSync(src.dir, dir, { recursive: true, filter: (p) => !p.endsWith('/.git') });
  rmSync(join(dir, 'fs.img'), { force: true }); // a checkout's own fs.img may hold an earlier run's files
  const make = spawnSync('make', ['-j2', 'TOOLPREFIX=riscv64-unknown-elf-', 'kernel/kernel', 'fs.img'], { cwd: dir, encoding: 'utf8', timeout: 600_000 });
  if (make.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`building xv6 failed (status ${make.status}):\n${(make.stdout + make.stderr).slice(-3000)}`);
  }
  return { kernel: join(dir, 'kernel', 'kernel'), fsImage: join(dir, 'fs.img'), source: src.from, dir };
}
