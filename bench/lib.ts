// Helpers shared by the benchmarks: failing loudly and installing a missing Debian package.
import { spawnSync } from 'node:child_process';
import { hasTool } from '../tests/lib/toolchain.js';

export function fail(message: string): never {
  console.error(`bench: ${message}`);
  process.exit(1);
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** Installs a Debian package when running as root; otherwise says how and returns false. */
export function aptInstall(pkg: string, tool: string): boolean {
  if (!isRoot()) {
    console.error(`bench: ${tool} not found; install it with: sudo apt-get install ${pkg}`);
    return false;
  }
  console.log(`bench: ${tool} not found; installing ${pkg} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update'], ['install', '-y', '--no-install-recommends', pkg]]) {
    const r = spawnSync('apt-get', args, { stdio: 'inherit', env });
    if (r.status !== 0) {
      console.error(`bench: apt-get ${args.join(' ')} failed`);
      return false;
    }
  }
  return hasTool(tool);
}
