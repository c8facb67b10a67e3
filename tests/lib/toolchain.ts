// Test helpers: build RISC-V programs with Debian's riscv64-unknown-elf toolchain and run them under tvisor.
import { spawnSync, SpawnSyncReturns } from 'node:child_process';
import { accessSync, constants, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (this file compiles to dist/tests/lib/toolchain.js). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** The compiled CLI entry point. */
export const cliPath = join(repoRoot, 'dist', 'src', 'cli', 'main.js');

export const GCC = 'riscv64-unknown-elf-gcc';
/** Everything the hart implements today, for -march. */
// binutils 2.40 (Debian bookworm) does not know Zicond: tests encode czero.* with .insn.
export const MARCH = 'rv64imac_zicsr_zifencei_zba_zbb_zbs_zicbom_zicboz';

export function hasTool(cmd: string): boolean {
  const r = spawnSync(cmd, ['--version'], { encoding: 'utf8' });
  return r.status === 0;
}

/** An e2fsprogs tool from $PATH, /usr/sbin or /sbin (where Debian puts them, often outside a user's PATH). */
export function e2fsTool(name: string): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(':').filter((d) => d), '/usr/sbin', '/sbin']) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not here
    }
  }
  return undefined;
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** A fresh temporary directory for build products. */
export function tempDir(prefix = 'tvisor-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface BuildOptions {
  march?: string;
  /** Extra gcc arguments (e.g. -D defines, -T linker script). */
  args?: string[];
}

/** Compiles and links source files into an ELF; throws with gcc's output on failure. */
export function buildElf(sources: string[], out: string, opts: BuildOptions = {}): string {
  const args = [
    `-march=${opts.march ?? MARCH}`, '-mabi=lp64', '-mcmodel=medany', '-static', '-nostdlib', '-nostartfiles',
    '-fno-pic', '-O2', ...(opts.args ?? []), '-o', out, ...sources,
  ];
  const r = spawnSync(GCC, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${GCC} ${args.join(' ')} failed:\n${r.stdout}${r.stderr}`);
  return out;
}

/** Runs `tvisor bare ELF [args…]` and returns its status and output. */
export function runBare(elf: string, args: string[] = [], timeoutMs = 60_000): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [cliPath, 'bare', elf, ...args], { encoding: 'utf8', timeout: timeoutMs });
}
